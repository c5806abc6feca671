//! Client requests: parse the signed body, check it belongs to this organization and is fresh,
//! authorize the caller, and dispatch on the activity `type`.

mod approvals;
mod create_private_keys;
mod create_wallet;
mod envelope;
mod org_view;
mod organization;
mod policies;
mod sign_raw_payload;
mod sign_transaction;
mod signer;
mod sub_orgs;
mod users;

use keyhold_shared::msg::{
    ActivityContext, ActivityOutput, ActivityResult, ActivityStatus, Principal, ReceiptKind,
    SignedRequest,
};
use sha2::{Digest, Sha256};

use crate::auth::{Authenticated, authenticate};
use crate::authorize::{self, Verdict};
use crate::enclave::Keys;
use crate::error::{Error, Result};
use crate::org::OrgState;

pub use envelope::{Envelope, QueryBody};
pub use org_view::read_org;

/// How far in the past and the future `timestampMs` may be (Turnkey: under an hour old, at most
/// five minutes ahead).
pub const MAX_AGE_MS: u64 = 60 * 60 * 1000;
pub const MAX_SKEW_MS: u64 = 5 * 60 * 1000;
/// How long an activity waiting for consensus can still be approved (Turnkey: approvals expire
/// 24 hours after the first vote).
pub const APPROVAL_WINDOW_MS: u64 = 24 * 60 * 60 * 1000;

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

/// Authenticates, authorizes and executes one activity (or records a vote on one).
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
    if approvals::is_vote(&envelope.activity_type) {
        return approvals::vote(keys, org, &request.body, &envelope, &auth, context, now_ms);
    }
    let (status, result, new_state) =
        match authorize::authorize(org, &envelope, &[&auth], context, now_ms)? {
            Verdict::Allowed(allowed) => {
                let (result, state) = perform(
                    keys,
                    org,
                    &request.body,
                    &envelope,
                    context,
                    allowed,
                    now_ms,
                )?;
                (ActivityStatus::Completed, result, state)
            }
            // The submitter's stamp is the first vote; the host keeps it for the approvals.
            Verdict::ConsensusNeeded => {
                (ActivityStatus::ConsensusNeeded, ActivityResult::Empty, None)
            }
        };
    crate::audit::conclude(
        keys,
        org,
        crate::audit::Step {
            kind: ReceiptKind::Activity,
            request_body: &request.body,
            activity_type: envelope.activity_type.clone(),
            status,
            fingerprint: fingerprint(&request.body),
            principal: principal(org, &auth),
            executed_at_ms: now_ms,
            result,
            new_state,
        },
    )
}

/// Runs an authorized activity. Returns its result and, when it changed the organization, the
/// new (unsealed) state, which already remembers the activity's fingerprint.
pub(crate) fn perform(
    keys: &Keys,
    org: &OrgState,
    body: &[u8],
    envelope: &Envelope,
    context: &ActivityContext,
    allowed: Allowed,
    now_ms: u64,
) -> Result<(ActivityResult, Option<OrgState>)> {
    Ok(match envelope.activity_type.as_str() {
        "ACTIVITY_TYPE_CREATE_WALLET" => {
            let result = create_wallet::run(keys, org, envelope, allowed)?;
            let state = match &result {
                ActivityResult::CreateWallet {
                    wallet_id,
                    wallet_name,
                    ..
                } => Some(organization::with_wallet(
                    org,
                    body,
                    envelope,
                    *wallet_id,
                    wallet_name,
                    now_ms,
                )?),
                _ => None,
            };
            (result, state)
        }
        "ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2" => (
            sign_raw_payload::run(keys, org, envelope, context, allowed)?,
            None,
        ),
        "ACTIVITY_TYPE_SIGN_RAW_PAYLOADS" => (
            sign_raw_payload::run_many(keys, org, envelope, context, allowed)?,
            None,
        ),
        "ACTIVITY_TYPE_SIGN_TRANSACTION_V2" => (
            sign_transaction::run(keys, org, envelope, context, allowed)?,
            None,
        ),
        "ACTIVITY_TYPE_CREATE_WALLET_ACCOUNTS" => (
            create_wallet::run_accounts(keys, org, envelope, context, allowed)?,
            None,
        ),
        "ACTIVITY_TYPE_CREATE_PRIVATE_KEYS_V2" => (
            create_private_keys::run(keys, org, envelope, allowed)?,
            None,
        ),
        "ACTIVITY_TYPE_CREATE_SUB_ORGANIZATION_V8" | "ACTIVITY_TYPE_CREATE_SUB_ORGANIZATION_V7" => {
            (sub_orgs::run(keys, org, envelope, allowed, now_ms)?, None)
        }
        other => {
            let digest: [u8; 32] = Sha256::digest(body).into();
            let Some(change) = organization::run(org, envelope, allowed, &digest, now_ms)? else {
                return Err(Error::Unsupported(format!(
                    "activity type `{}`",
                    crate::error::clip(other)
                )));
            };
            (
                ActivityResult::Organization {
                    result_json: change.result.to_string(),
                    sub_organization: None,
                },
                Some(change.state),
            )
        }
    })
}

/// Proof that the caller may run the activity: made only from the policy engine's own proof
/// token ([`keyhold_policy::PolicyAllowed`]), which only an `Allow` decision yields.
#[derive(Debug)]
pub struct Allowed(keyhold_policy::PolicyAllowed);

impl Allowed {
    pub(crate) fn new(proof: keyhold_policy::PolicyAllowed) -> Self {
        Allowed(proof)
    }
}

pub(crate) fn principal(org: &OrgState, auth: &Authenticated<'_>) -> Principal {
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
