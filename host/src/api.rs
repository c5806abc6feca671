//! Turnkey's public HTTP API (`POST /public/v1/query/*` and `/public/v1/submit/*`).

mod answer;
mod approvals;
mod audit;
mod enclave;
pub mod endpoints;
mod error;
mod format;
mod observe;
pub mod openapi;
mod org_activities;
mod org_queries;
mod query;
pub mod rate_limit;
mod record_edits;
mod recovery;
mod retry;
pub mod server;
mod submit;
mod transfer;
mod webhook_endpoints;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::routing::{MethodFilter, MethodRouter, on};
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
    /// Webhook deliveries after activities are stored.
    pub webhooks: Arc<crate::webhooks::Webhooks>,
}

impl AppState {
    /// Calls the enclave; if it restarted and lost its key, provisions it again (when a dev
    /// operator or a forwarding enclave is at hand) and retries once.
    pub async fn call(&self, request: Request) -> Result<Response, HostError> {
        match self.enclave.call_ref(&request).await {
            Err(HostError::Enclave(WireError {
                code: ErrorCode::NotProvisioned,
                ..
            })) if self.provisioner.operator.is_some()
                || self.provisioner.forward_from.is_some() =>
            {
                tracing::warn!("enclave lost its quorum key (restarted?); provisioning it again");
                boot::ensure_provisioned(&self.enclave, self.store.as_ref(), &self.provisioner)
                    .await?;
                self.enclave.call_ref(&request).await
            }
            other => other,
        }
    }
}

/// A route: method, path, and its handler for that method.
type Route = (
    endpoints::Method,
    &'static str,
    fn(MethodFilter) -> MethodRouter<AppState>,
);

/// Every route the server answers. `endpoints::ENDPOINTS` documents each fixed one (test
/// `api::tests::every_route_is_in_the_endpoint_table`); the two `{name}` routes dispatch
/// through that table. Add routes here, not on the router directly.
fn routes() -> Vec<Route> {
    use endpoints::Method::{Get, Post};
    vec![
        (Post, "/public/v1/submit/{name}", |m| on(m, submit::submit)),
        (Post, "/public/v1/query/{name}", |m| on(m, query::query)),
        (Get, "/enclave/v1/attestation", |m| {
            on(m, enclave::attestation)
        }),
        (Get, "/enclave/v1/quorum", |m| on(m, enclave::quorum)),
        (Get, "/enclave/v1/signer", |m| on(m, enclave::signer)),
        (Get, "/enclave/v1/session-signer", |m| {
            on(m, enclave::session_signer)
        }),
        (Get, "/enclave/v1/audit/key", |m| on(m, audit::key)),
        (Get, "/enclave/v1/audit/head", |m| on(m, audit::head)),
        (Post, "/enclave/v1/genesis", |m| on(m, enclave::genesis)),
        (Post, "/enclave/v1/provision", |m| on(m, enclave::provision)),
        (Post, "/enclave/v1/manifest", |m| {
            on(m, enclave::update_manifest)
        }),
        (Get, "/webhooks/v1/signing-key", |m| {
            on(m, webhook_endpoints::signing_key)
        }),
        (Get, "/metrics", |m| on(m, observe::metrics)),
        (Get, "/openapi.json", |m| on(m, openapi::serve)),
    ]
}

pub fn router(state: AppState) -> Router {
    routes()
        .into_iter()
        .fold(Router::new(), |router, (method, path, handler)| {
            let filter = match method {
                endpoints::Method::Get => MethodFilter::GET,
                endpoints::Method::Post => MethodFilter::POST,
            };
            router.route(path, handler(filter))
        })
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

#[cfg(test)]
mod tests {
    use super::endpoints::{ENDPOINTS, Kind, QUERY_PREFIX, SUBMIT_PREFIX};
    use super::*;

    #[test]
    fn every_route_is_in_the_endpoint_table() {
        let routes = routes();
        for (method, path, _) in &routes {
            if let Some(name) = path
                .strip_prefix(SUBMIT_PREFIX)
                .or_else(|| path.strip_prefix(QUERY_PREFIX))
            {
                assert_eq!(name, "{name}", "{path}: dispatch by the table instead");
                continue;
            }
            assert!(
                ENDPOINTS.iter().any(|e| e.path == *path
                    && e.method == *method
                    && matches!(e.kind, Kind::Fixed)),
                "route {path} is not documented in endpoints::ENDPOINTS"
            );
        }
        for e in ENDPOINTS {
            let routed = match e.kind {
                Kind::Activity(_) => format!("{SUBMIT_PREFIX}{{name}}"),
                Kind::Query(_) => format!("{QUERY_PREFIX}{{name}}"),
                Kind::Fixed => e.path.to_owned(),
            };
            assert!(
                routes
                    .iter()
                    .any(|(m, p, _)| *p == routed && *m == e.method),
                "{} is documented but has no route",
                e.path
            );
        }
    }
}
