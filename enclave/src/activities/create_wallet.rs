//! `ACTIVITY_TYPE_CREATE_WALLET` (a new BIP-39 seed generated here, accounts derived from it,
//! the seed returned only sealed to (organization, wallet)) and
//! `ACTIVITY_TYPE_CREATE_WALLET_ACCOUNTS` (more accounts from an existing wallet's seed).

use keyhold_shared::msg::{ActivityContext, ActivityResult, DerivedAccount, SealedSeed};
use keyhold_shared::{Uuid, WalletId};
use serde::Deserialize;

use super::Allowed;
use super::envelope::Envelope;
use super::signer::wallet_seed;
use crate::chains::address::{check_pair, parse_curve, parse_format};
use crate::enclave::Keys;
use crate::error::clip;
use crate::error::{Error, Result};
use crate::keys::account::AccountKey;
use crate::keys::{Bip32Path, SeedMaterial};
use crate::org::OrgState;
use crate::seal::seed_aad;
use crate::secrets::random;

pub const MAX_ACCOUNTS: usize = 100;
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
struct CreateWalletAccountsIntent {
    wallet_id: String,
    accounts: Vec<AccountParams>,
    #[serde(default)]
    #[expect(
        dead_code,
        reason = "whether to store the accounts is the host's concern"
    )]
    persist: Option<bool>,
}

/// Turnkey's `v1WalletAccountParams`.
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
    check_count(intent.accounts.len())?;
    let words = intent.mnemonic_length.unwrap_or(12) as usize;
    let seed = SeedMaterial::generate(words)?;
    #[cfg(test)]
    crate::test_hooks::record_seed(&seed);

    let accounts = derive_accounts(&seed, &intent.accounts)?;
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

pub fn run_accounts(
    keys: &Keys,
    org: &OrgState,
    envelope: &Envelope,
    context: &ActivityContext,
    _allowed: Allowed,
) -> Result<ActivityResult> {
    let intent: CreateWalletAccountsIntent = envelope.parameters()?;
    if intent.accounts.is_empty() {
        return Err(Error::invalid("accounts must not be empty"));
    }
    check_count(intent.accounts.len())?;
    let not_found = || Error::NotFound(format!("no wallet `{}`", clip(&intent.wallet_id)));
    let named: WalletId = intent.wallet_id.parse().map_err(|_| {
        Error::invalid(format!(
            "walletId `{}` must be a valid UUID",
            clip(&intent.wallet_id)
        ))
    })?;
    let ActivityContext::Wallet {
        wallet_id,
        sealed_seed,
    } = context
    else {
        return Err(not_found());
    };
    // The host's wallet must be the one the client named; the seal binds the seed to it.
    if *wallet_id != named {
        return Err(not_found());
    }
    let seed = wallet_seed(keys, org, wallet_id, sealed_seed)?;
    Ok(ActivityResult::CreateWalletAccounts {
        wallet_id: *wallet_id,
        accounts: derive_accounts(&seed, &intent.accounts)?,
    })
}

pub(crate) fn check_count(n: usize) -> Result<()> {
    if n > MAX_ACCOUNTS {
        return Err(Error::invalid(format!(
            "at most {MAX_ACCOUNTS} accounts per request"
        )));
    }
    Ok(())
}

pub(crate) fn derive_accounts(
    seed: &SeedMaterial,
    params: &[AccountParams],
) -> Result<Vec<DerivedAccount>> {
    params.iter().map(|a| derive_account(seed, a)).collect()
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
    let curve = parse_curve(&params.curve)?;
    let address_format = parse_format(&params.address_format)?;
    check_pair(curve, address_format)?;
    let path = Bip32Path::parse(&params.path)?;
    let key = AccountKey::derive(seed, curve, &path)?;
    let public = key.public();
    Ok(DerivedAccount {
        curve,
        path: params.path.clone(),
        address_format,
        address: public.address(address_format)?,
        public_key: public.to_bytes(),
    })
}
