//! Attestation documents about this enclave: on AWS Nitro from the NSM device (cargo feature
//! `nitro`), elsewhere from a dev issuer that signs the same COSE_Sign1/CBOR format with a dev CA
//! (P-384 root → intermediate → leaf). In dev, PCR0 is the SHA-384 of this enclave binary, so a
//! rebuilt enclave has a different measurement, as on Nitro.
//!
//! The dev CA's root key comes from a seed file the dev stack keeps in its data directory: dev
//! attestation shows the flow and the checks, it protects nothing against whoever reads that file.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use keyhold_attestation::builder::{DevIssuer, DocumentSpec};
use keyhold_attestation::{Policy, TrustAnchor, UnixTime, VerifiedDocument};
use sha2::{Digest, Sha384};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// How long a dev leaf certificate lives (AWS's live about three hours).
const LEAF_LIFETIME_SECS: u64 = 3 * 60 * 60;
/// How old another enclave's document may be when this one verifies it (key forwarding).
pub const MAX_DOCUMENT_AGE_SECS: u64 = 5 * 60;

pub enum Attester {
    /// No attestation available: provisioning that needs one fails closed.
    None,
    Dev(DevAttester),
    #[cfg(feature = "nitro")]
    Nitro(crate::attestation::nitro::NsmAttester),
}

impl fmt::Debug for Attester {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Attester::None => "Attester::None",
            Attester::Dev(_) => "Attester::Dev",
            #[cfg(feature = "nitro")]
            Attester::Nitro(_) => "Attester::Nitro",
        })
    }
}

pub struct DevAttester {
    seed: Zeroizing<Vec<u8>>,
    pcrs: BTreeMap<u8, Vec<u8>>,
}

impl DevAttester {
    /// Loads the dev CA seed (hex) from `path` and measures the running binary.
    pub fn load(path: &Path) -> Result<Self> {
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|_| Error::Internal("cannot read the dev CA seed"))?,
        );
        let seed = Zeroizing::new(
            hex::decode(text.trim()).map_err(|_| Error::Internal("dev CA seed is not hex"))?,
        );
        let binary = std::env::current_exe()
            .and_then(std::fs::read)
            .map_err(|_| Error::Internal("cannot read the enclave binary to measure it"))?;
        Ok(Self::new(seed, &binary))
    }

    /// A dev attester with PCR0 = SHA-384(`binary`); PCR1 and PCR2 stand for the kernel and the
    /// boot ramdisk on Nitro and get fixed, non-zero dev values (all zero would mean debug mode).
    pub fn new(seed: Zeroizing<Vec<u8>>, binary: &[u8]) -> Self {
        let mut pcrs = BTreeMap::new();
        pcrs.insert(0, Sha384::digest(binary).to_vec());
        pcrs.insert(1, Sha384::digest(b"keyhold dev kernel").to_vec());
        pcrs.insert(2, Sha384::digest(b"keyhold dev ramdisk").to_vec());
        for i in 3..16 {
            pcrs.insert(i, vec![0; 48]);
        }
        DevAttester { seed, pcrs }
    }

    fn issuer(&self, now: UnixTime) -> Result<DevIssuer> {
        DevIssuer::long_lived(
            &self.seed,
            now.saturating_sub(60),
            now.saturating_add(LEAF_LIFETIME_SECS),
        )
        .map_err(|_| Error::Internal("dev attestation issuer"))
    }
}

impl Attester {
    pub fn attest(&self, public_key: &[u8], user_data: &[u8], nonce: &[u8]) -> Result<Vec<u8>> {
        match self {
            Attester::None => Err(Error::Unsupported(
                "attestation (start the enclave with --dev-attestation-ca or on Nitro)".into(),
            )),
            Attester::Dev(dev) => {
                let now_ms = crate::enclave::now_ms();
                let issuer = dev.issuer(UnixTime::from_secs(now_ms / 1000))?;
                let mut spec = DocumentSpec::new(now_ms);
                spec.module_id = "keyhold-dev-enclave".into();
                spec.pcrs = dev.pcrs.clone();
                spec.public_key = Some(public_key.to_vec());
                spec.user_data = Some(user_data.to_vec());
                spec.nonce = Some(nonce.to_vec());
                issuer
                    .sign(&spec)
                    .map_err(|_| Error::Internal("dev attestation signing"))
            }
            #[cfg(feature = "nitro")]
            Attester::Nitro(nsm) => nsm.attest(public_key, user_data, nonce),
        }
    }

    /// The root this enclave trusts for other enclaves' documents: the dev CA's, or AWS's.
    pub fn trust_anchor(&self) -> Result<TrustAnchor> {
        match self {
            Attester::None => Err(Error::Provisioning("no attestation root configured")),
            Attester::Dev(dev) => {
                let now = UnixTime::from_secs(crate::enclave::now_ms() / 1000);
                dev.issuer(now)?
                    .trust_anchor()
                    .map_err(|_| Error::Internal("dev trust anchor"))
            }
            #[cfg(feature = "nitro")]
            Attester::Nitro(_) => {
                TrustAnchor::aws_nitro_root_g1().map_err(|_| Error::Internal("aws root"))
            }
        }
    }

    /// Verifies another enclave's document for key forwarding: chain to our root, not debug,
    /// fresh, the caller's nonce, the expected PCRs and our manifest's digest.
    pub fn verify_peer(
        &self,
        document: &[u8],
        nonce: &[u8],
        manifest_digest: &[u8; 32],
        pcrs: &[keyhold_shared::msg::Pcr],
    ) -> Result<VerifiedDocument> {
        if pcrs.is_empty() {
            return Err(Error::Provisioning(
                "the manifest names no PCRs, so no enclave can be verified",
            ));
        }
        let mut policy = Policy::new(UnixTime::from_secs(crate::enclave::now_ms() / 1000))
            .with_root(self.trust_anchor()?)
            .expect_nonce(nonce.to_vec())
            .expect_user_data(manifest_digest.to_vec())
            .max_age_secs(MAX_DOCUMENT_AGE_SECS);
        for pcr in pcrs {
            policy = policy.expect_pcr(pcr.index, pcr.value.clone());
        }
        keyhold_attestation::verify(document, &policy).map_err(|e| {
            tracing::warn!(reason = %e, "peer attestation refused");
            Error::Provisioning("the other enclave's attestation does not verify")
        })
    }
}

#[cfg(feature = "nitro")]
pub mod nitro;
