//! The operator's role: holding an HPKE key that quorum shares are encrypted to and a P-256 key
//! that approves provisioning and bootstrap requests.
//!
//! In production an operator runs this on their own machine (the `keyhold operator` commands of
//! the provisioning issue). In dev mode `keyhold dev` plays the single operator with a key file in
//! the data directory, so that the stack starts with one command. That file plus the database
//! can rebuild the quorum key: dev mode protects nothing against someone who reads the data
//! directory, and says so.

use std::path::Path;

use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem, OpModeR, OpModeS, Serializable};
use keyhold_attestation::{Policy, TrustAnchor, UnixTime};
use keyhold_shared::msg::{
    Attestation, DOMAIN_MANIFEST, EncryptedShare, HPKE_INFO_BOOT_SHARE, HPKE_INFO_OPERATOR_SHARE,
    OperatorApproval, OperatorKey, QuorumManifest, SignedShare, domain_digest, share_aad,
    share_submission_digest,
};
use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::ecdsa::{DerSignature, Signature, SigningKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::HostError;

type HpkePrivate = <X25519HkdfSha256 as Kem>::PrivateKey;
type HpkePublic = <X25519HkdfSha256 as Kem>::PublicKey;
type Encapped = <X25519HkdfSha256 as Kem>::EncappedKey;

pub struct DevOperator {
    encryption: HpkePrivate,
    encryption_public: HpkePublic,
    signing: SigningKey,
}

impl std::fmt::Debug for DevOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevOperator").finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyFile {
    encryption_private_key: String,
    signing_private_key: String,
}

fn config(msg: impl Into<String>) -> HostError {
    HostError::Config(msg.into())
}

pub fn random_bytes<const N: usize>() -> Result<Zeroizing<[u8; N]>, HostError> {
    let mut out = Zeroizing::new([0u8; N]);
    getrandom::fill(out.as_mut()).map_err(|_| config("random number generator failed"))?;
    Ok(out)
}

/// A fresh random P-256 signing key.
pub fn random_p256() -> Result<SigningKey, HostError> {
    loop {
        if let Ok(key) = SigningKey::from_slice(random_bytes::<32>()?.as_ref()) {
            return Ok(key);
        }
    }
}

impl DevOperator {
    /// Loads the operator key file, creating it (mode 0600) if it does not exist.
    pub fn load_or_create(path: &Path) -> Result<Self, HostError> {
        if path.exists() {
            let text = Zeroizing::new(
                std::fs::read_to_string(path)
                    .map_err(|e| config(format!("{}: {e}", path.display())))?,
            );
            let file: KeyFile = serde_json::from_str(&text)
                .map_err(|e| config(format!("{}: {e}", path.display())))?;
            let enc = Zeroizing::new(
                hex::decode(&file.encryption_private_key)
                    .map_err(|_| config("bad operator key file"))?,
            );
            let sig = Zeroizing::new(
                hex::decode(&file.signing_private_key)
                    .map_err(|_| config("bad operator key file"))?,
            );
            let encryption =
                HpkePrivate::from_bytes(&enc).map_err(|_| config("bad operator encryption key"))?;
            let encryption_public = X25519HkdfSha256::sk_to_pk(&encryption);
            let signing =
                SigningKey::from_slice(&sig).map_err(|_| config("bad operator signing key"))?;
            return Ok(DevOperator {
                encryption,
                encryption_public,
                signing,
            });
        }
        let ikm = random_bytes::<32>()?;
        let (encryption, encryption_public) = X25519HkdfSha256::derive_keypair(ikm.as_ref());
        let signing = random_p256()?;
        let file = KeyFile {
            encryption_private_key: hex::encode(encryption.to_bytes()),
            signing_private_key: hex::encode(signing.to_bytes()),
        };
        let text =
            Zeroizing::new(serde_json::to_string_pretty(&file).map_err(|e| config(e.to_string()))?);
        write_private(path, text.as_bytes())?;
        Ok(DevOperator {
            encryption,
            encryption_public,
            signing,
        })
    }

    pub fn public(&self) -> OperatorKey {
        OperatorKey {
            encryption_key: self.encryption_public.to_bytes().to_vec(),
            signing_key: self
                .signing
                .verifying_key()
                .to_sec1_point(true)
                .as_bytes()
                .to_vec(),
        }
    }

    /// Decrypts this operator's genesis share and re-encrypts it to an enclave's boot key.
    pub fn reencrypt(
        &self,
        share: &EncryptedShare,
        manifest_digest: &[u8; 32],
        boot_key: &[u8],
    ) -> Result<EncryptedShare, HostError> {
        let aad = share_aad(manifest_digest, share.operator);
        let encapped =
            Encapped::from_bytes(&share.encapped_key).map_err(|_| config("malformed share"))?;
        let plaintext = Zeroizing::new(
            hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
                &OpModeR::Base,
                &self.encryption,
                &encapped,
                HPKE_INFO_OPERATOR_SHARE,
                &share.ciphertext,
                &aad,
            )
            .map_err(|_| config("the quorum share does not decrypt with this operator key"))?,
        );
        let boot = HpkePublic::from_bytes(boot_key)
            .map_err(|_| config("enclave boot key is not an X25519 key"))?;
        let (encapped, ciphertext) =
            hpke::single_shot_seal::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
                &OpModeS::Base,
                &boot,
                HPKE_INFO_BOOT_SHARE,
                &plaintext,
                &aad,
            )
            .map_err(|_| config("hpke seal failed"))?;
        Ok(EncryptedShare {
            operator: share.operator,
            encapped_key: encapped.to_bytes().to_vec(),
            ciphertext,
        })
    }

    /// This operator's position in `manifest`.
    pub fn index_in(&self, manifest: &QuorumManifest) -> Result<u8, HostError> {
        let me = self.public();
        let index = manifest
            .operators
            .iter()
            .position(|op| op.signing_key == me.signing_key)
            .ok_or_else(|| config("this operator key is not in the manifest"))?;
        u8::try_from(index).map_err(|_| config("operator index"))
    }

    /// Approves `value` under `domain` as this manifest's operator.
    pub fn approval<T: Serialize>(
        &self,
        manifest: &QuorumManifest,
        domain: &[u8],
        value: &T,
    ) -> Result<OperatorApproval, HostError> {
        let digest = domain_digest(domain, value).map_err(|e| config(e.to_string()))?;
        Ok(OperatorApproval {
            operator: self.index_in(manifest)?,
            signature: self.approve(&digest)?,
        })
    }

    /// The operator's half of booting an enclave: check its attestation document (signature
    /// chain to `root`, not debug, the manifest's PCRs, the manifest digest, our nonce, fresh),
    /// then decrypt our genesis share and re-encrypt it to the attested boot key, signed.
    pub fn submit_share(
        &self,
        manifest: &QuorumManifest,
        genesis_shares: &[EncryptedShare],
        attestation: &Attestation,
        check: &AttestationCheck,
    ) -> Result<SignedShare, HostError> {
        let digest = domain_digest(DOMAIN_MANIFEST, manifest).map_err(|e| config(e.to_string()))?;
        let boot_key = check.verify(attestation, manifest, &digest)?;
        let index = self.index_in(manifest)?;
        let share = genesis_shares
            .iter()
            .find(|s| s.operator == index)
            .ok_or_else(|| config("no genesis share for this operator"))?;
        let share = self.reencrypt(share, &digest, &boot_key)?;
        let submission = share_submission_digest(&boot_key, &digest, &share)
            .map_err(|e| config(e.to_string()))?;
        Ok(SignedShare {
            share,
            signature: self.approve(&submission)?,
        })
    }

    /// Signs a domain-separated digest (DER ECDSA P-256).
    pub fn approve(&self, digest: &[u8; 32]) -> Result<Vec<u8>, HostError> {
        let signature: Signature = self
            .signing
            .sign_prehash(digest)
            .map_err(|_| config("signing failed"))?;
        Ok(DerSignature::from(signature).as_bytes().to_vec())
    }
}

/// Writes `bytes` to a new owner-only file beside `path`, under a name of its own, synced; returns
/// that name. The first half of putting a file at `path` whole: readers never see it half written.
fn write_private_beside(path: &Path, bytes: &[u8]) -> Result<std::path::PathBuf, HostError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(
        ".{name}.{}.tmp",
        hex::encode(*random_bytes::<8>()?)
    ));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        });
    match written {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(config(format!("{}: {e}", tmp.display())))
        }
    }
}

/// Writes a file readable by its owner only, replacing any file at `path`.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), HostError> {
    let tmp = write_private_beside(path, bytes)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        config(format!("{}: {e}", path.display()))
    })
}

/// Writes a file readable by its owner only unless one is already at `path` (then `false`, and
/// nothing changed): of two processes publishing at once, one wins and the other can read it.
pub fn publish_private(path: &Path, bytes: &[u8]) -> Result<bool, HostError> {
    let tmp = write_private_beside(path, bytes)?;
    // A hard link, unlike a rename, never replaces its target.
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            // The new name is durable once its directory is.
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::File::open(dir)
                    .and_then(|d| d.sync_all())
                    .map_err(|e| config(format!("{}: {e}", dir.display())))?;
            }
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(config(format!("{}: {e}", path.display()))),
    }
}

/// What an operator requires of an enclave's attestation document before giving it a share.
#[derive(Debug)]
pub struct AttestationCheck {
    /// The root the document must chain to (AWS Nitro's, or a dev CA's).
    pub root: TrustAnchor,
    /// The nonce the operator asked the document to carry.
    pub nonce: Vec<u8>,
    /// Debug-mode enclaves (PCR0–2 zero) are refused unless this is set.
    pub allow_debug: bool,
    /// How old the document may be.
    pub max_age_secs: u64,
}

impl AttestationCheck {
    /// Verifies the document and returns the boot key it attests to.
    fn verify(
        &self,
        attestation: &Attestation,
        manifest: &QuorumManifest,
        manifest_digest: &[u8; 32],
    ) -> Result<Vec<u8>, HostError> {
        if manifest.pcrs.is_empty() {
            return Err(config(
                "the manifest names no PCRs, so no enclave can be trusted with a share",
            ));
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut policy = Policy::new(UnixTime::from_secs(now))
            .with_root(self.root.clone())
            .allow_debug(self.allow_debug)
            .expect_nonce(self.nonce.clone())
            .expect_user_data(manifest_digest.to_vec())
            .expect_public_key(attestation.boot_key.clone())
            .max_age_secs(self.max_age_secs);
        for pcr in &manifest.pcrs {
            policy = policy.expect_pcr(pcr.index, pcr.value.clone());
        }
        let verified = keyhold_attestation::verify(&attestation.document, &policy)
            .map_err(|e| config(format!("enclave attestation refused: {e}")))?;
        verified
            .public_key()
            .map(<[u8]>::to_vec)
            .ok_or_else(|| config("the document carries no boot key"))
    }
}
