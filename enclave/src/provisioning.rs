//! The quorum key's life: genesis (create, split K-of-N, encrypt shares to operators), boot
//! (collect shares re-encrypted to this enclave's boot key, reconstruct, check against the quorum
//! public key and the manifest signature) and forwarding (hand the key to another attested
//! enclave of the same manifest, or take it from one). Anything that does not check out leaves
//! the enclave unprovisioned: it fails closed.

use std::collections::BTreeMap;

use keyhold_shared::msg::{
    AcceptForwardRequest, DOMAIN_MANIFEST, DOMAIN_MANIFEST_APPROVAL, EncryptedShare,
    ForwardRequest, ForwardedKey, GenesisOutput, GenesisRequest, HPKE_INFO_BOOT_SHARE,
    HPKE_INFO_FORWARD, HPKE_INFO_OPERATOR_SHARE, OperatorApproval, QuorumManifest, SignedShare,
    domain_digest, forward_digest, share_aad, share_submission_digest,
};
use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use p256::ecdsa::{DerSignature, Signature, VerifyingKey};
use zeroize::Zeroizing;

use crate::attestation::Attester;
use crate::enclave::Keys;
use crate::error::{Error, Result};
use crate::hpke_suite::{HpkeKeyPair, seal_to};
use crate::secrets::QuorumKey;
use crate::shamir;

const MAX_OPERATORS: usize = 16;
const MAX_PCRS: usize = 32;

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
    if manifest.pcrs.len() > MAX_PCRS || manifest.pcrs.iter().any(|p| p.value.len() > 64) {
        return Err(Error::invalid("too many or too long PCRs in the manifest"));
    }
    for (i, op) in manifest.operators.iter().enumerate() {
        VerifyingKey::from_sec1_bytes(&op.signing_key)
            .map_err(|_| Error::invalid("operator signing key is not a P-256 point"))?;
        if op.encryption_key.len() != 32 {
            return Err(Error::invalid(
                "operator encryption key must be 32 bytes (X25519)",
            ));
        }
        if manifest
            .operators
            .iter()
            .skip(i + 1)
            .any(|other| other.signing_key == op.signing_key)
        {
            return Err(Error::invalid("an operator appears twice in the manifest"));
        }
    }
    Ok(())
}

/// Counts distinct operators of `manifest` whose signature over `digest` verifies.
pub fn count_approvals(
    manifest: &QuorumManifest,
    digest: &[u8; 32],
    approvals: &[OperatorApproval],
) -> Result<usize> {
    let mut approvers: Vec<u8> = Vec::new();
    for approval in approvals {
        let operator = manifest
            .operators
            .get(usize::from(approval.operator))
            .ok_or(Error::PermissionDenied(
                "approval from an operator outside the manifest",
            ))?;
        let key = VerifyingKey::from_sec1_bytes(&operator.signing_key)
            .map_err(|_| Error::Internal("operator key"))?;
        let signature = Signature::from_der(&approval.signature)
            .map_err(|_| Error::PermissionDenied("malformed operator approval"))?;
        key.verify_prehash(digest, &signature)
            .map_err(|_| Error::PermissionDenied("operator approval does not verify"))?;
        if !approvers.contains(&approval.operator) {
            approvers.push(approval.operator);
        }
    }
    Ok(approvers.len())
}

/// Creates a quorum key for an approved manifest and encrypts one Shamir share to each operator.
pub fn genesis(request: &GenesisRequest) -> Result<(Keys, GenesisOutput)> {
    let manifest = &request.manifest;
    check_manifest(manifest)?;
    let approval_digest = domain_digest(DOMAIN_MANIFEST_APPROVAL, manifest)
        .map_err(|_| Error::Internal("encode manifest"))?;
    if count_approvals(manifest, &approval_digest, &request.approvals)?
        < usize::from(manifest.threshold)
    {
        return Err(Error::PermissionDenied(
            "genesis needs approvals from at least `threshold` operators",
        ));
    }
    split_for(QuorumKey::generate()?, manifest)
}

/// Moves a provisioned deployment to a new manifest: approved by `threshold` operators of the
/// *current* manifest, with a larger nonce (so an old manifest — say, pinning the PCRs of a
/// vulnerable build — can never be reinstated). The key stays; it is re-split and re-signed.
pub fn update_manifest(keys: &Keys, request: &GenesisRequest) -> Result<(Keys, GenesisOutput)> {
    let current = &keys.manifest;
    let next = &request.manifest;
    check_manifest(next)?;
    if next.nonce <= current.nonce {
        return Err(Error::PermissionDenied(
            "a new manifest must have a larger nonce than the current one",
        ));
    }
    let approval_digest = domain_digest(DOMAIN_MANIFEST_APPROVAL, next)
        .map_err(|_| Error::Internal("encode manifest"))?;
    if count_approvals(current, &approval_digest, &request.approvals)?
        < usize::from(current.threshold)
    {
        return Err(Error::PermissionDenied(
            "a manifest update needs approvals from `threshold` operators of the current manifest",
        ));
    }
    split_for(
        QuorumKey::from_bytes(Zeroizing::new(*keys.quorum.expose())),
        next,
    )
}

/// Derives the keys for `manifest`, signs it with the quorum key and encrypts one share of the
/// key to each of its operators.
fn split_for(quorum: QuorumKey, manifest: &QuorumManifest) -> Result<(Keys, GenesisOutput)> {
    let keys = Keys::derive(&quorum, manifest.clone())?;
    let digest = manifest_digest(manifest)?;
    let signature: Signature = keys
        .signing
        .sign_prehash(&digest)
        .map_err(|_| Error::Internal("sign manifest"))?;
    let shares = shamir::split(
        quorum.expose(),
        manifest.threshold,
        manifest.operators.len(),
    )?;
    let mut encrypted = Vec::with_capacity(shares.len());
    for (index, (op, share)) in manifest.operators.iter().zip(shares.iter()).enumerate() {
        let index = u8::try_from(index).map_err(|_| Error::Internal("operator index"))?;
        let (encapped_key, ciphertext) = seal_to(
            &op.encryption_key,
            HPKE_INFO_OPERATOR_SHARE,
            &share_aad(&digest, index),
            share,
        )?;
        encrypted.push(EncryptedShare {
            operator: index,
            encapped_key,
            ciphertext,
        });
    }
    let output = GenesisOutput {
        quorum_public_key: keys.quorum_public_key.clone(),
        manifest_signature: DerSignature::from(signature).as_bytes().to_vec(),
        shares: encrypted,
    };
    Ok((keys, output))
}

/// Shares collected so far for the manifest staged at boot.
#[derive(Debug, Default)]
pub struct Pending {
    manifest_digest: Option<[u8; 32]>,
    shares: BTreeMap<u8, Zeroizing<Vec<u8>>>,
}

impl Pending {
    /// Stages `manifest` (from an attestation request). Changing the manifest drops any shares
    /// collected for another one.
    pub fn stage(&mut self, manifest: &QuorumManifest) -> Result<[u8; 32]> {
        check_manifest(manifest)?;
        let digest = manifest_digest(manifest)?;
        if self.manifest_digest != Some(digest) {
            self.shares.clear();
            self.manifest_digest = Some(digest);
        }
        Ok(digest)
    }

    pub fn received(&self) -> u8 {
        u8::try_from(self.shares.len()).unwrap_or(u8::MAX)
    }

    /// Adds shares; returns the keys once `threshold` valid shares are in.
    pub fn add(
        &mut self,
        manifest: &QuorumManifest,
        manifest_signature: &[u8],
        quorum_public_key: &[u8],
        shares: &[SignedShare],
        boot_key: &HpkeKeyPair,
    ) -> Result<Option<Keys>> {
        check_manifest(manifest)?;
        let digest = manifest_digest(manifest)?;
        if self.manifest_digest != Some(digest) {
            return Err(Error::Provisioning(
                "shares for a manifest this enclave has not attested to",
            ));
        }
        let boot_public = boot_key.public_bytes();
        for signed in shares {
            let share = &signed.share;
            let operator =
                manifest
                    .operators
                    .get(usize::from(share.operator))
                    .ok_or(Error::Provisioning(
                        "share names an operator outside the manifest",
                    ))?;
            if self.shares.contains_key(&share.operator) {
                return Err(Error::Provisioning(
                    "this operator's share was already received",
                ));
            }
            let submission = share_submission_digest(&boot_public, &digest, share)
                .map_err(|_| Error::Internal("encode share"))?;
            let key = VerifyingKey::from_sec1_bytes(&operator.signing_key)
                .map_err(|_| Error::Internal("operator key"))?;
            let signature = Signature::from_der(&signed.signature)
                .map_err(|_| Error::Provisioning("malformed share signature"))?;
            key.verify_prehash(&submission, &signature)
                .map_err(|_| Error::Provisioning("share is not signed by its operator"))?;
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
            self.shares.insert(share.operator, plaintext);
        }
        if self.shares.len() < usize::from(manifest.threshold) {
            return Ok(None);
        }
        let collected: Vec<&[u8]> = self.shares.values().map(|s| s.as_slice()).collect();
        let secret = shamir::combine(&collected)?;
        let keys = Keys::derive(&QuorumKey::from_bytes(secret), manifest.clone());
        // Whatever happens next, these shares are spent.
        self.shares.clear();
        let keys = keys?;
        check_keys(&keys, quorum_public_key, &digest, manifest_signature)?;
        Ok(Some(keys))
    }
}

/// The reconstructed (or forwarded) key must be the deployment's, and must have signed the
/// manifest it came with.
fn check_keys(
    keys: &Keys,
    quorum_public_key: &[u8],
    digest: &[u8; 32],
    manifest_signature: &[u8],
) -> Result<()> {
    if keys.quorum_public_key != quorum_public_key {
        return Err(Error::Provisioning(
            "reconstructed key does not match the quorum public key",
        ));
    }
    let signature = Signature::from_der(manifest_signature)
        .map_err(|_| Error::Provisioning("malformed manifest signature"))?;
    keys.signing
        .verifying_key()
        .verify_prehash(digest, &signature)
        .map_err(|_| Error::Provisioning("manifest is not signed by the quorum key"))
}

/// (Provisioned side.) Verifies the target's attestation and encrypts the quorum key to it.
pub fn forward(
    keys: &Keys,
    quorum: &QuorumKey,
    attester: &Attester,
    request: &ForwardRequest,
) -> Result<ForwardedKey> {
    let digest = manifest_digest(&keys.manifest)?;
    let verified = attester.verify_peer(
        &request.attestation,
        &request.nonce,
        &digest,
        &keys.manifest.pcrs,
    )?;
    let boot_key = verified.public_key().ok_or(Error::Provisioning(
        "the other enclave attested to no boot key",
    ))?;
    let (encapped_key, ciphertext) =
        seal_to(boot_key, HPKE_INFO_FORWARD, &digest, quorum.expose())?;
    let to_sign = forward_digest(boot_key, &digest, &encapped_key, &ciphertext)
        .map_err(|_| Error::Internal("encode"))?;
    let signature: Signature = keys
        .signing
        .sign_prehash(&to_sign)
        .map_err(|_| Error::Internal("sign forward"))?;
    tracing::info!("quorum key forwarded to an attested enclave");
    Ok(ForwardedKey {
        encapped_key,
        ciphertext,
        signature: DerSignature::from(signature).as_bytes().to_vec(),
    })
}

/// (Fresh side.) Takes a forwarded key for the manifest this enclave staged and attested to.
pub fn accept_forward(
    pending: &Pending,
    request: &AcceptForwardRequest,
    boot_key: &HpkeKeyPair,
) -> Result<Keys> {
    check_manifest(&request.manifest)?;
    let digest = manifest_digest(&request.manifest)?;
    if pending.manifest_digest != Some(digest) {
        return Err(Error::Provisioning(
            "a key for a manifest this enclave has not attested to",
        ));
    }
    let forwarded = &request.forwarded;
    let plaintext = boot_key
        .open(
            &forwarded.encapped_key,
            HPKE_INFO_FORWARD,
            &digest,
            &forwarded.ciphertext,
        )
        .map_err(|_| {
            Error::Provisioning("the forwarded key does not decrypt with this enclave's boot key")
        })?;
    let secret: [u8; 32] = plaintext
        .as_slice()
        .try_into()
        .map_err(|_| Error::Provisioning("malformed forwarded key"))?;
    let keys = Keys::derive(
        &QuorumKey::from_bytes(Zeroizing::new(secret)),
        request.manifest.clone(),
    )?;
    check_keys(
        &keys,
        &request.quorum_public_key,
        &digest,
        &request.manifest_signature,
    )?;
    let to_verify = forward_digest(
        &boot_key.public_bytes(),
        &digest,
        &forwarded.encapped_key,
        &forwarded.ciphertext,
    )
    .map_err(|_| Error::Internal("encode"))?;
    let signature = Signature::from_der(&forwarded.signature)
        .map_err(|_| Error::Provisioning("malformed forward signature"))?;
    keys.signing
        .verifying_key()
        .verify_prehash(&to_verify, &signature)
        .map_err(|_| Error::Provisioning("forwarded key is not signed by the quorum key"))?;
    Ok(keys)
}
