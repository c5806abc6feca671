//! Users, API keys, user tags and the root quorum: `CREATE_USERS` (V2–V4), `DELETE_USERS`,
//! `CREATE_API_KEYS` (V1, V2), `DELETE_API_KEYS`, `CREATE_USER_TAG`, `UPDATE_USER_TAG`,
//! `DELETE_USER_TAGS`, `UPDATE_ROOT_QUORUM`. Shapes and result keys are Turnkey's.

use keyhold_shared::{ApiKeyId, UserId};
use serde::Deserialize;
use serde_json::{Value, json};

use super::authenticators::{AuthenticatorParams, add_authenticator};
use super::envelope::Envelope;
use super::organization::{check_name, new_id, parse_uuid};
use crate::auth::schemes::PublicKey;
use crate::error::{Error, Result, clip};
use crate::org::{
    ApiKey, ApiKeyCurve, MAX_API_KEYS_PER_USER, MAX_TAGS, MAX_USERS, OrgState, Tag, User,
};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyParams {
    api_key_name: String,
    public_key: String,
    /// Absent in the V1 shape (`apiApiKeyParams`): P-256.
    curve_type: Option<String>,
    expiration_seconds: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UserParams {
    pub(super) user_name: String,
    pub(super) user_email: Option<String>,
    pub(super) user_phone_number: Option<String>,
    #[serde(default)]
    pub(super) api_keys: Vec<ApiKeyParams>,
    #[serde(default)]
    pub(super) authenticators: Vec<AuthenticatorParams>,
    #[serde(default)]
    pub(super) oauth_providers: Vec<Value>,
    #[serde(default)]
    pub(super) user_tags: Vec<String>,
}

/// Builds an API key from Turnkey's parameters: a compressed SEC1 point (P-256, secp256k1) or a
/// 32-byte Ed25519 key, in hex; `curveType` absent (the V1 shape) means P-256.
pub fn api_key(p: &ApiKeyParams, now_ms: u64) -> Result<ApiKey> {
    check_name("apiKeyName", &p.api_key_name)?;
    let curve = match p.curve_type.as_deref() {
        None => ApiKeyCurve::P256,
        Some(name) => ApiKeyCurve::from_turnkey(name).ok_or_else(|| {
            Error::invalid(format!(
                "curveType `{}` must be API_KEY_CURVE_P256, API_KEY_CURVE_SECP256K1 or API_KEY_CURVE_ED25519",
                clip(name)
            ))
        })?,
    };
    let public_key = hex::decode(p.public_key.trim_start_matches("0x"))
        .map_err(|_| Error::invalid("publicKey must be hex"))?;
    PublicKey::parse(curve, &public_key)
        .map_err(|why| Error::invalid(format!("publicKey {why}")))?;
    let expires_at_ms = match &p.expiration_seconds {
        None => None,
        Some(s) => {
            let secs: u64 = s
                .parse()
                .map_err(|_| Error::invalid("expirationSeconds must be a number of seconds"))?;
            Some(now_ms.saturating_add(secs.saturating_mul(1000)))
        }
    };
    Ok(ApiKey {
        id: ApiKeyId(new_id()?),
        name: p.api_key_name.clone(),
        curve,
        public_key,
        created_at_ms: now_ms,
        expires_at_ms,
    })
}

/// Adds `key` to `user_id`, refusing a public key the organization already knows (a stamp
/// must identify one credential).
pub(super) fn add_key(state: &mut OrgState, user_id: &UserId, key: ApiKey) -> Result<()> {
    if state.find_api_key(&key.public_key).is_some() {
        return Err(Error::invalid(
            "an API key with this public key already exists in the organization",
        ));
    }
    let user = state
        .user_mut(user_id)
        .ok_or_else(|| Error::NotFound(format!("user {user_id} not found")))?;
    if user.api_keys.len() >= MAX_API_KEYS_PER_USER {
        return Err(Error::invalid(format!(
            "a user holds at most {MAX_API_KEYS_PER_USER} API keys"
        )));
    }
    user.api_keys.push(key);
    Ok(())
}

pub(super) fn check_tags(state: &OrgState, tags: &[String]) -> Result<()> {
    for t in tags {
        if !state.user_tags.iter().any(|tag| &tag.id == t) {
            return Err(Error::NotFound(format!(
                "user tag `{}` not found",
                t.chars().take(64).collect::<String>()
            )));
        }
    }
    Ok(())
}

pub(super) fn user_id(field: &str, value: &str, state: &OrgState) -> Result<UserId> {
    let id: UserId = parse_uuid(field, value)?;
    if state.user(&id).is_none() {
        return Err(Error::NotFound(format!("user {id} not found")));
    }
    Ok(id)
}

/// Creates a user from Turnkey's user parameters; also used for a sub-organization's root users.
pub(super) fn new_user(state: &mut OrgState, p: &UserParams, now_ms: u64) -> Result<UserId> {
    check_name("userName", &p.user_name)?;
    if !p.oauth_providers.is_empty() {
        return Err(Error::Unsupported("OAuth providers".into()));
    }
    for (field, value) in [
        ("userEmail", &p.user_email),
        ("userPhoneNumber", &p.user_phone_number),
    ] {
        if value.as_ref().is_some_and(|v| v.len() > 256) {
            return Err(Error::invalid(format!("{field} must be at most 256 bytes")));
        }
    }
    check_tags(state, &p.user_tags)?;
    if state.users.len() >= MAX_USERS {
        return Err(Error::invalid(format!(
            "an organization has at most {MAX_USERS} users"
        )));
    }
    let id = UserId(new_id()?);
    let mut tags = p.user_tags.clone();
    tags.sort();
    tags.dedup();
    state.users.push(User {
        id,
        name: p.user_name.clone(),
        email: p.user_email.clone().filter(|e| !e.is_empty()),
        phone_number: p.user_phone_number.clone().filter(|e| !e.is_empty()),
        api_keys: Vec::new(),
        tags,
        created_at_ms: now_ms,
        updated_at_ms: now_ms,
        authenticators: Vec::new(),
    });
    for k in &p.api_keys {
        add_key(state, &id, api_key(k, now_ms)?)?;
    }
    for a in &p.authenticators {
        add_authenticator(state, &id, a, now_ms)?;
    }
    Ok(id)
}

pub fn create_users(state: &mut OrgState, envelope: &Envelope, now_ms: u64) -> Result<Value> {
    #[derive(Deserialize)]
    struct Intent {
        users: Vec<UserParams>,
    }
    let intent: Intent = envelope.parameters()?;
    if intent.users.is_empty() {
        return Err(Error::invalid("users must not be empty"));
    }
    let ids = intent
        .users
        .iter()
        .map(|u| new_user(state, u, now_ms).map(|id| id.to_string()))
        .collect::<Result<Vec<_>>>()?;
    Ok(json!({"createUsersResult": {"userIds": ids}}))
}

pub fn delete_users(state: &mut OrgState, envelope: &Envelope, _now_ms: u64) -> Result<Value> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Intent {
        user_ids: Vec<String>,
    }
    let intent: Intent = envelope.parameters()?;
    let mut deleted = Vec::new();
    for id in &intent.user_ids {
        let id = user_id("userIds", id, state)?;
        state.users.retain(|u| u.id != id);
        deleted.push(id.to_string());
    }
    Ok(json!({"deleteUsersResult": {"userIds": deleted}}))
}

pub fn create_api_keys(state: &mut OrgState, envelope: &Envelope, now_ms: u64) -> Result<Value> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Intent {
        api_keys: Vec<ApiKeyParams>,
        user_id: String,
    }
    let intent: Intent = envelope.parameters()?;
    let user = user_id("userId", &intent.user_id, state)?;
    let mut ids = Vec::new();
    for k in &intent.api_keys {
        let key = api_key(k, now_ms)?;
        ids.push(key.id.to_string());
        add_key(state, &user, key)?;
    }
    Ok(json!({"createApiKeysResult": {"apiKeyIds": ids}}))
}

pub fn delete_api_keys(state: &mut OrgState, envelope: &Envelope, now_ms: u64) -> Result<Value> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Intent {
        user_id: String,
        api_key_ids: Vec<String>,
    }
    let intent: Intent = envelope.parameters()?;
    let id = user_id("userId", &intent.user_id, state)?;
    let user = state
        .user_mut(&id)
        .ok_or_else(|| Error::NotFound(format!("user {id} not found")))?;
    for key in &intent.api_key_ids {
        let key: ApiKeyId = parse_uuid("apiKeyIds", key)?;
        let before = user.api_keys.len();
        user.api_keys.retain(|k| k.id != key);
        if user.api_keys.len() == before {
            return Err(Error::NotFound(format!("API key {key} not found")));
        }
    }
    user.updated_at_ms = now_ms;
    Ok(json!({"deleteApiKeysResult": {"apiKeyIds": intent.api_key_ids}}))
}

pub fn create_user_tag(state: &mut OrgState, envelope: &Envelope, now_ms: u64) -> Result<Value> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Intent {
        user_tag_name: String,
        #[serde(default)]
        user_ids: Vec<String>,
    }
    let intent: Intent = envelope.parameters()?;
    check_name("userTagName", &intent.user_tag_name)?;
    if state
        .user_tags
        .iter()
        .any(|t| t.name == intent.user_tag_name)
    {
        return Err(Error::invalid("a user tag with this name already exists"));
    }
    if state.user_tags.len() >= MAX_TAGS {
        return Err(Error::invalid(format!("at most {MAX_TAGS} user tags")));
    }
    let tag_id = new_id()?.to_string();
    state.user_tags.push(Tag {
        id: tag_id.clone(),
        name: intent.user_tag_name,
        created_at_ms: now_ms,
        updated_at_ms: now_ms,
    });
    for id in &intent.user_ids {
        tag_user(state, id, &tag_id, true, now_ms)?;
    }
    Ok(json!({"createUserTagResult": {"userTagId": tag_id, "userIds": intent.user_ids}}))
}

fn tag_user(state: &mut OrgState, user: &str, tag: &str, add: bool, now_ms: u64) -> Result<()> {
    let id = user_id("userIds", user, state)?;
    let user = state
        .user_mut(&id)
        .ok_or_else(|| Error::NotFound(format!("user {id} not found")))?;
    user.tags.retain(|t| t != tag);
    if add {
        user.tags.push(tag.to_owned());
    }
    user.updated_at_ms = now_ms;
    Ok(())
}

pub fn update_user_tag(state: &mut OrgState, envelope: &Envelope, now_ms: u64) -> Result<Value> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Intent {
        user_tag_id: String,
        new_user_tag_name: Option<String>,
        #[serde(default)]
        add_user_ids: Vec<String>,
        #[serde(default)]
        remove_user_ids: Vec<String>,
    }
    let intent: Intent = envelope.parameters()?;
    check_tags(state, std::slice::from_ref(&intent.user_tag_id))?;
    if let Some(name) = intent.new_user_tag_name.filter(|n| !n.is_empty()) {
        check_name("newUserTagName", &name)?;
        if state
            .user_tags
            .iter()
            .any(|t| t.name == name && t.id != intent.user_tag_id)
        {
            return Err(Error::invalid("a user tag with this name already exists"));
        }
        if let Some(tag) = state
            .user_tags
            .iter_mut()
            .find(|t| t.id == intent.user_tag_id)
        {
            tag.name = name;
            tag.updated_at_ms = now_ms;
        }
    }
    for id in &intent.add_user_ids {
        tag_user(state, id, &intent.user_tag_id, true, now_ms)?;
    }
    for id in &intent.remove_user_ids {
        tag_user(state, id, &intent.user_tag_id, false, now_ms)?;
    }
    Ok(json!({"updateUserTagResult": {"userTagId": intent.user_tag_id}}))
}

pub fn delete_user_tags(state: &mut OrgState, envelope: &Envelope, now_ms: u64) -> Result<Value> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Intent {
        user_tag_ids: Vec<String>,
    }
    let intent: Intent = envelope.parameters()?;
    check_tags(state, &intent.user_tag_ids)?;
    let mut affected = Vec::new();
    for user in &mut state.users {
        let before = user.tags.len();
        user.tags.retain(|t| !intent.user_tag_ids.contains(t));
        if user.tags.len() != before {
            user.updated_at_ms = now_ms;
            affected.push(user.id.to_string());
        }
    }
    state
        .user_tags
        .retain(|t| !intent.user_tag_ids.contains(&t.id));
    Ok(json!({"deleteUserTagsResult": {"userTagIds": intent.user_tag_ids, "userIds": affected}}))
}

pub fn update_root_quorum(
    state: &mut OrgState,
    envelope: &Envelope,
    _now_ms: u64,
) -> Result<Value> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Intent {
        threshold: u32,
        user_ids: Vec<String>,
    }
    let intent: Intent = envelope.parameters()?;
    let mut ids = Vec::new();
    for id in &intent.user_ids {
        let id = user_id("userIds", id, state)?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    state.root_quorum.user_ids = ids;
    state.root_quorum.threshold = intent.threshold;
    Ok(json!({"updateRootQuorumResult": {}}))
}
