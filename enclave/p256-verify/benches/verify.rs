//! A stamp's P-256 verification: `p256` alone, with the key's table, and building the table.

use criterion::{Criterion, criterion_group, criterion_main};
use keyhold_p256_verify::KeyTable;
use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use p256::ecdsa::{Signature, SigningKey};
use sha2::{Digest, Sha256};

fn verify(c: &mut Criterion) {
    let Ok(signing) = SigningKey::from_slice(&[7; 32]) else {
        return;
    };
    let digest: [u8; 32] =
        Sha256::digest(b"{\"type\":\"ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2\"}").into();
    let Ok(signature) = PrehashSigner::<Signature>::sign_prehash(&signing, &digest) else {
        return;
    };
    let key = *signing.verifying_key();
    let table = KeyTable::new(&key);
    c.bench_function("p256_verify/p256_crate", |b| {
        b.iter(|| key.verify_prehash(&digest, &signature).is_ok())
    });
    c.bench_function("p256_verify/key_table", |b| {
        b.iter(|| table.verify_prehash(&digest, &signature))
    });
    c.bench_function("p256_verify/build_key_table", |b| {
        b.iter(|| KeyTable::new(&key))
    });
}

criterion_group!(benches, verify);
criterion_main!(benches);
