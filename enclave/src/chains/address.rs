//! Address formats: which curve each needs and how it is computed.

use bech32::{Bech32, Hrp};
use keyhold_shared::msg::{AddressFormat, Curve};

use super::{bitcoin, ethereum};
use crate::error::{Error, Result, clip};
use crate::keys::account::PublicKey;

/// Turnkey address formats keyhold does not implement (HTTP 501 rather than 400).
pub const UNSUPPORTED_FORMATS: &[&str] = &[
    "ADDRESS_FORMAT_SUI",
    "ADDRESS_FORMAT_APTOS",
    "ADDRESS_FORMAT_BITCOIN_MAINNET_P2SH",
    "ADDRESS_FORMAT_BITCOIN_MAINNET_P2WSH",
    "ADDRESS_FORMAT_BITCOIN_TESTNET_P2SH",
    "ADDRESS_FORMAT_BITCOIN_TESTNET_P2WSH",
    "ADDRESS_FORMAT_BITCOIN_SIGNET_P2SH",
    "ADDRESS_FORMAT_BITCOIN_SIGNET_P2WSH",
    "ADDRESS_FORMAT_BITCOIN_REGTEST_P2SH",
    "ADDRESS_FORMAT_BITCOIN_REGTEST_P2WSH",
    "ADDRESS_FORMAT_SEI",
    "ADDRESS_FORMAT_XLM",
    "ADDRESS_FORMAT_DOGE_MAINNET",
    "ADDRESS_FORMAT_DOGE_TESTNET",
    "ADDRESS_FORMAT_TON_V3R2",
    "ADDRESS_FORMAT_TON_V4R2",
    "ADDRESS_FORMAT_TON_V5R1",
    "ADDRESS_FORMAT_XRP",
    "ADDRESS_FORMAT_SPARK_MAINNET",
    "ADDRESS_FORMAT_SPARK_REGTEST",
];

/// Parses Turnkey's address format string: 501 for a real format keyhold lacks, 400 otherwise.
pub fn parse_format(s: &str) -> Result<AddressFormat> {
    AddressFormat::from_turnkey(s).ok_or_else(|| {
        if UNSUPPORTED_FORMATS.contains(&s) {
            Error::Unsupported(format!("address format `{s}`"))
        } else {
            Error::invalid(format!("unknown address format `{}`", clip(s)))
        }
    })
}

pub fn parse_curve(s: &str) -> Result<Curve> {
    Curve::from_turnkey(s).ok_or_else(|| Error::invalid(format!("unknown curve `{}`", clip(s))))
}

/// Refuses a (curve, format) pair that has no meaning, before any key is made.
pub fn check_pair(curve: Curve, format: AddressFormat) -> Result<()> {
    let ok = match format {
        AddressFormat::Compressed => true,
        AddressFormat::Uncompressed => curve != Curve::Ed25519,
        AddressFormat::Solana => curve == Curve::Ed25519,
        AddressFormat::Ethereum
        | AddressFormat::Cosmos
        | AddressFormat::Tron
        | AddressFormat::Bitcoin(..) => curve == Curve::Secp256k1,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "address format {} cannot be used with curve {}",
            format.as_turnkey(),
            curve.as_turnkey()
        )))
    }
}

pub fn derive(key: &PublicKey, format: AddressFormat) -> Result<String> {
    check_pair(key.curve(), format)?;
    let wrong = || Error::Internal("address format and key disagree");
    Ok(match (format, key) {
        (AddressFormat::Compressed, k) => hex::encode(k.to_bytes()),
        (AddressFormat::Uncompressed, PublicKey::Secp256k1(k)) => {
            hex::encode(k.to_sec1_point(false).as_bytes())
        }
        (AddressFormat::Uncompressed, PublicKey::P256(k)) => {
            hex::encode(k.to_sec1_point(false).as_bytes())
        }
        (AddressFormat::Solana, PublicKey::Ed25519(k)) => bs58::encode(k.to_bytes()).into_string(),
        (AddressFormat::Ethereum, PublicKey::Secp256k1(k)) => ethereum::address(k),
        (AddressFormat::Cosmos, PublicKey::Secp256k1(k)) => {
            let hash = bitcoin::hash160(k.to_sec1_point(true).as_bytes());
            let hrp = Hrp::parse("cosmos").map_err(|_| Error::Internal("cosmos hrp"))?;
            bech32::encode::<Bech32>(hrp, &hash).map_err(|_| Error::Internal("bech32"))?
        }
        (AddressFormat::Tron, PublicKey::Secp256k1(k)) => {
            let point = k.to_sec1_point(false);
            let hash = ethereum::keccak256(point.as_bytes().get(1..).unwrap_or_default());
            let mut payload = vec![0x41];
            payload.extend_from_slice(hash.get(12..).unwrap_or_default());
            bitcoin::base58check(&payload)
        }
        (AddressFormat::Bitcoin(network, kind), PublicKey::Secp256k1(k)) => {
            bitcoin::address(k, network, kind)?
        }
        _ => return Err(wrong()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::account::AccountKey;
    use crate::keys::{Bip32Path, SeedMaterial};

    fn abandon() -> SeedMaterial {
        SeedMaterial::from_entropy(&[0u8; 16]).unwrap()
    }

    fn at(curve: Curve, path: &str) -> PublicKey {
        AccountKey::derive(&abandon(), curve, &Bip32Path::parse(path).unwrap())
            .unwrap()
            .public()
    }

    /// Known addresses of "abandon ×11 about" (the mnemonic every wallet's test suite uses):
    /// Solana m/44'/501'/0'/0' is the address Phantom and `solana-keygen` (with
    /// `--derivation-path`) show for it; Cosmos m/44'/118'/0'/0/0 is the Keplr / `gaiad keys`
    /// address; Tron m/44'/195'/0'/0/0 is TronLink's.
    #[test]
    fn chain_addresses_of_the_abandon_mnemonic() {
        assert_eq!(
            derive(
                &at(Curve::Ed25519, "m/44'/501'/0'/0'"),
                AddressFormat::Solana
            )
            .unwrap(),
            "HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk"
        );
        assert_eq!(
            derive(
                &at(Curve::Secp256k1, "m/44'/118'/0'/0/0"),
                AddressFormat::Cosmos
            )
            .unwrap(),
            "cosmos19rl4cm2hmr8afy4kldpxz3fka4jguq0auqdal4"
        );
        assert_eq!(
            derive(
                &at(Curve::Secp256k1, "m/44'/195'/0'/0/0"),
                AddressFormat::Tron
            )
            .unwrap(),
            "TUEZSdKsoDHQMeZwihtdoBiN46zxhGWYdH"
        );
    }

    #[test]
    fn formats_refuse_the_wrong_curve() {
        let ed = at(Curve::Ed25519, "m/44'/501'/0'/0'");
        for format in [
            AddressFormat::Ethereum,
            AddressFormat::Cosmos,
            AddressFormat::Tron,
            AddressFormat::Uncompressed,
        ] {
            assert!(derive(&ed, format).is_err());
        }
        assert!(derive(&at(Curve::Secp256k1, "m/0"), AddressFormat::Solana).is_err());
        assert!(derive(&at(Curve::P256, "m/0"), AddressFormat::Ethereum).is_err());
        assert_eq!(derive(&ed, AddressFormat::Compressed).unwrap().len(), 64);
        assert_eq!(
            derive(&at(Curve::P256, "m/0"), AddressFormat::Uncompressed)
                .unwrap()
                .len(),
            130
        );
    }

    #[test]
    fn unsupported_and_unknown_formats() {
        assert!(matches!(
            parse_format("ADDRESS_FORMAT_SUI"),
            Err(Error::Unsupported(_))
        ));
        assert!(matches!(
            parse_format("ADDRESS_FORMAT_NONSENSE"),
            Err(Error::InvalidRequest(_))
        ));
        for f in AddressFormat::ALL {
            assert_eq!(parse_format(f.as_turnkey()).unwrap(), f);
        }
    }
}
