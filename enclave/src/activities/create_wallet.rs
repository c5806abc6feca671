//! `ACTIVITY_TYPE_CREATE_WALLET`: a new BIP-39 seed generated here, accounts derived from it,
//! the seed returned only sealed to (organization, wallet).

use keyhold_shared::msg::{ActivityResult, AddressFormat, Curve, DerivedAccount, SealedSeed};
use keyhold_shared::{Uuid, WalletId};
use serde::Deserialize;

use super::Allowed;
use super::envelope::Envelope;
use crate::chains::ethereum;
use crate::enclave::Keys;
use crate::error::{Error, Result};
use crate::keys::{Bip32Path, SeedMaterial};
use crate::org::OrgState;
use crate::seal::seed_aad;
use crate::secrets::random;

const MAX_ACCOUNTS: usize = 100;
const MAX_NAME_LEN: usize = 256;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateWalletIntent {
    wallet_name: String,
    accounts: Vec<AccountParams>,
    mnemonic_length: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AccountParams {
    curve: String,
    path_format: String,
    path: String,
    address_format: String,
}

pub fn run(
    keys: &Keys,
    org: &OrgState,
    envelope: &Envelope,
    _allowed: Allowed,
) -> Result<ActivityResult> {
    let intent: CreateWalletIntent = envelope.parameters()?;
    if intent.wallet_name.trim().is_empty() || intent.wallet_name.len() > MAX_NAME_LEN {
        return Err(Error::invalid(format!(
            "walletName must be 1 to {MAX_NAME_LEN} bytes"
        )));
    }
    if intent.accounts.len() > MAX_ACCOUNTS {
        return Err(Error::invalid(format!(
            "at most {MAX_ACCOUNTS} accounts per request"
        )));
    }
    let words = intent.mnemonic_length.unwrap_or(12) as usize;
    let seed = SeedMaterial::generate(words)?;
    #[cfg(test)]
    crate::test_hooks::record_seed(&seed);

    let accounts = intent
        .accounts
        .iter()
        .map(|a| derive_account(&seed, a))
        .collect::<Result<Vec<_>>>()?;
    let wallet_id = WalletId(Uuid::new_v4(random()?));
    let (nonce, ciphertext) = keys
        .seed_seal
        .seal(&seed.encode(), &seed_aad(&org.org_id, &wallet_id))?;
    Ok(ActivityResult::CreateWallet {
        wallet_id,
        wallet_name: intent.wallet_name,
        accounts,
        sealed_seed: SealedSeed { nonce, ciphertext },
    })
}

pub(crate) fn derive_account(
    seed: &SeedMaterial,
    params: &AccountParams,
) -> Result<DerivedAccount> {
    if params.path_format != "PATH_FORMAT_BIP32" {
        return Err(Error::invalid(format!(
            "unknown pathFormat `{}`",
            clip(&params.path_format)
        )));
    }
    if params.curve != "CURVE_SECP256K1" {
        return Err(Error::Unsupported(format!(
            "curve `{}` (so far)",
            clip(&params.curve)
        )));
    }
    let address_format = match params.address_format.as_str() {
        "ADDRESS_FORMAT_ETHEREUM" => AddressFormat::Ethereum,
        "ADDRESS_FORMAT_COMPRESSED" => AddressFormat::Compressed,
        "ADDRESS_FORMAT_UNCOMPRESSED" => AddressFormat::Uncompressed,
        other => {
            return Err(Error::Unsupported(format!(
                "address format `{}` (so far)",
                clip(other)
            )));
        }
    };
    let path = Bip32Path::parse(&params.path)?;
    let key = seed.derive_secp256k1(&path)?;
    let public = key.verifying_key();
    let compressed = public.to_sec1_point(true).as_bytes().to_vec();
    let address = match address_format {
        AddressFormat::Ethereum => ethereum::address(public),
        AddressFormat::Compressed => hex::encode(&compressed),
        AddressFormat::Uncompressed => hex::encode(public.to_sec1_point(false).as_bytes()),
    };
    Ok(DerivedAccount {
        curve: Curve::Secp256k1,
        path: params.path.clone(),
        address_format,
        address,
        public_key: compressed,
    })
}

fn clip(s: &str) -> String {
    s.chars().take(80).collect()
}
