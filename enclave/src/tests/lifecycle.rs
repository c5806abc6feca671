//! Users after creation, API-only users, the organization's name, sub-organization deletion,
//! read-only sessions and stamp login — each authorized by the policy engine (non-root users
//! denied until a policy allows), and a host that lies about them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyhold_shared::msg::{
    ActivityContext, ActivityOutput, ActivityRequest, ActivityResult, AuditResumeRequest,
    AuthenticateRequest, Principal, Request, Response, SealedOrgState, SignedRequest, Stamp,
};
use keyhold_shared::{ErrorCode, OrgId, WireError};
use p256::ecdsa::SigningKey;
use serde_json::{Value, json};

use super::orgs::{body, change, create_policy, create_user, new_key, public_hex, run};
use super::support::{Fixture, create_wallet_body, fixture, signed};
use crate::auth::session::{Claims, READ_ONLY, READ_WRITE};
use crate::enclave::now_ms;

fn query(org: &OrgId) -> String {
    json!({"organizationId": org.to_string()}).to_string()
}

fn authenticate(
    f: &Fixture,
    state: &SealedOrgState,
    parent: Option<&SealedOrgState>,
    request: SignedRequest,
) -> Result<Principal, WireError> {
    match f
        .enclave
        .handle(Request::Authenticate(AuthenticateRequest {
            request,
            org: state.clone(),
            parent: parent.cloned(),
        }))? {
        Response::Authenticate(p) => Ok(p),
        other => panic!("unexpected answer {other:?}"),
    }
}

fn read_org(
    f: &Fixture,
    state: &SealedOrgState,
    parent: Option<&SealedOrgState>,
    request: SignedRequest,
) -> Result<Value, WireError> {
    match f.enclave.handle(Request::ReadOrg(AuthenticateRequest {
        request,
        org: state.clone(),
        parent: parent.cloned(),
    }))? {
        Response::ReadOrg(r) => Ok(serde_json::from_str(&r.organization_json).unwrap()),
        other => panic!("unexpected answer {other:?}"),
    }
}

fn user<'a>(data: &'a Value, id: &str) -> &'a Value {
    data["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["userId"] == id)
        .unwrap()
}

fn code(result: Result<impl std::fmt::Debug, WireError>) -> ErrorCode {
    result.unwrap_err().code
}

/// A policy allowing every activity to `user_id`.
fn allow_everything(f: &Fixture, state: &SealedOrgState, user_id: &str) -> SealedOrgState {
    create_policy(
        f,
        state,
        "EFFECT_ALLOW",
        "true",
        &format!("approvers.any(user, user.id == '{user_id}')"),
    )
    .0
}

// ---- users ----------------------------------------------------------------------------------

#[test]
fn users_are_updated_field_by_field_and_tokens_are_refused() {
    let f = fixture();
    let bob = new_key();
    let (state, bob_id) = create_user(&f, &f.org, "bob", &bob);
    let (state, tag) = change(
        &f,
        &state,
        &f.api_key,
        &body(
            &f.org_id,
            "ACTIVITY_TYPE_CREATE_USER_TAG",
            json!({"userTagName": "ops", "userIds": []}),
        ),
    );
    let tag_id = tag["createUserTagResult"]["userTagId"].as_str().unwrap();

    let (state, result) = change(
        &f,
        &state,
        &f.api_key,
        &body(
            &f.org_id,
            "ACTIVITY_TYPE_UPDATE_USER",
            json!({"userId": bob_id, "userName": "robert", "userEmail": "bob@example.com",
                   "userTagIds": [tag_id], "userPhoneNumber": "+13214567890"}),
        ),
    );
    assert_eq!(result, json!({"updateUserResult": {"userId": bob_id}}));
    let data = read_org(&f, &state, None, signed(&f.api_key, &query(&f.org_id))).unwrap();
    let u = user(&data, &bob_id);
    assert_eq!(u["userName"], "robert");
    assert_eq!(u["userEmail"], "bob@example.com");
    assert_eq!(u["userPhoneNumber"], "+13214567890");
    assert_eq!(u["userTags"], json!([tag_id]));

    // absent fields and an empty tag list change nothing; an empty email removes it
    let (state, _) = change(
        &f,
        &state,
        &f.api_key,
        &body(
            &f.org_id,
            "ACTIVITY_TYPE_UPDATE_USER",
            json!({"userId": bob_id, "userEmail": "", "userTagIds": []}),
        ),
    );
    let data = read_org(&f, &state, None, signed(&f.api_key, &query(&f.org_id))).unwrap();
    let u = user(&data, &bob_id);
    assert_eq!(u["userName"], "robert");
    assert!(u.get("userEmail").is_none());
    assert_eq!(u["userTags"], json!([tag_id]));
    assert_eq!(u["userPhoneNumber"], "+13214567890");

    // the single-field activities, with Turnkey's result keys
    let (state, result) = change(
        &f,
        &state,
        &f.api_key,
        &body(
            &f.org_id,
            "ACTIVITY_TYPE_UPDATE_USER_NAME",
            json!({"userId": bob_id, "userName": "bobby"}),
        ),
    );
    assert_eq!(result, json!({"updateUserNameResult": {"userId": bob_id}}));
    let (state, result) = change(
        &f,
        &state,
        &f.api_key,
        &body(
            &f.org_id,
            "ACTIVITY_TYPE_UPDATE_USER_EMAIL",
            json!({"userId": bob_id, "userEmail": "b@example.org"}),
        ),
    );
    assert_eq!(result, json!({"updateUserEmailResult": {"userId": bob_id}}));
    let (state, result) = change(
        &f,
        &state,
        &f.api_key,
        &body(
            &f.org_id,
            "ACTIVITY_TYPE_UPDATE_USER_PHONE_NUMBER",
            json!({"userId": bob_id, "userPhoneNumber": ""}),
        ),
    );
    assert_eq!(
        result,
        json!({"updateUserPhoneNumberResult": {"userId": bob_id}})
    );
    let data = read_org(&f, &state, None, signed(&f.api_key, &query(&f.org_id))).unwrap();
    let u = user(&data, &bob_id);
    assert_eq!(u["userName"], "bobby");
    assert_eq!(u["userEmail"], "b@example.org");
    assert!(u.get("userPhoneNumber").is_none());

    // refused: verification tokens (no OTP provider), unknown users and tags, blank names
    let refused = [
        (
            "ACTIVITY_TYPE_UPDATE_USER_EMAIL",
            json!({"userId": bob_id, "userEmail": "c@example.org", "verificationToken": "eyJ.x.y"}),
            ErrorCode::Unsupported,
        ),
        (
            "ACTIVITY_TYPE_UPDATE_USER_PHONE_NUMBER",
            json!({"userId": bob_id, "userPhoneNumber": "+1555", "verificationToken": "eyJ.x.y"}),
            ErrorCode::Unsupported,
        ),
        (
            "ACTIVITY_TYPE_UPDATE_USER_NAME",
            json!({"userId": "3f1e8d4a-0000-4000-8000-000000000001", "userName": "x"}),
            ErrorCode::NotFound,
        ),
        (
            "ACTIVITY_TYPE_UPDATE_USER",
            json!({"userId": bob_id, "userTagIds": ["3f1e8d4a-0000-4000-8000-000000000002"]}),
            ErrorCode::NotFound,
        ),
        (
            "ACTIVITY_TYPE_UPDATE_USER_NAME",
            json!({"userId": bob_id, "userName": "  "}),
            ErrorCode::InvalidRequest,
        ),
        (
            "ACTIVITY_TYPE_UPDATE_USER_EMAIL",
            json!({"userId": bob_id, "userEmail": "x".repeat(257)}),
            ErrorCode::InvalidRequest,
        ),
    ];
    for (kind, params, expected) in refused {
        let got = code(run(&f, &state, &f.api_key, &body(&f.org_id, kind, params)));
        assert_eq!(got, expected, "{kind}");
    }
}

#[test]
fn non_root_users_may_update_users_only_when_a_policy_allows() {
    let f = fixture();
    let bob = new_key();
    let (state, bob_id) = create_user(&f, &f.org, "bob", &bob);
    let rename = |name: &str| {
        body(
            &f.org_id,
            "ACTIVITY_TYPE_UPDATE_USER_NAME",
            json!({"userId": bob_id, "userName": name}),
        )
    };
    for kind in [
        "ACTIVITY_TYPE_UPDATE_USER",
        "ACTIVITY_TYPE_UPDATE_USER_EMAIL",
        "ACTIVITY_TYPE_UPDATE_USER_PHONE_NUMBER",
    ] {
        let params = json!({"userId": bob_id, "userEmail": "", "userPhoneNumber": ""});
        assert_eq!(
            code(run(&f, &state, &bob, &body(&f.org_id, kind, params))),
            ErrorCode::PermissionDenied,
            "{kind}"
        );
    }
    assert_eq!(
        code(run(&f, &state, &bob, &rename("me"))),
        ErrorCode::PermissionDenied
    );
    let api_only = body(
        &f.org_id,
        "ACTIVITY_TYPE_CREATE_API_ONLY_USERS",
        json!({"apiOnlyUsers": [{"userName": "svc", "userTags": [], "apiKeys": []}]}),
    );
    assert_eq!(
        code(run(&f, &state, &bob, &api_only)),
        ErrorCode::PermissionDenied
    );
    // resource USER, action UPDATE (Turnkey's table)
    let (state, _) = create_policy(
        &f,
        &state,
        "EFFECT_ALLOW",
        "activity.resource == 'USER' && activity.action == 'UPDATE'",
        &format!("approvers.any(user, user.id == '{bob_id}')"),
    );
    let (state, result) = change(&f, &state, &bob, &rename("me"));
    assert_eq!(result["updateUserNameResult"]["userId"], json!(bob_id));
    // creating users is USER/CREATE: still denied
    assert_eq!(
        code(run(&f, &state, &bob, &api_only)),
        ErrorCode::PermissionDenied
    );
}

#[test]
fn api_only_users_get_api_keys_that_authenticate() {
    let f = fixture();
    let (svc, other) = (new_key(), new_key());
    let (state, result) = change(
        &f,
        &f.org,
        &f.api_key,
        &body(
            &f.org_id,
            "ACTIVITY_TYPE_CREATE_API_ONLY_USERS",
            json!({"apiOnlyUsers": [
                {"userName": "svc", "userEmail": "svc@example.com", "userTags": [],
                 "apiKeys": [{"apiKeyName": "k", "publicKey": public_hex(&svc), "expirationSeconds": "3600"}]},
                {"userName": "other", "userTags": [], "apiKeys": [{"apiKeyName": "k", "publicKey": public_hex(&other)}]},
            ]}),
        ),
    );
    let ids = result["createApiOnlyUsersResult"]["userIds"]
        .as_array()
        .unwrap();
    assert_eq!(ids.len(), 2);
    let who = authenticate(&f, &state, None, signed(&svc, &query(&f.org_id))).unwrap();
    assert_eq!(json!(who.user_id.to_string()), ids[0]);
    let data = read_org(&f, &state, None, signed(&other, &query(&f.org_id))).unwrap();
    let u = user(&data, ids[0].as_str().unwrap());
    assert_eq!(u["userEmail"], "svc@example.com");
    assert_eq!(u["apiKeys"][0]["expirationSeconds"], "3600");
    assert!(u["authenticators"].as_array().unwrap().is_empty());
    // an empty list, a key the organization already holds, an unknown tag
    for params in [
        json!({"apiOnlyUsers": []}),
        json!({"apiOnlyUsers": [{"userName": "dup", "userTags": [],
               "apiKeys": [{"apiKeyName": "k", "publicKey": public_hex(&svc)}]}]}),
        json!({"apiOnlyUsers": [{"userName": "t", "userTags": ["3f1e8d4a-0000-4000-8000-000000000002"], "apiKeys": []}]}),
    ] {
        assert!(
            run(
                &f,
                &state,
                &f.api_key,
                &body(
                    &f.org_id,
                    "ACTIVITY_TYPE_CREATE_API_ONLY_USERS",
                    params.clone()
                )
            )
            .is_err(),
            "{params}"
        );
    }
}

// ---- the organization ---------------------------------------------------------------------

#[test]
fn the_organization_name_is_changed_by_the_root_quorum_only() {
    let f = fixture();
    let (state, result) = change(
        &f,
        &f.org,
        &f.api_key,
        &body(
            &f.org_id,
            "ACTIVITY_TYPE_UPDATE_ORGANIZATION_NAME",
            json!({"organizationName": "acme 2"}),
        ),
    );
    assert_eq!(
        result,
        json!({"updateOrganizationNameResult": {"organizationId": f.org_id.to_string(), "organizationName": "acme 2"}})
    );
    let data = read_org(&f, &state, None, signed(&f.api_key, &query(&f.org_id))).unwrap();
    assert_eq!(data["name"], "acme 2");
    let who = authenticate(&f, &state, None, signed(&f.api_key, &query(&f.org_id))).unwrap();
    assert_eq!(who.organization_name, "acme 2");
    // a blank name is refused
    let blank = body(
        &f.org_id,
        "ACTIVITY_TYPE_UPDATE_ORGANIZATION_NAME",
        json!({"organizationName": " "}),
    );
    assert_eq!(
        code(run(&f, &state, &f.api_key, &blank)),
        ErrorCode::InvalidRequest
    );
    // a non-root user is refused even under a policy that allows everything (Turnkey's
    // "root quorum activities" are not governed by policies)
    let bob = new_key();
    let (state, bob_id) = create_user(&f, &state, "bob", &bob);
    let state = allow_everything(&f, &state, &bob_id);
    let err = run(
        &f,
        &state,
        &bob,
        &body(
            &f.org_id,
            "ACTIVITY_TYPE_UPDATE_ORGANIZATION_NAME",
            json!({"organizationName": "bob's"}),
        ),
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::PermissionDenied);
    assert!(err.message.contains("root quorum"), "{}", err.message);
}

/// A sub-organization of the fixture's organization with root `alice` and, optionally, a
/// wallet; returns its id and sealed state.
fn sub_organization(f: &Fixture, alice: &SigningKey, wallet: bool) -> (OrgId, SealedOrgState) {
    let mut params = json!({
        "subOrganizationName": "alice's", "rootQuorumThreshold": 1,
        "rootUsers": [{"userName": "alice", "apiKeys": [{"apiKeyName": "k", "publicKey": public_hex(alice),
            "curveType": "API_KEY_CURVE_P256"}], "authenticators": [], "oauthProviders": []}],
    });
    if wallet {
        params["wallet"] = json!({"walletName": "main", "accounts": [{"curve": "CURVE_SECP256K1",
            "pathFormat": "PATH_FORMAT_BIP32", "path": "m/44'/60'/0'/0/0", "addressFormat": "ADDRESS_FORMAT_ETHEREUM"}]});
    }
    let out = run(
        f,
        &f.org,
        &f.api_key,
        &body(
            &f.org_id,
            "ACTIVITY_TYPE_CREATE_SUB_ORGANIZATION_V8",
            params,
        ),
    )
    .unwrap();
    let ActivityResult::Organization {
        sub_organization: Some(sub),
        ..
    } = out.result
    else {
        panic!("no sub-organization")
    };
    (sub.organization_id, sub.sealed_state)
}

fn delete_body(org: &OrgId, without_export: Option<bool>) -> String {
    let params = match without_export {
        Some(flag) => json!({"deleteWithoutExport": flag}),
        None => json!({}),
    };
    body(org, "ACTIVITY_TYPE_DELETE_SUB_ORGANIZATION", params)
}

#[test]
fn deleting_a_sub_organization_needs_its_keys_exported_or_delete_without_export() {
    let f = fixture();
    let alice = new_key();
    let (sub_id, sub) = sub_organization(&f, &alice, true);
    for flag in [None, Some(false)] {
        let err = run(&f, &sub, &alice, &delete_body(&sub_id, flag)).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidRequest);
        assert!(err.message.contains("never exported"), "{}", err.message);
    }
    // a top-level organization cannot be deleted this way
    let err = run(&f, &f.org, &f.api_key, &delete_body(&f.org_id, Some(true))).unwrap_err();
    assert!(
        err.message.contains("not a sub-organization"),
        "{}",
        err.message
    );
    // without wallets nothing needs exporting
    let bea = new_key();
    let (empty_id, empty) = sub_organization(&f, &bea, false);
    let out = run(&f, &empty, &bea, &delete_body(&empty_id, None)).unwrap();
    let ActivityResult::Organization { result_json, .. } = out.result else {
        panic!()
    };
    assert_eq!(
        serde_json::from_str::<Value>(&result_json).unwrap(),
        json!({"deleteSubOrganizationResult": {"subOrganizationUuid": empty_id.to_string()}})
    );
    // deleteWithoutExport deletes it with its wallet
    run(&f, &sub, &alice, &delete_body(&sub_id, Some(true))).unwrap();
}

#[test]
fn only_the_sub_organizations_root_may_delete_it_by_default() {
    let f = fixture();
    let alice = new_key();
    let (sub_id, sub) = sub_organization(&f, &alice, false);
    // the parent's root is no credential of the sub-organization, and its users may not act there
    let err = f
        .enclave
        .handle(Request::Activity(ActivityRequest {
            parent: Some(f.org.clone()),
            request: signed(&f.api_key, &delete_body(&sub_id, Some(true))),
            org: sub.clone(),
            context: ActivityContext::None,
        }))
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::PermissionDenied);
    // a non-root user of the sub-organization is denied until a policy allows ORGANIZATION/DELETE
    let carol = new_key();
    let b = body(
        &sub_id,
        "ACTIVITY_TYPE_CREATE_USERS_V4",
        json!({"users": [{"userName": "carol", "apiKeys": [{"apiKeyName": "k", "publicKey": public_hex(&carol),
            "curveType": "API_KEY_CURVE_P256"}], "authenticators": [], "oauthProviders": [], "userTags": []}]}),
    );
    let (sub, created) = change(&f, &sub, &alice, &b);
    let carol_id = created["createUsersResult"]["userIds"][0].as_str().unwrap();
    assert_eq!(
        code(run(&f, &sub, &carol, &delete_body(&sub_id, Some(true)))),
        ErrorCode::PermissionDenied
    );
    let policy = body(
        &sub_id,
        "ACTIVITY_TYPE_CREATE_POLICY_V3",
        json!({"policyName": "carol deletes", "effect": "EFFECT_ALLOW", "notes": "",
               "condition": "activity.resource == 'ORGANIZATION' && activity.action == 'DELETE'",
               "consensus": format!("approvers.any(user, user.id == '{carol_id}')")}),
    );
    let (sub, _) = change(&f, &sub, &alice, &policy);
    run(&f, &sub, &carol, &delete_body(&sub_id, Some(true))).unwrap();
}

/// Deletes a fresh sub-organization with a wallet; returns it before and after, and the
/// deletion's answer.
struct Deleted {
    f: Fixture,
    alice: SigningKey,
    sub_id: OrgId,
    before: SealedOrgState,
    tombstone: SealedOrgState,
    output: ActivityOutput,
}

fn deleted() -> Deleted {
    let f = fixture();
    let alice = new_key();
    let (sub_id, sub) = sub_organization(&f, &alice, true);
    // one change first, so the deleted state is not the first version
    let (before, _) = change(
        &f,
        &sub,
        &alice,
        &body(
            &sub_id,
            "ACTIVITY_TYPE_UPDATE_ORGANIZATION_NAME",
            json!({"organizationName": "alice's, renamed"}),
        ),
    );
    let output = run(&f, &before, &alice, &delete_body(&sub_id, Some(true))).unwrap();
    let tombstone = output.new_org_state.clone().unwrap();
    assert_eq!(tombstone.version, before.version + 1);
    Deleted {
        f,
        alice,
        sub_id,
        before,
        tombstone,
        output,
    }
}

#[test]
fn a_deleted_sub_organization_is_refused_for_every_activity_and_query() {
    let d = deleted();
    let (f, sub_id) = (&d.f, d.sub_id);
    let deleted = |result: Result<(), WireError>| {
        let err = result.unwrap_err();
        assert_eq!(err.code, ErrorCode::NotFound, "{}", err.message);
        assert!(err.message.contains("deleted"), "{}", err.message);
    };
    deleted(
        run(
            f,
            &d.tombstone,
            &d.alice,
            &create_wallet_body(&sub_id, "w", &[]),
        )
        .map(drop),
    );
    deleted(run(f, &d.tombstone, &d.alice, &delete_body(&sub_id, Some(true))).map(drop));
    deleted(authenticate(f, &d.tombstone, None, signed(&d.alice, &query(&sub_id))).map(drop));
    deleted(read_org(f, &d.tombstone, None, signed(&d.alice, &query(&sub_id))).map(drop));
    // the parent's users may no longer read it either
    deleted(
        read_org(
            f,
            &d.tombstone,
            Some(&f.org),
            signed(&f.api_key, &query(&sub_id)),
        )
        .map(drop),
    );
    // the parent carries on
    run(
        f,
        &f.org,
        &f.api_key,
        &create_wallet_body(&f.org_id, "w", &[]),
    )
    .unwrap();
}

#[test]
fn the_deletion_is_kept_for_recovery_until_the_host_presents_the_tombstone() {
    let d = deleted();
    let recover = || match d.f.enclave.handle(Request::Recover(d.sub_id)).unwrap() {
        Response::Recover(answer) => answer,
        other => panic!("unexpected answer {other:?}"),
    };
    // a host that crashed before storing it gets the deletion back, as for any change
    let kept = recover().unwrap();
    assert_eq!(kept.output.new_org_state, Some(d.tombstone.clone()));
    // presenting the tombstone shows it stored
    assert_eq!(
        code(authenticate(
            &d.f,
            &d.tombstone,
            None,
            signed(&d.alice, &query(&d.sub_id))
        )),
        ErrorCode::NotFound
    );
    assert!(recover().is_none());
}

#[test]
fn host_keeps_sending_the_deleted_sub_organizations_old_state() {
    let d = deleted();
    let (f, sub_id) = (&d.f, d.sub_id);
    // the state from before the deletion is stale: the tombstone's version was sealed
    for result in [
        run(
            f,
            &d.before,
            &d.alice,
            &create_wallet_body(&sub_id, "w", &[]),
        )
        .map(drop),
        authenticate(f, &d.before, None, signed(&d.alice, &query(&sub_id))).map(drop),
        read_org(
            f,
            &d.before,
            Some(&f.org),
            signed(&f.api_key, &query(&sub_id)),
        )
        .map(drop),
    ] {
        assert_eq!(result.unwrap_err().code, ErrorCode::StaleState);
    }
    // the tombstone relabelled as another version or organization does not open at all
    let mut relabelled = d.tombstone.clone();
    relabelled.version += 1;
    assert_eq!(
        code(authenticate(
            f,
            &relabelled,
            None,
            signed(&d.alice, &query(&sub_id))
        )),
        ErrorCode::SealedDataInvalid
    );
    // the tombstone passed off as a parent state is refused too
    let err = f
        .enclave
        .handle(Request::ReadOrg(AuthenticateRequest {
            request: signed(&f.api_key, &query(&f.org_id)),
            org: f.org.clone(),
            parent: Some(d.tombstone.clone()),
        }))
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
}

#[test]
fn after_a_restart_the_old_state_is_refused_with_the_deletion_receipt() {
    let mut d = deleted();
    d.f.enclave = d.f.enclave.restarted().unwrap();
    let f = &d.f;
    // nothing runs before the chain is resumed...
    assert_eq!(
        code(run(
            f,
            &d.before,
            &d.alice,
            &create_wallet_body(&d.sub_id, "w", &[])
        )),
        ErrorCode::AuditHeadNeeded
    );
    // ...and the host cannot resume it from the old state with the newest receipt, which
    // records the tombstone's version: the old state is stale
    let err = f
        .enclave
        .handle(Request::AuditResume(AuditResumeRequest {
            org: d.before.clone(),
            latest: Some(d.output.receipt.clone()),
        }))
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::StaleState, "{}", err.message);
    // the tombstone itself stays refused after the restart
    assert_eq!(
        code(authenticate(
            f,
            &d.tombstone,
            None,
            signed(&d.alice, &query(&d.sub_id))
        )),
        ErrorCode::NotFound
    );
    // and once the enclave has seen it, the old state is stale again
    assert_eq!(
        code(authenticate(
            f,
            &d.before,
            None,
            signed(&d.alice, &query(&d.sub_id))
        )),
        ErrorCode::StaleState
    );
}

// ---- sessions -------------------------------------------------------------------------------

fn session_request(org: &OrgId, token: &str) -> SignedRequest {
    SignedRequest {
        body: query(org).into_bytes(),
        stamp: Stamp::Session(token.to_owned()),
    }
}

fn read_only_session(f: &Fixture, state: &SealedOrgState, key: &SigningKey) -> Value {
    let out = run(
        f,
        state,
        key,
        &body(
            &f.org_id,
            "ACTIVITY_TYPE_CREATE_READ_ONLY_SESSION",
            json!({}),
        ),
    )
    .unwrap();
    assert!(
        out.new_org_state.is_none(),
        "a read-only session changes nothing"
    );
    let ActivityResult::Organization { result_json, .. } = out.result else {
        panic!()
    };
    let result: Value = serde_json::from_str(&result_json).unwrap();
    result["createReadOnlySessionResult"].clone()
}

fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[test]
fn a_read_only_session_reads_and_never_acts() {
    let f = fixture();
    let r = read_only_session(&f, &f.org, &f.api_key);
    let token = r["session"].as_str().unwrap();
    assert_eq!(r["organizationId"], json!(f.org_id.to_string()));
    assert_eq!(r["organizationName"], "acme");
    assert_eq!(r["username"], "root");
    let expiry: u64 = r["sessionExpiry"].as_str().unwrap().parse().unwrap();
    let now_s = now_ms() / 1000;
    assert!((now_s + 3590..=now_s + 3610).contains(&expiry));
    let claims = payload(token);
    assert_eq!(claims["session_type"], READ_ONLY);
    assert_eq!(claims["user_id"], r["userId"]);
    assert_eq!(claims["public_key"], json!(public_hex(&f.api_key)));

    // reads: whoami-style authentication and the organization's data
    let who = authenticate(&f, &f.org, None, session_request(&f.org_id, token)).unwrap();
    assert_eq!(json!(who.user_id.to_string()), r["userId"]);
    let data = read_org(&f, &f.org, None, session_request(&f.org_id, token)).unwrap();
    assert_eq!(data["organizationId"], json!(f.org_id.to_string()));

    // never an activity (nor a vote)
    let err = f
        .enclave
        .handle(Request::Activity(ActivityRequest {
            parent: None,
            request: SignedRequest {
                body: create_wallet_body(&f.org_id, "w", &[]).into_bytes(),
                stamp: Stamp::Session(token.to_owned()),
            },
            org: f.org.clone(),
            context: ActivityContext::None,
        }))
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::PermissionDenied);
    assert!(err.message.contains("read-only session"), "{}", err.message);
}

#[test]
fn host_forges_or_misuses_session_tokens() {
    let f = fixture();
    let r = read_only_session(&f, &f.org, &f.api_key);
    let token = r["session"].as_str().unwrap().to_owned();
    let keys = f.enclave.test_keys();
    let claims = |session_type: &str, exp: u64, user: &str| Claims {
        exp,
        public_key: String::new(),
        session_type: session_type.into(),
        user_id: user.into(),
        organization_id: f.org_id.to_string(),
    };
    let user_id = r["userId"].as_str().unwrap();
    let far = now_ms() / 1000 + 600;
    // expired; a READ_WRITE (stamp_login) token; a user that does not exist
    let cases = [
        (
            keys.session_signer
                .issue(&claims(READ_ONLY, now_ms() / 1000 - 1, user_id))
                .unwrap(),
            ErrorCode::ApiKeyExpired,
        ),
        (
            keys.session_signer
                .issue(&claims(READ_WRITE, far, user_id))
                .unwrap(),
            ErrorCode::SignatureInvalid,
        ),
        (
            keys.session_signer
                .issue(&claims(
                    READ_ONLY,
                    far,
                    "3f1e8d4a-0000-4000-8000-000000000001",
                ))
                .unwrap(),
            ErrorCode::SignatureInvalid,
        ),
    ];
    for (bad, expected) in cases {
        assert_eq!(
            code(authenticate(
                &f,
                &f.org,
                None,
                session_request(&f.org_id, &bad)
            )),
            expected
        );
    }
    // a payload edited to another organization or user, signature kept
    let parts: Vec<&str> = token.split('.').collect();
    let mut edited = payload(&token);
    edited["exp"] = json!(far + 100_000);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(edited.to_string()),
        parts[2]
    );
    assert_eq!(
        code(authenticate(
            &f,
            &f.org,
            None,
            session_request(&f.org_id, &forged)
        )),
        ErrorCode::SignatureInvalid
    );
    // another organization's session does not read this one
    let other = super::support::fixture();
    let theirs = read_only_session(&other, &other.org, &other.api_key);
    let theirs = theirs["session"].as_str().unwrap();
    assert!(authenticate(&f, &f.org, None, session_request(&f.org_id, theirs)).is_err());
    // deleting the user ends the session
    let bob = new_key();
    let (state, bob_id) = create_user(&f, &f.org, "bob", &bob);
    let state = allow_everything(&f, &state, &bob_id);
    let bobs = read_only_session(&f, &state, &bob);
    let bobs = bobs["session"].as_str().unwrap();
    authenticate(&f, &state, None, session_request(&f.org_id, bobs)).unwrap();
    let (state, _) = change(
        &f,
        &state,
        &f.api_key,
        &body(
            &f.org_id,
            "ACTIVITY_TYPE_DELETE_USERS",
            json!({"userIds": [bob_id]}),
        ),
    );
    assert_eq!(
        code(authenticate(
            &f,
            &state,
            None,
            session_request(&f.org_id, bobs)
        )),
        ErrorCode::SignatureInvalid
    );
}

#[test]
fn a_parent_users_read_only_session_reads_its_sub_organizations() {
    let f = fixture();
    let alice = new_key();
    let (sub_id, sub) = sub_organization(&f, &alice, false);
    let r = read_only_session(&f, &f.org, &f.api_key);
    let token = r["session"].as_str().unwrap();
    // without the parent's state the host is told to bring it, as for a parent's stamp
    assert_eq!(
        code(authenticate(
            &f,
            &sub,
            None,
            session_request(&sub_id, token)
        )),
        ErrorCode::PublicKeyNotFound
    );
    let who = authenticate(&f, &sub, Some(&f.org), session_request(&sub_id, token)).unwrap();
    assert_eq!(who.organization_id, f.org_id);
    // a sub-organization user's session does not read the parent
    let mine = run(
        &f,
        &sub,
        &alice,
        &body(&sub_id, "ACTIVITY_TYPE_CREATE_READ_ONLY_SESSION", json!({})),
    )
    .unwrap();
    let ActivityResult::Organization { result_json, .. } = mine.result else {
        panic!()
    };
    let mine: Value = serde_json::from_str(&result_json).unwrap();
    let mine = mine["createReadOnlySessionResult"]["session"]
        .as_str()
        .unwrap();
    assert!(authenticate(&f, &f.org, None, session_request(&f.org_id, mine)).is_err());
}

#[test]
fn non_root_users_need_a_policy_for_sessions() {
    let f = fixture();
    let bob = new_key();
    let (state, bob_id) = create_user(&f, &f.org, "bob", &bob);
    let login = body(
        &f.org_id,
        "ACTIVITY_TYPE_STAMP_LOGIN",
        json!({"publicKey": public_hex(&new_key())}),
    );
    let read_only = body(
        &f.org_id,
        "ACTIVITY_TYPE_CREATE_READ_ONLY_SESSION",
        json!({}),
    );
    for b in [&login, &read_only] {
        assert_eq!(code(run(&f, &state, &bob, b)), ErrorCode::PermissionDenied);
    }
    // STAMP_LOGIN is AUTH/CREATE, with session_profile_id "" when omitted (Turnkey's table)
    let (state, _) = create_policy(
        &f,
        &state,
        "EFFECT_ALLOW",
        "activity.resource == 'AUTH' && activity.action == 'CREATE' && activity.params.session_profile_id == ''",
        &format!("approvers.any(user, user.id == '{bob_id}')"),
    );
    let state = run(&f, &state, &bob, &login)
        .unwrap()
        .new_org_state
        .unwrap();
    assert_eq!(
        code(run(&f, &state, &bob, &read_only)),
        ErrorCode::PermissionDenied
    );
}

fn stamp_login(
    f: &Fixture,
    state: &SealedOrgState,
    key: &SigningKey,
    params: Value,
) -> Result<(SealedOrgState, String), WireError> {
    let out = run(
        f,
        state,
        key,
        &body(&f.org_id, "ACTIVITY_TYPE_STAMP_LOGIN", params),
    )?;
    let ActivityResult::Organization { result_json, .. } = out.result else {
        panic!()
    };
    let result: Value = serde_json::from_str(&result_json).unwrap();
    Ok((
        out.new_org_state.unwrap(),
        result["stampLoginResult"]["session"]
            .as_str()
            .unwrap()
            .to_owned(),
    ))
}

#[test]
fn stamp_login_registers_an_expiring_session_key() {
    let f = fixture();
    let session = new_key();
    let uncompressed = hex::encode(session.verifying_key().to_sec1_point(false).as_bytes());
    let (state, jwt) = stamp_login(
        &f,
        &f.org,
        &f.api_key,
        json!({"publicKey": uncompressed, "expirationSeconds": "600"}),
    )
    .unwrap();
    // Turnkey's claims; the key is named compressed, as the client's stamps carry it
    let claims = f.enclave.test_keys().session_signer.verify(&jwt).unwrap();
    assert_eq!(claims.session_type, READ_WRITE);
    assert_eq!(claims.public_key, public_hex(&session));
    assert_eq!(claims.organization_id, f.org_id.to_string());
    let now_s = now_ms() / 1000;
    assert!((now_s + 595..=now_s + 605).contains(&claims.exp));
    // the session key stamps activities as the root user
    let out = run(
        &f,
        &state,
        &session,
        &create_wallet_body(&f.org_id, "w", &[]),
    )
    .unwrap();
    assert_eq!(out.principal.user_id.to_string(), claims.user_id);
    let state = out.new_org_state.unwrap();
    let data = read_org(&f, &state, None, signed(&session, &query(&f.org_id))).unwrap();
    let keys = data["users"][0]["apiKeys"].as_array().unwrap();
    assert!(keys.iter().any(
        |k| k["credential"]["publicKey"] == json!(public_hex(&session))
            && k["expirationSeconds"] == "600"
    ));

    // a second login with invalidateExisting drops the first session key
    let second = new_key();
    let (state, _) = stamp_login(
        &f,
        &state,
        &f.api_key,
        json!({"publicKey": public_hex(&second), "invalidateExisting": true}),
    )
    .unwrap();
    assert_eq!(
        code(authenticate(
            &f,
            &state,
            None,
            signed(&session, &query(&f.org_id))
        )),
        ErrorCode::PublicKeyNotFound
    );
    authenticate(&f, &state, None, signed(&second, &query(&f.org_id))).unwrap();

    // refused: session profiles, bad keys, a key the organization holds, out-of-range expiry
    for (params, expected) in [
        (
            json!({"publicKey": public_hex(&new_key()), "sessionProfileId": "p"}),
            ErrorCode::Unsupported,
        ),
        (json!({"publicKey": "zz"}), ErrorCode::InvalidRequest),
        (
            json!({"publicKey": format!("02{}", "ff".repeat(32))}),
            ErrorCode::InvalidRequest,
        ),
        (
            json!({"publicKey": public_hex(&second)}),
            ErrorCode::InvalidRequest,
        ),
        (
            json!({"publicKey": public_hex(&new_key()), "expirationSeconds": "0"}),
            ErrorCode::InvalidRequest,
        ),
    ] {
        assert_eq!(
            code(stamp_login(&f, &state, &f.api_key, params.clone())),
            expected,
            "{params}"
        );
    }
}

#[test]
fn host_replays_a_stamp_login() {
    let f = fixture();
    let b = body(
        &f.org_id,
        "ACTIVITY_TYPE_STAMP_LOGIN",
        json!({"publicKey": public_hex(&new_key())}),
    );
    let state = run(&f, &f.org, &f.api_key, &b)
        .unwrap()
        .new_org_state
        .unwrap();
    let err = run(&f, &state, &f.api_key, &b).unwrap_err();
    assert!(err.message.contains("replayed"), "{}", err.message);
}
