//! EIP-712 typed structured data hashing (https://eips.ethereum.org/EIPS/eip-712), from the
//! JSON that `@turnkey/viem` (`serializeTypedData`) and `@turnkey/ethers`
//! (`TypedDataEncoder.getPayload`) send: numbers as JSON numbers, decimal strings or `0x` hex
//! strings; `EIP712Domain` present in `types` or derived from the domain's fields.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::Value;

use super::ethereum::keccak256;
use crate::error::{Error, Result, clip};

const MAX_DEPTH: usize = 16;
const MAX_TYPES: usize = 128;
const MAX_FIELDS: usize = 256;

fn bad(msg: impl Into<String>) -> Error {
    Error::invalid(format!("invalid EIP-712 payload: {}", msg.into()))
}

#[derive(Debug, Deserialize)]
struct Field {
    name: String,
    #[serde(rename = "type")]
    kind: String,
}

/// The parsed typed data: what the policy engine sees as `eth.eip_712.*`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypedData {
    types: BTreeMap<String, Vec<Field>>,
    pub primary_type: String,
    #[serde(default)]
    pub domain: serde_json::Map<String, Value>,
    pub message: Value,
}

/// Parses and hashes in one go: the digest a wallet signs.
pub fn hash_json(json: &str) -> Result<[u8; 32]> {
    TypedData::parse(json)?.signing_hash()
}

impl TypedData {
    pub fn parse(json: &str) -> Result<Self> {
        let data: TypedData = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
        if data.types.len() > MAX_TYPES {
            return Err(bad("too many types"));
        }
        if data.types.values().any(|f| f.len() > MAX_FIELDS) {
            return Err(bad("too many fields in a type"));
        }
        Ok(data)
    }

    /// keccak256(0x19 ‖ 0x01 ‖ domainSeparator ‖ hashStruct(message)).
    pub fn signing_hash(&self) -> Result<[u8; 32]> {
        let mut types: BTreeMap<&str, Vec<(&str, &str)>> = self
            .types
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str(),
                    v.iter()
                        .map(|f| (f.name.as_str(), f.kind.as_str()))
                        .collect(),
                )
            })
            .collect();
        if !types.contains_key("EIP712Domain") {
            // Derived from the domain's fields, in the order the EIP lists them.
            let derived: Vec<(&str, &str)> = [
                ("name", "string"),
                ("version", "string"),
                ("chainId", "uint256"),
                ("verifyingContract", "address"),
                ("salt", "bytes32"),
            ]
            .into_iter()
            .filter(|(name, _)| self.domain.contains_key(*name))
            .collect();
            types.insert("EIP712Domain", derived);
        }
        let hasher = Hasher { types: &types };
        let domain = Value::Object(self.domain.clone());
        let domain_hash = hasher.hash_struct("EIP712Domain", &domain, 0)?;
        let mut preimage = vec![0x19, 0x01];
        preimage.extend_from_slice(&domain_hash);
        if self.primary_type != "EIP712Domain" {
            preimage.extend_from_slice(&hasher.hash_struct(
                &self.primary_type,
                &self.message,
                0,
            )?);
        }
        Ok(keccak256(&preimage))
    }
}

struct Hasher<'a> {
    types: &'a BTreeMap<&'a str, Vec<(&'a str, &'a str)>>,
}

/// `Foo[3][]` → (`Foo[3]`, true); `Foo` → (`Foo`, false).
fn array_element(kind: &str) -> Option<&str> {
    if !kind.ends_with(']') {
        return None;
    }
    kind.rfind('[').and_then(|i| kind.get(..i))
}

fn fixed_array_len(kind: &str) -> Option<Option<usize>> {
    let open = kind.rfind('[')?;
    let inside = kind.get(open + 1..kind.len().checked_sub(1)?)?;
    if inside.is_empty() {
        Some(None)
    } else {
        inside.parse().ok().map(Some)
    }
}

fn base_type(kind: &str) -> &str {
    kind.find('[').and_then(|i| kind.get(..i)).unwrap_or(kind)
}

impl Hasher<'_> {
    fn fields(&self, name: &str) -> Result<&Vec<(&str, &str)>> {
        self.types
            .get(name)
            .ok_or_else(|| bad(format!("type `{}` is not defined", clip(name))))
    }

    /// encodeType: the primary type, then every referenced struct type sorted by name.
    fn encode_type(&self, primary: &str) -> Result<String> {
        let mut deps = BTreeSet::new();
        self.collect(primary, &mut deps, 0)?;
        deps.remove(primary);
        let mut out = String::new();
        for name in std::iter::once(primary).chain(deps.iter().copied()) {
            let fields = self.fields(name)?;
            out.push_str(name);
            out.push('(');
            let parts: Vec<String> = fields.iter().map(|(n, t)| format!("{t} {n}")).collect();
            out.push_str(&parts.join(","));
            out.push(')');
        }
        Ok(out)
    }

    fn collect<'b>(
        &'b self,
        name: &'b str,
        deps: &mut BTreeSet<&'b str>,
        depth: usize,
    ) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(bad("types nested too deeply"));
        }
        if !deps.insert(name) {
            return Ok(());
        }
        for (_, kind) in self.fields(name)? {
            let base = base_type(kind);
            if self.types.contains_key(base) {
                self.collect(base, deps, depth + 1)?;
            }
        }
        Ok(())
    }

    fn hash_struct(&self, name: &str, value: &Value, depth: usize) -> Result<[u8; 32]> {
        if depth > MAX_DEPTH {
            return Err(bad("message nested too deeply"));
        }
        let object = value
            .as_object()
            .ok_or_else(|| bad(format!("a `{}` value must be an object", clip(name))))?;
        let mut encoded = keccak256(self.encode_type(name)?.as_bytes()).to_vec();
        for (field, kind) in self.fields(name)? {
            let v = object.get(*field).unwrap_or(&Value::Null);
            if v.is_null() && !self.types.contains_key(base_type(kind)) {
                return Err(bad(format!("field `{}` is missing", clip(field))));
            }
            encoded.extend_from_slice(&self.encode_value(kind, v, depth + 1)?);
        }
        Ok(keccak256(&encoded))
    }

    fn encode_value(&self, kind: &str, value: &Value, depth: usize) -> Result<[u8; 32]> {
        if depth > MAX_DEPTH {
            return Err(bad("message nested too deeply"));
        }
        if let Some(element) = array_element(kind) {
            let items = value
                .as_array()
                .ok_or_else(|| bad(format!("`{}` value must be an array", clip(kind))))?;
            if let Some(Some(n)) = fixed_array_len(kind)
                && items.len() != n
            {
                return Err(bad(format!("`{}` needs exactly {n} elements", clip(kind))));
            }
            let mut concat = Vec::with_capacity(items.len() * 32);
            for item in items {
                concat.extend_from_slice(&self.encode_value(element, item, depth + 1)?);
            }
            return Ok(keccak256(&concat));
        }
        if self.types.contains_key(kind) {
            return self.hash_struct(kind, value, depth);
        }
        encode_atomic(kind, value)
    }
}

fn hex_bytes(value: &Value) -> Result<Vec<u8>> {
    let text = value
        .as_str()
        .ok_or_else(|| bad("bytes must be a hex string"))?;
    let text = text.strip_prefix("0x").unwrap_or(text);
    hex::decode(text).map_err(|_| bad("bytes must be a hex string"))
}

fn encode_atomic(kind: &str, value: &Value) -> Result<[u8; 32]> {
    let mut out = [0u8; 32];
    match kind {
        "string" => {
            let s = value.as_str().ok_or_else(|| bad("string value expected"))?;
            Ok(keccak256(s.as_bytes()))
        }
        "bytes" => Ok(keccak256(&hex_bytes(value)?)),
        "bool" => {
            let b = match value {
                Value::Bool(b) => *b,
                Value::String(s) if s == "true" => true,
                Value::String(s) if s == "false" => false,
                _ => return Err(bad("bool value expected")),
            };
            if let Some(last) = out.last_mut() {
                *last = u8::from(b);
            }
            Ok(out)
        }
        "address" => {
            let bytes = hex_bytes(value)?;
            if bytes.len() != 20 {
                return Err(bad("address must be 20 bytes"));
            }
            out.get_mut(12..)
                .ok_or(Error::Internal("address"))?
                .copy_from_slice(&bytes);
            Ok(out)
        }
        _ if kind.starts_with("bytes") => {
            let n: usize = kind
                .get(5..)
                .and_then(|n| n.parse().ok())
                .filter(|n| (1..=32).contains(n))
                .ok_or_else(|| bad(format!("unknown type `{}`", clip(kind))))?;
            let bytes = hex_bytes(value)?;
            if bytes.len() != n {
                return Err(bad(format!("{kind} value must be {n} bytes")));
            }
            out.get_mut(..n)
                .ok_or(Error::Internal("bytesN"))?
                .copy_from_slice(&bytes);
            Ok(out)
        }
        _ if kind.starts_with("uint") || kind.starts_with("int") => {
            let signed = kind.starts_with("int");
            let bits: u32 = kind
                .get(if signed { 3 } else { 4 }..)
                .and_then(|b| {
                    if b.is_empty() {
                        Some(256)
                    } else {
                        b.parse().ok()
                    }
                })
                .filter(|b| *b >= 8 && *b <= 256 && b % 8 == 0)
                .ok_or_else(|| bad(format!("unknown type `{}`", clip(kind))))?;
            integer(value, signed, bits)
        }
        _ => Err(bad(format!("unknown type `{}`", clip(kind)))),
    }
}

/// A JSON number, decimal string or `0x` hex string, range-checked for (u)int`bits` and encoded
/// as 32-byte big-endian two's complement.
fn integer(value: &Value, signed: bool, bits: u32) -> Result<[u8; 32]> {
    let text = match value {
        Value::Number(n) => {
            if n.as_u64().is_none() && n.as_i64().is_none() {
                return Err(bad("numbers must be integers (send large ones as strings)"));
            }
            n.to_string()
        }
        Value::String(s) => s.trim().to_owned(),
        _ => return Err(bad("integer value expected")),
    };
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    if negative && !signed {
        return Err(bad("negative value for an unsigned integer"));
    }
    let magnitude = if let Some(hex_digits) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        parse_radix(hex_digits, 16)?
    } else {
        parse_radix(digits, 10)?
    };
    // Range: unsigned < 2^bits; signed magnitude ≤ 2^(bits-1) (negative) or < 2^(bits-1).
    let limit_bits = if signed { bits - 1 } else { bits };
    let fits = |m: &[u8; 32], allow_equal: bool| -> bool {
        let limit = pow2(limit_bits);
        match limit {
            None => true, // 2^256: anything in 32 bytes fits
            Some(limit) => *m < limit || (allow_equal && *m == limit),
        }
    };
    if !fits(&magnitude, negative) {
        return Err(bad(format!(
            "value out of range for {}{bits}",
            if signed { "int" } else { "uint" }
        )));
    }
    if !negative {
        return Ok(magnitude);
    }
    // two's complement: !m + 1
    let mut out = magnitude.map(|b| !b);
    for byte in out.iter_mut().rev() {
        let (sum, carry) = byte.overflowing_add(1);
        *byte = sum;
        if !carry {
            break;
        }
    }
    Ok(out)
}

/// 2^n as 32 big-endian bytes, or `None` for 2^256.
fn pow2(n: u32) -> Option<[u8; 32]> {
    if n >= 256 {
        return None;
    }
    let mut out = [0u8; 32];
    let byte = 31 - (n / 8) as usize;
    *out.get_mut(byte)? = 1 << (n % 8);
    Some(out)
}

fn parse_radix(digits: &str, radix: u32) -> Result<[u8; 32]> {
    if digits.is_empty() || digits.len() > 80 {
        return Err(bad("malformed integer"));
    }
    let mut out = [0u8; 32];
    for c in digits.chars() {
        let d = c.to_digit(radix).ok_or_else(|| bad("malformed integer"))?;
        let mut carry = d;
        for byte in out.iter_mut().rev() {
            let v = u32::from(*byte) * radix + carry;
            *byte = (v & 0xff) as u8;
            carry = v >> 8;
        }
        if carry != 0 {
            return Err(bad("integer exceeds 256 bits"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The EIP's own example ("Mail" from Cow to Bob, EIP-712 §Test cases / `Example.js`):
    /// domain separator f2cee375…2090f, hashStruct(message) c52c0ee5…7c1e, digest be609aee…a9d2.
    const MAIL_VIEM: &str = r#"{"domain":{"name":"Ether Mail","version":"1","chainId":1,"verifyingContract":"0xcccccccccccccccccccccccccccccccccccccccc"},"message":{"from":{"name":"Cow","wallet":"0xcd2a3d9f938e13cd947ec05abc7fe734df8dd826"},"to":{"name":"Bob","wallet":"0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"},"contents":"Hello, Bob!"},"primaryType":"Mail","types":{"EIP712Domain":[{"name":"name","type":"string"},{"name":"version","type":"string"},{"name":"chainId","type":"uint256"},{"name":"verifyingContract","type":"address"}],"Person":[{"name":"name","type":"string"},{"name":"wallet","type":"address"}],"Mail":[{"name":"from","type":"Person"},{"name":"to","type":"Person"},{"name":"contents","type":"string"}]}}"#;

    /// The same data as ethers' `TypedDataEncoder.getPayload` lays it out: `types` first with
    /// `EIP712Domain` last, `chainId` as a hex string.
    const MAIL_ETHERS: &str = r#"{"types":{"Person":[{"name":"name","type":"string"},{"name":"wallet","type":"address"}],"Mail":[{"name":"from","type":"Person"},{"name":"to","type":"Person"},{"name":"contents","type":"string"}],"EIP712Domain":[{"name":"name","type":"string"},{"name":"version","type":"string"},{"name":"chainId","type":"uint256"},{"name":"verifyingContract","type":"address"}]},"domain":{"name":"Ether Mail","version":"1","chainId":"0x1","verifyingContract":"0xcccccccccccccccccccccccccccccccccccccccc"},"primaryType":"Mail","message":{"from":{"name":"Cow","wallet":"0xcd2a3d9f938e13cd947ec05abc7fe734df8dd826"},"to":{"name":"Bob","wallet":"0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"},"contents":"Hello, Bob!"}}"#;

    #[test]
    fn eip_mail_example() {
        let expected = "be609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2";
        assert_eq!(hex::encode(hash_json(MAIL_VIEM).unwrap()), expected);
        assert_eq!(hex::encode(hash_json(MAIL_ETHERS).unwrap()), expected);
        // without EIP712Domain in types, it is derived from the domain
        let mut v: Value = serde_json::from_str(MAIL_VIEM).unwrap();
        v["types"].as_object_mut().unwrap().remove("EIP712Domain");
        assert_eq!(hex::encode(hash_json(&v.to_string()).unwrap()), expected);
        let data = TypedData::parse(MAIL_VIEM).unwrap();
        let types: BTreeMap<&str, Vec<(&str, &str)>> = data
            .types
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str(),
                    v.iter()
                        .map(|f| (f.name.as_str(), f.kind.as_str()))
                        .collect(),
                )
            })
            .collect();
        assert_eq!(
            Hasher { types: &types }.encode_type("Mail").unwrap(),
            "Mail(Person from,Person to,string contents)Person(string name,address wallet)"
        );
    }

    #[test]
    fn integers() {
        assert_eq!(integer(&Value::from(-1), true, 256).unwrap(), [0xff; 32]);
        assert_eq!(integer(&Value::from("0xff"), false, 8).unwrap()[31], 0xff);
        assert!(integer(&Value::from("256"), false, 8).is_err());
        assert!(integer(&Value::from("-129"), true, 8).is_err());
        assert_eq!(integer(&Value::from("-128"), true, 8).unwrap()[31], 0x80);
        assert!(integer(&Value::from("-1"), false, 256).is_err());
        assert!(integer(&Value::from(1.5), false, 256).is_err());
        let max = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
        assert_eq!(integer(&Value::from(max), false, 256).unwrap(), [0xff; 32]);
        assert!(integer(&Value::from(format!("{max}0")), false, 256).is_err());
    }

    #[test]
    fn malformed_payloads_are_errors() {
        for bad in [
            "",
            "{}",
            r#"{"types":{},"primaryType":"X","domain":{},"message":{}}"#,
            r#"{"types":{"A":[{"name":"a","type":"A"}]},"primaryType":"A","domain":{},"message":{"a":{"a":{"a":{}}}}}"#,
            r#"{"types":{"A":[{"name":"a","type":"uint7"}]},"primaryType":"A","domain":{},"message":{"a":1}}"#,
            r#"{"types":{"A":[{"name":"a","type":"address"}]},"primaryType":"A","domain":{},"message":{"a":"0x12"}}"#,
        ] {
            assert!(hash_json(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn arbitrary_json_never_panics(s in "\\PC{0,200}") {
            let _ = hash_json(&s);
        }
    }
}
