//! Errors of the host process (not of the HTTP API: those are in `api::error`).

use keyhold_shared::WireError;

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("enclave unavailable: {0}")]
    EnclaveUnavailable(String),
    #[error("enclave did not answer within {0:?}")]
    EnclaveTimeout(std::time::Duration),
    #[error("enclave refused: {0}")]
    Enclave(#[from] WireError),
    #[error("enclave answered with an unexpected message")]
    UnexpectedResponse,
    #[error("storage error: {0}")]
    Store(String),
    #[error("{0}")]
    Config(String),
}

impl From<rusqlite::Error> for HostError {
    fn from(e: rusqlite::Error) -> Self {
        HostError::Store(e.to_string())
    }
}
