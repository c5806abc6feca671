//! Wallet seeds (BIP-39), secp256k1 derivation (BIP-32), SLIP-10 derivation for Ed25519 and
//! P-256 ([`slip10`]), the per-account signing key ([`account`]), standalone private keys
//! ([`private_key`]) and the enclave's cache of unsealed seeds ([`cache`]).

pub mod account;
pub mod cache;
pub mod private_key;
pub mod slip10;

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
        Self::from_entropy_with_passphrase(entropy, "")
    }

    /// keyhold wallets use the empty passphrase (as Turnkey's do); the test vectors use "TREZOR".
    pub(crate) fn from_entropy_with_passphrase(entropy: &[u8], passphrase: &str) -> Result<Self> {
        let mnemonic = bip39::Mnemonic::from_entropy(entropy)
            .map_err(|_| Error::invalid("invalid mnemonic entropy"))?;
        let seed = mnemonic.to_seed(passphrase);
        Ok(SeedMaterial {
            entropy: entropy.to_vec(),
            seed,
        })
    }

    /// A wallet from a BIP-39 English mnemonic a client imports (words separated by any
    /// whitespace, any case; the checksum must hold). Turnkey exports a passphrase after a
    /// newline; keyhold wallets have none, so a mnemonic with one is refused.
    pub fn from_mnemonic(text: &str) -> Result<Self> {
        if text
            .trim()
            .lines()
            .skip(1)
            .any(|line| !line.trim().is_empty())
        {
            return Err(Error::Unsupported(
                "importing a mnemonic with a BIP-39 passphrase".into(),
            ));
        }
        let words = Zeroizing::new(
            text.split_whitespace()
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
                .join(" "),
        );
        let mnemonic = bip39::Mnemonic::parse_in_normalized(bip39::Language::English, &words)
            .map_err(|e| {
                Error::invalid(match e {
                    bip39::Error::BadWordCount(n) => {
                        format!("the mnemonic has {n} words; it must have 12, 15, 18, 21 or 24")
                    }
                    bip39::Error::UnknownWord(i) => {
                        format!(
                            "word {} of the mnemonic is not a BIP-39 English word",
                            i + 1
                        )
                    }
                    bip39::Error::InvalidChecksum => {
                        "the mnemonic's BIP-39 checksum does not match".to_owned()
                    }
                    _ => "the mnemonic is not a valid BIP-39 mnemonic".to_owned(),
                })
            })?;
        let entropy = Zeroizing::new(mnemonic.to_entropy());
        Self::from_entropy(&entropy)
    }

    /// The wallet's BIP-39 English mnemonic (for export).
    pub fn mnemonic(&self) -> Result<Zeroizing<String>> {
        let mnemonic = bip39::Mnemonic::from_entropy(&self.entropy)
            .map_err(|_| Error::Internal("stored entropy"))?;
        let mut out = Zeroizing::new(String::with_capacity(24 * 9));
        for (i, word) in mnemonic.words().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(word);
        }
        Ok(out)
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

    /// Derives the Ed25519 key at `path` (SLIP-10; hardened steps only).
    pub fn derive_ed25519(&self, path: &Bip32Path) -> Result<ed25519_dalek::SigningKey> {
        slip10::derive_ed25519(&self.seed, path)
    }

    /// Derives the P-256 key at `path` (SLIP-10, curve nist256p1).
    pub fn derive_p256(&self, path: &Bip32Path) -> Result<p256::ecdsa::SigningKey> {
        slip10::derive_p256(&self.seed, path)
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

    /// The child indices, hardened ones with the top bit set.
    pub fn indices(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().map(u32::from)
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
    fn mnemonics_import_and_export() {
        let about = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
        let seed = SeedMaterial::from_mnemonic(&format!("  {}\n", about.to_uppercase())).unwrap();
        assert_eq!(seed.entropy(), &[0u8; 16]);
        assert_eq!(seed.mnemonic().unwrap().as_str(), about);
        let generated = SeedMaterial::generate(24).unwrap();
        let back = SeedMaterial::from_mnemonic(&generated.mnemonic().unwrap()).unwrap();
        assert_eq!(back.seed(), generated.seed());
        let wrong_checksum = about.replace("about", "abandon");
        for (bad, says) in [
            ("abandon abandon", "2 words"),
            (wrong_checksum.as_str(), "checksum"),
            (&about.replace("about", "aboutt") as &str, "word 12"),
        ] {
            let err = SeedMaterial::from_mnemonic(bad).unwrap_err().to_string();
            assert!(err.contains(says), "{err}");
        }
        assert!(matches!(
            SeedMaterial::from_mnemonic(&format!("{about}\nsecret passphrase")),
            Err(Error::Unsupported(_))
        ));
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

    /// BIP-39 vectors with passphrase "TREZOR", from trezor/python-mnemonic `vectors.json`
    /// (https://github.com/trezor/python-mnemonic/blob/master/vectors.json): one per mnemonic
    /// length 12, 15, 18, 21 and 24, plus the all-zero and all-one edge cases. Each checks the
    /// mnemonic words, the 64-byte seed and the BIP-32 master key (xprv).
    #[test]
    fn trezor_bip39_vectors() {
        let vectors: &[(&str, &str, &str, &str)] = &[
            (
                "00000000000000000000000000000000",
                "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
                "c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1e1c92f2cf141630c7a3c4ab7c81b2f001698e7463b04",
                "xprv9s21ZrQH143K3h3fDYiay8mocZ3afhfULfb5GX8kCBdno77K4HiA15Tg23wpbeF1pLfs1c5SPmYHrEpTuuRhxMwvKDwqdKiGJS9XFKzUsAF",
            ),
            (
                "ffffffffffffffffffffffffffffffff",
                "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong",
                "ac27495480225222079d7be181583751e86f571027b0497b5b5d11218e0a8a13332572917f0f8e5a589620c6f15b11c61dee327651a14c34e18231052e48c069",
                "xprv9s21ZrQH143K2V4oox4M8Zmhi2Fjx5XK4Lf7GKRvPSgydU3mjZuKGCTg7UPiBUD7ydVPvSLtg9hjp7MQTYsW67rZHAXeccqYqrsx8LcXnyd",
            ),
            (
                "d292b36884b647974ff2167649e8255c8226a942",
                "spoon night surface annual good slight divert drift iron exercise announce ribbon carbon feed answer",
                "1c662e030a65b8e943a7f7fb304a1ecf415dcd1c99bfd587efae245ca9270058e853df0070abe61af152756c63a0b67ed74bf6e916b112289499e6052ccacc19",
                "xprv9s21ZrQH143K3pskpuVw5DMEBZ1hWZnVxwTpPc4QqjCPHbinjx5dyosHqPubQbGRoKdPci6hYRdr2QNDc2GwhCpSEAtKMrsjiBbYJJLfFj9",
            ),
            (
                "6610b25967cdcca9d59875f5cb50b0ea75433311869e930b",
                "gravity machine north sort system female filter attitude volume fold club stay feature office ecology stable narrow fog",
                "628c3827a8823298ee685db84f55caa34b5cc195a778e52d45f59bcf75aba68e4d7590e101dc414bc1bbd5737666fbbef35d1f1903953b66624f910feef245ac",
                "xprv9s21ZrQH143K3uT8eQowUjsxrmsA9YUuQQK1RLqFufzybxD6DH6gPY7NjJ5G3EPHjsWDrs9iivSbmvjc9DQJbJGatfa9pv4MZ3wjr8qWPAK",
            ),
            (
                "608945c274e181d9376c651255db6481ccb525532554eaea611cbbd1",
                "gauge enforce identify truth blossom uncle tank million banner put summer adjust slender naive erode pride turtle fantasy elbow jeans bar",
                "79da8e9aaeea7b28f9045fb0e4763fef5a7aae300b34c9f32aa8bb9a4aacd99896943beb22bbf9b50646658fd72cdf993b16a7cb5b7a77d1b443cf41f5183067",
                "xprv9s21ZrQH143K2Cy1ePyrB2tRcm97F6YFMzDZkhy9QS6PeCDtiDuZLrtt9WBfWhXEz8W5KbSnF7nWBKFzStfs8UPeyzbrCPPbHLC25HB8aFe",
            ),
            (
                "68a79eaca2324873eacc50cb9c6eca8cc68ea5d936f98787c60c7ebc74e6ce7c",
                "hamster diagram private dutch cause delay private meat slide toddler razor book happy fancy gospel tennis maple dilemma loan word shrug inflict delay length",
                "64c87cde7e12ecf6704ab95bb1408bef047c22db4cc7491c4271d170a1b213d20b385bc1588d9c7b38f1b39d415665b8a9030c9ec653d75e65f847d8fc1fc440",
                "xprv9s21ZrQH143K2XTAhys3pMNcGn261Fi5Ta2Pw8PwaVPhg3D8DWkzWQwjTJfskj8ofb81i9NP2cUNKxwjueJHHMQAnxtivTA75uUFqPFeWzk",
            ),
            (
                "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
                "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo vote",
                "dd48c104698c30cfe2b6142103248622fb7bb0ff692eebb00089b32d22484e1613912f0a5b694407be899ffd31ed3992c456cdf60f5d4564b8ba3f05a69890ad",
                "xprv9s21ZrQH143K2WFF16X85T2QCpndrGwx6GueB72Zf3AHwHJaknRXNF37ZmDrtHrrLSHvbuRejXcnYxoZKvRquTPyp2JiNG3XcjQyzSEgqCB",
            ),
        ];
        for (entropy, words, seed_hex, xprv) in vectors {
            let entropy = hex::decode(entropy).unwrap();
            let mnemonic = bip39::Mnemonic::from_entropy(&entropy).unwrap();
            assert_eq!(mnemonic.to_string(), *words);
            let seed = SeedMaterial::from_entropy_with_passphrase(&entropy, "TREZOR").unwrap();
            assert_eq!(hex::encode(seed.seed()), *seed_hex);
            let master = XPrv::new(seed.seed()).unwrap();
            assert_eq!(master.to_string(bip32::Prefix::XPRV).as_str(), *xprv);
            // and the sealed form keeps all of it
            let back = SeedMaterial::decode(&seed.encode()).unwrap();
            assert_eq!(back.entropy(), entropy.as_slice());
        }
        for words in [12, 15, 18, 21, 24] {
            let seed = SeedMaterial::generate(words).unwrap();
            let mnemonic = bip39::Mnemonic::from_entropy(seed.entropy()).unwrap();
            assert_eq!(mnemonic.word_count(), words);
        }
    }

    /// BIP-32 test vectors 1, 2 and 3 from the BIP itself
    /// (https://github.com/bitcoin/bips/blob/master/bip-0032.mediawiki#test-vectors): the
    /// extended private key at every step of each chain. Vector 3 is the leading-zero case.
    #[test]
    fn bip32_vectors() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "000102030405060708090a0b0c0d0e0f",
                "m",
                "xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGBxrMPHi",
            ),
            (
                "000102030405060708090a0b0c0d0e0f",
                "m/0'",
                "xprv9uHRZZhk6KAJC1avXpDAp4MDc3sQKNxDiPvvkX8Br5ngLNv1TxvUxt4cV1rGL5hj6KCesnDYUhd7oWgT11eZG7XnxHrnYeSvkzY7d2bhkJ7",
            ),
            (
                "000102030405060708090a0b0c0d0e0f",
                "m/0'/1",
                "xprv9wTYmMFdV23N2TdNG573QoEsfRrWKQgWeibmLntzniatZvR9BmLnvSxqu53Kw1UmYPxLgboyZQaXwTCg8MSY3H2EU4pWcQDnRnrVA1xe8fs",
            ),
            (
                "000102030405060708090a0b0c0d0e0f",
                "m/0'/1/2'",
                "xprv9z4pot5VBttmtdRTWfWQmoH1taj2axGVzFqSb8C9xaxKymcFzXBDptWmT7FwuEzG3ryjH4ktypQSAewRiNMjANTtpgP4mLTj34bhnZX7UiM",
            ),
            (
                "000102030405060708090a0b0c0d0e0f",
                "m/0'/1/2'/2",
                "xprvA2JDeKCSNNZky6uBCviVfJSKyQ1mDYahRjijr5idH2WwLsEd4Hsb2Tyh8RfQMuPh7f7RtyzTtdrbdqqsunu5Mm3wDvUAKRHSC34sJ7in334",
            ),
            (
                "000102030405060708090a0b0c0d0e0f",
                "m/0'/1/2'/2/1000000000",
                "xprvA41z7zogVVwxVSgdKUHDy1SKmdb533PjDz7J6N6mV6uS3ze1ai8FHa8kmHScGpWmj4WggLyQjgPie1rFSruoUihUZREPSL39UNdE3BBDu76",
            ),
            (
                "fffcf9f6f3f0edeae7e4e1dedbd8d5d2cfccc9c6c3c0bdbab7b4b1aeaba8a5a29f9c999693908d8a8784817e7b7875726f6c696663605d5a5754514e4b484542",
                "m",
                "xprv9s21ZrQH143K31xYSDQpPDxsXRTUcvj2iNHm5NUtrGiGG5e2DtALGdso3pGz6ssrdK4PFmM8NSpSBHNqPqm55Qn3LqFtT2emdEXVYsCzC2U",
            ),
            (
                "fffcf9f6f3f0edeae7e4e1dedbd8d5d2cfccc9c6c3c0bdbab7b4b1aeaba8a5a29f9c999693908d8a8784817e7b7875726f6c696663605d5a5754514e4b484542",
                "m/0/2147483647'/1/2147483646'",
                "xprvA1RpRA33e1JQ7ifknakTFpgNXPmW2YvmhqLQYMmrj4xJXXWYpDPS3xz7iAxn8L39njGVyuoseXzU6rcxFLJ8HFsTjSyQbLYnMpCqE2VbFWc",
            ),
            (
                "fffcf9f6f3f0edeae7e4e1dedbd8d5d2cfccc9c6c3c0bdbab7b4b1aeaba8a5a29f9c999693908d8a8784817e7b7875726f6c696663605d5a5754514e4b484542",
                "m/0/2147483647'/1/2147483646'/2",
                "xprvA2nrNbFZABcdryreWet9Ea4LvTJcGsqrMzxHx98MMrotbir7yrKCEXw7nadnHM8Dq38EGfSh6dqA9QWTyefMLEcBYJUuekgW4BYPJcr9E7j",
            ),
            (
                "4b381541583be4423346c643850da4b320e46a87ae3d2a4e6da11eba819cd4acba45d239319ac14f863b8d5ab5a0d0c64d2e8a1e7d1457df2e5a3c51c73235be",
                "m",
                "xprv9s21ZrQH143K25QhxbucbDDuQ4naNntJRi4KUfWT7xo4EKsHt2QJDu7KXp1A3u7Bi1j8ph3EGsZ9Xvz9dGuVrtHHs7pXeTzjuxBrCmmhgC6",
            ),
            (
                "4b381541583be4423346c643850da4b320e46a87ae3d2a4e6da11eba819cd4acba45d239319ac14f863b8d5ab5a0d0c64d2e8a1e7d1457df2e5a3c51c73235be",
                "m/0'",
                "xprv9uPDJpEQgRQfDcW7BkF7eTya6RPxXeJCqCJGHuCJ4GiRVLzkTXBAJMu2qaMWPrS7AANYqdq6vcBcBUdJCVVFceUvJFjaPdGZ2y9WACViL4L",
            ),
        ];
        for (seed, path, xprv) in cases {
            let seed = hex::decode(seed).unwrap();
            let path = Bip32Path::parse(path).unwrap();
            let key = XPrv::derive_from_path(&seed, &path.0).unwrap();
            assert_eq!(
                key.to_string(bip32::Prefix::XPRV).as_str(),
                *xprv,
                "{path:?}"
            );
        }
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
