//! A host that crashes between the enclave's answer and its commit. The enclave has sealed a
//! new organization state the host never stored; from then on it refuses the stored (older)
//! state. The host, seeing the same stored version refused twice, fetches the enclave's
//! unstored answer and stores it; the organization goes on, the lost activity exists exactly
//! once (as the enclave executed it), and the audit chain has no hole.

use keyhold_host::cli::audit::check;
use keyhold_shared::msg::{ActivityContext, ActivityRequest, Request, Response};
use keyhold_shared::{ErrorCode, WireError};
use serde_json::json;

use super::audit_host::{args, body, post, stack};
use super::support::signed;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_lost_an_answer_catches_up_from_the_enclave() {
    let s = stack().await;
    let policy = |name: &str| {
        body(
            &s.org,
            "ACTIVITY_TYPE_CREATE_POLICY_V3",
            json!({"policyName": name, "effect": "EFFECT_DENY",
                   "condition": "activity.type == 'ACTIVITY_TYPE_EXPORT_WALLET'", "consensus": "", "notes": ""}),
        )
    };
    post(
        &s.state,
        "/public/v1/submit/create_policy",
        policy("first"),
        &s.key,
    )
    .await;
    let before = s.state.store.get_org(s.org).await.unwrap().unwrap();

    // The "crash": the enclave executes and seals version + 1; the host stores nothing.
    let lost_body = policy("lost");
    let Response::Activity(lost) = s
        .state
        .call(Request::Activity(ActivityRequest {
            parent: None,
            request: signed(&s.key, &lost_body),
            org: before.sealed.clone(),
            context: ActivityContext::None,
        }))
        .await
        .unwrap()
    else {
        panic!("not an activity")
    };
    let sealed = lost.new_org_state.clone().unwrap();
    assert_eq!(sealed.version, before.sealed.version + 1);
    // The stored state is now stale for the enclave, and stays so (the host cannot fork).
    let refused = s
        .state
        .call(Request::Activity(ActivityRequest {
            parent: None,
            request: signed(&s.key, &policy("fork")),
            org: before.sealed.clone(),
            context: ActivityContext::None,
        }))
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            keyhold_host::HostError::Enclave(WireError {
                code: ErrorCode::StaleState,
                ..
            })
        ),
        "{refused:?}"
    );
    // What the enclave hands back is exactly the answer it gave.
    let Response::Recover(Some(answer)) = s.state.call(Request::Recover(s.org)).await.unwrap()
    else {
        panic!("no pending answer")
    };
    assert_eq!(answer.output, *lost);
    assert_eq!(answer.request.body, lost_body.as_bytes());

    // The next activity through the API: the host catches up, then runs it.
    let next = post(
        &s.state,
        "/public/v1/submit/create_policy",
        policy("next"),
        &s.key,
    )
    .await;
    assert_eq!(next["activity"]["status"], "ACTIVITY_STATUS_COMPLETED");
    let after = s.state.store.get_org(s.org).await.unwrap().unwrap();
    assert_eq!(after.sealed.version, before.sealed.version + 2);
    // The lost activity is stored once, as executed, with its result and receipt.
    let stored = s
        .state
        .store
        .find_activity(
            s.org,
            keyhold_host::store::request_ms(lost_body.as_bytes()),
            &lost.fingerprint,
        )
        .await
        .unwrap()
        .expect("the lost activity is stored");
    assert_eq!(stored.id, lost.activity_id);
    assert_eq!(stored.status, "ACTIVITY_STATUS_COMPLETED");
    let listed = post(
        &s.state,
        "/public/v1/query/list_policies",
        json!({"organizationId": s.org.to_string()}).to_string(),
        &s.key,
    )
    .await;
    let names: Vec<&str> = listed["policies"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["policyName"].as_str())
        .collect();
    for name in ["first", "lost", "next"] {
        assert_eq!(names.iter().filter(|n| **n == name).count(), 1, "{names:?}");
    }
    // The client retrying the lost request gets the stored activity, not a second one.
    let again = post(
        &s.state,
        "/public/v1/submit/create_policy",
        lost_body,
        &s.key,
    )
    .await;
    assert_eq!(again["activity"]["id"], lost.activity_id.to_string());
    // Nothing pending any more; the audit chain is whole (no hole, nothing "recovered").
    let Response::Recover(pending) = s.state.call(Request::Recover(s.org)).await.unwrap() else {
        panic!()
    };
    assert!(pending.is_none());
    let mut strict = args(&s.data_dir, s.org);
    strict.strict = true;
    let report = check(&strict).await.unwrap();
    assert!(report.ok, "{:#?}", report.problems);
    assert!(report.recovered.is_empty());
}
