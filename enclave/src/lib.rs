//! The keyhold enclave: the only process that ever holds the quorum key, a decrypted seed or a
//! private key.
//!
//! It trusts nothing the host says that it cannot check. Client requests arrive as the raw body
//! plus the stamp, and the stamp is verified here ([`auth`]); organization state and seeds arrive
//! sealed under keys derived from the quorum key ([`seal`], [`org`]); what the host adds (which
//! wallet, which path) is checked against what the client signed ([`activities`]).

pub mod activities;
pub mod attestation;
pub mod audit;
pub mod auth;
pub mod authorize;
pub mod bundles;
pub mod chains;
pub mod enclave;
pub mod error;
pub mod hpke_suite;
pub mod keys;
pub mod limits;
pub mod lru;
pub mod org;
pub mod provisioning;
pub mod recovery;
pub mod seal;
pub mod secrets;
pub mod server;
pub mod shamir;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;

#[cfg(test)]
pub(crate) mod test_hooks;
#[cfg(test)]
mod tests;

pub use enclave::Enclave;
pub use error::Error;
