//! Turnkey's activity request envelope `{type, timestampMs, organizationId, parameters}` and the
//! plain query body `{organizationId, ...}`, parsed from the bytes the client signed.

use keyhold_shared::OrgId;
use keyhold_shared::msg::MAX_BODY_LEN;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{MAX_AGE_MS, MAX_SKEW_MS};
use crate::error::{Error, Result};
use crate::org::OrgState;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    #[serde(rename = "type")]
    pub activity_type: String,
    pub timestamp_ms: String,
    pub organization_id: String,
    pub parameters: serde_json::Value,
    #[serde(default)]
    #[expect(
        dead_code,
        reason = "accepted for compatibility with @turnkey/core; keyhold offers receipts instead"
    )]
    generate_app_proofs: Option<bool>,
}

fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T> {
    if body.len() > MAX_BODY_LEN {
        return Err(Error::invalid("request body too large"));
    }
    serde_json::from_slice(body).map_err(|e| Error::invalid(format!("invalid request body: {e}")))
}

fn check_org(claimed: &str, org: &OrgState) -> Result<()> {
    let id: OrgId = claimed.parse().map_err(|_| {
        Error::invalid(format!(
            "organizationId `{}` must be a valid UUID",
            claimed.chars().take(64).collect::<String>()
        ))
    })?;
    if id != org.org_id {
        return Err(Error::OrganizationMismatch(format!(
            "request is for organization {id}, but the stamp was checked against organization {}",
            org.org_id
        )));
    }
    Ok(())
}

impl Envelope {
    pub fn parse(body: &[u8]) -> Result<Self> {
        parse_json(body)
    }

    pub fn check_organization(&self, org: &OrgState) -> Result<()> {
        check_org(&self.organization_id, org)
    }

    pub fn timestamp(&self) -> Result<u64> {
        self.timestamp_ms.parse().map_err(|_| {
            Error::invalid("timestampMs must be a string of milliseconds since the Unix epoch")
        })
    }

    pub fn check_timestamp(&self, now_ms: u64) -> Result<()> {
        let ts = self.timestamp()?;
        if ts.saturating_add(MAX_AGE_MS) < now_ms {
            return Err(Error::InvalidTime(format!(
                "timestampMs {ts} is more than an hour old"
            )));
        }
        if ts > now_ms.saturating_add(MAX_SKEW_MS) {
            return Err(Error::InvalidTime(format!(
                "timestampMs {ts} is more than five minutes in the future"
            )));
        }
        Ok(())
    }

    /// Decodes `parameters` as the intent type of this activity.
    pub fn parameters<T: DeserializeOwned>(&self) -> Result<T> {
        T::deserialize(&self.parameters)
            .map_err(|e| Error::invalid(format!("invalid parameters: {e}")))
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryBody {
    organization_id: String,
    /// Only an activity's body has one (no query request in Turnkey's API does).
    #[serde(rename = "type")]
    activity_type: Option<serde::de::IgnoredAny>,
}

impl QueryBody {
    pub fn parse(body: &[u8]) -> Result<Self> {
        parse_json(body)
    }

    /// Refuses an activity's body. An activity's stamp is no read credential: activities
    /// publish their stamps (every vote carries one, and webhooks deliver them), and a read has
    /// no time window, so an activity's body and stamp replayed as a read would read as its
    /// signer forever. (The host also asks the enclave to authenticate an activity's body, to
    /// answer a replayed activity from its store: that is `authenticate_query`, which reveals
    /// nothing but who signed.)
    pub fn check_is_query(&self) -> Result<()> {
        match self.activity_type {
            Some(_) => Err(Error::invalid(
                "an activity's signed body cannot be sent as a query",
            )),
            None => Ok(()),
        }
    }

    pub fn check_organization(&self, org: &OrgState) -> Result<()> {
        check_org(&self.organization_id, org)
    }
}
