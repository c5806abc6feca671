//! `keyhold-bench`: drives a running keyhold over HTTP with real stamped requests and measures
//! throughput and latency, next to the *ceiling*: the in-process cost of the cryptography alone
//! (one P-256 stamp verification, done as the enclave does it, + one secp256k1 signature) on one
//! thread, times the core count, measured just before and just after the run and averaged.
//!
//! Every request is built and stamped before the clock starts, so the figures measure keyhold,
//! not this client's signing. Run it through `scripts/bench`, which starts a fresh dev stack.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::{Parser, ValueEnum};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use indicatif::{ProgressBar, ProgressStyle};
use keyhold_p256_verify::KeyTable;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{DerSignature, Signature, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

#[derive(Debug, Parser)]
#[command(about = "Load generator for keyhold: throughput and latency against the crypto ceiling")]
struct Args {
    /// dev-credentials.json of the stack under test.
    #[arg(long, required_unless_present = "receipt_cost")]
    credentials: Option<std::path::PathBuf>,
    /// Only measure what an audit receipt adds to each activity in the enclave (hashes, encoding
    /// and the Ed25519 signature), next to the per-request crypto ceiling; no stack needed.
    #[arg(long)]
    receipt_cost: bool,
    /// Wallets to create (requests are spread over their accounts).
    #[arg(long, default_value_t = 16)]
    wallets: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Requests to send (after the warm-up).
    #[arg(long, default_value_t = 4000)]
    requests: usize,
    /// Requests sent first and not measured.
    #[arg(long, default_value_t = 200)]
    warmup: usize,
    #[arg(long, value_enum, default_value_t = Kind::RawPayload)]
    kind: Kind,
    /// No progress bar (for logs).
    #[arg(long)]
    quiet: bool,
    /// Writes each measured request's start (µs after the clock started) and latency (µs) to
    /// this file, one `start,latency` line per request: to see whether a tail is spread out or
    /// comes in bursts.
    #[arg(long, value_name = "CSV")]
    latencies: Option<std::path::PathBuf>,
    /// NAME=PID of a process of the stack (e.g. host=123, enclave=456) whose CPU time per
    /// request to report: on a noisy machine CPU time per request says more than throughput.
    #[arg(long = "watch", value_parser = parse_watch)]
    watch: Vec<(String, u32)>,
}

fn parse_watch(text: &str) -> Result<(String, u32), String> {
    let (name, pid) = text
        .split_once('=')
        .ok_or_else(|| "expected NAME=PID".to_owned())?;
    let pid = pid
        .parse()
        .map_err(|_| format!("not a process id: {pid}"))?;
    Ok((name.to_owned(), pid))
}

/// User + system CPU time of a process so far, in seconds (Linux `/proc/PID/stat`; `None`
/// elsewhere or when the process is gone).
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start at state, field 3;
    // utime and stime are fields 14 and 15, in clock ticks (100 per second on Linux).
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    Some((ticks(11)? + ticks(12)?) / 100.0)
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Kind {
    /// sign_raw_payload, secp256k1, KECCAK256.
    RawPayload,
    /// sign_transaction, an EIP-1559 Ethereum transaction.
    Eip1559,
    /// create_sub_organization (V8): one root user with its own API key and a wallet with one
    /// Ethereum account per sub-organization (Turnkey's embedded-wallet onboarding).
    SubOrgs,
}

/// Minimal RLP, enough to build unsigned EIP-1559 transactions.
fn rlp_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    match bytes {
        [b] if *b < 0x80 => out.push(*b),
        _ => {
            rlp_length(out, 0x80, bytes.len());
            out.extend_from_slice(bytes);
        }
    }
}

fn rlp_uint(out: &mut Vec<u8>, value: u128) {
    let bytes = value.to_be_bytes();
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    rlp_bytes(out, bytes.get(first..).unwrap_or_default());
}

fn rlp_length(out: &mut Vec<u8>, offset: u8, len: usize) {
    if len < 56 {
        out.push(offset + len as u8);
    } else {
        let bytes = (len as u64).to_be_bytes();
        let first = bytes.iter().position(|b| *b != 0).unwrap_or(7);
        let tail = bytes.get(first..).unwrap_or_default();
        out.push(offset + 55 + tail.len() as u8);
        out.extend_from_slice(tail);
    }
}

/// `0x02 ‖ rlp([chain_id, nonce, tip, max_fee, gas, to, value, data, access_list])`, hex.
fn eip1559_unsigned(nonce: u128) -> String {
    let mut fields = Vec::new();
    for value in [1u128, nonce, 1_000_000_000, 30_000_000_000, 21_000] {
        rlp_uint(&mut fields, value);
    }
    rlp_bytes(&mut fields, &[0x35; 20]);
    rlp_uint(&mut fields, 1_000_000_000_000_000);
    rlp_bytes(&mut fields, &[]);
    rlp_length(&mut fields, 0xc0, 0); // empty access list
    let mut tx = vec![0x02];
    rlp_length(&mut tx, 0xc0, fields.len());
    tx.extend_from_slice(&fields);
    hex::encode(tx)
}

struct Credentials {
    base_url: String,
    organization_id: String,
    key: SigningKey,
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// A distinct P-256 public key (compressed hex) for end user `i`.
fn end_user_key(i: usize) -> anyhow::Result<String> {
    let mut secret = [0x11u8; 32];
    for (s, b) in secret.iter_mut().zip((i as u64 + 1).to_be_bytes()) {
        *s = b;
    }
    let key = SigningKey::from_slice(&secret)?;
    Ok(hex::encode(
        key.verifying_key().to_sec1_point(true).as_bytes(),
    ))
}

fn stamp(key: &SigningKey, body: &str) -> String {
    let signature: Signature = key.sign(body.as_bytes());
    let json = json!({
        "publicKey": hex::encode(key.verifying_key().to_sec1_point(true).as_bytes()),
        "scheme": "SIGNATURE_SCHEME_TK_API_P256",
        "signature": hex::encode(DerSignature::from(signature).as_bytes()),
    });
    URL_SAFE_NO_PAD.encode(json.to_string())
}

struct Prepared {
    url: String,
    body: Bytes,
    stamp: String,
    /// The whole HTTP/1.1 request as it goes on the wire, for the measured run.
    wire: Vec<u8>,
}

fn prepare(creds: &Credentials, path: &str, body: Value) -> Prepared {
    let body = body.to_string();
    let stamp = stamp(&creds.key, &body);
    let authority = creds
        .base_url
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let mut wire = format!(
        "POST {path} HTTP/1.1\r\nhost: {authority}\r\ncontent-type: application/json\r\n\
         x-stamp: {stamp}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    wire.extend_from_slice(body.as_bytes());
    Prepared {
        url: format!("{}{path}", creds.base_url),
        stamp,
        body: Bytes::from(body),
        wire,
    }
}

/// One keep-alive HTTP/1.1 connection of the measured run. A plain writer of prepared bytes
/// and a reader of `content-length` answers: the load generator shares the two cores with
/// the stack under test, so the less it spends per request the more the figures are keyhold's
/// (a hyper client plus a JSON parse of every answer cost ~70 µs of CPU per request).
struct Connection {
    stream: tokio::net::TcpStream,
    buf: Vec<u8>,
}

impl Connection {
    async fn open(authority: &str) -> anyhow::Result<Self> {
        let stream = tokio::net::TcpStream::connect(authority).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buf: Vec::with_capacity(8192),
        })
    }

    /// Sends `request` and checks the answer: `200 OK` and a completed activity.
    async fn send(&mut self, request: &Prepared) -> anyhow::Result<()> {
        use tokio::io::AsyncWriteExt;
        self.stream.write_all(&request.wire).await?;
        self.buf.clear();
        let (head_len, body_len) = loop {
            if let Some(head_len) = find(&self.buf, b"\r\n\r\n").map(|at| at + 4) {
                let head = std::str::from_utf8(self.buf.get(..head_len).unwrap_or_default())?;
                let body_len = head
                    .lines()
                    .find_map(|line| {
                        let (name, value) = line.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<usize>().ok())?
                    })
                    .context("answer without content-length")?;
                break (head_len, body_len);
            }
            self.read_more().await?;
        };
        while self.buf.len() < head_len + body_len {
            self.read_more().await?;
        }
        let head = self.buf.get(..head_len).unwrap_or_default();
        let body = self
            .buf
            .get(head_len..head_len + body_len)
            .unwrap_or_default();
        if !head.starts_with(b"HTTP/1.1 200 ") {
            bail!("{}", String::from_utf8_lossy(&self.buf));
        }
        if find(body, b"\"ACTIVITY_STATUS_COMPLETED\"").is_none() {
            bail!("activity not completed: {}", String::from_utf8_lossy(body));
        }
        Ok(())
    }

    async fn read_more(&mut self) -> anyhow::Result<()> {
        use tokio::io::AsyncReadExt;
        if self.stream.read_buf(&mut self.buf).await? == 0 {
            bail!("connection closed by keyhold");
        }
        Ok(())
    }
}

/// How long one request may take before it counts as failed (and its connection is dropped).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

async fn send(client: &HttpClient, request: &Prepared) -> anyhow::Result<Value> {
    let http = hyper::Request::post(&request.url)
        .header("content-type", "application/json")
        .header("x-stamp", &request.stamp)
        .body(Full::new(request.body.clone()))?;
    let response = client.request(http).await?;
    let status = response.status();
    let bytes = response.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        bail!("{status}: {}", String::from_utf8_lossy(&bytes));
    }
    Ok(serde_json::from_slice(&bytes)?)
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

/// The crypto ceiling per core, in operations per second.
#[derive(Clone, Copy)]
struct Ceiling {
    /// One P-256 stamp verification as the enclave does it for a key that signs often (with
    /// the key's precomputed multiples) plus one secp256k1 signature: the work the enclave
    /// cannot avoid for a signing request. The ratio is taken against this.
    keyhold: f64,
    /// The same with `p256`'s own verification (what the ceiling was before the enclave had
    /// key tables), for comparison with older figures.
    p256_crate: f64,
}

/// Measures [`Ceiling`] on this thread.
fn ceiling_per_core() -> Ceiling {
    let api = SigningKey::from_slice(&[7u8; 32]).unwrap_or_else(|_| unreachable_key());
    let body = br#"{"type":"ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2","timestampMs":"1700000000000"}"#;
    let signature: Signature = api.sign(body);
    let verifying = *api.verifying_key();
    let table = KeyTable::new(&verifying);
    let wallet =
        k256::ecdsa::SigningKey::from_slice(&[9u8; 32]).unwrap_or_else(|_| unreachable_k256());
    let digest = [0x42u8; 32];
    let run = |n: u32, with_table: bool| {
        let started = Instant::now();
        for i in 0..n {
            let ok = if with_table {
                let prehash: [u8; 32] = Sha256::digest(body).into();
                table.verify_prehash(&prehash, &signature)
            } else {
                verifying.verify(body, &signature).is_ok()
            };
            let mut d = digest;
            d[0] = i as u8;
            let _ = std::hint::black_box((ok, wallet.sign_prehash_recoverable(&d)));
        }
        started.elapsed()
    };
    let per_second = |with_table: bool| {
        run(200, with_table); // warm up
        let n = 2000;
        f64::from(n) / run(n, with_table).as_secs_f64()
    };
    Ceiling {
        keyhold: per_second(true),
        p256_crate: per_second(false),
    }
}

/// Mean time of `f` over `n` runs after a warm-up, in microseconds.
fn mean_us(n: u32, mut f: impl FnMut(u32)) -> f64 {
    for i in 0..n / 10 {
        f(i);
    }
    let started = Instant::now();
    for i in 0..n {
        f(i);
    }
    started.elapsed().as_secs_f64() * 1e6 / f64::from(n)
}

/// What the enclave adds to one `sign_raw_payload` for its receipt: the body's SHA-256, the
/// result projection's encoding and digest, the receipt's hash and its Ed25519 signature.
fn receipt_cost() {
    use ed25519_dalek::Signer as _;
    use keyhold_shared::msg::{
        ActivityStatus, AuditResult, RECEIPT_FORMAT, ReceiptBody, ReceiptKind,
        RecoverableSignature, result_digest,
    };
    use keyhold_shared::{ActivityId, OrgId, UserId, Uuid};
    use sha2::Digest;

    let key = ed25519_dalek::SigningKey::from_bytes(&[5u8; 32]);
    let body = br#"{"type":"ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2","timestampMs":"1700000000000","organizationId":"0b6ae5a0-8b1e-4f0c-9d6e-2f3a4b5c6d7e","parameters":{"signWith":"0x9858EfFD232B4033E47d90003D41EC34EcaEda94","payload":"c0ffee","encoding":"PAYLOAD_ENCODING_HEXADECIMAL","hashFunction":"HASH_FUNCTION_KECCAK256"}}"#;
    let sign_only = mean_us(20_000, |i| {
        let _ = std::hint::black_box(key.sign(&[i as u8; 32]));
    });
    let whole = mean_us(20_000, |i| {
        let result = AuditResult::SignRawPayload(RecoverableSignature {
            r: [i as u8; 32],
            s: [2; 32],
            v: 1,
        });
        let bytes = result.encode().unwrap_or_default();
        let receipt = ReceiptBody {
            format: RECEIPT_FORMAT,
            org_id: OrgId(Uuid::from_bytes([1; 16])),
            seq: u64::from(i),
            prev: [3; 32],
            kind: ReceiptKind::Activity,
            activity_id: ActivityId(Uuid::from_bytes([4; 16])),
            activity_type: "ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2".into(),
            status: ActivityStatus::Completed,
            fingerprint: sha2::Sha256::digest(body).into(),
            user_id: UserId(Uuid::from_bytes([5; 16])),
            executed_at_ms: 1_700_000_000_000,
            org_version: 3,
            result_digest: result_digest(&bytes),
        };
        let hash = receipt.hash().unwrap_or_default();
        let _ = std::hint::black_box(key.sign(&hash));
    });
    let ceiling_us = 1e6 / ceiling_per_core().keyhold;
    println!("keyhold-bench: audit receipt cost per activity (one thread)");
    println!(
        "  {:<40} {:>10}",
        "Ed25519 sign, µs",
        format!("{sign_only:.1}")
    );
    println!(
        "  {:<40} {:>10}",
        "whole receipt, µs",
        format!("{whole:.1}")
    );
    println!(
        "  {:<40} {:>10}",
        "crypto ceiling per request, µs",
        format!("{ceiling_us:.1}")
    );
    println!(
        "  {:<40} {:>10}",
        "receipt / ceiling",
        format!("{:.3}", whole / ceiling_us)
    );
    println!(
        "{}",
        json!({"ed25519_sign_us": (sign_only * 10.0).round() / 10.0, "receipt_us": (whole * 10.0).round() / 10.0,
               "ceiling_us": (ceiling_us * 10.0).round() / 10.0})
    );
}

fn unreachable_key() -> SigningKey {
    SigningKey::from_slice(&[1u8; 32]).unwrap_or_else(|_| std::process::exit(3))
}

fn unreachable_k256() -> k256::ecdsa::SigningKey {
    k256::ecdsa::SigningKey::from_slice(&[1u8; 32]).unwrap_or_else(|_| std::process::exit(3))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted
        .get(rank.min(sorted.len() - 1))
        .copied()
        .unwrap_or_default()
}

// One thread: the load generator should stay small next to the stack it measures.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.receipt_cost {
        receipt_cost();
        return Ok(());
    }
    let credentials = args.credentials.as_ref().context("--credentials")?;
    let text = std::fs::read_to_string(credentials).context("reading the credentials")?;
    let json: Value = serde_json::from_str(&text)?;
    let field = |k: &str| {
        json.get(k)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .context(k.to_owned())
    };
    let creds = Credentials {
        base_url: field("baseUrl")?,
        organization_id: field("organizationId")?,
        key: SigningKey::from_slice(&hex::decode(field("apiPrivateKey")?)?)?,
    };
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(args.concurrency)
        .build(connector);

    // Wallets to sign with.
    let mut addresses = Vec::with_capacity(args.wallets);
    for i in 0..args.wallets {
        let body = json!({
            "type": "ACTIVITY_TYPE_CREATE_WALLET", "timestampMs": now_ms().to_string(),
            "organizationId": creds.organization_id,
            "parameters": {"walletName": format!("bench-{}-{i}", now_ms()), "accounts": [{
                "curve": "CURVE_SECP256K1", "pathFormat": "PATH_FORMAT_BIP32",
                "path": "m/44'/60'/0'/0/0", "addressFormat": "ADDRESS_FORMAT_ETHEREUM"}]},
        });
        let out = send(
            &client,
            &prepare(&creds, "/public/v1/submit/create_wallet", body),
        )
        .await?;
        let address = out["activity"]["result"]["createWalletResult"]["addresses"][0]
            .as_str()
            .context("create_wallet returned no address")?
            .to_owned();
        addresses.push(address);
    }

    // Build and stamp every request before the clock starts.
    let total = args.warmup + args.requests;
    let end_users: Vec<String> = match args.kind {
        Kind::SubOrgs => (0..total)
            .map(end_user_key)
            .collect::<anyhow::Result<_>>()?,
        _ => Vec::new(),
    };
    let requests: Vec<Prepared> = (0..total)
        .map(|i| {
            let body = match args.kind {
                Kind::RawPayload => json!({
                    "type": "ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2", "timestampMs": now_ms().to_string(),
                    "organizationId": creds.organization_id,
                    "parameters": {"signWith": addresses[i % addresses.len()],
                                   "payload": format!("{i:016x}"), "encoding": "PAYLOAD_ENCODING_HEXADECIMAL",
                                   "hashFunction": "HASH_FUNCTION_KECCAK256"},
                }),
                Kind::Eip1559 => json!({
                    "type": "ACTIVITY_TYPE_SIGN_TRANSACTION_V2", "timestampMs": now_ms().to_string(),
                    "organizationId": creds.organization_id,
                    "parameters": {"signWith": addresses[i % addresses.len()],
                                   "unsignedTransaction": eip1559_unsigned(i as u128),
                                   "type": "TRANSACTION_TYPE_ETHEREUM"},
                }),
                Kind::SubOrgs => json!({
                    "type": "ACTIVITY_TYPE_CREATE_SUB_ORGANIZATION_V8", "timestampMs": now_ms().to_string(),
                    "organizationId": creds.organization_id,
                    "parameters": {
                        "subOrganizationName": format!("bench-user-{}-{i}", now_ms()),
                        "rootUsers": [{"userName": "end user", "apiKeys": [{"apiKeyName": "device",
                            "publicKey": end_users.get(i), "curveType": "API_KEY_CURVE_P256"}],
                            "authenticators": [], "oauthProviders": []}],
                        "rootQuorumThreshold": 1,
                        "wallet": {"walletName": "main", "accounts": [{"curve": "CURVE_SECP256K1",
                            "pathFormat": "PATH_FORMAT_BIP32", "path": "m/44'/60'/0'/0/0",
                            "addressFormat": "ADDRESS_FORMAT_ETHEREUM"}]},
                    },
                }),
            };
            let path = match args.kind {
                Kind::RawPayload => "/public/v1/submit/sign_raw_payload",
                Kind::Eip1559 => "/public/v1/submit/sign_transaction",
                Kind::SubOrgs => "/public/v1/submit/create_sub_organization",
            };
            prepare(&creds, path, body)
        })
        .collect();
    let requests = Arc::new(requests);
    let authority = creds
        .base_url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();

    let run = |range: std::ops::Range<usize>, bar: Option<ProgressBar>, clock: Instant| {
        let next = Arc::new(AtomicUsize::new(range.start));
        let end = range.end;
        let workers: Vec<_> = (0..args.concurrency)
            .map(|_| {
                let (requests, next, bar) = (requests.clone(), next.clone(), bar.clone());
                let authority = authority.clone();
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    let mut errors = 0usize;
                    let mut connection = None;
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(request) = requests.get(i).filter(|_| i < end) else {
                            break;
                        };
                        let started = Instant::now();
                        let start = started.saturating_duration_since(clock);
                        let attempt = async {
                            match connection.as_mut() {
                                Some(open) => Connection::send(open, request).await,
                                None => {
                                    let open = Connection::open(&authority).await?;
                                    Connection::send(connection.insert(open), request).await
                                }
                            }
                        };
                        let sent = tokio::time::timeout(REQUEST_TIMEOUT, attempt)
                            .await
                            .unwrap_or_else(|_| {
                                Err(anyhow::anyhow!("no answer within {REQUEST_TIMEOUT:?}"))
                            });
                        match sent {
                            Ok(()) => latencies.push((start, started.elapsed())),
                            Err(e) => {
                                // Start over on a fresh connection.
                                connection = None;
                                if errors == 0 {
                                    eprintln!("request failed: {e:#}");
                                }
                                errors += 1;
                            }
                        }
                        if let Some(bar) = &bar {
                            bar.inc(1);
                        }
                    }
                    (latencies, errors)
                })
            })
            .collect();
        async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            for worker in workers {
                if let Ok((l, e)) = worker.await {
                    latencies.extend(l);
                    errors += e;
                }
            }
            (latencies, errors)
        }
    };

    let _ = run(0..args.warmup, None, Instant::now()).await;
    let bar = (!args.quiet).then(|| {
        let bar = ProgressBar::new(args.requests as u64);
        if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} {per_sec} eta {eta}")
        {
            bar.set_style(style);
        }
        bar
    });
    let mut watched: Vec<(String, String)> = args
        .watch
        .iter()
        .map(|(name, pid)| (name.clone(), pid.to_string()))
        .collect();
    watched.push(("load generator".to_owned(), "self".to_owned()));
    // The ceiling is measured on both sides of the run and averaged: this machine's speed
    // drifts by tens of percent within a minute, and one measurement after the run made the
    // ratio swing with it.
    let ceiling_before = ceiling_per_core();
    let cpu_before: Vec<Option<f64>> = watched.iter().map(|(_, pid)| cpu_seconds(pid)).collect();
    let started = Instant::now();
    let (timeline, errors) = run(args.warmup..total, bar.clone(), started).await;
    let elapsed = started.elapsed();
    let cpu_per_op: Vec<(String, f64)> = watched
        .iter()
        .zip(cpu_before)
        .filter_map(|((name, pid), before)| {
            let used = cpu_seconds(pid)? - before?;
            Some((name.clone(), used * 1e6 / args.requests.max(1) as f64))
        })
        .collect();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if errors > 0 {
        bail!("{errors} of {} requests failed", args.requests);
    }
    if let Some(path) = &args.latencies {
        let mut csv = String::from("start_us,latency_us\n");
        for (start, latency) in &timeline {
            csv.push_str(&format!("{},{}\n", start.as_micros(), latency.as_micros()));
        }
        std::fs::write(path, csv).with_context(|| format!("writing {}", path.display()))?;
    }
    let mut latencies: Vec<Duration> = timeline.iter().map(|(_, latency)| *latency).collect();
    latencies.sort();
    let e2e = latencies.len() as f64 / elapsed.as_secs_f64();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let ceiling_after = ceiling_per_core();
    let per_core = (ceiling_before.keyhold + ceiling_after.keyhold) / 2.0;
    let ceiling = per_core * cores as f64;
    let crate_ceiling = (ceiling_before.p256_crate + ceiling_after.p256_crate) / 2.0 * cores as f64;
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (p50, p95, p99) = (
        percentile(&latencies, 50.0),
        percentile(&latencies, 95.0),
        percentile(&latencies, 99.0),
    );

    println!(
        "keyhold-bench: {:?}, {} requests over {} wallets, concurrency {}",
        args.kind,
        latencies.len(),
        args.wallets,
        args.concurrency
    );
    println!(
        "(requests were built and stamped before the clock started: the figures measure keyhold, not this client)"
    );
    println!("  {:<28} {:>12}", "end-to-end ops/s", format!("{e2e:.0}"));
    println!(
        "  {:<28} {:>12}",
        format!("ceiling ops/s ({cores} cores)"),
        format!("{ceiling:.0}")
    );
    println!(
        "  {:<28} {:>12}",
        "ratio e2e / ceiling",
        format!("{:.3}", e2e / ceiling)
    );
    println!("  {:<28} {:>12}", "p50 ms", format!("{:.2}", ms(p50)));
    println!("  {:<28} {:>12}", "p95 ms", format!("{:.2}", ms(p95)));
    println!("  {:<28} {:>12}", "p99 ms", format!("{:.2}", ms(p99)));
    println!(
        "  {:<28} {:>12}",
        "crypto ceiling µs/request",
        format!(
            "{:.0} (before {:.0}, after {:.0})",
            1e6 / per_core,
            1e6 / ceiling_before.keyhold,
            1e6 / ceiling_after.keyhold
        )
    );
    println!(
        "  {:<28} {:>12}",
        "ratio, p256 crate's verify",
        format!(
            "{:.3} (ceiling {crate_ceiling:.0} ops/s, the ceiling before key tables)",
            e2e / crate_ceiling
        )
    );
    for (name, us) in &cpu_per_op {
        println!(
            "  {:<28} {:>12}",
            format!("{name} CPU µs/request"),
            format!("{us:.0}")
        );
    }
    let cpu_json: serde_json::Map<String, Value> = cpu_per_op
        .iter()
        .map(|(name, us)| (name.replace(' ', "_"), json!(us.round())))
        .collect();
    println!(
        "{}",
        json!({
            "kind": format!("{:?}", args.kind), "requests": latencies.len(), "concurrency": args.concurrency,
            "e2e_ops_per_s": (e2e * 10.0).round() / 10.0, "ceiling_ops_per_s": (ceiling * 10.0).round() / 10.0,
            "ratio": ((e2e / ceiling) * 1000.0).round() / 1000.0,
            "ratio_p256_crate_verify": ((e2e / crate_ceiling) * 1000.0).round() / 1000.0,
            "p50_ms": (ms(p50) * 100.0).round() / 100.0, "p95_ms": (ms(p95) * 100.0).round() / 100.0,
            "p99_ms": (ms(p99) * 100.0).round() / 100.0, "cores": cores,
            "elapsed_s": (elapsed.as_secs_f64() * 100.0).round() / 100.0,
            "cpu_us_per_request": cpu_json,
        })
    );
    Ok(())
}
