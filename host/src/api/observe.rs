//! Per-request observability: a request id (the client's `X-Request-Id` when it is short and
//! plain, a fresh one otherwise) echoed in the response and attached to every log line of the
//! request, one structured log line per request (never bodies, stamps or keys), and the HTTP
//! metrics of `/metrics`.

use std::time::Instant;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub const REQUEST_ID: &str = "x-request-id";

fn client_request_id(request: &Request) -> Option<String> {
    let value = request.headers().get(REQUEST_ID)?.to_str().ok()?;
    let plain = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    plain.then(|| value.to_owned())
}

fn fresh_request_id() -> String {
    crate::operator::random_bytes::<12>()
        .map_or_else(|_| "unavailable".to_owned(), |b| hex::encode(*b))
}

/// The path as a metrics label when it is one of keyhold's endpoints (their names are a closed
/// set; made-up names under the API prefixes are bounded by the metrics' series cap), `other`
/// for anything else.
fn route_label(path: &str) -> String {
    const KNOWN: [&str; 6] = [
        "/public/v1/submit/",
        "/public/v1/query/",
        "/enclave/v1/",
        "/webhooks/v1/",
        "/metrics",
        "/openapi.json",
    ];
    let plain = path.len() <= 80
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_.-".contains(&b));
    if plain && KNOWN.iter().any(|k| path.starts_with(k)) {
        path.to_owned()
    } else {
        "other".to_owned()
    }
}

pub async fn observe(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = client_request_id(&request).unwrap_or_else(fresh_request_id);
    let route = route_label(request.uri().path());
    let method = request.method().as_str().to_owned();
    let span = tracing::info_span!("request", id = %id, method = %method, route = %route);
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let latency = started.elapsed();
    crate::metrics::global().http_request(&route, &method, status, latency);
    span.in_scope(|| {
        let ms = latency.as_secs_f64() * 1000.0;
        if status >= 500 {
            tracing::warn!(status, ms, "request failed");
        } else if status >= 400 {
            tracing::info!(status, ms, "request refused");
        } else {
            tracing::debug!(status, ms, "request served");
        }
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// `GET /metrics`.
pub async fn metrics() -> ([(axum::http::HeaderName, &'static str); 1], String) {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::global().render(),
    )
}
