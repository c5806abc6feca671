//! How the stores find an activity: by its request (Turnkey's idempotency — the same POST body
//! is the same activity) and, for votes, by fingerprint alone.
//!
//! A unique index on `(org_id, fingerprint)` put every new activity on a random leaf page (the
//! fingerprint is a SHA-256): one page more per activity in every group commit, most of the
//! pages each checkpoint copied and synced, and on a table larger than memory a random read per
//! insert. The index is `(org_id, request_ms, fingerprint)` instead, `request_ms` being the
//! body's `timestampMs`: the same body has the same timestamp, so it is as unique as the
//! fingerprint, and new activities go to the end of their organization's range. In the signing
//! benchmark at concurrency 8 the request's p99 was lower in 5 of 5 alternating pairs (e.g.
//! 5.50/5.81/5.67 → 4.86/4.89/4.94 ms); a throwaway build that timed the commit put its p99 at
//! 2.3–2.7 ms against 3.4–3.6 in the same minutes.
//!
//! A vote names its activity by fingerprint only. It is looked up in a partial index of the
//! activities that were created awaiting consensus (`consensus`), which activities completed
//! (or refused) at once never enter; a vote for one of those finds none (404, as for an unknown
//! fingerprint; before, it was answered with the activity).

use std::borrow::Cow;

use serde::Deserialize;

/// The status of an activity that waits for votes: created with it, it enters the votes' index.
pub(super) const CONSENSUS_NEEDED: &str = "ACTIVITY_STATUS_CONSENSUS_NEEDED";

/// The request time the stores index an activity by: the body's `timestampMs`, read as the
/// enclave reads it (a `u64` in a string); 0 when it has none (such a body is never executed,
/// but the stores still agree on where it would be).
pub fn request_ms(body: &[u8]) -> i64 {
    #[derive(Deserialize)]
    struct Timestamp<'a> {
        #[serde(rename = "timestampMs", borrow)]
        timestamp_ms: Option<Cow<'a, str>>,
    }
    match serde_json::from_slice::<Timestamp<'_>>(body) {
        Ok(Timestamp {
            timestamp_ms: Some(ts),
        }) => request_ms_of(&ts),
        _ => 0,
    }
}

/// [`request_ms`] of a body whose `timestampMs` string the caller has already parsed out.
pub fn request_ms_of(timestamp_ms: &str) -> i64 {
    timestamp_ms
        .parse::<u64>()
        .ok()
        .and_then(|ms| i64::try_from(ms).ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_timestamp_as_the_enclave_reads_it() {
        let body = br#"{"type":"ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2","timestampMs":"1746736509954","organizationId":"o","parameters":{}}"#;
        assert_eq!(request_ms(body), 1_746_736_509_954);
        // Key order, escapes and a nested `timestampMs` do not matter: the top-level one counts.
        let body = br#"{"parameters":{"timestampMs":"5"},"timestampMs":"\u0031746736509954"}"#;
        assert_eq!(request_ms(body), 1_746_736_509_954);
        // What `u64::from_str` accepts (as the enclave), and 0 for everything else.
        assert_eq!(request_ms_of("+0012"), 12);
        for bad in ["", " 12", "12 ", "-1", "1e3", "18446744073709551615", "abc"] {
            assert_eq!(request_ms_of(bad), 0, "{bad:?}");
        }
        assert_eq!(request_ms(br#"{"timestampMs":1746736509954}"#), 0);
        assert_eq!(request_ms(br#"{"type":"x"}"#), 0);
        assert_eq!(request_ms(b"not json"), 0);
        assert_eq!(request_ms(br#"{"timestampMs":"1","timestampMs":"2"}"#), 0);
    }
}
