//! Real AWS Nitro documents (from `../shared/vectors/nitro`): valid exactly at their own time.

use keyhold_attestation::{Document, Error, Policy, UnixTime, verify};

use keyhold_attestation::builder::DevIssuer;

use crate::common::{find, flip_bit, issuer, real_docs};

/// One of `Policy::expect_public_key` / `expect_user_data` / `expect_nonce`.
type ExpectField = fn(Policy, Vec<u8>) -> Policy;

fn own_time(ts_ms: u64) -> UnixTime {
    UnixTime::from_secs(ts_ms / 1000)
}

#[test]
fn every_real_document_verifies_at_its_own_time() {
    let Some(docs) = real_docs("every_real_document_verifies_at_its_own_time") else {
        return;
    };
    for doc in docs {
        let parsed = Document::parse(&doc.bytes).unwrap();
        assert_eq!(parsed.timestamp_millis(), doc.timestamp_ms, "{}", doc.file);
        assert_eq!(parsed.is_debug(), doc.debug, "{}", doc.file);
        assert_eq!(parsed.pcrs().len(), 16, "{}", doc.file);
        assert_eq!(parsed.cabundle().len(), 4, "{}", doc.file);
        let leaf = parsed.certificate();
        assert_eq!(
            leaf.not_before().to_string(),
            doc.leaf_not_before,
            "{}",
            doc.file
        );
        assert_eq!(
            leaf.not_after().to_string(),
            doc.leaf_not_after,
            "{}",
            doc.file
        );

        let at = own_time(doc.timestamp_ms);
        let policy = Policy::new(at).allow_debug(doc.debug);
        let verified =
            verify(&doc.bytes, &policy).unwrap_or_else(|e| panic!("{} at {at}: {e}", doc.file));
        assert_eq!(verified.module_id(), parsed.module_id());
        assert_eq!(
            hex::encode(verified.root().sha256()),
            "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b"
        );
        // Each bound field that is present verifies when expected, and one changed byte fails.
        let fields: [(&str, Option<&[u8]>, ExpectField); 3] = [
            ("public_key", parsed.public_key(), Policy::expect_public_key),
            ("user_data", parsed.user_data(), Policy::expect_user_data),
            ("nonce", parsed.nonce(), Policy::expect_nonce),
        ];
        for (name, value, expect) in fields {
            let Some(value) = value else { continue };
            verify(&doc.bytes, &expect(policy.clone(), value.to_vec())).unwrap();
            let mut wrong = value.to_vec();
            *wrong.last_mut().unwrap() ^= 1;
            let err = verify(&doc.bytes, &expect(policy.clone(), wrong)).unwrap_err();
            assert!(
                matches!(err, Error::FieldMismatch { field, .. } if field == name),
                "{}: {err}",
                doc.file
            );
        }

        // The leaf window's edges are inclusive.
        for edge in [leaf.not_before(), leaf.not_after()] {
            // The leaf may predate the document by minutes, so allow that much "future".
            let policy = Policy::new(edge)
                .allow_debug(doc.debug)
                .max_future_skew_secs(4 * 3600);
            verify(&doc.bytes, &policy).unwrap_or_else(|e| panic!("{} at {edge}: {e}", doc.file));
        }
    }
}

#[test]
fn every_real_document_is_refused_outside_its_leaf_window() {
    let Some(docs) = real_docs("every_real_document_is_refused_outside_its_leaf_window") else {
        return;
    };
    for doc in docs {
        let leaf = Document::parse(&doc.bytes).unwrap().certificate().clone();
        for at in [
            UnixTime::now(),
            leaf.not_before().saturating_sub(1),
            leaf.not_after().saturating_add(1),
        ] {
            let err = verify(&doc.bytes, &Policy::new(at).allow_debug(true)).unwrap_err();
            let msg = err.to_string();
            assert!(matches!(err, Error::Chain(_)), "{}: {msg}", doc.file);
            assert!(
                msg.starts_with(&format!(
                    "certificate chain: leaf not valid at {at} (valid "
                )),
                "{}: {msg}",
                doc.file
            );
        }
    }
}

#[test]
fn debug_documents_are_refused_unless_allowed() {
    let Some(docs) = real_docs("debug_documents_are_refused_unless_allowed") else {
        return;
    };
    let mut seen = 0;
    for doc in docs.iter().filter(|d| d.debug) {
        let err = verify(&doc.bytes, &Policy::new(own_time(doc.timestamp_ms))).unwrap_err();
        assert_eq!(err, Error::DebugMode, "{}", doc.file);
        seen += 1;
    }
    assert_eq!(seen, 2);
}

fn qos() -> Option<(Vec<u8>, Document, Policy)> {
    let docs = real_docs("tamper")?;
    let doc = docs.into_iter().next()?;
    let parsed = Document::parse(&doc.bytes).unwrap();
    let policy = Policy::new(own_time(doc.timestamp_ms));
    Some((doc.bytes, parsed, policy))
}

#[test]
fn tampered_real_documents_are_refused() {
    let Some((bytes, parsed, policy)) = qos() else {
        return;
    };
    verify(&bytes, &policy).unwrap();

    // One bit in the payload (inside the module id text, so the CBOR stays well formed).
    let at = find(&bytes, parsed.module_id().as_bytes()) + 5;
    let err = verify(&flip_bit(&bytes, at, 0), &policy).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cose signature: does not verify with the leaf certificate's key"
    );

    // One bit in the COSE signature (the document's last bytes).
    let err = verify(&flip_bit(&bytes, bytes.len() - 1, 3), &policy).unwrap_err();
    assert!(matches!(err, Error::Signature(_)), "{err}");

    // One bit in a cabundle certificate's signature value (its last byte).
    let ca = parsed.cabundle()[2].der();
    let at = find(&bytes, ca) + ca.len() - 1;
    let err = verify(&flip_bit(&bytes, at, 0), &policy).unwrap_err();
    assert_eq!(
        err.to_string(),
        "certificate chain: cabundle[2] signature does not verify with the cabundle[1] key"
    );

    // One bit in the leaf certificate: its signature, then its to-be-signed part.
    let leaf = parsed.certificate().der();
    let start = find(&bytes, leaf);
    let err = verify(&flip_bit(&bytes, start + leaf.len() - 1, 0), &policy).unwrap_err();
    assert_eq!(
        err.to_string(),
        "certificate chain: leaf signature does not verify with the cabundle[3] key"
    );
    let err = verify(&flip_bit(&bytes, start + leaf.len() / 2, 0), &policy).unwrap_err();
    assert!(matches!(err, Error::Chain(_) | Error::Payload(_)), "{err}");

    // The document's own root copy is ignored, so tampering with it cannot help or hurt the chain;
    // it is still under the COSE signature.
    let root_copy = parsed.cabundle()[0].der();
    let at = find(&bytes, root_copy) + root_copy.len() - 1;
    assert!(matches!(
        verify(&flip_bit(&bytes, at, 0), &policy),
        Err(Error::Signature(_))
    ));
}

#[test]
fn real_document_policy_checks() {
    let Some((bytes, parsed, policy)) = qos() else {
        return;
    };
    // Wrong root pinned.
    let at = policy.at();
    let dev = DevIssuer::new(b"wrong root", at.saturating_sub(5), at.saturating_add(5)).unwrap();
    let err = verify(
        &bytes,
        &policy.clone().with_root(dev.trust_anchor().unwrap()),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("certificate chain: cabundle[1] issuer"),
        "{err}"
    );

    // Expected PCRs: right and wrong.
    let pcr0 = parsed.pcr(0).unwrap().to_vec();
    verify(&bytes, &policy.clone().expect_pcr(0, pcr0.clone())).unwrap();
    let mut wrong = pcr0.clone();
    wrong[47] ^= 1;
    let err = verify(&bytes, &policy.clone().expect_pcr(0, wrong)).unwrap_err();
    assert!(matches!(err, Error::PcrMismatch { index: 0, .. }), "{err}");
    let err = verify(&bytes, &policy.clone().expect_pcr(20, pcr0)).unwrap_err();
    assert!(matches!(err, Error::PcrMissing { index: 20, .. }), "{err}");

    // Bound fields: user_data and public_key are present, nonce is absent.
    let user_data = parsed.user_data().unwrap().to_vec();
    let public_key = parsed.public_key().unwrap().to_vec();
    verify(
        &bytes,
        &policy
            .clone()
            .expect_user_data(user_data.clone())
            .expect_public_key(public_key.clone()),
    )
    .unwrap();
    let err = verify(
        &bytes,
        &policy.clone().expect_user_data(user_data[1..].to_vec()),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::FieldMismatch {
                field: "user_data",
                ..
            }
        ),
        "{err}"
    );
    let mut other_key = public_key;
    other_key[100] ^= 0x20;
    let err = verify(&bytes, &policy.clone().expect_public_key(other_key)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::FieldMismatch {
                field: "public_key",
                ..
            }
        ),
        "{err}"
    );
    let err = verify(&bytes, &policy.clone().expect_nonce(vec![1, 2, 3])).unwrap_err();
    assert_eq!(err.to_string(), "nonce: expected 010203, got none");

    // Age: an hour later the leaf is still valid, but the document is too old for 60 s.
    let later = UnixTime::from_secs(parsed.timestamp_millis() / 1000 + 3600);
    verify(&bytes, &Policy::new(later).max_age_secs(7200)).unwrap();
    let err = verify(&bytes, &Policy::new(later).max_age_secs(60)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "timestamp: document from 2022-07-06T14:18:22.484Z is 3599 s old at 2022-07-06T15:18:22Z (max age 60 s)"
    );

    // From the future: at the leaf's notBefore the document is 3 s ahead.
    let early = parsed.certificate().not_before();
    verify(&bytes, &Policy::new(early)).unwrap();
    let err = verify(&bytes, &Policy::new(early).max_future_skew_secs(1)).unwrap_err();
    assert!(
        matches!(err, Error::InFuture { ahead_secs: 3, .. }),
        "{err}"
    );
}

#[test]
fn attacker_signed_payload_with_the_real_chain_is_refused() {
    // Someone without the leaf's private key re-signs a modified payload while presenting the
    // genuine AWS chain: the chain is fine, the COSE signature is not.
    let Some((bytes, parsed, policy)) = qos() else {
        return;
    };
    drop(bytes);
    let attacker = issuer(b"attacker");
    let mut spec = keyhold_attestation::builder::DocumentSpec::new(parsed.timestamp_millis());
    spec.certificate_override = Some(parsed.certificate().der().to_vec());
    spec.cabundle_override = Some(parsed.cabundle().iter().map(|c| c.der().to_vec()).collect());
    let forged = attacker.sign(&spec).unwrap();
    let err = verify(&forged, &policy).unwrap_err();
    assert!(matches!(err, Error::Signature(_)), "{err}");
}
