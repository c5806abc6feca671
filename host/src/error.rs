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
    /// A concurrent writer got there first (the organization's sealed state moved on, or the
    /// same activity was stored by another request): nothing was written; run the activity
    /// again against the current state.
    #[error("write conflict: {0}")]
    Conflict(String),
    #[error("{0}")]
    Config(String),
}

impl From<rusqlite::Error> for HostError {
    fn from(e: rusqlite::Error) -> Self {
        HostError::Store(e.to_string())
    }
}

impl From<tokio_postgres::Error> for HostError {
    fn from(e: tokio_postgres::Error) -> Self {
        // `Display` of a server error is only its severity; the message is in the source.
        match e.as_db_error() {
            Some(db) => HostError::Store(format!("{}: {}", db.code().code(), db.message())),
            None => HostError::Store(e.to_string()),
        }
    }
}

impl From<deadpool_postgres::PoolError> for HostError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            other => HostError::Store(other.to_string()),
        }
    }
}
