//! The third sealed format (passkeys, the spending ledger, private key metadata; no private key
//! tags): still opened, and migrated on the fly; the next change seals it in the current format.
//! Frozen: it must keep decoding blobs sealed before the fourth format. It names the current
//! member types, whose encoding has not changed since; a change to one of them must copy its
//! old form here first (as `v2.rs` does).

use keyhold_shared::OrgId;
use serde::Deserialize;

use super::{PrivateKeyMeta, RootQuorum, StoredPolicy, Tag, User, WalletMeta};
use crate::limits::Entry;

#[derive(Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
pub struct OrgState {
    pub org_id: OrgId,
    pub name: String,
    pub version: u64,
    pub users: Vec<User>,
    pub root_quorum: RootQuorum,
    pub created_at_ms: u64,
    pub policies: Vec<StoredPolicy>,
    pub user_tags: Vec<Tag>,
    pub wallets: Vec<WalletMeta>,
    pub parent_org_id: Option<OrgId>,
    pub recent: Vec<([u8; 16], u64)>,
    pub usage: Vec<Entry>,
    pub private_keys: Vec<PrivateKeyMeta>,
}

impl From<OrgState> for super::OrgState {
    fn from(old: OrgState) -> Self {
        super::OrgState {
            version: old.version,
            users: old.users,
            policies: old.policies,
            user_tags: old.user_tags,
            wallets: old.wallets,
            parent_org_id: old.parent_org_id,
            recent: old.recent,
            usage: old.usage,
            private_keys: old.private_keys,
            ..super::OrgState::new(old.org_id, old.name, old.root_quorum, old.created_at_ms)
        }
    }
}
