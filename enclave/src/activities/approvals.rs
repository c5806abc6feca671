//! `APPROVE_ACTIVITY` / `REJECT_ACTIVITY`: a vote on an activity waiting for consensus.
//!
//! The enclave keeps no pending activities: the host re-sends the target activity exactly as
//! its submitter stamped it and every earlier approval exactly as its voter stamped it, and
//! every stamp is verified again here, against the current sealed state. Each vote must name
//! the target's fingerprint; the approvers are the distinct users behind valid stamps. Once the
//! policies (or the root quorum) are satisfied the target runs, and its fingerprint is recorded
//! in the sealed state, so neither it nor its approvals can be replayed; a rejection records it
//! too, so a rejected activity can never run.

use keyhold_shared::msg::{
    ActivityContext, ActivityOutput, ActivityResult, ActivityStatus, MAX_VOTES, PolicyEvaluation,
    ReceiptKind,
};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::envelope::Envelope;
use super::{APPROVAL_WINDOW_MS, MAX_SKEW_MS, fingerprint, perform, principal};
use crate::auth::{Authenticated, authenticate};
use crate::authorize::{Verdict, authorize};
use crate::enclave::Keys;
use crate::error::{Error, Result};
use crate::org::OrgState;

const APPROVE: &str = "ACTIVITY_TYPE_APPROVE_ACTIVITY";
const REJECT: &str = "ACTIVITY_TYPE_REJECT_ACTIVITY";

pub fn is_vote(activity_type: &str) -> bool {
    activity_type == APPROVE || activity_type == REJECT
}

#[derive(Deserialize)]
struct Intent {
    fingerprint: String,
}

/// The target's or a vote's timestamp must lie within the approval window.
fn check_window(envelope: &Envelope, now_ms: u64, what: &str) -> Result<()> {
    let ts = envelope.timestamp()?;
    if ts.saturating_add(APPROVAL_WINDOW_MS) < now_ms || ts > now_ms.saturating_add(MAX_SKEW_MS) {
        return Err(Error::InvalidTime(format!(
            "{what} is outside the 24-hour approval window"
        )));
    }
    Ok(())
}

pub fn vote(
    keys: &Keys,
    org: &OrgState,
    voter_body: &[u8],
    envelope: &Envelope,
    voter: &Authenticated<'_>,
    context: &ActivityContext,
    now_ms: u64,
) -> Result<ActivityOutput> {
    let intent: Intent = envelope.parameters()?;
    let ActivityContext::Approval(approval) = context else {
        return Err(Error::NotFound(format!(
            "no activity found with fingerprint `{}`",
            crate::error::clip(&intent.fingerprint)
        )));
    };
    // The target: exactly what its submitter signed, for this organization.
    let target_fingerprint = fingerprint(&approval.target.body);
    if target_fingerprint != intent.fingerprint {
        return Err(Error::invalid(
            "the activity supplied for this vote does not have the fingerprint the voter signed",
        ));
    }
    let target = Envelope::parse(&approval.target.body)?;
    let submitter = authenticate(org, &approval.target, now_ms)?;
    target.check_organization(org)?;
    check_window(&target, now_ms, "the activity")?;
    if is_vote(&target.activity_type) {
        return Err(Error::invalid("a vote cannot be voted on"));
    }
    let digest: [u8; 32] = Sha256::digest(&approval.target.body).into();
    if org.seen(&digest) {
        return Err(Error::invalid(
            "this activity was already completed or rejected",
        ));
    }
    let replay_until = target
        .timestamp()?
        .saturating_add(APPROVAL_WINDOW_MS)
        .saturating_add(MAX_SKEW_MS);
    let kind = if envelope.activity_type == REJECT {
        ReceiptKind::Reject { target: digest }
    } else {
        ReceiptKind::Approve { target: digest }
    };
    let output = |status,
                  result,
                  new_state: Option<OrgState>,
                  policy_evaluations: Option<Vec<PolicyEvaluation>>|
     -> Result<ActivityOutput> {
        crate::audit::conclude(
            keys,
            org,
            crate::audit::Step {
                kind,
                request_body: voter_body,
                activity_type: target.activity_type.clone(),
                status,
                fingerprint: target_fingerprint.clone(),
                principal: principal(org, voter),
                executed_at_ms: now_ms,
                result,
                new_state,
                policy_evaluations,
            },
        )
    };

    if envelope.activity_type == REJECT {
        let state = org.successor(&digest, now_ms, replay_until)?;
        // A rejection consults no policy: it records no evaluation.
        return output(
            ActivityStatus::Rejected,
            ActivityResult::Empty,
            Some(state),
            None,
        );
    }

    // Earlier approvals: each re-verified, each for this very activity.
    if approval.votes.len() > MAX_VOTES {
        return Err(Error::invalid(format!("at most {MAX_VOTES} votes")));
    }
    let mut approvers: Vec<Authenticated<'_>> = Vec::with_capacity(approval.votes.len() + 2);
    approvers.push(submitter);
    for v in &approval.votes {
        let e = Envelope::parse(&v.body)?;
        let a = authenticate(org, v, now_ms)?;
        e.check_organization(org)?;
        check_window(&e, now_ms, "an approval")?;
        let i: Intent = e.parameters()?;
        if e.activity_type != APPROVE || i.fingerprint != target_fingerprint {
            return Err(Error::invalid("an approval is for another activity"));
        }
        approvers.push(a);
    }
    // One vote per user. A second approval by the same user would change nothing, yet the host
    // would store it and re-send it with every later vote: a replayed published approval could
    // fill the activity's `MAX_VOTES` and lock out the real approvers until the window ends.
    if approvers.iter().any(|a| a.user.id == voter.user.id) {
        return Err(Error::invalid(
            "this user has already approved this activity (submitting it counts as approving it)",
        ));
    }
    approvers.push(Authenticated::again(voter));
    let refs: Vec<&Authenticated<'_>> = approvers.iter().collect();
    // Every approval evaluates the policies again, with one more approver: its own evaluation.
    let authorization = authorize(org, &target, &refs, &approval.target_context, now_ms)?;
    let evaluations = Some(authorization.evaluations);
    match authorization.verdict {
        Verdict::ConsensusNeeded => output(
            ActivityStatus::ConsensusNeeded,
            ActivityResult::Empty,
            None,
            evaluations,
        ),
        Verdict::Allowed(allowed) => {
            let (result, state) = perform(
                keys,
                org,
                &approval.target.body,
                &target,
                &approval.target_context,
                allowed,
                now_ms,
            )?;
            // Org activities recorded the fingerprint already; record it for the others.
            let state = match state {
                Some(s) => s,
                None => org.successor(&digest, now_ms, replay_until)?,
            };
            output(ActivityStatus::Completed, result, Some(state), evaluations)
        }
    }
}
