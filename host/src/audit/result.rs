//! Turnkey's `result` object, made from the public projection of the enclave's result that a
//! receipt commits to. The API serves exactly this, so the verifier can re-make it from the
//! stored receipt bytes and compare it with the stored activity.

use keyhold_shared::msg::{
    AuditPrivateKey, AuditResult, ExportTarget, ImportKind, RecoverableSignature,
};
use serde_json::{Value, json};

/// `{r, s, v}` as Turnkey returns them: 64 hex digits each (zero-padded), `v` "00"/"01".
fn signature(sig: &RecoverableSignature) -> Value {
    json!({
        "r": hex::encode(sig.r),
        "s": hex::encode(sig.s),
        "v": format!("{:02x}", sig.v),
    })
}

/// The `result` object of an activity; `None` when an organization result is not JSON.
fn private_key(key: &AuditPrivateKey) -> Value {
    json!({
        "privateKeyId": key.private_key_id.to_string(),
        "addresses": key
            .addresses
            .iter()
            .map(|(format, address)| json!({"format": format.as_turnkey(), "address": address}))
            .collect::<Vec<_>>(),
    })
}

pub fn turnkey_result(result: &AuditResult) -> Option<Value> {
    Some(match result {
        AuditResult::CreateWallet {
            wallet_id,
            accounts,
            ..
        } => {
            let addresses: Vec<&str> = accounts.iter().map(|a| a.address.as_str()).collect();
            json!({"createWalletResult": {"walletId": wallet_id.to_string(), "addresses": addresses}})
        }
        AuditResult::CreateWalletAccounts { accounts, .. } => {
            let addresses: Vec<&str> = accounts.iter().map(|a| a.address.as_str()).collect();
            json!({"createWalletAccountsResult": {"addresses": addresses}})
        }
        AuditResult::CreatePrivateKeys(keys) => {
            let keys: Vec<Value> = keys.iter().map(private_key).collect();
            json!({"createPrivateKeysResultV2": {"privateKeys": keys}})
        }
        AuditResult::Exported {
            target,
            export_bundle,
        } => match target {
            ExportTarget::Wallet(id) => {
                json!({"exportWalletResult": {"walletId": id.to_string(), "exportBundle": export_bundle}})
            }
            ExportTarget::WalletAccount { address, .. } => {
                json!({"exportWalletAccountResult": {"address": address, "exportBundle": export_bundle}})
            }
            ExportTarget::PrivateKey(id) => {
                json!({"exportPrivateKeyResult": {"privateKeyId": id.to_string(), "exportBundle": export_bundle}})
            }
        },
        AuditResult::InitImport {
            kind,
            import_bundle,
            ..
        } => {
            let key = match kind {
                ImportKind::Wallet => "initImportWalletResult",
                ImportKind::PrivateKey => "initImportPrivateKeyResult",
            };
            json!({ key: {"importBundle": import_bundle} })
        }
        AuditResult::ImportWallet(wallet) => {
            let addresses: Vec<&str> = wallet.accounts.iter().map(|a| a.address.as_str()).collect();
            json!({"importWalletResult": {"walletId": wallet.wallet_id.to_string(), "addresses": addresses}})
        }
        AuditResult::ImportPrivateKey(key) => {
            let key = private_key(key);
            json!({"importPrivateKeyResult": {"privateKeyId": key["privateKeyId"], "addresses": key["addresses"]}})
        }
        AuditResult::SignRawPayload(sig) => json!({"signRawPayloadResult": signature(sig)}),
        AuditResult::SignRawPayloads(sigs) => json!({"signRawPayloadsResult": {
            "signatures": sigs.iter().map(signature).collect::<Vec<_>>(),
        }}),
        AuditResult::SignTransaction(signed) => json!({"signTransactionResult": {
            "signedTransaction": hex::encode(signed),
        }}),
        AuditResult::Organization { result_json, .. } => serde_json::from_str(result_json).ok()?,
        AuditResult::Empty => json!({}),
    })
}
