//! The organization itself: `UPDATE_ORGANIZATION_NAME` (root quorum only, as in Turnkey — it is
//! in the policy engine's `ROOT_QUORUM_ONLY`) and `DELETE_SUB_ORGANIZATION`, which a
//! sub-organization's own users submit in the sub-organization (Turnkey's swagger: the
//! request's `organizationId` is the sub-organization's; parent users may not act in it).
//!
//! Deletion seals the sub-organization's successor as a tombstone ([`crate::org::OrgSealer`]):
//! from then on every activity and query naming it is refused as deleted, and every earlier
//! state of it is stale, so a host that keeps sending the old sealed state is refused too
//! (across an enclave restart, `AuditLog::resume` refuses an old state presented with the
//! deletion's receipt; docs/rollback.md says what is left). The parent's sealed state never
//! listed its sub-organizations (creating thousands must not serialize on it), so it needs no
//! change: the host unlinks the sub-organization from the parent in its records, which is what
//! `list_suborgs` reads.

use serde::Deserialize;
use serde_json::{Value, json};

use super::envelope::Envelope;
use super::organization::check_name;
use crate::error::{Error, Result};
use crate::org::OrgState;

pub fn update_organization_name(
    state: &mut OrgState,
    envelope: &Envelope,
    _now_ms: u64,
) -> Result<Value> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Intent {
        organization_name: String,
    }
    let intent: Intent = envelope.parameters()?;
    check_name("organizationName", &intent.organization_name)?;
    state.name = intent.organization_name;
    Ok(json!({"updateOrganizationNameResult": {
        "organizationId": state.org_id.to_string(),
        "organizationName": state.name,
    }}))
}

/// `deleteWithoutExport` (default false), as Turnkey documents it: "deletion, by default,
/// requires associated wallets and private keys to be exported". Wallets and keys are those the
/// sealed state records (every one created since the state kept wallet and key metadata).
pub fn delete_sub_organization(
    state: &mut OrgState,
    envelope: &Envelope,
    now_ms: u64,
) -> Result<Value> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Intent {
        delete_without_export: Option<bool>,
    }
    let intent: Intent = envelope.parameters()?;
    if state.parent_org_id.is_none() {
        return Err(Error::invalid(format!(
            "organization {} is not a sub-organization; only sub-organizations can be deleted",
            state.org_id
        )));
    }
    if !intent.delete_without_export.unwrap_or(false) {
        let wallets = state.wallets.iter().filter(|w| !w.exported).count();
        let keys = state.private_keys.iter().filter(|k| !k.exported).count();
        if wallets > 0 || keys > 0 {
            return Err(Error::invalid(format!(
                "the sub-organization holds {wallets} wallet(s) and {keys} private key(s) that \
                 were never exported: export them first, or set deleteWithoutExport to delete \
                 them with it"
            )));
        }
    }
    state.deleted_at_ms = Some(now_ms);
    tracing::info!(organization = %state.org_id, "sub-organization deleted");
    Ok(json!({"deleteSubOrganizationResult": {
        "subOrganizationUuid": state.org_id.to_string(),
    }}))
}
