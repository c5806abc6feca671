//! Renaming and deleting what an organization holds: `UPDATE_WALLET`, `DELETE_WALLETS`,
//! `DELETE_WALLET_ACCOUNTS`, `DELETE_PRIVATE_KEYS`. Shapes and result keys are Turnkey's.
//!
//! A deleted wallet or private key leaves the sealed state, which is what signing, exporting and
//! deriving check (`signer::wallet_seed`): the host may keep the sealed seed, but the enclave
//! no longer opens it for this organization. Turnkey refuses to delete a wallet or key that was
//! never exported unless `deleteWithoutExport` is set (its seed would be lost for good); the
//! `exported` flag it reads is the sealed one, which only an export activity sets.

use std::str::FromStr;

use keyhold_shared::{PrivateKeyId, Uuid, WalletId};
use serde::Deserialize;
use serde_json::{Value, json};

use super::envelope::Envelope;
use super::organization::{check_name, parse_uuid};
use crate::error::{Error, Result};
use crate::limits::Resource;
use crate::org::OrgState;

/// Most ids one deletion names.
pub const MAX_IDS: usize = 1000;

/// Parses a list of ids: 1 to [`MAX_IDS`] valid UUIDs, duplicates dropped (first kept).
pub(super) fn ids<T: FromStr + PartialEq>(field: &str, values: &[String]) -> Result<Vec<T>> {
    if values.is_empty() || values.len() > MAX_IDS {
        return Err(Error::invalid(format!(
            "{field} must name 1 to {MAX_IDS} ids"
        )));
    }
    let mut out: Vec<T> = Vec::with_capacity(values.len());
    for value in values {
        let id = parse_uuid(field, value)?;
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

fn never_exported(what: &str, id: &dyn std::fmt::Display) -> Error {
    Error::invalid(format!(
        "{what} {id} has never been exported; set deleteWithoutExport to delete it anyway"
    ))
}

/// Drops the spending ledger's entries of a deleted wallet or key.
fn forget_usage(state: &mut OrgState, id: &Uuid) {
    let resource = Resource(*id.as_bytes());
    state.usage.retain(|e| e.resource != resource);
}

pub fn update_wallet(state: &mut OrgState, envelope: &Envelope, _now_ms: u64) -> Result<Value> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Intent {
        wallet_id: String,
        wallet_name: Option<String>,
    }
    let intent: Intent = envelope.parameters()?;
    let id: WalletId = parse_uuid("walletId", &intent.wallet_id)?;
    let wallet = state
        .wallets
        .iter_mut()
        .find(|w| w.id == id)
        .ok_or_else(|| Error::NotFound(format!("wallet {id} not found")))?;
    // Turnkey's `walletName` is optional: an update without one changes nothing.
    if let Some(name) = intent.wallet_name {
        check_name("walletName", &name)?;
        wallet.name = name;
    }
    Ok(json!({"updateWalletResult": {"walletId": id.to_string()}}))
}

pub fn delete_wallets(state: &mut OrgState, envelope: &Envelope, _now_ms: u64) -> Result<Value> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Intent {
        wallet_ids: Vec<String>,
        #[serde(default)]
        delete_without_export: bool,
    }
    let intent: Intent = envelope.parameters()?;
    let ids: Vec<WalletId> = ids("walletIds", &intent.wallet_ids)?;
    for id in &ids {
        let wallet = state
            .wallets
            .iter()
            .find(|w| &w.id == id)
            .ok_or_else(|| Error::NotFound(format!("wallet {id} not found")))?;
        if !wallet.exported && !intent.delete_without_export {
            return Err(never_exported("wallet", id));
        }
    }
    state.wallets.retain(|w| !ids.contains(&w.id));
    for id in &ids {
        forget_usage(state, &id.0);
    }
    let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
    Ok(json!({"deleteWalletsResult": {"walletIds": ids}}))
}

/// The enclave does not keep wallet accounts (they are derived from the wallet's seed on
/// demand, and `CREATE_WALLET_ACCOUNTS` may derive the same one again), so there is nothing to
/// remove from the sealed state: the activity is authorized, recorded against replay and in the
/// audit chain, and the host drops its account records. Whether an account's wallet was ever
/// exported is known to the host only through its records (account ids are the host's), so the
/// host applies `deleteWithoutExport` before it submits the activity.
pub fn delete_wallet_accounts(
    _state: &mut OrgState,
    envelope: &Envelope,
    _now_ms: u64,
) -> Result<Value> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Intent {
        wallet_account_ids: Vec<String>,
        #[serde(default)]
        #[expect(dead_code, reason = "applied by the host, see above")]
        delete_without_export: bool,
    }
    let intent: Intent = envelope.parameters()?;
    let ids: Vec<Uuid> = ids("walletAccountIds", &intent.wallet_account_ids)?;
    let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
    Ok(json!({"deleteWalletAccountsResult": {"walletAccountIds": ids}}))
}

pub fn delete_private_keys(
    state: &mut OrgState,
    envelope: &Envelope,
    _now_ms: u64,
) -> Result<Value> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Intent {
        private_key_ids: Vec<String>,
        #[serde(default)]
        delete_without_export: bool,
    }
    let intent: Intent = envelope.parameters()?;
    let ids: Vec<PrivateKeyId> = ids("privateKeyIds", &intent.private_key_ids)?;
    for id in &ids {
        let key = state
            .private_keys
            .iter()
            .find(|k| &k.id == id)
            .ok_or_else(|| Error::NotFound(format!("private key {id} not found")))?;
        if !key.exported && !intent.delete_without_export {
            return Err(never_exported("private key", id));
        }
    }
    state.private_keys.retain(|k| !ids.contains(&k.id));
    for id in &ids {
        forget_usage(state, &id.0);
    }
    let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
    Ok(json!({"deletePrivateKeysResult": {"privateKeyIds": ids}}))
}
