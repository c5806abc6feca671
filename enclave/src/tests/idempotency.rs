//! The same stamped body twice is the same activity (Turnkey's idempotency), found again through
//! the host's HTTP API and its store — whatever way the body spells its `timestampMs`, since the
//! store files a request under the timestamp it reads from the body (`store/request_key.rs`).

use serde_json::Value;

use super::audit_host::{post, stack};
use super::support::create_wallet_body;
use crate::enclave::now_ms;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resubmitted_body_is_the_same_activity_however_its_timestamp_is_spelled() {
    let s = stack().await;
    let created = post(
        &s.state,
        "/public/v1/submit/create_wallet",
        create_wallet_body(&s.org, "w", &["m/44'/60'/0'/0/0"]),
        &s.key,
    )
    .await;
    let address = created["activity"]["result"]["createWalletResult"]["addresses"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let now = now_ms().to_string();
    // `u64::from_str` (the enclave's reading) takes a leading `+`; JSON may escape any digit.
    let (first_digit, rest) = now.split_at(1);
    let spellings = [
        now.clone(),
        format!("+{now}"),
        format!("\\u003{first_digit}{rest}"),
    ];
    for (n, timestamp) in spellings.iter().enumerate() {
        let body = format!(
            r#"{{"type":"ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2","timestampMs":"{timestamp}","organizationId":"{org}","parameters":{{"signWith":"{address}","payload":"0{n}","encoding":"PAYLOAD_ENCODING_HEXADECIMAL","hashFunction":"HASH_FUNCTION_KECCAK256"}}}}"#,
            org = s.org,
        );
        let path = "/public/v1/submit/sign_raw_payload";
        let first = post(&s.state, path, body.clone(), &s.key).await;
        let again = post(&s.state, path, body.clone(), &s.key).await;
        let id = |v: &Value| v["activity"]["id"].as_str().unwrap().to_owned();
        assert_eq!(id(&first), id(&again), "{timestamp}: another activity");
        assert_eq!(
            first["activity"]["result"], again["activity"]["result"],
            "{timestamp}"
        );
        let stored = s
            .state
            .store
            .find_activity(
                s.org,
                keyhold_host::store::request_ms(body.as_bytes()),
                first["activity"]["fingerprint"].as_str().unwrap(),
            )
            .await
            .unwrap()
            .expect("stored under the body's timestamp");
        assert_eq!(stored.id.to_string(), id(&first));
        assert_eq!(
            keyhold_host::store::request_ms(body.as_bytes()).to_string(),
            now,
            "{timestamp}"
        );
    }
}
