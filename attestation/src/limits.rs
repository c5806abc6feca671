//! Size limits for everything in an attestation document.
//!
//! Set from the largest legitimate document rather than from what the format allows: real NSM
//! output is 4–10 KiB (the largest known, with three 1 KiB fields, is about 7.5 KiB), so each
//! limit leaves generous room while keeping a hostile document from costing real memory or time.

/// Largest encoded document accepted, in bytes.
pub const MAX_DOCUMENT_LEN: usize = 64 * 1024;

/// Largest `public_key`, `user_data` or `nonce`, in bytes (the NSM's own limit).
pub const MAX_USER_FIELD_LEN: usize = 1024;

/// Most PCR entries in the `pcrs` map (Nitro reports 16; the NSM has 32 slots).
pub const MAX_PCRS: usize = 32;

/// Most certificates in `cabundle` (AWS uses 4: root plus three intermediates).
pub const MAX_CABUNDLE: usize = 8;

/// Largest single DER certificate, in bytes (AWS certificates are under 1 KiB).
pub const MAX_CERT_LEN: usize = 4096;

/// Longest `module_id`, in bytes (AWS ids are about 40).
pub const MAX_MODULE_ID_LEN: usize = 256;

/// Most entries in the payload map (9 are defined; a few unknown ones are tolerated).
pub const MAX_PAYLOAD_ENTRIES: usize = 16;

/// Deepest CBOR nesting accepted (the format itself needs 4).
pub(crate) const MAX_CBOR_DEPTH: usize = 16;

/// Default tolerance for a document timestamp ahead of the verification time, in seconds.
pub const DEFAULT_MAX_FUTURE_SKEW_SECS: u64 = 60;
