//! Changing users after they exist, and users made only of API keys: `UPDATE_USER`,
//! `UPDATE_USER_NAME`, `UPDATE_USER_EMAIL`, `UPDATE_USER_PHONE_NUMBER`, `CREATE_API_ONLY_USERS`.
//! Shapes and result keys are Turnkey's.
//!
//! Email and phone number: Turnkey updates them without a `verificationToken` (the contact is
//! then not marked verified) and marks them verified with one — a JWT from its OTP service.
//! keyhold has no OTP provider and keeps no "verified" mark, so it does the first and refuses
//! the second as not supported, rather than accept a token it cannot check.

use serde::Deserialize;
use serde_json::{Value, json};

use super::envelope::Envelope;
use super::organization::check_name;
use super::users::{ApiKeyParams, UserParams, check_tags, new_user, user_id};
use crate::error::{Error, Result};
use crate::org::{OrgState, User};

/// Longest email address or phone number (as when users are created).
const MAX_CONTACT_LEN: usize = 256;

/// A contact field's new value; the empty string removes it (Turnkey: "setting this to an
/// empty string will remove the user's email").
fn contact(field: &str, value: &str) -> Result<Option<String>> {
    if value.len() > MAX_CONTACT_LEN {
        return Err(Error::invalid(format!(
            "{field} must be at most {MAX_CONTACT_LEN} bytes"
        )));
    }
    Ok((!value.is_empty()).then(|| value.to_owned()))
}

fn refuse_verification(token: Option<&str>, what: &str) -> Result<()> {
    match token {
        Some(token) if !token.is_empty() => Err(Error::Unsupported(format!(
            "verifying a user's {what} with a verificationToken (keyhold has no OTP provider; \
             without the token the {what} is updated unverified)"
        ))),
        _ => Ok(()),
    }
}

/// The user `id` names, for changing.
fn user_to_update<'a>(state: &'a mut OrgState, id: &str) -> Result<&'a mut User> {
    let id = user_id("userId", id, state)?;
    state
        .user_mut(&id)
        .ok_or_else(|| Error::NotFound(format!("user {id} not found")))
}

/// `UPDATE_USER`: each field present changes (an empty `userName` or `userTagIds` changes
/// nothing, as Turnkey asks for an empty array "if not needed"; an empty email or phone number
/// removes it); a non-empty `userTagIds` replaces the user's tags.
pub fn update_user(state: &mut OrgState, envelope: &Envelope, now_ms: u64) -> Result<Value> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Intent {
        user_id: String,
        user_name: Option<String>,
        user_email: Option<String>,
        #[serde(default)]
        user_tag_ids: Vec<String>,
        user_phone_number: Option<String>,
    }
    let intent: Intent = envelope.parameters()?;
    let name = intent.user_name.filter(|n| !n.is_empty());
    if let Some(name) = &name {
        check_name("userName", name)?;
    }
    let email = intent
        .user_email
        .as_deref()
        .map(|e| contact("userEmail", e))
        .transpose()?;
    let phone = intent
        .user_phone_number
        .as_deref()
        .map(|p| contact("userPhoneNumber", p))
        .transpose()?;
    check_tags(state, &intent.user_tag_ids)?;
    let mut tags = intent.user_tag_ids;
    tags.sort();
    tags.dedup();
    let user = user_to_update(state, &intent.user_id)?;
    if let Some(name) = name {
        user.name = name;
    }
    if let Some(email) = email {
        user.email = email;
    }
    if let Some(phone) = phone {
        user.phone_number = phone;
    }
    if !tags.is_empty() {
        user.tags = tags;
    }
    user.updated_at_ms = now_ms;
    Ok(json!({"updateUserResult": {"userId": user.id.to_string()}}))
}

pub fn update_user_name(state: &mut OrgState, envelope: &Envelope, now_ms: u64) -> Result<Value> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Intent {
        user_id: String,
        user_name: String,
    }
    let intent: Intent = envelope.parameters()?;
    check_name("userName", &intent.user_name)?;
    let user = user_to_update(state, &intent.user_id)?;
    user.name = intent.user_name;
    user.updated_at_ms = now_ms;
    Ok(json!({"updateUserNameResult": {"userId": user.id.to_string()}}))
}

pub fn update_user_email(state: &mut OrgState, envelope: &Envelope, now_ms: u64) -> Result<Value> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Intent {
        user_id: String,
        user_email: String,
        verification_token: Option<String>,
    }
    let intent: Intent = envelope.parameters()?;
    refuse_verification(intent.verification_token.as_deref(), "email")?;
    let email = contact("userEmail", &intent.user_email)?;
    let user = user_to_update(state, &intent.user_id)?;
    user.email = email;
    user.updated_at_ms = now_ms;
    Ok(json!({"updateUserEmailResult": {"userId": user.id.to_string()}}))
}

pub fn update_user_phone_number(
    state: &mut OrgState,
    envelope: &Envelope,
    now_ms: u64,
) -> Result<Value> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Intent {
        user_id: String,
        user_phone_number: String,
        verification_token: Option<String>,
    }
    let intent: Intent = envelope.parameters()?;
    refuse_verification(intent.verification_token.as_deref(), "phone number")?;
    let phone = contact("userPhoneNumber", &intent.user_phone_number)?;
    let user = user_to_update(state, &intent.user_id)?;
    user.phone_number = phone;
    user.updated_at_ms = now_ms;
    Ok(json!({"updateUserPhoneNumberResult": {"userId": user.id.to_string()}}))
}

/// `CREATE_API_ONLY_USERS`: users with API keys (Turnkey's V1 key shape, P-256) and nothing
/// else — no passkeys, no phone number.
pub fn create_api_only_users(
    state: &mut OrgState,
    envelope: &Envelope,
    now_ms: u64,
) -> Result<Value> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct ApiOnlyUser {
        user_name: String,
        user_email: Option<String>,
        #[serde(default)]
        user_tags: Vec<String>,
        #[serde(default)]
        api_keys: Vec<ApiKeyParams>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Intent {
        api_only_users: Vec<ApiOnlyUser>,
    }
    let intent: Intent = envelope.parameters()?;
    if intent.api_only_users.is_empty() {
        return Err(Error::invalid("apiOnlyUsers must not be empty"));
    }
    let mut ids = Vec::new();
    for user in intent.api_only_users {
        let params = UserParams {
            user_name: user.user_name,
            user_email: user.user_email,
            user_phone_number: None,
            api_keys: user.api_keys,
            authenticators: Vec::new(),
            oauth_providers: Vec::new(),
            user_tags: user.user_tags,
        };
        ids.push(new_user(state, &params, now_ms)?.to_string());
    }
    Ok(json!({"createApiOnlyUsersResult": {"userIds": ids}}))
}
