//! Policy evaluations: what each of the organization's policies gave when the enclave decided
//! on an activity (at its submission, then again at every approval). Served as Turnkey's
//! `query/get_policy_evaluations`; covered by the step's receipt (see [`super::audit_bytes`]).

use serde::{Deserialize, Serialize};

/// Most policy evaluations one step carries: an organization holds at most 100 policies.
pub const MAX_POLICY_EVALUATIONS: usize = 100;

/// Turnkey's `v1Outcome`, the values keyhold gives a single policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PolicyOutcome {
    /// An ALLOW policy whose condition, time window and consensus hold.
    Allow,
    /// A DENY policy whose condition, time window and consensus hold.
    DenyExplicit,
    /// A policy that does not apply (its condition is false, or a DENY's consensus is not met).
    DenyImplicit,
    /// An ALLOW policy whose condition holds but whose consensus is not met yet.
    RequiresConsensus,
    /// A policy that failed to evaluate, or that no longer compiles.
    Error,
    /// A policy whose condition holds outside its time window.
    TimeInactive,
}

impl PolicyOutcome {
    pub const ALL: [PolicyOutcome; 6] = [
        PolicyOutcome::Allow,
        PolicyOutcome::DenyExplicit,
        PolicyOutcome::DenyImplicit,
        PolicyOutcome::RequiresConsensus,
        PolicyOutcome::Error,
        PolicyOutcome::TimeInactive,
    ];

    /// Turnkey's enum string, e.g. `OUTCOME_DENY_EXPLICIT`.
    pub fn as_turnkey(self) -> &'static str {
        match self {
            PolicyOutcome::Allow => "OUTCOME_ALLOW",
            PolicyOutcome::DenyExplicit => "OUTCOME_DENY_EXPLICIT",
            PolicyOutcome::DenyImplicit => "OUTCOME_DENY_IMPLICIT",
            PolicyOutcome::RequiresConsensus => "OUTCOME_REQUIRES_CONSENSUS",
            PolicyOutcome::Error => "OUTCOME_ERROR",
            PolicyOutcome::TimeInactive => "OUTCOME_TIME_INACTIVE",
        }
    }

    pub fn from_turnkey(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_turnkey() == s)
    }
}

/// One policy's outcome (Turnkey's `immutablecommonv1PolicyEvaluation`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyEvaluation {
    pub policy_id: String,
    pub outcome: PolicyOutcome,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_spellings_round_trip() {
        for o in PolicyOutcome::ALL {
            assert!(o.as_turnkey().starts_with("OUTCOME_"));
            assert_eq!(PolicyOutcome::from_turnkey(o.as_turnkey()), Some(o));
        }
        assert_eq!(PolicyOutcome::from_turnkey("OUTCOME_DENY"), None);
    }
}
