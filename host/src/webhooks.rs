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
//! and the body `{"activity": …}` — the activity as `query/get_activity` answers it, less a
//! read-only session's token (a bearer credential: [`without_session_token`]).
//! Every attempt is signed as Turnkey signs its deliveries (Ed25519, the `X-Turnkey-Signature*`
//! headers and `X-Turnkey-Event-Id`), with this deployment's key: `signing.rs`.
//!
//! `https://` endpoints are reached over TLS (rustls; Mozilla's roots plus any the operator
//! adds) at public addresses only unless the operator allows private networks; `http://` ones
//! (which the enclave accepts on the loopback interface only) only then, at loopback addresses:
//! `guard.rs` says why and how. A delivery the guard refuses is counted as `blocked`.

mod client;
mod guard;
mod signing;
#[cfg(test)]
mod tls_tests;

pub use client::DeliveryOptions;
use client::{Clients, Refusal};
pub use signing::Signer;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::Full;
use hyper::body::Bytes;
use keyhold_shared::OrgId;
use serde_json::Value;
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

/// How long an organization's endpoint list is reused before the store is read again. Changes
/// made through this host take effect at once (a webhook activity clears the lists); changes
/// made through another host sharing the database, within this long.
const TARGETS_TTL: Duration = Duration::from_secs(1);
/// Most organizations whose endpoint lists are remembered (then all are forgotten).
const MAX_CACHED_ORGS: usize = 100_000;

/// The event type keyhold delivers.
pub const ACTIVITY_UPDATES: &str = "ACTIVITY_UPDATES";

struct Event {
    org: OrgId,
    /// The activity's JSON text.
    activity: String,
}

/// The delivery queue; cheap to share.
pub struct Webhooks {
    queue: mpsc::Sender<Event>,
    /// Signs every delivery (`signing.rs`); its public half is served for receivers.
    signer: Arc<Signer>,
    /// Each organization's delivery URLs (its own and its parent's endpoints) as last read.
    /// Without it every activity cost two or three store reads in the delivery task, and a
    /// copy of its JSON, also for the organizations (nearly all) that have no endpoint.
    targets: Arc<Targets>,
}

/// When an organization's list was read, and its URLs.
type Read = (Instant, Arc<Vec<String>>);

#[derive(Default)]
struct Targets {
    by_org: Mutex<HashMap<OrgId, Read>>,
    /// Bumped by [`Targets::forget_all`]: a list read from the store before an endpoint
    /// changed must not be remembered after (it would hide the change for the TTL).
    generation: std::sync::atomic::AtomicU64,
}

impl Targets {
    fn fresh(&self, org: OrgId) -> Option<Arc<Vec<String>>> {
        let by_org = self.by_org.lock().ok()?;
        let (read_at, urls) = by_org.get(&org)?;
        (read_at.elapsed() < TARGETS_TTL).then(|| urls.clone())
    }

    fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Remembers a list read from the store while the generation was `read_in`.
    fn remember(&self, org: OrgId, read_in: u64, urls: Arc<Vec<String>>) {
        if let Ok(mut by_org) = self.by_org.lock() {
            // Checked under the lock `forget_all` takes, so a change cannot slip in between.
            if self.generation() != read_in {
                return;
            }
            if by_org.len() >= MAX_CACHED_ORGS {
                by_org.clear();
            }
            by_org.insert(org, (Instant::now(), urls));
        }
    }

    /// After an endpoint changed: a parent's endpoints are in its children's lists too.
    fn forget_all(&self) {
        if let Ok(mut by_org) = self.by_org.lock() {
            self.generation
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            by_org.clear();
        }
    }
}

impl Webhooks {
    /// Starts the delivery task (on the current Tokio runtime); fails on unusable options
    /// (a CA file that cannot be read).
    pub fn start(
        store: Arc<dyn Store>,
        options: &DeliveryOptions,
        signer: Signer,
    ) -> Result<Arc<Self>, crate::error::HostError> {
        let clients = Arc::new(Clients::new(options)?);
        let signer = Arc::new(signer);
        let (queue, events) = mpsc::channel(QUEUE_CAPACITY);
        let targets = Arc::new(Targets::default());
        tokio::spawn(deliver_all(
            store,
            events,
            targets.clone(),
            clients,
            signer.clone(),
        ));
        Ok(Arc::new(Webhooks {
            queue,
            signer,
            targets,
        }))
    }

    /// The key deliveries are signed with.
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// Queues activity updates for `org`'s endpoints; never waits. An organization known to
    /// have no endpoint costs nothing more.
    /// `activity` is the activity's JSON text.
    pub fn activity_updated(&self, org: OrgId, activity_type: &str, activity: &str) {
        if activity_type.contains("WEBHOOK_ENDPOINT") {
            self.targets.forget_all();
        } else if self.targets.fresh(org).is_some_and(|urls| urls.is_empty()) {
            return;
        }
        let activity = if activity_type == READ_ONLY_SESSION {
            match without_session_token(activity) {
                Some(redacted) => redacted,
                None => return,
            }
        } else {
            activity.to_owned()
        };
        let event = Event { org, activity };
        if self.queue.try_send(event).is_err() {
            crate::metrics::global().webhook_delivery("dropped");
        }
    }
}

const READ_ONLY_SESSION: &str = "ACTIVITY_TYPE_CREATE_READ_ONLY_SESSION";

/// A read-only session activity without its session token. The token is a bearer credential
/// (whoever holds it reads the organization as its user for an hour): its caller gets it in
/// the answer, and the organization's users can read it back as in Turnkey, but an endpoint
/// that only receives activity updates must not be able to read the organization with it.
/// `None` (nothing delivered) when the activity cannot be read to take it out.
fn without_session_token(activity: &str) -> Option<String> {
    let mut activity: serde_json::Value = serde_json::from_str(activity).ok()?;
    if let Some(result) = activity
        .pointer_mut("/result/createReadOnlySessionResult")
        .and_then(serde_json::Value::as_object_mut)
    {
        result.remove("session");
    }
    Some(activity.to_string())
}

async fn deliver_all(
    store: Arc<dyn Store>,
    mut events: mpsc::Receiver<Event>,
    cache: Arc<Targets>,
    client: Arc<Clients>,
    signer: Arc<Signer>,
) {
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    while let Some(event) = events.recv().await {
        let read_in = cache.generation();
        let urls = match cache.fresh(event.org) {
            Some(urls) => urls,
            None => match targets(store.as_ref(), event.org).await {
                Ok(urls) => {
                    let urls = Arc::new(urls);
                    cache.remember(event.org, read_in, urls.clone());
                    urls
                }
                Err(e) => {
                    tracing::warn!(org = %event.org, error = %e, "webhook endpoints could not be read");
                    continue;
                }
            },
        };
        if urls.is_empty() {
            continue;
        }
        let body = Bytes::from(format!(r#"{{"activity":{}}}"#, event.activity));
        // One id per event, the same for every endpoint and attempt: receivers dedupe by it.
        let Ok(random) = crate::operator::random_bytes::<16>() else {
            tracing::error!("no randomness for a webhook event id; event dropped");
            crate::metrics::global().webhook_delivery("dropped");
            continue;
        };
        let event_id: Arc<str> = keyhold_shared::Uuid::new_v4(*random).to_string().into();
        for url in urls.iter() {
            // Waiting here lets the queue fill (and drop) rather than spawning without bound.
            let Ok(slot) = slots.clone().acquire_owned().await else {
                return;
            };
            let (client, body, url) = (client.clone(), body.clone(), url.clone());
            let (signer, event_id) = (signer.clone(), event_id.clone());
            tokio::spawn(async move {
                let delivery = Delivery {
                    org: event.org,
                    event_id: &event_id,
                    body,
                };
                let outcome = deliver(&client, &signer, &url, delivery).await;
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

/// What one endpoint is sent for one event.
struct Delivery<'a> {
    org: OrgId,
    event_id: &'a str,
    body: Bytes,
}

/// One delivery with its retries: `delivered`, `failed` or `blocked`.
async fn deliver(
    client: &Clients,
    signer: &Signer,
    url: &str,
    delivery: Delivery<'_>,
) -> &'static str {
    let Delivery {
        org,
        event_id,
        body,
    } = delivery;
    let Ok(uri) = url.parse::<hyper::Uri>() else {
        return "failed";
    };
    match client.check(&uri) {
        Ok(()) => {}
        Err(Refusal::Unusable) => return "failed",
        Err(Refusal::Blocked) => {
            tracing::warn!(org = %org, "webhook endpoint is an address deliveries may not reach");
            return "blocked";
        }
    }
    let mut backoff = FIRST_BACKOFF;
    for attempt in 1..=ATTEMPTS {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis()
            .to_string();
        let signature = signer.sign(&timestamp, event_id, &body);
        let request = hyper::Request::post(uri.clone())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::USER_AGENT, "keyhold-webhooks")
            .header("X-Turnkey-Organization-Id", org.to_string())
            .header("X-Turnkey-Event-Type", ACTIVITY_UPDATES)
            .header("X-Turnkey-Event-Id", event_id)
            .header("X-Turnkey-Timestamp", &timestamp)
            .header("X-Turnkey-Signature-Version", signing::SIGNATURE_VERSION)
            .header(
                "X-Turnkey-Signature-Algorithm",
                signing::SIGNATURE_ALGORITHM,
            )
            .header("X-Turnkey-Signature-Key-Id", signer.key_id())
            .header("X-Turnkey-Signature", signature)
            .body(Full::new(body.clone()));
        let Ok(request) = request else {
            return "failed";
        };
        match tokio::time::timeout(ATTEMPT_TIMEOUT, client.send(request)).await {
            Ok(Ok(response)) if response.status().is_success() => return "delivered",
            Ok(Ok(response)) => {
                tracing::debug!(org = %org, attempt, status = %response.status(), "webhook refused");
            }
            Ok(Err(e)) if refused_by_guard(&e) => {
                tracing::warn!(org = %org, "webhook endpoint resolves to no address deliveries may reach");
                return "blocked";
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

/// Whether the address guard refused every address of the endpoint's name (no retry helps).
fn refused_by_guard(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(e) = source {
        // An `io::Error`'s `source` skips the error it wraps: look inside.
        let wrapped = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref());
        if e.is::<guard::Unreachable>() || wrapped.is_some_and(|w| w.is::<guard::Unreachable>()) {
            return true;
        }
        source = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::activity_updates_url;

    /// Webhooks whose queue the test reads (no delivery task), and their organization.
    fn queued_hooks() -> (
        super::Webhooks,
        tokio::sync::mpsc::Receiver<super::Event>,
        keyhold_shared::OrgId,
        tempfile::TempDir,
    ) {
        let (queue, events) = tokio::sync::mpsc::channel(8);
        let dir = tempfile::tempdir().unwrap();
        let hooks = super::Webhooks {
            queue,
            signer: super::Arc::new(
                super::Signer::load_or_create(&dir.path().join("k"))
                    .unwrap()
                    .0,
            ),
            targets: super::Arc::new(super::Targets::default()),
        };
        let org = keyhold_shared::OrgId(keyhold_shared::Uuid::from_bytes([1; 16]));
        (hooks, events, org, dir)
    }

    #[test]
    fn an_organization_known_to_have_no_endpoint_queues_nothing() {
        use super::Arc;
        let (hooks, mut events, org, _dir) = queued_hooks();
        let sign = "ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2";
        let mut queued = || {
            let mut n = 0;
            while events.try_recv().is_ok() {
                n += 1;
            }
            n
        };
        // not known yet: queued, the delivery task looks the endpoints up
        hooks.activity_updated(org, sign, "{}");
        assert_eq!(queued(), 1);
        // known to have none: nothing queued
        hooks
            .targets
            .remember(org, hooks.targets.generation(), Arc::new(vec![]));
        hooks.activity_updated(org, sign, "{}");
        assert_eq!(queued(), 0);
        // known to have one: queued
        hooks.targets.remember(
            org,
            hooks.targets.generation(),
            Arc::new(vec!["http://127.0.0.1:1/h".into()]),
        );
        hooks.activity_updated(org, sign, "{}");
        assert_eq!(queued(), 1);
        // an endpoint changed: every list is read again
        hooks
            .targets
            .remember(org, hooks.targets.generation(), Arc::new(vec![]));
        hooks.activity_updated(org, "ACTIVITY_TYPE_CREATE_WEBHOOK_ENDPOINT", "{}");
        assert_eq!(queued(), 1);
        assert!(hooks.targets.fresh(org).is_none());
        // a list read before that change is not remembered after it
        let stale = hooks.targets.generation();
        hooks.activity_updated(org, "ACTIVITY_TYPE_UPDATE_WEBHOOK_ENDPOINT", "{}");
        hooks.targets.remember(org, stale, Arc::new(vec![]));
        assert!(hooks.targets.fresh(org).is_none());
    }

    #[test]
    fn read_only_session_tokens_are_not_delivered() {
        let activity = json!({"id": "a", "type": "ACTIVITY_TYPE_CREATE_READ_ONLY_SESSION",
            "result": {"createReadOnlySessionResult": {"organizationId": "o", "userId": "u",
                "session": "eyJhbGciOi.bearer.token", "sessionExpiry": "1700000000"}}});
        let delivered: serde_json::Value =
            serde_json::from_str(&super::without_session_token(&activity.to_string()).unwrap())
                .unwrap();
        let mut expected = activity.clone();
        expected["result"]["createReadOnlySessionResult"]
            .as_object_mut()
            .unwrap()
            .remove("session");
        assert_eq!(
            delivered, expected,
            "everything else is delivered as it was"
        );
        // what cannot be read is not delivered at all
        assert_eq!(super::without_session_token("{\"result\": "), None);
        // and that is what is queued for delivery
        let (hooks, mut events, org, _dir) = queued_hooks();
        hooks.activity_updated(org, super::READ_ONLY_SESSION, &activity.to_string());
        let queued = events.try_recv().unwrap();
        assert!(!queued.activity.contains("bearer"), "{}", queued.activity);
        hooks.activity_updated(org, super::READ_ONLY_SESSION, "not json");
        assert!(events.try_recv().is_err());
    }

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
