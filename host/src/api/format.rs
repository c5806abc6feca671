//! Turnkey's JSON shapes for what the host stores.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD_INDIFFERENT;
use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use keyhold_shared::msg::PolicyEvaluation;

use crate::store::{
    AccountRecord, ActivityRecord, PolicyEvaluationRecord, PrivateKeyRecord, WalletRecord,
};

/// `{"seconds": "...", "nanos": "..."}` (proto3 JSON: int64 as strings).
pub fn timestamp(ms: u64) -> Value {
    json!({"seconds": (ms / 1000).to_string(), "nanos": ((ms % 1000) * 1_000_000).to_string()})
}

/// The intent key for an activity type, e.g. `ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2` →
/// `signRawPayloadIntentV2`.
pub fn intent_key(activity_type: &str) -> String {
    let mut out = String::new();
    let name = activity_type
        .strip_prefix("ACTIVITY_TYPE_")
        .unwrap_or(activity_type);
    let mut version = None;
    let mut words: Vec<&str> = name.split('_').collect();
    if let Some(last) = words.last()
        && last.len() > 1
        && last.starts_with('V')
        && last.chars().skip(1).all(|c| c.is_ascii_digit())
    {
        version = Some(last.to_string());
        words.pop();
    }
    for (i, word) in words.iter().enumerate() {
        let lower = word.to_lowercase();
        if i == 0 {
            out.push_str(&lower);
        } else {
            let mut chars = lower.chars();
            if let Some(first) = chars.next() {
                out.push(first.to_ascii_uppercase());
                out.extend(chars);
            }
        }
    }
    out.push_str("Intent");
    if let Some(v) = version {
        out.push_str(&v);
    }
    out
}

/// The `parameters` of the request body `record` stores (its intent).
pub fn parameters(record: &ActivityRecord) -> Value {
    serde_json::from_str::<Value>(&record.body)
        .ok()
        .and_then(|mut b| b.get_mut("parameters").map(Value::take))
        .unwrap_or_else(|| json!({}))
}

pub fn activity(record: &ActivityRecord) -> Value {
    let parameters = parameters(record);
    let mut intent = serde_json::Map::new();
    intent.insert(intent_key(&record.activity_type), parameters);
    json!({
        "id": record.id.to_string(),
        "organizationId": record.org.to_string(),
        "status": record.status,
        "type": record.activity_type,
        "intent": intent,
        "result": serde_json::from_str::<Value>(&record.result).unwrap_or_else(|_| json!({})),
        "votes": serde_json::from_str::<Value>(&record.votes).unwrap_or_else(|_| json!([])),
        "fingerprint": record.fingerprint,
        "canApprove": false,
        "canReject": false,
        "createdAt": timestamp(record.created_at_ms),
        "updatedAt": timestamp(record.updated_at_ms),
    })
}

/// [`activity`] as JSON text, for the answer to the request that stored `record`: written
/// straight from the record's columns (its result and votes are JSON text already), with no
/// `Value` tree built and serialised on the way (that was ~10% of the host's CPU per signing
/// request). Same object as [`activity`], keys in another order.
pub fn activity_text(record: &ActivityRecord, parameters: &Value) -> String {
    let view = ActivityView {
        id: record.id.to_string(),
        organization_id: record.org.to_string(),
        status: &record.status,
        activity_type: &record.activity_type,
        intent: Intent {
            key: intent_key(&record.activity_type),
            parameters,
        },
        result: raw(&record.result).or_else(|| raw("{}")),
        votes: raw(&record.votes).or_else(|| raw("[]")),
        fingerprint: &record.fingerprint,
        can_approve: false,
        can_reject: false,
        created_at: Timestamp::of(record.created_at_ms),
        updated_at: Timestamp::of(record.updated_at_ms),
    };
    // Serialising borrowed strings and parsed-once JSON into a String cannot fail.
    serde_json::to_string(&view).unwrap_or_default()
}

/// `text` as JSON to splice in, if it is JSON.
fn raw(text: &str) -> Option<&RawValue> {
    serde_json::from_str::<&RawValue>(text).ok()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ActivityView<'a> {
    id: String,
    organization_id: String,
    status: &'a str,
    #[serde(rename = "type")]
    activity_type: &'a str,
    intent: Intent<'a>,
    result: Option<&'a RawValue>,
    votes: Option<&'a RawValue>,
    fingerprint: &'a str,
    can_approve: bool,
    can_reject: bool,
    created_at: Timestamp,
    updated_at: Timestamp,
}

/// `{"<intent key>": parameters}`.
struct Intent<'a> {
    key: String,
    parameters: &'a Value,
}

impl Serialize for Intent<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(&self.key, self.parameters)?;
        map.end()
    }
}

/// [`timestamp`] as a type.
#[derive(Serialize)]
struct Timestamp {
    seconds: String,
    nanos: String,
}

impl Timestamp {
    fn of(ms: u64) -> Self {
        Timestamp {
            seconds: (ms / 1000).to_string(),
            nanos: ((ms % 1000) * 1_000_000).to_string(),
        }
    }
}

/// One vote as Turnkey shows it in `activity.votes`, serialised straight to text: the
/// `serde_json::json!` tree it replaced cost a dozen allocations and a key sort on every signing
/// request (~4% of the host's CPU per request). The same JSON object; the text differs only in
/// the order of `seconds` and `nanos` in its timestamps (and a stamp with a repeated key now
/// shows nulls instead of the last value).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Vote<'a> {
    activity_id: &'a str,
    created_at: Timestamp,
    id: String,
    message: &'a str,
    public_key: Value,
    scheme: Value,
    selection: &'static str,
    signature: Value,
    user: VoteUser<'a>,
    user_id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VoteUser<'a> {
    api_keys: [(); 0],
    authenticators: [(); 0],
    created_at: Timestamp,
    mfa_policies: [(); 0],
    oauth_providers: [(); 0],
    updated_at: Timestamp,
    user_id: &'a str,
    user_name: &'a str,
    user_tags: [(); 0],
}

/// The parts of a stamp a vote shows.
#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct StampParts {
    public_key: Option<Value>,
    signature: Option<Value>,
    scheme: Option<Value>,
}

/// An approving vote by `user_id` on `activity_id` for the request `body` stamped with
/// `stamp_header` (the `X-Stamp` value; its public key, signature and scheme are shown). The
/// submitter's stamp counts as the first approval, as Turnkey lists it.
pub fn vote<'a>(
    activity_id: &'a str,
    user_id: &'a str,
    user_name: &'a str,
    body: &'a str,
    stamp_header: Option<&str>,
    created_at_ms: u64,
) -> Vote<'a> {
    let stamp: StampParts = stamp_header
        .and_then(|h| URL_SAFE_NO_PAD_INDIFFERENT.decode(h.trim()).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    Vote {
        activity_id,
        created_at: Timestamp::of(created_at_ms),
        id: vote_id(activity_id, user_id),
        message: body,
        public_key: stamp.public_key.unwrap_or(Value::Null),
        scheme: stamp.scheme.unwrap_or(Value::Null),
        selection: "VOTE_SELECTION_APPROVED",
        signature: stamp.signature.unwrap_or(Value::Null),
        user: VoteUser {
            api_keys: [],
            authenticators: [],
            created_at: Timestamp::of(created_at_ms),
            mfa_policies: [],
            oauth_providers: [],
            updated_at: Timestamp::of(created_at_ms),
            user_id,
            user_name,
            user_tags: [],
        },
        user_id,
    }
}

impl Vote<'_> {
    /// The same vote, rejecting.
    pub fn rejecting(self) -> Self {
        Vote {
            selection: "VOTE_SELECTION_REJECTED",
            ..self
        }
    }
}

/// A stable id for a vote, derived from the activity and the voter.
pub fn vote_id(activity_id: &str, user_id: &str) -> String {
    uuid_of(&format!("{activity_id}/{user_id}"))
}

/// A stable id for a policy evaluation, derived from the id the enclave gave its step and the
/// step's time (both signed in the step's receipt). Time-ordered (UUIDv7 layout), so the store's
/// primary-key index on it grows at one end rather than rewriting a random page per activity.
pub fn evaluation_id(step_id: &str, executed_at_ms: u64) -> String {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(format!("policy-evaluation/{step_id}"));
    let mut random = [0u8; 10];
    random.copy_from_slice(&hash[..10]);
    keyhold_shared::Uuid::new_v7(executed_at_ms, random).to_string()
}

fn uuid_of(text: &str) -> String {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(text);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash[..16]);
    keyhold_shared::Uuid::new_v4(bytes).to_string()
}

/// Turnkey's `policyEvaluations` array of one evaluation: `[{policyId, outcome}]`.
pub fn policy_outcomes(evaluations: &[PolicyEvaluation]) -> Value {
    evaluations
        .iter()
        .map(|e| json!({"policyId": e.policy_id, "outcome": e.outcome.as_turnkey()}))
        .collect()
}

/// Turnkey's `externalactivityv1PolicyEvaluation`.
pub fn policy_evaluation(e: &PolicyEvaluationRecord) -> Value {
    json!({
        "id": e.id,
        "activityId": e.activity.to_string(),
        "organizationId": e.org.to_string(),
        "voteId": e.vote_id,
        "policyEvaluations": serde_json::from_str::<Value>(&e.policy_evaluations)
            .unwrap_or_else(|_| json!([])),
        "createdAt": timestamp(e.created_at_ms),
    })
}

pub fn private_key(k: &PrivateKeyRecord) -> Value {
    json!({
        "privateKeyId": k.id.to_string(),
        "publicKey": k.public_key,
        "privateKeyName": k.name,
        "curve": k.curve,
        "addresses": k.addresses.iter().map(|(format, address)| json!({"format": format, "address": address})).collect::<Vec<_>>(),
        "privateKeyTags": k.tags,
        "createdAt": timestamp(k.created_at_ms),
        "updatedAt": timestamp(k.updated_at_ms),
        "exported": k.exported,
        "imported": k.imported,
    })
}

pub fn wallet(w: &WalletRecord) -> Value {
    json!({
        "walletId": w.id.to_string(),
        "walletName": w.name,
        "createdAt": timestamp(w.created_at_ms),
        "updatedAt": timestamp(w.updated_at_ms),
        "exported": w.exported,
        "imported": w.imported,
    })
}

pub fn account(a: &AccountRecord, wallet_details: Option<&WalletRecord>) -> Value {
    let mut v = json!({
        "walletAccountId": a.id,
        "organizationId": a.org.to_string(),
        "walletId": a.wallet.to_string(),
        "curve": a.curve,
        "pathFormat": a.path_format,
        "path": a.path,
        "addressFormat": a.address_format,
        "address": a.address,
        "createdAt": timestamp(a.created_at_ms),
        "updatedAt": timestamp(a.created_at_ms),
        "publicKey": a.public_key,
    });
    if a.address_format == "ADDRESS_FORMAT_ETHEREUM" {
        v["caip2Prefix"] = json!("eip155");
    }
    if let Some(w) = wallet_details {
        v["walletDetails"] = wallet(w);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The typed vote is the JSON object votes were built as before (kept here as the
    /// reference), stamp fields included; a stamp that does not decode shows nulls.
    #[test]
    fn vote_is_the_turnkey_vote_object() {
        let stamp = URL_SAFE_NO_PAD_INDIFFERENT.encode(
            br#"{"publicKey":"02ab","scheme":"SIGNATURE_SCHEME_TK_API_P256","signature":"30440220"}"#,
        );
        let at = 1_732_617_600_123;
        let reference = |stamp: Value, selection: &str| {
            json!({
                "id": vote_id("act-1", "user-1"),
                "userId": "user-1",
                "user": {
                    "userId": "user-1",
                    "userName": "Alice \"A\"",
                    "authenticators": [],
                    "apiKeys": [],
                    "userTags": [],
                    "oauthProviders": [],
                    "createdAt": timestamp(at),
                    "updatedAt": timestamp(at),
                    "mfaPolicies": [],
                },
                "activityId": "act-1",
                "selection": selection,
                "message": "{\"type\":\"x\"}",
                "publicKey": stamp.get("publicKey").cloned().unwrap_or(Value::Null),
                "signature": stamp.get("signature").cloned().unwrap_or(Value::Null),
                "scheme": stamp.get("scheme").cloned().unwrap_or(Value::Null),
                "createdAt": timestamp(at),
            })
        };
        let made = |header: Option<&str>| {
            vote(
                "act-1",
                "user-1",
                "Alice \"A\"",
                "{\"type\":\"x\"}",
                header,
                at,
            )
        };
        let parts = json!({"publicKey": "02ab", "scheme": "SIGNATURE_SCHEME_TK_API_P256", "signature": "30440220"});
        assert_eq!(
            serde_json::to_value(made(Some(&stamp))).unwrap(),
            reference(parts.clone(), "VOTE_SELECTION_APPROVED")
        );
        assert_eq!(
            serde_json::to_value(made(Some(&stamp)).rejecting()).unwrap(),
            reference(parts, "VOTE_SELECTION_REJECTED")
        );
        assert_eq!(
            serde_json::to_value(made(Some("not base64!"))).unwrap(),
            reference(json!({}), "VOTE_SELECTION_APPROVED")
        );
        // The text, parsed, is the same object (what the store keeps).
        let text = serde_json::to_string(&[made(None)]).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json!([reference(json!({}), "VOTE_SELECTION_APPROVED")])
        );
    }

    #[test]
    fn activity_text_is_the_activity_object() {
        let record = ActivityRecord {
            id: "0190b2a4-0000-7000-8000-000000000001".parse().unwrap(),
            org: "0190b2a4-0000-7000-8000-000000000002".parse().unwrap(),
            fingerprint: "sha256:00ff".into(),
            activity_type: "ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2".into(),
            status: "ACTIVITY_STATUS_COMPLETED".into(),
            body: r#"{"type":"ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2","parameters":{"signWith":"0xab","payload":"\u00e9\"q"}}"#.into(),
            result: r#"{"signRawPayloadResult":{"r":"01","s":"02","v":"00"}}"#.into(),
            votes: r#"[{"id":"v","message":"{\"a\":1}"}]"#.into(),
            created_at_ms: 1_700_000_000_123,
            updated_at_ms: 1_700_000_000_456,
        };
        let parameters = json!({"signWith": "0xab", "payload": "é\"q"});
        let text = activity_text(&record, &parameters);
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            activity(&record)
        );
        // Columns that are not JSON fall back as `activity` does.
        let broken = ActivityRecord {
            result: "not json".into(),
            votes: "[".into(),
            ..record
        };
        let text = activity_text(&broken, &parameters);
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            activity(&broken)
        );
    }

    #[test]
    fn intent_keys_match_turnkey() {
        assert_eq!(
            intent_key("ACTIVITY_TYPE_CREATE_WALLET"),
            "createWalletIntent"
        );
        assert_eq!(
            intent_key("ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2"),
            "signRawPayloadIntentV2"
        );
        assert_eq!(
            intent_key("ACTIVITY_TYPE_CREATE_SUB_ORGANIZATION_V8"),
            "createSubOrganizationIntentV8"
        );
    }

    #[test]
    fn timestamps_are_strings() {
        assert_eq!(
            timestamp(1_732_617_600_123),
            json!({"seconds": "1732617600", "nanos": "123000000"})
        );
    }
}
