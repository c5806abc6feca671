//! Documents from the crate's builder: encodings, limits, and tampering that needs a signer.

use keyhold_attestation::builder::{DevIssuer, MapEncoding};
use keyhold_attestation::limits::{MAX_DOCUMENT_LEN, MAX_USER_FIELD_LEN};
use keyhold_attestation::{Document, Error, Policy, verify};

use crate::common::{find, flip_bit, gen_time, issuer, policy_for, spec};

#[test]
fn indefinite_length_payload_map_verifies_over_the_received_bytes() {
    let issuer = issuer(b"indefinite");
    let mut s = spec();
    s.map_encoding = MapEncoding::Indefinite;
    s.nonce = Some(b"fresh nonce".to_vec());
    let bytes = issuer.sign(&s).unwrap();
    // The payload bstr holds an indefinite map (0xbf) starting with "module_id".
    let at = find(&bytes, b"\xbf\x69module_id");
    assert!(at < 16);
    let doc = verify(
        &bytes,
        &policy_for(&issuer).expect_nonce(b"fresh nonce".to_vec()),
    )
    .unwrap();
    assert_eq!(doc.nonce(), Some(&b"fresh nonce"[..]));
    assert_eq!(doc.document().pcrs().len(), 16);

    // Same content, definite encoding: different bytes, and each signature only fits its own.
    s.map_encoding = MapEncoding::Definite;
    let definite = issuer.sign(&s).unwrap();
    assert_ne!(definite, bytes);
    verify(&definite, &policy_for(&issuer)).unwrap();
}

#[test]
fn tagged_and_untagged_both_verify() {
    let issuer = issuer(b"tags");
    let mut s = spec();
    s.tagged = true;
    let tagged = issuer.sign(&s).unwrap();
    assert_eq!(tagged[0], 0xd2);
    verify(&tagged, &policy_for(&issuer)).unwrap();
    // Any other tag is refused.
    let mut other = tagged.clone();
    other[0] = 0xd1;
    assert!(matches!(
        verify(&other, &policy_for(&issuer)),
        Err(Error::Cose(_))
    ));
}

#[test]
fn user_fields_up_to_1024_bytes() {
    let issuer = issuer(b"limits");
    let max = vec![0xa5; MAX_USER_FIELD_LEN];
    let mut s = spec();
    s.public_key = Some(max.clone());
    s.user_data = Some(max.clone());
    s.nonce = Some(max.clone());
    let bytes = issuer.sign(&s).unwrap();
    let policy = policy_for(&issuer)
        .expect_public_key(max.clone())
        .expect_user_data(max.clone())
        .expect_nonce(max.clone());
    verify(&bytes, &policy).unwrap();

    for field in ["public_key", "user_data", "nonce"] {
        let mut s = spec();
        let over = Some(vec![0xa5; MAX_USER_FIELD_LEN + 1]);
        match field {
            "public_key" => s.public_key = over,
            "user_data" => s.user_data = over,
            _ => s.nonce = over,
        }
        let err = verify(&issuer.sign(&s).unwrap(), &policy_for(&issuer)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("payload: `{field}` is 1025 bytes (max 1024)")
        );
    }
}

#[test]
fn payload_limits_and_shapes() {
    let issuer = issuer(b"shapes");
    let policy = policy_for(&issuer);
    let refuse = |s: &keyhold_attestation::builder::DocumentSpec, expected: &str| {
        let err = verify(&issuer.sign(s).unwrap(), &policy).unwrap_err();
        assert!(err.to_string().contains(expected), "{err} vs {expected}");
    };

    let mut s = spec();
    s.pcrs = (0..32u8).map(|i| (i, vec![1; 48])).collect();
    verify(&issuer.sign(&s).unwrap(), &policy).unwrap();
    // 33 PCRs cannot be written with u8 indexes < 32, so go out of range instead.
    s.pcrs.insert(32, vec![1; 48]);
    refuse(&s, "33 pcrs (max 32)");
    let mut s = spec();
    s.pcrs.insert(40, vec![1; 48]);
    refuse(&s, "pcr index out of range");
    let mut s = spec();
    s.pcrs.insert(3, vec![1; 32]);
    refuse(&s, "pcr3 is 32 bytes, but digest SHA384 needs 48");
    let mut s = spec();
    s.digest = "SHA256".to_owned();
    refuse(&s, "pcr0 is 48 bytes, but digest SHA256 needs 32");
    let mut s = spec();
    s.digest = "MD5".to_owned();
    refuse(&s, "unknown digest `MD5`");
    let mut s = spec();
    s.module_id = String::new();
    refuse(&s, "`module_id` is empty");
    let mut s = spec();
    s.timestamp_ms = 0;
    refuse(&s, "`timestamp` is zero");
    let mut s = spec();
    s.cabundle_override = Some(vec![issuer.root_der().to_vec(); 9]);
    refuse(&s, "`cabundle` has 9 certificates (1..=8 allowed)");
    let mut s = spec();
    s.cabundle_override = Some(vec![]);
    refuse(&s, "`cabundle` has 0 certificates");
    let mut s = spec();
    s.certificate_override = Some(b"not a certificate".to_vec());
    refuse(&s, "`certificate`: bad der");

    // Debug mode: PCR0-2 all zero.
    let mut s = spec();
    for i in 0..3 {
        s.pcrs.insert(i, vec![0; 48]);
    }
    let debug = issuer.sign(&s).unwrap();
    assert_eq!(verify(&debug, &policy).unwrap_err(), Error::DebugMode);
    verify(&debug, &policy.clone().allow_debug(true)).unwrap();
    // One non-zero PCR among the three is enough to be production.
    s.pcrs.insert(1, vec![7; 48]);
    verify(&issuer.sign(&s).unwrap(), &policy).unwrap();
}

#[test]
fn size_and_framing_limits() {
    let issuer = issuer(b"framing");
    let bytes = issuer.sign(&spec()).unwrap();
    let policy = policy_for(&issuer);
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(matches!(verify(&trailing, &policy), Err(Error::Cose(_))));
    assert!(matches!(
        verify(&bytes[..bytes.len() - 1], &policy),
        Err(Error::Cose(_))
    ));
    let huge = vec![0x84; MAX_DOCUMENT_LEN + 1];
    assert_eq!(
        verify(&huge, &policy).unwrap_err().to_string(),
        "document too large: 65537 bytes (max 65536)"
    );
    assert!(verify(&[], &policy).is_err());
}

#[test]
fn chain_and_signature_tampering_with_a_generated_issuer() {
    let a = issuer(b"issuer a");
    let b = issuer(b"issuer b");
    let doc_a = a.sign(&spec()).unwrap();

    // Wrong root pinned.
    let err = verify(&doc_a, &policy_for(&b)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "certificate chain: cabundle[1] signature does not verify with the root key"
    );
    // Default policy pins AWS: a dev document never passes.
    assert!(matches!(
        verify(&doc_a, &Policy::new(gen_time())),
        Err(Error::Chain(_))
    ));

    // A's leaf key signs, but B's chain is presented: chain fine, signature not.
    let mut s = spec();
    s.certificate_override = Some(b.leaf_der().to_vec());
    s.cabundle_override = Some(b.cabundle());
    let mixed = a.sign(&s).unwrap();
    assert!(matches!(
        verify(&mixed, &policy_for(&b)),
        Err(Error::Signature(_))
    ));

    // Intermediates out of order or missing.
    let deep = DevIssuer::with_intermediates(
        b"deep",
        gen_time().saturating_sub(5),
        gen_time().saturating_add(5),
        2,
    )
    .unwrap();
    let mut s = spec();
    let mut bundle = deep.cabundle();
    bundle.swap(1, 2);
    s.cabundle_override = Some(bundle);
    let err = verify(&deep.sign(&s).unwrap(), &policy_for(&deep)).unwrap_err();
    assert!(
        err.to_string().contains("does not match root subject"),
        "{err}"
    );
    let mut s = spec();
    s.cabundle_override = Some(deep.cabundle()[..2].to_vec());
    let err = verify(&deep.sign(&s).unwrap(), &policy_for(&deep)).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("certificate chain: leaf issuer"),
        "{err}"
    );

    // The leaf cannot act as a CA: put A's leaf where an intermediate goes.
    let mut s = spec();
    s.cabundle_override = Some(vec![a.root_der().to_vec(), a.leaf_der().to_vec()]);
    let err = verify(&a.sign(&s).unwrap(), &policy_for(&a)).unwrap_err();
    assert!(matches!(err, Error::Chain(_)), "{err}");

    // Every single-bit flip in a certificate or the signature is refused.
    let parsed = Document::parse(&doc_a).unwrap();
    for der in [parsed.certificate().der(), parsed.cabundle()[1].der()] {
        let start = find(&doc_a, der);
        for offset in (0..der.len()).step_by(7) {
            assert!(verify(&flip_bit(&doc_a, start + offset, 2), &policy_for(&a)).is_err());
        }
    }
}

#[test]
fn verified_document_reports_what_was_checked() {
    let issuer = issuer(b"getters");
    let mut s = spec();
    s.user_data = Some(b"user".to_vec());
    let doc = verify(&issuer.sign(&s).unwrap(), &policy_for(&issuer)).unwrap();
    assert_eq!(doc.verified_at(), gen_time());
    assert_eq!(doc.timestamp_millis(), gen_time().as_secs() * 1000 + 123);
    assert_eq!(doc.user_data(), Some(&b"user"[..]));
    assert_eq!(doc.public_key(), None);
    assert_eq!(doc.pcr(1), Some(&[0x12; 48][..]));
    assert_eq!(doc.root().der(), issuer.root_der());
    assert_eq!(doc.document().digest().name(), "SHA384");
}
