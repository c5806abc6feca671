//! The signature schemes of Turnkey's `X-Stamp` (../shared/reference/turnkey-api.md §2.1), each
//! over the exact body bytes:
//!
//! | scheme | key | signature | message |
//! |---|---|---|---|
//! | `SIGNATURE_SCHEME_TK_API_P256` | compressed P-256 | DER ECDSA | SHA-256(body) |
//! | `SIGNATURE_SCHEME_TK_API_SECP256K1` | compressed secp256k1 | DER ECDSA | SHA-256(body) |
//! | `SIGNATURE_SCHEME_TK_API_ED25519` | 32-byte Ed25519 | 64-byte raw | body |
//! | `SIGNATURE_SCHEME_TK_API_SECP256K1_EIP191` | compressed secp256k1 | DER ECDSA | keccak256 of the EIP-191 personal message of the body |
//!
//! The last is what `@turnkey/wallet-stamper` sends for Ethereum wallets (`personal_sign` over
//! the body); its key is an `API_KEY_CURVE_SECP256K1` key like the plain scheme's.

use k256::ecdsa::signature::hazmat::PrehashVerifier;
use keyhold_p256_verify::KeyTable;
use p256::ecdsa::signature::Verifier;
use sha2::{Digest, Sha256};
use sha3::Keccak256;

use crate::error::{Error, Result};
use crate::org::ApiKeyCurve;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    P256,
    Secp256k1,
    Ed25519,
    Secp256k1Eip191,
}

impl Scheme {
    pub fn from_turnkey(s: &str) -> Option<Self> {
        Some(match s {
            "SIGNATURE_SCHEME_TK_API_P256" => Scheme::P256,
            "SIGNATURE_SCHEME_TK_API_SECP256K1" => Scheme::Secp256k1,
            "SIGNATURE_SCHEME_TK_API_ED25519" => Scheme::Ed25519,
            "SIGNATURE_SCHEME_TK_API_SECP256K1_EIP191" => Scheme::Secp256k1Eip191,
            _ => return None,
        })
    }

    /// The curve of the API keys this scheme signs with.
    pub fn curve(self) -> ApiKeyCurve {
        match self {
            Scheme::P256 => ApiKeyCurve::P256,
            Scheme::Secp256k1 | Scheme::Secp256k1Eip191 => ApiKeyCurve::Secp256k1,
            Scheme::Ed25519 => ApiKeyCurve::Ed25519,
        }
    }
}

/// A public key checked to be a valid point of its curve.
#[derive(Clone, Debug)]
pub enum PublicKey {
    P256(p256::ecdsa::VerifyingKey),
    Secp256k1(k256::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl PublicKey {
    /// Parses an API public key as Turnkey encodes it for `curve`: a compressed SEC1 point
    /// (33 bytes) for the ECDSA curves, the 32-byte key for Ed25519.
    pub fn parse(curve: ApiKeyCurve, bytes: &[u8]) -> Result<Self, &'static str> {
        match curve {
            ApiKeyCurve::P256 => {
                if bytes.len() != 33 {
                    return Err("must be a compressed P-256 public key (66 hex characters)");
                }
                p256::ecdsa::VerifyingKey::from_sec1_bytes(bytes)
                    .map(PublicKey::P256)
                    .map_err(|_| "is not a P-256 point")
            }
            ApiKeyCurve::Secp256k1 => {
                if bytes.len() != 33 {
                    return Err("must be a compressed secp256k1 public key (66 hex characters)");
                }
                k256::ecdsa::VerifyingKey::from_sec1_bytes(bytes)
                    .map(PublicKey::Secp256k1)
                    .map_err(|_| "is not a secp256k1 point")
            }
            ApiKeyCurve::Ed25519 => {
                let array: &[u8; 32] = bytes
                    .try_into()
                    .map_err(|_| "must be a 32-byte Ed25519 public key (64 hex characters)")?;
                ed25519_dalek::VerifyingKey::from_bytes(array)
                    .map(PublicKey::Ed25519)
                    .map_err(|_| "is not an Ed25519 public key")
            }
        }
    }
}

/// Verifies `signature` over `body` under `scheme` (whose curve `key` must be on).
pub fn verify(scheme: Scheme, key: &PublicKey, signature: &[u8], body: &[u8]) -> Result<()> {
    let ok = match (scheme, key) {
        (Scheme::P256, PublicKey::P256(key)) => {
            key.verify(body, &p256_signature(signature)?).is_ok()
        }
        (Scheme::Secp256k1, PublicKey::Secp256k1(key)) => {
            let digest = Sha256::digest(body);
            key.verify_prehash(&digest, &k256_signature(signature)?)
                .is_ok()
        }
        (Scheme::Secp256k1Eip191, PublicKey::Secp256k1(key)) => {
            let digest = eip191_digest(body);
            key.verify_prehash(&digest, &k256_signature(signature)?)
                .is_ok()
        }
        (Scheme::Ed25519, PublicKey::Ed25519(key)) => {
            let bytes: &[u8; 64] = signature
                .try_into()
                .map_err(|_| Error::MalformedStamp("Ed25519 signature must be 64 bytes"))?;
            let sig = ed25519_dalek::Signature::from_bytes(bytes);
            key.verify_strict(body, &sig).is_ok()
        }
        _ => return Err(Error::Internal("stamp key parsed for another scheme")),
    };
    if ok {
        Ok(())
    } else {
        Err(Error::SignatureInvalid)
    }
}

/// A P-256 stamp of a key whose multiples are precomputed (a key that signs often): the same
/// verdict as [`verify`], in about a quarter of the time.
pub fn verify_p256_with_table(table: &KeyTable, signature: &[u8], body: &[u8]) -> Result<()> {
    let digest: [u8; 32] = Sha256::digest(body).into();
    if table.verify_prehash(&digest, &p256_signature(signature)?) {
        Ok(())
    } else {
        Err(Error::SignatureInvalid)
    }
}

/// A P-256 signature as sent: high S is valid, Node's api-key-stamper does not normalise it.
fn p256_signature(der: &[u8]) -> Result<p256::ecdsa::Signature> {
    let (r, s) = ecdsa_scalars(der).ok_or(Error::SignatureInvalid)?;
    p256::ecdsa::Signature::from_scalars(r, s).map_err(|_| Error::SignatureInvalid)
}

/// A secp256k1 signature in low-S form: k256 refuses high S, but an ECDSA signature is as valid
/// with S as with n − S, and signers outside Rust (Node's crypto) do not normalise.
fn k256_signature(der: &[u8]) -> Result<k256::ecdsa::Signature> {
    let (r, s) = ecdsa_scalars(der).ok_or(Error::SignatureInvalid)?;
    k256::ecdsa::Signature::from_scalars(r, s)
        .map(|sig| sig.normalize_s())
        .map_err(|_| Error::SignatureInvalid)
}

/// keccak256("\x19Ethereum Signed Message:\n" ‖ decimal byte length ‖ message): what
/// `personal_sign` (viem's `signMessage`, ethers' `signMessage`) signs.
pub fn eip191_digest(message: &[u8]) -> [u8; 32] {
    let mut hasher = Keccak256::new();
    hasher.update(b"\x19Ethereum Signed Message:\n");
    hasher.update(message.len().to_string().as_bytes());
    hasher.update(message);
    hasher.finalize().into()
}

/// `r` and `s` (32 bytes each, big-endian) of a DER ECDSA signature, read leniently:
/// `@turnkey/crypto.toDerSignature` (behind wallet-stamper's EIP-191 stamps) keeps leading zero
/// bytes, so its INTEGERs are not always minimal, which strict DER decoders refuse. Still
/// refused: other tags, long-form lengths, negative or over-long integers, trailing bytes.
pub fn ecdsa_scalars(der: &[u8]) -> Option<([u8; 32], [u8; 32])> {
    let (&tag, rest) = der.split_first()?;
    let (&len, body) = rest.split_first()?;
    if tag != 0x30 || len >= 0x80 || usize::from(len) != body.len() {
        return None;
    }
    let (r, rest) = der_integer(body)?;
    let (s, rest) = der_integer(rest)?;
    rest.is_empty().then_some((r, s))
}

/// One DER INTEGER as a 32-byte big-endian unsigned value, and the bytes after it.
fn der_integer(input: &[u8]) -> Option<([u8; 32], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&len, rest) = rest.split_first()?;
    if tag != 0x02 || len == 0 || len >= 0x80 {
        return None;
    }
    let (value, rest) = rest.split_at_checked(usize::from(len))?;
    if value.first().is_some_and(|b| b & 0x80 != 0) {
        return None; // negative
    }
    let start = value.iter().position(|b| *b != 0).unwrap_or(value.len());
    let digits = value.get(start..)?;
    let mut out = [0u8; 32];
    let offset = 32usize.checked_sub(digits.len())?;
    out.get_mut(offset..)?.copy_from_slice(digits);
    Some((out, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_der_reads_minimal_and_padded_integers() {
        // minimal: r = 1, s = 0x80 (needs a 0x00 pad)
        let minimal = [0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x02, 0x00, 0x80];
        let (r, s) = ecdsa_scalars(&minimal).unwrap();
        assert_eq!(r[31], 1);
        assert_eq!((s[30], s[31]), (0, 0x80));
        // non-minimal (toDerSignature keeps a leading zero byte of r)
        let mut padded = vec![0x30, 0x44, 0x02, 0x20, 0x00];
        padded.extend([0x11; 31]);
        padded.extend([0x02, 0x20]);
        padded.extend([0x22; 32]);
        let (r, s) = ecdsa_scalars(&padded).unwrap();
        assert_eq!((r[0], r[1]), (0, 0x11));
        assert_eq!(s, [0x22; 32]);
    }

    #[test]
    fn lenient_der_still_refuses_garbage() {
        for bad in [
            &[][..],
            &[0x30],
            &[0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01],
            &[0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01],
            &[0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x81],
            &[0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x00, 0x01],
            &[0x30, 0x08, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00, 0x00],
            &[0x30, 0x81, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01],
        ] {
            assert!(ecdsa_scalars(bad).is_none(), "{bad:02x?}");
        }
        // 33 significant bytes do not fit a 256-bit scalar
        let mut long = vec![0x30, 0x27, 0x02, 0x21, 0x01];
        long.extend([0u8; 32]);
        long.extend([0x02, 0x01, 0x01]);
        assert!(ecdsa_scalars(&long).is_none());
    }

    #[test]
    fn eip191_digest_matches_personal_sign() {
        // viem: hashMessage("hello world")
        assert_eq!(
            hex::encode(eip191_digest(b"hello world")),
            "d9eba16ed0ecae432b71fe008c98cc872bb4cc214d3220a36f365326cf807d68"
        );
    }
}
