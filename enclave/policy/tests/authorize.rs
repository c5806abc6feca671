//! The authorizer: root bypass, deny over allow, implicit deny, consensus, fail-closed errors.

use keyhold_policy::{
    Activity, Context, Decision, ERROR_HANDLING, Effect, ErrorHandling, Outcome, Policy, Reason,
    RootQuorum, Scope, Value, authorize,
};

use crate::common::*;

fn allow(id: &str, condition: &str, consensus: &str) -> Policy {
    Policy::new(id, Effect::Allow, condition, consensus).unwrap()
}

fn deny(id: &str, condition: &str, consensus: &str) -> Policy {
    Policy::new(id, Effect::Deny, condition, consensus).unwrap()
}

fn root() -> RootQuorum {
    RootQuorum {
        user_ids: vec![ROOT.into()],
        threshold: 1,
    }
}

fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

struct Row {
    name: &'static str,
    policies: Vec<Policy>,
    root: RootQuorum,
    ctx: Context,
    decision: Decision,
    reason: Reason,
}

fn rows() -> Vec<Row> {
    let tagged = format!("approvers.any(user, user.tags.contains('{TAG}'))");
    let sign_any = allow("allow-sign", "activity.action == 'SIGN'", "");
    let deny_usdc = deny("deny-usdc", &format!("eth.tx.to == '{USDC}'"), "");
    let with_approvers = |mut c: Context, a: &[keyhold_policy::User]| {
        c.approvers = a.to_vec();
        c
    };
    vec![
        Row {
            name: "root quorum bypasses a matching deny",
            policies: vec![deny_usdc.clone()],
            root: root(),
            ctx: with_approvers(eth_sign(), &[user(ROOT, &[])]),
            decision: Decision::Allow,
            reason: Reason::RootQuorum,
        },
        Row {
            name: "root quorum 2-of-2 with one root approval waits",
            policies: vec![],
            root: RootQuorum {
                user_ids: ids(&[ROOT, BOB]),
                threshold: 2,
            },
            ctx: with_approvers(create_policy(&[]), &[user(ROOT, &[])]),
            decision: Decision::ConsensusNeeded,
            reason: Reason::AwaitingRootQuorum,
        },
        Row {
            name: "root quorum 2-of-2 met",
            policies: vec![],
            root: RootQuorum {
                user_ids: ids(&[ROOT, BOB]),
                threshold: 2,
            },
            ctx: with_approvers(
                create_policy(&[]),
                &[user(ROOT, &[]), user(BOB, &[]), user(ROOT, &[])],
            ),
            decision: Decision::Allow,
            reason: Reason::RootQuorum,
        },
        Row {
            name: "the same root user twice is one approval",
            policies: vec![],
            root: RootQuorum {
                user_ids: ids(&[ROOT, BOB]),
                threshold: 2,
            },
            ctx: with_approvers(create_policy(&[]), &[user(ROOT, &[]), user(ROOT, &[])]),
            decision: Decision::ConsensusNeeded,
            reason: Reason::AwaitingRootQuorum,
        },
        Row {
            name: "threshold 0 is never met",
            policies: vec![],
            root: RootQuorum {
                user_ids: ids(&[ROOT]),
                threshold: 0,
            },
            ctx: with_approvers(create_policy(&[]), &[user(ALICE, &[])]),
            decision: Decision::Deny,
            reason: Reason::NoPolicyAllows,
        },
        Row {
            name: "root-quorum-only activity cannot be granted by a policy",
            policies: vec![allow("allow-all", "true", "")],
            root: root(),
            ctx: Context {
                activity: Activity::new(
                    "ACTIVITY_TYPE_UPDATE_ROOT_QUORUM",
                    "ORGANIZATION",
                    "UPDATE",
                ),
                approvers: vec![user(ALICE, &[])],
                ..Context::default()
            },
            decision: Decision::Deny,
            reason: Reason::RootQuorumOnly,
        },
        Row {
            name: "allow applies",
            policies: vec![sign_any.clone()],
            root: root(),
            ctx: eth_sign(),
            decision: Decision::Allow,
            reason: Reason::AllowedBy(ids(&["allow-sign"])),
        },
        Row {
            name: "deny wins over allow",
            policies: vec![sign_any.clone(), deny_usdc.clone()],
            root: root(),
            ctx: eth_sign(),
            decision: Decision::Deny,
            reason: Reason::Denied {
                matched: ids(&["deny-usdc"]),
                errored: vec![],
            },
        },
        Row {
            name: "deny that does not match lets allow through",
            policies: vec![sign_any.clone(), deny_usdc.clone()],
            root: root(),
            ctx: eth_send_with_key("1"),
            decision: Decision::Allow,
            reason: Reason::AllowedBy(ids(&["allow-sign"])),
        },
        Row {
            name: "implicit deny",
            policies: vec![allow(
                "allow-create-wallet",
                "activity.kind == 'CREATE_WALLET'",
                "",
            )],
            root: root(),
            ctx: eth_sign(),
            decision: Decision::Deny,
            reason: Reason::NoPolicyAllows,
        },
        Row {
            name: "no policies at all",
            policies: vec![],
            root: root(),
            ctx: eth_sign(),
            decision: Decision::Deny,
            reason: Reason::NoPolicyAllows,
        },
        Row {
            name: "consensus by tag not met",
            policies: vec![allow("tagged", "activity.action == 'SIGN'", &tagged)],
            root: root(),
            ctx: with_approvers(eth_sign(), &[user(BOB, &[])]),
            decision: Decision::ConsensusNeeded,
            reason: Reason::AwaitingConsensus(ids(&["tagged"])),
        },
        Row {
            name: "consensus by tag met",
            policies: vec![allow("tagged", "activity.action == 'SIGN'", &tagged)],
            root: root(),
            ctx: with_approvers(eth_sign(), &[user(BOB, &[]), user(ALICE, &[TAG])]),
            decision: Decision::Allow,
            reason: Reason::AllowedBy(ids(&["tagged"])),
        },
        Row {
            name: "two approvers needed, one so far",
            policies: vec![allow(
                "two",
                "activity.resource == 'POLICY'",
                "approvers.count() >= 2",
            )],
            root: root(),
            ctx: create_policy(&[user(ALICE, &[])]),
            decision: Decision::ConsensusNeeded,
            reason: Reason::AwaitingConsensus(ids(&["two"])),
        },
        Row {
            name: "two approvers needed, two given",
            policies: vec![allow(
                "two",
                "activity.resource == 'POLICY'",
                "approvers.count() >= 2",
            )],
            root: root(),
            ctx: create_policy(&[user(ALICE, &[]), user(BOB, &[])]),
            decision: Decision::Allow,
            reason: Reason::AllowedBy(ids(&["two"])),
        },
        Row {
            name: "consensus pending on one policy, met on another",
            policies: vec![
                allow("two", "activity.action == 'SIGN'", "approvers.count() >= 2"),
                allow(
                    "alice",
                    "activity.action == 'SIGN'",
                    &format!("approvers.any(u, u.id == '{ALICE}')"),
                ),
            ],
            root: root(),
            ctx: eth_sign(),
            decision: Decision::Allow,
            reason: Reason::AllowedBy(ids(&["alice"])),
        },
        Row {
            name: "a condition that does not hold never asks for consensus",
            policies: vec![allow(
                "two",
                "activity.resource == 'POLICY'",
                "approvers.count() >= 2",
            )],
            root: root(),
            ctx: eth_sign(),
            decision: Decision::Deny,
            reason: Reason::NoPolicyAllows,
        },
        Row {
            name: "a deny whose consensus is not met does not deny",
            policies: vec![
                sign_any.clone(),
                deny(
                    "deny-bob",
                    "true",
                    &format!("approvers.any(u, u.id == '{BOB}')"),
                ),
            ],
            root: root(),
            ctx: eth_sign(),
            decision: Decision::Allow,
            reason: Reason::AllowedBy(ids(&["allow-sign"])),
        },
        Row {
            name: "a deny on an approver denies",
            policies: vec![
                sign_any.clone(),
                deny(
                    "deny-bob",
                    "true",
                    &format!("approvers.any(u, u.id == '{BOB}')"),
                ),
            ],
            root: root(),
            ctx: with_approvers(eth_sign(), &[user(ALICE, &[]), user(BOB, &[])]),
            decision: Decision::Deny,
            reason: Reason::Denied {
                matched: ids(&["deny-bob"]),
                errored: vec![],
            },
        },
        Row {
            name: "erroring allow does not allow (fail closed)",
            policies: vec![allow(
                "either",
                &format!("wallet.id == '{WALLET_ID}' || private_key.id == '{KEY_ID}'"),
                "",
            )],
            root: root(),
            ctx: eth_sign(),
            decision: Decision::Deny,
            reason: Reason::NoPolicyAllows,
        },
        Row {
            name: "erroring allow is skipped, another allow applies",
            policies: vec![
                allow(
                    "either",
                    &format!("wallet.id == '{WALLET_ID}' || private_key.id == '{KEY_ID}'"),
                    "",
                ),
                allow("wallet", &format!("wallet.id == '{WALLET_ID}'"), ""),
            ],
            root: root(),
            ctx: eth_sign(),
            decision: Decision::Allow,
            reason: Reason::AllowedBy(ids(&["wallet"])),
        },
        Row {
            name: "erroring allow with pending consensus does not ask for consensus",
            policies: vec![allow(
                "bad",
                "activity.params.user_ids.count() == 1",
                "approvers.count() >= 5",
            )],
            root: root(),
            ctx: eth_sign(),
            decision: Decision::Deny,
            reason: Reason::NoPolicyAllows,
        },
        Row {
            name: "erroring deny denies (fail closed)",
            policies: vec![
                sign_any.clone(),
                deny("deny-sol", "solana.tx.transfers.count() > 0", ""),
            ],
            root: root(),
            ctx: eth_sign(),
            decision: Decision::Deny,
            reason: Reason::Denied {
                matched: vec![],
                errored: ids(&["deny-sol"]),
            },
        },
        Row {
            name: "erroring deny consensus denies",
            policies: vec![
                sign_any.clone(),
                deny("deny-bad", "true", "approvers[3].id == 'x'"),
            ],
            root: root(),
            ctx: eth_sign(),
            decision: Decision::Deny,
            reason: Reason::Denied {
                matched: vec![],
                errored: ids(&["deny-bad"]),
            },
        },
        Row {
            name: "no short circuit: false && error is an error",
            policies: vec![
                sign_any.clone(),
                deny("deny", "false && solana.tx.transfers.count() > 0", ""),
            ],
            root: root(),
            ctx: eth_sign(),
            decision: Decision::Deny,
            reason: Reason::Denied {
                matched: vec![],
                errored: ids(&["deny"]),
            },
        },
        Row {
            name: "overflow is an error, and a deny that overflows denies",
            policies: vec![
                sign_any.clone(),
                deny(
                    "deny-overflow",
                    "eth.tx.value + 115792089237316195423570985008687907853269984665640564039457584007913129639935 > 0",
                    "",
                ),
            ],
            root: root(),
            ctx: eth_send_with_key("1"),
            decision: Decision::Deny,
            reason: Reason::Denied {
                matched: vec![],
                errored: ids(&["deny-overflow"]),
            },
        },
        Row {
            name: "root approval alone waits when no policy allows",
            policies: vec![allow(
                "create-wallet",
                "activity.kind == 'CREATE_WALLET'",
                "",
            )],
            root: RootQuorum {
                user_ids: ids(&[ROOT, BOB]),
                threshold: 2,
            },
            ctx: with_approvers(eth_sign(), &[user(ROOT, &[])]),
            decision: Decision::ConsensusNeeded,
            reason: Reason::AwaitingRootQuorum,
        },
    ]
}

#[test]
fn authorizer_table() {
    let mut failures = Vec::new();
    for r in rows() {
        let a = authorize(&r.policies, &r.root, &r.ctx);
        if a.decision() != r.decision || *a.reason() != r.reason {
            failures.push(format!(
                "{}: got {:?} / {:?}",
                r.name,
                a.decision(),
                a.reason()
            ));
        }
        if (a.decision() == Decision::Allow) != a.allowed().is_some() {
            failures.push(format!(
                "{}: proof token does not match the decision",
                r.name
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn error_handling_is_fail_closed_and_reported() {
    assert_eq!(ERROR_HANDLING, ErrorHandling::FailClosed);
    let p = allow(
        "either",
        &format!("wallet.id == '{WALLET_ID}' || private_key.id == '{KEY_ID}'"),
        "",
    );
    let a = authorize(&[p], &root(), &eth_sign());
    let [r] = a.policies() else {
        panic!("one result")
    };
    match &r.outcome {
        Outcome::Error { field, message, .. } => {
            assert_eq!(*field, Scope::Condition);
            assert_eq!(
                message,
                "1:56: `private_key` is not available for this activity"
            );
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn oversized_context_denies() {
    let mut ctx = eth_sign();
    ctx.activity.params.insert(
        "user_ids".into(),
        Value::strings((0..=keyhold_policy::MAX_CONTEXT_LIST).map(|i| i.to_string())),
    );
    let a = authorize(&[allow("all", "true", "")], &root(), &ctx);
    assert_eq!(a.decision(), Decision::Deny);
    assert!(
        matches!(a.reason(), Reason::InvalidContext(_)),
        "{:?}",
        a.reason()
    );
}

#[test]
fn step_budget_stops_runaway_evaluation() {
    let mut ctx = eth_sign();
    ctx.activity.params.insert(
        "user_ids".into(),
        Value::strings((0..2000).map(|i| i.to_string())),
    );
    let p = deny(
        "quadratic",
        "activity.params.user_ids.all(a, activity.params.user_ids.all(b, a == b || a != b))",
        "",
    );
    let a = authorize(&[allow("all", "true", ""), p], &root(), &ctx);
    assert_eq!(a.decision(), Decision::Deny);
    let msg = match &a.policies()[1].outcome {
        Outcome::Error { message, .. } => message.clone(),
        other => panic!("{other:?}"),
    };
    assert!(msg.contains("evaluation exceeded its budget"), "{msg}");
}

#[test]
fn an_inactive_time_window_is_reported_apart_from_a_false_condition() {
    // The context's clock reads 2025-01-15T15:00:00Z.
    let before = |id: &str, condition: &str| {
        allow(id, condition, "")
            .with_time("time.now < Timestamp('2025-01-01T00:00:00Z')")
            .unwrap()
    };
    let policies = [
        before("inactive", "activity.action == 'SIGN'"),
        before("not-matching", "activity.action == 'EXPORT'"),
        allow("active", "activity.action == 'SIGN'", "")
            .with_time("time.now > Timestamp('2025-01-01T00:00:00Z')")
            .unwrap(),
    ];
    let a = authorize(&policies, &root(), &eth_sign());
    let outcomes: Vec<(&str, &Outcome)> = a
        .policies()
        .iter()
        .map(|r| (r.policy_id.as_str(), &r.outcome))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("inactive", &Outcome::TimeInactive),
            ("not-matching", &Outcome::NotApplicable),
            ("active", &Outcome::Applies),
        ]
    );
    assert_eq!(a.decision(), Decision::Allow);
    // alone, the inactive policy allows nothing
    let a = authorize(&policies[..1], &root(), &eth_sign());
    assert_eq!(a.decision(), Decision::Deny);
    assert_eq!(a.reason(), &Reason::NoPolicyAllows);
}
