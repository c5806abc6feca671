//! The table against `p256` itself: products against `Q * k`, verdicts against
//! `VerifyingKey::verify_prehash`, on random keys, digests and signatures and on the cases a
//! broken table would get wrong.

use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::PrimeField;
use p256::elliptic_curve::ops::MulByGeneratorVartime;
use p256::elliptic_curve::point::AffineCoordinates;
use proptest::prelude::*;
use sha2::{Digest, Sha256};

use super::*;

fn key(seed: [u8; 32]) -> Option<SigningKey> {
    SigningKey::from_slice(&seed).ok()
}

fn scalar(bytes: [u8; 32]) -> Scalar {
    <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(bytes))
}

/// Whether the crate and `p256` agree on `(prehash, signature)`; returns the verdict.
fn agree(table: &KeyTable, prehash: &[u8; 32], signature: &Signature) -> bool {
    let ours = table.verify_prehash(prehash, signature);
    let theirs = table.key().verify_prehash(prehash, signature).is_ok();
    assert_eq!(ours, theirs, "verdicts differ");
    ours
}

#[test]
fn products_match_at_the_edges() {
    let signing = key([7; 32]).unwrap();
    let table = KeyTable::new(signing.verifying_key());
    let q = ProjectivePoint::from(*signing.verifying_key().as_affine());
    for k in edge_scalars() {
        assert_eq!(
            table.mul_vartime(&k).unwrap(),
            q * k,
            "k = {:?}",
            k.to_repr()
        );
    }
    assert!(bool::from(
        table.mul_vartime(&Scalar::ZERO).unwrap().is_identity()
    ));
}

/// Scalars whose digits sit at the ends of their ranges (all ones, alternating halves, the top
/// bit, the order's neighbours).
fn edge_scalars() -> Vec<Scalar> {
    let minus_one = -Scalar::ONE;
    let mut top = [0u8; 32];
    top[0] = 0x80;
    let mut low_byte = [0u8; 32];
    low_byte[31] = 0xff;
    vec![
        Scalar::ZERO,
        Scalar::ONE,
        minus_one,
        minus_one - Scalar::ONE,
        scalar(top),
        scalar(low_byte),
        scalar([0xff; 32]),
        scalar([0x88; 32]),
        scalar([0x77; 32]),
        scalar([0x80; 32]),
        scalar([0x7f; 32]),
        scalar([0x20; 32]),
    ]
}

/// `Σ d_i·2^(w·i)` mod n.
fn recombine(digits: &[i32], window: u32) -> Scalar {
    let radix = Scalar::from(1u64 << window);
    digits.iter().rev().fold(Scalar::ZERO, |acc, &d| {
        let magnitude = Scalar::from(u64::from(d.unsigned_abs()));
        acc * radix + if d < 0 { -magnitude } else { magnitude }
    })
}

fn digits_are_right(k: &Scalar, window: u32) {
    let digits = signed_digits(k, window);
    let half = 1i32 << (window - 1);
    assert!(
        digits.iter().all(|d| -half < *d && *d <= half),
        "{digits:?}"
    );
    assert_eq!(recombine(&digits, window), *k);
}

#[test]
fn digits_recombine_at_the_edges() {
    for k in edge_scalars() {
        for window in [KEY_WINDOW, GENERATOR_WINDOW, 4, 5, 7] {
            digits_are_right(&k, window);
        }
    }
}

#[test]
fn generator_products_match_p256() {
    let mut ks = edge_scalars();
    ks.extend((0u8..32).map(|i| scalar([i.wrapping_mul(37).wrapping_add(11); 32])));
    for k in ks {
        assert_eq!(
            GENERATOR.mul_vartime(&k).unwrap(),
            ProjectivePoint::GENERATOR * k,
            "k = {:?}",
            k.to_repr()
        );
    }
}

#[test]
fn a_signature_of_another_key_or_message_fails() {
    let alice = key([1; 32]).unwrap();
    let bob = key([2; 32]).unwrap();
    let table = KeyTable::new(alice.verifying_key());
    let digest: [u8; 32] = Sha256::digest(b"body").into();
    let by_alice: Signature = alice.sign_prehash(&digest).unwrap();
    let by_bob: Signature = bob.sign_prehash(&digest).unwrap();
    assert!(agree(&table, &digest, &by_alice));
    assert!(!agree(&table, &digest, &by_bob));
    let other: [u8; 32] = Sha256::digest(b"bodY").into();
    assert!(!agree(&table, &other, &by_alice));
    // High S: (r, n − s) is as valid for P-256, and p256 accepts it.
    let (r, s) = by_alice.split_scalars();
    let high = Signature::from_scalars(r.to_repr(), (-*s).to_repr()).unwrap();
    assert!(agree(&table, &digest, &high));
}

/// Digests at and above the group order are reduced before use (as `p256` does), and a digest
/// that reduces to 0 leaves only the key's term.
#[test]
fn digests_that_need_reducing() {
    let signing = key([5; 32]).unwrap();
    let table = KeyTable::new(signing.verifying_key());
    let order: [u8; 32] = (-Scalar::ONE).to_repr().into();
    let mut n = order;
    n[31] = n[31].wrapping_add(1); // n − 1 ends in ...50; + 1 carries nowhere
    assert_eq!(scalar(n), Scalar::ZERO);
    for digest in [[0xff; 32], [0; 32], n, order] {
        let signature: Signature = signing.sign_prehash(&digest).unwrap();
        assert!(agree(&table, &digest, &signature), "{digest:02x?}");
        let other: [u8; 32] = Sha256::digest(digest).into();
        assert!(!agree(&table, &other, &signature));
    }
}

/// A verifier that lost the key's term would compute `R = (z/s)·G` and accept this made-up
/// signature, valid for *any* key: `R = k·G`, `r = x(R)`, `s = z/k`.
#[test]
fn the_keys_term_is_not_lost() {
    let table = KeyTable::new(key([3; 32]).unwrap().verifying_key());
    let digest: [u8; 32] = Sha256::digest(b"forged").into();
    let z = scalar(digest);
    let k = scalar([0x42; 32]);
    let r = scalar(
        ProjectivePoint::mul_by_generator_vartime(&k)
            .to_affine()
            .x()
            .into(),
    );
    let s = z * Invert::invert_vartime(&k).unwrap();
    let forged = Signature::from_scalars(r.to_repr(), s.to_repr()).unwrap();
    assert!(!agree(&table, &digest, &forged));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn digits_recombine(k in any::<[u8; 32]>()) {
        let k = scalar(k);
        for window in [KEY_WINDOW, GENERATOR_WINDOW] {
            digits_are_right(&k, window);
        }
    }

    #[test]
    fn products_match_p256(seed in any::<[u8; 32]>(), k in any::<[u8; 32]>()) {
        let Some(signing) = key(seed) else { return Ok(()) };
        let table = KeyTable::new(signing.verifying_key());
        let q = ProjectivePoint::from(*signing.verifying_key().as_affine());
        let k = scalar(k);
        prop_assert_eq!(table.mul_vartime(&k).unwrap(), q * k);
    }

    #[test]
    fn verdicts_match_p256(
        seed in any::<[u8; 32]>(),
        message in any::<Vec<u8>>(),
        flip in any::<(usize, u8)>(),
    ) {
        let Some(signing) = key(seed) else { return Ok(()) };
        let table = KeyTable::new(signing.verifying_key());
        let digest: [u8; 32] = Sha256::digest(&message).into();
        let signature: Signature = signing.sign_prehash(&digest).unwrap();
        prop_assert!(agree(&table, &digest, &signature));
        // One changed bit of the signature: both refuse it (or both refuse to parse it).
        let mut bytes = signature.to_bytes();
        let (at, bit) = (flip.0 % bytes.len(), 1u8 << (flip.1 % 8));
        if let Some(b) = bytes.get_mut(at) { *b ^= bit; }
        if let Ok(changed) = Signature::from_slice(&bytes) {
            prop_assert!(!agree(&table, &digest, &changed));
        }
    }

    #[test]
    fn random_signatures_get_the_same_verdict(
        seed in any::<[u8; 32]>(),
        digest in any::<[u8; 32]>(),
        r in any::<[u8; 32]>(),
        s in any::<[u8; 32]>(),
    ) {
        let Some(signing) = key(seed) else { return Ok(()) };
        let table = KeyTable::new(signing.verifying_key());
        if let Ok(signature) = Signature::from_scalars(r, s) {
            agree(&table, &digest, &signature);
        }
    }
}
