//! The one HPKE suite used for quorum shares: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
//! ChaCha20-Poly1305 (RFC 9180, base mode).

use std::fmt;

use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem, OpModeR, OpModeS, Serializable};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

type PrivateKey = <X25519HkdfSha256 as Kem>::PrivateKey;
type PublicKey = <X25519HkdfSha256 as Kem>::PublicKey;
type EncappedKey = <X25519HkdfSha256 as Kem>::EncappedKey;

/// An HPKE key pair whose private half never leaves the enclave (the boot key).
pub struct HpkeKeyPair {
    private: PrivateKey,
    public: PublicKey,
}

impl HpkeKeyPair {
    pub fn generate() -> Result<Self> {
        let ikm = crate::secrets::random_secret::<32>()?;
        let (private, public) = X25519HkdfSha256::derive_keypair(ikm.as_ref());
        Ok(HpkeKeyPair { private, public })
    }

    pub fn public_bytes(&self) -> Vec<u8> {
        self.public.to_bytes().to_vec()
    }

    pub fn open(
        &self,
        encapped_key: &[u8],
        info: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let encapped = EncappedKey::from_bytes(encapped_key).map_err(|_| Error::Unseal)?;
        hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
            &OpModeR::Base,
            &self.private,
            &encapped,
            info,
            ciphertext,
            aad,
        )
        .map(Zeroizing::new)
        .map_err(|_| Error::Unseal)
    }
}

impl fmt::Debug for HpkeKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HpkeKeyPair").finish_non_exhaustive()
    }
}

/// Encrypts to a recipient's public key; returns (encapsulated key, ciphertext).
pub fn seal_to(
    public_key: &[u8],
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<(Vec<u8>, Vec<u8>)> {
    let public = PublicKey::from_bytes(public_key)
        .map_err(|_| Error::invalid("operator encryption key is not an X25519 public key"))?;
    let (encapped, ciphertext) = hpke::single_shot_seal::<
        ChaCha20Poly1305,
        HkdfSha256,
        X25519HkdfSha256,
    >(&OpModeS::Base, &public, info, plaintext, aad)
    .map_err(|_| Error::Internal("hpke seal"))?;
    Ok((encapped.to_bytes().to_vec(), ciphertext))
}
