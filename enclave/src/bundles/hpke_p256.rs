//! The HPKE suite of Turnkey's bundles: RFC 9180 base mode, DHKEM(P-256, HKDF-SHA256),
//! HKDF-SHA256, AES-256-GCM, `info = "turnkey_hpke"`, one message per context (sequence 0).
//! Turnkey's one deviation from a plain single-shot seal is the associated data: the
//! encapsulated key and the recipient key, both SEC1 uncompressed (`enc ‖ pkR`). Since `enc`
//! only exists after encapsulation, sealing sets up the context first and seals second.

use std::fmt;

use hpke::aead::AesGcm256;
use hpke::kdf::HkdfSha256;
use hpke::kem::DhP256HkdfSha256;
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use p256::elliptic_curve::sec1::ToSec1Point as _;
use zeroize::Zeroizing;

use crate::error::{Error, Result, clip};

type Kem = DhP256HkdfSha256;
type PrivateKey = <Kem as hpke::Kem>::PrivateKey;
type PublicKey = <Kem as hpke::Kem>::PublicKey;
type EncappedKey = <Kem as hpke::Kem>::EncappedKey;

/// The `info` string of every Turnkey HPKE context.
pub const INFO: &[u8] = b"turnkey_hpke";
/// SEC1 uncompressed P-256 point length.
pub const POINT_LEN: usize = 65;
/// Largest ciphertext accepted from a client (a 24-word mnemonic is under 300 bytes).
const MAX_CIPHERTEXT_LEN: usize = 4096;

/// A client's P-256 public key (`targetPublicKey`), checked to be on the curve.
#[derive(Clone)]
pub struct TargetKey {
    uncompressed: [u8; POINT_LEN],
    hpke: PublicKey,
}

impl fmt::Debug for TargetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TargetKey({})", hex::encode(self.uncompressed))
    }
}

impl TargetKey {
    /// Parses hex (optionally `0x`-prefixed) of a SEC1 P-256 point, uncompressed as Turnkey's
    /// SDKs send it, or compressed.
    pub fn parse_hex(field: &str, text: &str) -> Result<Self> {
        let bad = || {
            Error::invalid(format!(
                "{field} `{}` must be a P-256 public key in hex (uncompressed `04…`, 130 characters)",
                clip(text)
            ))
        };
        let text = text.trim();
        let bytes = hex::decode(text.strip_prefix("0x").unwrap_or(text)).map_err(|_| bad())?;
        let point = p256::PublicKey::from_sec1_bytes(&bytes).map_err(|_| bad())?;
        let uncompressed: [u8; POINT_LEN] = point
            .to_sec1_point(false)
            .as_bytes()
            .try_into()
            .map_err(|_| bad())?;
        let hpke = PublicKey::from_bytes(&uncompressed).map_err(|_| bad())?;
        Ok(TargetKey { uncompressed, hpke })
    }

    pub fn uncompressed(&self) -> &[u8; POINT_LEN] {
        &self.uncompressed
    }
}

/// An HPKE ciphertext: the encapsulated key (uncompressed) and the AEAD output with its tag.
#[derive(Debug)]
pub struct Sealed {
    pub encapped: [u8; POINT_LEN],
    pub ciphertext: Vec<u8>,
}

impl Sealed {
    /// The encapsulated key in compressed form (credential bundles carry 33 bytes).
    pub fn encapped_compressed(&self) -> Result<Vec<u8>> {
        let point = p256::PublicKey::from_sec1_bytes(&self.encapped)
            .map_err(|_| Error::Internal("encapsulated key"))?;
        Ok(point.to_sec1_point(true).as_bytes().to_vec())
    }
}

fn aad(encapped: &[u8], recipient: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(encapped.len() + recipient.len());
    aad.extend_from_slice(encapped);
    aad.extend_from_slice(recipient);
    aad
}

/// Encrypts `plaintext` to a client's key.
pub fn seal(target: &TargetKey, plaintext: &[u8]) -> Result<Sealed> {
    let (encapped, mut ctx) =
        hpke::setup_sender::<AesGcm256, HkdfSha256, Kem>(&OpModeS::Base, &target.hpke, INFO)
            .map_err(|_| Error::Internal("hpke setup"))?;
    let encapped: [u8; POINT_LEN] = encapped
        .to_bytes()
        .as_slice()
        .try_into()
        .map_err(|_| Error::Internal("hpke encapsulated key length"))?;
    let ciphertext = ctx
        .seal(plaintext, &aad(&encapped, &target.uncompressed))
        .map_err(|_| Error::Internal("hpke seal"))?;
    Ok(Sealed {
        encapped,
        ciphertext,
    })
}

/// The enclave's receiving key of one import: generated at `INIT_IMPORT_*`, its public half
/// signed into the import bundle, its private half kept only sealed (see `import_key`).
pub struct ReceiverKey {
    private: PrivateKey,
    public: [u8; POINT_LEN],
}

impl fmt::Debug for ReceiverKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceiverKey")
            .field("public", &hex::encode(self.public))
            .finish_non_exhaustive()
    }
}

impl ReceiverKey {
    pub fn generate() -> Result<Self> {
        let ikm = crate::secrets::random_secret::<32>()?;
        let (private, _) = Kem::derive_keypair(ikm.as_ref());
        Self::from_private(private)
    }

    fn from_private(private: PrivateKey) -> Result<Self> {
        let public: [u8; POINT_LEN] = Kem::sk_to_pk(&private)
            .to_bytes()
            .as_slice()
            .try_into()
            .map_err(|_| Error::Internal("hpke public key length"))?;
        Ok(ReceiverKey { private, public })
    }

    pub fn from_secret(secret: &[u8; 32]) -> Result<Self> {
        Self::from_private(PrivateKey::from_bytes(secret).map_err(|_| Error::Unseal)?)
    }

    pub fn secret_bytes(&self) -> Result<Zeroizing<[u8; 32]>> {
        let mut out = Zeroizing::new([0u8; 32]);
        let bytes = Zeroizing::new(self.private.to_bytes());
        if bytes.len() != out.len() {
            return Err(Error::Internal("hpke private key length"));
        }
        out.copy_from_slice(bytes.as_slice());
        Ok(out)
    }

    pub fn public_uncompressed(&self) -> &[u8; POINT_LEN] {
        &self.public
    }

    /// Decrypts a client's ciphertext; any failure (wrong key, forged or truncated data) is
    /// the one error `None`, for the caller to word.
    pub fn open(&self, encapped: &[u8], ciphertext: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if ciphertext.len() > MAX_CIPHERTEXT_LEN {
            return None;
        }
        let enc = EncappedKey::from_bytes(encapped).ok()?;
        let mut ctx = hpke::setup_receiver::<AesGcm256, HkdfSha256, Kem>(
            &OpModeR::Base,
            &self.private,
            &enc,
            INFO,
        )
        .ok()?;
        ctx.open(ciphertext, &aad(encapped, &self.public))
            .ok()
            .map(Zeroizing::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target_for(receiver: &ReceiverKey) -> TargetKey {
        TargetKey::parse_hex(
            "targetPublicKey",
            &hex::encode(receiver.public_uncompressed()),
        )
        .unwrap()
    }

    #[test]
    fn round_trip_and_tamper() {
        let receiver = ReceiverKey::generate().unwrap();
        let target = target_for(&receiver);
        let sealed = seal(&target, b"leaf lady until").unwrap();
        assert_eq!(
            receiver
                .open(&sealed.encapped, &sealed.ciphertext)
                .unwrap()
                .as_slice(),
            b"leaf lady until"
        );
        // another recipient, a flipped bit, a swapped encapsulated key: all refused
        let other = ReceiverKey::generate().unwrap();
        assert!(other.open(&sealed.encapped, &sealed.ciphertext).is_none());
        let mut flipped = sealed.ciphertext.clone();
        flipped[0] ^= 1;
        assert!(receiver.open(&sealed.encapped, &flipped).is_none());
        let again = seal(&target, b"leaf lady until").unwrap();
        assert!(receiver.open(&again.encapped, &sealed.ciphertext).is_none());
        // the secret survives sealing as bytes
        let back = ReceiverKey::from_secret(&receiver.secret_bytes().unwrap()).unwrap();
        assert_eq!(back.public_uncompressed(), receiver.public_uncompressed());
    }

    #[test]
    fn target_keys_are_validated() {
        let receiver = ReceiverKey::generate().unwrap();
        let compressed = p256::PublicKey::from_sec1_bytes(receiver.public_uncompressed())
            .unwrap()
            .to_sec1_point(true);
        let parsed = TargetKey::parse_hex("k", &hex::encode(compressed.as_bytes())).unwrap();
        assert_eq!(parsed.uncompressed(), receiver.public_uncompressed());
        for bad in [
            "",
            "04",
            "zz",
            &"04".repeat(65),
            &format!("05{}", "11".repeat(64)),
        ] {
            assert!(TargetKey::parse_hex("k", bad).is_err(), "{bad}");
        }
    }

    /// The AEAD input is Turnkey's: `info = "turnkey_hpke"`, `aad = enc ‖ pkR`. A context
    /// opened with the RFC's empty associated data must fail, so the AAD is really bound.
    #[test]
    fn associated_data_is_enc_and_recipient() {
        let receiver = ReceiverKey::generate().unwrap();
        let sealed = seal(&target_for(&receiver), b"x").unwrap();
        let enc = EncappedKey::from_bytes(&sealed.encapped).unwrap();
        let open_with = |aad: &[u8]| {
            hpke::setup_receiver::<AesGcm256, HkdfSha256, Kem>(
                &OpModeR::Base,
                &receiver.private,
                &enc,
                INFO,
            )
            .unwrap()
            .open(&sealed.ciphertext, aad)
        };
        assert!(open_with(b"").is_err());
        let mut good = sealed.encapped.to_vec();
        good.extend_from_slice(receiver.public_uncompressed());
        assert_eq!(open_with(&good).unwrap(), b"x");
    }
}
