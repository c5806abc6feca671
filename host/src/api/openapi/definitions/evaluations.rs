//! `query/get_policy_evaluations`: what each policy gave at every step of an activity (its
//! submission, then each approval), as the enclave reported it (`enclave/src/authorize.rs`)
//! and the step's receipt covers it.

use keyhold_shared::msg::PolicyOutcome;
use serde_json::Value;

use super::{array, described, enumeration, object, query_request, reference, string, timestamp};

pub(super) fn all() -> Vec<(&'static str, Value)> {
    let outcomes: Vec<&str> = PolicyOutcome::ALL.iter().map(|o| o.as_turnkey()).collect();
    vec![
        (
            "v1GetPolicyEvaluationsRequest",
            query_request(vec![("activityId!", string())]),
        ),
        (
            "v1GetPolicyEvaluationsResponse",
            object(vec![(
                "policyEvaluations!",
                described(
                    array(reference("externalactivityv1PolicyEvaluation")),
                    "one per step that evaluated the policies, oldest first: the submission, \
                     then each approval (a rejection evaluates none)",
                ),
            )]),
        ),
        (
            "externalactivityv1PolicyEvaluation",
            object(vec![
                ("id!", string()),
                ("activityId!", string()),
                ("organizationId!", string()),
                (
                    "voteId!",
                    described(
                        string(),
                        "the vote (activity.votes[].id) this evaluation was made for",
                    ),
                ),
                (
                    "policyEvaluations!",
                    described(
                        array(reference("immutablecommonv1PolicyEvaluation")),
                        "every policy of the organization, in its order; empty when the root \
                         quorum decided without them",
                    ),
                ),
                ("createdAt!", timestamp()),
            ]),
        ),
        (
            "immutablecommonv1PolicyEvaluation",
            object(vec![
                ("policyId", string()),
                ("outcome", reference("v1Outcome")),
            ]),
        ),
        (
            "v1Outcome",
            described(
                enumeration(&outcomes),
                "OUTCOME_DENY_IMPLICIT: the policy does not apply (its condition is false); \
                 OUTCOME_ERROR: it failed to evaluate or no longer compiles",
            ),
        ),
    ]
}
