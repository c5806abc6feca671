//! Passkeys: `CREATE_AUTHENTICATORS_V2`, `DELETE_AUTHENTICATORS`, and the `authenticators` of
//! new users (`CREATE_USERS`, a sub-organization's root users). Each registration's attestation
//! is verified and its public key taken from it ([`crate::auth::webauthn::registration`]).

use keyhold_shared::{AuthenticatorId, UserId};
use serde::Deserialize;
use serde_json::{Value, json};

use super::envelope::Envelope;
use super::organization::{check_name, new_id, parse_uuid};
use super::users::user_id;
use crate::auth::webauthn::registration;
use crate::error::{Error, Result, clip};
use crate::org::{Authenticator, MAX_AUTHENTICATORS_PER_USER, OrgState};

const TRANSPORTS: [&str; 5] = [
    "AUTHENTICATOR_TRANSPORT_BLE",
    "AUTHENTICATOR_TRANSPORT_INTERNAL",
    "AUTHENTICATOR_TRANSPORT_NFC",
    "AUTHENTICATOR_TRANSPORT_USB",
    "AUTHENTICATOR_TRANSPORT_HYBRID",
];

/// Turnkey's `v1AuthenticatorParamsV2`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticatorParams {
    authenticator_name: String,
    challenge: String,
    attestation: AttestationParams,
}

/// Turnkey's `v1Attestation` (base64url fields, as `getWebAuthnAttestation` returns them).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AttestationParams {
    credential_id: String,
    client_data_json: String,
    attestation_object: String,
    #[serde(default)]
    transports: Vec<String>,
}

/// Verifies a registration and gives the passkey to `user`.
pub(super) fn add_authenticator(
    state: &mut OrgState,
    user: &UserId,
    p: &AuthenticatorParams,
    now_ms: u64,
) -> Result<AuthenticatorId> {
    check_name("authenticatorName", &p.authenticator_name)?;
    let mut transports = Vec::new();
    for t in &p.attestation.transports {
        if !TRANSPORTS.contains(&t.as_str()) {
            return Err(Error::invalid(format!(
                "transport `{}` is not an AUTHENTICATOR_TRANSPORT_* value",
                clip(t)
            )));
        }
        if !transports.contains(t) {
            transports.push(t.clone());
        }
    }
    let registered = registration::verify(
        &p.attestation.credential_id,
        &p.attestation.client_data_json,
        &p.attestation.attestation_object,
        &p.challenge,
        &state.features,
    )?;
    // A stamp names its passkey by credential id, which must therefore identify one.
    if state
        .find_authenticator(&registered.credential_id)
        .is_some()
    {
        return Err(Error::invalid(
            "an authenticator with this credential id already exists in the organization",
        ));
    }
    let user = state
        .user_mut(user)
        .ok_or_else(|| Error::NotFound(format!("user {user} not found")))?;
    if user.authenticators.len() >= MAX_AUTHENTICATORS_PER_USER {
        return Err(Error::invalid(format!(
            "a user holds at most {MAX_AUTHENTICATORS_PER_USER} authenticators"
        )));
    }
    let id = AuthenticatorId(new_id()?);
    user.authenticators.push(Authenticator {
        id,
        name: p.authenticator_name.clone(),
        credential_id: registered.credential_id,
        public_key: registered.public_key,
        rp_id_hash: registered.rp_id_hash,
        aaguid: registered.aaguid,
        attestation_format: registered.format,
        transports,
        created_at_ms: now_ms,
    });
    user.updated_at_ms = now_ms;
    Ok(id)
}

pub fn create_authenticators(
    state: &mut OrgState,
    envelope: &Envelope,
    now_ms: u64,
) -> Result<Value> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Intent {
        authenticators: Vec<AuthenticatorParams>,
        user_id: String,
    }
    let intent: Intent = envelope.parameters()?;
    if intent.authenticators.is_empty() {
        return Err(Error::invalid("authenticators must not be empty"));
    }
    let user = user_id("userId", &intent.user_id, state)?;
    let ids = intent
        .authenticators
        .iter()
        .map(|a| add_authenticator(state, &user, a, now_ms).map(|id| id.to_string()))
        .collect::<Result<Vec<_>>>()?;
    Ok(json!({"createAuthenticatorsResult": {"authenticatorIds": ids}}))
}

pub fn delete_authenticators(
    state: &mut OrgState,
    envelope: &Envelope,
    now_ms: u64,
) -> Result<Value> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Intent {
        user_id: String,
        authenticator_ids: Vec<String>,
    }
    let intent: Intent = envelope.parameters()?;
    let id = user_id("userId", &intent.user_id, state)?;
    let user = state
        .user_mut(&id)
        .ok_or_else(|| Error::NotFound(format!("user {id} not found")))?;
    for text in &intent.authenticator_ids {
        let target: AuthenticatorId = parse_uuid("authenticatorIds", text)?;
        let before = user.authenticators.len();
        user.authenticators.retain(|a| a.id != target);
        if user.authenticators.len() == before {
            return Err(Error::NotFound(format!("authenticator {target} not found")));
        }
    }
    user.updated_at_ms = now_ms;
    Ok(json!({"deleteAuthenticatorsResult": {"authenticatorIds": intent.authenticator_ids}}))
}
