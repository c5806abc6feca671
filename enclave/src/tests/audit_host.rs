//! The audit chain end to end: the real host in this process in front of the real enclave, a
//! chain built through the HTTP API, then the host's SQLite rows tampered with the way a
//! malicious host would, and `keyhold audit verify` (its library entry point, the one the CLI
//! runs) naming each problem. Also: an enclave restart in the middle of the chain, and a receipt
//! the host lost and recovered from the enclave.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request as HttpRequest;
use keyhold_host::api::AppState;
use keyhold_host::audit::verify::ProblemKind;
use keyhold_host::cli::audit::{AuditCommand, Outcome, VerifyArgs, check, run};
use keyhold_host::cli::serve::{HostConfig, start};
use keyhold_host::enclave_client::EnclaveClient;
use keyhold_shared::msg::{ActivityContext, ActivityRequest, Request, Response};
use keyhold_shared::{Address, OrgId};
use p256::ecdsa::SigningKey;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::orgs::public_hex;
use super::support::{create_wallet_body, sign_body, signed, stamp};
use crate::Enclave;
use crate::server::{Limits, serve};

pub(super) struct Stack {
    pub(super) dir: tempfile::TempDir,
    pub(super) data_dir: PathBuf,
    pub(super) base_url: String,
    pub(super) state: AppState,
    pub(super) enclave: Arc<Enclave>,
    pub(super) key: SigningKey,
    pub(super) org: OrgId,
}

async fn spawn_enclave(dir: &Path, name: &str, enclave: Arc<Enclave>) -> Address {
    let address = Address::Unix(dir.join(name));
    let listener = keyhold_shared::transport::bind(&address).unwrap();
    tokio::spawn(serve(
        listener,
        enclave,
        Limits::default(),
        std::future::pending(),
    ));
    address
}

pub(super) async fn stack() -> Stack {
    let dir = tempfile::tempdir().unwrap();
    let enclave = Arc::new(Enclave::new().unwrap());
    let address = spawn_enclave(dir.path(), "enclave.sock", enclave.clone()).await;
    let data_dir = dir.path().join("data");
    let host = start(&HostConfig {
        enclave: address,
        data_dir: data_dir.clone(),
        listen: "127.0.0.1:0".parse().unwrap(),
        dev: true,
        forward_from: None,
        database: None,
        webhooks: Default::default(),
        org_rate_limit: 0,
    })
    .await
    .unwrap();
    let creds = host.credentials.clone().unwrap();
    let state = host.state.clone();
    let base_url = host.base_url.clone();
    tokio::spawn(host.run(std::future::pending()));
    Stack {
        dir,
        data_dir,
        base_url,
        state,
        enclave,
        key: SigningKey::from_slice(&hex::decode(&creds.api_private_key).unwrap()).unwrap(),
        org: creds.organization_id.parse().unwrap(),
    }
}

pub(super) async fn post(state: &AppState, path: &str, body: String, key: &SigningKey) -> Value {
    let request = HttpRequest::post(path)
        .header("content-type", "application/json")
        .header("x-stamp", stamp(key, &body))
        .body(Body::from(body))
        .unwrap();
    let response = keyhold_host::api::router(state.clone())
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let json: Value = serde_json::from_slice(&bytes).unwrap();
    assert!(status.is_success(), "{path}: {status} {json}");
    json
}

pub(super) fn body(org: &OrgId, activity_type: &str, parameters: Value) -> String {
    json!({
        "type": activity_type,
        "timestampMs": crate::testing::fresh_timestamp_ms().to_string(),
        "organizationId": org.to_string(),
        "parameters": parameters,
    })
    .to_string()
}

/// The root adds `members` (one P-256 API key each) and a policy that lets them create wallets
/// once `consensus` holds: two activities, each asserted to succeed.
pub(super) async fn members_and_wallet_policy(
    s: &Stack,
    members: &[(&str, &SigningKey)],
    consensus: &str,
) {
    let users: Vec<Value> = members
        .iter()
        .map(|(name, key)| {
            json!({"userName": name, "apiKeys": [{"apiKeyName": "k", "publicKey": public_hex(key),
                "curveType": "API_KEY_CURVE_P256"}], "authenticators": [], "oauthProviders": [],
                "userTags": []})
        })
        .collect();
    post(
        &s.state,
        "/public/v1/submit/create_users",
        body(
            &s.org,
            "ACTIVITY_TYPE_CREATE_USERS_V4",
            json!({ "users": users }),
        ),
        &s.key,
    )
    .await;
    post(
        &s.state,
        "/public/v1/submit/create_policy",
        body(
            &s.org,
            "ACTIVITY_TYPE_CREATE_POLICY_V3",
            json!({"policyName": "wallets by consensus", "effect": "EFFECT_ALLOW",
                   "condition": "activity.resource == 'WALLET' && activity.action == 'CREATE'",
                   "consensus": consensus, "notes": ""}),
        ),
        &s.key,
    )
    .await;
}

/// A wallet, signatures, a private key, and a non-root user's activity approved by the root:
/// every kind of receipt. Returns the wallet's first address.
async fn build_chain(s: &Stack) -> String {
    let out = post(
        &s.state,
        "/public/v1/submit/create_wallet",
        create_wallet_body(&s.org, "w", &["m/44'/60'/0'/0/0"]),
        &s.key,
    )
    .await;
    assert_eq!(out["receipt"]["seq"], "1");
    let address = out["activity"]["result"]["createWalletResult"]["addresses"][0]
        .as_str()
        .unwrap()
        .to_owned();
    for payload in ["c0ffee", "deadbeef"] {
        post(
            &s.state,
            "/public/v1/submit/sign_raw_payload",
            sign_body(&s.org, &address, payload, "HASH_FUNCTION_KECCAK256"),
            &s.key,
        )
        .await;
    }
    post(
        &s.state,
        "/public/v1/submit/create_private_keys",
        body(
            &s.org,
            "ACTIVITY_TYPE_CREATE_PRIVATE_KEYS_V2",
            json!({"privateKeys": [{"privateKeyName": "k", "curve": "CURVE_SECP256K1",
                   "addressFormats": ["ADDRESS_FORMAT_ETHEREUM"], "privateKeyTags": []}]}),
        ),
        &s.key,
    )
    .await;
    // a second user whose wallets need two approvers; the root approves
    let member = SigningKey::from_slice(&[0x42; 32]).unwrap();
    members_and_wallet_policy(s, &[("member", &member)], "approvers.count() >= 2").await;
    let pending = post(
        &s.state,
        "/public/v1/submit/create_wallet",
        create_wallet_body(&s.org, "shared", &["m/44'/60'/0'/0/0"]),
        &member,
    )
    .await;
    assert_eq!(
        pending["activity"]["status"],
        "ACTIVITY_STATUS_CONSENSUS_NEEDED"
    );
    let approved = post(
        &s.state,
        "/public/v1/submit/approve_activity",
        body(
            &s.org,
            "ACTIVITY_TYPE_APPROVE_ACTIVITY",
            json!({"fingerprint": pending["activity"]["fingerprint"]}),
        ),
        &s.key,
    )
    .await;
    assert_eq!(approved["activity"]["status"], "ACTIVITY_STATUS_COMPLETED");
    assert_eq!(approved["receipt"]["seq"], "8");
    address
}

pub(super) fn args(data_dir: &Path, org: OrgId) -> VerifyArgs {
    VerifyArgs {
        org,
        data_dir: data_dir.to_path_buf(),
        quorum_key: None,
        head: None,
        url: None,
        json: false,
        strict: false,
    }
}

/// A consistent copy of the live database to tamper with.
fn snapshot(s: &Stack, name: &str) -> PathBuf {
    let dir = s.dir.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let conn = rusqlite::Connection::open(s.data_dir.join("keyhold.db")).unwrap();
    conn.execute("VACUUM INTO ?1", [dir.join("keyhold.db").to_str().unwrap()])
        .unwrap();
    dir
}

fn tamper(dir: &Path, sql: &str) {
    let conn = rusqlite::Connection::open(dir.join("keyhold.db")).unwrap();
    conn.execute_batch(sql).unwrap();
}

/// Runs the verifier on a tampered copy; asserts it fails naming `kind` with `words`.
async fn assert_caught(s: &Stack, case: &str, sql: &str, kind: ProblemKind, words: &str) {
    let dir = snapshot(s, case);
    tamper(&dir, sql);
    let report = check(&args(&dir, s.org)).await.unwrap();
    assert!(!report.ok, "{case}: tampering went unnoticed");
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.kind == kind && p.message.contains(words)),
        "{case}: expected {kind:?} `{words}`, got {:#?}",
        report.problems
    );
    assert_eq!(
        run(AuditCommand::Verify(args(&dir, s.org))).await,
        Outcome::Failed,
        "{case}"
    );
}

fn org_text(s: &Stack) -> String {
    s.org.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_passes_on_the_real_chain_and_names_every_tampering() {
    let s = stack().await;
    build_chain(&s).await;
    let org = org_text(&s);

    // untouched: verified, against a fresh head from the running host
    let mut live = args(&s.data_dir, s.org);
    live.url = Some(s.base_url.clone());
    let report = check(&live).await.unwrap();
    assert!(report.ok, "{:#?}", report.problems);
    assert_eq!((report.receipts, report.head_seq), (8, 8));
    assert_eq!(report.anchor.as_deref(), Some("enclave head seq 8"));
    assert_eq!(run(AuditCommand::Verify(live)).await, Outcome::Verified);

    // a head saved now, for the truncation case below
    let head = keyhold_host::cli::operator::http(
        "GET",
        &format!("{}/enclave/v1/audit/head?org={org}&nonce=01", s.base_url),
        None,
    )
    .await
    .unwrap();
    let head_file = s.dir.path().join("head.json");
    std::fs::write(&head_file, head.to_string()).unwrap();

    let signature_activity = format!(
        "(SELECT activity_id FROM activities WHERE org_id = '{org}' AND type = 'ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2' ORDER BY created_at_ms LIMIT 1)"
    );
    assert_caught(
        &s,
        "edit-body",
        &format!("UPDATE activities SET body = replace(body, 'c0ffee', 'c0ffef') WHERE activity_id = {signature_activity}"),
        ProblemKind::ActivityEdited,
        "stored body is not the one receipt seq 2 signed",
    )
    .await;
    assert_caught(
        &s,
        "edit-status",
        &format!("UPDATE activities SET status = 'ACTIVITY_STATUS_REJECTED' WHERE activity_id = {signature_activity}"),
        ProblemKind::ActivityEdited,
        "status is ACTIVITY_STATUS_REJECTED but receipt seq 2 says ACTIVITY_STATUS_COMPLETED",
    )
    .await;
    assert_caught(
        &s,
        "edit-result",
        &format!("UPDATE activities SET result = replace(result, '\"v\":\"0', '\"v\":\"9') WHERE activity_id = {signature_activity}"),
        ProblemKind::ActivityEdited,
        "stored result differs from what receipt seq 2 signed",
    )
    .await;
    assert_caught(
        &s,
        "edit-receipt-result",
        &format!("UPDATE audit_receipts SET result = X'00' WHERE org_id = '{org}' AND seq = 4"),
        ProblemKind::ResultEdited,
        "stored result of receipt seq 4 does not match",
    )
    .await;
    assert_caught(
        &s,
        "edit-receipt",
        &format!("UPDATE audit_receipts SET receipt = substr(receipt, 1, 40) || X'ff' || substr(receipt, 42) WHERE org_id = '{org}' AND seq = 5"),
        ProblemKind::Signature,
        "seq 5: its signature does not verify",
    )
    .await;
    assert_caught(
        &s,
        "delete-middle",
        &format!("DELETE FROM audit_receipts WHERE org_id = '{org}' AND seq = 3"),
        ProblemKind::Missing,
        "receipt seq 3 is missing (deleted)",
    )
    .await;
    assert_caught(
        &s,
        "delete-activity",
        &format!("DELETE FROM activities WHERE activity_id = {signature_activity}"),
        ProblemKind::ActivityMissing,
        "receipt seq 2) is not in the store (deleted)",
    )
    .await;
    assert_caught(
        &s,
        "swap",
        &format!(
            "UPDATE audit_receipts SET seq = -1 WHERE org_id = '{org}' AND seq = 2;
             UPDATE audit_receipts SET seq = 2 WHERE org_id = '{org}' AND seq = 3;
             UPDATE audit_receipts SET seq = 3 WHERE org_id = '{org}' AND seq = -1;"
        ),
        ProblemKind::Reordered,
        "the receipt stored at seq 2 is receipt seq 3 (reordered)",
    )
    .await;
    assert_caught(
        &s,
        "drop-vote",
        &format!("UPDATE activities SET votes = json_remove(votes, '$[1]') WHERE org_id = '{org}' AND status = 'ACTIVITY_STATUS_COMPLETED' AND json_array_length(votes) = 2"),
        ProblemKind::VoteMissing,
        "the vote of receipt seq 8 is missing",
    )
    .await;
    assert_caught(
        &s,
        "insert-activity",
        &format!(
            "INSERT INTO activities (activity_id, org_id, fingerprint, type, status, body, result, votes, created_at_ms, updated_at_ms, request_ms, consensus) SELECT '00000000-0000-4000-8000-000000000000', org_id, 'sha256:00', type, status, body, result, votes, created_at_ms, updated_at_ms, request_ms, consensus FROM activities WHERE activity_id = {signature_activity}"
        ),
        ProblemKind::Unreceipted,
        "has no receipt",
    )
    .await;

    // the tail cut off, receipt and activity both: invisible without an anchor …
    let cut = format!(
        "DELETE FROM audit_receipts WHERE org_id = '{org}' AND seq = 8;
         UPDATE activities SET status = 'ACTIVITY_STATUS_CONSENSUS_NEEDED', result = '{{}}', votes = json_remove(votes, '$[1]') WHERE org_id = '{org}' AND json_array_length(votes) = 2;"
    );
    let dir = snapshot(&s, "truncated");
    tamper(&dir, &cut);
    let blind = check(&args(&dir, s.org)).await.unwrap();
    assert!(blind.ok, "{:#?}", blind.problems);
    assert!(blind.notes.iter().any(|n| n.contains("no anchor given")));
    // … and caught against the head saved before, and against a fresh one
    let mut anchored = args(&dir, s.org);
    anchored.head = Some(head_file.clone());
    let report = check(&anchored).await.unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.kind == ProblemKind::Truncated
                && p.message.contains(
                    "enclave head seq 8) is beyond the stored chain, which ends at seq 7"
                )),
        "{:#?}",
        report.problems
    );
    let mut fresh = args(&dir, s.org);
    fresh.url = Some(s.base_url.clone());
    assert_eq!(run(AuditCommand::Verify(fresh)).await, Outcome::Failed);

    // a valid receipt of another organization, slipped into this chain
    let root = SigningKey::from_slice(&[0x43; 32]).unwrap();
    let sub = post(
        &s.state,
        "/public/v1/submit/create_sub_organization",
        body(
            &s.org,
            "ACTIVITY_TYPE_CREATE_SUB_ORGANIZATION_V7",
            json!({"subOrganizationName": "sub", "rootQuorumThreshold": 1,
                   "rootUsers": [{"userName": "r", "apiKeys": [{"apiKeyName": "k",
                     "publicKey": hex::encode(root.verifying_key().to_sec1_point(true).as_bytes()),
                     "curveType": "API_KEY_CURVE_P256"}], "authenticators": [], "oauthProviders": []}]}),
        ),
        &s.key,
    )
    .await;
    let sub_org: OrgId =
        sub["activity"]["result"]["createSubOrganizationResultV7"]["subOrganizationId"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
    let out = post(
        &s.state,
        "/public/v1/submit/create_wallet",
        create_wallet_body(&sub_org, "sub wallet", &[]),
        &root,
    )
    .await;
    assert_eq!(
        out["receipt"]["seq"], "1",
        "a sub-organization has its own chain"
    );
    let mut sub_args = args(&s.data_dir, sub_org);
    sub_args.url = Some(s.base_url.clone());
    assert_eq!(run(AuditCommand::Verify(sub_args)).await, Outcome::Verified);
    assert_caught(
        &s,
        "foreign",
        &format!("INSERT INTO audit_receipts SELECT '{org}', 10, receipt, result FROM audit_receipts WHERE org_id = '{sub_org}' AND seq = 1"),
        ProblemKind::ForeignReceipt,
        &format!("belongs to another organization ({sub_org}, its seq 1)"),
    )
    .await;

    // usage errors exit 2
    let unknown: OrgId = "00000000-0000-4000-8000-000000000001".parse().unwrap();
    assert_eq!(
        run(AuditCommand::Verify(args(&s.data_dir, unknown))).await,
        Outcome::Usage
    );
    let mut wrong_key = args(&s.data_dir, s.org);
    wrong_key.quorum_key = Some(hex::encode(
        SigningKey::from_slice(&[1; 32])
            .unwrap()
            .verifying_key()
            .to_sec1_point(true)
            .as_bytes(),
    ));
    let report = check(&wrong_key).await.unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.kind == ProblemKind::Certificate),
        "another deployment's quorum key must not verify this chain"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chain_survives_an_enclave_restart_and_a_lost_receipt() {
    let s = stack().await;
    let address = build_chain(&s).await;

    // the enclave restarts: same deployment, empty memory; the host resumes the chain
    let restarted = Arc::new(s.enclave.restarted().unwrap());
    let socket = spawn_enclave(s.dir.path(), "restarted.sock", restarted.clone()).await;
    let state = AppState {
        enclave: Arc::new(EnclaveClient::new(socket, 2, Duration::from_secs(30))),
        ..s.state.clone()
    };
    let out = post(
        &state,
        "/public/v1/submit/sign_raw_payload",
        sign_body(&s.org, &address, "0a0b", "HASH_FUNCTION_KECCAK256"),
        &s.key,
    )
    .await;
    assert_eq!(
        out["receipt"]["seq"], "9",
        "the chain goes on after the restart"
    );

    // the host loses a receipt: the enclave answered, the host never committed
    let lost = lose_a_signature(&s, &state, &address, "0c0d").await;
    assert_eq!(lost.receipt.body.seq, 10);
    // the next activity's receipt (11) shows the hole; the host fills it from the enclave
    let out = post(
        &state,
        "/public/v1/submit/sign_raw_payload",
        sign_body(&s.org, &address, "0e0f", "HASH_FUNCTION_KECCAK256"),
        &s.key,
    )
    .await;
    assert_eq!(out["receipt"]["seq"], "11");
    let mut recovered = false;
    for _ in 0..100 {
        if let Some(r) = state.store.latest_receipt(s.org, Some(11)).await.unwrap()
            && r.receipt.body.seq == 10
        {
            assert!(r.result.is_none(), "recovered, no activity record");
            assert_eq!(r.receipt, lost.receipt);
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "the host must recover the lost receipt");

    // a verifier asks the restarted deployment for its head
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, keyhold_host::api::router(state.clone())).into_future());
    let mut verify = args(&s.data_dir, s.org);
    verify.url = Some(url);
    let report = check(&verify).await.unwrap();
    assert!(report.ok, "{:#?}", report.problems);
    assert_eq!(report.head_seq, 11);
    assert_eq!(report.recovered.len(), 1);
    assert_eq!(report.recovered[0].seq, 10);
    assert_eq!(
        report.recovered[0].activity_type,
        "ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2"
    );
    // strict: an activity the host never stored is a failure
    verify.strict = true;
    let strict = check(&verify).await.unwrap();
    assert!(
        strict
            .problems
            .iter()
            .any(|p| p.kind == ProblemKind::Recovered && p.seq == Some(10))
    );
    // … and deleting a receipt the host did store is still a deletion
    let dir = snapshot(&s, "delete-after-recovery");
    tamper(
        &dir,
        &format!(
            "DELETE FROM audit_receipts WHERE org_id = '{}' AND seq = 9",
            s.org
        ),
    );
    let report = check(&args(&dir, s.org)).await.unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.kind == ProblemKind::Missing && p.seq == Some(9))
    );
    drop(restarted);
}

/// The enclave signs `payload` with `address` for `state`'s host, which never commits the answer
/// (it crashed, or its commit failed): the receipt exists only in the enclave's ring.
async fn lose_a_signature(
    s: &Stack,
    state: &AppState,
    address: &str,
    payload: &str,
) -> keyhold_shared::msg::ActivityOutput {
    let org = state.store.get_org(s.org).await.unwrap().unwrap();
    let sign = sign_body(&s.org, address, payload, "HASH_FUNCTION_KECCAK256");
    let Some((account, wallet)) = state.store.find_account(s.org, address).await.unwrap() else {
        panic!("account")
    };
    let lost = state
        .call(Request::Activity(ActivityRequest {
            parent: None,
            request: signed(&s.key, &sign),
            org: org.sealed.clone(),
            context: ActivityContext::WalletAccount {
                wallet_id: wallet.id,
                path: account.path,
                curve: keyhold_shared::msg::Curve::Secp256k1,
                address_format: keyhold_shared::msg::AddressFormat::Ethereum,
                sealed_seed: wallet.sealed_seed,
            },
        }))
        .await
        .unwrap();
    let Response::Activity(lost) = lost else {
        panic!("not an activity")
    };
    *lost
}

/// Found while building scripts/crash-test: a host killed less than half a second after committing the
/// receipt above a lost one never fills the hole (its repair was still waiting), and the next
/// host process looked only right below the first receipt it committed — so the lost receipt
/// stayed a `missing` hole, which `keyhold audit verify` reports as a deletion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hole_below_the_newest_stored_receipt_is_filled_by_the_next_host_process() {
    let s = stack().await;
    let address = build_chain(&s).await;
    let sign = |payload: &str| sign_body(&s.org, &address, payload, "HASH_FUNCTION_KECCAK256");

    // Host A: the enclave answers receipt n, A never stores it; A commits n + 1 and is killed
    // before its repair runs. (Telling A's tracker that n was committed stands for that kill:
    // it schedules no repair.)
    let lost = lose_a_signature(&s, &s.state, &address, "0c0d").await;
    let n = lost.receipt.body.seq;
    s.state.audit.committed(&s.state, &lost.receipt);
    let out = post(
        &s.state,
        "/public/v1/submit/sign_raw_payload",
        sign("0e0f"),
        &s.key,
    )
    .await;
    assert_eq!(out["receipt"]["seq"], (n + 1).to_string());
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        s.state
            .store
            .latest_receipt(s.org, Some(n + 1))
            .await
            .unwrap()
            .unwrap()
            .receipt
            .body
            .seq,
        n - 1,
        "host A left the hole"
    );

    // Host B: a new process (a new tracker), same store and enclave; its first commit is n + 2.
    let b = AppState {
        audit: Arc::default(),
        ..s.state.clone()
    };
    let out = post(
        &b,
        "/public/v1/submit/sign_raw_payload",
        sign("1a1b"),
        &s.key,
    )
    .await;
    assert_eq!(out["receipt"]["seq"], (n + 2).to_string());
    let mut filled = false;
    for _ in 0..50 {
        if let Some(r) = b.store.latest_receipt(s.org, Some(n + 1)).await.unwrap()
            && r.receipt.body.seq == n
        {
            assert_eq!(r.receipt, lost.receipt);
            assert!(r.result.is_none(), "recovered, no activity record");
            filled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        filled,
        "host B must fill the hole below the receipts it found stored"
    );
    let report = check(&args(&s.data_dir, s.org)).await.unwrap();
    assert!(report.ok, "{:#?}", report.problems);
    assert_eq!(
        report.recovered.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![n]
    );
}
