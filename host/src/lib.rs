//! The keyhold host: the untrusted half. It serves Turnkey's HTTP API, stores what the enclave
//! gives it (sealed blobs and public metadata), and forwards every request — raw body and stamp,
//! untouched — to the enclave, which alone decides and signs.

pub mod api;
pub mod audit;
pub mod boot;
pub mod cli;
pub mod enclave_client;
pub mod error;
pub mod lockfile;
pub mod metrics;
pub mod operator;
pub mod store;
pub mod webhooks;

pub use enclave_client::EnclaveClient;
pub use error::HostError;
