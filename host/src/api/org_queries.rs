//! Queries over the organization's own data (users, API keys, policies, tags, root quorum) and
//! its activity list. The host cannot open the sealed state, so the enclave authenticates the
//! query and hands back the public data (`Request::ReadOrg`); the host picks what was asked.

use axum::Json;
use axum::body::Body;
use axum::http::HeaderMap;
use keyhold_shared::msg::{
    AuthenticateRequest, OrgReadout, Request, Response, SealedOrgState, SignedRequest,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::query::{Pagination, load_org, page, read_body, stamp_from};
use super::{AppState, format};
use crate::error::HostError;
use crate::store::OrgRecord;
use keyhold_shared::{ErrorCode, OrgId, WireError};

/// Calls the enclave with the organization's current sealed state, loading it again and
/// retrying when the enclave has already seen a newer one (a concurrent activity changed it).
///
/// When the enclave does not know the stamp's credential and the organization is a
/// sub-organization, asks again with the parent's sealed state as well: a parent's users may
/// read their sub-organizations (and are told why they may not act in them). The enclave checks
/// that the state handed over really is the parent; the first try goes without it, so ordinary
/// requests cost no second state.
pub async fn call_fresh(
    state: &AppState,
    org_id: &str,
    make: impl Fn(&OrgRecord, Option<&SealedOrgState>) -> Request,
) -> Result<(OrgRecord, Response), ApiError> {
    call_fresh_from(state, org_id, None, make).await
}

/// `call_fresh`, trying first with `loaded`, a record the caller has just read (saves reading
/// and decoding the sealed state twice per activity; a stale one is reloaded as usual).
pub async fn call_fresh_from(
    state: &AppState,
    org_id: &str,
    loaded: Option<OrgRecord>,
    make: impl Fn(&OrgRecord, Option<&SealedOrgState>) -> Request,
) -> Result<(OrgRecord, Response), ApiError> {
    let (org, first) = attempt(state, org_id, None, loaded, &make).await?;
    let unknown_credential = matches!(
        &first,
        Err(HostError::Enclave(WireError {
            code: ErrorCode::PublicKeyNotFound | ErrorCode::CredentialNotFound,
            ..
        }))
    );
    if unknown_credential && let Some(parent) = state.store.parent_of(org.id).await? {
        let (org, second) = attempt(state, org_id, Some(parent), None, &make).await?;
        return Ok((org, second?));
    }
    Ok((org, first?))
}

/// One call, retried on a stale state; the outer error is from loading, the inner the
/// enclave's answer.
async fn attempt(
    state: &AppState,
    org_id: &str,
    parent: Option<OrgId>,
    mut loaded: Option<OrgRecord>,
    make: &impl Fn(&OrgRecord, Option<&SealedOrgState>) -> Request,
) -> Result<(OrgRecord, Result<Response, HostError>), ApiError> {
    let mut tries = 0u32;
    let mut stale_at = None;
    loop {
        let org = match loaded.take() {
            Some(org) => org,
            None => load_org(state, org_id).await?,
        };
        let parent_state = match parent {
            None => None,
            Some(id) => Some(
                state
                    .store
                    .get_org(id)
                    .await?
                    .ok_or_else(|| ApiError::internal("parent organization record missing"))?
                    .sealed,
            ),
        };
        match state.call(make(&org, parent_state.as_ref())).await {
            Err(HostError::Enclave(WireError {
                code: ErrorCode::StaleState,
                ..
            })) if tries < 24 => {
                tries += 1;
                // The records may be cached copies another process has since replaced.
                state.store.forget_org(org.id);
                if let Some(parent) = parent {
                    state.store.forget_org(parent);
                }
                // The same stored version refused twice: nothing is moving it forward, so the
                // enclave sealed a successor this host never stored (it crashed in between).
                if stale_at == Some(org.sealed.version)
                    && let Err(e) = super::recovery::catch_up(state, &org).await
                {
                    tracing::warn!(error = %e, org = %org.id, "crash recovery failed");
                }
                stale_at = Some(org.sealed.version);
                tokio::time::sleep(super::retry::backoff(tries)).await;
            }
            // A restarted enclave: tell it where the organization's audit chain stands.
            Err(HostError::Enclave(WireError {
                code: ErrorCode::AuditHeadNeeded,
                ..
            })) if tries < 24 => {
                tries += 1;
                match crate::audit::resume(state, &org).await {
                    Ok(()) => {}
                    // A concurrent change: reload and retry.
                    Err(HostError::Enclave(WireError {
                        code: ErrorCode::StaleState,
                        ..
                    })) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            answer => return Ok((org, answer)),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body_ {
    organization_id: String,
    user_id: Option<String>,
    policy_id: Option<String>,
    authenticator_id: Option<String>,
    api_key_id: Option<String>,
    #[serde(default)]
    filter_by_status: Vec<String>,
    #[serde(default)]
    filter_by_type: Vec<String>,
    pagination_options: Option<Pagination>,
    smart_contract_interface_id: Option<String>,
}

/// Turnkey's activity statuses: filtering by any of them is valid (keyhold's activities only
/// ever have three of them), anything else is a misspelling.
pub(crate) const ACTIVITY_STATUSES: &[&str] = &[
    "ACTIVITY_STATUS_CREATED",
    "ACTIVITY_STATUS_PENDING",
    "ACTIVITY_STATUS_COMPLETED",
    "ACTIVITY_STATUS_FAILED",
    "ACTIVITY_STATUS_CONSENSUS_NEEDED",
    "ACTIVITY_STATUS_REJECTED",
    "ACTIVITY_STATUS_AUTHENTICATORS_NEEDED",
];

/// A filter that can never match because it is misspelled is refused, not answered with an
/// empty list.
fn check_filters(statuses: &[String], types: &[String]) -> Result<(), ApiError> {
    let clip = |s: &str| s.chars().take(80).collect::<String>();
    if let Some(bad) = statuses
        .iter()
        .find(|s| !ACTIVITY_STATUSES.contains(&s.as_str()))
    {
        return Err(ApiError::invalid(format!(
            "filterByStatus: `{}` is not an activity status (expected one of {})",
            clip(bad),
            ACTIVITY_STATUSES.join(", ")
        )));
    }
    if let Some(bad) = types
        .iter()
        .find(|t| !super::endpoints::is_activity_type(t))
    {
        return Err(ApiError::invalid(format!(
            "filterByType: `{}` is not an activity type keyhold runs",
            clip(bad)
        )));
    }
    Ok(())
}

fn field<'a>(data: &'a Value, name: &str) -> &'a [Value] {
    data.get(name)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// The organization's tags of one `tagType` (user tags and private key tags share the list).
fn tags_of<'a>(data: &'a Value, tag_type: &str) -> Vec<&'a Value> {
    field(data, "tags")
        .iter()
        .filter(|t| t.get("tagType").and_then(Value::as_str) == Some(tag_type))
        .collect()
}

fn required<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, ApiError> {
    value
        .as_deref()
        .ok_or_else(|| ApiError::invalid(format!("missing required field `{name}`")))
}

fn find<'a>(list: &'a [Value], key: &str, id: &str) -> Option<&'a Value> {
    list.iter()
        .find(|v| v.get(key).and_then(Value::as_str) == Some(id))
}

pub async fn query(
    state: AppState,
    name: &str,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let stamp = stamp_from(&headers)?;
    let body = read_body(body).await?;
    let q: Body_ = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid(format!("invalid request body: {e}")))?;
    let request = SignedRequest {
        body: body.to_vec(),
        stamp,
    };
    let read = call_fresh(&state, &q.organization_id, |org, parent| {
        Request::ReadOrg(AuthenticateRequest {
            parent: parent.cloned(),
            request: request.clone(),
            org: org.sealed.clone(),
        })
    });
    let org_id = super::query::org_id(&q.organization_id)?;
    let (org, response) =
        super::rate_limit::limited(&state.rate_limiter, org_id, read, |_| true).await?;
    let Response::ReadOrg(readout) = response else {
        return Err(ApiError::internal("unexpected enclave answer"));
    };
    let OrgReadout {
        organization_json, ..
    } = *readout;
    let data: Value = serde_json::from_str(&organization_json)
        .map_err(|_| ApiError::internal("unexpected enclave answer"))?;
    let users = field(&data, "users");
    let policies = field(&data, "policies");
    Ok(Json(match name {
        "get_user" => {
            let id = required(&q.user_id, "userId")?;
            let user = find(users, "userId", id)
                .ok_or_else(|| ApiError::not_found(format!("user {id} not found")))?;
            json!({"user": user})
        }
        "list_users" => json!({"users": users}),
        "get_api_keys" => {
            let keys: Vec<&Value> = users
                .iter()
                .filter(|u| {
                    q.user_id.is_none()
                        || u.get("userId").and_then(Value::as_str) == q.user_id.as_deref()
                })
                .flat_map(|u| field(u, "apiKeys"))
                .collect();
            json!({"apiKeys": keys})
        }
        "get_api_key" => {
            let id = required(&q.api_key_id, "apiKeyId")?;
            let key = users
                .iter()
                .find_map(|u| find(field(u, "apiKeys"), "apiKeyId", id))
                .ok_or_else(|| ApiError::not_found(format!("API key {id} not found")))?;
            json!({"apiKey": key})
        }
        "get_authenticators" => {
            let id = required(&q.user_id, "userId")?;
            let user = find(users, "userId", id)
                .ok_or_else(|| ApiError::not_found(format!("user {id} not found")))?;
            json!({"authenticators": field(user, "authenticators")})
        }
        "get_authenticator" => {
            let id = required(&q.authenticator_id, "authenticatorId")?;
            let authenticator = users
                .iter()
                .find_map(|u| find(field(u, "authenticators"), "authenticatorId", id))
                .ok_or_else(|| ApiError::not_found(format!("authenticator {id} not found")))?;
            json!({"authenticator": authenticator})
        }
        "get_policy" => {
            let id = required(&q.policy_id, "policyId")?;
            let policy = find(policies, "policyId", id)
                .ok_or_else(|| ApiError::not_found(format!("policy {id} not found")))?;
            json!({"policy": policy})
        }
        "list_policies" => json!({"policies": policies}),
        "list_user_tags" => json!({"userTags": tags_of(&data, "TAG_TYPE_USER")}),
        "list_private_key_tags" => {
            json!({"privateKeyTags": tags_of(&data, "TAG_TYPE_PRIVATE_KEY")})
        }
        "get_organization_configs" => json!({"configs": {
            "features": data.get("features").cloned().unwrap_or_else(|| json!([])),
            "quorum": data.get("rootQuorum").cloned().unwrap_or(Value::Null),
        }}),
        "list_smart_contract_interfaces" => {
            json!({"smartContractInterfaces": field(&data, "smartContractInterfaces")})
        }
        "get_smart_contract_interface" => {
            let id = required(&q.smart_contract_interface_id, "smartContractInterfaceId")?;
            let interface = find(
                field(&data, "smartContractInterfaces"),
                "smartContractInterfaceId",
                id,
            )
            .ok_or_else(|| {
                ApiError::not_found(format!("smart contract interface {id} not found"))
            })?;
            json!({"smartContractInterface": interface})
        }
        "get_organization" => {
            let mut data = data.clone();
            // Served by the interface queries; the organization lists references only.
            if let Some(object) = data.as_object_mut() {
                object.remove("smartContractInterfaces");
            }
            let wallets = state.store.list_wallets(org.id).await?;
            data["wallets"] = json!(wallets.iter().map(format::wallet).collect::<Vec<_>>());
            json!({"organizationData": data})
        }
        "list_activities" | "list_suborgs" => {
            let page = page(q.pagination_options.as_ref())?;
            if name != "list_activities" {
                let ids = state.store.list_sub_orgs(org.id, page).await?;
                return Ok(Json(json!({
                    "organizationIds": ids.iter().map(ToString::to_string).collect::<Vec<_>>()
                })));
            }
            check_filters(&q.filter_by_status, &q.filter_by_type)?;
            let activities = state
                .store
                .list_activities(org.id, q.filter_by_status, q.filter_by_type, page)
                .await?;
            json!({"activities": activities.iter().map(format::activity).collect::<Vec<_>>()})
        }
        _ => {
            return Err(ApiError::unsupported(format!(
                "the query endpoint `query/{name}`"
            )));
        }
    }))
}
