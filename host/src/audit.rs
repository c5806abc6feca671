//! The audit chain, host side (docs/audit.md): keeping the enclave's receipts, filling holes
//! from the enclave's ring, resuming a restarted enclave's chain, and `keyhold audit verify`.
//!
//! Nothing here is trusted by the enclave or by a verifier: receipts are signed by the enclave,
//! and the verifier ([`verify`]) checks everything the host stored against them.

pub mod load;
pub mod result;
pub mod tracker;
pub mod verify;

pub use result::turnkey_result;
pub use tracker::{AuditTracker, receipt_text, resume};

/// Meta key under which the host keeps the receipt key's certificate (postcard).
pub const AUDIT_KEY_META: &str = "audit_key";
