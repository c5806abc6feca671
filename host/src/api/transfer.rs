//! The host's part in exports, imports and sessions: routing, looking up what the enclave
//! needs (the sealed seed or key to export, the sealed import key of the user), keeping the
//! sealed import key between `init_import_*` and `import_*`, and Turnkey's result shapes.
//! The bundles themselves are made and checked in the enclave.

use keyhold_shared::msg::{
    ActivityContext, CreatedPrivateKey, ExportTarget, ImportKind, SealedSeed,
};
use keyhold_shared::{OrgId, UserId};
use serde_json::Value;

use super::AppState;
use super::error::ApiError;
use super::submit::Envelope;
use crate::store::{ExportMark, PrivateKeyRecord};

/// Where the host keeps a user's pending import key (one per kind; a new init replaces it).
pub fn import_key_name(org: OrgId, user: UserId, kind: ImportKind) -> String {
    format!("import-key/{org}/{user}/{}", kind.as_str())
}

/// What the enclave needs for an export or import, `None` for other activity types. Nothing
/// found is `ActivityContext::None`: the enclave answers with the right error.
pub async fn resolve_context(
    state: &AppState,
    org: OrgId,
    envelope: &Envelope,
) -> Result<Option<ActivityContext>, ApiError> {
    let param = |k: &str| envelope.parameters.get(k).and_then(Value::as_str);
    let context = match envelope.activity_type.as_str() {
        "ACTIVITY_TYPE_EXPORT_WALLET" => {
            let wallet = match param("walletId").and_then(|w| w.parse().ok()) {
                Some(id) => state.store.get_wallet(org, id).await?,
                None => None,
            };
            wallet.map(|w| ActivityContext::Wallet {
                wallet_id: w.id,
                sealed_seed: w.sealed_seed,
            })
        }
        "ACTIVITY_TYPE_EXPORT_WALLET_ACCOUNT" => {
            let account = match param("address") {
                Some(address) => state.store.find_account(org, address.trim()).await?,
                None => None,
            };
            match account {
                Some((account, wallet)) => Some(super::submit::account_context(account, wallet)?),
                None => None,
            }
        }
        "ACTIVITY_TYPE_EXPORT_PRIVATE_KEY" => {
            let key = match param("privateKeyId") {
                Some(id) => state.store.find_private_key(org, id.trim()).await?,
                None => None,
            };
            // By id only (`find_private_key` also matches addresses).
            key.filter(|(_, format)| format.is_none())
                .map(|(key, _)| ActivityContext::PrivateKey {
                    private_key_id: key.id,
                    address_format: None,
                    sealed_key: key.sealed_key,
                })
        }
        "ACTIVITY_TYPE_IMPORT_WALLET" | "ACTIVITY_TYPE_IMPORT_PRIVATE_KEY" => {
            let kind = if envelope.activity_type == "ACTIVITY_TYPE_IMPORT_WALLET" {
                ImportKind::Wallet
            } else {
                ImportKind::PrivateKey
            };
            let user = param("userId").and_then(|u| u.parse::<UserId>().ok());
            let stored = match user {
                Some(user) => {
                    state
                        .store
                        .get_meta(&import_key_name(org, user, kind))
                        .await?
                }
                None => None,
            };
            stored
                .and_then(|bytes| postcard::from_bytes::<SealedSeed>(&bytes).ok())
                .map(|sealed_key| ActivityContext::ImportKey { sealed_key })
        }
        _ => return Ok(None),
    };
    Ok(Some(context.unwrap_or(ActivityContext::None)))
}

/// What an export marks exported (its Turnkey result is made from the receipt's view of the
/// result, in `crate::audit::turnkey_result`).
pub fn export_mark(target: &ExportTarget) -> ExportMark {
    match target {
        ExportTarget::Wallet(id) => ExportMark::Wallet(*id),
        ExportTarget::WalletAccount { wallet_id, .. } => ExportMark::Wallet(*wallet_id),
        ExportTarget::PrivateKey(id) => ExportMark::PrivateKey(*id),
    }
}

/// The sealed import key of an `init_import_*` to keep, and under which name.
pub fn import_key_to_keep(
    org: OrgId,
    user: UserId,
    kind: ImportKind,
    sealed_key: &SealedSeed,
) -> Result<(String, Vec<u8>), ApiError> {
    let stored = postcard::to_allocvec(sealed_key)
        .map_err(|_| ApiError::internal("encoding the import key failed"))?;
    Ok((import_key_name(org, user, kind), stored))
}

/// The record of an imported private key.
pub fn imported_private_key_record(
    key: CreatedPrivateKey,
    org: OrgId,
    now: u64,
) -> PrivateKeyRecord {
    PrivateKeyRecord {
        id: key.private_key_id,
        org,
        name: key.name,
        curve: key.curve.as_turnkey().to_owned(),
        public_key: hex::encode(&key.public_key),
        addresses: key
            .addresses
            .iter()
            .map(|(f, a)| (f.as_turnkey().to_owned(), a.clone()))
            .collect(),
        tags: key.tags,
        sealed_key: key.sealed_key,
        created_at_ms: now,
        imported: true,
        exported: false,
        updated_at_ms: now,
    }
}
