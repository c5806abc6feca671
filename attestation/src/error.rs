//! The crate's single error type.
//!
//! Every variant names *why* a document was refused, in lowercase and without a final period, so
//! the CLI can print it after `INVALID: ` and a caller can log it as is. Variants are split by
//! stage (decoding, signature, chain, policy) so callers can tell a malformed document from one
//! that is well formed but not acceptable.

use crate::time::UnixTime;

/// Why a document could not be parsed or was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The encoded document is larger than [`crate::limits::MAX_DOCUMENT_LEN`].
    #[error("document too large: {len} bytes (max {max})")]
    TooLarge {
        /// Size of the input.
        len: usize,
        /// The limit.
        max: usize,
    },

    /// The outer COSE_Sign1 structure is malformed or uses an unsupported algorithm.
    #[error("cose_sign1: {0}")]
    Cose(String),

    /// The signed payload (the attestation map) is malformed or breaks a limit.
    #[error("payload: {0}")]
    Payload(String),

    /// A certificate failed to decode, or the chain from the pinned root to the leaf is broken.
    #[error("certificate chain: {0}")]
    Chain(String),

    /// The COSE signature does not verify with the leaf certificate's key.
    #[error("cose signature: {0}")]
    Signature(&'static str),

    /// The trust anchor given to the verifier is unusable.
    #[error("root certificate: {0}")]
    Root(String),

    /// PCR0, PCR1 and PCR2 are all zero: the enclave runs in debug mode, where the host can read
    /// its memory, so its measurements prove nothing.
    #[error(
        "debug mode: pcr0, pcr1 and pcr2 are all zero (debug enclaves are refused unless allowed)"
    )]
    DebugMode,

    /// An expected PCR is not in the document.
    #[error("pcr{index}: expected {expected}, but the document has no pcr{index}")]
    PcrMissing {
        /// PCR index.
        index: u8,
        /// Expected value, hex.
        expected: String,
    },

    /// A PCR differs from the expected value.
    #[error("pcr{index}: expected {expected}, got {actual}")]
    PcrMismatch {
        /// PCR index.
        index: u8,
        /// Expected value, hex.
        expected: String,
        /// Value in the document, hex.
        actual: String,
    },

    /// `public_key`, `user_data` or `nonce` differs from the expected bytes.
    #[error("{field}: expected {expected}, got {actual}")]
    FieldMismatch {
        /// Field name as in the document.
        field: &'static str,
        /// Expected value, hex (abbreviated if long).
        expected: String,
        /// Value in the document, hex (abbreviated if long), or `none`.
        actual: String,
    },

    /// The document is older than the allowed maximum age.
    #[error(
        "timestamp: document from {timestamp} is {age_secs} s old at {at} (max age {max_secs} s)"
    )]
    TooOld {
        /// Document time, RFC 3339.
        timestamp: String,
        /// Verification time.
        at: UnixTime,
        /// Age in whole seconds.
        age_secs: u64,
        /// Allowed maximum.
        max_secs: u64,
    },

    /// The document claims to come from the future (beyond the allowed clock skew).
    #[error(
        "timestamp: document from {timestamp} is {ahead_secs} s after the verification time {at} (max skew {max_secs} s)"
    )]
    InFuture {
        /// Document time, RFC 3339.
        timestamp: String,
        /// Verification time.
        at: UnixTime,
        /// How far ahead, whole seconds.
        ahead_secs: u64,
        /// Allowed skew.
        max_secs: u64,
    },

    /// A time given to the verifier (e.g. `--at`) is not Unix seconds or RFC 3339.
    #[error("invalid time `{input}`: {reason}")]
    Time {
        /// What was given.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// The test-document builder could not produce a document.
    #[error("document builder: {0}")]
    Build(String),
}

/// Hex of `bytes`, shortened to its first and last 16 bytes when long, so error messages stay on
/// one readable line even for 1 KiB fields.
pub(crate) fn short_hex(bytes: &[u8]) -> String {
    const KEEP: usize = 16;
    match (
        bytes.get(..KEEP),
        bytes.len().checked_sub(KEEP).and_then(|s| bytes.get(s..)),
    ) {
        (Some(head), Some(tail)) if bytes.len() > 2 * KEEP + 8 => format!(
            "{}…{} ({} bytes)",
            hex::encode(head),
            hex::encode(tail),
            bytes.len()
        ),
        _ => hex::encode(bytes),
    }
}
