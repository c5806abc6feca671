//! The organization activities (users, API keys, passkeys, tags, policies, root quorum) the host
//! routes to the enclave, by path; older versions that shipped SDKs still send are accepted.

use keyhold_shared::msg::NewSubOrganization;
use keyhold_shared::{OrgId, Uuid};
use serde_json::Value;

use super::error::ApiError;
use crate::store::{AccountRecord, OrgRecord, WalletRecord};

pub fn accepted_types(path: &str) -> Option<&'static [&'static str]> {
    Some(match path {
        "create_users" => &[
            "ACTIVITY_TYPE_CREATE_USERS_V4",
            "ACTIVITY_TYPE_CREATE_USERS_V3",
            "ACTIVITY_TYPE_CREATE_USERS_V2",
        ],
        "delete_users" => &["ACTIVITY_TYPE_DELETE_USERS"],
        "create_api_keys" => &[
            "ACTIVITY_TYPE_CREATE_API_KEYS_V2",
            "ACTIVITY_TYPE_CREATE_API_KEYS",
        ],
        "delete_api_keys" => &["ACTIVITY_TYPE_DELETE_API_KEYS"],
        "create_authenticators" => &["ACTIVITY_TYPE_CREATE_AUTHENTICATORS_V2"],
        "delete_authenticators" => &["ACTIVITY_TYPE_DELETE_AUTHENTICATORS"],
        "create_user_tag" => &["ACTIVITY_TYPE_CREATE_USER_TAG"],
        "update_user_tag" => &["ACTIVITY_TYPE_UPDATE_USER_TAG"],
        "delete_user_tags" => &["ACTIVITY_TYPE_DELETE_USER_TAGS"],
        "update_root_quorum" => &["ACTIVITY_TYPE_UPDATE_ROOT_QUORUM"],
        "create_policy" => &["ACTIVITY_TYPE_CREATE_POLICY_V3"],
        "create_policies" => &["ACTIVITY_TYPE_CREATE_POLICIES"],
        "update_policy" => &[
            "ACTIVITY_TYPE_UPDATE_POLICY_V2",
            "ACTIVITY_TYPE_UPDATE_POLICY",
        ],
        "delete_policy" => &["ACTIVITY_TYPE_DELETE_POLICY"],
        "delete_policies" => &["ACTIVITY_TYPE_DELETE_POLICIES"],
        "approve_activity" => &["ACTIVITY_TYPE_APPROVE_ACTIVITY"],
        "reject_activity" => &["ACTIVITY_TYPE_REJECT_ACTIVITY"],
        "create_sub_organization" => &[
            "ACTIVITY_TYPE_CREATE_SUB_ORGANIZATION_V8",
            "ACTIVITY_TYPE_CREATE_SUB_ORGANIZATION_V7",
        ],
        _ => return None,
    })
}

type SubOrgRecords = ((OrgRecord, OrgId), Option<WalletRecord>, Vec<AccountRecord>);

/// The records a new sub-organization adds: the organization (with its parent), and its first
/// wallet with accounts (curve and formats echoed from the signed `wallet.accounts`).
pub fn sub_org_records(
    sub: NewSubOrganization,
    parameters: &Value,
    now: u64,
) -> Result<SubOrgRecords, ApiError> {
    let org = OrgRecord {
        id: sub.organization_id,
        name: sub.name,
        sealed: sub.sealed_state,
        created_at_ms: now,
    };
    let mut accounts = Vec::new();
    let wallet = match sub.wallet {
        None => None,
        Some(w) => {
            let params: Vec<Value> = parameters
                .pointer("/wallet/accounts")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for (i, account) in w.accounts.into_iter().enumerate() {
                let field = |k: &str| {
                    params
                        .get(i)
                        .and_then(|p| p.get(k))
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                accounts.push(AccountRecord {
                    id: Uuid::new_v4(*crate::operator::random_bytes::<16>()?).to_string(),
                    org: sub.organization_id,
                    wallet: w.wallet_id,
                    curve: field("curve"),
                    path_format: field("pathFormat"),
                    path: account.path,
                    address_format: field("addressFormat"),
                    address: account.address,
                    public_key: hex::encode(&account.public_key),
                    created_at_ms: now,
                });
            }
            Some(WalletRecord {
                id: w.wallet_id,
                org: sub.organization_id,
                name: w.wallet_name,
                sealed_seed: w.sealed_seed,
                created_at_ms: now,
                imported: false,
                exported: false,
            })
        }
    };
    Ok(((org, sub.parent_organization_id), wallet, accounts))
}
