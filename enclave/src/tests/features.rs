//! Organization features through the enclave: `SET_ORGANIZATION_FEATURE` and
//! `REMOVE_ORGANIZATION_FEATURE` are the root quorum's alone, take only Turnkey's
//! `FEATURE_NAME_*` values, and `FEATURE_NAME_WEBAUTHN_ORIGINS` restricts where passkeys are
//! used — from the sealed state, which a host cannot trim.

use keyhold_shared::msg::{
    ActivityContext, ActivityRequest, ActivityStatus, ApprovalContext, AuthenticateRequest,
    Request, Response, SealedOrgState, SignedRequest, Stamp,
};
use keyhold_shared::{ErrorCode, WireError};
use serde_json::{Value, json};

use super::orgs::{body, change, create_policy, create_user, new_key, run};
use super::passkey::{SoftAuthenticator, Tamper};
use super::support::{Fixture, create_wallet_body, fixture, signed};

const ORIGINS: &str = "FEATURE_NAME_WEBAUTHN_ORIGINS";

fn set_body(f: &Fixture, name: &str, value: &str) -> String {
    body(
        &f.org_id,
        "ACTIVITY_TYPE_SET_ORGANIZATION_FEATURE",
        json!({"name": name, "value": value}),
    )
}

fn remove_body(f: &Fixture, name: &str) -> String {
    body(
        &f.org_id,
        "ACTIVITY_TYPE_REMOVE_ORGANIZATION_FEATURE",
        json!({"name": name}),
    )
}

fn query(f: &Fixture) -> String {
    json!({"organizationId": f.org_id.to_string()}).to_string()
}

fn read_org(
    f: &Fixture,
    state: &SealedOrgState,
    request: SignedRequest,
) -> Result<Value, WireError> {
    match f.enclave.handle(Request::ReadOrg(AuthenticateRequest {
        request,
        org: state.clone(),
        parent: None,
    }))? {
        Response::ReadOrg(r) => Ok(serde_json::from_str(&r.organization_json).unwrap()),
        other => panic!("unexpected answer {other:?}"),
    }
}

fn whoami(f: &Fixture, state: &SealedOrgState, request: SignedRequest) -> Result<(), WireError> {
    match f
        .enclave
        .handle(Request::Authenticate(AuthenticateRequest {
            request,
            org: state.clone(),
            parent: None,
        }))? {
        Response::Authenticate(_) => Ok(()),
        other => panic!("unexpected answer {other:?}"),
    }
}

fn passkey(body: &str, a: &SoftAuthenticator, tamper: &Tamper) -> SignedRequest {
    SignedRequest {
        body: body.as_bytes().to_vec(),
        stamp: Stamp::Webauthn(a.stamp_with(body, tamper)),
    }
}

fn from(origin: &'static str) -> Tamper {
    Tamper {
        origin: Some(origin),
        ..Tamper::default()
    }
}

fn root_id(f: &Fixture, state: &SealedOrgState) -> String {
    match f.enclave.handle(Request::ReadOrg(AuthenticateRequest {
        request: signed(&f.api_key, &query(f)),
        org: state.clone(),
        parent: None,
    })) {
        Ok(Response::ReadOrg(r)) => r.principal.user_id.to_string(),
        other => panic!("unexpected answer {other:?}"),
    }
}

/// The root user with a passkey registered from `https://wallet.example`.
fn with_passkey(f: &Fixture) -> (SealedOrgState, SoftAuthenticator) {
    let a = SoftAuthenticator::new();
    let b = body(
        &f.org_id,
        "ACTIVITY_TYPE_CREATE_AUTHENTICATORS_V2",
        json!({"userId": root_id(f, &f.org), "authenticators": [a.register("none").params("phone")]}),
    );
    (change(f, &f.org, &f.api_key, &b).0, a)
}

#[test]
fn root_sets_replaces_lists_and_removes_a_feature() {
    let f = fixture();
    let (state, result) = change(
        &f,
        &f.org,
        &f.api_key,
        &set_body(&f, ORIGINS, "https://wallet.example"),
    );
    assert_eq!(
        result,
        json!({"setOrganizationFeatureResult": {"features": [
            {"name": ORIGINS, "value": "https://wallet.example"}]}})
    );
    // set again: the value is replaced, still one entry
    let both = "https://wallet.example,http://localhost:3000";
    let (state, result) = change(&f, &state, &f.api_key, &set_body(&f, ORIGINS, both));
    assert_eq!(
        result["setOrganizationFeatureResult"]["features"],
        json!([{"name": ORIGINS, "value": both}])
    );
    // the organization's data carries them (get_organization, get_organization_configs)
    let data = read_org(&f, &state, signed(&f.api_key, &query(&f))).unwrap();
    assert_eq!(data["features"], json!([{"name": ORIGINS, "value": both}]));

    let (state, result) = change(&f, &state, &f.api_key, &remove_body(&f, ORIGINS));
    assert_eq!(
        result,
        json!({"removeOrganizationFeatureResult": {"features": []}})
    );
    let data = read_org(&f, &state, signed(&f.api_key, &query(&f))).unwrap();
    assert_eq!(data["features"], json!([]));
    // removing a feature that is not set changes nothing and answers the same list
    let (_, result) = change(&f, &state, &f.api_key, &remove_body(&f, ORIGINS));
    assert_eq!(
        result,
        json!({"removeOrganizationFeatureResult": {"features": []}})
    );
}

#[test]
fn only_the_root_quorum_sets_or_removes_features() {
    let f = fixture();
    let bob = new_key();
    let (state, _) = create_user(&f, &f.org, "bob", &bob);
    // even with a policy that allows everything
    let (state, _) = create_policy(&f, &state, "EFFECT_ALLOW", "true", "");
    for b in [
        set_body(&f, ORIGINS, "https://wallet.example"),
        remove_body(&f, ORIGINS),
    ] {
        let err = run(&f, &state, &bob, &b).unwrap_err();
        assert_eq!(err.code, ErrorCode::PermissionDenied, "{err}");
        assert!(err.message.contains("root quorum"), "{}", err.message);
    }
}

#[test]
fn a_root_quorum_of_two_must_approve_a_feature() {
    let f = fixture();
    let second = new_key();
    let (state, second_id) = create_user(&f, &f.org, "root2", &second);
    let b = body(
        &f.org_id,
        "ACTIVITY_TYPE_UPDATE_ROOT_QUORUM",
        json!({"threshold": 2, "userIds": [root_id(&f, &state), second_id]}),
    );
    let (state, _) = change(&f, &state, &f.api_key, &b);
    let set = set_body(&f, ORIGINS, "https://wallet.example");
    let first = run(&f, &state, &f.api_key, &set).unwrap();
    assert_eq!(first.status, ActivityStatus::ConsensusNeeded);
    assert!(first.new_org_state.is_none());
    let vote = body(
        &f.org_id,
        "ACTIVITY_TYPE_APPROVE_ACTIVITY",
        json!({"fingerprint": first.fingerprint}),
    );
    let Response::Activity(out) = f
        .enclave
        .handle(Request::Activity(ActivityRequest {
            parent: None,
            request: signed(&second, &vote),
            org: state.clone(),
            context: ActivityContext::Approval(Box::new(ApprovalContext {
                target: signed(&f.api_key, &set),
                votes: vec![],
                target_context: ActivityContext::None,
            })),
        }))
        .unwrap()
    else {
        panic!("not an activity answer")
    };
    assert_eq!(out.status, ActivityStatus::Completed);
    let state = out.new_org_state.unwrap();
    let data = read_org(&f, &state, signed(&f.api_key, &query(&f))).unwrap();
    assert_eq!(data["features"][0]["name"], ORIGINS);
}

#[test]
fn feature_names_and_values_are_validated() {
    let f = fixture();
    for (b, code, needle) in [
        (
            set_body(&f, "FEATURE_NAME_TELEPORT", "x"),
            ErrorCode::InvalidRequest,
            "not a FEATURE_NAME_* value",
        ),
        (
            remove_body(&f, "WEBAUTHN_ORIGINS"),
            ErrorCode::InvalidRequest,
            "not a FEATURE_NAME_* value",
        ),
        (
            set_body(&f, ORIGINS, "wallet.example"),
            ErrorCode::InvalidRequest,
            "https://",
        ),
        (
            set_body(&f, ORIGINS, ""),
            ErrorCode::InvalidRequest,
            "comma-separated origins",
        ),
        (
            set_body(&f, ORIGINS, "https://wallet.example/login"),
            ErrorCode::InvalidRequest,
            "without path",
        ),
        (
            body(
                &f.org_id,
                "ACTIVITY_TYPE_SET_ORGANIZATION_FEATURE",
                json!({"value": "https://wallet.example"}),
            ),
            ErrorCode::InvalidRequest,
            "name",
        ),
    ] {
        let err = run(&f, &f.org, &f.api_key, &b).unwrap_err();
        assert_eq!(err.code, code, "{b}: {err}");
        assert!(err.message.contains(needle), "{b}: {}", err.message);
    }
    // features whose flows keyhold does not run are refused, saying why, never stored silently
    let mut state = f.org.clone();
    for (name, why) in [
        ("FEATURE_NAME_EMAIL_AUTH", "sends no email"),
        ("FEATURE_NAME_OTP_EMAIL_AUTH", "sends no email"),
        ("FEATURE_NAME_EMAIL_RECOVERY", "sends no email"),
        ("FEATURE_NAME_ROOT_USER_EMAIL_RECOVERY", "sends no email"),
        ("FEATURE_NAME_SMS_AUTH", "sends no SMS"),
        ("FEATURE_NAME_AUTH_PROXY", "Auth Proxy"),
        ("FEATURE_NAME_WEBHOOK", "create_webhook_endpoint"),
        (
            "FEATURE_NAME_SOLANA_RENT_PREFUND_ENABLED",
            "no transactions",
        ),
        ("FEATURE_NAME_SWAP_CONFIG", "no swap"),
        ("FEATURE_NAME_EARN_CONFIG", "no earn"),
    ] {
        let err = run(&f, &state, &f.api_key, &set_body(&f, name, "true")).unwrap_err();
        assert_eq!(err.code, ErrorCode::Unsupported, "{name}: {err}");
        assert!(
            err.message.contains(name) && err.message.contains(why),
            "{}",
            err.message
        );
        assert!(err.message.ends_with("is not supported by keyhold"));
        // removing one is harmless: keyhold never has it
        let (next, result) = change(&f, &state, &f.api_key, &remove_body(&f, name));
        state = next;
        assert_eq!(
            result["removeOrganizationFeatureResult"]["features"],
            json!([])
        );
    }
}

#[test]
fn host_replays_a_feature_activity() {
    let f = fixture();
    let set = set_body(&f, ORIGINS, "https://wallet.example");
    let (with, _) = change(&f, &f.org, &f.api_key, &set);
    let (without, _) = change(&f, &with, &f.api_key, &remove_body(&f, ORIGINS));
    // the host re-sends the signed set to bring the restriction back (or keep it there)
    let err = run(&f, &without, &f.api_key, &set).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidRequest);
    assert!(err.message.contains("replayed"), "{}", err.message);
}

#[test]
fn webauthn_origins_restrict_passkey_stamps() {
    let f = fixture();
    let (state, a) = with_passkey(&f);
    let q = query(&f);
    // feature absent: any origin, as in Turnkey
    whoami(&f, &state, passkey(&q, &a, &from("https://evil.example"))).unwrap();

    let (restricted, _) = change(
        &f,
        &state,
        &f.api_key,
        &set_body(&f, ORIGINS, "https://wallet.example, http://localhost:3000"),
    );
    // allowed origins: queries and activities
    whoami(&f, &restricted, passkey(&q, &a, &Tamper::default())).unwrap();
    whoami(
        &f,
        &restricted,
        passkey(&q, &a, &from("http://localhost:3000")),
    )
    .unwrap();
    let w = create_wallet_body(&f.org_id, "by passkey", &[]);
    let restricted = run_passkey(&f, &restricted, &w, &a, &Tamper::default())
        .unwrap()
        .unwrap();
    let w = create_wallet_body(&f.org_id, "another", &[]);
    // other origins, or none: refused, for queries and activities alike
    for origin in [
        "https://evil.example",
        "https://wallet.example.evil.example",
        "",
    ] {
        let err = whoami(&f, &restricted, passkey(&q, &a, &from(origin))).unwrap_err();
        assert_eq!(err.code, ErrorCode::SignatureInvalid, "{origin}: {err}");
        let err = run_passkey(&f, &restricted, &w, &a, &from(origin)).unwrap_err();
        assert_eq!(err.code, ErrorCode::SignatureInvalid, "{origin}: {err}");
    }
    let err = whoami(
        &f,
        &restricted,
        passkey(&q, &a, &from("https://evil.example")),
    )
    .unwrap_err();
    assert!(err.message.contains("origin"), "{}", err.message);

    // a lying host cannot drop the feature: the states from before it are stale …
    let err = whoami(&f, &state, passkey(&q, &a, &from("https://evil.example"))).unwrap_err();
    assert_eq!(err.code, ErrorCode::StaleState, "{err}");
    // … and an edited or relabelled blob does not open
    let mut cut = restricted.clone();
    cut.ciphertext.truncate(cut.ciphertext.len() - 16);
    let err = whoami(&f, &cut, passkey(&q, &a, &from("https://evil.example"))).unwrap_err();
    assert_eq!(err.code, ErrorCode::SealedDataInvalid, "{err}");
    let mut relabelled = restricted.clone();
    relabelled.version += 1;
    let err = whoami(
        &f,
        &relabelled,
        passkey(&q, &a, &from("https://evil.example")),
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::SealedDataInvalid, "{err}");

    // removed by the root quorum: every origin again
    let (open, _) = change(&f, &restricted, &f.api_key, &remove_body(&f, ORIGINS));
    whoami(&f, &open, passkey(&q, &a, &from("https://evil.example"))).unwrap();
}

fn run_passkey(
    f: &Fixture,
    state: &SealedOrgState,
    body: &str,
    a: &SoftAuthenticator,
    tamper: &Tamper,
) -> Result<Option<SealedOrgState>, WireError> {
    match f.enclave.handle(Request::Activity(ActivityRequest {
        parent: None,
        request: passkey(body, a, tamper),
        org: state.clone(),
        context: ActivityContext::None,
    }))? {
        Response::Activity(out) => Ok(out.new_org_state),
        other => panic!("unexpected answer {other:?}"),
    }
}

#[test]
fn webauthn_origins_restrict_passkey_registration() {
    let f = fixture();
    let root = root_id(&f, &f.org);
    let (state, _) = change(
        &f,
        &f.org,
        &f.api_key,
        &set_body(&f, ORIGINS, "https://wallet.example"),
    );
    let register = |origin: &str| {
        body(
            &f.org_id,
            "ACTIVITY_TYPE_CREATE_AUTHENTICATORS_V2",
            json!({"userId": root, "authenticators": [
                SoftAuthenticator::new().register_at("none", origin).params("phone")]}),
        )
    };
    let err = run(&f, &state, &f.api_key, &register("https://evil.example")).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidRequest, "{err}");
    assert!(err.message.contains("origin"), "{}", err.message);
    let (state, _) = change(&f, &state, &f.api_key, &register("https://wallet.example"));
    // without the feature, a passkey made anywhere registers
    let (state, _) = change(&f, &state, &f.api_key, &remove_body(&f, ORIGINS));
    change(&f, &state, &f.api_key, &register("https://evil.example"));
}

#[test]
fn sub_organizations_inherit_the_parents_webauthn_origins() {
    let f = fixture();
    let (parent, _) = change(
        &f,
        &f.org,
        &f.api_key,
        &set_body(&f, ORIGINS, "https://wallet.example"),
    );
    let create = |a: &SoftAuthenticator, origin: &str| {
        body(
            &f.org_id,
            "ACTIVITY_TYPE_CREATE_SUB_ORGANIZATION_V7",
            json!({"subOrganizationName": "sub", "rootQuorumThreshold": 1, "rootUsers": [{
                "userName": "alice", "apiKeys": [], "oauthProviders": [],
                "authenticators": [a.register_at("none", origin).params("phone")]}]}),
        )
    };
    // a root passkey made on another site is refused at creation
    let err = run(
        &f,
        &parent,
        &f.api_key,
        &create(&SoftAuthenticator::new(), "https://evil.example"),
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidRequest, "{err}");
    let alice = SoftAuthenticator::new();
    let out = run(
        &f,
        &parent,
        &f.api_key,
        &create(&alice, "https://wallet.example"),
    )
    .unwrap();
    let keyhold_shared::msg::ActivityResult::Organization {
        sub_organization: Some(sub),
        ..
    } = out.result
    else {
        panic!("no sub-organization")
    };
    let q = json!({"organizationId": sub.organization_id.to_string()}).to_string();
    let ask = |tamper: &Tamper| {
        f.enclave.handle(Request::Authenticate(AuthenticateRequest {
            request: passkey(&q, &alice, tamper),
            org: sub.sealed_state.clone(),
            parent: None,
        }))
    };
    ask(&Tamper::default()).unwrap();
    assert_eq!(
        ask(&from("https://evil.example")).unwrap_err().code,
        ErrorCode::SignatureInvalid
    );
}
