//! Organization features: `SET_ORGANIZATION_FEATURE` and `REMOVE_ORGANIZATION_FEATURE`, root
//! quorum only as in Turnkey ("must be approved by the current root quorum"; both are in the
//! policy engine's `ROOT_QUORUM_ONLY`, so no policy can grant them and a root quorum above one
//! waits for approvals like any root quorum activity).
//!
//! Only features keyhold honours can be set, so that a feature never promises what keyhold does
//! not do: `FEATURE_NAME_WEBAUTHN_ORIGINS` restricts where the organization's passkeys may be
//! used, checked in the enclave ([`crate::auth::webauthn::origins`]). Every other
//! `FEATURE_NAME_*` enables a flow that needs an email, SMS or OAuth provider or Turnkey's hosted
//! services, none of which keyhold has (those flows answer 501), or legacy activity webhooks
//! (keyhold delivers only to endpoints made with `create_webhook_endpoint`): setting one is
//! refused as unsupported, with the reason. Removing any feature is allowed; removing
//! one that is not set changes nothing and answers the same list (Turnkey documents no error for
//! it, and an idempotent removal can be retried safely after a lost response).

use serde::Deserialize;
use serde_json::{Value, json};

use super::envelope::Envelope;
use super::org_view::features_json;
use crate::auth::webauthn::origins;
use crate::error::{Error, Result, clip};
use crate::org::{Feature, OrgState};

/// Why keyhold refuses to set a feature: what the feature turns on and why keyhold has none.
fn refusal(name: &str) -> Option<&'static str> {
    Some(match name {
        "FEATURE_NAME_ROOT_USER_EMAIL_RECOVERY" | "FEATURE_NAME_EMAIL_RECOVERY" => {
            "email recovery: keyhold sends no email (init_user_email_recovery answers 501)"
        }
        "FEATURE_NAME_EMAIL_AUTH" => {
            "email authentication: keyhold sends no email (email_auth answers 501)"
        }
        "FEATURE_NAME_OTP_EMAIL_AUTH" => {
            "email OTP authentication: keyhold sends no email (init_otp_auth answers 501)"
        }
        "FEATURE_NAME_SMS_AUTH" => {
            "SMS authentication: keyhold sends no SMS (init_otp_auth answers 501)"
        }
        "FEATURE_NAME_AUTH_PROXY" => "Turnkey's hosted Auth Proxy",
        "FEATURE_NAME_WEBHOOK" => {
            "legacy activity webhooks: keyhold sends webhooks to endpoints made with \
             create_webhook_endpoint only"
        }
        "FEATURE_NAME_SOLANA_RENT_PREFUND_ENABLED" => {
            "Solana rent prefunding: keyhold broadcasts no transactions"
        }
        "FEATURE_NAME_SWAP_CONFIG" => "swaps: keyhold has no swap service",
        "FEATURE_NAME_EARN_CONFIG" => "earn: keyhold has no earn service",
        _ => return None,
    })
}

/// Checks `name` is one of Turnkey's `v1FeatureName` values.
fn feature_name(name: &str) -> Result<()> {
    if name == origins::FEATURE || refusal(name).is_some() {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "invalid value for enum field name: `{}` is not a FEATURE_NAME_* value (v1FeatureName)",
        clip(name)
    )))
}

fn result(key: &str, state: &OrgState) -> Value {
    json!({ key: {"features": features_json(&state.features)} })
}

pub fn set_organization_feature(
    state: &mut OrgState,
    envelope: &Envelope,
    _now_ms: u64,
) -> Result<Value> {
    #[derive(Deserialize)]
    struct Intent {
        name: String,
        value: Option<String>,
    }
    let intent: Intent = envelope.parameters()?;
    feature_name(&intent.name)?;
    if let Some(why) = refusal(&intent.name) {
        return Err(Error::Unsupported(format!("`{}` ({why})", intent.name)));
    }
    // The one feature that can be set: its value is the list of origins.
    let value = intent.value.unwrap_or_default();
    origins::validate(&value)?;
    let feature = Feature {
        name: intent.name,
        value: Some(value),
    };
    // At most one entry per name: setting again replaces the value.
    match state.features.iter_mut().find(|f| f.name == feature.name) {
        Some(existing) => *existing = feature,
        None => state.features.push(feature),
    }
    Ok(result("setOrganizationFeatureResult", state))
}

pub fn remove_organization_feature(
    state: &mut OrgState,
    envelope: &Envelope,
    _now_ms: u64,
) -> Result<Value> {
    #[derive(Deserialize)]
    struct Intent {
        name: String,
    }
    let intent: Intent = envelope.parameters()?;
    feature_name(&intent.name)?;
    state.features.retain(|f| f.name != intent.name);
    Ok(result("removeOrganizationFeatureResult", state))
}
