//! The second sealed format (users with tags, organizations with policies, wallets and replay
//! memory; users without passkeys): still opened, and migrated on the fly; the next change seals
//! it in the current format. Frozen: these types must keep decoding blobs sealed before the
//! third format, so they never change.

use keyhold_shared::{OrgId, UserId};
use serde::Deserialize;

use super::{ApiKey, RootQuorum, StoredPolicy, Tag, WalletMeta};

#[derive(Deserialize)]
pub struct OrgState {
    org_id: OrgId,
    name: String,
    version: u64,
    users: Vec<User>,
    root_quorum: RootQuorum,
    created_at_ms: u64,
    policies: Vec<StoredPolicy>,
    user_tags: Vec<Tag>,
    wallets: Vec<WalletMeta>,
    parent_org_id: Option<OrgId>,
    recent: Vec<([u8; 16], u64)>,
}

#[derive(Deserialize)]
struct User {
    id: UserId,
    name: String,
    email: Option<String>,
    phone_number: Option<String>,
    api_keys: Vec<ApiKey>,
    tags: Vec<String>,
    created_at_ms: u64,
    updated_at_ms: u64,
}

impl From<OrgState> for super::OrgState {
    fn from(old: OrgState) -> Self {
        super::OrgState {
            version: old.version,
            users: old
                .users
                .into_iter()
                .map(|u| super::User {
                    id: u.id,
                    name: u.name,
                    email: u.email,
                    phone_number: u.phone_number,
                    api_keys: u.api_keys,
                    tags: u.tags,
                    created_at_ms: u.created_at_ms,
                    updated_at_ms: u.updated_at_ms,
                    authenticators: Vec::new(),
                })
                .collect(),
            policies: old.policies,
            user_tags: old.user_tags,
            wallets: old.wallets,
            parent_org_id: old.parent_org_id,
            recent: old.recent,
            ..super::OrgState::new(old.org_id, old.name, old.root_quorum, old.created_at_ms)
        }
    }
}
