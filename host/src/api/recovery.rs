//! Catching up after a crash between the enclave's answer and the commit. The enclave refuses
//! an organization state older than one it has sealed, so an answer the host lost would stall
//! the organization; the enclave keeps its newest unstored state-changing answer
//! (`enclave/src/recovery.rs`) and the host, when its stored state is refused as stale and no
//! other writer is moving it forward, fetches that answer and stores it exactly as it would
//! have. The activity then exists once, as the enclave executed it (a client retrying the same
//! body finds it by fingerprint). The same path, without a crash, stores a vote that decided an
//! activity but lost the race to be stored to a vote that left it waiting (`approvals.rs`).

use keyhold_shared::msg::{RecoveredActivity, Request, Response};
use serde_json::Value;

use super::AppState;
use super::retry::Failure;
use super::submit::Envelope;
use crate::error::HostError;
use crate::store::OrgRecord;

/// Stores the enclave's unstored answer for `org`, if it has one that moves `org` forward.
/// Returns whether something was stored.
pub async fn catch_up(state: &AppState, org: &OrgRecord) -> Result<bool, HostError> {
    let Response::Recover(answer) = state.call(Request::Recover(org.id)).await? else {
        return Err(HostError::EnclaveUnavailable(
            "unexpected enclave answer".into(),
        ));
    };
    let Some(answer) = answer else {
        return Ok(false);
    };
    let RecoveredActivity { request, output } = *answer;
    let moves_forward = output
        .new_org_state
        .as_ref()
        .is_some_and(|s| s.org_id == org.id && s.version > org.sealed.version);
    if !moves_forward {
        return Ok(false);
    }
    tracing::warn!(
        org = %org.id,
        activity = %output.activity_id,
        version = output.new_org_state.as_ref().map_or(0, |s| s.version),
        "storing an activity the enclave executed but this host never stored (crash recovery, or a deciding vote that lost a race to be stored)"
    );
    let envelope: Envelope = serde_json::from_slice(&request.body)
        .map_err(|_| HostError::Store("a recovered request is not an activity".into()))?;
    let stored = match envelope.activity_type.as_str() {
        "ACTIVITY_TYPE_APPROVE_ACTIVITY" | "ACTIVITY_TYPE_REJECT_ACTIVITY" => {
            let approve = envelope.activity_type == "ACTIVITY_TYPE_APPROVE_ACTIVITY";
            let fingerprint = envelope
                .parameters
                .get("fingerprint")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let Some(target) = state.store.find_vote_target(org.id, fingerprint).await? else {
                return Ok(false);
            };
            super::approvals::store_vote_output(state, org.id, target, &request, output, approve)
                .await
        }
        _ => {
            super::submit::store_output(state, org.id, &envelope.parameters, &request, output).await
        }
    };
    match stored {
        Ok(_) => Ok(true),
        // Someone else stored it (or moved on) first: nothing to catch up.
        Err(Failure::Conflict { .. }) => Ok(false),
        Err(Failure::Api(e)) => Err(HostError::Store(format!(
            "storing a recovered activity failed: {}",
            e.message()
        ))),
    }
}
