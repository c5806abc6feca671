//! Webhook endpoints through the enclave: authorized by policies (resource `WEBHOOK_ENDPOINT`),
//! validated, answered in the result without touching the sealed state; an update or deletion
//! works only on the endpoint the host hands back under the signed id, in this organization;
//! an update validates what it keeps of that endpoint, a deletion none of its fields.

use keyhold_shared::ErrorCode;
use keyhold_shared::msg::{
    ActivityContext, ActivityOutput, ActivityRequest, ActivityResult, Request, Response,
    SealedOrgState,
};
use p256::ecdsa::SigningKey;
use serde_json::{Value, json};

use super::orgs::{body, create_policy, create_user, new_key};
use super::support::{Fixture, fixture, signed};

fn run_with(
    f: &Fixture,
    state: &SealedOrgState,
    key: &SigningKey,
    body: &str,
    context: ActivityContext,
) -> Result<ActivityOutput, keyhold_shared::WireError> {
    match f.enclave.handle(Request::Activity(ActivityRequest {
        parent: None,
        request: signed(key, body),
        org: state.clone(),
        context,
    }))? {
        Response::Activity(out) => Ok(*out),
        other => panic!("unexpected answer {other:?}"),
    }
}

fn result(out: &ActivityOutput) -> Value {
    let ActivityResult::Organization { result_json, .. } = &out.result else {
        panic!("not an organization result: {:?}", out.result)
    };
    serde_json::from_str(result_json).unwrap()
}

fn create_body(f: &Fixture, parameters: Value) -> String {
    body(
        &f.org_id,
        "ACTIVITY_TYPE_CREATE_WEBHOOK_ENDPOINT",
        parameters,
    )
}

fn activity_updates(url: &str) -> Value {
    json!({"url": url, "name": "hooks", "subscriptions": [{"eventType": "ACTIVITY_UPDATES"}]})
}

/// Creates an endpoint as the root user; returns its `v1WebhookEndpointData`.
fn create(f: &Fixture, state: &SealedOrgState) -> Value {
    let out = run_with(
        f,
        state,
        &f.api_key,
        &create_body(f, activity_updates("https://hooks.example/turnkey")),
        ActivityContext::None,
    )
    .unwrap();
    assert!(
        out.new_org_state.is_none(),
        "the sealed state must not change"
    );
    result(&out)["createWebhookEndpointResult"]["webhookEndpoint"].clone()
}

fn stored(endpoint: &Value) -> ActivityContext {
    ActivityContext::WebhookEndpoint {
        endpoint_json: endpoint.to_string(),
    }
}

#[test]
fn create_answers_the_normalized_endpoint() {
    let f = fixture();
    let out = run_with(
        &f,
        &f.org,
        &f.api_key,
        &create_body(
            &f,
            json!({"url": "https://hooks.example/turnkey", "name": "  ops  ",
                   "subscriptions": [{"eventType": "ACTIVITY_UPDATES", "filtersJson": "{}"}]}),
        ),
        ActivityContext::None,
    )
    .unwrap();
    let r = &result(&out)["createWebhookEndpointResult"];
    let e = &r["webhookEndpoint"];
    assert_eq!(r["endpointId"], e["endpointId"]);
    assert!(
        e["endpointId"]
            .as_str()
            .unwrap()
            .parse::<keyhold_shared::Uuid>()
            .is_ok()
    );
    assert_eq!(e["organizationId"], f.org_id.to_string());
    assert_eq!(e["url"], "https://hooks.example/turnkey");
    assert_eq!(e["name"], "ops");
    assert_eq!(e["isActive"], true);
    assert_eq!(
        e["subscriptions"],
        json!([{"eventType": "ACTIVITY_UPDATES", "isActive": true}])
    );
    assert!(out.new_org_state.is_none());
}

#[test]
fn a_user_without_a_policy_is_refused_and_a_webhook_policy_allows() {
    let f = fixture();
    let bob = new_key();
    let (state, _) = create_user(&f, &f.org, "bob", &bob);
    let b = create_body(&f, activity_updates("https://hooks.example/x"));
    let err = run_with(&f, &state, &bob, &b, ActivityContext::None).unwrap_err();
    assert_eq!(err.code, ErrorCode::PermissionDenied, "{err}");
    // A policy on another resource does not help.
    let (state, _) = create_policy(
        &f,
        &state,
        "EFFECT_ALLOW",
        "activity.resource == 'WALLET' && activity.action == 'CREATE'",
        "",
    );
    let err = run_with(&f, &state, &bob, &b, ActivityContext::None).unwrap_err();
    assert_eq!(err.code, ErrorCode::PermissionDenied, "{err}");
    let (state, _) = create_policy(
        &f,
        &state,
        "EFFECT_ALLOW",
        "activity.resource == 'WEBHOOK_ENDPOINT' && activity.action == 'CREATE'",
        "",
    );
    let out = run_with(&f, &state, &bob, &b, ActivityContext::None).unwrap();
    assert_eq!(
        result(&out)["createWebhookEndpointResult"]["webhookEndpoint"]["url"],
        "https://hooks.example/x"
    );
    // CREATE does not grant DELETE.
    let endpoint = create(&f, &state);
    let d = body(
        &f.org_id,
        "ACTIVITY_TYPE_DELETE_WEBHOOK_ENDPOINT",
        json!({"endpointId": endpoint["endpointId"]}),
    );
    let err = run_with(&f, &state, &bob, &d, stored(&endpoint)).unwrap_err();
    assert_eq!(err.code, ErrorCode::PermissionDenied, "{err}");
}

#[test]
fn create_validates_url_name_and_subscriptions() {
    let f = fixture();
    let refused = |parameters: Value, code: ErrorCode| {
        let err = run_with(
            &f,
            &f.org,
            &f.api_key,
            &create_body(&f, parameters.clone()),
            ActivityContext::None,
        )
        .unwrap_err();
        assert_eq!(err.code, code, "{parameters}: {err}");
    };
    let invalid = ErrorCode::InvalidRequest;
    refused(activity_updates("http://hooks.example/x"), invalid);
    refused(activity_updates("ftp://hooks.example/x"), invalid);
    refused(activity_updates("https://u:p@hooks.example/x"), invalid);
    refused(json!({"url": "https://a.example", "name": ""}), invalid);
    refused(
        json!({"url": "https://a.example", "name": "x".repeat(257)}),
        invalid,
    );
    refused(json!({"name": "no url"}), invalid);
    refused(
        json!({"url": "https://a.example", "name": "n", "subscriptions": [{"eventType": "EVERYTHING"}]}),
        invalid,
    );
    refused(
        json!({"url": "https://a.example", "name": "n",
               "subscriptions": [{"eventType": "ACTIVITY_UPDATES"}, {"eventType": "ACTIVITY_UPDATES"}]}),
        invalid,
    );
    refused(
        json!({"url": "https://a.example", "name": "n", "extra": 1}),
        invalid,
    );
    // Known to Turnkey, not delivered by keyhold.
    refused(
        json!({"url": "https://a.example", "name": "n",
               "subscriptions": [{"eventType": "BALANCE_CONFIRMED_UPDATES"}]}),
        ErrorCode::Unsupported,
    );
    refused(
        json!({"url": "https://a.example", "name": "n",
               "subscriptions": [{"eventType": "ACTIVITY_UPDATES", "filtersJson": "{\"type\":[\"x\"]}"}]}),
        ErrorCode::Unsupported,
    );
    // Plain http to the loopback interface is a development receiver.
    let out = run_with(
        &f,
        &f.org,
        &f.api_key,
        &create_body(&f, activity_updates("http://127.0.0.1:9000/hook")),
        ActivityContext::None,
    )
    .unwrap();
    assert_eq!(
        result(&out)["createWebhookEndpointResult"]["webhookEndpoint"]["url"],
        "http://127.0.0.1:9000/hook"
    );
}

#[test]
fn update_and_delete_need_the_stored_endpoint_under_the_signed_id() {
    let f = fixture();
    let endpoint = create(&f, &f.org);
    let id = endpoint["endpointId"].as_str().unwrap().to_owned();
    let update = body(
        &f.org_id,
        "ACTIVITY_TYPE_UPDATE_WEBHOOK_ENDPOINT",
        json!({"endpointId": id, "name": "renamed", "isActive": false}),
    );
    // The host has no such endpoint.
    let err = run_with(&f, &f.org, &f.api_key, &update, ActivityContext::None).unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound, "{err}");
    // The host hands back another endpoint, or one of another organization.
    let other = create(&f, &f.org);
    let err = run_with(&f, &f.org, &f.api_key, &update, stored(&other)).unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound, "{err}");
    let mut foreign = endpoint.clone();
    foreign["organizationId"] = json!(keyhold_shared::Uuid::new_v4([7; 16]).to_string());
    let err = run_with(&f, &f.org, &f.api_key, &update, stored(&foreign)).unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound, "{err}");
    // A stored endpoint the enclave would not have accepted is refused again.
    let mut tampered = endpoint.clone();
    tampered["url"] = json!("http://internal.example/admin");
    let err = run_with(&f, &f.org, &f.api_key, &update, stored(&tampered)).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidRequest, "{err}");

    let out = run_with(&f, &f.org, &f.api_key, &update, stored(&endpoint)).unwrap();
    assert!(out.new_org_state.is_none());
    let r = &result(&out)["updateWebhookEndpointResult"];
    assert_eq!(r["endpointId"], id.as_str());
    let mut expected = endpoint.clone();
    expected["name"] = json!("renamed");
    expected["isActive"] = json!(false);
    assert_eq!(r["webhookEndpoint"], expected);

    let bad_url = body(
        &f.org_id,
        "ACTIVITY_TYPE_UPDATE_WEBHOOK_ENDPOINT",
        json!({"endpointId": id, "url": "http://hooks.example/"}),
    );
    let err = run_with(&f, &f.org, &f.api_key, &bad_url, stored(&endpoint)).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidRequest, "{err}");

    let delete = body(
        &f.org_id,
        "ACTIVITY_TYPE_DELETE_WEBHOOK_ENDPOINT",
        json!({"endpointId": id}),
    );
    let err = run_with(&f, &f.org, &f.api_key, &delete, ActivityContext::None).unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound, "{err}");
    let out = run_with(&f, &f.org, &f.api_key, &delete, stored(&endpoint)).unwrap();
    assert_eq!(
        result(&out),
        json!({"deleteWebhookEndpointResult": {"endpointId": id}})
    );
    // Deleting needs only the endpoint's identity: one whose stored fields this version would
    // refuse (stored under older rules) can still be deleted — but not under another id or
    // organization.
    let out = run_with(&f, &f.org, &f.api_key, &delete, stored(&tampered)).unwrap();
    assert_eq!(
        result(&out),
        json!({"deleteWebhookEndpointResult": {"endpointId": id}})
    );
    for wrong in [&other, &foreign] {
        let err = run_with(&f, &f.org, &f.api_key, &delete, stored(wrong)).unwrap_err();
        assert_eq!(err.code, ErrorCode::NotFound, "{err}");
    }
    // Even a copy with only the identity (older subscription shapes, missing fields) deletes.
    let bare = json!({"endpointId": id, "organizationId": endpoint["organizationId"]});
    run_with(&f, &f.org, &f.api_key, &delete, stored(&bare)).unwrap();
    // An update that replaces the URL older rules allowed repairs the endpoint; one that keeps
    // it is refused (above).
    let repair = body(
        &f.org_id,
        "ACTIVITY_TYPE_UPDATE_WEBHOOK_ENDPOINT",
        json!({"endpointId": id, "url": "https://hooks.example/new"}),
    );
    let out = run_with(&f, &f.org, &f.api_key, &repair, stored(&tampered)).unwrap();
    assert_eq!(
        result(&out)["updateWebhookEndpointResult"]["webhookEndpoint"]["url"],
        "https://hooks.example/new"
    );
}
