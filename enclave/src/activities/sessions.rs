//! `CREATE_READ_WRITE_SESSION_V2`: a fresh P-256 API key for a user (the caller unless
//! `userId` says otherwise), valid for `expirationSeconds` (Turnkey's default: 15 minutes),
//! whose private key goes back only HPKE-encrypted to the client's `targetPublicKey` as a
//! credential bundle (spec §7.4). The key is an ordinary API key with an expiry, so stamp
//! verification refuses it once expired. Expired keys of the user are dropped here, which keeps
//! repeated sessions from filling the user's key list; `invalidateExisting` also drops the
//! user's unexpired session keys (keys with an expiry; keys without one are never touched).

use keyhold_shared::ApiKeyId;
use p256::ecdsa::SigningKey;
use serde::Deserialize;
use serde_json::json;

use super::Allowed;
use super::envelope::Envelope;
use super::organization::{check_name, new_id, successor_for};
use super::users::{add_key, user_id};
use crate::bundles::credential;
use crate::bundles::hpke_p256::TargetKey;
use crate::error::{Error, Result};
use crate::org::{ApiKey, ApiKeyCurve, OrgState};
use crate::secrets::random_secret;

/// Turnkey's default session length.
const DEFAULT_EXPIRATION_SECONDS: u64 = 15 * 60;
/// Longest session keyhold grants (a year): a session key is a bearer credential.
const MAX_EXPIRATION_SECONDS: u64 = 365 * 24 * 60 * 60;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateReadWriteSessionIntentV2 {
    target_public_key: String,
    user_id: Option<String>,
    api_key_name: Option<String>,
    expiration_seconds: Option<String>,
    invalidate_existing: Option<bool>,
}

pub fn read_write(
    org: &OrgState,
    body: &[u8],
    envelope: &Envelope,
    allowed: Allowed,
    now_ms: u64,
) -> Result<(keyhold_shared::msg::ActivityResult, Option<OrgState>)> {
    let intent: CreateReadWriteSessionIntentV2 = envelope.parameters()?;
    let target = TargetKey::parse_hex("targetPublicKey", &intent.target_public_key)?;
    let user = match &intent.user_id {
        Some(id) if !id.is_empty() => user_id("userId", id, org)?,
        _ => allowed.submitter(),
    };
    let seconds = expiration_seconds(
        intent.expiration_seconds.as_deref(),
        DEFAULT_EXPIRATION_SECONDS,
        MAX_EXPIRATION_SECONDS,
    )?;
    let name = intent
        .api_key_name
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("Read Write Session - {now_ms}"));
    check_name("apiKeyName", &name)?;

    let secret = random_secret::<32>()?;
    let key = SigningKey::from_slice(secret.as_ref())
        .map_err(|_| Error::Internal("session key out of range"))?;
    let api_key_id = ApiKeyId(new_id()?);
    let api_key = ApiKey {
        id: api_key_id,
        name,
        curve: ApiKeyCurve::P256,
        public_key: key.verifying_key().to_sec1_point(true).as_bytes().to_vec(),
        created_at_ms: now_ms,
        expires_at_ms: Some(now_ms.saturating_add(seconds.saturating_mul(1000))),
    };

    let mut state = successor_for(org, body, envelope, now_ms)?;
    let invalidate = intent.invalidate_existing.unwrap_or(false);
    let record = state
        .user_mut(&user)
        .ok_or_else(|| Error::NotFound(format!("user {user} not found")))?;
    record.api_keys.retain(|k| match k.expires_at_ms {
        None => true,
        Some(expiry) => now_ms < expiry && !invalidate,
    });
    let user_name = record.name.clone();
    add_key(&mut state, &user, api_key)?;

    let result = json!({"createReadWriteSessionResultV2": {
        "organizationId": org.org_id.to_string(),
        "organizationName": org.name,
        "userId": user.to_string(),
        "username": user_name,
        "apiKeyId": api_key_id.to_string(),
        "credentialBundle": credential::bundle(&target, secret.as_ref())?,
    }});
    Ok((
        keyhold_shared::msg::ActivityResult::Organization {
            result_json: result.to_string(),
            sub_organization: None,
        },
        Some(state),
    ))
}

/// A session's `expirationSeconds` (a decimal string in Turnkey's intents): `default` when
/// absent, else a number from 1 to `max`.
pub(super) fn expiration_seconds(value: Option<&str>, default: u64, max: u64) -> Result<u64> {
    match value {
        None => Ok(default),
        Some(s) => s
            .parse::<u64>()
            .ok()
            .filter(|s| (1..=max).contains(s))
            .ok_or_else(|| {
                Error::invalid(format!(
                    "expirationSeconds must be a number of seconds from 1 to {max}"
                ))
            }),
    }
}
