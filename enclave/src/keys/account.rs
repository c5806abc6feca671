//! One account's key, whichever curve it is on, with its addresses and the signature scheme its
//! address format implies (Turnkey: Bitcoin P2TR → BIP-341 tweaked Schnorr; Ed25519 → EdDSA;
//! everything else ECDSA).

use std::fmt;

use ed25519_dalek::Signer as _;
use keyhold_shared::msg::{AddressFormat, BitcoinKind, Curve, RecoverableSignature};
use zeroize::Zeroizing;

use super::{Bip32Path, SeedMaterial};
use crate::chains::{address, bitcoin, ethereum};
use crate::error::{Error, Result};
use crate::secrets::random;

/// A private key; each variant zeroizes its secret on drop.
pub enum AccountKey {
    Secp256k1(k256::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
    P256(p256::ecdsa::SigningKey),
}

impl fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountKey")
            .field("curve", &self.curve())
            .finish_non_exhaustive()
    }
}

/// The public half of an [`AccountKey`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicKey {
    Secp256k1(k256::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
    P256(p256::ecdsa::VerifyingKey),
}

impl PublicKey {
    /// SEC1 compressed (33 bytes) or the 32-byte Ed25519 key.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            PublicKey::Secp256k1(k) => k.to_sec1_point(true).as_bytes().to_vec(),
            PublicKey::Ed25519(k) => k.to_bytes().to_vec(),
            PublicKey::P256(k) => k.to_sec1_point(true).as_bytes().to_vec(),
        }
    }

    pub fn curve(&self) -> Curve {
        match self {
            PublicKey::Secp256k1(_) => Curve::Secp256k1,
            PublicKey::Ed25519(_) => Curve::Ed25519,
            PublicKey::P256(_) => Curve::P256,
        }
    }

    pub fn address(&self, format: AddressFormat) -> Result<String> {
        address::derive(self, format)
    }
}

impl AccountKey {
    pub fn derive(seed: &SeedMaterial, curve: Curve, path: &Bip32Path) -> Result<Self> {
        Ok(match curve {
            Curve::Secp256k1 => AccountKey::Secp256k1(seed.derive_secp256k1(path)?),
            Curve::Ed25519 => AccountKey::Ed25519(seed.derive_ed25519(path)?),
            Curve::P256 => AccountKey::P256(seed.derive_p256(path)?),
        })
    }

    /// A fresh random key.
    pub fn generate(curve: Curve) -> Result<Self> {
        // A random 32-byte string is a valid secp256k1/P-256 scalar except with probability
        // ~2^-32; retry a bounded number of times.
        for _ in 0..16 {
            let secret = Zeroizing::new(random::<32>()?);
            if let Ok(key) = Self::from_secret(curve, &secret) {
                return Ok(key);
            }
        }
        Err(Error::Internal("key generation"))
    }

    pub fn from_secret(curve: Curve, secret: &[u8; 32]) -> Result<Self> {
        let bad = |_| Error::Unseal;
        Ok(match curve {
            Curve::Secp256k1 => {
                AccountKey::Secp256k1(k256::ecdsa::SigningKey::from_slice(secret).map_err(bad)?)
            }
            Curve::Ed25519 => AccountKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(secret)),
            Curve::P256 => {
                AccountKey::P256(p256::ecdsa::SigningKey::from_slice(secret).map_err(bad)?)
            }
        })
    }

    pub fn secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        match self {
            AccountKey::Secp256k1(k) => out.copy_from_slice(&k.to_bytes()),
            AccountKey::Ed25519(k) => out.copy_from_slice(k.as_bytes()),
            AccountKey::P256(k) => out.copy_from_slice(&k.to_bytes()),
        }
        out
    }

    pub fn curve(&self) -> Curve {
        match self {
            AccountKey::Secp256k1(_) => Curve::Secp256k1,
            AccountKey::Ed25519(_) => Curve::Ed25519,
            AccountKey::P256(_) => Curve::P256,
        }
    }

    pub fn public(&self) -> PublicKey {
        match self {
            AccountKey::Secp256k1(k) => PublicKey::Secp256k1(*k.verifying_key()),
            AccountKey::Ed25519(k) => PublicKey::Ed25519(k.verifying_key()),
            AccountKey::P256(k) => PublicKey::P256(*k.verifying_key()),
        }
    }

    pub fn address(&self, format: AddressFormat) -> Result<String> {
        self.public().address(format)
    }

    pub fn secp256k1(&self) -> Option<&k256::ecdsa::SigningKey> {
        match self {
            AccountKey::Secp256k1(k) => Some(k),
            _ => None,
        }
    }

    pub fn ed25519(&self) -> Option<&ed25519_dalek::SigningKey> {
        match self {
            AccountKey::Ed25519(k) => Some(k),
            _ => None,
        }
    }
}

/// How a key signs a raw payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// ECDSA over a 32-byte digest (secp256k1 or P-256), low `s`, with recovery id.
    Ecdsa,
    /// BIP-340 Schnorr under the BIP-341 tweaked key (Bitcoin P2TR accounts).
    TaprootSchnorr,
    /// Ed25519 over the message itself.
    EdDsa,
}

impl Scheme {
    pub fn for_key(curve: Curve, format: Option<AddressFormat>) -> Self {
        match (curve, format) {
            (Curve::Ed25519, _) => Scheme::EdDsa,
            (Curve::Secp256k1, Some(AddressFormat::Bitcoin(_, BitcoinKind::P2tr))) => {
                Scheme::TaprootSchnorr
            }
            _ => Scheme::Ecdsa,
        }
    }

    /// Whether this scheme signs a 32-byte digest (ECDSA, Schnorr) or the message (EdDSA).
    pub fn signs_digest(self) -> bool {
        !matches!(self, Scheme::EdDsa)
    }
}

/// Signs `message` (a 32-byte digest unless the scheme is EdDSA).
pub fn sign(key: &AccountKey, scheme: Scheme, message: &[u8]) -> Result<RecoverableSignature> {
    match (scheme, key) {
        (Scheme::EdDsa, AccountKey::Ed25519(k)) => {
            let signature = k.sign(message).to_bytes();
            let (r, s) = signature.split_at(32);
            Ok(RecoverableSignature {
                r: r.try_into().map_err(|_| Error::Internal("ed25519 r"))?,
                s: s.try_into().map_err(|_| Error::Internal("ed25519 s"))?,
                v: 0,
            })
        }
        (Scheme::Ecdsa, AccountKey::Secp256k1(k)) => ethereum::sign_digest(k, digest(message)?),
        (Scheme::Ecdsa, AccountKey::P256(k)) => sign_p256(k, digest(message)?),
        (Scheme::TaprootSchnorr, AccountKey::Secp256k1(k)) => {
            let tweaked = bitcoin::taproot_signing_key(k)?;
            let aux = Zeroizing::new(random::<32>()?);
            let signature = tweaked
                .sign_raw(digest(message)?, &aux)
                .map_err(|_| Error::Internal("schnorr signing"))?
                .to_bytes();
            let (r, s) = signature.split_at(32);
            Ok(RecoverableSignature {
                r: r.try_into().map_err(|_| Error::Internal("schnorr r"))?,
                s: s.try_into().map_err(|_| Error::Internal("schnorr s"))?,
                v: 0,
            })
        }
        _ => Err(Error::Internal("signature scheme does not match the key")),
    }
}

fn digest(message: &[u8]) -> Result<&[u8; 32]> {
    message
        .try_into()
        .map_err(|_| Error::invalid("this key signs a 32-byte digest"))
}

fn sign_p256(key: &p256::ecdsa::SigningKey, digest: &[u8; 32]) -> Result<RecoverableSignature> {
    let (signature, recovery) = key.sign_prehash_recoverable(digest);
    let mut v = recovery.to_byte();
    let normalized = signature.normalize_s();
    if normalized != signature {
        v ^= 1;
    }
    let (r, s) = normalized.split_bytes();
    Ok(RecoverableSignature {
        r: r.as_slice()
            .try_into()
            .map_err(|_| Error::Internal("signature r"))?,
        s: s.as_slice()
            .try_into()
            .map_err(|_| Error::Internal("signature s"))?,
        v,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scheme_verifies() {
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        let digest = [9u8; 32];
        let p = AccountKey::generate(Curve::P256).unwrap();
        let sig = sign(&p, Scheme::Ecdsa, &digest).unwrap();
        let PublicKey::P256(vk) = p.public() else {
            panic!()
        };
        let parsed = p256::ecdsa::Signature::from_scalars(sig.r, sig.s).unwrap();
        vk.verify_prehash(&digest, &parsed).unwrap();
        let recovered = p256::ecdsa::VerifyingKey::recover_from_prehash(
            &digest,
            &parsed,
            p256::ecdsa::RecoveryId::from_byte(sig.v).unwrap(),
        )
        .unwrap();
        assert_eq!(recovered, vk);

        let e = AccountKey::generate(Curve::Ed25519).unwrap();
        let sig = sign(&e, Scheme::EdDsa, b"any length message").unwrap();
        let PublicKey::Ed25519(vk) = e.public() else {
            panic!()
        };
        let mut bytes = [0u8; 64];
        bytes[..32].copy_from_slice(&sig.r);
        bytes[32..].copy_from_slice(&sig.s);
        vk.verify_strict(
            b"any length message",
            &ed25519_dalek::Signature::from_bytes(&bytes),
        )
        .unwrap();

        // the wrong pairing is an error, not a panic
        assert!(sign(&e, Scheme::Ecdsa, &digest).is_err());
        assert!(sign(&p, Scheme::Ecdsa, b"short").is_err());
    }

    #[test]
    fn secrets_round_trip() {
        for curve in Curve::ALL {
            let key = AccountKey::generate(curve).unwrap();
            let back = AccountKey::from_secret(curve, &key.secret_bytes()).unwrap();
            assert_eq!(back.public(), key.public());
            assert!(!format!("{key:?}").contains(&hex::encode(*key.secret_bytes())));
        }
    }
}
