//! Turnkey's public HTTP API (`POST /public/v1/query/*` and `/public/v1/submit/*`).

mod approvals;
mod audit;
mod enclave;
mod error;
mod format;
mod observe;
mod org_activities;
mod org_queries;
mod query;
pub mod rate_limit;
mod retry;
pub mod server;
mod submit;
mod transfer;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::routing::{get, post};
use keyhold_shared::msg::{Request, Response};
use keyhold_shared::{ErrorCode, WireError};

pub use error::ApiError;

use crate::boot;
use crate::boot::Provisioner;
use crate::enclave_client::EnclaveClient;
use crate::error::HostError;
use crate::store::Store;

/// Largest request body accepted; the enclave refuses anything larger anyway.
pub const MAX_BODY_LEN: usize = keyhold_shared::msg::MAX_BODY_LEN;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub enclave: Arc<EnclaveClient>,
    /// How a restarted (unprovisioned) enclave is brought back: a dev operator, key forwarding,
    /// or nothing (operators provision it through `/enclave/v1/*`).
    pub provisioner: Provisioner,
    /// Per-organization request rate limit.
    pub rate_limiter: Arc<rate_limit::OrgRateLimiter>,
    /// Holes in the stored audit chains, noticed after commits.
    pub audit: Arc<crate::audit::AuditTracker>,
}

impl AppState {
    /// Calls the enclave; if it restarted and lost its key, provisions it again (when a dev
    /// operator or a forwarding enclave is at hand) and retries once.
    pub async fn call(&self, request: Request) -> Result<Response, HostError> {
        match self.enclave.call(request.clone()).await {
            Err(HostError::Enclave(WireError {
                code: ErrorCode::NotProvisioned,
                ..
            })) if self.provisioner.operator.is_some()
                || self.provisioner.forward_from.is_some() =>
            {
                tracing::warn!("enclave lost its quorum key (restarted?); provisioning it again");
                boot::ensure_provisioned(&self.enclave, self.store.as_ref(), &self.provisioner)
                    .await?;
                self.enclave.call(request).await
            }
            other => other,
        }
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/public/v1/submit/{name}", post(submit::submit))
        .route("/public/v1/query/{name}", post(query::query))
        .route("/enclave/v1/attestation", get(enclave::attestation))
        .route("/enclave/v1/quorum", get(enclave::quorum))
        .route("/enclave/v1/signer", get(enclave::signer))
        .route("/enclave/v1/audit/key", get(audit::key))
        .route("/enclave/v1/audit/head", get(audit::head))
        .route("/enclave/v1/genesis", post(enclave::genesis))
        .route("/enclave/v1/provision", post(enclave::provision))
        .route("/enclave/v1/manifest", post(enclave::update_manifest))
        .route("/metrics", get(observe::metrics))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .layer(axum::middleware::from_fn(observe::observe))
        .with_state(state)
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
