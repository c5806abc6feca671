//! Prometheus metrics, served at `GET /metrics` in the text exposition format (version 0.0.4).
//!
//! Hand-rolled rather than a metrics crate: a handful of counters and fixed-bucket histograms
//! keyed by small label sets is all the host needs, and this keeps the dependency tree (and what
//! an auditor has to read) small. Label values come from a closed set (route templates, activity
//! types the host accepted, status strings), never from raw client input, so the number of
//! series stays bounded.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex, MutexGuard};
use std::time::Duration;

/// Latency buckets, in seconds (Prometheus' `le`).
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Most distinct label sets per metric; beyond it new label sets are folded into `other`.
const MAX_SERIES: usize = 512;

#[derive(Clone, Debug, Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (bucket, le) in self.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= le {
                *bucket += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }
}

type Labels = Vec<(&'static str, String)>;

#[derive(Default)]
struct Family<T> {
    series: BTreeMap<Labels, T>,
}

impl<T: Default> Family<T> {
    fn get(&mut self, labels: Labels) -> &mut T {
        let labels = if self.series.len() >= MAX_SERIES && !self.series.contains_key(&labels) {
            labels
                .into_iter()
                .map(|(k, _)| (k, "other".to_owned()))
                .collect()
        } else {
            labels
        };
        self.series.entry(labels).or_default()
    }
}

/// Everything the host counts.
#[derive(Default)]
pub struct Metrics {
    http_requests: Mutex<Family<u64>>,
    http_latency: Mutex<Family<Histogram>>,
    activities: Mutex<Family<u64>>,
    enclave_calls: Mutex<Family<u64>>,
    enclave_latency: Mutex<Family<Histogram>>,
    rate_limited: AtomicU64,
    webhook_deliveries: Mutex<Family<u64>>,
    enclave_connections: AtomicI64,
    enclave_in_flight: AtomicI64,
}

static GLOBAL: LazyLock<Metrics> = LazyLock::new(Metrics::default);

/// The process-wide metrics.
pub fn global() -> &'static Metrics {
    &GLOBAL
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Metrics {
    /// One HTTP request: its route template (e.g. `/public/v1/submit/{name}` with the name
    /// filled in only for known endpoints), method, status code and latency.
    pub fn http_request(&self, route: &str, method: &str, status: u16, latency: Duration) {
        let labels = vec![
            ("route", route.to_owned()),
            ("method", method.to_owned()),
            ("status", status.to_string()),
        ];
        *lock(&self.http_requests).get(labels) += 1;
        lock(&self.http_latency)
            .get(vec![("route", route.to_owned())])
            .observe(latency.as_secs_f64());
    }

    /// One activity the host stored, by Turnkey type and status.
    pub fn activity(&self, activity_type: &str, status: &str) {
        let labels = vec![
            ("type", activity_type.to_owned()),
            ("status", status.to_owned()),
        ];
        *lock(&self.activities).get(labels) += 1;
    }

    /// One call to the enclave: the request kind, its outcome (`ok` or an error code) and latency.
    pub fn enclave_call(&self, request: &'static str, outcome: &str, latency: Duration) {
        let labels = vec![
            ("request", request.to_owned()),
            ("outcome", outcome.to_owned()),
        ];
        *lock(&self.enclave_calls).get(labels) += 1;
        lock(&self.enclave_latency)
            .get(vec![("request", request.to_owned())])
            .observe(latency.as_secs_f64());
    }

    pub fn rate_limited(&self) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    /// A webhook delivery's fate: `delivered`, `failed` (after the retries), `dropped` (queue
    /// full) or `blocked` (an address deliveries may not reach: `webhooks/guard.rs`).
    pub fn webhook_delivery(&self, outcome: &'static str) {
        *lock(&self.webhook_deliveries).get(vec![("outcome", outcome.to_owned())]) += 1;
    }

    /// Open pipelined connections to the enclave (+1 on connect, −1 when one dies).
    pub fn enclave_connections(&self, delta: i64) {
        self.enclave_connections.fetch_add(delta, Ordering::Relaxed);
    }

    /// Requests sent to the enclave and not yet answered.
    pub fn enclave_in_flight(&self, delta: i64) {
        self.enclave_in_flight.fetch_add(delta, Ordering::Relaxed);
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        counters(
            &mut out,
            "keyhold_http_requests_total",
            "HTTP requests by route, method and status code.",
            &lock(&self.http_requests),
        );
        histograms(
            &mut out,
            "keyhold_http_request_duration_seconds",
            "HTTP request latency by route.",
            &lock(&self.http_latency),
        );
        counters(
            &mut out,
            "keyhold_activities_total",
            "Activities stored, by type and status.",
            &lock(&self.activities),
        );
        counters(
            &mut out,
            "keyhold_enclave_calls_total",
            "Calls to the enclave by request kind and outcome.",
            &lock(&self.enclave_calls),
        );
        histograms(
            &mut out,
            "keyhold_enclave_call_duration_seconds",
            "Enclave call latency by request kind.",
            &lock(&self.enclave_latency),
        );
        counters(
            &mut out,
            "keyhold_webhook_deliveries_total",
            "Webhook deliveries by outcome.",
            &lock(&self.webhook_deliveries),
        );
        let gauges = [
            (
                "keyhold_rate_limited_total",
                "counter",
                "Requests refused by the per-organization rate limit.",
                i64::try_from(self.rate_limited.load(Ordering::Relaxed)).unwrap_or(i64::MAX),
            ),
            (
                "keyhold_enclave_connections",
                "gauge",
                "Open connections to the enclave.",
                self.enclave_connections.load(Ordering::Relaxed),
            ),
            (
                "keyhold_enclave_in_flight",
                "gauge",
                "Enclave requests awaiting an answer.",
                self.enclave_in_flight.load(Ordering::Relaxed),
            ),
        ];
        for (name, kind, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
        out
    }
}

/// `{a="x",b="y"}` with Prometheus escaping.
fn label_text(labels: &Labels, extra: Option<(&str, String)>) -> String {
    let mut parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    if let Some((k, v)) = extra {
        parts.push(format!("{k}=\"{v}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn counters(out: &mut String, name: &str, help: &str, family: &Family<u64>) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    for (labels, value) in &family.series {
        let _ = writeln!(out, "{name}{} {value}", label_text(labels, None));
    }
}

fn histograms(out: &mut String, name: &str, help: &str, family: &Family<Histogram>) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
    for (labels, h) in &family.series {
        for (count, le) in h.buckets.iter().zip(BUCKETS) {
            let _ = writeln!(
                out,
                "{name}_bucket{} {count}",
                label_text(labels, Some(("le", le.to_string())))
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{} {}",
            label_text(labels, Some(("le", "+Inf".to_owned()))),
            h.count
        );
        let _ = writeln!(out, "{name}_sum{} {}", label_text(labels, None), h.sum);
        let _ = writeln!(out, "{name}_count{} {}", label_text(labels, None), h.count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_histograms() {
        let m = Metrics::default();
        m.http_request(
            "/public/v1/submit/sign_raw_payload",
            "POST",
            200,
            Duration::from_micros(700),
        );
        m.http_request(
            "/public/v1/submit/sign_raw_payload",
            "POST",
            200,
            Duration::from_millis(30),
        );
        m.activity(
            "ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2",
            "ACTIVITY_STATUS_COMPLETED",
        );
        m.enclave_connections(2);
        let text = m.render();
        assert!(text.contains(
            "keyhold_http_requests_total{route=\"/public/v1/submit/sign_raw_payload\",method=\"POST\",status=\"200\"} 2"
        ));
        // cumulative: 1 at le=0.001, 2 at le=0.05 and +Inf
        let route = "route=\"/public/v1/submit/sign_raw_payload\"";
        assert!(text.contains(&format!(
            "keyhold_http_request_duration_seconds_bucket{{{route},le=\"0.001\"}} 1"
        )));
        assert!(text.contains(&format!(
            "keyhold_http_request_duration_seconds_bucket{{{route},le=\"0.05\"}} 2"
        )));
        assert!(text.contains(&format!(
            "keyhold_http_request_duration_seconds_bucket{{{route},le=\"+Inf\"}} 2"
        )));
        assert!(text.contains("keyhold_activities_total{type=\"ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2\",status=\"ACTIVITY_STATUS_COMPLETED\"} 1"));
        assert!(text.contains("keyhold_enclave_connections 2"));
    }

    #[test]
    fn label_sets_are_bounded_and_escaped() {
        let m = Metrics::default();
        for i in 0..(MAX_SERIES + 50) {
            m.activity(&format!("T{i}"), "S");
        }
        assert_eq!(lock(&m.activities).series.len(), MAX_SERIES + 1);
        assert!(
            m.render()
                .contains("keyhold_activities_total{type=\"other\",status=\"other\"} 50")
        );
        let fresh = Metrics::default();
        fresh.activity("a\"b\\c\nd", "S");
        assert!(fresh.render().contains(r#"type="a\"b\\c\nd""#));
    }
}
