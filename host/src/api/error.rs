//! Turnkey's error body: `{"code": <gRPC code>, "message", "details": [{"@type":
//! "type.googleapis.com/errors.v1.TurnkeyErrorDetail", "turnkeyErrorCode"}]}` with the HTTP
//! status the gRPC gateway uses for that code.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use keyhold_shared::{ErrorCode, OrgId, WireError};
use serde_json::json;

use crate::error::HostError;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    grpc_code: u8,
    turnkey_code: &'static str,
    message: String,
    /// Raised after the caller authenticated (the enclave's `WireError::authenticated`, or
    /// [`ApiError::after_authentication`] on the host): the request keeps its rate limit token.
    authenticated: bool,
}

impl ApiError {
    fn new(
        status: StatusCode,
        grpc_code: u8,
        turnkey_code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            grpc_code,
            turnkey_code,
            message: message.into(),
            authenticated: false,
        }
    }

    /// Marks a refusal the host makes after the enclave authenticated the caller.
    pub fn after_authentication(mut self) -> Self {
        self.authenticated = true;
        self
    }

    /// See [`ApiError::after_authentication`] and `rate_limit.rs`.
    pub fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 3, "REQUEST_INVALID", message)
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            3,
            "REQUEST_INVALID",
            format!("request body exceeds the {limit}-byte limit"),
        )
    }

    pub fn rate_limited(org: OrgId) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            8,
            "UNSPECIFIED",
            format!("too many requests for organization {org}; retry shortly"),
        )
    }

    /// The client did not send its body in time.
    pub fn body_timeout(secs: u64) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            4,
            "UNSPECIFIED",
            format!("the request body was not received within {secs} s"),
        )
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, 5, "UNSPECIFIED", message)
    }

    pub fn org_not_found(org: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            5,
            "ORGANIZATION_NOT_FOUND",
            format!("organization `{org}` not found"),
        )
    }

    pub fn missing_stamp() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            16,
            "SIGNATURE_MISSING",
            "cannot authenticate public API activity request without a stamp (X-Stamp/X-Stamp-Webauthn header)",
        )
    }

    pub fn unsupported(what: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            12,
            "UNSPECIFIED",
            format!("{what} is not supported by keyhold"),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, 13, "INTERNAL", message)
    }
}

impl From<WireError> for ApiError {
    fn from(e: WireError) -> Self {
        use StatusCode as S;
        let (status, grpc, tk) = match e.code {
            ErrorCode::InvalidRequest => (S::BAD_REQUEST, 3, "REQUEST_INVALID"),
            ErrorCode::SignatureMissing => (S::UNAUTHORIZED, 16, "SIGNATURE_MISSING"),
            ErrorCode::SignatureInvalid => (S::UNAUTHORIZED, 16, "SIGNATURE_INVALID"),
            ErrorCode::PublicKeyNotFound => (S::UNAUTHORIZED, 16, "PUBLIC_KEY_NOT_FOUND"),
            ErrorCode::CredentialNotFound => (S::UNAUTHORIZED, 16, "CREDENTIAL_NOT_FOUND"),
            ErrorCode::ApiKeyExpired => (S::UNAUTHORIZED, 16, "API_KEY_EXPIRED"),
            ErrorCode::InvalidTime => (S::BAD_REQUEST, 3, "INVALID_TIME"),
            ErrorCode::PermissionDenied => (S::FORBIDDEN, 7, "REQUEST_NOT_AUTHORIZED"),
            ErrorCode::NotFound => (S::NOT_FOUND, 5, "UNSPECIFIED"),
            ErrorCode::Unsupported => (S::NOT_IMPLEMENTED, 12, "UNSPECIFIED"),
            ErrorCode::StaleState => (S::CONFLICT, 10, "INTERNAL"),
            ErrorCode::Busy | ErrorCode::NotProvisioned | ErrorCode::AuditHeadNeeded => {
                (S::SERVICE_UNAVAILABLE, 14, "INTERNAL")
            }
            ErrorCode::ProvisioningRefused | ErrorCode::SealedDataInvalid | ErrorCode::Internal => {
                (S::INTERNAL_SERVER_ERROR, 13, "INTERNAL")
            }
        };
        ApiError {
            authenticated: e.authenticated,
            ..ApiError::new(status, grpc, tk, e.message)
        }
    }
}

impl From<HostError> for ApiError {
    fn from(e: HostError) -> Self {
        match e {
            HostError::Enclave(wire) => wire.into(),
            HostError::EnclaveUnavailable(_) | HostError::EnclaveTimeout(_) => {
                tracing::warn!(error = %e, "enclave unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    14,
                    "INTERNAL",
                    "signer temporarily unavailable; retry shortly",
                )
            }
            HostError::Conflict(what) => {
                tracing::warn!(conflict = %what, "activity kept losing races; giving up");
                ApiError::new(
                    StatusCode::CONFLICT,
                    10,
                    "INTERNAL",
                    "the organization is being changed concurrently; retry the request",
                )
            }
            other => {
                tracing::error!(error = %other, "internal error");
                ApiError::internal("internal error")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "code": self.grpc_code,
            "message": self.message,
            "details": [{
                "@type": "type.googleapis.com/errors.v1.TurnkeyErrorDetail",
                "turnkeyErrorCode": self.turnkey_code,
            }],
        });
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of the body was never read, so this connection cannot carry another
            // request; say so, or a keep-alive client reuses it and fails.
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        response
    }
}
