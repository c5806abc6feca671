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

use super::audit_host::stack;
use super::support::{create_wallet_body, stamp};

/// Status and body of one stamped POST.
async fn post(state: &AppState, path: &str, body: String, key: &SigningKey) -> (u16, Value) {
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

async fn post_stamped(state: &AppState, path: &str, body: String, stamp: String) -> (u16, Value) {
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

#[tokio::test]
async fn forged_requests_do_not_use_up_an_organizations_rate_limit() {
    let s = stack().await;
    // One request a second, bursts of two.
    let state = AppState {
        rate_limiter: Arc::new(OrgRateLimiter::new(1)),
        ..s.state.clone()
    };
    let stranger = SigningKey::from_slice(&[7u8; 32]).unwrap();
    let org = s.org.to_string();
    let query = || json!({"organizationId": org}).to_string();
    let forged = [
        (
            "/public/v1/submit/create_wallet",
            create_wallet_body(&s.org, "forged", &["m/44'/60'/0'/0/0"]),
        ),
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
    }
    // The organization's own key still has its whole burst of two.
    let (status, answer) = post(&state, "/public/v1/query/whoami", query(), &s.key).await;
    assert_eq!(status, 200, "{answer}");
    let wallet = create_wallet_body(&s.org, "real", &["m/44'/60'/0'/0/0"]);
    let (status, answer) = post(&state, "/public/v1/submit/create_wallet", wallet, &s.key).await;
    assert_eq!(status, 200, "{answer}");
    // Authenticated requests keep their tokens: at one a second, quick ones soon meet the limit.
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let (status, _) = post(&state, "/public/v1/query/list_users", query(), &s.key).await;
        statuses.push(status);
        if status == 429 {
            break;
        }
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
}
