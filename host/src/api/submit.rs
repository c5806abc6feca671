//! `POST /public/v1/submit/{name}`: activities. The host routes and stores; the enclave
//! authenticates, authorizes and executes.

use super::answer::Answer;
use axum::body::Body;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use keyhold_shared::msg::{
    ActivityContext, ActivityOutput, ActivityRequest, ActivityResult, ActivityStatus,
    AddressFormat, AuditResult, Curve, DerivedAccount, PolicyEvaluation, Principal, Receipt,
    Request, Response, SignedRequest, Stamp, audit_bytes,
};
use keyhold_shared::{OrgId, Uuid, WalletId};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::query::{authenticate, load_org, org_id, read_body, stamp_from};
use super::retry::Failure;
use super::{AppState, format};
use crate::store::{
    AccountRecord, ActivityCommit, ActivityRecord, ExportMark, OrgRecord, PolicyEvaluationRecord,
    PrivateKeyRecord, ReceiptRecord, RecordEdit, WalletRecord,
};

/// The activity types each path accepts (older versions that shipped SDKs still send go
/// here): the endpoint table decides.
fn accepted_types(path: &str) -> Option<Vec<&'static str>> {
    super::endpoints::activity_types(path)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Envelope {
    #[serde(rename = "type")]
    pub(super) activity_type: String,
    pub(super) organization_id: String,
    /// Checked by the enclave; required here so a missing field is a 400. Part of how the store
    /// finds the same request again (`store/request_key.rs`).
    pub(super) timestamp_ms: String,
    pub(super) parameters: Value,
}

pub async fn submit(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Answer, ApiError> {
    // Runs to completion even if the client goes away: once the enclave has sealed a new
    // organization state it must be stored, or the organization stalls (the enclave refuses a
    // state older than one it has sealed) until the enclave restarts.
    tokio::spawn(run(state, name, headers, body))
        .await
        .map_err(|_| ApiError::internal("activity task failed"))?
}

async fn run(
    state: AppState,
    name: String,
    headers: HeaderMap,
    body: Body,
) -> Result<Answer, ApiError> {
    let Some(accepted) = accepted_types(&name) else {
        return Err(ApiError::unsupported(format!(
            "the activity endpoint `submit/{name}`"
        )));
    };
    let stamp = stamp_from(&headers)?;
    let body = read_body(body).await?;
    let envelope: Envelope = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid(format!("invalid request body: {e}")))?;
    if !accepted.contains(&envelope.activity_type.as_str()) {
        return Err(ApiError::invalid(format!(
            "activity type `{}` cannot be submitted to submit/{name} (expected {})",
            envelope.activity_type,
            accepted.join(" or ")
        )));
    }
    let org = org_id(&envelope.organization_id)?;
    let limiter = state.rate_limiter.clone();
    let work = admitted(state, name, stamp, body, envelope);
    // A stored activity answered again ran nothing new: its token goes back.
    let fresh = |answer: &Answer| !matches!(answer, Answer::Stored(_));
    super::rate_limit::limited(&limiter, org, work, fresh).await
}

/// [`run`] once the organization's rate limit has admitted the request.
async fn admitted(
    state: AppState,
    name: String,
    stamp: Stamp,
    body: Bytes,
    envelope: Envelope,
) -> Result<Answer, ApiError> {
    if super::approvals::is_vote(&name) {
        return super::approvals::vote(
            &state,
            SignedRequest {
                body: body.to_vec(),
                stamp,
            },
            &envelope.organization_id,
            &envelope.parameters,
            name == "approve_activity",
        )
        .await;
    }
    let org = load_org(&state, &envelope.organization_id).await?;
    let fingerprint = format!("sha256:{}", hex::encode(Sha256::digest(&body)));
    let request = SignedRequest {
        body: body.to_vec(),
        stamp,
    };
    // The record just read serves the first attempt; a retry after a lost race reads again.
    let first = std::sync::atomic::AtomicBool::new(true);
    super::retry::on_conflict(|| {
        let fresh = first.swap(false, std::sync::atomic::Ordering::Relaxed);
        execute(&state, &org, fresh, &envelope, &request, &fingerprint)
    })
    .await
}

/// One attempt at an activity: runs it in the enclave and stores what it wrote, or finds it
/// already stored. A lost race to store it is retried from the top by the caller.
async fn execute(
    state: &AppState,
    org: &OrgRecord,
    fresh: bool,
    envelope: &Envelope,
    request: &SignedRequest,
    fingerprint: &str,
) -> Result<Answer, Failure> {
    // The same body twice is the same activity — but only for a caller whose stamp verifies.
    let request_ms = crate::store::request_ms_of(&envelope.timestamp_ms);
    if let Some(existing) = state
        .store
        .find_activity(org.id, request_ms, fingerprint)
        .await?
    {
        authenticate(state, org, request.clone()).await?;
        return Ok(Answer::stored(&existing));
    }

    if envelope.activity_type == "ACTIVITY_TYPE_DELETE_WALLET_ACCOUNTS" {
        // Only an authenticated caller learns which accounts exist and were exported.
        authenticate(state, org, request.clone()).await?;
        // Not marked as a refusal after authentication: this check does not look at the
        // timestamp, so the caller may be replaying a published stamp.
        super::record_edits::check_account_deletion(state, org.id, &envelope.parameters).await?;
    }
    let context = resolve_context(state, org.id, envelope).await?;
    // Counted from the enclave call to the commit: the writer waits for a larger group only
    // while many activities are that far (not rate-limited, invalid or still being read).
    let _under_way = state.store.activity_started();
    let called = super::org_queries::call_fresh_from(
        state,
        &envelope.organization_id,
        fresh.then(|| org.clone()),
        |org, parent| {
            Request::Activity(ActivityRequest {
                parent: parent.cloned(),
                request: request.clone(),
                org: org.sealed.clone(),
                context: context.clone(),
            })
        },
    )
    .await;
    let (org, response) = match called {
        Ok(called) => called,
        Err(refused) => {
            // The same request submitted twice at once (a client retrying through another
            // host, say): the first one stored may already be in the state the enclave got,
            // which then refuses this one as a replay. Answer with the stored activity.
            if let Some(existing) = state
                .store
                .find_activity(org.id, request_ms, fingerprint)
                .await?
            {
                authenticate(state, org, request.clone()).await?;
                return Ok(Answer::stored(&existing));
            }
            return Err(refused.into());
        }
    };
    let Response::Activity(output) = response else {
        // The enclave ran the activity; whatever it answered, the caller authenticated.
        return Err(ApiError::internal("unexpected enclave answer")
            .after_authentication()
            .into());
    };
    store_output(state, org.id, &envelope.parameters, request, *output)
        .await
        .map_err(Failure::after_authentication)
}

/// Stores what an activity wrote — the enclave's `output` for `request` — and answers with it.
/// Also stores an answer the host lost in a crash, recovered from the enclave (`recovery.rs`).
pub(super) async fn store_output(
    state: &AppState,
    org: OrgId,
    parameters: &Value,
    request: &SignedRequest,
    output: ActivityOutput,
) -> Result<Answer, Failure> {
    let now = output.executed_at_ms;
    let activity_id = output.activity_id.to_string();
    let receipt = output.receipt.clone();
    let Records {
        result,
        audit_result,
        wallets,
        accounts,
        private_keys,
        sub_orgs,
        exported,
        import_key,
        edits,
    } = records(
        output.result,
        output.policy_evaluations.as_deref(),
        parameters,
        org,
        now,
    )?;
    let body_text = String::from_utf8_lossy(&request.body).into_owned();
    let stamp = super::approvals::stamp_text(&request.stamp);
    let user_id = output.principal.user_id.to_string();
    let votes = serde_json::to_string(&[format::vote(
        &activity_id,
        &user_id,
        &output.principal.user_name,
        &body_text,
        stamp.as_deref(),
        now,
    )])
    .map_err(|e| ApiError::internal(format!("encoding the vote: {e}")))?;
    let record = ActivityRecord {
        id: output.activity_id,
        org,
        fingerprint: output.fingerprint,
        activity_type: output.activity_type,
        status: super::approvals::status(output.status).into(),
        body: body_text,
        result: result.to_string(),
        votes,
        created_at_ms: now,
        updated_at_ms: now,
    };
    let answer = format::activity_text(&record, parameters);
    commit_and_answer(
        state,
        ActivityCommit {
            activity: record.clone(),
            wallets,
            accounts,
            private_keys,
            org_state: output.new_org_state,
            sub_orgs,
            // Kept so that approvals can re-send the submitter's stamp to the enclave.
            vote_request: (output.status == ActivityStatus::ConsensusNeeded)
                .then_some(stamp)
                .flatten()
                .map(|stamp| (record.body.clone(), stamp)),
            replace_waiting: None,
            meta: import_key,
            detach_from_parent: super::org_activities::deletes_organization(&record),
            exported,
            edits,
            receipt: Some(ReceiptRecord {
                receipt: receipt.clone(),
                result: Some(audit_result),
            }),
            policy_evaluation: evaluation_record(
                &output.policy_evaluations,
                &record,
                &output.principal,
                &receipt,
            ),
        },
        &receipt,
        answer,
    )
    .await
}

/// The policy evaluation of one step (the submission, or a vote by `voter`) on `activity`, as
/// the enclave reported it: `None` when no policy was evaluated (a rejection).
pub(super) fn evaluation_record(
    evaluations: &Option<Vec<PolicyEvaluation>>,
    activity: &ActivityRecord,
    voter: &Principal,
    receipt: &Receipt,
) -> Option<PolicyEvaluationRecord> {
    let evaluations = evaluations.as_deref()?;
    Some(PolicyEvaluationRecord {
        id: format::evaluation_id(
            &receipt.body.activity_id.to_string(),
            receipt.body.executed_at_ms,
        ),
        org: activity.org,
        activity: activity.id,
        vote_id: format::vote_id(&activity.id.to_string(), &voter.user_id.to_string()),
        seq: receipt.body.seq,
        policy_evaluations: format::policy_outcomes(evaluations).to_string(),
        created_at_ms: receipt.body.executed_at_ms,
    })
}

/// Stores one activity's records atomically and answers with the activity (`activity`, its
/// Turnkey JSON) and its receipt; then looks for holes in the audit chain and counts the
/// activity.
pub(super) async fn commit_and_answer(
    state: &AppState,
    commit: ActivityCommit,
    receipt: &keyhold_shared::msg::Receipt,
    activity: String,
) -> Result<Answer, Failure> {
    let metric = crate::metrics::global();
    let (activity_type, status, org) = (
        commit.activity.activity_type.clone(),
        commit.activity.status.clone(),
        commit.activity.org,
    );
    state.store.commit_activity(commit).await?;
    state.audit.committed(state, receipt);
    metric.activity(&activity_type, &status);
    state
        .webhooks
        .activity_updated(org, &activity_type, &activity);
    Ok(Answer::activity_and_receipt(
        &activity,
        &crate::audit::receipt_text(receipt),
    ))
}

fn account_records(
    org: OrgId,
    wallet: WalletId,
    derived: Vec<DerivedAccount>,
    now: u64,
) -> Result<Vec<AccountRecord>, ApiError> {
    derived
        .into_iter()
        .map(|account| {
            Ok(AccountRecord {
                id: Uuid::new_v4(*crate::operator::random_bytes::<16>()?).to_string(),
                org,
                wallet,
                curve: account.curve.as_turnkey().to_owned(),
                path_format: "PATH_FORMAT_BIP32".to_owned(),
                path: account.path,
                address_format: account.address_format.as_turnkey().to_owned(),
                address: account.address,
                public_key: hex::encode(&account.public_key),
                created_at_ms: now,
            })
        })
        .collect()
}

/// What an activity result adds to the store: Turnkey's `result` object, the canonical result
/// bytes its receipt commits to, and new records.
pub(super) struct Records {
    pub result: Value,
    pub audit_result: Vec<u8>,
    pub wallets: Vec<WalletRecord>,
    pub accounts: Vec<AccountRecord>,
    pub private_keys: Vec<PrivateKeyRecord>,
    pub sub_orgs: Vec<(crate::store::OrgRecord, OrgId)>,
    pub exported: Vec<ExportMark>,
    /// A sealed import key to keep under this name (`init_import_*`).
    pub import_key: Option<(String, Vec<u8>)>,
    /// Renamed or deleted wallets, accounts and keys, private key tags.
    pub edits: Vec<RecordEdit>,
}

/// Turns the enclave's result into Turnkey's `result` object and the records to store. The
/// object is made from the receipt's view of the result ([`crate::audit::turnkey_result`]),
/// so `keyhold audit verify` can re-make it.
pub(super) fn records(
    result: ActivityResult,
    evaluations: Option<&[PolicyEvaluation]>,
    parameters: &Value,
    org: OrgId,
    now: u64,
) -> Result<Records, ApiError> {
    let audit = AuditResult::from(&result);
    let audit_result = audit_bytes(&audit, evaluations)
        .map_err(|_| ApiError::internal("encoding the result failed"))?;
    let json = crate::audit::turnkey_result(&audit)
        .ok_or_else(|| ApiError::internal("unexpected enclave answer"))?;
    let mut wallets = Vec::new();
    let mut accounts = Vec::new();
    let mut private_keys = Vec::new();
    let mut sub_orgs = Vec::new();
    let mut exported = Vec::new();
    let mut import_key = None;
    let edits = super::record_edits::edits(&json, parameters)?;
    match result {
        ActivityResult::CreateWallet {
            wallet_id,
            wallet_name,
            accounts: derived,
            sealed_seed,
        } => {
            accounts = account_records(org, wallet_id, derived, now)?;
            wallets.push(WalletRecord {
                id: wallet_id,
                org,
                name: wallet_name,
                sealed_seed,
                created_at_ms: now,
                imported: false,
                exported: false,
                updated_at_ms: now,
            });
        }
        ActivityResult::CreateWalletAccounts {
            wallet_id,
            accounts: derived,
        } => {
            let persist = parameters
                .get("persist")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            if persist {
                accounts = account_records(org, wallet_id, derived, now)?;
            }
        }
        ActivityResult::CreatePrivateKeys(created) => {
            for key in created {
                private_keys.push(PrivateKeyRecord {
                    id: key.private_key_id,
                    org,
                    name: key.name,
                    curve: key.curve.as_turnkey().to_owned(),
                    public_key: hex::encode(&key.public_key),
                    addresses: key
                        .addresses
                        .iter()
                        .map(|(f, a)| (f.as_turnkey().to_owned(), a.clone()))
                        .collect(),
                    tags: key.tags,
                    sealed_key: key.sealed_key,
                    created_at_ms: now,
                    imported: false,
                    exported: false,
                    updated_at_ms: now,
                });
            }
        }
        ActivityResult::Organization {
            sub_organization: Some(sub),
            ..
        } => {
            let (org, wallet, derived) =
                super::org_activities::sub_org_records(*sub, parameters, now)?;
            sub_orgs.push(org);
            wallets.extend(wallet);
            accounts.extend(derived);
        }
        ActivityResult::Exported { target, .. } => {
            exported.push(super::transfer::export_mark(&target));
        }
        ActivityResult::InitImport {
            user_id,
            kind,
            sealed_key,
            ..
        } => {
            import_key = Some(super::transfer::import_key_to_keep(
                org,
                user_id,
                kind,
                &sealed_key,
            )?);
        }
        ActivityResult::ImportWallet(wallet) => {
            accounts = account_records(org, wallet.wallet_id, wallet.accounts, now)?;
            wallets.push(WalletRecord {
                id: wallet.wallet_id,
                org,
                name: wallet.wallet_name,
                sealed_seed: wallet.sealed_seed,
                created_at_ms: now,
                imported: true,
                exported: false,
                updated_at_ms: now,
            });
        }
        ActivityResult::ImportPrivateKey(key) => {
            private_keys.push(super::transfer::imported_private_key_record(key, org, now));
        }
        ActivityResult::SignRawPayload(_)
        | ActivityResult::SignRawPayloads(_)
        | ActivityResult::SignTransaction(_)
        | ActivityResult::Organization { .. }
        | ActivityResult::Empty => {}
    }
    Ok(Records {
        result: json,
        audit_result,
        wallets,
        accounts,
        private_keys,
        sub_orgs,
        exported,
        import_key,
        edits,
    })
}

/// Looks up what the enclave needs for this activity. Nothing here is trusted by the enclave:
/// it checks the seal's binding and re-derives and compares.
pub(super) async fn resolve_context(
    state: &AppState,
    org: OrgId,
    envelope: &Envelope,
) -> Result<ActivityContext, ApiError> {
    if let Some(context) = super::transfer::resolve_context(state, org, envelope).await? {
        return Ok(context);
    }
    if let Some(context) = super::webhook_endpoints::resolve_context(
        state,
        org,
        &envelope.activity_type,
        &envelope.parameters,
    )
    .await?
    {
        return Ok(context);
    }
    let param = |k: &str| envelope.parameters.get(k).and_then(Value::as_str);
    match envelope.activity_type.as_str() {
        "ACTIVITY_TYPE_CREATE_WALLET_ACCOUNTS" => {
            let Some(wallet_id) = param("walletId").and_then(|w| w.parse::<WalletId>().ok()) else {
                return Ok(ActivityContext::None);
            };
            Ok(match state.store.get_wallet(org, wallet_id).await? {
                Some(wallet) => ActivityContext::Wallet {
                    wallet_id: wallet.id,
                    sealed_seed: wallet.sealed_seed,
                },
                None => ActivityContext::None,
            })
        }
        "ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2"
        | "ACTIVITY_TYPE_SIGN_RAW_PAYLOADS"
        | "ACTIVITY_TYPE_SIGN_TRANSACTION_V2" => {
            let Some(sign_with) = param("signWith") else {
                return Ok(ActivityContext::None);
            };
            if let Some((account, wallet)) = state.store.find_account(org, sign_with).await? {
                return account_context(account, wallet);
            }
            if let Some((key, format)) = state.store.find_private_key(org, sign_with).await? {
                let address_format = match format {
                    None => None,
                    Some(f) => Some(AddressFormat::from_turnkey(&f).ok_or_else(|| {
                        ApiError::internal("stored private key has an unknown address format")
                    })?),
                };
                return Ok(ActivityContext::PrivateKey {
                    private_key_id: key.id,
                    address_format,
                    sealed_key: key.sealed_key,
                });
            }
            Ok(ActivityContext::None)
        }
        _ => Ok(ActivityContext::None),
    }
}

/// The context naming one wallet account: its derivation and its wallet's sealed seed.
pub(super) fn account_context(
    account: AccountRecord,
    wallet: WalletRecord,
) -> Result<ActivityContext, ApiError> {
    let (Some(curve), Some(address_format)) = (
        Curve::from_turnkey(&account.curve),
        AddressFormat::from_turnkey(&account.address_format),
    ) else {
        return Err(ApiError::internal(
            "stored account has an unknown curve or format",
        ));
    };
    Ok(ActivityContext::WalletAccount {
        wallet_id: wallet.id,
        path: account.path,
        curve,
        address_format,
        sealed_seed: wallet.sealed_seed,
    })
}
