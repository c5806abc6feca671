//! The organization's public data in Turnkey's shapes (`v1User`, `v1ApiKey`, `v1Policy`,
//! `datav1Tag`, `rootQuorum`), served to authenticated queries. Nothing here is secret: API keys
//! are public keys, and policies are what the organization's users may read anyway.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyhold_shared::Uuid;
use keyhold_shared::msg::{OrgReadout, SignedRequest};
use serde_json::{Value, json};

use super::{QueryBody, principal};
use crate::auth::authenticate_reader;
use crate::error::Result;
use crate::org::{ApiKey, Authenticator, Feature, OrgState, StoredPolicy, Tag, User};

fn set(v: &mut Value, key: &str, value: Value) {
    if let Some(object) = v.as_object_mut() {
        object.insert(key.to_owned(), value);
    }
}

fn timestamp(ms: u64) -> Value {
    json!({"seconds": (ms / 1000).to_string(), "nanos": ((ms % 1000) * 1_000_000).to_string()})
}

fn api_key(k: &ApiKey) -> Value {
    let mut v = json!({
        "credential": {"publicKey": hex::encode(&k.public_key), "type": k.curve.credential_type()},
        "apiKeyId": k.id.to_string(),
        "apiKeyName": k.name,
        "createdAt": timestamp(k.created_at_ms),
        "updatedAt": timestamp(k.created_at_ms),
    });
    if let Some(expiry) = k.expires_at_ms {
        set(
            &mut v,
            "expirationSeconds",
            json!((expiry.saturating_sub(k.created_at_ms) / 1000).to_string()),
        );
    }
    v
}

/// Turnkey's `v1Authenticator`. `model` would come from a table of authenticator models by
/// AAGUID, which keyhold does not keep.
fn authenticator(a: &Authenticator) -> Value {
    json!({
        "transports": a.transports,
        "attestationType": a.attestation_format,
        "aaguid": Uuid::from_bytes(a.aaguid).to_string(),
        "credentialId": URL_SAFE_NO_PAD.encode(&a.credential_id),
        "model": "",
        "credential": {"publicKey": hex::encode(&a.public_key), "type": "CREDENTIAL_TYPE_WEBAUTHN_AUTHENTICATOR"},
        "authenticatorId": a.id.to_string(),
        "authenticatorName": a.name,
        "createdAt": timestamp(a.created_at_ms),
        "updatedAt": timestamp(a.created_at_ms),
    })
}

fn user(u: &User) -> Value {
    let mut v = json!({
        "userId": u.id.to_string(),
        "userName": u.name,
        "authenticators": u.authenticators.iter().map(authenticator).collect::<Vec<_>>(),
        "apiKeys": u.api_keys.iter().map(api_key).collect::<Vec<_>>(),
        "userTags": u.tags,
        "oauthProviders": [],
        "createdAt": timestamp(u.created_at_ms),
        "updatedAt": timestamp(u.updated_at_ms),
        "mfaPolicies": [],
    });
    if let Some(e) = &u.email {
        set(&mut v, "userEmail", json!(e));
    }
    if let Some(p) = &u.phone_number {
        set(&mut v, "userPhoneNumber", json!(p));
    }
    v
}

fn policy(p: &StoredPolicy) -> Value {
    let mut v = json!({
        "policyId": p.id,
        "policyName": p.name,
        "effect": if p.allow { "EFFECT_ALLOW" } else { "EFFECT_DENY" },
        "createdAt": timestamp(p.created_at_ms),
        "updatedAt": timestamp(p.updated_at_ms),
        "notes": p.notes,
        "consensus": p.consensus,
        "condition": p.condition,
    });
    if let Some(t) = &p.time {
        set(&mut v, "time", json!(t));
    }
    v
}

fn tag(t: &Tag, tag_type: &str) -> Value {
    json!({
        "tagId": t.id,
        "tagName": t.name,
        "tagType": tag_type,
        "createdAt": timestamp(t.created_at_ms),
        "updatedAt": timestamp(t.updated_at_ms),
    })
}

/// Turnkey's `v1Feature` list (`{name, value}`; `value` absent when the feature has none).
pub fn features_json(features: &[Feature]) -> Value {
    Value::Array(
        features
            .iter()
            .map(|f| {
                let mut v = json!({"name": f.name});
                if let Some(value) = &f.value {
                    set(&mut v, "value", json!(value));
                }
                v
            })
            .collect(),
    )
}

/// Turnkey's `organizationData`, without wallets and private keys (the host adds its records).
pub fn organization_data(org: &OrgState) -> Value {
    let mut v = json!({
        "organizationId": org.org_id.to_string(),
        "name": org.name,
        "users": org.users.iter().map(user).collect::<Vec<_>>(),
        "policies": org.policies.iter().map(policy).collect::<Vec<_>>(),
        "privateKeys": [],
        "invitations": [],
        "tags": org
            .user_tags
            .iter()
            .map(|t| tag(t, "TAG_TYPE_USER"))
            .chain(
                org.private_key_tags
                    .iter()
                    .map(|t| tag(t, "TAG_TYPE_PRIVATE_KEY")),
            )
            .collect::<Vec<_>>(),
        "rootQuorum": {
            "threshold": org.root_quorum.threshold,
            "userIds": org.root_quorum.user_ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
        },
        "features": features_json(&org.features),
        "smartContractInterfaceReferences": [],
    });
    if let Some(parent) = org.parent_org_id {
        set(&mut v, "parentOrganizationId", json!(parent.to_string()));
    }
    contract_interfaces(org, &mut v);
    v
}

/// Turnkey's `smartContractInterfaceReferences` (the digest is the SHA-256 of the JSON text),
/// and the interfaces themselves under `smartContractInterfaces` (Turnkey's
/// `externaldatav1SmartContractInterface`), which the host serves to the interface queries and
/// leaves out of `get_organization`.
fn contract_interfaces(org: &OrgState, v: &mut Value) {
    use sha2::{Digest, Sha256};
    let references: Vec<Value> = org
        .contract_interfaces
        .iter()
        .map(|i| {
            json!({
                "smartContractInterfaceId": i.id,
                "smartContractAddress": i.address,
                "digest": hex::encode(Sha256::digest(i.interface.as_bytes())),
            })
        })
        .collect();
    let interfaces: Vec<Value> = org
        .contract_interfaces
        .iter()
        .map(|i| {
            json!({
                "organizationId": org.org_id.to_string(),
                "smartContractInterfaceId": i.id,
                "smartContractAddress": i.address,
                "smartContractInterface": i.interface,
                "type": i.kind.type_name(),
                "label": i.label,
                "notes": i.notes,
                "createdAt": timestamp(i.created_at_ms),
                "updatedAt": timestamp(i.updated_at_ms),
            })
        })
        .collect();
    set(v, "smartContractInterfaceReferences", json!(references));
    set(v, "smartContractInterfaces", json!(interfaces));
}

/// Authenticates a query, then returns the organization's public data (every user may read
/// their organization, and a parent organization's users its sub-organizations, as in Turnkey).
pub fn read_org(
    sessions: &crate::auth::session::SessionSigner,
    org: &OrgState,
    parent: Option<&OrgState>,
    request: &SignedRequest,
    now_ms: u64,
) -> Result<OrgReadout> {
    let body = QueryBody::parse(&request.body)?;
    body.check_is_query()?;
    let auth = authenticate_reader(sessions, org, parent, request, now_ms)?;
    body.check_organization(org)
        .map_err(crate::error::Error::after_authentication)?;
    Ok(OrgReadout {
        principal: principal(auth.org, &auth),
        organization_json: organization_data(org).to_string(),
    })
}
