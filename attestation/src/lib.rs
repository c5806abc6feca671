//! AWS Nitro attestation documents: parsing, verification, and a builder for test documents.
//!
//! An attestation document is a COSE_Sign1 (ES384) over a CBOR map that an enclave's Nitro
//! Secure Module signs; its certificate chain leads to the AWS Nitro Enclaves Root-G1. Verifying
//! one means, in this order:
//!
//! 1. decoding it fully and within [`limits`] ([`Document::parse`]);
//! 2. checking the chain pinned root → `cabundle[1..]` → leaf at a given time (the document's
//!    own `cabundle[0]` copy of the root is ignored);
//! 3. checking the COSE signature with the leaf key, over the payload bytes exactly as received;
//! 4. applying the [`Policy`]: timestamp age and skew, debug mode, PCRs, and the bound
//!    `public_key` / `user_data` / `nonce`.
//!
//! Success yields a [`VerifiedDocument`], which nothing else can construct.
//!
//! ```no_run
//! use keyhold_attestation::{Policy, UnixTime, verify};
//!
//! # fn run(bytes: &[u8], pcr0: Vec<u8>, nonce: Vec<u8>) -> Result<(), keyhold_attestation::Error> {
//! let policy = Policy::new(UnixTime::now())
//!     .expect_pcr(0, pcr0)
//!     .expect_nonce(nonce)
//!     .max_age_secs(300);
//! let verified = verify(bytes, &policy)?;
//! println!("enclave {}", verified.module_id());
//! # Ok(())
//! # }
//! ```

pub mod builder;
mod cbor;
mod chain;
mod cose;
mod document;
mod error;
pub mod limits;
mod time;
mod verify;

pub use chain::{Cert, TrustAnchor};
pub use document::{Document, PcrDigest};
pub use error::Error;
pub use time::{UnixTime, format_millis};
pub use verify::{Policy, VerifiedDocument, verify};
