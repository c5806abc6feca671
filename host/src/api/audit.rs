//! `GET /enclave/v1/audit/key` and `GET /enclave/v1/audit/head`: what a verifier of the audit
//! chain needs from a live deployment (docs/audit.md). Neither needs a stamp: the key comes with
//! the quorum key's certificate, and the head is signed by the enclave over the caller's nonce.

use axum::Json;
use axum::extract::{Query, State};
use keyhold_shared::msg::{AuditHeadRequest, Request, Response};
use keyhold_shared::{ErrorCode, OrgId, WireError};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::query::load_org;
use crate::audit::{self, tracker};
use crate::error::HostError;

/// The receipt key and its certificate by the quorum key.
pub async fn key(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let Response::AuditKey(cert) = state.call(Request::AuditKey).await? else {
        return Err(ApiError::internal("unexpected enclave answer"));
    };
    tracker::save_key(&state).await?;
    Ok(Json(json!({
        "receiptKey": hex::encode(cert.receipt_key),
        "certificate": super::enclave::encode(&cert)?,
    })))
}

#[derive(Deserialize)]
pub struct HeadQuery {
    org: String,
    nonce: Option<String>,
}

/// The enclave's current head of an organization's chain, signed over the caller's nonce.
pub async fn head(
    State(state): State<AppState>,
    Query(query): Query<HeadQuery>,
) -> Result<Json<Value>, ApiError> {
    let nonce = match query.nonce.as_deref() {
        Some(text) => hex::decode(text).map_err(|_| ApiError::invalid("nonce must be hex"))?,
        None => Vec::new(),
    };
    let org_id: OrgId = query
        .org
        .parse()
        .map_err(|_| ApiError::invalid("org must be an organization id"))?;
    let request = Request::AuditHead(AuditHeadRequest {
        org_id,
        nonce: nonce.clone(),
    });
    let response = match state.call(request.clone()).await {
        Err(HostError::Enclave(WireError {
            code: ErrorCode::AuditHeadNeeded,
            ..
        })) => {
            let org = load_org(&state, &query.org).await?;
            audit::resume(&state, &org).await?;
            state.call(request).await?
        }
        other => other?,
    };
    let Response::AuditHead(signed) = response else {
        return Err(ApiError::internal("unexpected enclave answer"));
    };
    // Receipts the store lost at the tail would otherwise look like a truncation.
    if let Err(e) = tracker::repair(&state, org_id, signed.head.seq.saturating_add(1)).await {
        tracing::warn!(organization = %org_id, error = %e, "cannot check the audit chain for holes");
    }
    Ok(Json(json!({
        "kind": "keyhold.audit.head",
        "organizationId": org_id.to_string(),
        "seq": signed.head.seq.to_string(),
        "hash": hex::encode(signed.head.hash),
        "resumedAt": signed.head.resumed_at.to_string(),
        "nonce": hex::encode(&signed.head.nonce),
        "encoded": super::enclave::encode(&*signed)?,
    })))
}
