//! P-256 ECDSA verification for keys that sign many requests.
//!
//! Checking a Turnkey API-key stamp is one P-256 ECDSA verification: with `z` the SHA-256 of the
//! body and `(r, s)` the signature, compute `R = (z/s)·G + (r/s)·Q` and accept when
//! `x(R) mod n = r`. The `p256` crate computes both products together with a window table of
//! each point built for that one call — 256 doublings and ~100 additions, ~280 µs on the
//! reference machine, three quarters of the enclave's work for a signing request. The generator
//! has a precomputed table in `p256` already; this crate gives the *public key* one too:
//! [`KeyTable`] holds `d·256^i·Q` for `i < 33`, `d ≤ 8`, so `(r/s)·Q` is 65 table additions and
//! four doublings, with no doubling chain. The table is built once per key (about the cost of
//! one verification) and is worth it for a key that signs again: an API key signs every request
//! of its app.
//!
//! Everything here handles public data only (keys, signatures, digests), so the variable-time
//! operations are safe. The arithmetic itself is `p256`'s and `primeorder`'s (point addition,
//! doubling, the signed radix-16 digits and multiples tables its own generator table uses);
//! this crate only arranges it for a fixed key.
//!
//! [`verify_prehash`](KeyTable::verify_prehash) accepts exactly what
//! `p256::ecdsa::VerifyingKey::verify_prehash` accepts (high-S included, as for P-256 there);
//! the tests check the two against each other.

#![forbid(unsafe_code)]

use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::group::Group;
use p256::elliptic_curve::ops::{Invert, MulByGeneratorVartime, Reduce};
use p256::elliptic_curve::point::AffineCoordinates;
use p256::{FieldBytes, NistP256, ProjectivePoint, Scalar};
use primeorder::{LookupTable, Radix16Decomposition, Radix16Digits};

/// Tables in a [`KeyTable`]: each covers two radix-16 digits (a byte) of a 256-bit scalar,
/// plus one for the carry digit of the signed recoding (65 digits in all).
const TABLES: usize = 33;

/// Precomputed multiples of one P-256 public key: table `i` holds `1..=8 × 256^i·Q`. About
/// 25 KiB (33 × 8 projective points).
pub struct KeyTable {
    tables: Box<[LookupTable<ProjectivePoint>]>,
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
    /// Builds the table for `key`: 33 × 7 additions and 32 × 8 doublings.
    pub fn new(key: &VerifyingKey) -> Self {
        let mut base = ProjectivePoint::from(*key.as_affine());
        let mut tables = Vec::with_capacity(TABLES);
        for _ in 0..TABLES {
            tables.push(LookupTable::new(base));
            for _ in 0..8 {
                base = base.double();
            }
        }
        KeyTable {
            tables: tables.into_boxed_slice(),
            key: *key,
        }
    }

    /// The key this table is for.
    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }

    /// `k·Q`, in variable time (`k` is public: it is derived from a signature).
    ///
    /// With `k = Σ d_j·16^j` (signed digits, `|d_j| ≤ 8`), the even digits `d_2i` are multiples
    /// of `256^i·Q` read straight from table `i`; the odd digits `d_2i+1` are summed from the
    /// same tables and the sum multiplied by 16 at the end (four doublings), which halves the
    /// table at that cost.
    pub fn mul_vartime(&self, k: &Scalar) -> ProjectivePoint {
        let digits = Radix16Decomposition::<Radix16Digits<NistP256>>::new(k);
        let digit = |j: usize| if j < 2 * TABLES - 1 { digits[j] } else { 0 };
        let mut even = ProjectivePoint::IDENTITY;
        let mut odd = ProjectivePoint::IDENTITY;
        for (i, table) in self.tables.iter().enumerate() {
            let (low, high) = (digit(2 * i), digit(2 * i + 1));
            if low != 0 {
                even += table.select_vartime(low);
            }
            if high != 0 {
                odd += table.select_vartime(high);
            }
        }
        for _ in 0..4 {
            odd = odd.double();
        }
        even + odd
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
        let point = ProjectivePoint::mul_by_generator_vartime(&u1) + self.mul_vartime(&u2);
        if bool::from(point.is_identity()) {
            return false;
        }
        let x = point.to_affine().x();
        <Scalar as Reduce<FieldBytes>>::reduce(&x) == *r
    }
}

#[cfg(test)]
mod tests;
