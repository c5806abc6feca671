//! `POST /public/v1/query/{name}`: reads. The enclave authenticates the stamp against the sealed
//! organization state; the host then answers from its own (public) records.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use keyhold_shared::msg::{
    AuthenticateRequest, Principal, Request, Response, SignedRequest, Stamp,
};
use keyhold_shared::{ActivityId, OrgId, PrivateKeyId, WalletId};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::{AppState, MAX_BODY_LEN, format};
use crate::store::{OrgRecord, Page};

/// How long a client may take to send its whole body (slow clients hold a task and a
/// connection slot; headers have their own timeout in `server.rs`).
pub const BODY_READ_TIMEOUT_SECS: u64 = 10;

pub async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    let read = axum::body::to_bytes(body, MAX_BODY_LEN);
    match tokio::time::timeout(std::time::Duration::from_secs(BODY_READ_TIMEOUT_SECS), read).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(ApiError::too_large(MAX_BODY_LEN)),
        Err(_) => Err(ApiError::body_timeout(BODY_READ_TIMEOUT_SECS)),
    }
}

/// The stamp header, passed to the enclave untouched.
pub fn stamp_from(headers: &HeaderMap) -> Result<Stamp, ApiError> {
    let text = |name: &str| headers.get(name).map(|v| v.to_str().map(str::to_owned));
    match (text("x-stamp"), text("x-stamp-webauthn")) {
        (Some(Ok(s)), None) => Ok(Stamp::ApiKey(s)),
        (None, Some(Ok(s))) => Ok(Stamp::Webauthn(s)),
        // A read-only session token stands in for a stamp on reads (the enclave checks it and
        // refuses it for activities); with a stamp, `@turnkey/sdk-browser` sends both, and the
        // stamp is what counts.
        (None, None) => match text("x-session") {
            Some(Ok(token)) => Ok(Stamp::Session(token)),
            Some(Err(_)) => Err(ApiError::invalid("X-Session header is not valid text")),
            None => Err(ApiError::missing_stamp()),
        },
        (Some(_), Some(_)) => Err(ApiError::invalid(
            "send exactly one of X-Stamp and X-Stamp-Webauthn",
        )),
        _ => Err(ApiError::invalid("stamp header is not valid text")),
    }
}

/// A request's `organizationId`, parsed (so differently spelt ids name one organization).
pub fn org_id(id: &str) -> Result<OrgId, ApiError> {
    id.parse().map_err(|_| {
        ApiError::invalid(format!(
            "organizationId `{}` must be a valid UUID",
            id.chars().take(64).collect::<String>()
        ))
    })
}

pub async fn load_org(state: &AppState, id: &str) -> Result<OrgRecord, ApiError> {
    let org = org_id(id)?;
    state
        .store
        .get_org(org)
        .await?
        .ok_or_else(|| ApiError::org_not_found(id))
}

pub async fn authenticate(
    state: &AppState,
    org: &OrgRecord,
    request: SignedRequest,
) -> Result<Principal, ApiError> {
    let (_, response) =
        super::org_queries::call_fresh(state, &org.id.to_string(), |org, parent| {
            Request::Authenticate(AuthenticateRequest {
                parent: parent.cloned(),
                request: request.clone(),
                org: org.sealed.clone(),
            })
        })
        .await?;
    match response {
        Response::Authenticate(principal) => Ok(principal),
        _ => Err(ApiError::internal("unexpected enclave answer")),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryBody {
    organization_id: String,
    wallet_id: Option<String>,
    activity_id: Option<String>,
    private_key_id: Option<String>,
    include_wallet_details: Option<bool>,
    pagination_options: Option<Pagination>,
    address: Option<String>,
    path: Option<String>,
    /// Only an activity's body has one; its stamp is no read credential (the enclave's
    /// `QueryBody::check_is_query` says why).
    #[serde(rename = "type")]
    activity_type: Option<serde::de::IgnoredAny>,
}

/// Turnkey's `paginationOptions` (`limit` is an int64 string).
#[derive(Deserialize)]
pub(super) struct Pagination {
    limit: Option<String>,
    before: Option<String>,
    after: Option<String>,
}

/// Checks `paginationOptions` (limit 1 to 100) and turns it into a store [`Page`].
pub(super) fn page(options: Option<&Pagination>) -> Result<Page, ApiError> {
    let Some(p) = options else {
        return Ok(Page::default());
    };
    let limit = match &p.limit {
        None => None,
        Some(l) => Some(
            l.parse::<u32>()
                .ok()
                .filter(|n| (1..=100).contains(n))
                .ok_or_else(|| {
                    ApiError::invalid("paginationOptions.limit must be a number from 1 to 100")
                })?,
        ),
    };
    Ok(Page {
        limit,
        before: p.before.clone(),
        after: p.after.clone(),
    })
}

fn required<T: std::str::FromStr>(value: &Option<String>, field: &str) -> Result<T, ApiError> {
    let text = value
        .as_deref()
        .ok_or_else(|| ApiError::invalid(format!("missing required field `{field}`")))?;
    text.parse()
        .map_err(|_| ApiError::invalid(format!("`{field}` must be a valid UUID")))
}

pub async fn query(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    // Runs to completion even if the client goes away, as activities do: a caller that
    // authenticated keeps its rate limit token for the enclave's work (`rate_limit.rs`), which
    // an abandoned future would hand back.
    tokio::spawn(run(state, name, headers, body))
        .await
        .map_err(|_| ApiError::internal("query task failed"))?
}

async fn run(
    state: AppState,
    name: String,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    match super::endpoints::query_handler(&name) {
        Some(super::endpoints::QueryHandler::Org) => {
            return super::org_queries::query(state, &name, headers, body).await;
        }
        Some(super::endpoints::QueryHandler::Records) => {}
        None => {
            return Err(ApiError::unsupported(format!(
                "the query endpoint `query/{name}`"
            )));
        }
    }
    let stamp = stamp_from(&headers)?;
    let body = read_body(body).await?;
    let q: QueryBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid(format!("invalid request body: {e}")))?;
    if q.activity_type.is_some() {
        return Err(ApiError::invalid(
            "an activity's signed body cannot be sent as a query",
        ));
    }
    let org_id = org_id(&q.organization_id)?;
    let (org, principal) = super::rate_limit::limited(
        &state.rate_limiter,
        org_id,
        async {
            let org = load_org(&state, &q.organization_id).await?;
            let request = SignedRequest {
                body: body.to_vec(),
                stamp,
            };
            let principal = authenticate(&state, &org, request).await?;
            Ok((org, principal))
        },
        |_| true,
    )
    .await?;

    let answer = match name.as_str() {
        "whoami" => json!({
            "organizationId": principal.organization_id.to_string(),
            "organizationName": principal.organization_name,
            "userId": principal.user_id.to_string(),
            "username": principal.user_name,
        }),
        "list_wallets" => {
            let wallets = state.store.list_wallets(org.id).await?;
            json!({"wallets": wallets.iter().map(format::wallet).collect::<Vec<_>>()})
        }
        "get_wallet" => {
            let id: WalletId = required(&q.wallet_id, "walletId")?;
            let wallet = state
                .store
                .get_wallet(org.id, id)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("wallet {id} not found")))?;
            json!({"wallet": format::wallet(&wallet)})
        }
        "get_wallet_account" => {
            let wallet: WalletId = required(&q.wallet_id, "walletId")?;
            let account = match (q.address.as_deref(), q.path.as_deref()) {
                (Some(address), _) => state
                    .store
                    .find_account(org.id, address.trim())
                    .await?
                    .map(|(account, _)| account)
                    .filter(|a| a.wallet == wallet),
                (None, Some(path)) => state
                    .store
                    .list_accounts(org.id, Some(wallet), Page::default())
                    .await?
                    .into_iter()
                    .find(|a| a.path == path.trim()),
                (None, None) => {
                    return Err(ApiError::invalid(
                        "get_wallet_account needs `address` or `path`",
                    ));
                }
            };
            let account = account.ok_or_else(|| {
                ApiError::not_found(format!("no such account in wallet {wallet}"))
            })?;
            json!({"account": format::account(&account, None)})
        }
        "list_wallet_accounts" => {
            let wallet = match &q.wallet_id {
                Some(_) => Some(required::<WalletId>(&q.wallet_id, "walletId")?),
                None => None,
            };
            let page = page(q.pagination_options.as_ref())?;
            let accounts = state.store.list_accounts(org.id, wallet, page).await?;
            let details = if q.include_wallet_details.unwrap_or(false) {
                Some(state.store.list_wallets(org.id).await?)
            } else {
                None
            };
            let accounts: Vec<Value> = accounts
                .iter()
                .map(|a| {
                    format::account(
                        a,
                        details
                            .as_ref()
                            .and_then(|ws| ws.iter().find(|w| w.id == a.wallet)),
                    )
                })
                .collect();
            json!({"accounts": accounts})
        }
        "get_activity" => {
            let id: ActivityId = required(&q.activity_id, "activityId")?;
            let activity = state
                .store
                .get_activity(org.id, id)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("activity {id} not found")))?;
            json!({"activity": format::activity(&activity)})
        }
        "get_policy_evaluations" => {
            let id: ActivityId = required(&q.activity_id, "activityId")?;
            // An activity of another organization is as unknown as one that does not exist.
            if state.store.get_activity(org.id, id).await?.is_none() {
                return Err(ApiError::not_found(format!("activity {id} not found")));
            }
            let evaluations = state.store.policy_evaluations(org.id, id).await?;
            json!({"policyEvaluations": evaluations.iter().map(format::policy_evaluation).collect::<Vec<_>>()})
        }
        "get_private_key" => {
            let id: PrivateKeyId = required(&q.private_key_id, "privateKeyId")?;
            let (key, _) = state
                .store
                .find_private_key(org.id, &id.to_string())
                .await?
                .ok_or_else(|| ApiError::not_found(format!("private key {id} not found")))?;
            json!({"privateKey": format::private_key(&key)})
        }
        "list_webhook_endpoints" => super::webhook_endpoints::list(&state, org.id).await?,
        "list_private_keys" => {
            let keys = state.store.list_private_keys(org.id).await?;
            json!({"privateKeys": keys.iter().map(format::private_key).collect::<Vec<_>>()})
        }
        _ => {
            return Err(ApiError::unsupported(format!(
                "the query endpoint `query/{name}`"
            )));
        }
    };
    Ok(Json(answer))
}
