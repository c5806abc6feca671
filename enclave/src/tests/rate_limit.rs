//! The per-organization rate limit against someone who knows an organization's id but holds
//! none of its credentials: forged requests must not use up the organization's tokens, or a few
//! hundred of them would lock its real users out (`host/src/api/rate_limit.rs`).

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request as HttpRequest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyhold_host::api::AppState;
use keyhold_host::api::rate_limit::OrgRateLimiter;
use p256::ecdsa::SigningKey;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::audit_host::{body, members_and_wallet_policy, stack};
use super::support::{create_wallet_body, stamp};

/// Status and body of one stamped POST.
pub(super) async fn post(
    state: &AppState,
    path: &str,
    body: String,
    key: &SigningKey,
) -> (u16, Value) {
    let stamp = stamp(key, &body);
    post_stamped(state, path, body, stamp).await
}

/// A stamp naming `real`'s public key, with a signature made by another key: what someone who
/// learnt an API key's public half can send.
fn stamp_in_the_name_of(real: &SigningKey, body: &str) -> String {
    let mine = SigningKey::from_slice(&[9u8; 32]).unwrap();
    let mut json: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(stamp(&mine, body)).unwrap()).unwrap();
    json["publicKey"] = hex::encode(real.verifying_key().to_sec1_point(true).as_bytes()).into();
    URL_SAFE_NO_PAD.encode(json.to_string())
}

pub(super) async fn post_stamped(
    state: &AppState,
    path: &str,
    body: String,
    stamp: String,
) -> (u16, Value) {
    let request = HttpRequest::post(path)
        .header("content-type", "application/json")
        .header("x-stamp", stamp)
        .body(Body::from(body))
        .unwrap();
    let response = keyhold_host::api::router(state.clone())
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

/// The same body, `timestampMs` two hours old: a genuine signature outside the time window.
fn stale(body: &str) -> String {
    let mut json: Value = serde_json::from_str(body).unwrap();
    let two_hours_ago = crate::enclave::now_ms() - 2 * 60 * 60 * 1000;
    json["timestampMs"] = two_hours_ago.to_string().into();
    json.to_string()
}

#[tokio::test]
async fn forged_requests_do_not_use_up_an_organizations_rate_limit() {
    let s = stack().await;
    // Bursts of two, refilling one token an hour: nothing refills while the test runs.
    let state = AppState {
        rate_limiter: Arc::new(OrgRateLimiter::with_rate(1.0 / 3600.0, 2.0)),
        ..s.state.clone()
    };
    let stranger = SigningKey::from_slice(&[7u8; 32]).unwrap();
    let org = s.org.to_string();
    let query = || json!({"organizationId": org}).to_string();
    let wallet = |name: &str| create_wallet_body(&s.org, name, &["m/44'/60'/0'/0/0"]);
    let forged = [
        ("/public/v1/submit/create_wallet", wallet("forged")),
        ("/public/v1/query/whoami", query()),
        ("/public/v1/query/list_users", query()),
    ];
    for round in 0..10 {
        for (path, body) in &forged {
            // An unknown key (PUBLIC_KEY_NOT_FOUND), and the organization's own public key
            // under a signature it did not make (SIGNATURE_INVALID).
            let (status, answer) = post(&state, path, body.clone(), &stranger).await;
            assert_eq!(status, 401, "round {round}, {path}: {answer}");
            let stamp = stamp_in_the_name_of(&s.key, body);
            let (status, answer) = post_stamped(&state, path, body.clone(), stamp).await;
            assert_eq!(status, 401, "round {round}, {path}: {answer}");
            assert_eq!(
                answer["details"][0]["turnkeyErrorCode"], "SIGNATURE_INVALID",
                "{answer}"
            );
        }
        // A genuine request replayed after its time window.
        let old = stale(&wallet("replayed"));
        let (status, answer) = post(&state, "/public/v1/submit/create_wallet", old, &s.key).await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["details"][0]["turnkeyErrorCode"], "INVALID_TIME");
        // Refused before the enclave sees them: a vote without a fingerprint, an activity
        // type the path does not take, an organization id in another spelling.
        let vote = json!({"type": "ACTIVITY_TYPE_APPROVE_ACTIVITY", "timestampMs": "1",
                          "organizationId": org.to_uppercase(), "parameters": {}});
        let (status, answer) = post(
            &state,
            "/public/v1/submit/approve_activity",
            vote.to_string(),
            &stranger,
        )
        .await;
        assert_eq!(status, 400, "{answer}");
        let (status, answer) = post(
            &state,
            "/public/v1/submit/create_users",
            wallet("misrouted"),
            &s.key,
        )
        .await;
        assert_eq!(status, 400, "{answer}");
    }
    // The organization's own key still has its whole burst of two: one request that succeeds,
    // one an authenticated caller gets refused (a derivation path that does not parse). Both
    // keep their tokens, so the next authenticated request meets the limit.
    let (status, answer) = post(&state, "/public/v1/query/whoami", query(), &s.key).await;
    assert_eq!(status, 200, "{answer}");
    let bad_path = create_wallet_body(&s.org, "bad path", &["not a path"]);
    let (status, answer) = post(&state, "/public/v1/submit/create_wallet", bad_path, &s.key).await;
    assert_eq!(status, 400, "{answer}");
    let (status, answer) = post(
        &state,
        "/public/v1/submit/create_wallet",
        wallet("real"),
        &s.key,
    )
    .await;
    assert_eq!(status, 429, "{answer}");
    // Even once the budget is spent, forged requests are refused with 429 before reaching
    // the enclave: the limit is checked first.
    let (status, _) = post(&state, "/public/v1/query/whoami", query(), &stranger).await;
    assert_eq!(status, 429);
}

#[tokio::test]
async fn replays_of_a_published_stamp_give_their_tokens_back() {
    // Every activity carries its submitter's stamp in its votes (and webhooks deliver it):
    // resending it must neither spend the organization's tokens nor read as its signer.
    let s = stack().await;
    let state = AppState {
        rate_limiter: Arc::new(OrgRateLimiter::with_rate(1.0 / 3600.0, 2.0)),
        ..s.state.clone()
    };
    let body = create_wallet_body(&s.org, "published", &["m/44'/60'/0'/0/0"]);
    let published = stamp(&s.key, &body);
    let path = "/public/v1/submit/create_wallet";
    let (status, first) = post_stamped(&state, path, body.clone(), published.clone()).await;
    assert_eq!(status, 200, "{first}");
    for _ in 0..10 {
        let (status, again) = post_stamped(&state, path, body.clone(), published.clone()).await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(again["activity"]["id"], first["activity"]["id"]);
        // As queries: a record read (refused by the host) and an organization-data read
        // (refused by the enclave, which sees an activity body).
        for query in ["/public/v1/query/whoami", "/public/v1/query/list_users"] {
            let (status, answer) =
                post_stamped(&state, query, body.clone(), published.clone()).await;
            assert_eq!(status, 400, "{query}: {answer}");
        }
    }
    // The one fresh activity spent one token of two; the other is still there.
    let query = json!({"organizationId": s.org.to_string()}).to_string();
    let (status, answer) = post(&state, "/public/v1/query/whoami", query.clone(), &s.key).await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = post(&state, "/public/v1/query/whoami", query, &s.key).await;
    assert_eq!(status, 429, "{answer}");
}

#[tokio::test]
async fn a_query_abandoned_by_its_client_still_spends_its_token() {
    // The enclave verifies and reads for a query whose client hangs up mid-call: were the
    // request's future simply dropped, its token would come back, and a caller could read
    // without limit by disconnecting before each answer.
    let s = stack().await;
    // A record query (answered by the host after the enclave authenticates) and an
    // organization-data query (answered from the enclave's read of the sealed state).
    for path in ["/public/v1/query/whoami", "/public/v1/query/list_users"] {
        // A burst of one per path, refilling one token an hour.
        let state = AppState {
            rate_limiter: Arc::new(OrgRateLimiter::with_rate(1.0 / 3600.0, 1.0)),
            ..s.state.clone()
        };
        let query = json!({"organizationId": s.org.to_string()}).to_string();
        let request = HttpRequest::post(path)
            .header("content-type", "application/json")
            .header("x-stamp", stamp(&s.key, &query))
            .body(Body::from(query.clone()))
            .unwrap();
        let mut call = Box::pin(keyhold_host::api::router(state.clone()).oneshot(request));
        // Polled once — the request is read and on its way — then abandoned.
        tokio::select! {
            biased;
            _ = &mut call => panic!("{path} answered within one poll"),
            () = std::future::ready(()) => {}
        }
        drop(call);
        // The abandoned request finishes on its own (in well under a second here).
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let (status, answer) = post(&state, path, query, &s.key).await;
        assert_eq!(status, 429, "{path}: {answer}");
    }
}

#[tokio::test]
async fn a_replayed_approval_spends_nothing_and_takes_no_place() {
    // An approval's body and stamp are published in its activity's `votes` (and webhooks):
    // sent again while the activity waits, it must neither spend the organization's tokens nor
    // be stored as one more vote — a hundred of those would fill the activity's places for
    // votes and lock its real approvers out until the approval window ends.
    let s = stack().await;
    let (first, second) = (
        SigningKey::from_slice(&[0x42; 32]).unwrap(),
        SigningKey::from_slice(&[0x43; 32]).unwrap(),
    );
    members_and_wallet_policy(
        &s,
        &[("first", &first), ("second", &second)],
        "approvers.count() >= 3",
    )
    .await;
    let (_, pending) = post(
        &s.state,
        "/public/v1/submit/create_wallet",
        create_wallet_body(&s.org, "shared", &["m/44'/60'/0'/0/0"]),
        &first,
    )
    .await;
    let fingerprint = pending["activity"]["fingerprint"].clone();
    let approve = || {
        body(
            &s.org,
            "ACTIVITY_TYPE_APPROVE_ACTIVITY",
            json!({"fingerprint": fingerprint}),
        )
    };
    let vote_path = "/public/v1/submit/approve_activity";
    let vote = approve();
    let published = stamp(&second, &vote);
    let (status, voted) = post_stamped(&s.state, vote_path, vote.clone(), published.clone()).await;
    assert_eq!(status, 200, "{voted}");
    assert_eq!(
        voted["activity"]["status"],
        "ACTIVITY_STATUS_CONSENSUS_NEEDED"
    );
    assert_eq!(voted["activity"]["votes"].as_array().unwrap().len(), 2);
    // The same user approving again, with a request of their own: refused.
    let (status, again) = post(&s.state, vote_path, approve(), &second).await;
    assert_eq!(status, 400, "{again}");
    // One token an hour, a burst of one.
    let state = AppState {
        rate_limiter: Arc::new(OrgRateLimiter::with_rate(1.0 / 3600.0, 1.0)),
        ..s.state.clone()
    };
    for _ in 0..5 {
        let (status, replayed) =
            post_stamped(&state, vote_path, vote.clone(), published.clone()).await;
        assert_eq!(status, 200, "{replayed}");
        assert_eq!(
            replayed["activity"], voted["activity"],
            "answered from the store"
        );
    }
    let org = s.org;
    let kept = s
        .state
        .store
        .vote_requests(org, fingerprint.as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(kept.len(), 2, "the submitter's request and one approval");
    // The real third approver still has the organization's token, and completes it — with a
    // body the same bytes as the second approver's (a vote body names no voter; two built in
    // the same millisecond are identical): a vote of its own, not a replay.
    let (status, done) = post(&state, vote_path, vote.clone(), &s.key).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["activity"]["status"], "ACTIVITY_STATUS_COMPLETED");
    assert_eq!(done["activity"]["votes"].as_array().unwrap().len(), 3);
    let (status, _) = post(&state, vote_path, approve(), &s.key).await;
    assert_eq!(status, 429, "the limit is in force");
}
