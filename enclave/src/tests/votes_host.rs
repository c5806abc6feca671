//! Votes racing each other through the real host in front of the real enclave: each is
//! decided on the activity's votes as the host read them, and stored only over those votes.

use p256::ecdsa::SigningKey;
use serde_json::json;

use super::audit_host::{body, members_and_wallet_policy, stack};
use super::rate_limit::post;
use super::support::create_wallet_body;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn votes_at_once_are_all_kept_and_the_deciding_one_completes() {
    let s = stack().await;
    let members: Vec<SigningKey> = (0x51u8..0x58)
        .map(|b| SigningKey::from_slice(&[b; 32]).unwrap())
        .collect();
    let query = json!({"organizationId": s.org.to_string()}).to_string();
    let (_, me) = post(&s.state, "/public/v1/query/whoami", query, &s.key).await;
    let root = me["userId"].as_str().unwrap().to_owned();
    // Only the root's approval completes a wallet; every member's leaves it waiting.
    let names: Vec<String> = (0..members.len()).map(|i| format!("member {i}")).collect();
    let named: Vec<(&str, &SigningKey)> = names.iter().map(String::as_str).zip(&members).collect();
    members_and_wallet_policy(&s, &named, &format!("approvers.any(u, u.id == '{root}')")).await;
    // A few rounds, each on a new activity: the race does not happen in every one.
    for round in 0..4 {
        let (status, pending) = post(
            &s.state,
            "/public/v1/submit/create_wallet",
            create_wallet_body(&s.org, &format!("shared {round}"), &["m/44'/60'/0'/0/0"]),
            &members[0],
        )
        .await;
        assert_eq!(status, 200, "{pending}");
        assert_eq!(
            pending["activity"]["status"],
            "ACTIVITY_STATUS_CONSENSUS_NEEDED"
        );
        let fingerprint = pending["activity"]["fingerprint"]
            .as_str()
            .unwrap()
            .to_owned();
        // The other members and the root approve all at once.
        let voters: Vec<SigningKey> = members[1..]
            .iter()
            .cloned()
            .chain([s.key.clone()])
            .collect();
        let calls: Vec<_> = voters
            .into_iter()
            .map(|key| {
                let state = s.state.clone();
                let vote = body(
                    &s.org,
                    "ACTIVITY_TYPE_APPROVE_ACTIVITY",
                    json!({ "fingerprint": fingerprint }),
                );
                tokio::spawn(async move {
                    post(&state, "/public/v1/submit/approve_activity", vote, &key).await
                })
            })
            .collect();
        let mut answers = Vec::new();
        for call in calls {
            answers.push(call.await.unwrap());
        }
        for (status, answer) in &answers {
            assert_eq!(*status, 200, "{answer}");
        }
        // The root's approval ran the activity, whatever the members' votes did meanwhile.
        let (_, by_root) = answers.last().unwrap();
        assert_eq!(
            by_root["activity"]["status"], "ACTIVITY_STATUS_COMPLETED",
            "{by_root}"
        );
        // Every stored vote request has its entry in the activity's votes, each user once.
        let kept = s
            .state
            .store
            .vote_requests(s.org, &fingerprint)
            .await
            .unwrap();
        let query = json!({"organizationId": s.org.to_string(),
                           "activityId": pending["activity"]["id"]})
        .to_string();
        let (_, stored) = post(&s.state, "/public/v1/query/get_activity", query, &s.key).await;
        let votes = stored["activity"]["votes"].as_array().unwrap();
        assert_eq!(votes.len(), kept.len(), "{stored}");
        let mut users: Vec<&str> = votes
            .iter()
            .map(|v| v["userId"].as_str().unwrap())
            .collect();
        users.sort_unstable();
        users.dedup();
        assert_eq!(users.len(), votes.len(), "{stored}");
        assert!(users.contains(&root.as_str()));
    }
}
