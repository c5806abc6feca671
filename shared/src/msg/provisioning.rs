//! Provisioning messages: the quorum manifest, genesis, attestation, shares, key forwarding,
//! and the domain separation both enclave and operators use when signing or encrypting them.
//!
//! The flow (DESIGN.md, "Quorum key and provisioning"):
//! - **genesis**: K operators approve a [`QuorumManifest`]; the enclave creates the quorum key,
//!   splits it K-of-N and encrypts share *i* to operator *i* ([`GenesisOutput`]).
//! - **boot**: a fresh enclave stages the manifest and attests to its boot key and the manifest
//!   digest ([`AttestRequest`] → [`Attestation`]); each operator verifies that document, decrypts
//!   its share and re-encrypts it to the boot key, signed ([`SignedShare`]); after K valid shares
//!   the enclave reconstructs the key and checks it against the quorum public key.
//! - **forwarding**: a provisioned enclave verifies another enclave's attestation (same manifest,
//!   expected PCRs) and hands it the quorum key encrypted to its boot key ([`ForwardedKey`]).

use serde::{Deserialize, Serialize};

/// One operator: an HPKE key its share is encrypted to and a P-256 key it signs approvals with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorKey {
    /// X25519 public key (32 bytes) for HPKE (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305).
    pub encryption_key: Vec<u8>,
    /// P-256 public key, SEC1 compressed (33 bytes).
    pub signing_key: Vec<u8>,
}

/// What a deployment's quorum is. Signed by the quorum key at genesis, so a later boot can check
/// that the operator set it is given is the one the key was split for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuorumManifest {
    pub operators: Vec<OperatorKey>,
    pub threshold: u8,
    /// Grows with every new manifest of a deployment; operators refuse to approve a lower one.
    pub nonce: u64,
    /// The measurements an enclave must attest to before it is given a share or the key.
    pub pcrs: Vec<Pcr>,
}

/// An expected platform configuration register value (SHA-384, 48 bytes on Nitro).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pcr {
    pub index: u8,
    pub value: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisRequest {
    pub manifest: QuorumManifest,
    /// At least `threshold` operators' signatures over the manifest ([`DOMAIN_MANIFEST_APPROVAL`]).
    pub approvals: Vec<super::OperatorApproval>,
}

/// A share encrypted with HPKE to one recipient (an operator at genesis, the boot key at boot).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptedShare {
    /// Index of the operator in the manifest.
    pub operator: u8,
    /// HPKE encapsulated key.
    pub encapped_key: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisOutput {
    pub quorum_public_key: Vec<u8>,
    /// DER ECDSA P-256 signature by the quorum key over the manifest (see `manifest_digest`).
    pub manifest_signature: Vec<u8>,
    pub shares: Vec<EncryptedShare>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootKey {
    /// X25519 HPKE public key, fresh at every enclave start; the private half never leaves it.
    pub public_key: Vec<u8>,
}

/// Ask for an attestation document. With `manifest`, an unprovisioned enclave stages it for
/// provisioning and attests to its digest (in `user_data`); a provisioned one attests to the
/// digest of the manifest it runs under.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestRequest {
    /// Caller-chosen freshness nonce, at most [`MAX_NONCE_LEN`] bytes.
    pub nonce: Vec<u8>,
    pub manifest: Option<QuorumManifest>,
}

pub const MAX_NONCE_LEN: usize = 512;

/// An attestation document (AWS Nitro format: COSE_Sign1 over CBOR) binding the boot key
/// (`public_key`), the staged manifest's digest (`user_data`) and the caller's nonce.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attestation {
    pub document: Vec<u8>,
    pub boot_key: Vec<u8>,
}

/// A share re-encrypted by its operator to an enclave's boot key, and the operator's P-256
/// signature over [`share_submission_digest`], so only the manifest's operators can feed shares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedShare {
    pub share: EncryptedShare,
    pub signature: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisionRequest {
    pub manifest: QuorumManifest,
    pub manifest_signature: Vec<u8>,
    pub quorum_public_key: Vec<u8>,
    /// Shares re-encrypted by their operators to the enclave's [`BootKey`]; they may arrive over
    /// several requests, the enclave counts them until the threshold.
    pub shares: Vec<SignedShare>,
}

/// Asks a provisioned enclave to hand its quorum key to the enclave that made `attestation`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardRequest {
    pub attestation: Vec<u8>,
    /// The nonce the target's document must carry.
    pub nonce: Vec<u8>,
}

/// The quorum key encrypted to the target's boot key, signed by the quorum signing key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardedKey {
    pub encapped_key: Vec<u8>,
    pub ciphertext: Vec<u8>,
    pub signature: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptForwardRequest {
    pub manifest: QuorumManifest,
    pub manifest_signature: Vec<u8>,
    pub quorum_public_key: Vec<u8>,
    pub forwarded: ForwardedKey,
}

// ---- domain separation shared by enclave and operators -------------------------------------

/// HPKE `info` for a share encrypted to an operator at genesis.
pub const HPKE_INFO_OPERATOR_SHARE: &[u8] = b"keyhold/v1/operator-share";
/// HPKE `info` for a share re-encrypted by an operator to an enclave's boot key.
pub const HPKE_INFO_BOOT_SHARE: &[u8] = b"keyhold/v1/boot-share";
/// HPKE `info` for the quorum key forwarded from one enclave to another.
pub const HPKE_INFO_FORWARD: &[u8] = b"keyhold/v1/forwarded-quorum-key";

/// SHA-256 over a domain tag and the postcard encoding of `value`: what operators and the quorum
/// key sign, so a signature for one purpose can never be replayed for another.
pub fn domain_digest<T: Serialize>(domain: &[u8], value: &T) -> Result<[u8; 32], postcard::Error> {
    use sha2::Digest;
    let encoded = postcard::to_allocvec(value)?;
    let mut hasher = sha2::Sha256::new();
    hasher.update((domain.len() as u64).to_be_bytes());
    hasher.update(domain);
    hasher.update(&encoded);
    Ok(hasher.finalize().into())
}

/// Domain of the quorum key's signature over a [`QuorumManifest`].
pub const DOMAIN_MANIFEST: &[u8] = b"keyhold/v1/quorum-manifest";
/// Domain of an operator's approval of a [`QuorumManifest`] at genesis.
pub const DOMAIN_MANIFEST_APPROVAL: &[u8] = b"keyhold/v1/manifest-approval";
/// Domain of an operator's signature over a share it submits to a boot key.
pub const DOMAIN_SHARE_SUBMISSION: &[u8] = b"keyhold/v1/share-submission";
/// Domain of the quorum key's signature over a forwarded key.
pub const DOMAIN_FORWARD: &[u8] = b"keyhold/v1/forwarded-key";
/// Domain of an operator's approval of an [`super::OrgBootstrapSpec`].
pub const DOMAIN_BOOTSTRAP_ORG: &[u8] = b"keyhold/v1/bootstrap-org";

/// The HPKE associated data that binds a share to its manifest and operator index.
pub fn share_aad(manifest_digest: &[u8; 32], operator: u8) -> Vec<u8> {
    let mut aad = manifest_digest.to_vec();
    aad.push(operator);
    aad
}

/// What an operator signs when it submits a share: the boot key it encrypted to, the manifest,
/// and the encrypted share itself.
pub fn share_submission_digest(
    boot_key: &[u8],
    manifest_digest: &[u8; 32],
    share: &EncryptedShare,
) -> Result<[u8; 32], postcard::Error> {
    domain_digest(DOMAIN_SHARE_SUBMISSION, &(boot_key, manifest_digest, share))
}

/// What the quorum key signs when it forwards itself: the target's boot key and the ciphertext.
pub fn forward_digest(
    boot_key: &[u8],
    manifest_digest: &[u8; 32],
    encapped_key: &[u8],
    ciphertext: &[u8],
) -> Result<[u8; 32], postcard::Error> {
    domain_digest(
        DOMAIN_FORWARD,
        &(boot_key, manifest_digest, encapped_key, ciphertext),
    )
}
