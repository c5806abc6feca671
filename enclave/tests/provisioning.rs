//! Provisioning end to end with real enclave processes: a 2-of-3 quorum of operators with their
//! own key files, attested boots, refused shares, and key forwarding to a second enclave that
//! then signs with the same wallets.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed step should stop the test with its message"
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use keyhold_attestation::builder::DevIssuer;
use keyhold_attestation::{Policy, UnixTime};
use keyhold_host::boot::{self, QuorumRecord};
use keyhold_host::operator::{AttestationCheck, DevOperator};
use keyhold_host::{EnclaveClient, HostError};
use keyhold_shared::msg::*;
use keyhold_shared::{Address, ErrorCode, WireError};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{DerSignature, Signature, SigningKey};

struct Enclave {
    child: Child,
    client: Arc<EnclaveClient>,
}

impl Drop for Enclave {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(dir: &Path, name: &str, ca_seed: &Path) -> Enclave {
    let socket = dir.join(format!("{name}.sock"));
    let child = Command::new(env!("CARGO_BIN_EXE_keyhold-enclave"))
        .arg("--listen")
        .arg(format!("unix:{}", socket.display()))
        .arg("--dev-attestation-ca")
        .arg(ca_seed)
        .spawn()
        .unwrap();
    let client = Arc::new(EnclaveClient::new(
        Address::Unix(socket),
        1,
        Duration::from_secs(30),
    ));
    Enclave { child, client }
}

async fn call(enclave: &Enclave, request: Request) -> Result<Response, HostError> {
    for _ in 0..100 {
        match enclave.client.call(request.clone()).await {
            Err(HostError::EnclaveUnavailable(_)) => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            other => return other,
        }
    }
    panic!("enclave did not come up")
}

fn refused(result: Result<Response, HostError>) -> String {
    match result {
        Err(HostError::Enclave(WireError { code, message, .. })) => {
            assert!(
                matches!(
                    code,
                    ErrorCode::ProvisioningRefused | ErrorCode::PermissionDenied
                ),
                "{code:?}: {message}"
            );
            message
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn now() -> UnixTime {
    UnixTime::from_secs(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
}

fn check(seed: &[u8], nonce: &[u8]) -> AttestationCheck {
    let root = DevIssuer::long_lived(seed, now(), now().saturating_add(60))
        .unwrap()
        .trust_anchor()
        .unwrap();
    AttestationCheck {
        root,
        nonce: nonce.to_vec(),
        allow_debug: false,
        max_age_secs: 300,
    }
}

async fn attest(enclave: &Enclave, nonce: &[u8], manifest: Option<&QuorumManifest>) -> Attestation {
    let request = Request::Attest(AttestRequest {
        nonce: nonce.to_vec(),
        manifest: manifest.cloned(),
    });
    let Response::Attest(attestation) = call(enclave, request).await.unwrap() else {
        panic!()
    };
    attestation
}

fn stamp(key: &SigningKey, body: &str) -> SignedRequest {
    let sig: Signature = key.sign(body.as_bytes());
    let json = serde_json::json!({
        "publicKey": hex::encode(key.verifying_key().to_sec1_point(true).as_bytes()),
        "scheme": "SIGNATURE_SCHEME_TK_API_P256",
        "signature": hex::encode(DerSignature::from(sig).as_bytes()),
    });
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json.to_string());
    SignedRequest {
        body: body.as_bytes().to_vec(),
        stamp: Stamp::ApiKey(header),
    }
}

fn now_ms() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_of_three_quorum_then_key_forwarding() {
    let dir = tempfile::tempdir().unwrap();
    let seed = [0x42u8; 32];
    let seed_path: PathBuf = dir.path().join("ca.seed");
    std::fs::write(&seed_path, hex::encode(seed)).unwrap();
    let operators: Vec<DevOperator> = (0..3)
        .map(|i| {
            DevOperator::load_or_create(&dir.path().join(format!("operator-{i}.json"))).unwrap()
        })
        .collect();

    // ---- genesis on enclave A: a 2-of-3 manifest pinning A's attested PCRs -------------------
    let a = spawn(dir.path(), "a", &seed_path);
    let nonce = b"genesis nonce".to_vec();
    let doc = attest(&a, &nonce, None).await;
    let policy = Policy::new(now())
        .with_root(check(&seed, &nonce).root)
        .expect_nonce(nonce.clone());
    let verified = keyhold_attestation::verify(&doc.document, &policy).unwrap();
    let pcrs: Vec<Pcr> = (0..3)
        .map(|index| Pcr {
            index,
            value: verified.pcr(index).unwrap().to_vec(),
        })
        .collect();
    let manifest = QuorumManifest {
        operators: operators.iter().map(DevOperator::public).collect(),
        threshold: 2,
        nonce: 1,
        pcrs,
    };
    let approve = |i: usize| {
        operators[i]
            .approval(&manifest, DOMAIN_MANIFEST_APPROVAL, &manifest)
            .unwrap()
    };
    // one approval is not enough
    let one = GenesisRequest {
        manifest: manifest.clone(),
        approvals: vec![approve(0), approve(0)],
    };
    refused(call(&a, Request::Genesis(one)).await);
    let two = GenesisRequest {
        manifest: manifest.clone(),
        approvals: vec![approve(0), approve(2)],
    };
    let Response::Genesis(genesis) = call(&a, Request::Genesis(two)).await.unwrap() else {
        panic!()
    };
    assert_eq!(genesis.shares.len(), 3);
    let record = QuorumRecord {
        manifest: manifest.clone(),
        genesis,
    };

    // an organization (two operators approve) and a wallet, on A
    let api_key = SigningKey::from_slice(&[0x17; 32]).unwrap();
    let spec = OrgBootstrapSpec {
        organization_name: "acme".into(),
        root_user_name: "root".into(),
        api_key_name: "key".into(),
        api_public_key: api_key
            .verifying_key()
            .to_sec1_point(true)
            .as_bytes()
            .to_vec(),
        nonce: [3; 16],
    };
    let approvals = vec![
        operators[1]
            .approval(&manifest, DOMAIN_BOOTSTRAP_ORG, &spec)
            .unwrap(),
        operators[2]
            .approval(&manifest, DOMAIN_BOOTSTRAP_ORG, &spec)
            .unwrap(),
    ];
    let Response::BootstrapOrg(org) = call(
        &a,
        Request::BootstrapOrg(BootstrapOrgRequest { spec, approvals }),
    )
    .await
    .unwrap() else {
        panic!()
    };
    let body = serde_json::json!({
        "type": "ACTIVITY_TYPE_CREATE_WALLET", "timestampMs": now_ms(),
        "organizationId": org.organization_id.to_string(),
        "parameters": {"walletName": "w", "accounts": [{"curve": "CURVE_SECP256K1",
            "pathFormat": "PATH_FORMAT_BIP32", "path": "m/44'/60'/0'/0/0", "addressFormat": "ADDRESS_FORMAT_ETHEREUM"}]},
    })
    .to_string();
    let request = ActivityRequest {
        parent: None,
        request: stamp(&api_key, &body),
        org: org.sealed_state.clone(),
        context: ActivityContext::None,
    };
    let Response::Activity(created) = call(&a, Request::Activity(request)).await.unwrap() else {
        panic!()
    };
    // Another enclave continues the organization's audit chain from this receipt, with the
    // state it left (an older state with it is refused as a rollback).
    let receipt = created.receipt.clone();
    // The state that records the wallet: signing needs the wallet to be in it.
    let state = created
        .new_org_state
        .clone()
        .expect("creating a wallet changes the state");
    let ActivityResult::CreateWallet {
        wallet_id,
        accounts,
        sealed_seed,
        ..
    } = created.result
    else {
        panic!()
    };
    let address = accounts[0].address.clone();
    drop(a);

    let sign = |enclave: &Enclave| {
        let body = serde_json::json!({
            "type": "ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2", "timestampMs": now_ms(),
            "organizationId": org.organization_id.to_string(),
            "parameters": {"signWith": address, "payload": "abcd", "encoding": "PAYLOAD_ENCODING_HEXADECIMAL",
                           "hashFunction": "HASH_FUNCTION_KECCAK256"},
        })
        .to_string();
        let request = Request::Activity(ActivityRequest {
            parent: None,
            request: stamp(&api_key, &body),
            org: state.clone(),
            context: ActivityContext::WalletAccount {
                wallet_id,
                curve: Curve::Secp256k1,
                address_format: AddressFormat::Ethereum,
                path: "m/44'/60'/0'/0/0".into(),
                sealed_seed: sealed_seed.clone(),
            },
        });
        // A restarted or new enclave must be told where the audit chain stands first.
        let resume = Request::AuditResume(AuditResumeRequest {
            org: state.clone(),
            latest: Some(receipt.clone()),
        });
        let client = enclave.client.clone();
        async move {
            client.call(resume).await?;
            client.call(request).await
        }
    };
    let recovers = |response: Response| {
        let Response::Activity(out) = response else {
            panic!()
        };
        let ActivityResult::SignRawPayload(sig) = out.result else {
            panic!()
        };
        let digest = sha3::Keccak256::digest_bytes(&[0xab, 0xcd]);
        let key = k256::ecdsa::VerifyingKey::recover_from_prehash(
            &digest,
            &k256::ecdsa::Signature::from_scalars(sig.r, sig.s).unwrap(),
            k256::ecdsa::RecoveryId::from_byte(sig.v).unwrap(),
        )
        .unwrap();
        keyhold_enclave::chains::ethereum::address(&key)
    };

    // ---- boot enclave B from operator shares -------------------------------------------------
    let b = spawn(dir.path(), "b", &seed_path);
    let nonce = b"boot nonce b".to_vec();
    let doc = attest(&b, &nonce, Some(&manifest)).await;
    let share0 = operators[0]
        .submit_share(
            &manifest,
            &record.genesis.shares,
            &doc,
            &check(&seed, &nonce),
        )
        .unwrap();
    let status = boot::provision(&b.client, &record, vec![share0.clone()])
        .await
        .unwrap();
    assert_eq!(
        status.quorum_public_key, None,
        "one share must leave the enclave locked"
    );
    assert_eq!(status.shares_received, 1);
    let err = sign(&b).await.unwrap_err();
    assert!(
        matches!(
            err,
            HostError::Enclave(WireError {
                code: ErrorCode::NotProvisioned,
                ..
            })
        ),
        "{err:?}"
    );

    // a replayed share
    let message = refused(
        call(
            &b,
            Request::Provision(provision_request(&record, vec![share0.clone()])),
        )
        .await,
    );
    assert!(message.contains("already received"), "{message}");
    // a share made for another manifest (same operators, newer nonce)
    let other = QuorumManifest {
        nonce: 2,
        ..manifest.clone()
    };
    let other_doc = Attestation {
        document: doc.document.clone(),
        boot_key: doc.boot_key.clone(),
    };
    let wrong = operators[1].submit_share(
        &other,
        &record.genesis.shares,
        &other_doc,
        &check(&seed, &nonce),
    );
    assert!(
        wrong.is_err(),
        "an operator refuses a document that attests to another manifest"
    );
    let forged_for_other = {
        // the operator is tricked into signing for `other`: the enclave still refuses it
        let digest = domain_digest(DOMAIN_MANIFEST, &other).unwrap();
        let mine = record
            .genesis
            .shares
            .iter()
            .find(|s| s.operator == 1)
            .unwrap();
        let manifest_digest = domain_digest(DOMAIN_MANIFEST, &manifest).unwrap();
        let share = operators[1]
            .reencrypt(mine, &manifest_digest, &doc.boot_key)
            .unwrap();
        let submission = share_submission_digest(&doc.boot_key, &digest, &share).unwrap();
        SignedShare {
            share,
            signature: operators[1].approve(&submission).unwrap(),
        }
    };
    refused(
        call(
            &b,
            Request::Provision(provision_request(&record, vec![forged_for_other])),
        )
        .await,
    );
    refused(
        call(
            &b,
            Request::Provision(provision_request(
                &QuorumRecord {
                    manifest: other,
                    genesis: record.genesis.clone(),
                },
                vec![],
            )),
        )
        .await,
    );
    // a share from someone outside the manifest, claiming to be operator 2
    let outsider = DevOperator::load_or_create(&dir.path().join("outsider.json")).unwrap();
    let mut stolen = operators[2]
        .submit_share(
            &manifest,
            &record.genesis.shares,
            &doc,
            &check(&seed, &nonce),
        )
        .unwrap();
    let submission = share_submission_digest(
        &doc.boot_key,
        &domain_digest(DOMAIN_MANIFEST, &manifest).unwrap(),
        &stolen.share,
    )
    .unwrap();
    stolen.signature = outsider.approve(&submission).unwrap();
    refused(
        call(
            &b,
            Request::Provision(provision_request(&record, vec![stolen])),
        )
        .await,
    );
    assert!(sign(&b).await.is_err(), "still locked");

    // the second genuine share unlocks it
    let share1 = operators[1]
        .submit_share(
            &manifest,
            &record.genesis.shares,
            &doc,
            &check(&seed, &nonce),
        )
        .unwrap();
    // ... sent four times at once, as a host does when all its in-flight requests find the
    // enclave restarted: every one answers "provisioned", none "already provisioned".
    let provision = || boot::provision(&b.client, &record, vec![share1.clone()]);
    let racing = tokio::join!(provision(), provision(), provision(), provision());
    for status in [racing.0, racing.1, racing.2, racing.3] {
        assert_eq!(
            status.unwrap().quorum_public_key.as_deref(),
            Some(record.genesis.quorum_public_key.as_slice())
        );
    }
    assert_eq!(
        recovers(sign(&b).await.unwrap()),
        address,
        "B signs with the wallet A created"
    );

    // ---- key forwarding: B hands the key to a fresh enclave C, no operator involved ----------
    let c = spawn(dir.path(), "c", &seed_path);
    let _ = call(&c, Request::Status).await.unwrap();
    let key = boot::forward(&b.client, &c.client, &record).await.unwrap();
    assert_eq!(key, record.genesis.quorum_public_key);
    assert_eq!(
        recovers(sign(&c).await.unwrap()),
        address,
        "C signs with the same wallet"
    );

    // an enclave attested by another CA (another "platform") gets nothing
    let other_seed = dir.path().join("other-ca.seed");
    std::fs::write(&other_seed, hex::encode([0x99u8; 32])).unwrap();
    let d = spawn(dir.path(), "d", &other_seed);
    let _ = call(&d, Request::Status).await.unwrap();
    let err = boot::forward(&b.client, &d.client, &record)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            HostError::Enclave(WireError {
                code: ErrorCode::ProvisioningRefused,
                ..
            })
        ),
        "{err:?}"
    );
    // nor does a document replayed with another nonce
    let nonce = b"fresh".to_vec();
    let stale = attest(&c, b"old nonce", None).await;
    let replay = call(
        &b,
        Request::Forward(ForwardRequest {
            attestation: stale.document,
            nonce,
        }),
    )
    .await;
    refused(replay);

    // ---- manifest update: operators 0 and 1 move the deployment to a 2-of-2 manifest --------
    let next = QuorumManifest {
        operators: vec![operators[0].public(), operators[1].public()],
        threshold: 2,
        nonce: 2,
        pcrs: manifest.pcrs.clone(),
    };
    // approvals are by operators of the *current* manifest, over the new one
    let by = |i: usize, m: &QuorumManifest| {
        operators[i]
            .approval(&manifest, DOMAIN_MANIFEST_APPROVAL, m)
            .unwrap()
    };
    let update = |m: &QuorumManifest, approvals| {
        Request::UpdateManifest(GenesisRequest {
            manifest: m.clone(),
            approvals,
        })
    };
    let same_nonce = QuorumManifest {
        nonce: 1,
        ..next.clone()
    };
    let message = refused(
        call(
            &b,
            update(&same_nonce, vec![by(0, &same_nonce), by(1, &same_nonce)]),
        )
        .await,
    );
    assert!(message.contains("larger nonce"), "{message}");
    refused(call(&b, update(&next, vec![by(0, &next), by(0, &next)])).await);
    let Response::Genesis(updated) = call(&b, update(&next, vec![by(0, &next), by(1, &next)]))
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        updated.quorum_public_key, record.genesis.quorum_public_key,
        "same key, re-split"
    );
    assert_eq!(updated.shares.len(), 2);
    let next_record = QuorumRecord {
        manifest: next.clone(),
        genesis: updated,
    };
    // a fresh enclave boots from the new record with the new operators' shares
    let e = spawn(dir.path(), "e", &seed_path);
    let nonce = b"boot nonce e".to_vec();
    let doc = attest(&e, &nonce, Some(&next)).await;
    let shares = (0..2)
        .map(|i| {
            operators[i]
                .submit_share(
                    &next,
                    &next_record.genesis.shares,
                    &doc,
                    &check(&seed, &nonce),
                )
                .unwrap()
        })
        .collect();
    let status = boot::provision(&e.client, &next_record, shares)
        .await
        .unwrap();
    assert_eq!(
        status.quorum_public_key.as_deref(),
        Some(record.genesis.quorum_public_key.as_slice())
    );
    assert_eq!(
        recovers(sign(&e).await.unwrap()),
        address,
        "the updated deployment signs with the same wallet"
    );
    // the dropped operator's old share is useless for the new manifest
    let err = operators[2].submit_share(
        &next,
        &next_record.genesis.shares,
        &doc,
        &check(&seed, &nonce),
    );
    assert!(err.is_err());
}

fn provision_request(record: &QuorumRecord, shares: Vec<SignedShare>) -> ProvisionRequest {
    ProvisionRequest {
        manifest: record.manifest.clone(),
        manifest_signature: record.genesis.manifest_signature.clone(),
        quorum_public_key: record.genesis.quorum_public_key.clone(),
        shares,
    }
}

trait DigestBytes {
    fn digest_bytes(data: &[u8]) -> [u8; 32];
}

impl DigestBytes for sha3::Keccak256 {
    fn digest_bytes(data: &[u8]) -> [u8; 32] {
        use sha3::Digest;
        sha3::Keccak256::digest(data).into()
    }
}
