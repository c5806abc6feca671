//! The generated vectors committed in `tests/data/` (see the README there).
//!
//! They are checked two ways: they verify (so the crate is tested on fixed bytes even without
//! `../shared`), and the builder still reproduces them byte for byte (so a builder change that
//! alters the encoding is noticed). Regenerate with `KEYHOLD_WRITE_TEST_DATA=1 cargo test -p
//! keyhold-attestation committed_data`.

use std::path::PathBuf;

use keyhold_attestation::builder::{DevIssuer, DocumentSpec, MapEncoding};
use keyhold_attestation::{Document, Error, Policy, TrustAnchor, UnixTime, verify};

const SEED: &[u8] = b"keyhold-attestation tests/data v1";
const LEAF_FROM: &str = "2025-06-01T12:00:00Z";
const LEAF_UNTIL: &str = "2025-06-01T15:00:00Z";
const DOC_TIME: &str = "2025-06-01T12:00:03Z";

fn data_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data"))
}

/// (file name, bytes as stored) for every committed vector, built fresh.
fn generate() -> Vec<(&'static str, Vec<u8>)> {
    let issuer = DevIssuer::new(
        SEED,
        UnixTime::parse(LEAF_FROM).unwrap(),
        UnixTime::parse(LEAF_UNTIL).unwrap(),
    )
    .unwrap();
    let ts = UnixTime::parse(DOC_TIME).unwrap().as_secs() * 1000 + 250;

    let mut indefinite = DocumentSpec::new(ts);
    indefinite.map_encoding = MapEncoding::Indefinite;
    indefinite.tagged = true;
    indefinite.nonce = Some(b"keyhold test nonce".to_vec());
    indefinite.user_data = Some(b"keyhold test user data".to_vec());

    let mut definite = DocumentSpec::new(ts);
    definite.public_key = Some(vec![0x5a; 1024]);

    vec![
        ("dev-root.pem", issuer.root_pem().unwrap().into_bytes()),
        ("dev-indefinite.cbor", issuer.sign(&indefinite).unwrap()),
        (
            "dev-definite-pubkey1024.hex",
            format!("{}\n", hex::encode(issuer.sign(&definite).unwrap())).into_bytes(),
        ),
    ]
}

#[test]
fn committed_vectors_match_the_builder() {
    let write = std::env::var_os("KEYHOLD_WRITE_TEST_DATA").is_some();
    for (name, bytes) in generate() {
        let path = data_dir().join(name);
        if write {
            std::fs::write(&path, &bytes).unwrap();
        }
        let stored = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            stored, bytes,
            "{name} differs from what the builder makes now"
        );
    }
}

#[test]
fn committed_vectors_verify() {
    let root =
        TrustAnchor::from_pem(&std::fs::read(data_dir().join("dev-root.pem")).unwrap()).unwrap();
    let at = UnixTime::parse(DOC_TIME).unwrap();
    let policy = Policy::new(at).with_root(root);

    let indefinite = std::fs::read(data_dir().join("dev-indefinite.cbor")).unwrap();
    assert_eq!(indefinite[0], 0xd2, "tagged COSE_Sign1");
    let doc = verify(
        &indefinite,
        &policy
            .clone()
            .expect_nonce(b"keyhold test nonce".to_vec())
            .expect_user_data(b"keyhold test user data".to_vec()),
    )
    .unwrap();
    assert_eq!(doc.timestamp_millis() % 1000, 250);

    let hex_text = std::fs::read_to_string(data_dir().join("dev-definite-pubkey1024.hex")).unwrap();
    let definite = hex::decode(hex_text.trim()).unwrap();
    let doc = verify(
        &definite,
        &policy.clone().expect_public_key(vec![0x5a; 1024]),
    )
    .unwrap();
    assert_eq!(doc.public_key().map(<[u8]>::len), Some(1024));

    // Fixed bytes, fixed windows: one second outside the leaf's validity is refused.
    let leaf = Document::parse(&definite).unwrap().certificate().clone();
    assert_eq!(leaf.not_before().to_string(), LEAF_FROM);
    assert_eq!(leaf.not_after().to_string(), LEAF_UNTIL);
    let late = Policy::new(leaf.not_after().saturating_add(1)).with_root(
        TrustAnchor::from_pem(&std::fs::read(data_dir().join("dev-root.pem")).unwrap()).unwrap(),
    );
    assert!(matches!(verify(&definite, &late), Err(Error::Chain(_))));
    // And the AWS root never accepts them.
    assert!(matches!(
        verify(&definite, &Policy::new(at)),
        Err(Error::Chain(_))
    ));
}
