//! Sealing: XChaCha20-Poly1305 under keys derived from the quorum key, with associated data that
//! binds each blob to what it is (org state or seed) and whose it is (org id, wallet id,
//! version). A blob moved to another organization, wallet or version fails to open.

use std::fmt;

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use keyhold_shared::{OrgId, WalletId};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::secrets::{QuorumKey, random};

/// An AEAD key for one kind of sealed blob.
pub struct SealKey(Zeroizing<[u8; 32]>);

impl SealKey {
    pub fn derive(quorum: &QuorumKey, label: &[u8]) -> Result<Self> {
        Ok(SealKey(quorum.derive(label)?))
    }

    fn cipher(&self) -> Result<XChaCha20Poly1305> {
        XChaCha20Poly1305::new_from_slice(self.0.as_ref()).map_err(|_| Error::Internal("seal key"))
    }

    /// Encrypts `plaintext`; returns a fresh random nonce and the ciphertext (with tag).
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<([u8; 24], Vec<u8>)> {
        let nonce: [u8; 24] = random()?;
        let mut buffer = plaintext.to_vec();
        self.cipher()?
            .encrypt_in_place(&XNonce::from(nonce), aad, &mut buffer)
            .map_err(|_| Error::Internal("seal"))?;
        Ok((nonce, buffer))
    }

    /// Decrypts into zeroizing memory. Any failure is the same opaque [`Error::Unseal`].
    pub fn open(
        &self,
        nonce: &[u8; 24],
        ciphertext: &[u8],
        aad: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let mut buffer = Zeroizing::new(ciphertext.to_vec());
        self.cipher()?
            .decrypt_in_place(&XNonce::from(*nonce), aad, &mut *buffer)
            .map_err(|_| Error::Unseal)?;
        Ok(buffer)
    }
}

impl fmt::Debug for SealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealKey").finish_non_exhaustive()
    }
}

/// Associated data of a sealed organization state.
pub fn org_state_aad(org: &OrgId, version: u64) -> Vec<u8> {
    let mut aad = b"keyhold/v1/org-state".to_vec();
    aad.extend_from_slice(org.0.as_bytes());
    aad.extend_from_slice(&version.to_be_bytes());
    aad
}

/// Associated data of the second organization state format (users with tags, policies, …).
pub fn org_state_aad_v2(org: &OrgId, version: u64) -> Vec<u8> {
    let mut aad = b"keyhold/v2/org-state".to_vec();
    aad.extend_from_slice(org.0.as_bytes());
    aad.extend_from_slice(&version.to_be_bytes());
    aad
}

/// Associated data of a sealed organization state in the current format (users with passkeys,
/// the spending ledger); [`org_state_aad_v2`] and [`org_state_aad`] mark older formats, still opened.
pub fn org_state_aad_v3(org: &OrgId, version: u64) -> Vec<u8> {
    let mut aad = b"keyhold/v3/org-state".to_vec();
    aad.extend_from_slice(org.0.as_bytes());
    aad.extend_from_slice(&version.to_be_bytes());
    aad
}

/// Associated data of the fourth organization-state format (the third plus private key tags).
pub fn org_state_aad_v4(org: &OrgId, version: u64) -> Vec<u8> {
    let mut aad = b"keyhold/v4/org-state".to_vec();
    aad.extend_from_slice(org.0.as_bytes());
    aad.extend_from_slice(&version.to_be_bytes());
    aad
}

/// Associated data of the fifth organization-state format (the fourth plus organization
/// features and smart contract interfaces).
pub fn org_state_aad_v5(org: &OrgId, version: u64) -> Vec<u8> {
    let mut aad = b"keyhold/v5/org-state".to_vec();
    aad.extend_from_slice(org.0.as_bytes());
    aad.extend_from_slice(&version.to_be_bytes());
    aad
}

/// Associated data of a deleted organization's tombstone ([`crate::org::OrgSealer::seal`]): a
/// label of its own, so no tombstone can be opened as a live state of any format.
pub fn org_tombstone_aad(org: &OrgId, version: u64) -> Vec<u8> {
    let mut aad = b"keyhold/v1/org-tombstone".to_vec();
    aad.extend_from_slice(org.0.as_bytes());
    aad.extend_from_slice(&version.to_be_bytes());
    aad
}

/// Associated data of a sealed wallet seed.
pub fn seed_aad(org: &OrgId, wallet: &WalletId) -> Vec<u8> {
    let mut aad = b"keyhold/v1/wallet-seed".to_vec();
    aad.extend_from_slice(org.0.as_bytes());
    aad.extend_from_slice(wallet.0.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyhold_shared::Uuid;

    fn key() -> SealKey {
        SealKey::derive(&QuorumKey::generate().unwrap(), b"test").unwrap()
    }

    #[test]
    fn round_trip_and_binding() {
        let key = key();
        let org = OrgId(Uuid::from_bytes([1; 16]));
        let other = OrgId(Uuid::from_bytes([2; 16]));
        let (nonce, ct) = key.seal(b"secret", &org_state_aad(&org, 3)).unwrap();
        assert_eq!(
            key.open(&nonce, &ct, &org_state_aad(&org, 3))
                .unwrap()
                .as_slice(),
            b"secret"
        );
        // another org, another version, another kind, a flipped bit: all the same opaque error
        assert!(matches!(
            key.open(&nonce, &ct, &org_state_aad(&other, 3)),
            Err(Error::Unseal)
        ));
        assert!(matches!(
            key.open(&nonce, &ct, &org_state_aad(&org, 4)),
            Err(Error::Unseal)
        ));
        let wallet = WalletId(Uuid::from_bytes([1; 16]));
        assert!(matches!(
            key.open(&nonce, &ct, &seed_aad(&org, &wallet)),
            Err(Error::Unseal)
        ));
        let mut flipped = ct.clone();
        flipped[0] ^= 1;
        assert!(matches!(
            key.open(&nonce, &flipped, &org_state_aad(&org, 3)),
            Err(Error::Unseal)
        ));
        // a different quorum key cannot open it
        assert!(matches!(
            self::key().open(&nonce, &ct, &org_state_aad(&org, 3)),
            Err(Error::Unseal)
        ));
    }
}
