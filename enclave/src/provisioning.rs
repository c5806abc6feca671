//! The quorum key's life: genesis (create, split, encrypt shares to operators) and boot (receive
//! shares re-encrypted to this enclave's boot key, reconstruct, check against the quorum public
//! key and the manifest signature). Anything that does not check out leaves the enclave
//! unprovisioned: it fails closed.
//!
//! Shares: a K-of-N Shamir split over GF(256) arrives with the attestation issue; today the
//! threshold must be 1, where every operator's share is the key itself (a degree-0 polynomial).
//! The messages already carry operator indices, thresholds and a manifest, so K-of-N fits.

use keyhold_shared::msg::{
    DOMAIN_MANIFEST, EncryptedShare, GenesisOutput, HPKE_INFO_BOOT_SHARE, HPKE_INFO_OPERATOR_SHARE,
    ProvisionRequest, QuorumManifest, domain_digest, share_aad,
};
use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use p256::ecdsa::{DerSignature, Signature, VerifyingKey};
use zeroize::Zeroizing;

use crate::enclave::Keys;
use crate::error::{Error, Result};
use crate::hpke_suite::{HpkeKeyPair, seal_to};
use crate::secrets::QuorumKey;

const MAX_OPERATORS: usize = 16;
const SHARE_LEN: usize = 2 + 32;

pub fn manifest_digest(manifest: &QuorumManifest) -> Result<[u8; 32]> {
    domain_digest(DOMAIN_MANIFEST, manifest).map_err(|_| Error::Internal("encode manifest"))
}

fn check_manifest(manifest: &QuorumManifest) -> Result<()> {
    let n = manifest.operators.len();
    if n == 0 || n > MAX_OPERATORS {
        return Err(Error::invalid(format!(
            "a manifest needs 1 to {MAX_OPERATORS} operators"
        )));
    }
    if manifest.threshold == 0 || usize::from(manifest.threshold) > n {
        return Err(Error::invalid(
            "threshold must be between 1 and the number of operators",
        ));
    }
    if manifest.threshold > 1 {
        return Err(Error::Unsupported(
            "a quorum threshold above 1 (Shamir K-of-N arrives with provisioning)".into(),
        ));
    }
    for op in &manifest.operators {
        VerifyingKey::from_sec1_bytes(&op.signing_key)
            .map_err(|_| Error::invalid("operator signing key is not a P-256 point"))?;
        if op.encryption_key.len() != 32 {
            return Err(Error::invalid(
                "operator encryption key must be 32 bytes (X25519)",
            ));
        }
    }
    Ok(())
}

/// Share plaintext: operator index, threshold, the share value.
fn encode_share(index: u8, threshold: u8, value: &[u8; 32]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(SHARE_LEN));
    out.push(index);
    out.push(threshold);
    out.extend_from_slice(value);
    out
}

/// Creates a quorum key for `manifest` and encrypts one share to each operator.
pub fn genesis(manifest: &QuorumManifest) -> Result<(Keys, GenesisOutput)> {
    check_manifest(manifest)?;
    let quorum = QuorumKey::generate()?;
    let keys = Keys::derive(&quorum, manifest.clone())?;
    let digest = manifest_digest(manifest)?;
    let signature: Signature = keys
        .signing
        .sign_prehash(&digest)
        .map_err(|_| Error::Internal("sign manifest"))?;
    let mut shares = Vec::with_capacity(manifest.operators.len());
    for (index, op) in manifest.operators.iter().enumerate() {
        let index = u8::try_from(index).map_err(|_| Error::Internal("operator index"))?;
        let plaintext = encode_share(index, manifest.threshold, quorum.expose());
        let (encapped_key, ciphertext) = seal_to(
            &op.encryption_key,
            HPKE_INFO_OPERATOR_SHARE,
            &share_aad(&digest, index),
            &plaintext,
        )?;
        shares.push(EncryptedShare {
            operator: index,
            encapped_key,
            ciphertext,
        });
    }
    let output = GenesisOutput {
        quorum_public_key: keys.quorum_public_key.clone(),
        manifest_signature: DerSignature::from(signature).as_bytes().to_vec(),
        shares,
    };
    Ok((keys, output))
}

/// Reconstructs the quorum key from shares encrypted to `boot_key` and checks it.
pub fn provision(request: &ProvisionRequest, boot_key: &HpkeKeyPair) -> Result<Keys> {
    check_manifest(&request.manifest)?;
    let digest = manifest_digest(&request.manifest)?;
    let mut key: Option<Zeroizing<[u8; 32]>> = None;
    for share in &request.shares {
        if usize::from(share.operator) >= request.manifest.operators.len() {
            return Err(Error::Provisioning(
                "share names an operator outside the manifest",
            ));
        }
        let plaintext = boot_key
            .open(
                &share.encapped_key,
                HPKE_INFO_BOOT_SHARE,
                &share_aad(&digest, share.operator),
                &share.ciphertext,
            )
            .map_err(|_| {
                Error::Provisioning("a share does not decrypt with this enclave's boot key")
            })?;
        let (header, value) = plaintext
            .split_at_checked(2)
            .ok_or(Error::Provisioning("malformed share"))?;
        if header != [share.operator, request.manifest.threshold] {
            return Err(Error::Provisioning(
                "share belongs to another operator or threshold",
            ));
        }
        let value: [u8; 32] = value
            .try_into()
            .map_err(|_| Error::Provisioning("malformed share"))?;
        key = Some(Zeroizing::new(value));
    }
    let key = key.ok_or(Error::Provisioning("no shares"))?;
    let keys = Keys::derive(&QuorumKey::from_bytes(key), request.manifest.clone())?;
    if keys.quorum_public_key != request.quorum_public_key {
        return Err(Error::Provisioning(
            "reconstructed key does not match the quorum public key",
        ));
    }
    let signature = Signature::from_der(&request.manifest_signature)
        .map_err(|_| Error::Provisioning("malformed manifest signature"))?;
    keys.signing
        .verifying_key()
        .verify_prehash(&digest, &signature)
        .map_err(|_| Error::Provisioning("manifest is not signed by the quorum key"))?;
    Ok(keys)
}
