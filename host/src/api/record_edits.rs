//! What wallet and private key activities change in the host's records: renames, deletions
//! and private key tags. The enclave made the change in the sealed state (where signing and
//! policies read it); the host mirrors it for listings, from the activity's result (ids the
//! enclave checked) and the stamped parameters.
//!
//! Also the one rule the enclave cannot apply: `delete_wallet_accounts` names accounts by the
//! host's own ids, so whether an account's wallet was ever exported is known only here.

use keyhold_shared::{OrgId, PrivateKeyId, Uuid, WalletId};
use serde_json::Value;

use super::AppState;
use super::error::ApiError;
use crate::store::RecordEdit;

fn strings<'a>(value: &'a Value, key: &str) -> impl Iterator<Item = &'a str> {
    value
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

fn id<T: std::str::FromStr>(text: &str) -> Result<T, ApiError> {
    text.parse()
        .map_err(|_| ApiError::internal("unexpected id in the enclave's result"))
}

/// The record edits of an organization activity's `result` object (empty for other results).
pub(super) fn edits(result: &Value, parameters: &Value) -> Result<Vec<RecordEdit>, ApiError> {
    let mut edits = Vec::new();
    if let Some(r) = result.get("updateWalletResult") {
        let wallet: WalletId = id(r.get("walletId").and_then(Value::as_str).unwrap_or(""))?;
        if let Some(name) = parameters.get("walletName").and_then(Value::as_str) {
            edits.push(RecordEdit::RenameWallet {
                wallet,
                name: name.to_owned(),
            });
        }
    }
    if let Some(r) = result.get("deleteWalletsResult") {
        for w in strings(r, "walletIds") {
            edits.push(RecordEdit::DeleteWallet(id(w)?));
        }
    }
    if let Some(r) = result.get("deleteWalletAccountsResult") {
        for a in strings(r, "walletAccountIds") {
            edits.push(RecordEdit::DeleteAccount(a.to_owned()));
        }
    }
    if let Some(r) = result.get("deletePrivateKeysResult") {
        for k in strings(r, "privateKeyIds") {
            edits.push(RecordEdit::DeletePrivateKey(id(k)?));
        }
    }
    let tag_keys = |tag: &str, keys: Vec<&str>, add: bool, edits: &mut Vec<RecordEdit>| {
        for key in keys {
            // The enclave refused the activity unless every id named an existing key.
            edits.push(RecordEdit::TagPrivateKey {
                key: id::<PrivateKeyId>(key)?,
                tag: tag.to_owned(),
                add,
            });
        }
        Ok::<(), ApiError>(())
    };
    if let Some(r) = result.get("createPrivateKeyTagResult") {
        let tag = r
            .get("privateKeyTagId")
            .and_then(Value::as_str)
            .unwrap_or("");
        tag_keys(tag, strings(r, "privateKeyIds").collect(), true, &mut edits)?;
    }
    if let Some(r) = result.get("updatePrivateKeyTagResult") {
        let tag = r
            .get("privateKeyTagId")
            .and_then(Value::as_str)
            .unwrap_or("");
        let add = strings(parameters, "addPrivateKeyIds").collect();
        let remove = strings(parameters, "removePrivateKeyIds").collect();
        tag_keys(tag, add, true, &mut edits)?;
        tag_keys(tag, remove, false, &mut edits)?;
    }
    if let Some(r) = result.get("deletePrivateKeyTagsResult") {
        for tag in strings(r, "privateKeyTagIds") {
            edits.push(RecordEdit::DropPrivateKeyTag(tag.to_owned()));
        }
    }
    super::webhook_endpoints::edits(result, &mut edits)?;
    Ok(edits)
}

/// `delete_wallet_accounts` without `deleteWithoutExport`: refused unless every account's
/// wallet was exported (Turnkey keeps no export flag per account; exporting an account marks its
/// wallet). Every id must name an account of this organization.
pub(super) async fn check_account_deletion(
    state: &AppState,
    org: OrgId,
    parameters: &Value,
) -> Result<(), ApiError> {
    let mut ids = Vec::new();
    for text in strings(parameters, "walletAccountIds") {
        // The enclave refuses anything but UUIDs; unparsable ids are left for it to report.
        let Ok(uuid) = text.parse::<Uuid>() else {
            return Ok(());
        };
        ids.push(uuid.to_string());
    }
    if ids.is_empty() || ids.len() > 1000 {
        return Ok(());
    }
    let found = state.store.get_accounts(org, ids.clone()).await?;
    if let Some(missing) = ids.iter().find(|id| !found.iter().any(|a| &a.id == *id)) {
        return Err(ApiError::not_found(format!(
            "wallet account {missing} not found"
        )));
    }
    let without_export = parameters
        .get("deleteWithoutExport")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if without_export {
        return Ok(());
    }
    let mut checked: Vec<WalletId> = Vec::new();
    for account in &found {
        if checked.contains(&account.wallet) {
            continue;
        }
        let exported = state
            .store
            .get_wallet(org, account.wallet)
            .await?
            .is_some_and(|w| w.exported);
        if !exported {
            return Err(ApiError::invalid(format!(
                "wallet account {} has never been exported; set deleteWithoutExport to delete it anyway",
                account.id
            )));
        }
        checked.push(account.wallet);
    }
    Ok(())
}
