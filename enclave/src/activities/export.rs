//! `EXPORT_WALLET`, `EXPORT_WALLET_ACCOUNT`, `EXPORT_PRIVATE_KEY`: the mnemonic or the raw
//! private key, HPKE-encrypted to the client's `targetPublicKey` inside an envelope signed by
//! the bundle signing key (spec §7.2). The wallet is marked `exported` in the sealed state
//! (policies read `wallet.exported`), which also records the activity against replay.
//!
//! What the host chose (which wallet, account or key) is checked as for signing: the seal binds
//! the blob to the id, and the id or derived address must be the one the client signed.

use keyhold_shared::WalletId;
use keyhold_shared::msg::{ActivityContext, ActivityResult, ExportTarget};
use serde::{Deserialize, Serialize};

use super::Allowed;
use super::envelope::Envelope;
use super::organization::successor_for;
use super::signer::{resolve, wallet_seed};
use crate::bundles::hpke_p256::{TargetKey, seal};
use crate::enclave::Keys;
use crate::error::{Error, Result, clip};
use crate::org::{OrgState, WalletMeta};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExportWalletIntent {
    wallet_id: String,
    target_public_key: String,
    language: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExportWalletAccountIntent {
    address: String,
    target_public_key: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExportPrivateKeyIntent {
    private_key_id: String,
    target_public_key: String,
}

/// The signed `data` of an export bundle, in Turnkey's field order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExportData {
    encapped_public: String,
    ciphertext: String,
    organization_id: String,
}

fn bundle(keys: &Keys, org: &OrgState, target: &TargetKey, secret: &[u8]) -> Result<String> {
    let sealed = seal(target, secret)?;
    keys.bundle_signer.envelope(&ExportData {
        encapped_public: hex::encode(sealed.encapped),
        ciphertext: hex::encode(&sealed.ciphertext),
        organization_id: org.org_id.to_string(),
    })
}

fn target(text: &str) -> Result<TargetKey> {
    TargetKey::parse_hex("targetPublicKey", text)
}

/// The successor state with `wallet_id` marked exported.
fn mark_exported(
    org: &OrgState,
    body: &[u8],
    envelope: &Envelope,
    wallet_id: WalletId,
    now_ms: u64,
) -> Result<OrgState> {
    let mut state = successor_for(org, body, envelope, now_ms)?;
    match state.wallets.iter_mut().find(|w| w.id == wallet_id) {
        Some(meta) => meta.exported = true,
        // A wallet sealed before organizations kept wallet metadata: record it now.
        None => state.wallets.push(WalletMeta {
            id: wallet_id,
            name: String::new(),
            imported: false,
            exported: true,
            created_at_ms: now_ms,
        }),
    }
    Ok(state)
}

pub fn wallet(
    keys: &Keys,
    org: &OrgState,
    body: &[u8],
    envelope: &Envelope,
    context: &ActivityContext,
    _allowed: Allowed,
    now_ms: u64,
) -> Result<(ActivityResult, Option<OrgState>)> {
    let intent: ExportWalletIntent = envelope.parameters()?;
    let target = target(&intent.target_public_key)?;
    match intent.language.as_deref() {
        None | Some("MNEMONIC_LANGUAGE_ENGLISH") => {}
        Some(other) => {
            return Err(Error::Unsupported(format!(
                "exporting a mnemonic in `{}` (only MNEMONIC_LANGUAGE_ENGLISH)",
                clip(other)
            )));
        }
    }
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
    if *wallet_id != named {
        return Err(not_found());
    }
    let seed = wallet_seed(keys, org, wallet_id, sealed_seed)?;
    let mnemonic = seed.mnemonic()?;
    let export_bundle = bundle(keys, org, &target, mnemonic.as_bytes())?;
    let state = mark_exported(org, body, envelope, *wallet_id, now_ms)?;
    Ok((
        ActivityResult::Exported {
            target: ExportTarget::Wallet(*wallet_id),
            export_bundle,
        },
        Some(state),
    ))
}

pub fn wallet_account(
    keys: &Keys,
    org: &OrgState,
    body: &[u8],
    envelope: &Envelope,
    context: &ActivityContext,
    _allowed: Allowed,
    now_ms: u64,
) -> Result<(ActivityResult, Option<OrgState>)> {
    let intent: ExportWalletAccountIntent = envelope.parameters()?;
    let target = target(&intent.target_public_key)?;
    // Only a wallet account: `resolve` would also accept a private key's address.
    let ActivityContext::WalletAccount { wallet_id, .. } = context else {
        return Err(Error::NotFound(format!(
            "no wallet account `{}` in this organization",
            clip(&intent.address)
        )));
    };
    let signer = resolve(keys, org, &intent.address, context)?;
    let secret = signer.key.secret_bytes();
    let export_bundle = bundle(keys, org, &target, secret.as_ref())?;
    let state = mark_exported(org, body, envelope, *wallet_id, now_ms)?;
    Ok((
        ActivityResult::Exported {
            target: ExportTarget::WalletAccount {
                wallet_id: *wallet_id,
                address: intent.address.trim().to_owned(),
            },
            export_bundle,
        },
        Some(state),
    ))
}

pub fn private_key(
    keys: &Keys,
    org: &OrgState,
    envelope: &Envelope,
    context: &ActivityContext,
    _allowed: Allowed,
) -> Result<ActivityResult> {
    let intent: ExportPrivateKeyIntent = envelope.parameters()?;
    let target = target(&intent.target_public_key)?;
    // By id only: `resolve` checks the id the client signed against the sealed key's binding.
    let ActivityContext::PrivateKey {
        private_key_id,
        address_format: None,
        ..
    } = context
    else {
        return Err(Error::NotFound(format!(
            "no private key `{}` in this organization",
            clip(&intent.private_key_id)
        )));
    };
    let signer = resolve(keys, org, &intent.private_key_id, context)?;
    let secret = signer.key.secret_bytes();
    Ok(ActivityResult::Exported {
        target: ExportTarget::PrivateKey(*private_key_id),
        export_bundle: bundle(keys, org, &target, secret.as_ref())?,
    })
}
