//! Webhook endpoints in the host's records: the enclave authorizes and validates
//! `create/update/delete_webhook_endpoint` and answers the endpoint in the result; the host keeps
//! it (in the activity's commit), hands it back to the enclave for an update or a deletion, lists
//! it (`query/list_webhook_endpoints`) and delivers to it (`crate::webhooks`).

use keyhold_shared::OrgId;
use keyhold_shared::msg::ActivityContext;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use crate::store::RecordEdit;

/// What an activity result changes in the webhook endpoints table.
pub(super) fn edits(result: &Value, edits: &mut Vec<RecordEdit>) -> Result<(), ApiError> {
    for key in ["createWebhookEndpointResult", "updateWebhookEndpointResult"] {
        if let Some(r) = result.get(key) {
            let endpoint = &r["webhookEndpoint"];
            let id = endpoint
                .get("endpointId")
                .and_then(Value::as_str)
                .ok_or_else(|| ApiError::internal("webhook endpoint without id in the result"))?;
            edits.push(RecordEdit::PutWebhookEndpoint {
                id: id.to_owned(),
                data: endpoint.to_string(),
            });
        }
    }
    if let Some(id) = result
        .get("deleteWebhookEndpointResult")
        .and_then(|r| r.get("endpointId"))
        .and_then(Value::as_str)
    {
        edits.push(RecordEdit::DeleteWebhookEndpoint(id.to_owned()));
    }
    Ok(())
}

/// The stored endpoint an update or deletion names, for the enclave; `None` for other
/// activities. An unknown endpoint gets no context: the enclave authenticates the caller and
/// then answers not-found.
pub(super) async fn resolve_context(
    state: &AppState,
    org: OrgId,
    activity_type: &str,
    parameters: &Value,
) -> Result<Option<ActivityContext>, ApiError> {
    if !matches!(
        activity_type,
        "ACTIVITY_TYPE_UPDATE_WEBHOOK_ENDPOINT" | "ACTIVITY_TYPE_DELETE_WEBHOOK_ENDPOINT"
    ) {
        return Ok(None);
    }
    let Some(id) = parameters.get("endpointId").and_then(Value::as_str) else {
        return Ok(Some(ActivityContext::None));
    };
    Ok(Some(
        match state.store.get_webhook_endpoint(org, id).await? {
            Some(endpoint) => ActivityContext::WebhookEndpoint {
                endpoint_json: endpoint.data,
            },
            None => ActivityContext::None,
        },
    ))
}

/// `query/list_webhook_endpoints`: the organization's endpoints, oldest first.
pub(super) async fn list(state: &AppState, org: OrgId) -> Result<Value, ApiError> {
    let endpoints = state.store.list_webhook_endpoints(org).await?;
    let endpoints: Vec<Value> = endpoints
        .iter()
        .filter_map(|e| serde_json::from_str(&e.data).ok())
        .collect();
    Ok(json!({ "webhookEndpoints": endpoints }))
}

/// `GET /webhooks/v1/signing-key`: the key this deployment signs webhook deliveries with, as
/// `@turnkey/crypto`'s `verifyTurnkeyWebhookSignature` takes it in `verificationKeys`.
pub async fn signing_key(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> axum::Json<Value> {
    let signer = state.webhooks.signer();
    axum::Json(json!({
        "keyId": signer.key_id(),
        "publicKey": signer.public_key_hex(),
        "algorithm": "ed25519",
        "signatureVersion": "v1",
    }))
}
