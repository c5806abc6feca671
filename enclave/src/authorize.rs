//! Authorization: every activity goes through `keyhold-policy` with a context built here from
//! what the enclave has verified itself — the signed body, the authenticated approvers and the
//! sealed organization state — never from anything the host merely claims.
//!
//! Order (Turnkey's, `keyhold_policy::authorize`): the root quorum bypasses policies; a DENY
//! policy that applies (or errors) wins; an ALLOW policy that applies allows; an ALLOW policy
//! whose consensus is not met yet asks for approvals; everything else is denied (implicit deny).
//! A stored policy that no longer compiles fails closed: a DENY denies, an ALLOW is ignored.

mod contract_calls;
mod transactions;

use std::sync::{Arc, LazyLock, Mutex};

use keyhold_policy::{
    Activity, Context, Credential, Decision, Effect, Outcome, Policy, PolicyResult, PrivateKey,
    Reason, RootQuorum, Timestamp, User, Value, Wallet, WalletAccount,
};
use keyhold_shared::msg::{
    ActivityContext, MAX_POLICY_EVALUATIONS, PolicyEvaluation, PolicyOutcome,
};

use crate::activities::{Allowed, Envelope};
use crate::auth::Authenticated;
use crate::error::{Error, Result};
use crate::limits;
use crate::lru::{Lru, cache_key};
use crate::org::{OrgState, StoredPolicy};

pub use transactions::spend;

/// The outcome of authorizing one activity.
#[derive(Debug)]
pub enum Verdict {
    Allowed(Allowed),
    /// An ALLOW policy (or the root quorum) needs more approvals.
    ConsensusNeeded,
}

/// A verdict and what every policy gave on the way to it (Turnkey's policy evaluations).
#[derive(Debug)]
pub struct Authorization {
    pub verdict: Verdict,
    pub evaluations: Vec<PolicyEvaluation>,
}

/// Turnkey's outcome for one policy's result.
fn outcome(result: &PolicyResult) -> PolicyOutcome {
    match (&result.outcome, result.effect) {
        (Outcome::Applies, Effect::Allow) => PolicyOutcome::Allow,
        (Outcome::Applies, Effect::Deny) => PolicyOutcome::DenyExplicit,
        (Outcome::ConsensusPending, Effect::Allow) => PolicyOutcome::RequiresConsensus,
        // A DENY whose consensus is not met does not apply (`keyhold_policy::authorize`).
        (Outcome::ConsensusPending, Effect::Deny) | (Outcome::NotApplicable, _) => {
            PolicyOutcome::DenyImplicit
        }
        (Outcome::TimeInactive, _) => PolicyOutcome::TimeInactive,
        (Outcome::Error { .. }, _) => PolicyOutcome::Error,
    }
}

/// Every policy's outcome, in the organization's order: from the evaluator's results, and
/// `OUTCOME_ERROR` for an ALLOW that no longer compiles (ignored by the decision). Policies
/// the evaluator did not consult (the root quorum decided) are left out.
fn evaluations(org: &OrgState, results: &[PolicyResult], broken: &[&str]) -> Vec<PolicyEvaluation> {
    org.policies
        .iter()
        .filter_map(|p| {
            let outcome = match results.iter().find(|r| r.policy_id == p.id) {
                Some(r) => outcome(r),
                None if broken.contains(&p.id.as_str()) => PolicyOutcome::Error,
                None => return None,
            };
            Some(PolicyEvaluation {
                policy_id: p.id.clone(),
                outcome,
            })
        })
        .take(MAX_POLICY_EVALUATIONS)
        .collect()
}

/// Turnkey's `activity.resource` and `activity.action` for an activity kind (the type without
/// its version suffix); unknown kinds get empty strings, so no resource/action policy matches.
pub fn resource_action(kind: &str) -> (&'static str, &'static str) {
    match kind {
        "CREATE_SUB_ORGANIZATION" => ("ORGANIZATION", "CREATE"),
        "DELETE_ORGANIZATION" | "DELETE_SUB_ORGANIZATION" => ("ORGANIZATION", "DELETE"),
        "CREATE_POLICY" | "CREATE_POLICIES" => ("POLICY", "CREATE"),
        "UPDATE_POLICY" => ("POLICY", "UPDATE"),
        "DELETE_POLICY" | "DELETE_POLICIES" => ("POLICY", "DELETE"),
        "CREATE_WALLET" | "CREATE_WALLET_ACCOUNTS" => ("WALLET", "CREATE"),
        "EXPORT_WALLET" | "EXPORT_WALLET_ACCOUNT" => ("WALLET", "EXPORT"),
        "INIT_IMPORT_WALLET" | "IMPORT_WALLET" => ("WALLET", "IMPORT"),
        "DELETE_WALLETS" | "DELETE_WALLET_ACCOUNTS" => ("WALLET", "DELETE"),
        "UPDATE_WALLET" => ("WALLET", "UPDATE"),
        "CREATE_PRIVATE_KEYS" | "CREATE_PRIVATE_KEY_TAG" => ("PRIVATE_KEY", "CREATE"),
        "UPDATE_PRIVATE_KEY_TAG" => ("PRIVATE_KEY", "UPDATE"),
        "DISABLE_PRIVATE_KEY" | "DELETE_PRIVATE_KEY_TAGS" | "DELETE_PRIVATE_KEYS" => {
            ("PRIVATE_KEY", "DELETE")
        }
        "EXPORT_PRIVATE_KEY" => ("PRIVATE_KEY", "EXPORT"),
        "CREATE_SMART_CONTRACT_INTERFACE" => ("SMART_CONTRACT_INTERFACE", "CREATE"),
        "DELETE_SMART_CONTRACT_INTERFACE" => ("SMART_CONTRACT_INTERFACE", "DELETE"),
        "INIT_IMPORT_PRIVATE_KEY" | "IMPORT_PRIVATE_KEY" => ("PRIVATE_KEY", "IMPORT"),
        "SIGN_RAW_PAYLOAD"
        | "SIGN_RAW_PAYLOADS"
        | "SIGN_TRANSACTION"
        | "ETH_SEND_TRANSACTION"
        | "SOL_SEND_TRANSACTION" => ("PRIVATE_KEY", "SIGN"),
        "CREATE_USERS" | "CREATE_USER_TAG" | "CREATE_API_ONLY_USERS" => ("USER", "CREATE"),
        "UPDATE_USER"
        | "UPDATE_USER_NAME"
        | "UPDATE_USER_EMAIL"
        | "UPDATE_USER_PHONE_NUMBER"
        | "UPDATE_USER_TAG" => ("USER", "UPDATE"),
        "DELETE_USERS" | "DELETE_USER_TAGS" => ("USER", "DELETE"),
        "CREATE_API_KEYS" | "CREATE_AUTHENTICATORS" | "CREATE_OAUTH_PROVIDERS" => {
            ("CREDENTIAL", "CREATE")
        }
        "CREATE_READ_WRITE_SESSION" | "STAMP_LOGIN" => ("AUTH", "CREATE"),
        "DELETE_API_KEYS" | "DELETE_AUTHENTICATORS" | "DELETE_OAUTH_PROVIDERS" => {
            ("CREDENTIAL", "DELETE")
        }
        "CREATE_WEBHOOK_ENDPOINT" => ("WEBHOOK_ENDPOINT", "CREATE"),
        "UPDATE_WEBHOOK_ENDPOINT" => ("WEBHOOK_ENDPOINT", "UPDATE"),
        "DELETE_WEBHOOK_ENDPOINT" => ("WEBHOOK_ENDPOINT", "DELETE"),
        _ => ("", ""),
    }
}

fn string_param(envelope: &Envelope, name: &str) -> Option<Value> {
    envelope
        .parameters
        .get(name)
        .and_then(serde_json::Value::as_str)
        .map(Value::str)
}

fn strings_param(envelope: &Envelope, name: &str) -> Option<Value> {
    let list = envelope.parameters.get(name)?.as_array()?;
    let items: Option<Vec<&str>> = list.iter().map(serde_json::Value::as_str).collect();
    items.map(Value::strings)
}

/// `activity`, with the `params` Turnkey exposes for this kind (and only those: any other
/// field is a `MissingField` error in the evaluator, which fails closed).
fn activity(envelope: &Envelope) -> Activity {
    let kind = keyhold_policy::activity_kind(&envelope.activity_type);
    let (resource, action) = resource_action(&kind);
    let mut activity = Activity::new(&envelope.activity_type, resource, action);
    let params: &[(&str, &str, bool)] = match kind.as_str() {
        "SIGN_RAW_PAYLOAD" | "SIGN_RAW_PAYLOADS" => &[
            ("hash_function", "hashFunction", false),
            ("encoding", "encoding", false),
            ("sign_with", "signWith", false),
        ],
        "SIGN_TRANSACTION" => &[("type", "type", false), ("sign_with", "signWith", false)],
        "DELETE_USERS" => &[("user_ids", "userIds", true)],
        "CREATE_API_KEYS" => &[("user_id", "userId", false)],
        "DELETE_API_KEYS" => &[
            ("user_id", "userId", false),
            ("api_key_ids", "apiKeyIds", true),
        ],
        "EXPORT_WALLET" | "EXPORT_PRIVATE_KEY" | "EXPORT_WALLET_ACCOUNT" => {
            &[("target_public_key", "targetPublicKey", false)]
        }
        "UPDATE_WALLET" => &[("wallet_id", "walletId", false)],
        _ => &[],
    };
    for (name, field, list) in params {
        let value = if *list {
            strings_param(envelope, field)
        } else {
            string_param(envelope, field)
        };
        if let Some(value) = value {
            activity.params.insert((*name).to_owned(), value);
        }
    }
    // Turnkey: "the session profile ID, or an empty string when omitted".
    if kind == "STAMP_LOGIN" {
        let profile = string_param(envelope, "sessionProfileId").unwrap_or_else(|| Value::str(""));
        activity
            .params
            .insert("session_profile_id".to_owned(), profile);
    }
    activity
}

/// Builds the evaluation context. `wallet` comes from the sealed state, looked up by the id
/// the host resolved; that id is checked against the seal when the seed is opened, so a host
/// that names another wallet gets a decision about a wallet it then cannot use.
pub fn context(
    org: &OrgState,
    envelope: &Envelope,
    approvers: &[&Authenticated<'_>],
    activity_context: &ActivityContext,
    now_ms: u64,
) -> Context {
    let mut ctx = Context {
        activity: activity(envelope),
        now: Some(Timestamp::from_unix_nanos(
            i128::from(now_ms).saturating_mul(1_000_000),
        )),
        ..Context::default()
    };
    for a in approvers {
        if ctx.approvers.iter().any(|u| u.id == a.user.id.to_string()) {
            continue;
        }
        ctx.approvers.push(User {
            id: a.user.id.to_string(),
            tags: a.user.tags.clone(),
            email: a.user.email.clone(),
            alias: Some(a.user.name.clone()),
        });
        ctx.credentials.push(Credential {
            id: a.credential.id(),
            user_id: a.user.id.to_string(),
            credential_type: a.credential.credential_type().into(),
            credential_id: a.credential.credential_id(),
            public_key: a.credential.public_key_hex(),
        });
    }
    let wallet = |id: &keyhold_shared::WalletId| {
        org.wallets.iter().find(|w| &w.id == id).map(|w| Wallet {
            id: w.id.to_string(),
            imported: w.imported,
            exported: w.exported,
            label: w.name.clone(),
        })
    };
    ctx.eth_tx = transactions::eth_tx(envelope, org);
    ctx.solana_tx = transactions::solana_tx(envelope, org);
    ctx.bitcoin_tx = transactions::bitcoin_tx(envelope);
    if let ActivityContext::WalletAccount { wallet_id, .. }
    | ActivityContext::Wallet { wallet_id, .. } = activity_context
    {
        ctx.wallet = wallet(wallet_id);
    }
    // The wallet an update names (in the signed body, so no host claim is involved).
    if envelope.activity_type == "ACTIVITY_TYPE_UPDATE_WALLET"
        && let Some(id) = envelope
            .parameters
            .get("walletId")
            .and_then(serde_json::Value::as_str)
            .and_then(|id| id.parse::<keyhold_shared::WalletId>().ok())
    {
        ctx.wallet = wallet(&id);
    }
    // The key the host resolved; its seal binds it to this id, checked when it is opened.
    if let ActivityContext::PrivateKey { private_key_id, .. } = activity_context {
        ctx.private_key = org
            .private_keys
            .iter()
            .find(|k| &k.id == private_key_id)
            .map(|k| PrivateKey {
                id: k.id.to_string(),
                tags: k.tags.clone(),
                imported: k.imported,
                exported: k.exported,
                label: k.name.clone(),
            });
    }
    if let Some(address) = envelope
        .parameters
        .get("signWith")
        .and_then(serde_json::Value::as_str)
    {
        ctx.wallet_account = Some(WalletAccount {
            address: address.to_owned(),
        });
    }
    ctx
}

/// Most compiled policies kept (a few hundred bytes each).
const COMPILED_CAPACITY: usize = 4096;

/// Compiled policies by a digest of everything compiling reads (id, effect, condition,
/// consensus, time window). Compiling is a pure function of those, and without this every
/// request recompiled every policy of its organization (~10 µs each, see the criterion bench
/// `policy/compile_one`). Process-wide: the same text compiles the same for every caller.
static COMPILED: LazyLock<Mutex<Lru<Policy>>> =
    LazyLock::new(|| Mutex::new(Lru::new(COMPILED_CAPACITY)));

/// Compiles one stored policy, or finds it compiled; `None` if it does not compile.
fn compile(p: &StoredPolicy, effect: Effect) -> Result<Option<Arc<Policy>>> {
    let time = p.time.as_deref().unwrap_or("");
    let key = cache_key(&[
        p.id.as_bytes(),
        &[u8::from(p.allow)],
        p.condition.as_bytes(),
        p.consensus.as_bytes(),
        time.as_bytes(),
    ]);
    let compiled = Lru::get_or_insert(&COMPILED, key, || {
        Policy::new(p.id.clone(), effect, &p.condition, &p.consensus)
            .and_then(|policy| policy.with_time(time))
            .map_err(|_| Error::invalid("policy does not compile"))
    });
    match compiled {
        Ok(policy) => Ok(Some(policy)),
        Err(Error::Internal(e)) => Err(Error::Internal(e)),
        Err(_) => Ok(None),
    }
}

/// Compiles the organization's stored policies, and names the ALLOWs that no longer compile
/// (ignored). A DENY that no longer compiles denies everything (fail closed).
fn compiled(org: &OrgState) -> Result<(Vec<Arc<Policy>>, Vec<&str>)> {
    let mut out = Vec::with_capacity(org.policies.len());
    let mut broken = Vec::new();
    for p in &org.policies {
        let effect = if p.allow { Effect::Allow } else { Effect::Deny };
        match (compile(p, effect)?, effect) {
            (Some(policy), _) => out.push(policy),
            (None, Effect::Allow) => {
                tracing::warn!(policy = %p.id, "stored ALLOW policy does not compile; ignored");
                broken.push(p.id.as_str());
            }
            (None, Effect::Deny) => {
                return Err(Error::Denied(format!(
                    "deny policy {} cannot be evaluated",
                    p.id
                )));
            }
        }
    }
    Ok((out, broken))
}

/// Decides on one activity, approved so far by `approvers` (the submitter first). A denial is
/// an error (nothing is stored for it, so its evaluations go nowhere).
pub fn authorize(
    org: &OrgState,
    envelope: &Envelope,
    approvers: &[&Authenticated<'_>],
    activity_context: &ActivityContext,
    now_ms: u64,
) -> Result<Authorization> {
    let mut ctx = context(org, envelope, approvers, activity_context, now_ms);
    let root = RootQuorum {
        user_ids: org
            .root_quorum
            .user_ids
            .iter()
            .map(ToString::to_string)
            .collect(),
        threshold: org.root_quorum.threshold,
    };
    let (policies, broken) = compiled(org)?;
    // Limit counters, when any policy reads one: from the sealed ledger, for the signing
    // resource the host resolved (checked against the seal when the key is opened).
    let counters = limits::keys_read(&policies);
    let track_limits = !counters.is_empty();
    if track_limits {
        let resource = limits::Resource::of(activity_context);
        ctx.counters = limits::counters(&org.usage, resource, &counters, now_ms);
    }
    let authorization = keyhold_policy::authorize(&policies, &root, &ctx);
    let evaluated = |verdict| Authorization {
        verdict,
        evaluations: evaluations(org, authorization.policies(), &broken),
    };
    match authorization.decision() {
        Decision::Allow => {
            let submitter = approvers
                .first()
                .ok_or(Error::Internal("activity without submitter"))?;
            authorization
                .allowed()
                .map(|proof| {
                    evaluated(Verdict::Allowed(Allowed::new(
                        proof,
                        track_limits,
                        submitter,
                    )))
                })
                .ok_or(Error::Internal("allow without proof"))
        }
        Decision::ConsensusNeeded => Ok(evaluated(Verdict::ConsensusNeeded)),
        Decision::Deny => Err(Error::Denied(match authorization.reason() {
            Reason::Denied { matched, errored } => {
                let mut ids: Vec<&str> = matched.iter().map(String::as_str).collect();
                ids.extend(errored.iter().map(String::as_str));
                format!("denied by policy {}", ids.join(", "))
            }
            Reason::RootQuorumOnly => "only the root quorum may perform this activity".into(),
            Reason::InvalidContext(_) => "the activity cannot be evaluated".into(),
            _ => "no policy allows this activity".into(),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(id: &str, allow: bool, condition: &str) -> StoredPolicy {
        StoredPolicy {
            id: id.into(),
            name: "p".into(),
            allow,
            condition: condition.into(),
            consensus: String::new(),
            notes: String::new(),
            time: None,
            created_at_ms: 0,
            updated_at_ms: 0,
        }
    }

    #[test]
    fn each_policy_result_has_turnkeys_outcome() {
        let result = |effect, outcome| PolicyResult {
            policy_id: "p".into(),
            effect,
            outcome,
        };
        let error = keyhold_policy::Policy::new("e", Effect::Allow, "wallet.id == 'x'", "")
            .unwrap()
            .evaluate(&keyhold_policy::Env::new(&Context::default()).unwrap());
        assert!(matches!(error, Outcome::Error { .. }));
        let cases = [
            (Effect::Allow, Outcome::Applies, "OUTCOME_ALLOW"),
            (Effect::Deny, Outcome::Applies, "OUTCOME_DENY_EXPLICIT"),
            (
                Effect::Allow,
                Outcome::NotApplicable,
                "OUTCOME_DENY_IMPLICIT",
            ),
            (
                Effect::Deny,
                Outcome::NotApplicable,
                "OUTCOME_DENY_IMPLICIT",
            ),
            (
                Effect::Allow,
                Outcome::ConsensusPending,
                "OUTCOME_REQUIRES_CONSENSUS",
            ),
            (
                Effect::Deny,
                Outcome::ConsensusPending,
                "OUTCOME_DENY_IMPLICIT",
            ),
            (
                Effect::Allow,
                Outcome::TimeInactive,
                "OUTCOME_TIME_INACTIVE",
            ),
            (Effect::Deny, Outcome::TimeInactive, "OUTCOME_TIME_INACTIVE"),
            (Effect::Allow, error.clone(), "OUTCOME_ERROR"),
            (Effect::Deny, error, "OUTCOME_ERROR"),
        ];
        for (effect, o, expected) in cases {
            let got = outcome(&result(effect, o.clone())).as_turnkey();
            assert_eq!(got, expected, "{effect:?} {o:?}");
        }
    }

    #[test]
    fn compiled_policies_are_reused_only_for_the_same_text() {
        let a = stored("cache-test-1", true, "activity.type == 'A'");
        let first = compile(&a, Effect::Allow).unwrap().unwrap();
        let again = compile(&a, Effect::Allow).unwrap().unwrap();
        assert!(
            Arc::ptr_eq(&first, &again),
            "same text: served from the cache"
        );

        // an update_policy keeps the id and changes the text: never the old compiled form
        let edited = stored("cache-test-1", true, "activity.type == 'B'");
        let after_edit = compile(&edited, Effect::Allow).unwrap().unwrap();
        assert!(!Arc::ptr_eq(&first, &after_edit));

        let denied = stored("cache-test-1", false, "activity.type == 'A'");
        let deny = compile(&denied, Effect::Deny).unwrap().unwrap();
        assert_eq!(deny.effect(), Effect::Deny);
        assert!(!Arc::ptr_eq(&first, &deny));

        // a policy that does not compile is reported (not cached as anything)
        let broken = stored("cache-test-2", false, "activity.type ==");
        assert!(compile(&broken, Effect::Deny).unwrap().is_none());
        assert!(compile(&broken, Effect::Deny).unwrap().is_none());
    }
}
