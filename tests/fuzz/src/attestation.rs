//! Attestation documents, as an enclave verifies another enclave's before forwarding it the
//! quorum key (and as `keyhold-attest` verifies them): COSE_Sign1 over CBOR, a certificate
//! chain, PCRs and the bound public key, user data and nonce.
//!
//! Documents are checked at a fixed time against a dev CA made from a fixed seed, so the seeds
//! (documents that issuer signed, `seeds.rs`) verify for ever and the fuzzer can mutate them
//! past every check, not only the parser.

use keyhold_attestation::builder::{DevIssuer, DocumentSpec};
use keyhold_attestation::{Document, Policy, UnixTime, verify};

/// When the seed documents were made (2025-06-15T12:00:00Z).
pub const SIGNED_AT_MS: u64 = 1_750_000_000_000;
const CA_SEED: &[u8] = b"keyhold fuzz dev CA";

pub fn issuer() -> DevIssuer {
    let at = UnixTime::from_secs(SIGNED_AT_MS / 1000);
    DevIssuer::long_lived(CA_SEED, at.saturating_sub(60), at.saturating_add(3600))
        .expect("dev issuer")
}

/// A document as an enclave would present it for key forwarding.
pub fn spec() -> DocumentSpec {
    let mut spec = DocumentSpec::new(SIGNED_AT_MS);
    spec.public_key = Some(vec![0x42; 32]);
    spec.user_data = Some(vec![0x17; 32]);
    spec.nonce = Some(vec![9; 16]);
    spec
}

pub fn run(data: &[u8]) {
    let _ = check(data);
}

/// Parses and verifies `data`; whether it verified.
pub fn check(data: &[u8]) -> bool {
    let parsed = Document::parse(data);
    let Ok(root) = issuer().trust_anchor() else {
        return false;
    };
    let expected = spec();
    let mut policy = Policy::new(UnixTime::from_secs(SIGNED_AT_MS / 1000 + 5))
        .with_root(root)
        .expect_nonce(vec![9; 16])
        .expect_user_data(vec![0x17; 32])
        .max_age_secs(300);
    for (index, value) in &expected.pcrs {
        policy = policy.expect_pcr(*index, value.clone());
    }
    if let Ok(verified) = verify(data, &policy) {
        // Whatever verifies parsed, and carries what the policy demanded.
        assert!(parsed.is_ok(), "a verified document must parse");
        assert_eq!(verified.nonce(), Some(&[9u8; 16][..]));
        assert_eq!(verified.user_data(), Some(&[0x17u8; 32][..]));
        return true;
    }
    false
}
