//! A parent organization's credentials on its sub-organizations, the way Turnkey treats them:
//! "the parent organization has read-only visibility into all of its sub-organizations" and
//! "parent orgs cannot modify the contents of a sub-org" (docs: concepts/sub-organizations,
//! concepts/overview). So a parent user's stamp authenticates queries on a sub-organization and
//! no activity. (Turnkey's exceptions, the email/OTP login activities a parent starts for a
//! sub-organization, are not implemented by keyhold.)
//!
//! The host names the parent by handing over its sealed state; the link is checked against the
//! parent id sealed inside the sub-organization's state, so a host cannot make one organization's
//! users readers of another's data.

use keyhold_shared::msg::{SealedOrgState, SignedRequest};

use super::authenticate;
use crate::error::{Error, Result};
use crate::org::{OrgSealer, OrgState};

/// Refuses unless `parent` is the parent organization sealed into `org`.
pub fn check(org: &OrgState, parent: &OrgState) -> Result<()> {
    if org.parent_org_id == Some(parent.org_id) {
        Ok(())
    } else {
        Err(Error::OrganizationMismatch(format!(
            "organization {} is not the parent organization of {}",
            parent.org_id, org.org_id
        )))
    }
}

/// Opens the parent state the host passed along with `org`'s, checking the link.
pub fn open(sealer: &OrgSealer, org: &OrgState, sealed: &SealedOrgState) -> Result<OrgState> {
    let parent = sealer.open(sealed)?;
    check(org, &parent)?;
    Ok(parent)
}

/// For an activity on the sub-organization `org`: refuses it with Turnkey's organization
/// mismatch when the stamp is a parent user's. A stamp by nobody of the parent passes through,
/// and the activity's own authentication (against `org` only) decides.
pub fn refuse_parent_activity(
    org: &OrgState,
    parent: &OrgState,
    request: &SignedRequest,
    now_ms: u64,
) -> Result<()> {
    check(org, parent)?;
    if authenticate(org, request, now_ms).is_ok() {
        return Ok(());
    }
    match authenticate(parent, request, now_ms) {
        Ok(auth) => Err(Error::OrganizationMismatch(format!(
            "user {} of the parent organization {} may read sub-organization {} but not submit activities in it",
            auth.user.id, parent.org_id, org.org_id
        ))),
        Err(_) => Ok(()),
    }
}
