//! Runtime values: booleans, integers wide enough for wei amounts, strings, timestamps, lists and
//! records (structs and maps).
//!
//! Turnkey documents two integer types, `int` (i128) and `uint` (u256). keyhold has one integer
//! type, [`Int`], whose range covers both: a sign and a 256-bit magnitude, so every value of either
//! Turnkey type is representable and `eth.tx.value` (a uint256 on chain) never has to be truncated.
//! Arithmetic is checked: a result outside ±(2²⁵⁶−1) is an evaluation error, never a wrap.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// An unsigned 256-bit integer (four little-endian 64-bit limbs).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct U256([u64; 4]);

impl U256 {
    /// Zero.
    pub const ZERO: U256 = U256([0; 4]);
    /// 2²⁵⁶ − 1.
    pub const MAX: U256 = U256([u64::MAX; 4]);

    /// From a `u128`.
    #[must_use]
    pub const fn from_u128(v: u128) -> U256 {
        U256([v as u64, (v >> 64) as u64, 0, 0])
    }

    /// From 32 big-endian bytes (the on-chain encoding of a uint256).
    #[must_use]
    pub fn from_be_bytes(bytes: [u8; 32]) -> U256 {
        let mut limbs = [0u64; 4];
        for (limb, chunk) in limbs.iter_mut().rev().zip(bytes.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            *limb = u64::from_be_bytes(b);
        }
        U256(limbs)
    }

    /// Parses a decimal string of digits only; `None` when empty, not decimal, or above [`U256::MAX`].
    #[must_use]
    pub fn from_dec_str(s: &str) -> Option<U256> {
        if s.is_empty() {
            return None;
        }
        let mut acc = U256::ZERO;
        for c in s.chars() {
            let d = c.to_digit(10)?;
            acc = acc.mul_small_add(10, u64::from(d))?;
        }
        Some(acc)
    }

    /// The value as a `u128`, when it fits.
    #[must_use]
    pub fn to_u128(self) -> Option<u128> {
        let [a, b, c, d] = self.0;
        (c == 0 && d == 0).then(|| u128::from(a) | (u128::from(b) << 64))
    }

    /// Whether this is zero.
    #[must_use]
    pub fn is_zero(self) -> bool {
        self == U256::ZERO
    }

    /// `self + rhs`, or `None` on overflow.
    #[must_use]
    pub fn checked_add(self, rhs: U256) -> Option<U256> {
        let mut out = [0u64; 4];
        let mut carry = false;
        for ((o, a), b) in out.iter_mut().zip(self.0).zip(rhs.0) {
            let (s1, c1) = a.overflowing_add(b);
            let (s2, c2) = s1.overflowing_add(u64::from(carry));
            *o = s2;
            carry = c1 || c2;
        }
        (!carry).then_some(U256(out))
    }

    /// `self - rhs`, or `None` when `rhs > self`.
    #[must_use]
    pub fn checked_sub(self, rhs: U256) -> Option<U256> {
        let mut out = [0u64; 4];
        let mut borrow = false;
        for ((o, a), b) in out.iter_mut().zip(self.0).zip(rhs.0) {
            let (d1, b1) = a.overflowing_sub(b);
            let (d2, b2) = d1.overflowing_sub(u64::from(borrow));
            *o = d2;
            borrow = b1 || b2;
        }
        (!borrow).then_some(U256(out))
    }

    fn mul_small_add(self, m: u64, add: u64) -> Option<U256> {
        let mut out = [0u64; 4];
        let mut carry = u128::from(add);
        for (o, a) in out.iter_mut().zip(self.0) {
            let p = u128::from(a) * u128::from(m) + carry;
            *o = p as u64;
            carry = p >> 64;
        }
        (carry == 0).then_some(U256(out))
    }

    /// `(self / d, self % d)` for a non-zero `d`.
    fn divrem_small(self, d: u64) -> (U256, u64) {
        let d = u128::from(d.max(1));
        let mut out = [0u64; 4];
        let mut rem: u128 = 0;
        for (o, a) in out.iter_mut().rev().zip(self.0.iter().rev()) {
            let cur = (rem << 64) | u128::from(*a);
            *o = (cur / d) as u64;
            rem = cur % d;
        }
        (U256(out), rem as u64)
    }
}

impl Ord for U256 {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.iter().rev().cmp(other.0.iter().rev())
    }
}

impl PartialOrd for U256 {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for U256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0");
        }
        let mut digits = Vec::with_capacity(78);
        let mut cur = *self;
        while !cur.is_zero() {
            let (q, r) = cur.divrem_small(10);
            digits.push(char::from(b'0' + r as u8));
            cur = q;
        }
        let s: String = digits.iter().rev().collect();
        f.write_str(&s)
    }
}

impl fmt::Debug for U256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The policy language's integer: a sign and a 256-bit magnitude, so it holds every Turnkey
/// `int` (i128) and `uint` (u256). Zero is never negative.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Int {
    neg: bool,
    mag: U256,
}

impl Int {
    /// Zero.
    pub const ZERO: Int = Int {
        neg: false,
        mag: U256::ZERO,
    };

    fn new(neg: bool, mag: U256) -> Int {
        Int {
            neg: neg && !mag.is_zero(),
            mag,
        }
    }

    /// From an unsigned 256-bit value.
    #[must_use]
    pub fn from_u256(v: U256) -> Int {
        Int::new(false, v)
    }

    /// The magnitude when the value is not negative.
    #[must_use]
    pub fn to_u256(self) -> Option<U256> {
        (!self.neg).then_some(self.mag)
    }

    /// Whether the value is below zero.
    #[must_use]
    pub fn is_negative(self) -> bool {
        self.neg
    }

    /// The value as a `usize` index, when it is one.
    #[must_use]
    pub fn to_usize(self) -> Option<usize> {
        if self.neg {
            return None;
        }
        self.mag.to_u128().and_then(|v| usize::try_from(v).ok())
    }

    /// `-self` (always representable: the range is symmetric).
    #[must_use]
    pub fn negate(self) -> Int {
        Int::new(!self.neg, self.mag)
    }

    /// `self + rhs`, or `None` outside ±(2²⁵⁶−1).
    #[must_use]
    pub fn checked_add(self, rhs: Int) -> Option<Int> {
        if self.neg == rhs.neg {
            return Some(Int::new(self.neg, self.mag.checked_add(rhs.mag)?));
        }
        if self.mag >= rhs.mag {
            Some(Int::new(self.neg, self.mag.checked_sub(rhs.mag)?))
        } else {
            Some(Int::new(rhs.neg, rhs.mag.checked_sub(self.mag)?))
        }
    }

    /// `self - rhs`, or `None` outside ±(2²⁵⁶−1).
    #[must_use]
    pub fn checked_sub(self, rhs: Int) -> Option<Int> {
        self.checked_add(rhs.negate())
    }
}

impl From<i128> for Int {
    fn from(v: i128) -> Int {
        Int::new(v < 0, U256::from_u128(v.unsigned_abs()))
    }
}

impl From<i64> for Int {
    fn from(v: i64) -> Int {
        Int::from(i128::from(v))
    }
}

impl From<u64> for Int {
    fn from(v: u64) -> Int {
        Int::from_u256(U256::from_u128(u128::from(v)))
    }
}

impl From<u32> for Int {
    fn from(v: u32) -> Int {
        Int::from(u64::from(v))
    }
}

impl From<u128> for Int {
    fn from(v: u128) -> Int {
        Int::from_u256(U256::from_u128(v))
    }
}

impl From<U256> for Int {
    fn from(v: U256) -> Int {
        Int::from_u256(v)
    }
}

impl Ord for Int {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.neg, other.neg) {
            (false, false) => self.mag.cmp(&other.mag),
            (true, true) => other.mag.cmp(&self.mag),
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
        }
    }
}

impl PartialOrd for Int {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Int {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.neg {
            f.write_str("-")?;
        }
        fmt::Display::fmt(&self.mag, f)
    }
}

impl fmt::Debug for Int {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A point in time, nanoseconds since the Unix epoch (UTC).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Timestamp {
    nanos: i128,
}

impl Timestamp {
    /// From whole seconds since the Unix epoch.
    #[must_use]
    pub fn from_unix_seconds(secs: i64) -> Timestamp {
        Timestamp {
            nanos: i128::from(secs) * 1_000_000_000,
        }
    }

    /// From nanoseconds since the Unix epoch.
    #[must_use]
    pub fn from_unix_nanos(nanos: i128) -> Timestamp {
        Timestamp { nanos }
    }

    /// Whole seconds since the Unix epoch (rounded towards negative infinity).
    #[must_use]
    pub fn unix_seconds(self) -> i128 {
        self.nanos.div_euclid(1_000_000_000)
    }

    /// Parses an RFC 3339 timestamp with a zero UTC offset (`Z`, `z`, `+00:00`, `-00:00`), as
    /// Turnkey's `Timestamp('…')` requires.
    ///
    /// # Errors
    /// A short description of what is wrong with the text.
    pub fn parse_rfc3339(s: &str) -> Result<Timestamp, &'static str> {
        crate::time::parse_rfc3339(s)
    }
}

/// A runtime value. Lists, strings and records are reference counted so that reading a field of
/// a large transaction does not copy it.
#[derive(Clone, PartialEq, Debug)]
pub enum Value {
    /// `true` / `false`.
    Bool(bool),
    /// An integer (see [`Int`]).
    Int(Int),
    /// A string.
    Str(Arc<str>),
    /// A point in time.
    Timestamp(Timestamp),
    /// A list.
    List(Arc<[Value]>),
    /// A struct or a map: named values.
    Record(Arc<BTreeMap<String, Value>>),
}

impl Value {
    /// A string value.
    pub fn str(s: impl AsRef<str>) -> Value {
        Value::Str(Arc::from(s.as_ref()))
    }

    /// An integer value.
    pub fn int(v: impl Into<Int>) -> Value {
        Value::Int(v.into())
    }

    /// A list value.
    pub fn list(items: impl IntoIterator<Item = Value>) -> Value {
        Value::List(items.into_iter().collect())
    }

    /// A list of strings.
    pub fn strings<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Value {
        Value::list(items.into_iter().map(Value::str))
    }

    /// A struct or map value.
    pub fn record<K: Into<String>>(fields: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Record(Arc::new(
            fields.into_iter().map(|(k, v)| (k.into(), v)).collect(),
        ))
    }

    /// The name of this value's kind, for error messages.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Str(_) => "string",
            Value::Timestamp(_) => "timestamp",
            Value::List(_) => "list",
            Value::Record(_) => "struct",
        }
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Bool(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::str(v)
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::str(v)
    }
}

impl From<Int> for Value {
    fn from(v: Int) -> Value {
        Value::Int(v)
    }
}

impl From<Timestamp> for Value {
    fn from(v: Timestamp) -> Value {
        Value::Timestamp(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u256_decimal_round_trip_and_bounds() {
        let max = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
        assert_eq!(U256::from_dec_str(max), Some(U256::MAX));
        assert_eq!(U256::MAX.to_string(), max);
        assert_eq!(U256::from_dec_str(&format!("{max}0")), None);
        assert_eq!(
            U256::from_dec_str(
                "115792089237316195423570985008687907853269984665640564039457584007913129639936"
            ),
            None
        );
        assert_eq!(
            U256::from_dec_str("0").map(|v| v.to_string()),
            Some("0".into())
        );
        assert_eq!(U256::from_dec_str("12a"), None);
        assert_eq!(
            U256::from_u128(u128::MAX).to_string(),
            u128::MAX.to_string()
        );
        let mut be = [0u8; 32];
        be[31] = 1;
        be[0] = 0x80;
        let v = U256::from_be_bytes(be);
        assert_eq!(
            v.to_string(),
            "57896044618658097711785492504343953926634992332820282019728792003956564819969"
        );
    }

    #[test]
    fn int_arithmetic_is_checked() {
        let max = Int::from_u256(U256::MAX);
        assert_eq!(max.checked_add(Int::from(1i64)), None);
        assert_eq!(max.negate().checked_sub(Int::from(1i64)), None);
        assert_eq!(max.checked_sub(max), Some(Int::ZERO));
        assert_eq!(
            Int::from(-5i64).checked_add(Int::from(3i64)),
            Some(Int::from(-2i64))
        );
        assert_eq!(
            Int::from(5i64).checked_sub(Int::from(7i64)),
            Some(Int::from(-2i64))
        );
        assert_eq!(
            Int::from(-5i64).checked_sub(Int::from(-5i64)),
            Some(Int::ZERO)
        );
        assert!(!Int::ZERO.negate().is_negative());
        assert!(Int::from(-1i64) < Int::ZERO);
        assert!(Int::from(-2i64) < Int::from(-1i64));
        assert!(Int::from(i128::MIN) < Int::from(i128::MAX));
        assert_eq!(Int::from(i128::MIN).to_string(), i128::MIN.to_string());
    }
}
