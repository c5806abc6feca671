//! Provisioning messages: the quorum manifest, genesis, boot keys, shares, operator approvals,
//! and the domain separation both enclave and operators use when signing or encrypting them.

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
    /// Grows with every new manifest of a deployment; lets an enclave refuse an older one.
    pub nonce: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisRequest {
    pub manifest: QuorumManifest,
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

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisionRequest {
    pub manifest: QuorumManifest,
    pub manifest_signature: Vec<u8>,
    pub quorum_public_key: Vec<u8>,
    /// Shares re-encrypted by their operators to the enclave's [`BootKey`].
    pub shares: Vec<EncryptedShare>,
}

// ---- domain separation shared by enclave and operators -------------------------------------

/// HPKE `info` for a share encrypted to an operator at genesis.
pub const HPKE_INFO_OPERATOR_SHARE: &[u8] = b"keyhold/v1/operator-share";
/// HPKE `info` for a share re-encrypted by an operator to an enclave's boot key.
pub const HPKE_INFO_BOOT_SHARE: &[u8] = b"keyhold/v1/boot-share";

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
/// Domain of an operator's approval of an [`OrgBootstrapSpec`].
pub const DOMAIN_BOOTSTRAP_ORG: &[u8] = b"keyhold/v1/bootstrap-org";

/// The HPKE associated data that binds a share to its manifest and operator index.
pub fn share_aad(manifest_digest: &[u8; 32], operator: u8) -> Vec<u8> {
    let mut aad = manifest_digest.to_vec();
    aad.push(operator);
    aad
}
