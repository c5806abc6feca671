//! The HTTP edge against the real `keyhold dev` binary: per-organization rate limits, slow
//! clients (headers and bodies that never finish), request ids, and `/metrics`; and that the
//! dev stack's enclave does not outlive its host.
//! Needs `cargo build --bins` first (scripts/test does it): `keyhold dev` starts the enclave
//! binary that sits next to it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::{DerSignature, Signature, SigningKey, signature::Signer};

struct Stack {
    child: Child,
    addr: SocketAddr,
    /// The dev organization and its root API key (`dev-credentials.json`).
    org: String,
    key: SigningKey,
    dir: tempfile::TempDir,
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(rate_limit: u32) -> Stack {
    let dir = tempfile::tempdir().unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_keyhold"))
        .args(["dev", "--data-dir"])
        .arg(dir.path().join("data"))
        .args(["--listen", &addr.to_string()])
        .args(["--org-rate-limit", &rate_limit.to_string()])
        .env("KEYHOLD_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let creds = dir.path().join("data/dev-credentials.json");
    let started = Instant::now();
    while !(Path::new(&creds).exists() && TcpStream::connect(addr).is_ok()) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "keyhold dev did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let creds: serde_json::Value = serde_json::from_slice(&std::fs::read(&creds).unwrap()).unwrap();
    let field = |name: &str| creds[name].as_str().unwrap().to_owned();
    Stack {
        child,
        addr,
        org: field("organizationId"),
        key: SigningKey::from_slice(&hex::decode(field("apiPrivateKey")).unwrap()).unwrap(),
        dir,
    }
}

/// An `X-Stamp` header line for `body` (Turnkey's API-key stamp: `reference/turnkey-api.md`).
fn stamp(key: &SigningKey, body: &str) -> String {
    let signature: Signature = key.sign(body.as_bytes());
    let json = serde_json::json!({
        "publicKey": hex::encode(key.verifying_key().to_sec1_point(true).as_bytes()),
        "scheme": "SIGNATURE_SCHEME_TK_API_P256",
        "signature": hex::encode(DerSignature::from(signature).as_bytes()),
    });
    format!("X-Stamp: {}\r\n", URL_SAFE_NO_PAD.encode(json.to_string()))
}

/// Sends raw bytes, returns the whole response (the server closes: `Connection: close`).
fn exchange(addr: SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// A POST with a stamp that does not parse, plus the `extra` header lines.
fn post(addr: SocketAddr, path: &str, body: &str, extra: &str) -> String {
    post_with(
        addr,
        path,
        body,
        &format!("X-Stamp: not-a-stamp\r\n{extra}"),
    )
}

fn post_with(addr: SocketAddr, path: &str, body: &str, headers: &str) -> String {
    exchange(
        addr,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n\
             Content-Length: {}\r\n{headers}\r\n{body}",
            body.len()
        ),
    )
}

fn status(response: &str) -> u16 {
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    response.split("\r\n\r\n").next()?.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn rate_limits_slow_clients_request_ids_and_metrics() {
    let stack = start(1);
    let body = format!(r#"{{"organizationId":"{}"}}"#, stack.org);
    let whoami = |spelt: &str| {
        let body = format!(r#"{{"organizationId":"{spelt}"}}"#);
        status(&post_with(
            stack.addr,
            "/public/v1/query/whoami",
            &body,
            &stamp(&stack.key, &body),
        ))
    };
    // Requests that fail authentication give their tokens back: however many, they leave the
    // organization's users their whole budget.
    for _ in 0..40 {
        assert_eq!(
            status(&post(stack.addr, "/public/v1/query/whoami", &body, "")),
            401
        );
    }
    // 1 per second with bursts of 2: a run of 30 authenticated requests (each a round trip to
    // the enclave; under 13 s even on a loaded machine) is cut short, with Turnkey's error
    // body; the id's spelling does not matter.
    let upper = stack.org.to_uppercase();
    let statuses: Vec<u16> = (0..30)
        .map(|i| whoami(if i % 2 == 0 { &stack.org } else { &upper }))
        .collect();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );
    assert!((15..=28).contains(&limited), "{statuses:?}");
    let refused = post_with(
        stack.addr,
        "/public/v1/query/whoami",
        &body,
        &stamp(&stack.key, &body),
    );
    assert_eq!(status(&refused), 429);
    assert!(refused.contains(r#""code":8"#), "{refused}");
    // queries answered from the sealed state count against the same budget
    assert_eq!(
        status(&post(stack.addr, "/public/v1/query/list_users", &body, "")),
        429
    );
    // another organization has its own budget (then fails for its own reasons: a bad stamp)
    let other = r#"{"organizationId":"6f9d3d2e-8b7a-4c1e-9f00-000000000002"}"#;
    assert_eq!(
        status(&post(stack.addr, "/public/v1/query/whoami", other, "")),
        404
    );

    // request ids: a plain one is echoed, anything else replaced
    let r = post(
        stack.addr,
        "/public/v1/query/whoami",
        other,
        "X-Request-Id: abc-123_x\r\n",
    );
    assert_eq!(header(&r, "x-request-id"), Some("abc-123_x"));
    let r = post(
        stack.addr,
        "/public/v1/query/whoami",
        other,
        "X-Request-Id: a b\r\n",
    );
    let id = header(&r, "x-request-id").unwrap();
    assert!(
        id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );

    // a client that never finishes its headers is disconnected (10 s header timeout)
    let mut slow = TcpStream::connect(stack.addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    slow.write_all(b"POST /public/v1/query/whoami HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    let _ = slow.read_to_end(&mut buf);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(5) && waited < Duration::from_secs(25),
        "closed after {waited:?}"
    );
    // one that never finishes its body gets 408 (10 s body timeout)
    let mut slow = TcpStream::connect(stack.addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    slow.write_all(
        b"POST /public/v1/query/whoami HTTP/1.1\r\nHost: x\r\nX-Stamp: s\r\nContent-Length: 100\r\n\r\n{\"organ",
    )
    .unwrap();
    let mut buf = [0u8; 4096];
    let n = slow.read(&mut buf).unwrap();
    let response = String::from_utf8_lossy(&buf[..n]);
    assert_eq!(status(&response), 408, "{response}");

    // the metrics saw all of it
    let metrics = exchange(
        stack.addr,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status(&metrics), 200);
    assert!(
        metrics.contains(
            r#"keyhold_http_requests_total{route="/public/v1/query/whoami",method="POST",status="429"}"#
        ),
        "{metrics}"
    );
    let limited_total: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("keyhold_rate_limited_total "))
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(limited_total > limited as u64);
    assert!(metrics.contains("keyhold_enclave_call_duration_seconds_bucket"));
    assert!(metrics.contains("# TYPE keyhold_activities_total counter"));
}

#[test]
fn a_killed_dev_host_takes_its_enclave_with_it() {
    // SIGKILL leaves the host no chance to stop its enclave: the enclave notices its standard
    // input (a pipe from the host) closing, instead of serving its socket on forever.
    let mut stack = start(0);
    let socket = stack.dir.path().join("data/enclave.sock");
    assert!(std::os::unix::net::UnixStream::connect(&socket).is_ok());
    stack.child.kill().unwrap();
    stack.child.wait().unwrap();
    let killed = Instant::now();
    while std::os::unix::net::UnixStream::connect(&socket).is_ok() {
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "the enclave outlived its host"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
