//! The audit chain in the enclave: every step gets a receipt chained to the previous one; after a
//! restart the chain continues from a receipt the host presents, and a forged, foreign or older
//! one is refused.

use ed25519_dalek::{Signature, VerifyingKey};
use keyhold_shared::msg::{
    ActivityContext, ActivityOutput, ActivityRequest, AuditHeadRequest, AuditKeyCertificate,
    AuditReceiptsRequest, AuditResult, AuditResumeRequest, BootstrapOrgRequest, DOMAIN_AUDIT_KEY,
    DOMAIN_BOOTSTRAP_ORG, OrgBootstrapSpec, Receipt, ReceiptKind, Request, Response,
    SealedOrgState, audit_bytes, domain_digest, result_digest,
};
use keyhold_shared::{ErrorCode, OrgId, WireError};
use p256::ecdsa::SigningKey;
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use sha2::{Digest, Sha256};

use super::support::{Fixture, approve, create_wallet_body, fixture, sign_body, signed};
use crate::Enclave;

fn activity(
    enclave: &Enclave,
    key: &SigningKey,
    org: &SealedOrgState,
    body: &str,
) -> Result<ActivityOutput, WireError> {
    match enclave.handle(Request::Activity(ActivityRequest {
        parent: None,
        request: signed(key, body),
        org: org.clone(),
        context: ActivityContext::None,
    }))? {
        Response::Activity(out) => Ok(*out),
        other => panic!("unexpected answer {other:?}"),
    }
}

/// Creates a wallet (a state change: the new state checkpoints the chain) on `f`'s enclave.
fn wallet(f: &mut Fixture, enclave: &Enclave) -> ActivityOutput {
    let out = activity(
        enclave,
        &f.api_key,
        &f.org,
        &create_wallet_body(&f.org_id, "w", &["m/44'/60'/0'/0/0"]),
    )
    .unwrap();
    f.org = out.new_org_state.clone().unwrap();
    out
}

/// A step that leaves the state alone: a signature with the wallet's first account.
fn signature(f: &Fixture, enclave: &Enclave, created: &ActivityOutput) -> ActivityOutput {
    let keyhold_shared::msg::ActivityResult::CreateWallet {
        wallet_id,
        accounts,
        sealed_seed,
        ..
    } = &created.result
    else {
        panic!("not a wallet")
    };
    let account = &accounts[0];
    let body = sign_body(
        &f.org_id,
        &account.address,
        "deadbeef",
        "HASH_FUNCTION_KECCAK256",
    );
    match enclave.handle(Request::Activity(ActivityRequest {
        parent: None,
        request: signed(&f.api_key, &body),
        org: f.org.clone(),
        context: ActivityContext::WalletAccount {
            wallet_id: *wallet_id,
            path: account.path.clone(),
            curve: account.curve,
            address_format: account.address_format,
            sealed_seed: sealed_seed.clone(),
        },
    })) {
        Ok(Response::Activity(out)) => {
            assert!(out.new_org_state.is_none());
            *out
        }
        other => panic!("unexpected answer {other:?}"),
    }
}

fn certificate(enclave: &Enclave) -> AuditKeyCertificate {
    let Ok(Response::AuditKey(cert)) = enclave.handle(Request::AuditKey) else {
        panic!("audit key")
    };
    cert
}

fn quorum_public_key(enclave: &Enclave) -> Vec<u8> {
    let Ok(Response::Status(status)) = enclave.handle(Request::Status) else {
        panic!("status")
    };
    status.quorum_public_key.unwrap()
}

/// Checks the certificate against the quorum public key and returns the receipt key.
fn receipt_key(enclave: &Enclave) -> VerifyingKey {
    let cert = certificate(enclave);
    let quorum = p256::ecdsa::VerifyingKey::from_sec1_bytes(&quorum_public_key(enclave)).unwrap();
    let digest = domain_digest(DOMAIN_AUDIT_KEY, &cert.receipt_key).unwrap();
    let sig = p256::ecdsa::DerSignature::try_from(cert.signature.as_slice()).unwrap();
    quorum.verify_prehash(&digest, &sig).unwrap();
    VerifyingKey::from_bytes(&cert.receipt_key).unwrap()
}

fn verifies(key: &VerifyingKey, receipt: &Receipt) -> bool {
    key.verify_strict(
        &receipt.body.hash().unwrap(),
        &Signature::from_bytes(&receipt.signature.to_bytes()),
    )
    .is_ok()
}

fn resume(
    enclave: &Enclave,
    org: &SealedOrgState,
    latest: Option<&Receipt>,
) -> Result<u64, WireError> {
    match enclave.handle(Request::AuditResume(AuditResumeRequest {
        org: org.clone(),
        latest: latest.cloned(),
    }))? {
        Response::AuditResume(position) => Ok(position.seq),
        other => panic!("unexpected answer {other:?}"),
    }
}

fn second_org(enclave: &Enclave, root: &SigningKey) -> (SealedOrgState, OrgId) {
    let operator = SigningKey::from_slice(&[9u8; 32]).unwrap();
    let spec = OrgBootstrapSpec {
        organization_name: "globex".into(),
        root_user_name: "root".into(),
        api_key_name: "key".into(),
        api_public_key: root.verifying_key().to_sec1_point(true).as_bytes().to_vec(),
        nonce: [7; 16],
    };
    let approvals = vec![approve(&operator, DOMAIN_BOOTSTRAP_ORG, &spec)];
    let Ok(Response::BootstrapOrg(out)) =
        enclave.handle(Request::BootstrapOrg(BootstrapOrgRequest {
            spec,
            approvals,
        }))
    else {
        panic!("bootstrap")
    };
    (out.sealed_state, out.organization_id)
}

#[test]
fn every_step_gets_a_receipt_chained_to_the_previous_one() {
    let mut f = fixture();
    let enclave = std::mem::replace(&mut f.enclave, Enclave::new().unwrap());
    let key = receipt_key(&enclave);
    let created = wallet(&mut f, &enclave);
    let signed1 = signature(&f, &enclave, &created);
    let signed2 = signature(&f, &enclave, &created);
    let chain = [&created, &signed1, &signed2];
    let mut prev = [0u8; 32];
    for (i, out) in chain.iter().enumerate() {
        let r = &out.receipt.body;
        assert!(verifies(&key, &out.receipt), "receipt {i} must verify");
        assert_eq!(r.seq, i as u64 + 1);
        assert_eq!(r.prev, prev, "receipt {} names its predecessor", r.seq);
        assert_eq!(r.org_id, f.org_id);
        assert_eq!(r.kind, ReceiptKind::Activity);
        assert_eq!(r.activity_id, out.activity_id);
        assert_eq!(r.activity_type, out.activity_type);
        assert_eq!(r.user_id, out.principal.user_id);
        assert_eq!(r.executed_at_ms, out.executed_at_ms);
        assert_eq!(
            format!("sha256:{}", hex::encode(r.fingerprint)),
            out.fingerprint
        );
        // the digest covers the result and the policy evaluations
        let bytes = audit_bytes(
            &AuditResult::from(&out.result),
            out.policy_evaluations.as_deref(),
        )
        .unwrap();
        assert_eq!(r.result_digest, result_digest(&bytes));
        assert_ne!(
            r.result_digest,
            result_digest(&AuditResult::from(&out.result).encode().unwrap())
        );
        prev = r.hash().unwrap();
    }
    // the state version after each step: the wallet moved it, the signatures did not
    assert_eq!(created.receipt.body.org_version, f.org.version);
    assert_eq!(signed2.receipt.body.org_version, f.org.version);

    // the ring holds them for a host that lost some
    let Ok(Response::AuditReceipts(recent)) =
        enclave.handle(Request::AuditReceipts(AuditReceiptsRequest {
            org_id: f.org_id,
            after_seq: 1,
        }))
    else {
        panic!("receipts")
    };
    assert_eq!(
        recent,
        vec![signed1.receipt.clone(), signed2.receipt.clone()]
    );

    // the signed head names the newest receipt, over the caller's nonce
    let Ok(Response::AuditHead(head)) = enclave.handle(Request::AuditHead(AuditHeadRequest {
        org_id: f.org_id,
        nonce: vec![1, 2, 3],
    })) else {
        panic!("head")
    };
    assert_eq!(head.head.seq, 3);
    assert_eq!(head.head.hash, signed2.receipt.body.hash().unwrap());
    assert_eq!(head.head.nonce, vec![1, 2, 3]);
    assert_eq!(head.head.resumed_at, 0);
    key.verify_strict(
        &head.head.digest().unwrap(),
        &Signature::from_bytes(&head.signature.to_bytes()),
    )
    .unwrap();
    let too_long = enclave
        .handle(Request::AuditHead(AuditHeadRequest {
            org_id: f.org_id,
            nonce: vec![0; 65],
        }))
        .unwrap_err();
    assert_eq!(too_long.code, ErrorCode::InvalidRequest);
}

#[test]
fn a_restarted_enclave_continues_from_the_hosts_newest_receipt() {
    let mut f = fixture();
    let enclave = std::mem::replace(&mut f.enclave, Enclave::new().unwrap());
    let created = wallet(&mut f, &enclave);
    let s2 = signature(&f, &enclave, &created);
    let s3 = signature(&f, &enclave, &created);

    let restarted = enclave.restarted().unwrap();
    // the same deployment: the same receipt key and certificate
    assert_eq!(certificate(&restarted), certificate(&enclave));
    // it does not know where the chain stands: nothing runs until the host resumes it
    let err = activity(
        &restarted,
        &f.api_key,
        &f.org,
        &create_wallet_body(&f.org_id, "x", &[]),
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::AuditHeadNeeded);
    let err = restarted
        .handle(Request::AuditHead(AuditHeadRequest {
            org_id: f.org_id,
            nonce: vec![],
        }))
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::AuditHeadNeeded);
    // its ring is empty: receipts lost before a restart cannot be fetched again
    assert_eq!(
        restarted.handle(Request::AuditReceipts(AuditReceiptsRequest {
            org_id: f.org_id,
            after_seq: 0,
        })),
        Ok(Response::AuditReceipts(vec![]))
    );

    assert_eq!(resume(&restarted, &f.org, Some(&s3.receipt)), Ok(3));
    // once known, a later (even different) presentation changes nothing
    assert_eq!(resume(&restarted, &f.org, Some(&s2.receipt)), Ok(3));
    let next = signature(&f, &restarted, &created);
    assert_eq!(next.receipt.body.seq, 4);
    assert_eq!(next.receipt.body.prev, s3.receipt.body.hash().unwrap());
    assert!(verifies(&receipt_key(&enclave), &next.receipt));
    let Ok(Response::AuditHead(head)) = restarted.handle(Request::AuditHead(AuditHeadRequest {
        org_id: f.org_id,
        nonce: vec![],
    })) else {
        panic!("head")
    };
    assert_eq!((head.head.seq, head.head.resumed_at), (4, 3));
}

#[test]
fn without_a_receipt_the_chain_continues_from_the_sealed_checkpoint() {
    let mut f = fixture();
    let enclave = std::mem::replace(&mut f.enclave, Enclave::new().unwrap());
    let created = wallet(&mut f, &enclave);
    signature(&f, &enclave, &created);
    // the state checkpointed seq 1 (the wallet); the signature after it did not move it
    let keys = enclave.test_keys();
    let opened = keys.org_sealer.open(&f.org).unwrap();
    let checkpoint = opened.audit.unwrap();
    assert_eq!(checkpoint.seq, 1);
    assert_eq!(checkpoint.hash, created.receipt.body.hash().unwrap());

    let restarted = enclave.restarted().unwrap();
    assert_eq!(resume(&restarted, &f.org, None), Ok(1));
    let next = signature(&f, &restarted, &created);
    assert_eq!(next.receipt.body.seq, 2);
    assert_eq!(next.receipt.body.prev, checkpoint.hash);
}

#[test]
fn a_forged_foreign_or_older_head_is_refused_after_a_restart() {
    let mut f = fixture();
    let enclave = std::mem::replace(&mut f.enclave, Enclave::new().unwrap());
    let created = wallet(&mut f, &enclave); // seq 1
    let s2 = signature(&f, &enclave, &created); // seq 2
    let second = wallet(&mut f, &enclave); // seq 3, checkpoint 3
    let s4 = signature(&f, &enclave, &second); // seq 4
    assert_eq!(s4.receipt.body.seq, 4);
    let other_root = SigningKey::from_slice(&[5u8; 32]).unwrap();
    let (other_state, other_org) = second_org(&enclave, &other_root);
    let foreign = wallet(
        &mut Fixture {
            enclave: Enclave::new().unwrap(),
            org: other_state,
            org_id: other_org,
            api_key: other_root,
        },
        &enclave,
    );
    assert_eq!(foreign.receipt.body.org_id, other_org);

    let restarted = enclave.restarted().unwrap();
    let refused = |latest: &Receipt, why: &str| {
        let err = resume(&restarted, &f.org, Some(latest)).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidRequest, "{why}");
        assert!(err.message.contains(why), "{why}: {}", err.message);
    };
    // an edited receipt (a later seq claimed): its signature breaks
    let mut forged = s4.receipt.clone();
    forged.body.seq = 9;
    refused(&forged, "signature does not verify");
    // a receipt signed by another deployment
    let mut other = fixture();
    let alien_enclave = std::mem::replace(&mut other.enclave, Enclave::new().unwrap());
    let alien = wallet(&mut other, &alien_enclave);
    refused(&alien.receipt, "signature does not verify");
    // a valid receipt of another organization
    refused(&foreign.receipt, "another organization");
    // a valid receipt of this organization, older than the sealed checkpoint (seq 3)
    refused(
        &s2.receipt,
        "older than the organization's sealed checkpoint",
    );
    // none of this left a head behind
    let err = activity(
        &restarted,
        &f.api_key,
        &f.org,
        &create_wallet_body(&f.org_id, "x", &[]),
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::AuditHeadNeeded);
    // the checkpoint's own receipt, and a newer one, are accepted
    assert_eq!(resume(&restarted, &f.org, Some(&second.receipt)), Ok(3));
    let again = enclave.restarted().unwrap();
    assert_eq!(resume(&again, &f.org, Some(&s4.receipt)), Ok(4));
}

#[test]
fn receipt_fingerprints_are_of_the_exact_body() {
    let mut f = fixture();
    let enclave = std::mem::replace(&mut f.enclave, Enclave::new().unwrap());
    let body = create_wallet_body(&f.org_id, "exact", &[]);
    let out = activity(&enclave, &f.api_key, &f.org, &body).unwrap();
    assert_eq!(
        out.receipt.body.fingerprint,
        <[u8; 32]>::from(Sha256::digest(body.as_bytes()))
    );
}
