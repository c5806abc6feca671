//! Wallet seeds (BIP-39) and secp256k1 derivation (BIP-32).

use std::fmt;
use std::str::FromStr;

use bip32::{DerivationPath, XPrv};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Error, Result};
use crate::secrets::random_secret;

/// Longest derivation path string accepted (`m/44'/60'/0'/0/0` is 16).
const MAX_PATH_LEN: usize = 128;
/// Deepest derivation path accepted.
const MAX_PATH_DEPTH: usize = 12;

/// A wallet's secret: the BIP-39 entropy (so the mnemonic can be exported later) and the 64-byte
/// seed derived from it (so signing does not pay PBKDF2 every time).
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct SeedMaterial {
    entropy: Vec<u8>,
    seed: [u8; 64],
}

impl SeedMaterial {
    /// A fresh random wallet with a mnemonic of `words` words (12, 15, 18, 21 or 24).
    pub fn generate(words: usize) -> Result<Self> {
        if !matches!(words, 12 | 15 | 18 | 21 | 24) {
            return Err(Error::invalid(format!(
                "mnemonicLength must be 12, 15, 18, 21 or 24, got {words}"
            )));
        }
        let entropy = random_secret::<32>()?;
        let len = words / 3 * 4;
        Self::from_entropy(
            entropy
                .get(..len)
                .ok_or(Error::Internal("entropy length"))?,
        )
    }

    pub fn from_entropy(entropy: &[u8]) -> Result<Self> {
        let mnemonic = bip39::Mnemonic::from_entropy(entropy)
            .map_err(|_| Error::invalid("invalid mnemonic entropy"))?;
        let seed = mnemonic.to_seed("");
        Ok(SeedMaterial {
            entropy: entropy.to_vec(),
            seed,
        })
    }

    /// Serialised form for sealing: entropy length, entropy, seed.
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(1 + self.entropy.len() + 64));
        out.push(self.entropy.len() as u8);
        out.extend_from_slice(&self.entropy);
        out.extend_from_slice(&self.seed);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let (&len, rest) = bytes.split_first().ok_or(Error::Unseal)?;
        let (entropy, seed) = rest
            .split_at_checked(usize::from(len))
            .ok_or(Error::Unseal)?;
        let seed: [u8; 64] = seed.try_into().map_err(|_| Error::Unseal)?;
        if !matches!(entropy.len(), 16 | 20 | 24 | 28 | 32) {
            return Err(Error::Unseal);
        }
        Ok(SeedMaterial {
            entropy: entropy.to_vec(),
            seed,
        })
    }

    /// Derives the secp256k1 key at `path` (BIP-32).
    pub fn derive_secp256k1(&self, path: &Bip32Path) -> Result<k256::ecdsa::SigningKey> {
        let xprv = XPrv::derive_from_path(&self.seed, &path.0)
            .map_err(|_| Error::invalid("key derivation failed"))?;
        Ok(xprv.private_key().clone())
    }

    #[cfg(test)]
    pub fn entropy(&self) -> &[u8] {
        &self.entropy
    }

    #[cfg(test)]
    pub fn seed(&self) -> &[u8; 64] {
        &self.seed
    }
}

impl fmt::Debug for SeedMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeedMaterial").finish_non_exhaustive()
    }
}

/// A validated BIP-32 path such as `m/44'/60'/0'/0/0`.
#[derive(Clone, Debug)]
pub struct Bip32Path(DerivationPath);

impl Bip32Path {
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || {
            Error::invalid(format!(
                "invalid BIP-32 path `{}`",
                text.chars().take(MAX_PATH_LEN).collect::<String>()
            ))
        };
        if text.len() > MAX_PATH_LEN {
            return Err(bad());
        }
        let path = DerivationPath::from_str(text).map_err(|_| bad())?;
        if path.len() > MAX_PATH_DEPTH {
            return Err(bad());
        }
        Ok(Bip32Path(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chains::ethereum;

    /// "abandon ×11 about" (entropy all zeros) at m/44'/60'/0'/0/0 — the well-known address
    /// from the BIP-39 / Ethereum tooling test suites (also in ../shared/DEPENDENCIES.md).
    #[test]
    fn abandon_about_gives_known_ethereum_address() {
        let seed = SeedMaterial::from_entropy(&[0u8; 16]).unwrap();
        let key = seed
            .derive_secp256k1(&Bip32Path::parse("m/44'/60'/0'/0/0").unwrap())
            .unwrap();
        assert_eq!(
            ethereum::address(key.verifying_key()),
            "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"
        );
    }

    #[test]
    fn seed_material_round_trips_and_rejects_garbage() {
        let seed = SeedMaterial::generate(24).unwrap();
        assert_eq!(seed.entropy().len(), 32);
        let back = SeedMaterial::decode(&seed.encode()).unwrap();
        assert_eq!(back.seed(), seed.seed());
        for bad in [&[][..], &[16u8][..], &[200u8, 1, 2][..]] {
            assert!(SeedMaterial::decode(bad).is_err());
        }
        assert!(SeedMaterial::generate(13).is_err());
    }

    #[test]
    fn paths_are_validated() {
        assert!(Bip32Path::parse("m/44'/60'/0'/0/0").is_ok());
        for bad in [
            "",
            "44'/60'",
            "m/x",
            "m/1/2/3/4/5/6/7/8/9/10/11/12/13",
            &"m/1".repeat(100),
        ] {
            assert!(Bip32Path::parse(bad).is_err(), "{bad}");
        }
    }
}
