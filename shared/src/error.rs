//! Error codes that cross the socket. The enclave maps every internal failure to one of these;
//! the host maps them to Turnkey's HTTP error bodies. Messages are written for the API caller and
//! never contain secret material: failures to verify, decrypt or unseal are deliberately opaque.

use serde::{Deserialize, Serialize};

/// What went wrong, as far as the other side needs to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorCode {
    /// The request is malformed or names something invalid (HTTP 400).
    InvalidRequest,
    /// No stamp was supplied.
    SignatureMissing,
    /// The stamp does not parse or its signature does not verify over the body.
    SignatureInvalid,
    /// The stamp's public key is not a credential of the organization.
    PublicKeyNotFound,
    /// The credential has expired.
    ApiKeyExpired,
    /// `timestampMs` is outside the accepted window.
    InvalidTime,
    /// Authenticated, but not allowed to do this.
    PermissionDenied,
    /// The named organization, wallet, account or activity does not exist.
    NotFound,
    /// The enclave holds no quorum key yet (not provisioned).
    NotProvisioned,
    /// A provisioning step was refused (wrong share, bad manifest, already provisioned).
    ProvisioningRefused,
    /// A sealed blob failed to open: forged, from another organization, or corrupted.
    SealedDataInvalid,
    /// A sealed organization state older than one the enclave has already seen.
    StaleState,
    /// A feature keyhold does not implement (yet).
    Unsupported,
    /// The enclave is at capacity; retry.
    Busy,
    /// A bug or an unexpected internal failure.
    Internal,
    /// The stamp's passkey credential id is not an authenticator of the organization (Turnkey's
    /// `CREDENTIAL_NOT_FOUND`). Last, so the earlier variants keep their wire numbers.
    CredentialNotFound,
    /// The enclave does not know the organization's audit chain head (it restarted): send
    /// `AuditResume` with the newest stored receipt, then retry.
    AuditHeadNeeded,
}

/// An error answer: a code plus a caller-facing message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct WireError {
    pub code: ErrorCode,
    pub message: String,
    /// The enclave verified the caller's stamp before it refused: a refusal to a known caller
    /// (a policy's denial, bad parameters), not to a stranger. The host's per-organization rate
    /// limit keeps the token of such a request and gives back the token of any other failure,
    /// so strangers who know an organization's id cannot spend its users' allowance. Only the
    /// host's own accounting reads it; nothing in the enclave does.
    pub authenticated: bool,
}

impl WireError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        WireError {
            code,
            message: message.into(),
            authenticated: false,
        }
    }
}
