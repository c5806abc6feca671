//! Webhook delivery (Turnkey's `ACTIVITY_UPDATES`): after an activity is stored, the host POSTs
//! it to every active endpoint of its organization — and of its parent, whose endpoints receive
//! their sub-organizations' events as in Turnkey — subscribed to activity updates.
//!
//! Delivery never holds up or fails the API request: the committed activity goes into a bounded
//! queue (a full queue drops the event and counts it), and one background task looks up the
//! endpoints and sends, each request with a timeout and a few retries with exponential backoff.
//!
//! The request: `POST` with `Content-Type: application/json`, Turnkey's documented headers
//! `X-Turnkey-Organization-Id`, `X-Turnkey-Event-Type` and `X-Turnkey-Timestamp` (milliseconds),
//! and the body `{"activity": …}` — the activity exactly as `query/get_activity` answers it.
//! Turnkey documents Ed25519 signature headers on its deliveries, signed with Turnkey's key;
//! keyhold sends none (a receiver that verifies Turnkey's signature cannot verify keyhold's).
//!
//! Only `http://` endpoints (the enclave accepts those on the loopback interface only) are
//! delivered: the host has no TLS client, so a delivery to an `https://` endpoint is counted
//! as `unsupported` and skipped.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use keyhold_shared::OrgId;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc};

use crate::store::Store;

/// Events waiting for delivery; beyond it new events are dropped (and counted).
pub const QUEUE_CAPACITY: usize = 1024;
/// How long one attempt may take, connection included.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts per delivery, and the wait before the second (doubled each time).
pub const ATTEMPTS: u32 = 4;
pub const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// Deliveries in flight at once.
const MAX_IN_FLIGHT: usize = 64;

/// The event type keyhold delivers.
pub const ACTIVITY_UPDATES: &str = "ACTIVITY_UPDATES";

struct Event {
    org: OrgId,
    activity: Value,
}

/// The delivery queue; cheap to share.
pub struct Webhooks {
    queue: mpsc::Sender<Event>,
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

impl Webhooks {
    /// Starts the delivery task (on the current Tokio runtime).
    pub fn start(store: Arc<dyn Store>) -> Arc<Self> {
        let (queue, events) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(deliver_all(store, events));
        Arc::new(Webhooks { queue })
    }

    /// Queues activity updates for `org`'s endpoints; never waits.
    pub fn activity_updated(&self, org: OrgId, activity: Value) {
        if self.queue.try_send(Event { org, activity }).is_err() {
            crate::metrics::global().webhook_delivery("dropped");
        }
    }
}

async fn deliver_all(store: Arc<dyn Store>, mut events: mpsc::Receiver<Event>) {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(ATTEMPT_TIMEOUT));
    let client: HttpClient = Client::builder(TokioExecutor::new()).build(connector);
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    while let Some(event) = events.recv().await {
        let urls = match targets(store.as_ref(), event.org).await {
            Ok(urls) => urls,
            Err(e) => {
                tracing::warn!(org = %event.org, error = %e, "webhook endpoints could not be read");
                continue;
            }
        };
        if urls.is_empty() {
            continue;
        }
        let body = Bytes::from(json!({ "activity": event.activity }).to_string());
        for url in urls {
            // Waiting here lets the queue fill (and drop) rather than spawning without bound.
            let Ok(slot) = slots.clone().acquire_owned().await else {
                return;
            };
            let (client, body) = (client.clone(), body.clone());
            tokio::spawn(async move {
                let outcome = deliver(&client, &url, event.org, body).await;
                crate::metrics::global().webhook_delivery(outcome);
                drop(slot);
            });
        }
    }
}

/// The URLs of the active endpoints subscribed to activity updates, of `org` and its parent.
async fn targets(store: &dyn Store, org: OrgId) -> Result<Vec<String>, crate::error::HostError> {
    let mut orgs = vec![org];
    if let Some(parent) = store.parent_of(org).await? {
        orgs.push(parent);
    }
    let mut urls = Vec::new();
    for owner in orgs {
        for endpoint in store.list_webhook_endpoints(owner).await? {
            let Ok(data) = serde_json::from_str::<Value>(&endpoint.data) else {
                continue;
            };
            if let Some(url) = activity_updates_url(&data) {
                urls.push(url.to_owned());
            }
        }
    }
    Ok(urls)
}

/// The URL of an endpoint (`v1WebhookEndpointData`) that takes activity updates now.
pub fn activity_updates_url(data: &Value) -> Option<&str> {
    let active = |v: &Value| v.get("isActive").and_then(Value::as_bool).unwrap_or(true);
    let subscribed = data
        .get("subscriptions")
        .and_then(Value::as_array)
        .is_some_and(|subs| {
            subs.iter().any(|s| {
                s.get("eventType").and_then(Value::as_str) == Some(ACTIVITY_UPDATES) && active(s)
            })
        });
    (active(data) && subscribed)
        .then(|| data.get("url").and_then(Value::as_str))
        .flatten()
}

/// One delivery with its retries: `delivered`, `failed` or `unsupported`.
async fn deliver(client: &HttpClient, url: &str, org: OrgId, body: Bytes) -> &'static str {
    let Ok(uri) = url.parse::<hyper::Uri>() else {
        return "failed";
    };
    if uri.scheme_str() != Some("http") {
        tracing::warn!(org = %org, "webhook endpoint is https: this host has no TLS client");
        return "unsupported";
    }
    let mut backoff = FIRST_BACKOFF;
    for attempt in 1..=ATTEMPTS {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        let request = hyper::Request::post(uri.clone())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::USER_AGENT, "keyhold-webhooks")
            .header("X-Turnkey-Organization-Id", org.to_string())
            .header("X-Turnkey-Event-Type", ACTIVITY_UPDATES)
            .header("X-Turnkey-Timestamp", timestamp.to_string())
            .body(Full::new(body.clone()));
        let Ok(request) = request else {
            return "failed";
        };
        match tokio::time::timeout(ATTEMPT_TIMEOUT, client.request(request)).await {
            Ok(Ok(response)) if response.status().is_success() => return "delivered",
            Ok(Ok(response)) => {
                tracing::debug!(org = %org, attempt, status = %response.status(), "webhook refused");
            }
            Ok(Err(e)) => tracing::debug!(org = %org, attempt, error = %e, "webhook failed"),
            Err(_) => tracing::debug!(org = %org, attempt, "webhook timed out"),
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(backoff).await;
            backoff = backoff.saturating_mul(2);
        }
    }
    tracing::warn!(org = %org, "webhook delivery failed after {ATTEMPTS} attempts");
    "failed"
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::activity_updates_url;

    #[test]
    fn only_active_endpoints_subscribed_to_activity_updates() {
        let endpoint = |active: bool, subs: serde_json::Value| json!({"url": "http://127.0.0.1:1/h", "isActive": active, "subscriptions": subs});
        let on = json!([{"eventType": "ACTIVITY_UPDATES", "isActive": true}]);
        assert_eq!(
            activity_updates_url(&endpoint(true, on.clone())),
            Some("http://127.0.0.1:1/h")
        );
        assert_eq!(activity_updates_url(&endpoint(false, on)), None);
        assert_eq!(
            activity_updates_url(&endpoint(
                true,
                json!([{"eventType": "ACTIVITY_UPDATES", "isActive": false}])
            )),
            None
        );
        assert_eq!(activity_updates_url(&endpoint(true, json!([]))), None);
    }
}
