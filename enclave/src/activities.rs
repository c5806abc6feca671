//! Client requests: parse the signed body, check it belongs to this organization and is fresh,
//! authorize the caller, and dispatch on the activity `type`.

mod create_private_keys;
mod create_wallet;
mod envelope;
mod sign_raw_payload;
mod sign_transaction;
mod signer;

use keyhold_shared::ActivityId;
use keyhold_shared::Uuid;
use keyhold_shared::msg::{ActivityContext, ActivityOutput, Principal, SignedRequest};
use sha2::{Digest, Sha256};

use crate::auth::{Authenticated, authenticate};
use crate::enclave::Keys;
use crate::error::{Error, Result};
use crate::org::OrgState;
use crate::secrets::random;

pub use envelope::QueryBody;

/// How far in the past and the future `timestampMs` may be (Turnkey: under an hour old, at most
/// five minutes ahead).
pub const MAX_AGE_MS: u64 = 60 * 60 * 1000;
pub const MAX_SKEW_MS: u64 = 5 * 60 * 1000;

/// Authenticates a query (a read served by the host) and returns who asked.
pub fn authenticate_query(
    org: &OrgState,
    request: &SignedRequest,
    now_ms: u64,
) -> Result<Principal> {
    let body = QueryBody::parse(&request.body)?;
    // Authenticate first: an unauthenticated caller learns nothing about organization ids.
    let auth = authenticate(org, request, now_ms)?;
    body.check_organization(org)?;
    Ok(principal(org, &auth))
}

/// Authenticates, authorizes and executes one activity.
pub fn execute(
    keys: &Keys,
    org: &OrgState,
    request: &SignedRequest,
    context: &ActivityContext,
    now_ms: u64,
) -> Result<ActivityOutput> {
    let envelope = envelope::Envelope::parse(&request.body)?;
    let auth = authenticate(org, request, now_ms)?;
    envelope.check_organization(org)?;
    envelope.check_timestamp(now_ms)?;
    let allowed = authorize(org, &auth)?;

    let result = match envelope.activity_type.as_str() {
        "ACTIVITY_TYPE_CREATE_WALLET" => create_wallet::run(keys, org, &envelope, allowed)?,
        "ACTIVITY_TYPE_CREATE_WALLET_ACCOUNTS" => {
            create_wallet::run_accounts(keys, org, &envelope, context, allowed)?
        }
        "ACTIVITY_TYPE_CREATE_PRIVATE_KEYS_V2" => {
            create_private_keys::run(keys, org, &envelope, allowed)?
        }
        "ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2" => {
            sign_raw_payload::run(keys, org, &envelope, context, allowed)?
        }
        "ACTIVITY_TYPE_SIGN_RAW_PAYLOADS" => {
            sign_raw_payload::run_many(keys, org, &envelope, context, allowed)?
        }
        "ACTIVITY_TYPE_SIGN_TRANSACTION_V2" => {
            sign_transaction::run(keys, org, &envelope, context, allowed)?
        }
        other => {
            return Err(Error::Unsupported(format!(
                "activity type `{}`",
                other.chars().take(80).collect::<String>()
            )));
        }
    };
    Ok(ActivityOutput {
        activity_id: ActivityId(Uuid::new_v4(random()?)),
        activity_type: envelope.activity_type.clone(),
        fingerprint: fingerprint(&request.body),
        principal: principal(org, &auth),
        executed_at_ms: now_ms,
        result,
        new_org_state: None,
    })
}

/// Proof that the caller may run the activity. Until the policy engine lands (organizations
/// issue), only members of a root quorum of threshold 1 may act; everyone else is denied — the
/// implicit deny of Turnkey's model.
#[derive(Debug)]
pub struct Allowed(());

fn authorize(org: &OrgState, auth: &Authenticated<'_>) -> Result<Allowed> {
    if !org.is_root(&auth.user.id) {
        return Err(Error::PermissionDenied(
            "no policy allows this user to run this activity",
        ));
    }
    if org.root_quorum.threshold > 1 {
        return Err(Error::Unsupported(
            "root quorum consensus with threshold above 1".into(),
        ));
    }
    Ok(Allowed(()))
}

fn principal(org: &OrgState, auth: &Authenticated<'_>) -> Principal {
    Principal {
        organization_id: org.org_id,
        organization_name: org.name.clone(),
        user_id: auth.user.id,
        user_name: auth.user.name.clone(),
    }
}

/// Turnkey's activity fingerprint: `sha256:` + hex SHA-256 of the raw body.
pub fn fingerprint(body: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(body)))
}
