//! Organizations, policies, and a host that lies about them: every activity is authorized by
//! `keyhold-policy` against the sealed state, and the host cannot swap, roll back, trim or replay
//! that state to change a decision.

use keyhold_shared::msg::{
    ActivityContext, ActivityOutput, ActivityRequest, AuthenticateRequest, BootstrapOrgRequest,
    DOMAIN_BOOTSTRAP_ORG, OrgBootstrapSpec, Request, Response, SealedOrgState,
};
use keyhold_shared::{ErrorCode, OrgId, WireError};
use p256::ecdsa::SigningKey;
use serde_json::{Value, json};

use super::support::{Fixture, approve, create_wallet_body, fixture, signed};

pub(super) fn public_hex(key: &SigningKey) -> String {
    hex::encode(key.verifying_key().to_sec1_point(true).as_bytes())
}

pub(super) fn new_key() -> SigningKey {
    SigningKey::from_slice(&crate::secrets::random::<32>().unwrap()).unwrap()
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

pub(super) fn run(
    f: &Fixture,
    state: &SealedOrgState,
    key: &SigningKey,
    body: &str,
) -> Result<ActivityOutput, WireError> {
    match f.enclave.handle(Request::Activity(ActivityRequest {
        parent: None,
        request: signed(key, body),
        org: state.clone(),
        context: ActivityContext::None,
    }))? {
        Response::Activity(out) => Ok(*out),
        other => panic!("unexpected answer {other:?}"),
    }
}

/// Runs an organization activity that must succeed; returns the new state and the result.
pub(super) fn change(
    f: &Fixture,
    state: &SealedOrgState,
    key: &SigningKey,
    body: &str,
) -> (SealedOrgState, Value) {
    let out = run(f, state, key, body).unwrap();
    let keyhold_shared::msg::ActivityResult::Organization { result_json, .. } = out.result else {
        panic!("not an organization result")
    };
    (
        out.new_org_state.unwrap(),
        serde_json::from_str(&result_json).unwrap(),
    )
}

pub(super) fn create_user(
    f: &Fixture,
    state: &SealedOrgState,
    name: &str,
    key: &SigningKey,
) -> (SealedOrgState, String) {
    let b = body(
        &f.org_id,
        "ACTIVITY_TYPE_CREATE_USERS_V4",
        json!({"users": [{"userName": name, "apiKeys": [{"apiKeyName": "k", "publicKey": public_hex(key),
            "curveType": "API_KEY_CURVE_P256"}], "authenticators": [], "oauthProviders": [], "userTags": []}]}),
    );
    let (state, result) = change(f, state, &f.api_key, &b);
    let id = result["createUsersResult"]["userIds"][0]
        .as_str()
        .unwrap()
        .to_owned();
    (state, id)
}

/// Policy names must be unique within an organization: a counter, not the clock (two policies
/// created in the same millisecond collided).
static NEXT_POLICY: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub(super) fn create_policy(
    f: &Fixture,
    state: &SealedOrgState,
    effect: &str,
    condition: &str,
    consensus: &str,
) -> (SealedOrgState, String) {
    let b = body(
        &f.org_id,
        "ACTIVITY_TYPE_CREATE_POLICY_V3",
        json!({"policyName": format!("p{}", NEXT_POLICY.fetch_add(1, std::sync::atomic::Ordering::Relaxed)),
               "effect": effect, "condition": condition, "consensus": consensus, "notes": ""}),
    );
    let (state, result) = change(f, state, &f.api_key, &b);
    (
        state,
        result["createPolicyResult"]["policyId"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

fn delete_policy(f: &Fixture, state: &SealedOrgState, id: &str) -> SealedOrgState {
    let b = body(
        &f.org_id,
        "ACTIVITY_TYPE_DELETE_POLICY",
        json!({"policyId": id}),
    );
    change(f, state, &f.api_key, &b).0
}

fn wallet_by(
    f: &Fixture,
    state: &SealedOrgState,
    key: &SigningKey,
) -> Result<ActivityOutput, WireError> {
    run(
        f,
        state,
        key,
        &create_wallet_body(&f.org_id, "w", &["m/44'/60'/0'/0/0"]),
    )
}

const WALLET_CREATE: &str = "activity.resource == 'WALLET' && activity.action == 'CREATE'";

#[test]
fn non_root_users_are_denied_until_a_policy_allows_and_deny_wins() {
    let f = fixture();
    let bob = new_key();
    let (state, bob_id) = create_user(&f, &f.org, "bob", &bob);
    // implicit deny
    let err = wallet_by(&f, &state, &bob).unwrap_err();
    assert_eq!(err.code, ErrorCode::PermissionDenied, "{}", err.message);
    assert!(err.message.contains("no policy allows"), "{}", err.message);
    // an ALLOW policy naming bob
    let (state, _) = create_policy(
        &f,
        &state,
        "EFFECT_ALLOW",
        WALLET_CREATE,
        &format!("approvers.any(u, u.id == '{bob_id}')"),
    );
    let state = wallet_by(&f, &state, &bob).unwrap().new_org_state.unwrap();
    // a DENY policy wins over the ALLOW
    let (state, deny) = create_policy(
        &f,
        &state,
        "EFFECT_DENY",
        "activity.type == 'ACTIVITY_TYPE_CREATE_WALLET'",
        "",
    );
    let err = wallet_by(&f, &state, &bob).unwrap_err();
    assert_eq!(err.code, ErrorCode::PermissionDenied);
    assert!(err.message.contains(&deny), "{}", err.message);
    // the root quorum bypasses policies
    let state = wallet_by(&f, &state, &f.api_key)
        .unwrap()
        .new_org_state
        .unwrap();
    // deleting the DENY restores bob's permission
    let state = delete_policy(&f, &state, &deny);
    wallet_by(&f, &state, &bob).unwrap();
}

#[test]
fn a_deny_policy_that_errors_denies() {
    let f = fixture();
    let bob = new_key();
    let (state, _) = create_user(&f, &f.org, "bob", &bob);
    let (state, _) = create_policy(&f, &state, "EFFECT_ALLOW", WALLET_CREATE, "");
    // `wallet` is absent when creating a wallet: the DENY's condition errors, so it denies.
    let (state, _) = create_policy(&f, &state, "EFFECT_DENY", "wallet.id == 'x'", "");
    assert_eq!(
        wallet_by(&f, &state, &bob).unwrap_err().code,
        ErrorCode::PermissionDenied
    );
}

#[test]
fn non_root_users_cannot_change_the_root_quorum_even_when_everything_is_allowed() {
    let f = fixture();
    let bob = new_key();
    let (state, bob_id) = create_user(&f, &f.org, "bob", &bob);
    let (state, _) = create_policy(&f, &state, "EFFECT_ALLOW", "true", "");
    let b = body(
        &f.org_id,
        "ACTIVITY_TYPE_UPDATE_ROOT_QUORUM",
        json!({"threshold": 1, "userIds": [bob_id]}),
    );
    let err = run(&f, &state, &bob, &b).unwrap_err();
    assert_eq!(err.code, ErrorCode::PermissionDenied);
    assert!(err.message.contains("root quorum"), "{}", err.message);
}

#[test]
fn invalid_policies_are_refused_with_their_position() {
    let f = fixture();
    let b = body(
        &f.org_id,
        "ACTIVITY_TYPE_CREATE_POLICY_V3",
        json!({"policyName": "bad", "effect": "EFFECT_ALLOW", "condition": "eth.tx.vlaue > 0", "notes": ""}),
    );
    let err = run(&f, &f.org, &f.api_key, &b).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidRequest);
    assert!(
        err.message.starts_with("invalid policy condition: 1:"),
        "{}",
        err.message
    );
    let b = body(
        &f.org_id,
        "ACTIVITY_TYPE_CREATE_POLICY_V3",
        json!({"policyName": "bad", "effect": "EFFECT_ALLOW", "consensus": "approvers.count() >= 'x'", "notes": ""}),
    );
    let err = run(&f, &f.org, &f.api_key, &b).unwrap_err();
    assert!(
        err.message.starts_with("invalid policy consensus: 1:"),
        "{}",
        err.message
    );
}

#[test]
fn root_quorum_members_cannot_be_deleted_and_thresholds_are_checked() {
    let f = fixture();
    let b = body(
        &f.org_id,
        "ACTIVITY_TYPE_UPDATE_ROOT_QUORUM",
        json!({"threshold": 2, "userIds": []}),
    );
    assert_eq!(
        run(&f, &f.org, &f.api_key, &b).unwrap_err().code,
        ErrorCode::InvalidRequest
    );
}

#[test]
fn host_replays_an_older_state_to_undo_a_policy_deletion() {
    let f = fixture();
    let bob = new_key();
    let (state, _) = create_user(&f, &f.org, "bob", &bob);
    let (with_allow, allow) = create_policy(&f, &state, "EFFECT_ALLOW", WALLET_CREATE, "");
    let without = delete_policy(&f, &with_allow, &allow);
    assert_eq!(
        wallet_by(&f, &without, &bob).unwrap_err().code,
        ErrorCode::PermissionDenied
    );
    // the host presents the state from before the deletion
    assert_eq!(
        wallet_by(&f, &with_allow, &bob).unwrap_err().code,
        ErrorCode::StaleState
    );
}

#[test]
fn host_drops_a_deny_policy() {
    let f = fixture();
    let bob = new_key();
    let (state, _) = create_user(&f, &f.org, "bob", &bob);
    let (before_deny, _) = create_policy(&f, &state, "EFFECT_ALLOW", WALLET_CREATE, "");
    let (with_deny, _) = create_policy(&f, &before_deny, "EFFECT_DENY", WALLET_CREATE, "");
    assert_eq!(
        wallet_by(&f, &with_deny, &bob).unwrap_err().code,
        ErrorCode::PermissionDenied
    );
    // an older state without the deny: refused as stale
    assert_eq!(
        wallet_by(&f, &before_deny, &bob).unwrap_err().code,
        ErrorCode::StaleState
    );
    // the blob edited (say, the policy cut out) or relabelled with an older version: forged
    let mut cut = with_deny.clone();
    cut.ciphertext.truncate(cut.ciphertext.len() / 2);
    assert_eq!(
        wallet_by(&f, &cut, &bob).unwrap_err().code,
        ErrorCode::SealedDataInvalid
    );
    let mut relabelled = with_deny.clone();
    relabelled.version += 1;
    assert_eq!(
        wallet_by(&f, &relabelled, &bob).unwrap_err().code,
        ErrorCode::SealedDataInvalid
    );
}

#[test]
fn host_replays_an_organization_activity() {
    let f = fixture();
    let b = body(
        &f.org_id,
        "ACTIVITY_TYPE_CREATE_POLICY_V3",
        json!({"policyName": "allow all", "effect": "EFFECT_ALLOW", "condition": "true", "notes": ""}),
    );
    let (v2, result) = change(&f, &f.org, &f.api_key, &b);
    let id = result["createPolicyResult"]["policyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let v3 = delete_policy(&f, &v2, &id);
    // the host re-sends the signed create_policy to bring the deleted policy back
    let err = run(&f, &v3, &f.api_key, &b).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidRequest);
    assert!(err.message.contains("replayed"), "{}", err.message);
}

/// A second organization in the same enclave (same operator as [`fixture`]).
pub(super) fn second_org(f: &Fixture, root_key: &SigningKey) -> (SealedOrgState, OrgId) {
    let operator = SigningKey::from_slice(&[9u8; 32]).unwrap();
    let spec = OrgBootstrapSpec {
        organization_name: "globex".into(),
        root_user_name: "root".into(),
        api_key_name: "key".into(),
        api_public_key: root_key
            .verifying_key()
            .to_sec1_point(true)
            .as_bytes()
            .to_vec(),
        nonce: [2; 16],
    };
    let approvals = vec![approve(&operator, DOMAIN_BOOTSTRAP_ORG, &spec)];
    let Ok(Response::BootstrapOrg(out)) =
        f.enclave.handle(Request::BootstrapOrg(BootstrapOrgRequest {
            spec,
            approvals,
        }))
    else {
        panic!("bootstrap")
    };
    (out.sealed_state, out.organization_id)
}

#[test]
fn host_swaps_organization_states() {
    let f = fixture();
    let other_key = new_key();
    let (other, other_id) = second_org(&f, &other_key);
    // f's request with the other organization's state: f's key is not a credential there
    assert_eq!(
        wallet_by(&f, &other, &f.api_key).unwrap_err().code,
        ErrorCode::PublicKeyNotFound
    );
    // the other state relabelled as f's organization: the seal binds the id
    let mut relabelled = other.clone();
    relabelled.org_id = f.org_id;
    assert_eq!(
        wallet_by(&f, &relabelled, &f.api_key).unwrap_err().code,
        ErrorCode::SealedDataInvalid
    );
    // f's own state still works, and so does the other's with its own key
    wallet_by(&f, &f.org, &f.api_key).unwrap();
    run(
        &f,
        &other,
        &other_key,
        &create_wallet_body(&other_id, "w", &[]),
    )
    .unwrap();
}

#[test]
fn host_reuses_a_stamp_on_another_organization() {
    let f = fixture();
    // the same person (same API key) is root of both organizations
    let (other, _) = second_org(&f, &f.api_key);
    let b = create_wallet_body(&f.org_id, "w", &[]);
    let err = run(&f, &other, &f.api_key, &b).unwrap_err();
    assert_eq!(err.code, ErrorCode::PermissionDenied);
    assert!(
        err.message.contains("organization mismatch"),
        "{}",
        err.message
    );
}

#[test]
fn queries_read_users_policies_and_tags() {
    let f = fixture();
    let bob = new_key();
    let (state, bob_id) = create_user(&f, &f.org, "bob", &bob);
    let b = body(
        &f.org_id,
        "ACTIVITY_TYPE_CREATE_USER_TAG",
        json!({"userTagName": "ops", "userIds": [bob_id]}),
    );
    let (state, result) = change(&f, &state, &f.api_key, &b);
    let tag = result["createUserTagResult"]["userTagId"]
        .as_str()
        .unwrap()
        .to_owned();
    // tags feed consensus expressions
    let (state, _) = create_policy(
        &f,
        &state,
        "EFFECT_ALLOW",
        WALLET_CREATE,
        &format!("approvers.any(u, u.tags.contains('{tag}'))"),
    );
    let state = wallet_by(&f, &state, &bob).unwrap().new_org_state.unwrap();
    let query = json!({"organizationId": f.org_id.to_string()}).to_string();
    let Ok(Response::ReadOrg(readout)) = f.enclave.handle(Request::ReadOrg(AuthenticateRequest {
        parent: None,
        request: signed(&bob, &query),
        org: state.clone(),
    })) else {
        panic!("read org")
    };
    assert_eq!(readout.principal.user_name, "bob");
    let data: Value = serde_json::from_str(&readout.organization_json).unwrap();
    assert_eq!(data["users"].as_array().unwrap().len(), 2);
    assert_eq!(data["users"][1]["userTags"][0], json!(tag));
    assert_eq!(
        data["users"][1]["apiKeys"][0]["credential"]["publicKey"],
        json!(public_hex(&bob))
    );
    assert_eq!(data["policies"][0]["effect"], json!("EFFECT_ALLOW"));
    assert_eq!(data["tags"][0]["tagName"], json!("ops"));
    // an unknown key learns nothing
    let err = f
        .enclave
        .handle(Request::ReadOrg(AuthenticateRequest {
            parent: None,
            request: signed(&new_key(), &query),
            org: state,
        }))
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::PublicKeyNotFound);
}

#[test]
fn deleted_api_keys_and_users_no_longer_authenticate() {
    let f = fixture();
    let bob = new_key();
    let (state, bob_id) = create_user(&f, &f.org, "bob", &bob);
    let (state, _) = create_policy(&f, &state, "EFFECT_ALLOW", WALLET_CREATE, "");
    let state = wallet_by(&f, &state, &bob).unwrap().new_org_state.unwrap();
    let b = body(
        &f.org_id,
        "ACTIVITY_TYPE_DELETE_USERS",
        json!({"userIds": [bob_id]}),
    );
    let (state, _) = change(&f, &state, &f.api_key, &b);
    assert_eq!(
        wallet_by(&f, &state, &bob).unwrap_err().code,
        ErrorCode::PublicKeyNotFound
    );
}

#[test]
fn sub_organizations_get_their_own_sealed_state_root_users_and_wallet() {
    let f = fixture();
    let alice = new_key();
    let b = body(
        &f.org_id,
        "ACTIVITY_TYPE_CREATE_SUB_ORGANIZATION_V8",
        json!({
            "subOrganizationName": "alice's", "rootQuorumThreshold": 1,
            "rootUsers": [{"userName": "alice", "apiKeys": [{"apiKeyName": "k", "publicKey": public_hex(&alice),
                "curveType": "API_KEY_CURVE_P256"}], "authenticators": [], "oauthProviders": []}],
            "wallet": {"walletName": "main", "accounts": [{"curve": "CURVE_SECP256K1", "pathFormat": "PATH_FORMAT_BIP32",
                "path": "m/44'/60'/0'/0/0", "addressFormat": "ADDRESS_FORMAT_ETHEREUM"}]},
        }),
    );
    let out = run(&f, &f.org, &f.api_key, &b).unwrap();
    assert!(
        out.new_org_state.is_none(),
        "the parent's state is unchanged"
    );
    let keyhold_shared::msg::ActivityResult::Organization {
        result_json,
        sub_organization,
    } = out.result
    else {
        panic!()
    };
    let sub = sub_organization.unwrap();
    let result: Value = serde_json::from_str(&result_json).unwrap();
    let r = &result["createSubOrganizationResultV8"];
    assert_eq!(
        r["subOrganizationId"],
        json!(sub.organization_id.to_string())
    );
    assert_eq!(r["rootUserIds"].as_array().unwrap().len(), 1);
    let wallet = sub.wallet.as_ref().unwrap();
    assert_eq!(
        r["wallet"]["addresses"][0],
        json!(wallet.accounts[0].address)
    );
    assert_eq!(sub.parent_organization_id, f.org_id);
    // alice is root of the sub-organization
    let sub_state = run(
        &f,
        &sub.sealed_state,
        &alice,
        &create_wallet_body(&sub.organization_id, "w", &[]),
    )
    .unwrap()
    .new_org_state
    .unwrap();
    // the parent's root is not a credential of the sub-organization
    assert_eq!(
        run(
            &f,
            &sub_state,
            &f.api_key,
            &create_wallet_body(&sub.organization_id, "w", &[])
        )
        .unwrap_err()
        .code,
        ErrorCode::PublicKeyNotFound
    );
    // the wallet seed is sealed to the sub-organization: signing there works
    let sign = super::support::sign_body(
        &sub.organization_id,
        &wallet.accounts[0].address,
        "deadbeef",
        "HASH_FUNCTION_KECCAK256",
    );
    let ctx = ActivityContext::WalletAccount {
        wallet_id: wallet.wallet_id,
        path: "m/44'/60'/0'/0/0".into(),
        curve: keyhold_shared::msg::Curve::Secp256k1,
        address_format: keyhold_shared::msg::AddressFormat::Ethereum,
        sealed_seed: wallet.sealed_seed.clone(),
    };
    let Ok(Response::Activity(_)) = f.enclave.handle(Request::Activity(ActivityRequest {
        parent: None,
        request: signed(&alice, &sign),
        org: sub_state.clone(),
        context: ctx,
    })) else {
        panic!("sign in the sub-organization")
    };
    // a non-root user of the parent is denied by default
    let bob = new_key();
    let (state, _) = create_user(&f, &f.org, "bob", &bob);
    assert_eq!(
        run(&f, &state, &bob, &b).unwrap_err().code,
        ErrorCode::PermissionDenied
    );
}

// ---- approvals ------------------------------------------------------------------------------

pub(super) struct Board {
    pub(super) f: Fixture,
    pub(super) state: SealedOrgState,
    pub(super) members: Vec<SigningKey>,
}

/// Three tagged users; creating a wallet needs two of them.
pub(super) fn board() -> Board {
    let f = fixture();
    let members: Vec<SigningKey> = (0..3).map(|_| new_key()).collect();
    let mut state = f.org.clone();
    let mut ids = Vec::new();
    for (i, k) in members.iter().enumerate() {
        let (s, id) = create_user(&f, &state, &format!("m{i}"), k);
        state = s;
        ids.push(id);
    }
    let b = body(
        &f.org_id,
        "ACTIVITY_TYPE_CREATE_USER_TAG",
        json!({"userTagName": "board", "userIds": ids}),
    );
    let (s, result) = change(&f, &state, &f.api_key, &b);
    let tag = result["createUserTagResult"]["userTagId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (state, _) = create_policy(
        &f,
        &s,
        "EFFECT_ALLOW",
        WALLET_CREATE,
        &format!("approvers.filter(u, u.tags.contains('{tag}')).count() >= 2"),
    );
    Board { f, state, members }
}

pub(super) fn vote_body(org: &OrgId, approve: bool, fingerprint: &str) -> String {
    let t = if approve {
        "ACTIVITY_TYPE_APPROVE_ACTIVITY"
    } else {
        "ACTIVITY_TYPE_REJECT_ACTIVITY"
    };
    body(org, t, json!({"fingerprint": fingerprint}))
}

pub(super) fn cast(
    b: &Board,
    state: &SealedOrgState,
    voter: &SigningKey,
    vote: &str,
    target: &keyhold_shared::msg::SignedRequest,
    votes: Vec<keyhold_shared::msg::SignedRequest>,
) -> Result<ActivityOutput, WireError> {
    let context = ActivityContext::Approval(Box::new(keyhold_shared::msg::ApprovalContext {
        target: target.clone(),
        votes,
        target_context: ActivityContext::None,
    }));
    match b.f.enclave.handle(Request::Activity(ActivityRequest {
        parent: None,
        request: signed(voter, vote),
        org: state.clone(),
        context,
    }))? {
        Response::Activity(out) => Ok(*out),
        other => panic!("unexpected answer {other:?}"),
    }
}

use keyhold_shared::msg::ActivityStatus;

#[test]
fn two_of_three_approve_then_the_activity_runs_once() {
    let b = board();
    let org = b.f.org_id;
    let wallet = create_wallet_body(&org, "w", &["m/44'/60'/0'/0/0"]);
    let target = signed(&b.members[0], &wallet);
    let first = run(&b.f, &b.state, &b.members[0], &wallet).unwrap();
    assert_eq!(first.status, ActivityStatus::ConsensusNeeded);
    assert!(first.new_org_state.is_none());
    let fp = first.fingerprint.clone();
    // the second board member approves: consensus, the wallet is created
    let approve = vote_body(&org, true, &fp);
    let out = cast(&b, &b.state, &b.members[1], &approve, &target, vec![]).unwrap();
    assert_eq!(out.status, ActivityStatus::Completed);
    assert_eq!(out.fingerprint, fp);
    assert!(matches!(
        out.result,
        keyhold_shared::msg::ActivityResult::CreateWallet { .. }
    ));
    // both steps have receipts, one after the other: the submission, then the approval
    use keyhold_shared::msg::ReceiptKind;
    use sha2::{Digest, Sha256};
    assert_eq!(first.receipt.body.kind, ReceiptKind::Activity);
    assert_eq!(
        out.receipt.body.kind,
        ReceiptKind::Approve {
            target: Sha256::digest(wallet.as_bytes()).into()
        }
    );
    assert_eq!(out.receipt.body.seq, first.receipt.body.seq + 1);
    assert_eq!(out.receipt.body.prev, first.receipt.body.hash().unwrap());
    assert_eq!(
        out.receipt.body.fingerprint,
        <[u8; 32]>::from(Sha256::digest(approve.as_bytes()))
    );
    assert_eq!(out.receipt.body.status, ActivityStatus::Completed);
    let after = out.new_org_state.unwrap();
    // the host replays the old approval (on the new state): the activity already ran
    let err = cast(&b, &after, &b.members[1], &approve, &target, vec![]).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidRequest);
    assert!(err.message.contains("already completed"), "{}", err.message);
    // … or on the old state: stale
    assert_eq!(
        cast(&b, &b.state, &b.members[1], &approve, &target, vec![])
            .unwrap_err()
            .code,
        ErrorCode::StaleState
    );
}

#[test]
fn the_same_user_cannot_approve_twice_and_outsiders_do_not_count() {
    let b = board();
    let org = b.f.org_id;
    let wallet = create_wallet_body(&org, "w", &[]);
    let target = signed(&b.members[0], &wallet);
    let fp = crate::activities::fingerprint(wallet.as_bytes());
    // the submitter approving their own activity: submitting it was their approval
    let err = cast(
        &b,
        &b.state,
        &b.members[0],
        &vote_body(&org, true, &fp),
        &target,
        vec![],
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidRequest);
    assert!(err.message.contains("already approved"), "{}", err.message);
    assert!(err.authenticated, "the voter did authenticate");
    // a member approving again, whatever body they sign this time
    let first = vec![signed(&b.members[1], &vote_body(&org, true, &fp))];
    let err = cast(
        &b,
        &b.state,
        &b.members[1],
        &vote_body(&org, true, &fp),
        &target,
        first,
    )
    .unwrap_err();
    assert!(err.message.contains("already approved"), "{}", err.message);
    // a user outside the board approves: still one board member
    let outsider = new_key();
    let (state, _) = create_user(&b.f, &b.state, "outsider", &outsider);
    let out = cast(
        &b,
        &state,
        &outsider,
        &vote_body(&org, true, &fp),
        &target,
        vec![],
    )
    .unwrap();
    assert_eq!(out.status, ActivityStatus::ConsensusNeeded);
    // earlier approvals are re-sent and re-verified: member 1's approval plus member 2's
    let v1 = vote_body(&org, true, &fp);
    let earlier = vec![signed(&b.members[1], &v1)];
    let out = cast(
        &b,
        &state,
        &b.members[2],
        &vote_body(&org, true, &fp),
        &target,
        earlier,
    )
    .unwrap();
    assert_eq!(out.status, ActivityStatus::Completed);
}

#[test]
fn host_forges_or_misdirects_a_vote() {
    let b = board();
    let org = b.f.org_id;
    let wallet = create_wallet_body(&org, "w", &[]);
    let target = signed(&b.members[0], &wallet);
    let fp = crate::activities::fingerprint(wallet.as_bytes());
    // a forged earlier vote: member 1's stamp over a body the host rewrote
    let v = vote_body(&org, true, &fp);
    let mut forged = signed(&b.members[1], &v);
    forged.body = format!("{v} ").into_bytes();
    let err = cast(
        &b,
        &b.state,
        &b.members[2],
        &vote_body(&org, true, &fp),
        &target,
        vec![forged],
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::SignatureInvalid);
    // an approval of another activity passed off as an approval of this one
    let other = vote_body(&org, true, &crate::activities::fingerprint(b"other"));
    let err = cast(
        &b,
        &b.state,
        &b.members[2],
        &vote_body(&org, true, &fp),
        &target,
        vec![signed(&b.members[1], &other)],
    )
    .unwrap_err();
    assert!(err.message.contains("another activity"), "{}", err.message);
    // the host swaps the target for another activity than the voter approved
    let swapped = signed(&b.members[0], &create_wallet_body(&org, "x", &[]));
    let err = cast(
        &b,
        &b.state,
        &b.members[1],
        &vote_body(&org, true, &fp),
        &swapped,
        vec![],
    )
    .unwrap_err();
    assert!(err.message.contains("fingerprint"), "{}", err.message);
    // a submitter stamp forged by the host
    let mut forged_target = target.clone();
    forged_target.body = format!("{wallet} ").into_bytes();
    let fp2 = crate::activities::fingerprint(&forged_target.body);
    let err = cast(
        &b,
        &b.state,
        &b.members[1],
        &vote_body(&org, true, &fp2),
        &forged_target,
        vec![],
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::SignatureInvalid);
}

#[test]
fn a_rejected_activity_never_runs() {
    let b = board();
    let org = b.f.org_id;
    let wallet = create_wallet_body(&org, "w", &[]);
    let target = signed(&b.members[0], &wallet);
    let fp = crate::activities::fingerprint(wallet.as_bytes());
    let out = cast(
        &b,
        &b.state,
        &b.members[2],
        &vote_body(&org, false, &fp),
        &target,
        vec![],
    )
    .unwrap();
    assert_eq!(out.status, ActivityStatus::Rejected);
    let after = out.new_org_state.unwrap();
    let err = cast(
        &b,
        &after,
        &b.members[1],
        &vote_body(&org, true, &fp),
        &target,
        vec![],
    )
    .unwrap_err();
    assert!(
        err.message.contains("already completed or rejected"),
        "{}",
        err.message
    );
}

#[test]
fn root_quorum_of_two_needs_both_roots() {
    let f = fixture();
    let second = new_key();
    let (state, second_id) = create_user(&f, &f.org, "root2", &second);
    let root_id = {
        let q = json!({"organizationId": f.org_id.to_string()}).to_string();
        let Ok(Response::ReadOrg(r)) = f.enclave.handle(Request::ReadOrg(AuthenticateRequest {
            parent: None,
            request: signed(&f.api_key, &q),
            org: state.clone(),
        })) else {
            panic!()
        };
        r.principal.user_id.to_string()
    };
    let b = body(
        &f.org_id,
        "ACTIVITY_TYPE_UPDATE_ROOT_QUORUM",
        json!({"threshold": 2, "userIds": [root_id, second_id]}),
    );
    let (state, _) = change(&f, &state, &f.api_key, &b);
    // one root alone now waits for the other
    let wallet = create_wallet_body(&f.org_id, "w", &[]);
    let out = run(&f, &state, &f.api_key, &wallet).unwrap();
    assert_eq!(out.status, ActivityStatus::ConsensusNeeded);
    let board = Board {
        f,
        state: state.clone(),
        members: vec![],
    };
    let out = cast(
        &board,
        &state,
        &second,
        &vote_body(&board.f.org_id, true, &out.fingerprint),
        &signed(&board.f.api_key, &wallet),
        vec![],
    )
    .unwrap();
    assert_eq!(out.status, ActivityStatus::Completed);
}

#[test]
fn policies_read_the_wallet_from_the_sealed_state() {
    let f = fixture();
    let bob = new_key();
    let (mut state, bob_id) = create_user(&f, &f.org, "bob", &bob);
    let mut wallets = Vec::new();
    for name in ["hot", "cold"] {
        let out = run(
            &f,
            &state,
            &f.api_key,
            &create_wallet_body(&f.org_id, name, &["m/44'/60'/0'/0/0"]),
        )
        .unwrap();
        state = out.new_org_state.unwrap();
        let keyhold_shared::msg::ActivityResult::CreateWallet {
            wallet_id,
            accounts,
            sealed_seed,
            ..
        } = out.result
        else {
            panic!()
        };
        wallets.push((wallet_id, accounts[0].address.clone(), sealed_seed));
    }
    let (hot, cold) = (&wallets[0], &wallets[1]);
    let (state, _) = create_policy(
        &f,
        &state,
        "EFFECT_ALLOW",
        &format!("activity.action == 'SIGN' && wallet.id == '{}'", hot.0),
        &format!("approvers.any(u, u.id == '{bob_id}')"),
    );
    let (state, _) = create_policy(&f, &state, "EFFECT_DENY", "wallet.label == 'cold'", "");
    let sign = |w: &(
        keyhold_shared::WalletId,
        String,
        keyhold_shared::msg::SealedSeed,
    )| {
        let body =
            super::support::sign_body(&f.org_id, &w.1, "deadbeef", "HASH_FUNCTION_KECCAK256");
        f.enclave.handle(Request::Activity(ActivityRequest {
            parent: None,
            request: signed(&bob, &body),
            org: state.clone(),
            context: ActivityContext::WalletAccount {
                wallet_id: w.0,
                path: "m/44'/60'/0'/0/0".into(),
                curve: keyhold_shared::msg::Curve::Secp256k1,
                address_format: keyhold_shared::msg::AddressFormat::Ethereum,
                sealed_seed: w.2.clone(),
            },
        }))
    };
    assert!(matches!(sign(hot), Ok(Response::Activity(_))));
    let err = sign(cold).unwrap_err();
    assert_eq!(err.code, ErrorCode::PermissionDenied);
    // the host names the hot wallet while handing over the cold wallet's seed: refused at unseal
    let lie = (hot.0, cold.1.clone(), cold.2.clone());
    assert_eq!(sign(&lie).unwrap_err().code, ErrorCode::SealedDataInvalid);
}

#[test]
fn policies_read_the_ethereum_transaction() {
    let f = fixture();
    let bob = new_key();
    let (state, bob_id) = create_user(&f, &f.org, "bob", &bob);
    let out = run(
        &f,
        &state,
        &f.api_key,
        &create_wallet_body(&f.org_id, "w", &["m/44'/60'/0'/0/0"]),
    )
    .unwrap();
    let state = out.new_org_state.unwrap();
    let keyhold_shared::msg::ActivityResult::CreateWallet {
        wallet_id,
        accounts,
        sealed_seed,
        ..
    } = out.result
    else {
        panic!()
    };
    let address = accounts[0].address.clone();
    let (state, _) = create_policy(
        &f,
        &state,
        "EFFECT_ALLOW",
        "eth.tx.to == '0x3535353535353535353535353535353535353535' && eth.tx.value <= 1000000000000000000 \
         && eth.tx.chain_id == 1 && eth.tx.type == 'LEGACY'",
        &format!("approvers.any(u, u.id == '{bob_id}')"),
    );
    // the EIP-155 example: to 0x3535…35, 1 ether, chain id 1
    let to_35 = "ec098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a764000080018080";
    let sign = |unsigned: &str| {
        let body = body(
            &f.org_id,
            "ACTIVITY_TYPE_SIGN_TRANSACTION_V2",
            json!({"signWith": address, "unsignedTransaction": unsigned, "type": "TRANSACTION_TYPE_ETHEREUM"}),
        );
        f.enclave.handle(Request::Activity(ActivityRequest {
            parent: None,
            request: signed(&bob, &body),
            org: state.clone(),
            context: ActivityContext::WalletAccount {
                wallet_id,
                path: "m/44'/60'/0'/0/0".into(),
                curve: keyhold_shared::msg::Curve::Secp256k1,
                address_format: keyhold_shared::msg::AddressFormat::Ethereum,
                sealed_seed: sealed_seed.clone(),
            },
        }))
    };
    assert!(
        matches!(sign(to_35), Ok(Response::Activity(_))),
        "{:?}",
        sign(to_35)
    );
    // another recipient: no policy allows it
    let to_36 = to_35.replace(&"35".repeat(20), &"36".repeat(20));
    assert_eq!(sign(&to_36).unwrap_err().code, ErrorCode::PermissionDenied);
    // a DENY on the value wins
    let (state2, _) = create_policy(&f, &state, "EFFECT_DENY", "eth.tx.value > 0", "");
    let body = body(
        &f.org_id,
        "ACTIVITY_TYPE_SIGN_TRANSACTION_V2",
        json!({"signWith": address, "unsignedTransaction": to_35, "type": "TRANSACTION_TYPE_ETHEREUM"}),
    );
    let err = f
        .enclave
        .handle(Request::Activity(ActivityRequest {
            parent: None,
            request: signed(&bob, &body),
            org: state2,
            context: ActivityContext::WalletAccount {
                wallet_id,
                path: "m/44'/60'/0'/0/0".into(),
                curve: keyhold_shared::msg::Curve::Secp256k1,
                address_format: keyhold_shared::msg::AddressFormat::Ethereum,
                sealed_seed: sealed_seed.clone(),
            },
        }))
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::PermissionDenied);
}

#[test]
fn policies_read_the_private_key_from_the_sealed_state() {
    let f = fixture();
    let bob = new_key();
    let (mut state, bob_id) = create_user(&f, &f.org, "bob", &bob);
    let mut keys = Vec::new();
    let mut hot_tag = String::new();
    for tag in ["hot", "cold"] {
        let (next, result) = change(
            &f,
            &state,
            &f.api_key,
            &body(
                &f.org_id,
                "ACTIVITY_TYPE_CREATE_PRIVATE_KEY_TAG",
                json!({"privateKeyTagName": tag, "privateKeyIds": []}),
            ),
        );
        state = next;
        let tag_id = result["createPrivateKeyTagResult"]["privateKeyTagId"]
            .as_str()
            .unwrap()
            .to_owned();
        if tag == "hot" {
            hot_tag = tag_id.clone();
        }
        let b = body(
            &f.org_id,
            "ACTIVITY_TYPE_CREATE_PRIVATE_KEYS_V2",
            json!({"privateKeys": [{"privateKeyName": format!("{tag} key"), "curve": "CURVE_SECP256K1",
                   "privateKeyTags": [tag_id], "addressFormats": ["ADDRESS_FORMAT_ETHEREUM"]}]}),
        );
        let out = run(&f, &state, &f.api_key, &b).unwrap();
        state = out
            .new_org_state
            .expect("creating a key records its metadata");
        let keyhold_shared::msg::ActivityResult::CreatePrivateKeys(mut created) = out.result else {
            panic!()
        };
        keys.push(created.remove(0));
    }
    let (state, _) = create_policy(
        &f,
        &state,
        "EFFECT_ALLOW",
        &format!(
            "activity.action == 'SIGN' && private_key.tags.contains('{hot_tag}') && private_key.label == 'hot key'"
        ),
        &format!("approvers.any(u, u.id == '{bob_id}')"),
    );
    let sign = |id: keyhold_shared::PrivateKeyId, sealed: &keyhold_shared::msg::SealedSeed| {
        let body = super::support::sign_body(
            &f.org_id,
            &id.to_string(),
            "deadbeef",
            "HASH_FUNCTION_KECCAK256",
        );
        f.enclave.handle(Request::Activity(ActivityRequest {
            parent: None,
            request: signed(&bob, &body),
            org: state.clone(),
            context: ActivityContext::PrivateKey {
                private_key_id: id,
                address_format: None,
                sealed_key: sealed.clone(),
            },
        }))
    };
    let (hot, cold) = (&keys[0], &keys[1]);
    assert!(matches!(
        sign(hot.private_key_id, &hot.sealed_key),
        Ok(Response::Activity(_))
    ));
    assert_eq!(
        sign(cold.private_key_id, &cold.sealed_key)
            .unwrap_err()
            .code,
        ErrorCode::PermissionDenied
    );
    // the host names the hot key while handing over the cold one: the seal binds the id
    assert_ne!(
        sign(hot.private_key_id, &cold.sealed_key).map(|_| ()),
        Ok(())
    );
}
