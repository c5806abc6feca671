//! Ethereum addresses (Keccak-256 of the uncompressed public key, EIP-55 checksum),
//! recoverable secp256k1 signatures, and transactions ([`tx`]).

pub mod abi;
pub mod tx;

use k256::ecdsa::{SigningKey, VerifyingKey};
use keyhold_shared::msg::RecoverableSignature;
use sha3::{Digest, Keccak256};

use crate::error::{Error, Result};

pub fn keccak256(data: &[u8]) -> [u8; 32] {
    Keccak256::digest(data).into()
}

/// The EIP-55 checksummed address of `key`.
pub fn address(key: &VerifyingKey) -> String {
    let point = key.to_sec1_point(false);
    let hash = keccak256(point.as_bytes().get(1..).unwrap_or_default());
    checksum(hash.get(12..).unwrap_or_default())
}

/// EIP-55: hex digit i is upper-cased when nibble i of keccak256(lowercase hex) is ≥ 8.
fn checksum(address: &[u8]) -> String {
    let lower = hex::encode(address);
    let hash = keccak256(lower.as_bytes());
    let mut out = String::with_capacity(42);
    out.push_str("0x");
    for (i, c) in lower.chars().enumerate() {
        let byte = hash.get(i / 2).copied().unwrap_or(0);
        let nibble = if i % 2 == 0 { byte >> 4 } else { byte & 0x0f };
        out.push(if nibble >= 8 {
            c.to_ascii_uppercase()
        } else {
            c
        });
    }
    out
}

/// Signs a 32-byte digest; `s` normalised low and `v` the matching y-parity (0 or 1).
pub fn sign_digest(key: &SigningKey, digest: &[u8; 32]) -> Result<RecoverableSignature> {
    let (signature, recovery) = key.sign_prehash_recoverable(digest);
    let mut v = recovery.to_byte();
    let signature = match signature.normalize_s() {
        normalized if normalized != signature => {
            v ^= 1;
            normalized
        }
        same => same,
    };
    let (r, s) = signature.split_bytes();
    let r: [u8; 32] = r
        .as_slice()
        .try_into()
        .map_err(|_| Error::Internal("signature r"))?;
    let s: [u8; 32] = s
        .as_slice()
        .try_into()
        .map_err(|_| Error::Internal("signature s"))?;
    Ok(RecoverableSignature { r, s, v })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Examples from EIP-55 itself.
    #[test]
    fn eip55_examples() {
        for expected in [
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
            "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        ] {
            let bytes = hex::decode(expected.trim_start_matches("0x").to_lowercase()).unwrap();
            assert_eq!(checksum(&bytes), expected);
        }
    }

    #[test]
    fn signatures_are_low_s_and_recover() {
        use k256::ecdsa::{RecoveryId, Signature};
        let key = SigningKey::from_slice(&[0x11; 32]).unwrap();
        for i in 0u8..32 {
            let digest = keccak256(&[i]);
            let sig = sign_digest(&key, &digest).unwrap();
            let parsed = Signature::from_scalars(sig.r, sig.s).unwrap();
            assert_eq!(parsed.normalize_s(), parsed, "s must be low");
            let recovered = VerifyingKey::recover_from_prehash(
                &digest,
                &parsed,
                RecoveryId::from_byte(sig.v).unwrap(),
            )
            .unwrap();
            assert_eq!(&recovered, key.verifying_key());
        }
    }
}
