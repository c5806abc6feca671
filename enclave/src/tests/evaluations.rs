//! Policy evaluations: every step that consults the policies reports each policy's outcome in
//! Turnkey's spelling, in the organization's order, and its receipt covers them.

use super::orgs::{board, cast, create_policy, create_user, new_key, run, vote_body};
use crate::testing::{create_wallet_body, fixture, signed};
use keyhold_shared::msg::{
    ActivityOutput, ActivityStatus, AuditResult, PolicyEvaluation, PolicyOutcome, audit_bytes,
    result_digest,
};

const WALLET_CREATE: &str = "activity.resource == 'WALLET' && activity.action == 'CREATE'";

fn outcomes(out: &ActivityOutput) -> Vec<(String, &'static str)> {
    out.policy_evaluations
        .as_deref()
        .expect("policies were evaluated")
        .iter()
        .map(|e| (e.policy_id.clone(), e.outcome.as_turnkey()))
        .collect()
}

/// The receipt's result digest covers the evaluations: other evaluations, another digest.
fn assert_covered(out: &ActivityOutput) {
    let result = AuditResult::from(&out.result);
    let bytes = audit_bytes(&result, out.policy_evaluations.as_deref()).unwrap();
    assert_eq!(out.receipt.body.result_digest, result_digest(&bytes));
    let mut forged: Vec<PolicyEvaluation> = out.policy_evaluations.clone().unwrap_or_default();
    forged.push(PolicyEvaluation {
        policy_id: "invented".into(),
        outcome: PolicyOutcome::Allow,
    });
    let forged = audit_bytes(&result, Some(&forged)).unwrap();
    assert_ne!(out.receipt.body.result_digest, result_digest(&forged));
}

#[test]
fn every_policy_is_reported_with_turnkey_outcomes() {
    let f = fixture();
    let bob = new_key();
    let (state, bob_id) = create_user(&f, &f.org, "bob", &bob);
    let (state, allow) = create_policy(
        &f,
        &state,
        "EFFECT_ALLOW",
        WALLET_CREATE,
        &format!("approvers.any(u, u.id == '{bob_id}')"),
    );
    let (state, deny_other) = create_policy(
        &f,
        &state,
        "EFFECT_DENY",
        "activity.type == 'ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2'",
        "",
    );
    let (state, allow_other) = create_policy(
        &f,
        &state,
        "EFFECT_ALLOW",
        "activity.resource == 'PRIVATE_KEY'",
        "",
    );
    // `wallet` is absent when creating a wallet: this ALLOW errors (and is skipped).
    let (state, erroring) = create_policy(&f, &state, "EFFECT_ALLOW", "wallet.id == 'x'", "");
    let (state, needs_two) = create_policy(
        &f,
        &state,
        "EFFECT_ALLOW",
        WALLET_CREATE,
        "approvers.count() >= 2",
    );
    // a DENY whose condition holds but whose consensus is not met does not apply
    let (state, deny_unmet) = create_policy(
        &f,
        &state,
        "EFFECT_DENY",
        WALLET_CREATE,
        "approvers.count() >= 2",
    );

    let out = run(
        &f,
        &state,
        &bob,
        &create_wallet_body(&f.org_id, "w", &["m/44'/60'/0'/0/0"]),
    )
    .unwrap();
    assert_eq!(out.status, ActivityStatus::Completed);
    assert_eq!(
        outcomes(&out),
        vec![
            (allow, "OUTCOME_ALLOW"),
            (deny_other, "OUTCOME_DENY_IMPLICIT"),
            (allow_other, "OUTCOME_DENY_IMPLICIT"),
            (erroring, "OUTCOME_ERROR"),
            (needs_two, "OUTCOME_REQUIRES_CONSENSUS"),
            (deny_unmet, "OUTCOME_DENY_IMPLICIT"),
        ]
    );
    assert_covered(&out);

    // the root quorum decides alone: an evaluation without policy outcomes
    let state = out.new_org_state.unwrap();
    let root = run(
        &f,
        &state,
        &f.api_key,
        &create_wallet_body(&f.org_id, "w2", &[]),
    )
    .unwrap();
    assert_eq!(root.policy_evaluations, Some(vec![]));
    assert_covered(&root);

    // a DENY that applies: the activity is refused, and nothing is left to report
    let (state, deny) = create_policy(
        &f,
        &root.new_org_state.unwrap(),
        "EFFECT_DENY",
        WALLET_CREATE,
        "",
    );
    let err = run(&f, &state, &bob, &create_wallet_body(&f.org_id, "w3", &[])).unwrap_err();
    assert!(err.message.contains(&deny), "{}", err.message);
}

#[test]
fn each_vote_is_evaluated_and_a_rejection_evaluates_nothing() {
    let b = board();
    let org = b.f.org_id;
    let wallet = create_wallet_body(&org, "w", &["m/44'/60'/0'/0/0"]);
    let target = signed(&b.members[0], &wallet);
    let first = run(&b.f, &b.state, &b.members[0], &wallet).unwrap();
    assert_eq!(first.status, ActivityStatus::ConsensusNeeded);
    let [(policy, outcome)] = outcomes(&first).try_into().unwrap();
    assert_eq!(outcome, "OUTCOME_REQUIRES_CONSENSUS");
    assert_covered(&first);

    // the second member's approval evaluates again, with two approvers: allowed
    let approve = vote_body(&org, true, &first.fingerprint);
    let second = cast(&b, &b.state, &b.members[1], &approve, &target, vec![]).unwrap();
    assert_eq!(second.status, ActivityStatus::Completed);
    assert_eq!(outcomes(&second), vec![(policy, "OUTCOME_ALLOW")]);
    assert_covered(&second);

    // a rejection (of another activity) consults no policy
    let state = second.new_org_state.clone().unwrap();
    let other = create_wallet_body(&org, "w2", &[]);
    let pending = run(&b.f, &state, &b.members[0], &other).unwrap();
    assert_eq!(pending.status, ActivityStatus::ConsensusNeeded);
    let reject = vote_body(&org, false, &pending.fingerprint);
    let other = signed(&b.members[0], &other);
    let rejected = cast(&b, &state, &b.members[2], &reject, &other, vec![]).unwrap();
    assert_eq!(rejected.status, ActivityStatus::Rejected);
    assert_eq!(rejected.policy_evaluations, None);
    assert_covered(&rejected);
}
