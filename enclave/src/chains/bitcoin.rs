//! Bitcoin: addresses (P2PKH, P2WPKH, P2TR on mainnet, testnet, signet and regtest), the BIP-341
//! key-path tweak (BIP-86: no script tree), and PSBT signing ([`psbt`]).

pub mod psbt;

use bech32::Fe32;
use bech32::primitives::hrp::Hrp;
use k256::elliptic_curve::ff::PrimeField;
use k256::{NonZeroScalar, ProjectivePoint, Scalar};
use keyhold_shared::msg::{BitcoinKind, BitcoinNetwork};
use ripemd::Ripemd160;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

pub fn sha256d(data: &[u8]) -> [u8; 32] {
    sha256(&sha256(data))
}

/// RIPEMD-160 of SHA-256.
pub fn hash160(data: &[u8]) -> [u8; 20] {
    Ripemd160::digest(Sha256::digest(data)).into()
}

/// BIP-340 tagged hash: SHA-256(SHA-256(tag) ‖ SHA-256(tag) ‖ data…).
pub fn tagged_hash(tag: &str, parts: &[&[u8]]) -> [u8; 32] {
    let tag = Sha256::digest(tag.as_bytes());
    let mut h = Sha256::new();
    h.update(tag);
    h.update(tag);
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// Base58 with a 4-byte double-SHA-256 checksum.
pub fn base58check(payload: &[u8]) -> String {
    let mut data = payload.to_vec();
    data.extend_from_slice(sha256d(payload).get(..4).unwrap_or_default());
    bs58::encode(data).into_string()
}

fn hrp(network: BitcoinNetwork) -> Hrp {
    match network {
        BitcoinNetwork::Mainnet => bech32::hrp::BC,
        BitcoinNetwork::Testnet | BitcoinNetwork::Signet => bech32::hrp::TB,
        BitcoinNetwork::Regtest => bech32::hrp::BCRT,
    }
}

/// The BIP-86 taproot output key of `internal` (x-only, with its parity) and the tweak scalar.
pub fn taproot_output_key(internal: &k256::ecdsa::VerifyingKey) -> Result<([u8; 32], bool)> {
    let (q, _) = taproot_tweak(internal)?;
    let encoded = q.to_sec1_point(true);
    let bytes = encoded.as_bytes();
    let x: [u8; 32] = bytes
        .get(1..33)
        .and_then(|b| b.try_into().ok())
        .ok_or(Error::Internal("taproot key encoding"))?;
    Ok((x, bytes.first() == Some(&3)))
}

/// Q = lift_x(P) + t·G with t = H_TapTweak(x(P)), and t itself.
fn taproot_tweak(
    internal: &k256::ecdsa::VerifyingKey,
) -> Result<(k256::ecdsa::VerifyingKey, Scalar)> {
    let compressed = internal.to_sec1_point(true);
    let x = compressed
        .as_bytes()
        .get(1..33)
        .ok_or(Error::Internal("x-only key"))?;
    // lift_x: the point with this x and even y.
    let mut even = [2u8; 33];
    even.get_mut(1..)
        .ok_or(Error::Internal("x-only key"))?
        .copy_from_slice(x);
    let p =
        k256::ecdsa::VerifyingKey::from_sec1_bytes(&even).map_err(|_| Error::Internal("lift_x"))?;
    let t: Option<Scalar> = Scalar::from_repr(tagged_hash("TapTweak", &[x]).into()).into();
    let t = t.ok_or(Error::invalid("taproot tweak out of range"))?;
    let q = ProjectivePoint::from(*p.as_affine()) + ProjectivePoint::GENERATOR * t;
    let q = k256::ecdsa::VerifyingKey::from_affine(q.to_affine())
        .map_err(|_| Error::invalid("taproot output key is the point at infinity"))?;
    Ok((q, t))
}

/// The BIP-341 tweaked secret key for key-path spending of a BIP-86 output.
pub fn taproot_signing_key(key: &k256::ecdsa::SigningKey) -> Result<k256::schnorr::SigningKey> {
    let (_, t) = taproot_tweak(key.verifying_key())?;
    // From<NonZeroScalar> negates the secret when its point has odd y (BIP-340 convention).
    let internal = k256::schnorr::SigningKey::from(*key.as_nonzero_scalar());
    let tweaked: Scalar = *internal.as_nonzero_scalar().as_ref() + t;
    let tweaked: Option<NonZeroScalar> = NonZeroScalar::new(tweaked).into();
    let tweaked = tweaked.ok_or(Error::invalid("taproot tweaked key is zero"))?;
    Ok(k256::schnorr::SigningKey::from(tweaked))
}

/// The address of `key` in one of the Bitcoin formats.
/// The address a standard output script pays to on `network`, and its kind (`P2PKH`, `P2SH`,
/// `P2WPKH`, `P2WSH`, `P2TR`); `None` for any other script.
pub fn script_address(script: &[u8], network: BitcoinNetwork) -> Option<(String, &'static str)> {
    let mainnet = network == BitcoinNetwork::Mainnet;
    let base58 = |version: u8, hash: &[u8]| {
        let mut payload = vec![version];
        payload.extend_from_slice(hash);
        base58check(&payload)
    };
    let segwit = |v: Fe32, program: &[u8]| bech32::segwit::encode(hrp(network), v, program).ok();
    match script {
        [0x76, 0xa9, 0x14, hash @ .., 0x88, 0xac] if hash.len() == 20 => {
            Some((base58(if mainnet { 0x00 } else { 0x6f }, hash), "P2PKH"))
        }
        [0xa9, 0x14, hash @ .., 0x87] if hash.len() == 20 => {
            Some((base58(if mainnet { 0x05 } else { 0xc4 }, hash), "P2SH"))
        }
        [0x00, 0x14, program @ ..] if program.len() == 20 => {
            Some((segwit(Fe32::Q, program)?, "P2WPKH"))
        }
        [0x00, 0x20, program @ ..] if program.len() == 32 => {
            Some((segwit(Fe32::Q, program)?, "P2WSH"))
        }
        [0x51, 0x20, program @ ..] if program.len() == 32 => {
            Some((segwit(Fe32::P, program)?, "P2TR"))
        }
        _ => None,
    }
}

/// The network of a valid Bitcoin address (bech32/bech32m with its checksum, or base58check
/// with a known version byte); signet shares testnet's prefixes and is reported as testnet.
pub fn address_network(address: &str) -> Option<BitcoinNetwork> {
    if let Ok((hrp, _, _)) = bech32::segwit::decode(address) {
        return match hrp.as_str() {
            "bc" => Some(BitcoinNetwork::Mainnet),
            "tb" => Some(BitcoinNetwork::Testnet),
            "bcrt" => Some(BitcoinNetwork::Regtest),
            _ => None,
        };
    }
    let raw = bs58::decode(address).into_vec().ok()?;
    let (payload, check) = raw.split_last_chunk::<4>()?;
    if sha256d(payload).first_chunk::<4>() != Some(check) || payload.len() != 21 {
        return None;
    }
    match payload.first()? {
        0x00 | 0x05 => Some(BitcoinNetwork::Mainnet),
        0x6f | 0xc4 => Some(BitcoinNetwork::Testnet),
        _ => None,
    }
}

pub fn address(
    key: &k256::ecdsa::VerifyingKey,
    network: BitcoinNetwork,
    kind: BitcoinKind,
) -> Result<String> {
    let compressed = key.to_sec1_point(true);
    let failed = |_| Error::Internal("bech32 encoding");
    match kind {
        BitcoinKind::P2pkh => {
            let version = match network {
                BitcoinNetwork::Mainnet => 0x00,
                _ => 0x6f,
            };
            let mut payload = vec![version];
            payload.extend_from_slice(&hash160(compressed.as_bytes()));
            Ok(base58check(&payload))
        }
        BitcoinKind::P2wpkh => {
            bech32::segwit::encode(hrp(network), Fe32::Q, &hash160(compressed.as_bytes()))
                .map_err(failed)
        }
        BitcoinKind::P2tr => {
            let (x, _) = taproot_output_key(key)?;
            bech32::segwit::encode(hrp(network), Fe32::P, &x).map_err(failed)
        }
    }
}

/// The scriptPubKey of a P2WPKH output paying `key`.
pub fn p2wpkh_script(key: &k256::ecdsa::VerifyingKey) -> Vec<u8> {
    let mut script = vec![0x00, 0x14];
    script.extend_from_slice(&hash160(key.to_sec1_point(true).as_bytes()));
    script
}

/// The scriptPubKey of a BIP-86 P2TR output of `key`.
pub fn p2tr_script(key: &k256::ecdsa::VerifyingKey) -> Result<Vec<u8>> {
    let (x, _) = taproot_output_key(key)?;
    let mut script = vec![0x51, 0x20];
    script.extend_from_slice(&x);
    Ok(script)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Bip32Path, SeedMaterial};

    /// The BIP-84 and BIP-86 test vectors: mnemonic "abandon ×11 about", first receiving
    /// address (https://github.com/bitcoin/bips/blob/master/bip-0084.mediawiki#test-vectors,
    /// https://github.com/bitcoin/bips/blob/master/bip-0086.mediawiki#test-vectors), and the
    /// BIP-44 P2PKH address of the same mnemonic at m/44'/0'/0'/0/0 (Ian Coleman's BIP-39 tool
    /// and every BIP-44 wallet agree on it).
    #[test]
    fn bip84_bip86_addresses() {
        let seed = SeedMaterial::from_entropy(&[0u8; 16]).unwrap();
        let key = |p: &str| {
            *seed
                .derive_secp256k1(&Bip32Path::parse(p).unwrap())
                .unwrap()
                .verifying_key()
        };
        use BitcoinKind::*;
        use BitcoinNetwork::*;
        let k = key("m/84'/0'/0'/0/0");
        assert_eq!(
            hex::encode(k.to_sec1_point(true).as_bytes()),
            "0330d54fd0dd420a6e5f8d3624f5f3482cae350f79d5f0753bf5beef9c2d91af3c"
        );
        assert_eq!(
            address(&k, Mainnet, P2wpkh).unwrap(),
            "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"
        );
        assert_eq!(
            address(&key("m/84'/0'/0'/0/1"), Mainnet, P2wpkh).unwrap(),
            "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g"
        );
        assert_eq!(
            address(&key("m/84'/0'/0'/1/0"), Mainnet, P2wpkh).unwrap(),
            "bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el"
        );
        let k = key("m/86'/0'/0'/0/0");
        assert_eq!(
            hex::encode(taproot_output_key(&k).unwrap().0),
            "a60869f0dbcf1dc659c9cecbaf8050135ea9e8cdc487053f1dc6880949dc684c"
        );
        assert_eq!(
            address(&k, Mainnet, P2tr).unwrap(),
            "bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr"
        );
        assert_eq!(
            address(&key("m/86'/0'/0'/0/1"), Mainnet, P2tr).unwrap(),
            "bc1p4qhjn9zdvkux4e44uhx8tc55attvtyu358kutcqkudyccelu0was9fqzwh"
        );
        assert_eq!(
            address(&key("m/44'/0'/0'/0/0"), Mainnet, P2pkh).unwrap(),
            "1LqBGSKuX5yYUonjxT5qGfpUsXKYYWeabA"
        );
    }

    /// BIP-173 example: the P2WPKH address of the generator point's public key
    /// (0279BE66…16F81798) on mainnet and testnet.
    #[test]
    fn bip173_generator_addresses() {
        let g = k256::ecdsa::VerifyingKey::from_sec1_bytes(
            &hex::decode("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
                .unwrap(),
        )
        .unwrap();
        use BitcoinKind::*;
        use BitcoinNetwork::*;
        assert_eq!(
            address(&g, Mainnet, P2wpkh).unwrap(),
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
        );
        assert_eq!(
            address(&g, Testnet, P2wpkh).unwrap(),
            "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"
        );
        assert_eq!(
            address(&g, Mainnet, P2pkh).unwrap(),
            "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH"
        );
        assert!(address(&g, Regtest, P2wpkh).unwrap().starts_with("bcrt1q"));
        assert!(address(&g, Signet, P2tr).unwrap().starts_with("tb1p"));
    }

    #[test]
    fn taproot_signature_verifies_under_output_key() {
        let key = k256::ecdsa::SigningKey::from_slice(&[0x42; 32]).unwrap();
        let tweaked = taproot_signing_key(&key).unwrap();
        let (x, _) = taproot_output_key(key.verifying_key()).unwrap();
        let msg = [7u8; 32];
        let sig = tweaked.sign_raw(&msg, &[0u8; 32]).unwrap();
        let vk = k256::schnorr::VerifyingKey::from_bytes(&x.into()).unwrap();
        vk.verify_raw(&msg, &sig).unwrap();
    }
}
