//! Sessions answered with a session JWT ([`crate::auth::session`]):
//!
//! - `CREATE_READ_ONLY_SESSION`: a read-only session token for the caller, valid for an hour,
//!   which reads of the caller's organization (and its sub-organizations) accept instead of a
//!   stamp as `X-Session` — as `@turnkey/sdk-browser` sends it. It changes nothing in the
//!   organization: the token is checked by its signature, expiry and the user still existing.
//! - `STAMP_LOGIN`: registers the client's own P-256 public key as an expiring API key of the
//!   caller (default 15 minutes; `invalidateExisting` drops the caller's other expiring keys, as
//!   `create_read_write_session` does) and answers with a READ_WRITE session JWT naming it. The
//!   key, not the JWT, is the credential: the client stamps with it, and stamp verification
//!   refuses it once expired. Session profiles (`sessionProfileId`) are not supported.

use keyhold_shared::ApiKeyId;
use keyhold_shared::msg::ActivityResult;
use serde::Deserialize;
use serde_json::json;

use super::Allowed;
use super::envelope::Envelope;
use super::organization::{new_id, successor_for};
use super::sessions::expiration_seconds;
use super::users::add_key;
use crate::auth::session::{Claims, READ_ONLY, READ_WRITE, SessionSigner};
use crate::error::{Error, Result, clip};
use crate::org::{ApiKey, ApiKeyCurve, OrgState};

/// How long a read-only session lasts.
const READ_ONLY_SECONDS: u64 = 60 * 60;
/// Turnkey's default login session length.
const DEFAULT_LOGIN_SECONDS: u64 = 15 * 60;
/// Longest login session keyhold grants (a year), as for read-write sessions.
const MAX_LOGIN_SECONDS: u64 = 365 * 24 * 60 * 60;

fn organization_result(key: &str, value: serde_json::Value) -> ActivityResult {
    ActivityResult::Organization {
        result_json: json!({ key: value }).to_string(),
        sub_organization: None,
    }
}

pub fn read_only(
    sessions: &SessionSigner,
    org: &OrgState,
    allowed: &Allowed,
    now_ms: u64,
) -> Result<ActivityResult> {
    let user_id = allowed.submitter();
    let user = org
        .user(&user_id)
        .ok_or_else(|| Error::NotFound(format!("user {user_id} not found")))?;
    let exp = (now_ms / 1000).saturating_add(READ_ONLY_SECONDS);
    let session = sessions.issue(&Claims {
        exp,
        public_key: allowed.submitter_key().to_owned(),
        session_type: READ_ONLY.into(),
        user_id: user_id.to_string(),
        organization_id: org.org_id.to_string(),
    })?;
    Ok(organization_result(
        "createReadOnlySessionResult",
        json!({
            "organizationId": org.org_id.to_string(),
            "organizationName": org.name,
            "userId": user_id.to_string(),
            "username": user.name,
            "session": session,
            "sessionExpiry": exp.to_string(),
        }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StampLoginIntent {
    public_key: String,
    expiration_seconds: Option<String>,
    invalidate_existing: Option<bool>,
    session_profile_id: Option<String>,
}

/// The client's P-256 session key, compressed (what its stamps carry), from compressed or
/// uncompressed hex.
fn session_key(hex_key: &str) -> Result<Vec<u8>> {
    let bytes = hex::decode(hex_key.trim_start_matches("0x"))
        .map_err(|_| Error::invalid("publicKey must be hex"))?;
    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&bytes).map_err(|_| {
        Error::invalid(format!(
            "publicKey `{}` is not a P-256 public key",
            clip(hex_key)
        ))
    })?;
    Ok(key.to_sec1_point(true).as_bytes().to_vec())
}

pub fn stamp_login(
    sessions: &SessionSigner,
    org: &OrgState,
    body: &[u8],
    envelope: &Envelope,
    allowed: &Allowed,
    now_ms: u64,
) -> Result<(ActivityResult, Option<OrgState>)> {
    let intent: StampLoginIntent = envelope.parameters()?;
    if intent.session_profile_id.is_some_and(|p| !p.is_empty()) {
        return Err(Error::Unsupported(
            "session profiles (sessionProfileId)".into(),
        ));
    }
    let public_key = session_key(&intent.public_key)?;
    let seconds = expiration_seconds(
        intent.expiration_seconds.as_deref(),
        DEFAULT_LOGIN_SECONDS,
        MAX_LOGIN_SECONDS,
    )?;
    let expires_at_ms = now_ms.saturating_add(seconds.saturating_mul(1000));
    let user = allowed.submitter();

    let mut state = successor_for(org, body, envelope, now_ms)?;
    let invalidate = intent.invalidate_existing.unwrap_or(false);
    let record = state
        .user_mut(&user)
        .ok_or_else(|| Error::NotFound(format!("user {user} not found")))?;
    record.api_keys.retain(|k| match k.expires_at_ms {
        None => true,
        Some(expiry) => now_ms < expiry && !invalidate,
    });
    add_key(
        &mut state,
        &user,
        ApiKey {
            id: ApiKeyId(new_id()?),
            name: format!("Login Session - {now_ms}"),
            curve: ApiKeyCurve::P256,
            public_key: public_key.clone(),
            created_at_ms: now_ms,
            expires_at_ms: Some(expires_at_ms),
        },
    )?;
    let session = sessions.issue(&Claims {
        exp: expires_at_ms / 1000,
        public_key: hex::encode(&public_key),
        session_type: READ_WRITE.into(),
        user_id: user.to_string(),
        organization_id: org.org_id.to_string(),
    })?;
    Ok((
        organization_result("stampLoginResult", json!({ "session": session })),
        Some(state),
    ))
}
