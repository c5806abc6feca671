//! Dispatch of the activities that move key material across the enclave boundary in
//! Turnkey's encrypted bundles: exports, imports and read-write sessions.

use keyhold_shared::msg::{ActivityContext, ActivityResult, ExportTarget, ImportKind};

use super::envelope::Envelope;
use super::{Allowed, export, import, sessions};
use crate::enclave::Keys;
use crate::error::{Error, Result};
use crate::org::OrgState;

const TYPES: &[&str] = &[
    "ACTIVITY_TYPE_EXPORT_WALLET",
    "ACTIVITY_TYPE_EXPORT_WALLET_ACCOUNT",
    "ACTIVITY_TYPE_EXPORT_PRIVATE_KEY",
    "ACTIVITY_TYPE_INIT_IMPORT_WALLET",
    "ACTIVITY_TYPE_IMPORT_WALLET",
    "ACTIVITY_TYPE_INIT_IMPORT_PRIVATE_KEY",
    "ACTIVITY_TYPE_IMPORT_PRIVATE_KEY",
    "ACTIVITY_TYPE_CREATE_READ_WRITE_SESSION_V2",
];

pub fn handles(activity_type: &str) -> bool {
    TYPES.contains(&activity_type)
}

/// Runs one of [`TYPES`]; returns its result and the changed organization state, if any.
pub fn perform(
    keys: &Keys,
    org: &OrgState,
    body: &[u8],
    envelope: &Envelope,
    context: &ActivityContext,
    allowed: Allowed,
    now_ms: u64,
) -> Result<(ActivityResult, Option<OrgState>)> {
    Ok(match envelope.activity_type.as_str() {
        "ACTIVITY_TYPE_EXPORT_WALLET" => {
            export::wallet(keys, org, body, envelope, context, allowed, now_ms)?
        }
        "ACTIVITY_TYPE_EXPORT_WALLET_ACCOUNT" => {
            export::wallet_account(keys, org, body, envelope, context, allowed, now_ms)?
        }
        "ACTIVITY_TYPE_EXPORT_PRIVATE_KEY" => {
            let result = export::private_key(keys, org, envelope, context, allowed)?;
            let state = match &result {
                ActivityResult::Exported {
                    target: ExportTarget::PrivateKey(id),
                    ..
                } => Some(super::organization::with_private_key_exported(
                    org, body, envelope, *id, now_ms,
                )?),
                _ => None,
            };
            (result, state)
        }
        "ACTIVITY_TYPE_INIT_IMPORT_WALLET" => (
            import::init(keys, org, envelope, ImportKind::Wallet, allowed, now_ms)?,
            None,
        ),
        "ACTIVITY_TYPE_INIT_IMPORT_PRIVATE_KEY" => (
            import::init(keys, org, envelope, ImportKind::PrivateKey, allowed, now_ms)?,
            None,
        ),
        "ACTIVITY_TYPE_IMPORT_WALLET" => {
            import::wallet(keys, org, body, envelope, context, allowed, now_ms)?
        }
        "ACTIVITY_TYPE_IMPORT_PRIVATE_KEY" => {
            let result = import::private_key(keys, org, envelope, context, allowed, now_ms)?;
            let state = match &result {
                ActivityResult::ImportPrivateKey(key) => {
                    Some(super::organization::with_private_keys(
                        org,
                        body,
                        envelope,
                        std::slice::from_ref(key),
                        true,
                        now_ms,
                    )?)
                }
                _ => None,
            };
            (result, state)
        }
        "ACTIVITY_TYPE_CREATE_READ_WRITE_SESSION_V2" => {
            sessions::read_write(org, body, envelope, allowed, now_ms)?
        }
        other => {
            return Err(Error::Unsupported(format!(
                "activity type `{}`",
                crate::error::clip(other)
            )));
        }
    })
}
