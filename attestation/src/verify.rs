//! What a verifier requires of a document ([`Policy`]) and the proof that a document met it
//! ([`VerifiedDocument`]).

use std::collections::BTreeMap;

use crate::chain::{Cert, TrustAnchor, verify_chain};
use crate::document::Document;
use crate::error::{Error, short_hex};
use crate::limits::DEFAULT_MAX_FUTURE_SKEW_SECS;
use crate::time::{UnixTime, format_millis};

/// Which root the chain must end in.
#[derive(Clone, Debug)]
enum Root {
    /// The built-in AWS Nitro Enclaves Root-G1 (decoded on use, so [`Policy::new`] cannot fail).
    AwsNitroG1,
    Pinned(Box<TrustAnchor>),
}

/// Everything a document must satisfy, besides being well formed and correctly signed.
#[derive(Clone, Debug)]
pub struct Policy {
    root: Root,
    at: UnixTime,
    pcrs: BTreeMap<u8, Vec<u8>>,
    allow_debug: bool,
    public_key: Option<Vec<u8>>,
    user_data: Option<Vec<u8>>,
    nonce: Option<Vec<u8>>,
    max_age_secs: Option<u64>,
    max_future_skew_secs: u64,
}

impl Policy {
    /// Verify at time `at`, against the AWS Nitro root, refusing debug enclaves, with no
    /// expected PCRs or fields and no maximum age.
    pub fn new(at: UnixTime) -> Self {
        Self {
            root: Root::AwsNitroG1,
            at,
            pcrs: BTreeMap::new(),
            allow_debug: false,
            public_key: None,
            user_data: None,
            nonce: None,
            max_age_secs: None,
            max_future_skew_secs: DEFAULT_MAX_FUTURE_SKEW_SECS,
        }
    }

    /// Pin a different root (a dev CA, or a future AWS root).
    #[must_use]
    pub fn with_root(mut self, root: TrustAnchor) -> Self {
        self.root = Root::Pinned(Box::new(root));
        self
    }

    /// Require PCR `index` to equal `value` exactly.
    #[must_use]
    pub fn expect_pcr(mut self, index: u8, value: Vec<u8>) -> Self {
        self.pcrs.insert(index, value);
        self
    }

    /// Accept debug-mode enclaves (PCR0–2 all zero). Only for development.
    #[must_use]
    pub fn allow_debug(mut self, allow: bool) -> Self {
        self.allow_debug = allow;
        self
    }

    /// Require `public_key` to equal these bytes.
    #[must_use]
    pub fn expect_public_key(mut self, value: Vec<u8>) -> Self {
        self.public_key = Some(value);
        self
    }

    /// Require `user_data` to equal these bytes.
    #[must_use]
    pub fn expect_user_data(mut self, value: Vec<u8>) -> Self {
        self.user_data = Some(value);
        self
    }

    /// Require `nonce` to equal these bytes.
    #[must_use]
    pub fn expect_nonce(mut self, value: Vec<u8>) -> Self {
        self.nonce = Some(value);
        self
    }

    /// Refuse documents whose timestamp is more than `secs` before the verification time.
    #[must_use]
    pub fn max_age_secs(mut self, secs: u64) -> Self {
        self.max_age_secs = Some(secs);
        self
    }

    /// How far a document's timestamp may be ahead of the verification time (default 60 s).
    #[must_use]
    pub fn max_future_skew_secs(mut self, secs: u64) -> Self {
        self.max_future_skew_secs = secs;
        self
    }

    /// The verification time.
    pub fn at(&self) -> UnixTime {
        self.at
    }
}

/// Proof that a document passed [`verify`] under some [`Policy`].
///
/// Only this crate's verification can construct it (its fields are private and it has no public
/// constructor), so code that holds one cannot have skipped a check.
#[derive(Clone, Debug)]
pub struct VerifiedDocument {
    document: Document,
    root: Cert,
    verified_at: UnixTime,
}

impl VerifiedDocument {
    /// The verified document's contents.
    pub fn document(&self) -> &Document {
        &self.document
    }

    /// The root the chain was verified against.
    pub fn root(&self) -> &Cert {
        &self.root
    }

    /// The time the chain and timestamp were checked at.
    pub fn verified_at(&self) -> UnixTime {
        self.verified_at
    }

    /// Module id. Shorthand for `document().module_id()`.
    pub fn module_id(&self) -> &str {
        self.document.module_id()
    }

    /// One PCR. Shorthand for `document().pcr(index)`.
    pub fn pcr(&self, index: u8) -> Option<&[u8]> {
        self.document.pcr(index)
    }

    /// Shorthand for `document().public_key()`.
    pub fn public_key(&self) -> Option<&[u8]> {
        self.document.public_key()
    }

    /// Shorthand for `document().user_data()`.
    pub fn user_data(&self) -> Option<&[u8]> {
        self.document.user_data()
    }

    /// Shorthand for `document().nonce()`.
    pub fn nonce(&self) -> Option<&[u8]> {
        self.document.nonce()
    }

    /// Shorthand for `document().timestamp_millis()`.
    pub fn timestamp_millis(&self) -> u64 {
        self.document.timestamp_millis()
    }
}

/// Decodes and verifies an attestation document (raw COSE_Sign1 CBOR bytes) under `policy`.
pub fn verify(bytes: &[u8], policy: &Policy) -> Result<VerifiedDocument, Error> {
    Document::parse(bytes)?.verify(policy)
}

impl Document {
    /// Verifies this document under `policy`: certificate chain at the policy's time, COSE
    /// signature by the leaf, timestamp, debug mode, PCRs, then the bound fields.
    pub fn verify(&self, policy: &Policy) -> Result<VerifiedDocument, Error> {
        let root = match &policy.root {
            Root::AwsNitroG1 => TrustAnchor::aws_nitro_root_g1()?,
            Root::Pinned(anchor) => TrustAnchor::clone(anchor),
        };
        let leaf_key = verify_chain(&root, &self.cabundle, &self.certificate, policy.at)?;
        self.envelope.verify_signature(&leaf_key)?;
        check_time(self.timestamp_ms, policy)?;

        if self.is_debug() && !policy.allow_debug {
            return Err(Error::DebugMode);
        }
        for (&index, expected) in &policy.pcrs {
            match self.pcr(index) {
                None => {
                    return Err(Error::PcrMissing {
                        index,
                        expected: hex::encode(expected),
                    });
                }
                Some(actual) if actual != expected.as_slice() => {
                    return Err(Error::PcrMismatch {
                        index,
                        expected: hex::encode(expected),
                        actual: hex::encode(actual),
                    });
                }
                Some(_) => {}
            }
        }
        check_field(
            "public_key",
            policy.public_key.as_deref(),
            self.public_key(),
        )?;
        check_field("user_data", policy.user_data.as_deref(), self.user_data())?;
        check_field("nonce", policy.nonce.as_deref(), self.nonce())?;

        Ok(VerifiedDocument {
            document: self.clone(),
            root: root.cert().clone(),
            verified_at: policy.at,
        })
    }
}

fn check_time(timestamp_ms: u64, policy: &Policy) -> Result<(), Error> {
    let at_ms = policy.at.as_secs().saturating_mul(1000);
    let skew_ms = policy.max_future_skew_secs.saturating_mul(1000);
    if timestamp_ms > at_ms.saturating_add(skew_ms) {
        return Err(Error::InFuture {
            timestamp: format_millis(timestamp_ms),
            at: policy.at,
            ahead_secs: timestamp_ms.saturating_sub(at_ms) / 1000,
            max_secs: policy.max_future_skew_secs,
        });
    }
    if let Some(max) = policy.max_age_secs {
        let age_ms = at_ms.saturating_sub(timestamp_ms);
        if age_ms > max.saturating_mul(1000) {
            return Err(Error::TooOld {
                timestamp: format_millis(timestamp_ms),
                at: policy.at,
                age_secs: age_ms / 1000,
                max_secs: max,
            });
        }
    }
    Ok(())
}

fn check_field(
    field: &'static str,
    expected: Option<&[u8]>,
    actual: Option<&[u8]>,
) -> Result<(), Error> {
    match (expected, actual) {
        (None, _) => Ok(()),
        (Some(e), Some(a)) if e == a => Ok(()),
        (Some(e), a) => Err(Error::FieldMismatch {
            field,
            expected: short_hex(e),
            actual: a.map_or_else(|| "none".to_owned(), short_hex),
        }),
    }
}
