//! Stage 5: combine the organization's policies into one decision.
//!
//! Order (Turnkey's "evaluation semantics", `turnkey-api.md` §8.3, and keyhold's DESIGN.md):
//! 1. the root quorum has approved → **allow**, policies are not consulted;
//! 2. the activity is root-quorum-only (e.g. `ACTIVITY_TYPE_UPDATE_ROOT_QUORUM`) → wait for the
//!    root quorum if a root user approved, else **deny**; policies cannot grant it;
//! 3. any DENY policy applies (condition and time hold, consensus met) → **deny**;
//! 4. any ALLOW policy applies → **allow**;
//! 5. an ALLOW policy's condition holds but its consensus is not met yet → **consensus needed**;
//! 6. some root users approved but not enough → **consensus needed** (for the root quorum);
//! 7. otherwise → **deny** (implicit).
//!
//! Errors are handled by [`ErrorHandling::FailClosed`], the only mode.

use std::borrow::Borrow;
use std::collections::BTreeSet;

use crate::context::Context;
use crate::error::EvalError;
use crate::eval::Env;
use crate::policy::{Effect, Policy};
use crate::schema::Scope;

/// How an evaluation error in a policy affects the decision. keyhold has one mode, spelled out
/// so that it is a rule and not an accident of the evaluator (compare cedar's
/// `ErrorHandling::Skip`, which ignores an erroring `forbid`; a signer must not).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ErrorHandling {
    /// An ALLOW policy whose evaluation errors is treated as if it did not exist: it never
    /// allows and never asks for consensus. A DENY policy whose evaluation errors is treated as
    /// if it applied: the activity is denied. A context that cannot be converted (a list over the
    /// limits) makes every policy error, so the activity is denied.
    FailClosed,
}

/// The error handling `authorize` uses.
pub const ERROR_HANDLING: ErrorHandling = ErrorHandling::FailClosed;

/// Activity types that only the root quorum may perform ("Root quorum activities").
pub const ROOT_QUORUM_ONLY: &[&str] = &[
    "ACTIVITY_TYPE_UPDATE_ROOT_QUORUM",
    "ACTIVITY_TYPE_SET_ORGANIZATION_FEATURE",
    "ACTIVITY_TYPE_REMOVE_ORGANIZATION_FEATURE",
    "ACTIVITY_TYPE_UPDATE_ORGANIZATION_NAME",
];

/// The organization's root quorum.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RootQuorum {
    /// The root users.
    pub user_ids: Vec<String>,
    /// How many distinct root users must approve (a threshold of 0 is never met).
    pub threshold: u32,
}

impl RootQuorum {
    /// How many distinct root users are among the approvers.
    #[must_use]
    pub fn approvals(&self, ctx: &Context) -> usize {
        let approved: BTreeSet<&str> = ctx.approvers.iter().map(|u| u.id.as_str()).collect();
        let roots: BTreeSet<&str> = self.user_ids.iter().map(String::as_str).collect();
        approved.intersection(&roots).count()
    }

    /// Whether the root quorum has approved.
    #[must_use]
    pub fn is_met(&self, ctx: &Context) -> bool {
        self.threshold >= 1 && self.approvals(ctx) as u64 >= u64::from(self.threshold)
    }
}

/// What one policy's evaluation gave.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Its condition is false.
    NotApplicable,
    /// Its condition holds but its time window does not (the policy is inactive now): as
    /// [`Outcome::NotApplicable`] for the decision, reported apart (Turnkey's
    /// `OUTCOME_TIME_INACTIVE`).
    TimeInactive,
    /// Its condition and time hold and its consensus is met.
    Applies,
    /// Its condition and time hold but its consensus is not met (yet).
    ConsensusPending,
    /// An expression failed to evaluate.
    Error {
        /// Which expression.
        field: Scope,
        /// The error.
        error: EvalError,
        /// `line:col: message`, for logs and activity results.
        message: String,
    },
}

/// One policy's outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyResult {
    /// The policy's id.
    pub policy_id: String,
    /// Its effect.
    pub effect: Effect,
    /// What its evaluation gave.
    pub outcome: Outcome,
}

/// The decision.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Decision {
    /// The activity may proceed.
    Allow,
    /// The activity is rejected.
    Deny,
    /// The activity waits for more approvals (`ACTIVITY_STATUS_CONSENSUS_NEEDED`).
    ConsensusNeeded,
}

/// Why the decision was made.
#[derive(Clone, Debug, PartialEq)]
pub enum Reason {
    /// The root quorum approved.
    RootQuorum,
    /// These ALLOW policies applied (and no DENY).
    AllowedBy(Vec<String>),
    /// These DENY policies applied (`matched`) or failed to evaluate (`errored`).
    Denied {
        /// DENY policies that applied.
        matched: Vec<String>,
        /// DENY policies that errored (fail closed).
        errored: Vec<String>,
    },
    /// These ALLOW policies' conditions hold; their consensus is not met yet.
    AwaitingConsensus(Vec<String>),
    /// Some root users approved; the root quorum is not met yet.
    AwaitingRootQuorum,
    /// Only the root quorum may perform this activity.
    RootQuorumOnly,
    /// No policy allows the activity (implicit deny).
    NoPolicyAllows,
    /// The context could not be evaluated at all.
    InvalidContext(EvalError),
}

/// Proof that the authorizer allowed an activity; only [`Authorization::allowed`] makes one.
#[derive(Debug)]
pub struct PolicyAllowed(());

/// The result of [`authorize`]: a decision, its reason, and every policy's outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct Authorization {
    decision: Decision,
    reason: Reason,
    policies: Vec<PolicyResult>,
}

impl Authorization {
    /// The decision.
    #[must_use]
    pub fn decision(&self) -> Decision {
        self.decision
    }

    /// Why.
    #[must_use]
    pub fn reason(&self) -> &Reason {
        &self.reason
    }

    /// Every evaluated policy's outcome, in the order given (empty on a root quorum bypass).
    #[must_use]
    pub fn policies(&self) -> &[PolicyResult] {
        &self.policies
    }

    /// The proof token the signer requires, when the decision is [`Decision::Allow`].
    #[must_use]
    pub fn allowed(&self) -> Option<PolicyAllowed> {
        (self.decision == Decision::Allow).then_some(PolicyAllowed(()))
    }
}

fn ids(results: &[PolicyResult], effect: Effect, pred: impl Fn(&Outcome) -> bool) -> Vec<String> {
    results
        .iter()
        .filter(|r| r.effect == effect && pred(&r.outcome))
        .map(|r| r.policy_id.clone())
        .collect()
}

/// Decides on one activity.
///
/// `ctx.approvers` are the users who approved so far (the submitter's stamp counts as the first
/// approval); `ctx.credentials` the credentials they used.
#[must_use]
pub fn authorize<P: Borrow<Policy>>(
    policies: &[P],
    root: &RootQuorum,
    ctx: &Context,
) -> Authorization {
    let done = |decision, reason, policies| Authorization {
        decision,
        reason,
        policies,
    };
    if root.is_met(ctx) {
        return done(Decision::Allow, Reason::RootQuorum, Vec::new());
    }
    let root_pending = root.approvals(ctx) > 0;
    if ROOT_QUORUM_ONLY.contains(&ctx.activity.activity_type.as_str()) {
        return if root_pending {
            done(
                Decision::ConsensusNeeded,
                Reason::AwaitingRootQuorum,
                Vec::new(),
            )
        } else {
            done(Decision::Deny, Reason::RootQuorumOnly, Vec::new())
        };
    }
    let env = match Env::new(ctx) {
        Ok(env) => env,
        Err(e) => return done(Decision::Deny, Reason::InvalidContext(e), Vec::new()),
    };
    let results: Vec<PolicyResult> = policies
        .iter()
        .map(Borrow::borrow)
        .map(|p: &Policy| PolicyResult {
            policy_id: p.id().to_owned(),
            effect: p.effect(),
            outcome: p.evaluate(&env),
        })
        .collect();

    let is_error = |o: &Outcome| matches!(o, Outcome::Error { .. });
    let applies = |o: &Outcome| *o == Outcome::Applies;
    let matched = ids(&results, Effect::Deny, applies);
    let errored = match ERROR_HANDLING {
        // An erroring DENY denies.
        ErrorHandling::FailClosed => ids(&results, Effect::Deny, is_error),
    };
    if !matched.is_empty() || !errored.is_empty() {
        return done(Decision::Deny, Reason::Denied { matched, errored }, results);
    }
    // An erroring ALLOW is skipped: only `Applies` / `ConsensusPending` count below.
    let allowed = ids(&results, Effect::Allow, applies);
    if !allowed.is_empty() {
        return done(Decision::Allow, Reason::AllowedBy(allowed), results);
    }
    let pending = ids(&results, Effect::Allow, |o| *o == Outcome::ConsensusPending);
    if !pending.is_empty() {
        return done(
            Decision::ConsensusNeeded,
            Reason::AwaitingConsensus(pending),
            results,
        );
    }
    if root_pending {
        return done(
            Decision::ConsensusNeeded,
            Reason::AwaitingRootQuorum,
            results,
        );
    }
    done(Decision::Deny, Reason::NoPolicyAllows, results)
}
