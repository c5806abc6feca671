//! Policies: `CREATE_POLICY_V3`, `CREATE_POLICIES`, `UPDATE_POLICY` (V1, V2), `DELETE_POLICY`,
//! `DELETE_POLICIES`. Every expression is compiled by `keyhold-policy` before it is stored, and
//! an invalid one is refused with its position (`invalid policy condition: 1:8: …`).

use keyhold_policy::{Effect, Policy};
use serde::Deserialize;
use serde_json::{Value, json};

use super::envelope::Envelope;
use super::organization::{check_name, new_id};
use crate::error::{Error, Result};
use crate::org::{MAX_POLICIES, OrgState, StoredPolicy};

const MAX_NOTES_LEN: usize = 4096;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PolicyParams {
    policy_name: String,
    effect: String,
    #[serde(default)]
    condition: Option<String>,
    #[serde(default)]
    consensus: Option<String>,
    #[serde(default)]
    notes: Option<String>,
    #[serde(default)]
    time: Option<String>,
}

fn effect(s: &str) -> Result<bool> {
    match Effect::from_turnkey(s) {
        Some(Effect::Allow) => Ok(true),
        Some(Effect::Deny) => Ok(false),
        None => Err(Error::invalid(format!(
            "effect must be EFFECT_ALLOW or EFFECT_DENY, not `{}`",
            s.chars().take(40).collect::<String>()
        ))),
    }
}

/// Refuses a policy whose expressions do not compile, or whose name is taken.
fn validate(state: &OrgState, p: &StoredPolicy) -> Result<()> {
    check_name("policyName", &p.name)?;
    if p.notes.len() > MAX_NOTES_LEN {
        return Err(Error::invalid(format!(
            "notes must be at most {MAX_NOTES_LEN} bytes"
        )));
    }
    let e = if p.allow { Effect::Allow } else { Effect::Deny };
    Policy::new(p.id.clone(), e, &p.condition, &p.consensus)
        .and_then(|policy| policy.with_time(p.time.as_deref().unwrap_or("")))
        .map_err(|err| Error::invalid(err.to_string()))?;
    if state
        .policies
        .iter()
        .any(|other| other.name == p.name && other.id != p.id)
    {
        return Err(Error::invalid("policy label must be unique"));
    }
    Ok(())
}

fn create(state: &mut OrgState, p: PolicyParams, now_ms: u64) -> Result<String> {
    let policy = StoredPolicy {
        id: new_id()?.to_string(),
        name: p.policy_name,
        allow: effect(&p.effect)?,
        condition: p.condition.unwrap_or_default(),
        consensus: p.consensus.unwrap_or_default(),
        notes: p.notes.unwrap_or_default(),
        time: p.time.filter(|t| !t.trim().is_empty()),
        created_at_ms: now_ms,
        updated_at_ms: now_ms,
    };
    validate(state, &policy)?;
    if state.policies.len() >= MAX_POLICIES {
        return Err(Error::invalid(format!(
            "an organization holds at most {MAX_POLICIES} policies"
        )));
    }
    let id = policy.id.clone();
    state.policies.push(policy);
    Ok(id)
}

pub fn create_policy(state: &mut OrgState, envelope: &Envelope, now_ms: u64) -> Result<Value> {
    let id = create(state, envelope.parameters()?, now_ms)?;
    Ok(json!({"createPolicyResult": {"policyId": id}}))
}

pub fn create_policies(state: &mut OrgState, envelope: &Envelope, now_ms: u64) -> Result<Value> {
    #[derive(Deserialize)]
    struct Intent {
        policies: Vec<PolicyParams>,
    }
    let intent: Intent = envelope.parameters()?;
    if intent.policies.len() > MAX_POLICIES {
        return Err(Error::invalid(format!(
            "an organization holds at most {MAX_POLICIES} policies"
        )));
    }
    let ids = intent
        .policies
        .into_iter()
        .map(|p| create(state, p, now_ms))
        .collect::<Result<Vec<_>>>()?;
    Ok(json!({"createPoliciesResult": {"policyIds": ids}}))
}

pub fn update_policy(state: &mut OrgState, envelope: &Envelope, now_ms: u64) -> Result<Value> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Intent {
        policy_id: String,
        policy_name: Option<String>,
        policy_effect: Option<String>,
        policy_condition: Option<String>,
        policy_consensus: Option<String>,
        policy_notes: Option<String>,
        time: Option<String>,
    }
    let intent: Intent = envelope.parameters()?;
    let mut policy = find(state, &intent.policy_id)?.clone();
    if let Some(name) = intent.policy_name {
        policy.name = name;
    }
    if let Some(e) = intent.policy_effect {
        policy.allow = effect(&e)?;
    }
    if let Some(c) = intent.policy_condition {
        policy.condition = c;
    }
    if let Some(c) = intent.policy_consensus {
        policy.consensus = c;
    }
    if let Some(n) = intent.policy_notes {
        policy.notes = n;
    }
    if let Some(t) = intent.time {
        policy.time = Some(t).filter(|t| !t.trim().is_empty());
    }
    policy.updated_at_ms = now_ms;
    validate(state, &policy)?;
    let id = policy.id.clone();
    if let Some(slot) = state.policies.iter_mut().find(|p| p.id == id) {
        *slot = policy;
    }
    let key = if envelope.activity_type == "ACTIVITY_TYPE_UPDATE_POLICY" {
        "updatePolicyResult"
    } else {
        "updatePolicyResultV2"
    };
    Ok(json!({ key: {"policyId": id} }))
}

fn find<'a>(state: &'a OrgState, id: &str) -> Result<&'a StoredPolicy> {
    state.policies.iter().find(|p| p.id == id).ok_or_else(|| {
        Error::NotFound(format!(
            "policy `{}` not found",
            id.chars().take(64).collect::<String>()
        ))
    })
}

pub fn delete_policy(state: &mut OrgState, envelope: &Envelope, _now_ms: u64) -> Result<Value> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Intent {
        policy_id: String,
    }
    let intent: Intent = envelope.parameters()?;
    find(state, &intent.policy_id)?;
    state.policies.retain(|p| p.id != intent.policy_id);
    Ok(json!({"deletePolicyResult": {"policyId": intent.policy_id}}))
}

pub fn delete_policies(state: &mut OrgState, envelope: &Envelope, _now_ms: u64) -> Result<Value> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Intent {
        policy_ids: Vec<String>,
    }
    let intent: Intent = envelope.parameters()?;
    for id in &intent.policy_ids {
        find(state, id)?;
        state.policies.retain(|p| &p.id != id);
    }
    Ok(json!({"deletePoliciesResult": {"policyIds": intent.policy_ids}}))
}
