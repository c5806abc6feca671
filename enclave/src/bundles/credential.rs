//! Session credential bundles (`create_read_write_session`, spec §7.4):
//! `base58check(compressed enc ‖ ciphertext)`, HPKE-encrypted to the client's target key, no
//! signature (`@turnkey/crypto.decryptCredentialBundle` checks none).

use sha2::{Digest, Sha256};

use super::hpke_p256::{TargetKey, seal};
use crate::error::Result;

/// Encrypts `secret` to `target` and encodes it as a credential bundle.
pub fn bundle(target: &TargetKey, secret: &[u8]) -> Result<String> {
    let sealed = seal(target, secret)?;
    let mut payload = sealed.encapped_compressed()?;
    payload.extend_from_slice(&sealed.ciphertext);
    Ok(base58check(&payload))
}

/// Base58 of `payload ‖ first 4 bytes of SHA-256(SHA-256(payload))` (Bitcoin's checksum).
pub fn base58check(payload: &[u8]) -> String {
    let checksum = Sha256::digest(Sha256::digest(payload));
    let mut data = payload.to_vec();
    data.extend(checksum.iter().take(4));
    bs58::encode(data).into_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundles::hpke_p256::ReceiverKey;
    use p256::elliptic_curve::sec1::ToSec1Point as _;

    /// Bitcoin's well-known address of the all-zero hash160 (version byte 0).
    #[test]
    fn base58check_matches_bitcoin() {
        assert_eq!(base58check(&[0u8; 21]), "1111111111111111111114oLvT2");
    }

    #[test]
    fn bundle_decrypts() {
        let receiver = ReceiverKey::generate().unwrap();
        let target =
            TargetKey::parse_hex("t", &hex::encode(receiver.public_uncompressed())).unwrap();
        let text = bundle(&target, &[7u8; 32]).unwrap();
        let bytes = bs58::decode(&text).into_vec().unwrap();
        let (body, check) = bytes.split_at(bytes.len() - 4);
        assert_eq!(&Sha256::digest(Sha256::digest(body))[..4], check);
        let (compressed, ciphertext) = body.split_at(33);
        let enc = p256::PublicKey::from_sec1_bytes(compressed)
            .unwrap()
            .to_sec1_point(false);
        assert_eq!(
            receiver
                .open(enc.as_bytes(), ciphertext)
                .unwrap()
                .as_slice(),
            &[7u8; 32]
        );
    }
}
