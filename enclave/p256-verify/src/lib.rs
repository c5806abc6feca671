//! P-256 ECDSA verification for keys that sign many requests.
//!
//! Checking a Turnkey API-key stamp is one P-256 ECDSA verification: with `z` the SHA-256 of the
//! body and `(r, s)` the signature, compute `R = (z/s)·G + (r/s)·Q` and accept when
//! `x(R) mod n = r`. The `p256` crate computes both products together with a window table of
//! each point built for that one call — 256 doublings and ~100 additions, ~275 µs on the
//! reference machine, three quarters of the enclave's work for a signing request. Here both
//! points have fixed-base combs instead (the precomputed multiples `d·2^(w·i)·P`, see `Comb`):
//! the generator's built once per process, the public key's once per key ([`KeyTable`]), so a
//! verification is at most 33 + 43 mixed additions and 6 doublings: ~73 µs. A key's comb costs ~1 ms to
//! build, worth it for a key that signs again and again — an API key signs every request of its
//! app.
//!
//! Everything here handles public data only (keys, signatures, digests), so variable time is
//! fine. The point arithmetic is `p256`'s (addition, doubling, batch normalisation); this crate
//! only recodes scalars into signed digits and sums table entries.
//!
//! [`verify_prehash`](KeyTable::verify_prehash) accepts exactly what
//! `p256::ecdsa::VerifyingKey::verify_prehash` accepts (high-S included, as for P-256 there);
//! the tests check the two against each other, and the products against `p256`'s.

#![forbid(unsafe_code)]

use std::sync::LazyLock;

use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::BatchNormalize;
use p256::elliptic_curve::group::Group;
use p256::elliptic_curve::ops::{Invert, Reduce};
use p256::elliptic_curve::point::AffineCoordinates;
use p256::{AffinePoint, FieldBytes, ProjectivePoint, Scalar};

/// Scalars are below the group order, under 2^256.
const SCALAR_BITS: usize = 256;

/// Multiples of a fixed point for a fixed-base comb: with `k = Σ d_i·2^(w·i)` in signed digits
/// (`|d_i| ≤ 2^(w−1)`), `k·P` is the sum of `d_i·2^(w·i)·P`, each read from a table, with no
/// doubling chain. With `halved`, tables exist only for even `i` (`2^(2w·i')·P`); the odd
/// digits are summed from the same tables and that sum multiplied by `2^w` at the end
/// (`w` doublings), for half the memory.
struct Comb {
    window: u32,
    halved: bool,
    /// `tables × 2^(w−1)` points in affine form (mixed additions are cheaper): table `t`
    /// holds `1..=2^(w−1)` times its base.
    points: Vec<AffinePoint>,
}

impl Comb {
    fn new(base: ProjectivePoint, window: u32, halved: bool) -> Self {
        let digits = digit_count(window);
        let tables = if halved { digits.div_ceil(2) } else { digits };
        let step = if halved { 2 * window } else { window };
        let per_table = 1usize << (window - 1);
        let mut projective = Vec::with_capacity(tables * per_table);
        let mut base = base;
        for _ in 0..tables {
            let mut multiple = base;
            projective.push(multiple);
            for _ in 1..per_table {
                multiple += base;
                projective.push(multiple);
            }
            for _ in 0..step {
                base = base.double();
            }
        }
        // No multiple is the identity: the base has prime order n, and n divides no factor
        // m·2^k with 0 < m ≤ 2^(w−1).
        let points = ProjectivePoint::batch_normalize(projective.as_slice());
        Comb {
            window,
            halved,
            points,
        }
    }

    /// `d·base_t` for table `t`; `None` only if the table were shorter than it is built.
    fn select(&self, table: usize, digit: i32) -> Option<AffinePoint> {
        let per_table = 1usize << (self.window - 1);
        let magnitude = digit.unsigned_abs() as usize;
        let point = *self
            .points
            .get(table * per_table + magnitude.checked_sub(1)?)?;
        Some(if digit < 0 { -point } else { point })
    }

    /// `k·base`, in variable time (`k` is public).
    fn mul_vartime(&self, k: &Scalar) -> Option<ProjectivePoint> {
        let digits = signed_digits(k, self.window);
        let mut even = ProjectivePoint::IDENTITY;
        let mut odd = ProjectivePoint::IDENTITY;
        for (i, &digit) in digits.iter().enumerate() {
            if digit == 0 {
                continue;
            }
            if !self.halved {
                even += self.select(i, digit)?;
            } else if i % 2 == 0 {
                even += self.select(i / 2, digit)?;
            } else {
                odd += self.select(i / 2, digit)?;
            }
        }
        if self.halved {
            for _ in 0..self.window {
                odd = odd.double();
            }
        }
        Some(even + odd)
    }
}

/// Signed digits of `window` bits in a scalar: one more than the bits need, since the signed
/// recoding can carry out of the top.
fn digit_count(window: u32) -> usize {
    SCALAR_BITS.div_ceil(window as usize) + 1
}

/// `k` in [`digit_count`] signed digits of `window` bits, least significant first:
/// `k = Σ d_i·2^(w·i)` with `−2^(w−1) < d_i ≤ 2^(w−1)` (a window above half its range borrows
/// from the next).
fn signed_digits(k: &Scalar, window: u32) -> Vec<i32> {
    let bytes = k.to_bytes(); // big-endian
    let bit = |n: usize| -> i32 {
        if n >= SCALAR_BITS {
            return 0;
        }
        bytes
            .get(bytes.len() - 1 - n / 8)
            .map_or(0, |byte| i32::from((byte >> (n % 8)) & 1))
    };
    let (half, full) = (1i32 << (window - 1), 1i32 << window);
    let mut carry = 0;
    (0..digit_count(window))
        .map(|i| {
            let start = i * window as usize;
            let bits = (0..window as usize).fold(0, |acc, j| acc | (bit(start + j) << j));
            let mut digit = bits + carry;
            carry = 0;
            if digit > half {
                digit -= full;
                carry = 1;
            }
            digit
        })
        .collect()
}

/// Window of the generator's comb: 33 tables of 128 points, ~300 KiB for the process, built
/// once (~5 ms); 33 additions per product. (`p256`'s own generator table takes 66.)
const GENERATOR_WINDOW: u32 = 8;

/// Window of a key's comb, halved: 22 tables of 32 points, ~50 KiB per key, built in about
/// five verifications' time (~1 ms); at most 43 additions (the 44th digit of a 256-bit scalar
/// is always 0) and 6 doublings per product.
const KEY_WINDOW: u32 = 6;

static GENERATOR: LazyLock<Comb> =
    LazyLock::new(|| Comb::new(ProjectivePoint::GENERATOR, GENERATOR_WINDOW, false));

/// Builds the generator's comb now (~5 ms, once per process) rather than in the first
/// verification that uses a key's comb, which would otherwise pay for it.
pub fn prepare() {
    LazyLock::force(&GENERATOR);
}

/// Precomputed multiples of one P-256 public key, for verifying its signatures.
pub struct KeyTable {
    comb: Comb,
    key: VerifyingKey,
}

/// Shows whose table it is, not the points.
impl std::fmt::Debug for KeyTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyTable")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl KeyTable {
    pub fn new(key: &VerifyingKey) -> Self {
        KeyTable {
            comb: Comb::new(ProjectivePoint::from(*key.as_affine()), KEY_WINDOW, true),
            key: *key,
        }
    }

    /// The key this table is for.
    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }

    /// `k·Q`, in variable time (`k` is public: it is derived from a signature).
    pub fn mul_vartime(&self, k: &Scalar) -> Option<ProjectivePoint> {
        self.comb.mul_vartime(k)
    }

    /// Verifies `signature` over the 32-byte message digest `prehash` (SHA-256 of the message
    /// for the ECDSA/SHA-256 scheme).
    pub fn verify_prehash(&self, prehash: &[u8; 32], signature: &Signature) -> bool {
        // `Signature` guarantees 0 < r, s < n.
        let (r, s) = signature.split_scalars();
        // P-256's order has 256 bits: the digest is taken whole and reduced once (SEC 1 §4.1.4).
        let z = <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(*prehash));
        let s_inv = *Invert::invert_vartime(&s);
        let u1 = z * s_inv;
        let u2 = *r * s_inv;
        let (Some(u1_g), Some(u2_q)) = (GENERATOR.mul_vartime(&u1), self.mul_vartime(&u2)) else {
            return false;
        };
        let point = u1_g + u2_q;
        if bool::from(point.is_identity()) {
            return false;
        }
        let x = point.to_affine().x();
        <Scalar as Reduce<FieldBytes>>::reduce(&x) == *r
    }
}

#[cfg(test)]
mod tests;
