//! Activities that change the organization itself (users, credentials, tags, policies, root
//! quorum, name, deletion, wallet names, deleted wallets and keys, private key tags): each
//! edits a successor of the sealed state, which must still be a valid organization afterwards,
//! and remembers the activity's fingerprint against replay.

use keyhold_shared::{Uuid, WalletId};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::envelope::Envelope;
use super::{
    APPROVAL_WINDOW_MS, Allowed, MAX_AGE_MS, MAX_SKEW_MS, authenticators, features, org_lifecycle,
    policies, private_key_tags, user_updates, users, wallets,
};
use crate::error::{Error, Result};
use crate::org::{MAX_WALLETS, OrgState, WalletMeta};
use crate::secrets::random;

/// A new organization state and the activity's `result` object.
#[derive(Debug)]
pub struct Change {
    pub state: OrgState,
    pub result: Value,
}

type Op = fn(&mut OrgState, &Envelope, u64) -> Result<Value>;

fn op(activity_type: &str) -> Option<Op> {
    Some(match activity_type {
        "ACTIVITY_TYPE_CREATE_USERS_V4"
        | "ACTIVITY_TYPE_CREATE_USERS_V3"
        | "ACTIVITY_TYPE_CREATE_USERS_V2" => users::create_users,
        "ACTIVITY_TYPE_DELETE_USERS" => users::delete_users,
        "ACTIVITY_TYPE_CREATE_API_KEYS_V2" | "ACTIVITY_TYPE_CREATE_API_KEYS" => {
            users::create_api_keys
        }
        "ACTIVITY_TYPE_DELETE_API_KEYS" => users::delete_api_keys,
        "ACTIVITY_TYPE_CREATE_AUTHENTICATORS_V2" => authenticators::create_authenticators,
        "ACTIVITY_TYPE_DELETE_AUTHENTICATORS" => authenticators::delete_authenticators,
        "ACTIVITY_TYPE_CREATE_USER_TAG" => users::create_user_tag,
        "ACTIVITY_TYPE_UPDATE_USER_TAG" => users::update_user_tag,
        "ACTIVITY_TYPE_DELETE_USER_TAGS" => users::delete_user_tags,
        "ACTIVITY_TYPE_UPDATE_ROOT_QUORUM" => users::update_root_quorum,
        "ACTIVITY_TYPE_CREATE_POLICY_V3" => policies::create_policy,
        "ACTIVITY_TYPE_CREATE_POLICIES" => policies::create_policies,
        "ACTIVITY_TYPE_UPDATE_POLICY_V2" | "ACTIVITY_TYPE_UPDATE_POLICY" => policies::update_policy,
        "ACTIVITY_TYPE_DELETE_POLICY" => policies::delete_policy,
        "ACTIVITY_TYPE_DELETE_POLICIES" => policies::delete_policies,
        "ACTIVITY_TYPE_CREATE_SMART_CONTRACT_INTERFACE" => {
            super::contract_interfaces::create_smart_contract_interface
        }
        "ACTIVITY_TYPE_DELETE_SMART_CONTRACT_INTERFACE" => {
            super::contract_interfaces::delete_smart_contract_interface
        }
        // Users after creation, API-only users, the organization's name and deletion.
        "ACTIVITY_TYPE_UPDATE_USER" => user_updates::update_user,
        "ACTIVITY_TYPE_UPDATE_USER_NAME" => user_updates::update_user_name,
        "ACTIVITY_TYPE_UPDATE_USER_EMAIL" => user_updates::update_user_email,
        "ACTIVITY_TYPE_UPDATE_USER_PHONE_NUMBER" => user_updates::update_user_phone_number,
        "ACTIVITY_TYPE_CREATE_API_ONLY_USERS" => user_updates::create_api_only_users,
        "ACTIVITY_TYPE_UPDATE_ORGANIZATION_NAME" => org_lifecycle::update_organization_name,
        "ACTIVITY_TYPE_DELETE_SUB_ORGANIZATION" => org_lifecycle::delete_sub_organization,
        "ACTIVITY_TYPE_SET_ORGANIZATION_FEATURE" => features::set_organization_feature,
        "ACTIVITY_TYPE_REMOVE_ORGANIZATION_FEATURE" => features::remove_organization_feature,
        "ACTIVITY_TYPE_UPDATE_WALLET" => wallets::update_wallet,
        "ACTIVITY_TYPE_DELETE_WALLETS" => wallets::delete_wallets,
        "ACTIVITY_TYPE_DELETE_WALLET_ACCOUNTS" => wallets::delete_wallet_accounts,
        "ACTIVITY_TYPE_DELETE_PRIVATE_KEYS" => wallets::delete_private_keys,
        "ACTIVITY_TYPE_CREATE_PRIVATE_KEY_TAG" => private_key_tags::create_private_key_tag,
        "ACTIVITY_TYPE_UPDATE_PRIVATE_KEY_TAG" => private_key_tags::update_private_key_tag,
        "ACTIVITY_TYPE_DELETE_PRIVATE_KEY_TAGS" => private_key_tags::delete_private_key_tags,
        _ => return None,
    })
}

/// Runs an organization activity; `None` if `envelope` is not one.
pub fn run(
    org: &OrgState,
    envelope: &Envelope,
    _allowed: Allowed,
    digest: &[u8; 32],
    now_ms: u64,
) -> Result<Option<Change>> {
    let Some(op) = op(&envelope.activity_type) else {
        return Ok(None);
    };
    let mut state = successor_by_digest(org, digest, envelope, now_ms)?;
    let result = op(&mut state, envelope, now_ms)?;
    check_invariants(&state)?;
    Ok(Some(Change { state, result }))
}

/// The successor of `org` that records a wallet just created (policies read its metadata:
/// `wallet.id`, `wallet.label`, …) and the creating activity's fingerprint.
pub fn with_wallet(
    org: &OrgState,
    body: &[u8],
    envelope: &Envelope,
    wallet_id: WalletId,
    name: &str,
    now_ms: u64,
) -> Result<OrgState> {
    with_wallet_meta(
        org,
        body,
        envelope,
        WalletMeta {
            id: wallet_id,
            name: name.to_owned(),
            imported: false,
            exported: false,
            created_at_ms: now_ms,
        },
        now_ms,
    )
}

/// [`with_wallet`] for any wallet metadata (an imported wallet).
pub fn with_wallet_meta(
    org: &OrgState,
    body: &[u8],
    envelope: &Envelope,
    meta: WalletMeta,
    now_ms: u64,
) -> Result<OrgState> {
    let mut state = successor_for(org, body, envelope, now_ms)?;
    if state.wallets.len() >= MAX_WALLETS {
        return Err(Error::invalid(format!(
            "an organization holds at most {MAX_WALLETS} wallets"
        )));
    }
    state.wallets.push(meta);
    Ok(state)
}

/// The successor of `org` that an activity outside the organization ops changes (a new or
/// exported wallet, a session key): refuses a replay of `body` and remembers its fingerprint
/// for as long as a replay could pass the timestamp or approval-window checks.
pub fn successor_for(
    org: &OrgState,
    body: &[u8],
    envelope: &Envelope,
    now_ms: u64,
) -> Result<OrgState> {
    let digest: [u8; 32] = Sha256::digest(body).into();
    successor_by_digest(org, &digest, envelope, now_ms)
}

/// [`successor_for`], given the SHA-256 of the body.
fn successor_by_digest(
    org: &OrgState,
    digest: &[u8; 32],
    envelope: &Envelope,
    now_ms: u64,
) -> Result<OrgState> {
    if org.seen(digest) {
        return Err(Error::invalid(
            "this request was already executed in this organization (replayed request)",
        ));
    }
    // Until then a replay would pass the timestamp check (or, for an activity that waited for
    // approvals, the approval window); afterwards those checks refuse it.
    let replay_until = envelope
        .timestamp()?
        .saturating_add(APPROVAL_WINDOW_MS.max(MAX_AGE_MS))
        .saturating_add(MAX_SKEW_MS);
    org.successor(digest, now_ms, replay_until)
}

/// The successor of `org` that records private keys just created or imported (policies read
/// their metadata as `private_key.*`).
pub fn with_private_keys(
    org: &OrgState,
    body: &[u8],
    envelope: &Envelope,
    created: &[keyhold_shared::msg::CreatedPrivateKey],
    imported: bool,
    now_ms: u64,
) -> Result<OrgState> {
    let mut state = successor_for(org, body, envelope, now_ms)?;
    if state.private_keys.len().saturating_add(created.len()) > crate::org::MAX_PRIVATE_KEYS {
        return Err(Error::invalid(format!(
            "an organization holds at most {} private keys",
            crate::org::MAX_PRIVATE_KEYS
        )));
    }
    state
        .private_keys
        .extend(created.iter().map(|k| crate::org::PrivateKeyMeta {
            id: k.private_key_id,
            name: k.name.clone(),
            tags: k.tags.clone(),
            imported,
            exported: false,
            created_at_ms: now_ms,
        }));
    Ok(state)
}

/// The successor of `org` with private key `id` marked exported (recorded now if the key
/// predates private key metadata).
pub fn with_private_key_exported(
    org: &OrgState,
    body: &[u8],
    envelope: &Envelope,
    id: keyhold_shared::PrivateKeyId,
    now_ms: u64,
) -> Result<OrgState> {
    let mut state = successor_for(org, body, envelope, now_ms)?;
    match state.private_keys.iter_mut().find(|k| k.id == id) {
        Some(meta) => meta.exported = true,
        None => state.private_keys.push(crate::org::PrivateKeyMeta {
            id,
            name: String::new(),
            tags: Vec::new(),
            imported: false,
            exported: true,
            created_at_ms: now_ms,
        }),
    }
    Ok(state)
}

/// What every organization state must satisfy after a change.
pub(super) fn check_invariants(state: &OrgState) -> Result<()> {
    let quorum = &state.root_quorum;
    if quorum.user_ids.iter().any(|id| state.user(id).is_none()) {
        return Err(Error::invalid(
            "root quorum members cannot be deleted; update the root quorum first",
        ));
    }
    let members = u32::try_from(quorum.user_ids.len()).unwrap_or(u32::MAX);
    if quorum.threshold == 0 || quorum.threshold > members {
        return Err(Error::invalid(
            "root quorum threshold must be between 1 and the number of root users",
        ));
    }
    Ok(())
}

/// A fresh random id.
pub fn new_id() -> Result<Uuid> {
    Ok(Uuid::new_v4(random()?))
}

/// A name field: 1 to 256 bytes, not blank.
pub fn check_name(field: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() || value.len() > 256 {
        return Err(Error::invalid(format!("{field} must be 1 to 256 bytes")));
    }
    Ok(())
}

/// Parses a UUID named in the request.
pub fn parse_uuid<T: std::str::FromStr>(field: &str, value: &str) -> Result<T> {
    value.parse().map_err(|_| {
        Error::invalid(format!(
            "{field} `{}` must be a valid UUID",
            value.chars().take(64).collect::<String>()
        ))
    })
}
