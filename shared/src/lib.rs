//! The wire protocol between the keyhold host (untrusted) and the enclave (trusted).
//!
//! Both sides link this crate, so it stays small: message types ([`msg`]), the length-prefixed
//! postcard framing ([`frame`]), typed identifiers ([`ids`]), wire error codes ([`error`]) and the
//! one transport address type ([`address`], [`transport`]) used by both binaries.
//!
//! Every byte that arrives over the socket is treated as hostile: frame lengths are checked
//! before anything is allocated, a frame must decode completely (no trailing bytes), and decoding
//! never panics. See `frame` for the limits.

pub mod address;
pub mod error;
pub mod frame;
pub mod ids;
pub mod msg;
pub mod transport;

pub use address::Address;
pub use error::{ErrorCode, WireError};
pub use ids::{
    ActivityId, ApiKeyId, AuthenticatorId, OrgId, PrivateKeyId, RequestId, UserId, Uuid, WalletId,
};
