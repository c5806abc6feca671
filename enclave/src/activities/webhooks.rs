//! Webhook endpoints: `CREATE_WEBHOOK_ENDPOINT`, `UPDATE_WEBHOOK_ENDPOINT` and
//! `DELETE_WEBHOOK_ENDPOINT` (policy resource `WEBHOOK_ENDPOINT`).
//!
//! An endpoint's configuration is not secret and only the host can deliver to it, so it is not
//! kept in the sealed organization state: these activities go through the enclave to be
//! authenticated, authorized by the organization's policies and validated, and the enclave
//! answers the normalized endpoint in the activity's result (which its audit receipt covers).
//! The host stores the endpoint from that result and delivers to it.
//!
//! What if the host lies? For an update or a deletion the host supplies the stored endpoint
//! ([`ActivityContext::WebhookEndpoint`]): it must name the signed endpoint id in this
//! organization; an update validates again what it keeps of it, a deletion needs nothing more
//! (an endpoint stored under older, looser rules can still be repaired or deleted). A host that invents or alters an endpoint gains nothing it
//! could not do without the enclave — it holds the table and sends the requests — and the
//! receipt records exactly the endpoint the enclave answered.

use keyhold_shared::Uuid;
use keyhold_shared::msg::{ActivityContext, ActivityResult};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::Allowed;
use super::envelope::Envelope;
use crate::error::{Error, Result, clip};
use crate::org::OrgState;
use crate::secrets::random;

/// Longest endpoint URL and name (characters), and most subscriptions per endpoint.
pub const MAX_URL_LEN: usize = 2048;
pub const MAX_NAME_LEN: usize = 256;
pub const MAX_SUBSCRIPTIONS: usize = 8;
/// Longest stored endpoint the host may hand back (bytes).
const MAX_STORED_LEN: usize = 16 * 1024;

/// Turnkey's webhook event types (`v1WebhookSubscriptionParams.eventType`).
const EVENT_TYPES: &[&str] = &[
    "ACTIVITY_UPDATES",
    "BALANCE_CONFIRMED_UPDATES",
    "BALANCE_FINALIZED_UPDATES",
    "SEND_TRANSACTION_STATUS_UPDATES",
];
/// The one event type keyhold delivers: the others need a chain indexer or a broadcaster.
const ACTIVITY_UPDATES: &str = "ACTIVITY_UPDATES";

/// Whether this module runs activity type `kind`.
pub fn handles(kind: &str) -> bool {
    matches!(
        kind,
        "ACTIVITY_TYPE_CREATE_WEBHOOK_ENDPOINT"
            | "ACTIVITY_TYPE_UPDATE_WEBHOOK_ENDPOINT"
            | "ACTIVITY_TYPE_DELETE_WEBHOOK_ENDPOINT"
    )
}

/// Runs an authorized webhook endpoint activity. Changes no organization state.
pub fn run(
    org: &OrgState,
    envelope: &Envelope,
    context: &ActivityContext,
    _allowed: Allowed,
) -> Result<ActivityResult> {
    let result = match envelope.activity_type.as_str() {
        "ACTIVITY_TYPE_CREATE_WEBHOOK_ENDPOINT" => create(org, envelope)?,
        "ACTIVITY_TYPE_UPDATE_WEBHOOK_ENDPOINT" => update(org, envelope, context)?,
        "ACTIVITY_TYPE_DELETE_WEBHOOK_ENDPOINT" => delete(org, envelope, context)?,
        other => {
            return Err(Error::Unsupported(format!(
                "activity type `{}`",
                clip(other)
            )));
        }
    };
    Ok(ActivityResult::Organization {
        result_json: result.to_string(),
        sub_organization: None,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Subscription {
    event_type: String,
    filters_json: Option<String>,
    is_active: Option<bool>,
}

/// A webhook endpoint (Turnkey's `v1WebhookEndpointData`), validated.
struct Endpoint {
    id: String,
    url: String,
    name: String,
    is_active: bool,
    subscriptions: Vec<Value>,
}

impl Endpoint {
    fn json(&self, org: &OrgState) -> Value {
        json!({
            "endpointId": self.id,
            "organizationId": org.org_id.to_string(),
            "url": self.url,
            "name": self.name,
            "isActive": self.is_active,
            "subscriptions": self.subscriptions,
        })
    }
}

fn create(org: &OrgState, envelope: &Envelope) -> Result<Value> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Intent {
        url: String,
        name: String,
        #[serde(default)]
        subscriptions: Vec<Subscription>,
    }
    let intent: Intent = envelope.parameters()?;
    let endpoint = Endpoint {
        id: Uuid::new_v4(random()?).to_string(),
        url: url(&intent.url)?,
        name: name(&intent.name)?,
        is_active: true,
        subscriptions: subscriptions(intent.subscriptions)?,
    };
    Ok(json!({"createWebhookEndpointResult": {
        "endpointId": endpoint.id,
        "webhookEndpoint": endpoint.json(org),
    }}))
}

fn update(org: &OrgState, envelope: &Envelope, context: &ActivityContext) -> Result<Value> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Intent {
        endpoint_id: String,
        url: Option<String>,
        name: Option<String>,
        is_active: Option<bool>,
    }
    let intent: Intent = envelope.parameters()?;
    let stored: StoredEndpoint = host_copy(org, &intent.endpoint_id, context)?;
    // What the answer keeps from the host's copy is validated again; what the intent replaces
    // is not (an endpoint whose URL older rules allowed can be given a new one).
    let endpoint = Endpoint {
        id: stored.endpoint_id,
        url: url(intent.url.as_deref().unwrap_or(&stored.url))?,
        name: name(intent.name.as_deref().unwrap_or(&stored.name))?,
        is_active: intent.is_active.unwrap_or(stored.is_active),
        subscriptions: subscriptions(stored.subscriptions)?,
    };
    Ok(json!({"updateWebhookEndpointResult": {
        "endpointId": endpoint.id,
        "webhookEndpoint": endpoint.json(org),
    }}))
}

fn delete(org: &OrgState, envelope: &Envelope, context: &ActivityContext) -> Result<Value> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Intent {
        endpoint_id: String,
    }
    let intent: Intent = envelope.parameters()?;
    // Only whose endpoint it is matters here: one stored under older, looser rules (a URL this
    // version refuses, say) must still be deletable.
    let endpoint: StoredIdentity = host_copy(org, &intent.endpoint_id, context)?;
    Ok(json!({"deleteWebhookEndpointResult": {"endpointId": endpoint.endpoint_id}}))
}

/// The host's copy of an endpoint, as the host sent it (its fields not yet validated).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredEndpoint {
    endpoint_id: String,
    organization_id: String,
    url: String,
    name: String,
    is_active: bool,
    #[serde(default)]
    subscriptions: Vec<Subscription>,
}

/// Only whose endpoint the host's copy is: all a deletion needs.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredIdentity {
    endpoint_id: String,
    organization_id: String,
}

trait Identified {
    fn identity(&self) -> (&str, &str);
}

impl Identified for StoredEndpoint {
    fn identity(&self) -> (&str, &str) {
        (&self.endpoint_id, &self.organization_id)
    }
}

impl Identified for StoredIdentity {
    fn identity(&self) -> (&str, &str) {
        (&self.endpoint_id, &self.organization_id)
    }
}

/// The host's copy of the endpoint stored under the signed `endpoint_id`, read as `T`, if it
/// is that endpoint of this organization.
fn host_copy<T: DeserializeOwned + Identified>(
    org: &OrgState,
    endpoint_id: &str,
    context: &ActivityContext,
) -> Result<T> {
    let not_found = || Error::NotFound(format!("webhook endpoint {} not found", clip(endpoint_id)));
    let ActivityContext::WebhookEndpoint { endpoint_json } = context else {
        return Err(not_found());
    };
    if endpoint_json.len() > MAX_STORED_LEN {
        return Err(Error::invalid("the stored webhook endpoint is too large"));
    }
    let stored: T = serde_json::from_str(endpoint_json)
        .map_err(|_| Error::invalid("the stored webhook endpoint is malformed"))?;
    // Another endpoint, or one of another organization, is as unknown as a missing one.
    let (id, owner) = stored.identity();
    if id != endpoint_id || owner != org.org_id.to_string() {
        return Err(not_found());
    }
    Ok(stored)
}

fn name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_LEN {
        return Err(Error::invalid(format!(
            "webhook endpoint name must be 1 to {MAX_NAME_LEN} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "webhook endpoint name must not contain control characters",
        ));
    }
    Ok(name.to_owned())
}

/// Checks a delivery URL: `https://host[:port][/path]`, or `http://` to the loopback interface
/// only (a development receiver on the host's own machine). No credentials in the URL.
pub fn url(url: &str) -> Result<String> {
    let bad = |why: &str| Error::invalid(format!("invalid webhook endpoint url: {why}"));
    if url.len() > MAX_URL_LEN {
        return Err(bad("too long"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) || !url.is_ascii() {
        return Err(bad("it must be printable ASCII without spaces"));
    }
    let lower = url.to_ascii_lowercase();
    let (https, rest) = if let Some(rest) = lower.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = lower.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(bad("the scheme must be https"));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(bad("credentials are not allowed in the url"));
    }
    let host = match authority.rsplit_once(':') {
        // `[::1]` has colons of its own: a port follows the closing bracket.
        Some((host, port)) if !port.contains(']') => {
            if port.is_empty()
                || !port.bytes().all(|b| b.is_ascii_digit())
                || port.parse::<u16>().map_or(true, |p| p == 0)
            {
                return Err(bad("invalid port"));
            }
            host
        }
        _ => authority,
    };
    let valid_host = match host.strip_prefix('[') {
        Some(v6) => v6
            .strip_suffix(']')
            .is_some_and(|a| a.parse::<std::net::Ipv6Addr>().is_ok()),
        None => {
            !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
                && !host.starts_with(['.', '-'])
        }
    };
    if !valid_host {
        return Err(bad("invalid host"));
    }
    if !https && !matches!(host, "localhost" | "127.0.0.1" | "[::1]") {
        return Err(bad(
            "the scheme must be https (http only to localhost, 127.0.0.1 or [::1])",
        ));
    }
    Ok(url.to_owned())
}

/// Checks subscriptions and writes them out normalized (`isActive` explicit).
fn subscriptions(list: Vec<Subscription>) -> Result<Vec<Value>> {
    if list.len() > MAX_SUBSCRIPTIONS {
        return Err(Error::invalid(format!(
            "a webhook endpoint has at most {MAX_SUBSCRIPTIONS} subscriptions"
        )));
    }
    let mut seen: Vec<String> = Vec::new();
    let mut out = Vec::with_capacity(list.len());
    for s in list {
        if !EVENT_TYPES.contains(&s.event_type.as_str()) {
            return Err(Error::invalid(format!(
                "invalid value for enum field eventType: `{}` (expected one of {})",
                clip(&s.event_type),
                EVENT_TYPES.join(", ")
            )));
        }
        if s.event_type != ACTIVITY_UPDATES {
            return Err(Error::Unsupported(format!(
                "webhook event type `{}` (keyhold delivers ACTIVITY_UPDATES only: it has no chain \
                 indexer or transaction broadcaster)",
                s.event_type
            )));
        }
        // Filters would drop events keyhold would still send: refuse rather than ignore.
        if s.filters_json
            .as_deref()
            .is_some_and(|f| !matches!(f.trim(), "" | "{}"))
        {
            return Err(Error::Unsupported(
                "webhook subscription filters (filtersJson)".to_owned(),
            ));
        }
        if seen.contains(&s.event_type) {
            return Err(Error::invalid(format!(
                "event type `{}` is subscribed twice",
                s.event_type
            )));
        }
        out.push(json!({"eventType": s.event_type, "isActive": s.is_active.unwrap_or(true)}));
        seen.push(s.event_type);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::url;

    #[test]
    fn urls() {
        for ok in [
            "https://example.com/hooks/turnkey",
            "https://example.com:8443",
            "HTTPS://Example.COM/x?y=1#z",
            "http://localhost:8080/hook",
            "http://127.0.0.1:9/x",
            "http://[::1]:3000/",
            "https://[2001:db8::1]/",
        ] {
            assert_eq!(url(ok).unwrap(), ok, "{ok}");
        }
        for bad in [
            "",
            "ftp://example.com",
            "example.com",
            "http://example.com/hook",
            "http://10.0.0.1/hook",
            "http://localhost.evil.com/",
            "https://user:pw@example.com/",
            "https:///path",
            "https://exa mple.com",
            "https://example.com:0/",
            "https://example.com:99999/",
            "https://example.com:/",
            "https://[zz]/",
            "https://-example.com/",
            "https://ex\u{e4}mple.com/",
        ] {
            assert!(url(bad).is_err(), "{bad:?} accepted");
        }
        assert!(url(&format!("https://example.com/{}", "a".repeat(2048))).is_err());
    }
}
