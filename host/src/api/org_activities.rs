//! The records organization activities add (sub-organizations); which paths accept which
//! activity types is in `endpoints.rs`.

use keyhold_shared::msg::NewSubOrganization;
use keyhold_shared::{OrgId, Uuid};
use serde_json::Value;

use super::error::ApiError;
use crate::store::{AccountRecord, ActivityRecord, OrgRecord, WalletRecord};

/// Whether a stored activity deleted its own organization (a completed
/// `DELETE_SUB_ORGANIZATION`), so its commit unlinks it from its parent.
pub fn deletes_organization(record: &ActivityRecord) -> bool {
    record.activity_type == "ACTIVITY_TYPE_DELETE_SUB_ORGANIZATION"
        && record.status == "ACTIVITY_STATUS_COMPLETED"
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
                updated_at_ms: now,
            })
        }
    };
    Ok(((org, sub.parent_organization_id), wallet, accounts))
}
