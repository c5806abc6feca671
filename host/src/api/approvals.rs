//! `approve_activity` / `reject_activity`. The host keeps the stamped requests of an activity
//! waiting for consensus (the submitter's, then each approval's) and re-sends all of them to the
//! enclave with every new vote; the enclave verifies every stamp again and decides. The answer
//! is the voted-on activity, as Turnkey's SDKs expect.

use super::answer::Answer;
use keyhold_shared::OrgId;
use keyhold_shared::msg::{
    ActivityContext, ActivityOutput, ActivityRequest, ActivityStatus, ApprovalContext, Request,
    Response, SignedRequest, Stamp,
};
use serde_json::Value;

use super::error::ApiError;
use super::query::{authenticate, load_org};
use super::retry::Failure;
use super::submit::{Envelope, Records, commit_and_answer, records, resolve_context};
use super::{AppState, format};
use crate::store::{ActivityCommit, ActivityRecord, OrgRecord, ReceiptRecord};

pub fn is_vote(path: &str) -> bool {
    path == "approve_activity" || path == "reject_activity"
}

pub fn status(status: ActivityStatus) -> &'static str {
    match status {
        ActivityStatus::Completed => "ACTIVITY_STATUS_COMPLETED",
        ActivityStatus::ConsensusNeeded => "ACTIVITY_STATUS_CONSENSUS_NEEDED",
        ActivityStatus::Rejected => "ACTIVITY_STATUS_REJECTED",
    }
}

/// The stamp header value of a request, as kept for re-sending. Both kinds are kept as the
/// header text: an `X-Stamp` value is base64url, a passkey's `X-Stamp-Webauthn` value is JSON
/// (it starts with `{`), so [`stamp_from_text`] tells them apart again.
pub fn stamp_text(stamp: &Stamp) -> Option<String> {
    match stamp {
        Stamp::ApiKey(s) | Stamp::Webauthn(s) => Some(s.clone()),
        // A read-only session cannot vote (the enclave refuses it for every activity).
        Stamp::Missing | Stamp::Session(_) => None,
    }
}

/// The stamp a kept header value was (see [`stamp_text`]).
pub fn stamp_from_text(text: String) -> Stamp {
    if text.trim_start().starts_with('{') {
        Stamp::Webauthn(text)
    } else {
        Stamp::ApiKey(text)
    }
}

pub async fn vote(
    state: &AppState,
    request: SignedRequest,
    organization_id: &str,
    parameters: &Value,
    approve: bool,
) -> Result<Answer, ApiError> {
    let fingerprint = parameters
        .get("fingerprint")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::invalid("missing required field `parameters.fingerprint`"))?;
    let org = load_org(state, organization_id).await?;
    super::retry::on_conflict(|| {
        vote_once(state, &request, &org, organization_id, fingerprint, approve)
    })
    .await
}

/// One attempt at a vote, from reading the voted-on activity to storing the outcome; run again
/// when another vote (or another activity on the organization) got stored first.
async fn vote_once(
    state: &AppState,
    request: &SignedRequest,
    org: &OrgRecord,
    organization_id: &str,
    fingerprint: &str,
    approve: bool,
) -> Result<Answer, Failure> {
    let Some(target) = state.store.find_vote_target(org.id, fingerprint).await? else {
        // Only an authenticated caller learns whether an activity exists.
        authenticate(state, org, request.clone()).await?;
        return Err(ApiError::not_found(format!(
            "No activity found with fingerprint {}",
            fingerprint.chars().take(80).collect::<String>()
        ))
        .into());
    };
    if target.status != status(ActivityStatus::ConsensusNeeded) {
        authenticate(state, org, request.clone()).await?;
        return Ok(Answer::stored(&target));
    }
    if is_stored_vote(state, org, &target, request).await? {
        return Ok(Answer::stored(&target));
    }
    let kept = state.store.vote_requests(org.id, fingerprint).await?;
    let mut kept = kept.into_iter().map(|(body, stamp)| SignedRequest {
        body: body.into_bytes(),
        stamp: stamp_from_text(stamp),
    });
    let first = kept
        .next()
        .ok_or_else(|| ApiError::internal("the activity's stamped request is missing"))?;
    let votes: Vec<SignedRequest> = kept.collect();
    let target_envelope: Envelope = serde_json::from_str(&target.body)
        .map_err(|_| ApiError::internal("stored activity body is invalid"))?;
    let target_context = resolve_context(state, org.id, &target_envelope).await?;
    let approval = ActivityContext::Approval(Box::new(ApprovalContext {
        target: first,
        votes,
        target_context,
    }));
    let called = super::org_queries::call_fresh(state, organization_id, |org, parent| {
        Request::Activity(ActivityRequest {
            parent: parent.cloned(),
            request: request.clone(),
            org: org.sealed.clone(),
            context: approval.clone(),
        })
    })
    .await;
    let response = match called {
        Ok((_, response)) => response,
        // Another vote decided the activity after it was read here, and the enclave, given the
        // organization's newer state, refuses to decide it again: the voter gets the decided
        // activity, as a vote on a decided activity does. (Only for a voter the enclave
        // authenticated: nobody else learns anything of the activity.)
        Err(refused) if refused.is_authenticated() => {
            return match state.store.find_vote_target(org.id, fingerprint).await? {
                Some(now) if now.status != status(ActivityStatus::ConsensusNeeded) => {
                    Ok(Answer::stored(&now))
                }
                _ => Err(refused.into()),
            };
        }
        Err(e) => return Err(e.into()),
    };
    let Response::Activity(output) = response else {
        // The enclave ran the vote; whatever it answered, the voter authenticated.
        return Err(ApiError::internal("unexpected enclave answer")
            .after_authentication()
            .into());
    };
    store_vote_output(state, org.id, target, request, *output, approve)
        .await
        .map_err(Failure::after_authentication)
}

/// Whether `request` is a vote stored already on `target`: the voter sending it again, or anyone
/// replaying it from the activity's published `votes`. Such a vote is answered from the store,
/// like a replayed activity, and never sent on: stored twice, it would take one of the
/// activity's `MAX_VOTES` places. A vote body names no voter, so two users' approvals built in
/// the same millisecond are the same bytes: it is this vote only if the same user signed it.
async fn is_stored_vote(
    state: &AppState,
    org: &OrgRecord,
    target: &ActivityRecord,
    request: &SignedRequest,
) -> Result<bool, Failure> {
    let body = String::from_utf8_lossy(&request.body);
    let votes: Vec<Value> = serde_json::from_str(&target.votes).unwrap_or_default();
    let voters: Vec<&str> = votes
        .iter()
        .filter(|v| v["message"].as_str() == Some(&body))
        .filter_map(|v| v["userId"].as_str())
        .collect();
    if voters.is_empty() {
        return Ok(false);
    }
    let principal = authenticate(state, org, request.clone()).await?;
    Ok(voters.contains(&principal.user_id.to_string().as_str()))
}

/// Stores the outcome of a vote — the enclave's `output` for the vote `request` on `target` —
/// and answers with the voted-on activity. Also stores a vote answer the host lost in a crash,
/// recovered from the enclave (`recovery.rs`).
pub(super) async fn store_vote_output(
    state: &AppState,
    org: OrgId,
    target: ActivityRecord,
    request: &SignedRequest,
    output: ActivityOutput,
    approve: bool,
) -> Result<Answer, Failure> {
    let target_envelope: Envelope = serde_json::from_str(&target.body)
        .map_err(|_| ApiError::internal("stored activity body is invalid"))?;
    let now = output.executed_at_ms;
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
        &target_envelope.parameters,
        org,
        now,
    )?;
    let body_text = String::from_utf8_lossy(&request.body).into_owned();
    let (activity_id, user_id) = (target.id.to_string(), output.principal.user_id.to_string());
    let stamp = stamp_text(&request.stamp);
    let vote = format::vote(
        &activity_id,
        &user_id,
        &output.principal.user_name,
        &body_text,
        stamp.as_deref(),
        now,
    );
    let vote = if approve { vote } else { vote.rejecting() };
    let vote = serde_json::to_value(&vote)
        .map_err(|e| ApiError::internal(format!("encoding the vote: {e}")))?;
    let decided_on = target.votes.clone();
    let record = ActivityRecord {
        status: status(output.status).into(),
        result: result.to_string(),
        votes: with_vote(&target.votes, &vote),
        updated_at_ms: now,
        ..target
    };
    let commit = ActivityCommit {
        activity: record.clone(),
        wallets,
        accounts,
        private_keys,
        org_state: output.new_org_state,
        sub_orgs,
        vote_request: approve
            .then(|| stamp_text(&request.stamp))
            .flatten()
            .map(|stamp| (body_text, stamp)),
        replace_waiting: Some(decided_on),
        meta: import_key,
        detach_from_parent: super::org_activities::deletes_organization(&record),
        exported,
        edits,
        receipt: Some(ReceiptRecord {
            receipt: receipt.clone(),
            result: Some(audit_result),
        }),
        // Each vote evaluated the policies again: its own evaluation of the activity.
        policy_evaluation: super::submit::evaluation_record(
            &output.policy_evaluations,
            &record,
            &output.principal,
            &receipt,
        ),
    };
    let answer = format::activity_text(&record, &format::parameters(&record));
    // Stored only over the votes it was decided on. A vote that lost that race is decided
    // again by the caller's retry, with the other vote: consensus may now be reached. (One
    // that completed or rejected the activity is then refused the organization's older state,
    // and its answer is stored through crash recovery, `recovery.rs`.)
    commit_and_answer(state, commit, &receipt, answer).await
}

/// An activity's `votes` with `vote` appended.
fn with_vote(votes: &str, vote: &Value) -> String {
    let mut all: Vec<Value> = serde_json::from_str(votes).unwrap_or_default();
    all.push(vote.clone());
    Value::Array(all).to_string()
}
