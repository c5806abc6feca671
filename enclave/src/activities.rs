//! Client requests: parse the signed body, check it belongs to this organization and is fresh,
//! authorize the caller, and dispatch on the activity `type`.

mod approvals;
mod authenticators;
mod contract_interfaces;
mod create_private_keys;
mod create_wallet;
mod envelope;
mod export;
mod features;
mod import;
mod login_sessions;
mod org_lifecycle;
mod org_view;
mod organization;
mod policies;
mod private_key_tags;
mod sessions;
mod sign_raw_payload;
mod sign_transaction;
mod signer;
mod sub_orgs;
mod transfer;
mod user_updates;
mod users;
mod wallets;
mod webhooks;

use keyhold_shared::msg::{
    ActivityContext, ActivityOutput, ActivityResult, ActivityStatus, Principal, ReceiptKind,
    SignedRequest,
};
use sha2::{Digest, Sha256};

use crate::auth::{Authenticated, authenticate, authenticate_reader};
use crate::authorize::{self, Verdict};
use crate::enclave::Keys;
use crate::error::{Error, Result};
use crate::limits;
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

/// Authenticates a query (a read served by the host) and returns who asked: a user of `org`
/// or of its `parent` (which may read its sub-organizations).
pub fn authenticate_query(
    sessions: &crate::auth::session::SessionSigner,
    org: &OrgState,
    parent: Option<&OrgState>,
    request: &SignedRequest,
    now_ms: u64,
) -> Result<Principal> {
    let body = QueryBody::parse(&request.body)?;
    // Authenticate first: an unauthenticated caller learns nothing about organization ids.
    let auth = authenticate_reader(sessions, org, parent, request, now_ms)?;
    body.check_organization(org)
        .map_err(Error::after_authentication)?;
    Ok(principal(auth.org, &auth))
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
    // A signature outside the time window says nothing about who is asking now (it may be a
    // replay), so that refusal is not marked as one to an authenticated caller; every later
    // one is (see `Error::Authenticated`).
    envelope.check_timestamp(now_ms)?;
    authenticated(keys, org, request, context, &envelope, &auth, now_ms)
        .map_err(Error::after_authentication)
}

/// [`execute`] once the caller has authenticated with a fresh request.
fn authenticated(
    keys: &Keys,
    org: &OrgState,
    request: &SignedRequest,
    context: &ActivityContext,
    envelope: &Envelope,
    auth: &Authenticated<'_>,
    now_ms: u64,
) -> Result<ActivityOutput> {
    envelope.check_organization(org)?;
    if approvals::is_vote(&envelope.activity_type) {
        return approvals::vote(keys, org, &request.body, envelope, auth, context, now_ms);
    }
    let authorization = authorize::authorize(org, envelope, &[auth], context, now_ms)?;
    let (status, result, new_state) = match authorization.verdict {
        Verdict::Allowed(allowed) => {
            let (result, state) =
                perform(keys, org, &request.body, envelope, context, allowed, now_ms)?;
            (ActivityStatus::Completed, result, state)
        }
        // The submitter's stamp is the first vote; the host keeps it for the approvals.
        Verdict::ConsensusNeeded => (ActivityStatus::ConsensusNeeded, ActivityResult::Empty, None),
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
            principal: principal(org, auth),
            executed_at_ms: now_ms,
            result,
            new_state,
            policy_evaluations: Some(authorization.evaluations),
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
    // What a signature spends goes into the ledger (a new organization state) when a policy
    // reads limit counters; the signature leaves the enclave only if that state is sealed.
    let ledger = match (allowed.tracks_limits(), limits::Resource::of(context)) {
        (true, Some(resource)) if is_signing(&envelope.activity_type) => {
            let mut state = organization::successor_for(org, body, envelope, now_ms)?;
            limits::record(
                &mut state.usage,
                resource,
                authorize::spend(envelope),
                now_ms,
            )?;
            Some(state)
        }
        _ => None,
    };
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
            ledger,
        ),
        "ACTIVITY_TYPE_SIGN_RAW_PAYLOADS" => (
            sign_raw_payload::run_many(keys, org, envelope, context, allowed)?,
            ledger,
        ),
        "ACTIVITY_TYPE_SIGN_TRANSACTION_V2" => (
            sign_transaction::run(keys, org, envelope, context, allowed)?,
            ledger,
        ),
        "ACTIVITY_TYPE_CREATE_WALLET_ACCOUNTS" => (
            create_wallet::run_accounts(keys, org, envelope, context, allowed)?,
            None,
        ),
        "ACTIVITY_TYPE_CREATE_PRIVATE_KEYS_V2" => {
            let result = create_private_keys::run(keys, org, envelope, allowed)?;
            let state = match &result {
                ActivityResult::CreatePrivateKeys(created) => Some(
                    organization::with_private_keys(org, body, envelope, created, false, now_ms)?,
                ),
                _ => None,
            };
            (result, state)
        }
        "ACTIVITY_TYPE_CREATE_SUB_ORGANIZATION_V8" | "ACTIVITY_TYPE_CREATE_SUB_ORGANIZATION_V7" => {
            (sub_orgs::run(keys, org, envelope, allowed, now_ms)?, None)
        }
        "ACTIVITY_TYPE_CREATE_READ_ONLY_SESSION" => (
            login_sessions::read_only(&keys.session_signer, org, &allowed, now_ms)?,
            None,
        ),
        "ACTIVITY_TYPE_STAMP_LOGIN" => login_sessions::stamp_login(
            &keys.session_signer,
            org,
            body,
            envelope,
            &allowed,
            now_ms,
        )?,
        kind if webhooks::handles(kind) => (webhooks::run(org, envelope, context, allowed)?, None),
        kind if transfer::handles(kind) => {
            transfer::perform(keys, org, body, envelope, context, allowed, now_ms)?
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
/// token ([`keyhold_policy::PolicyAllowed`]), which only an `Allow` decision yields, together
/// with the authenticated user who submitted it (activities that default to "the caller" —
/// sessions — read it here).
#[derive(Debug)]
pub struct Allowed {
    _proof: keyhold_policy::PolicyAllowed,
    track_limits: bool,
    submitter: keyhold_shared::UserId,
    /// Hex public key of the credential the submitter stamped with.
    submitter_key: String,
}

impl Allowed {
    pub(crate) fn new(
        proof: keyhold_policy::PolicyAllowed,
        track_limits: bool,
        submitter: &Authenticated<'_>,
    ) -> Self {
        Allowed {
            _proof: proof,
            track_limits,
            submitter: submitter.user.id,
            submitter_key: submitter.credential.public_key_hex(),
        }
    }

    /// Whether a policy of the organization reads a limit counter, so that what this activity
    /// signs must be recorded in the ledger.
    pub fn tracks_limits(&self) -> bool {
        self.track_limits
    }

    /// The user whose stamp submitted the activity.
    pub fn submitter(&self) -> keyhold_shared::UserId {
        self.submitter
    }

    /// The public key (hex) of the credential the submitter stamped with.
    pub fn submitter_key(&self) -> &str {
        &self.submitter_key
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

fn is_signing(activity_type: &str) -> bool {
    matches!(
        keyhold_policy::activity_kind(activity_type).as_str(),
        "SIGN_RAW_PAYLOAD" | "SIGN_RAW_PAYLOADS" | "SIGN_TRANSACTION"
    )
}

/// Turnkey's activity fingerprint: `sha256:` + hex SHA-256 of the raw body.
pub fn fingerprint(body: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(body)))
}
