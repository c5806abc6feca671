//! The enclave's one error type, and its mapping to what the host may see.
//!
//! Variants carry only caller-facing context (field names, limits), never key material or
//! plaintext. Everything that fails to open or verify maps to one opaque message.

use keyhold_shared::{ErrorCode, WireError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidRequest(String),
    #[error(
        "cannot authenticate public API activity request without a stamp (X-Stamp/X-Stamp-Webauthn header)"
    )]
    SignatureMissing,
    #[error("malformed activity stamp: {0}")]
    MalformedStamp(&'static str),
    #[error("could not verify api key signature")]
    SignatureInvalid,
    #[error("could not verify WebAuthN signature: {0}")]
    WebauthnInvalid(&'static str),
    #[error("could not find public key in organization")]
    PublicKeyNotFound,
    #[error("could not find public key in organization or its parent organization")]
    PublicKeyNotFoundWithParent,
    #[error("webauthn authenticator not found in organization")]
    CredentialNotFound,
    #[error("webauthn authenticator not found in organization or parent organization")]
    CredentialNotFoundWithParent,
    #[error("expired api key")]
    ApiKeyExpired,
    #[error("invalid read-only session: {0}")]
    SessionInvalid(&'static str),
    #[error("expired read-only session")]
    SessionExpired,
    #[error("{0}")]
    InvalidTime(String),
    #[error("organization mismatch: {0}")]
    OrganizationMismatch(String),
    #[error("request not authorized: {0}")]
    PermissionDenied(&'static str),
    #[error("request not authorized: {0}")]
    Denied(String),
    #[error("{0}")]
    NotFound(String),
    #[error("enclave is not provisioned")]
    NotProvisioned,
    #[error("provisioning refused: {0}")]
    Provisioning(&'static str),
    /// Deliberately without detail: which check failed is of use only to an attacker.
    #[error("sealed data could not be opened")]
    Unseal,
    #[error("organization state version {got} is older than version {seen} already seen")]
    StaleState { got: u64, seen: u64 },
    #[error("organization {0} has been deleted")]
    OrganizationDeleted(keyhold_shared::OrgId),
    #[error("{0} is not supported by keyhold")]
    Unsupported(String),
    #[error("internal enclave error: {0}")]
    Internal(&'static str),
    #[error("the enclave does not know this organization's audit chain head; resume it first")]
    AuditHeadNeeded,
    #[error("audit chain head refused: {0}")]
    AuditHeadRefused(&'static str),
    /// `0`, raised after the caller's stamp verified: the host keeps such a request's rate
    /// limit token (`WireError::authenticated`). Made only by [`Error::after_authentication`].
    #[error("{0}")]
    Authenticated(Box<Error>),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The first 80 characters of caller-supplied text, for echoing it in an error message without
/// letting a client make the message arbitrarily long.
pub fn clip(s: &str) -> String {
    s.chars().take(80).collect()
}

impl Error {
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidRequest(msg.into())
    }

    /// Marks a failure that came after the caller authenticated (see [`Error::Authenticated`]).
    pub fn after_authentication(self) -> Self {
        match self {
            Error::Authenticated(_) => self,
            other => Error::Authenticated(Box::new(other)),
        }
    }

    fn code(&self) -> ErrorCode {
        match self {
            Error::Authenticated(inner) => inner.code(),
            Error::InvalidRequest(_) => ErrorCode::InvalidRequest,
            Error::SignatureMissing => ErrorCode::SignatureMissing,
            Error::MalformedStamp(_) | Error::SignatureInvalid | Error::WebauthnInvalid(_) => {
                ErrorCode::SignatureInvalid
            }
            Error::PublicKeyNotFound | Error::PublicKeyNotFoundWithParent => {
                ErrorCode::PublicKeyNotFound
            }
            Error::CredentialNotFound | Error::CredentialNotFoundWithParent => {
                ErrorCode::CredentialNotFound
            }
            Error::ApiKeyExpired | Error::SessionExpired => ErrorCode::ApiKeyExpired,
            Error::SessionInvalid(_) => ErrorCode::SignatureInvalid,
            Error::InvalidTime(_) => ErrorCode::InvalidTime,
            Error::OrganizationMismatch(_) | Error::PermissionDenied(_) | Error::Denied(_) => {
                ErrorCode::PermissionDenied
            }
            Error::NotFound(_) | Error::OrganizationDeleted(_) => ErrorCode::NotFound,
            Error::NotProvisioned => ErrorCode::NotProvisioned,
            Error::Provisioning(_) => ErrorCode::ProvisioningRefused,
            Error::Unseal => ErrorCode::SealedDataInvalid,
            Error::StaleState { .. } => ErrorCode::StaleState,
            Error::Unsupported(_) => ErrorCode::Unsupported,
            Error::Internal(_) => ErrorCode::Internal,
            Error::AuditHeadNeeded => ErrorCode::AuditHeadNeeded,
            Error::AuditHeadRefused(_) => ErrorCode::InvalidRequest,
        }
    }
}

impl From<Error> for WireError {
    fn from(e: Error) -> Self {
        WireError {
            code: e.code(),
            message: e.to_string(),
            authenticated: matches!(e, Error::Authenticated(_)),
        }
    }
}
