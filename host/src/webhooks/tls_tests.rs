//! Deliveries to a real local TLS receiver (tokio-rustls + hyper, a CA and certificate made
//! with rcgen): what is sent, that the certificate is verified, and where the guard stops it.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use keyhold_shared::{OrgId, Uuid};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::client::{Clients, DeliveryOptions, Refusal};
use super::{Delivery, Signer, deliver};

/// What the receiver saw of one request.
#[derive(Debug)]
struct Received {
    path: String,
    org_header: String,
    event_header: String,
    headers: hyper::HeaderMap,
    body: Bytes,
}

struct Receiver {
    port: u16,
    /// TCP connections accepted (a TLS handshake began).
    connections: Arc<std::sync::atomic::AtomicUsize>,
    /// The CA that signed the receiver's certificate, as a PEM file.
    ca_file: tempfile::NamedTempFile,
    requests: mpsc::UnboundedReceiver<Received>,
}

/// A TLS receiver on 127.0.0.1 with a certificate for `localhost` and `127.0.0.1`, answering
/// every request with 200.
async fn receiver() -> Receiver {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server_cert =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&server_key, &issuer)
            .unwrap();
    let mut ca_file = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut ca_file, ca_cert.pem().as_bytes()).unwrap();

    let chain: Vec<CertificateDer<'static>> = vec![server_cert.der().clone()];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, requests) = mpsc::unbounded_channel();
    let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let accepted = connections.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake here.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(
                    move |request: hyper::Request<hyper::body::Incoming>| {
                        let tx = tx.clone();
                        async move {
                            let header = |name: &str| {
                                request
                                    .headers()
                                    .get(name)
                                    .and_then(|v| v.to_str().ok())
                                    .unwrap_or_default()
                                    .to_owned()
                            };
                            let path = request.uri().path().to_owned();
                            let headers = request.headers().clone();
                            let (org_header, event_header) = (
                                header("X-Turnkey-Organization-Id"),
                                header("X-Turnkey-Event-Type"),
                            );
                            let body = request.into_body().collect().await?.to_bytes();
                            let _ = tx.send(Received {
                                path,
                                org_header,
                                event_header,
                                headers,
                                body,
                            });
                            Ok::<_, hyper::Error>(hyper::Response::new(http_body_util::Empty::<
                                Bytes,
                            >::new(
                            )))
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    Receiver {
        port,
        connections,
        ca_file,
        requests,
    }
}

fn org() -> OrgId {
    OrgId(Uuid::new_v4([3; 16]))
}

fn options(receiver: &Receiver, allow_private_networks: bool) -> DeliveryOptions {
    DeliveryOptions {
        extra_roots: vec![receiver.ca_file.path().to_owned()],
        allow_private_networks,
        signing_key_file: None,
    }
}

/// A signing key in a directory of its own (kept alive beside it).
fn signer() -> (tempfile::TempDir, Signer) {
    let dir = tempfile::tempdir().unwrap();
    let (signer, _) = Signer::load_or_create(&dir.path().join("key")).unwrap();
    (dir, signer)
}

/// Delivers `body` for `org()` as event `ev-1`.
async fn send(clients: &Clients, signer: &Signer, url: &str, body: Bytes) -> &'static str {
    let delivery = Delivery {
        org: org(),
        event_id: "ev-1",
        body,
    };
    deliver(clients, signer, url, delivery).await
}

/// With the receiver's CA trusted and private networks allowed, the activity arrives over
/// TLS with Turnkey's headers.
#[tokio::test]
async fn https_deliveries_arrive_over_verified_tls() {
    let mut receiver = receiver().await;
    let clients = Clients::new(&options(&receiver, true)).unwrap();
    let (_dir, signer) = signer();
    let body = Bytes::from_static(br#"{"activity":{"id":"a"}}"#);
    for host in ["localhost", "127.0.0.1"] {
        let url = format!("https://{host}:{}/hooks/turnkey", receiver.port);
        assert_eq!(
            send(&clients, &signer, &url, body.clone()).await,
            "delivered"
        );
        let got = receiver.requests.recv().await.unwrap();
        assert_eq!(got.path, "/hooks/turnkey");
        assert_eq!(got.org_header, org().to_string());
        assert_eq!(got.event_header, super::ACTIVITY_UPDATES);
        assert_eq!(got.body, body);
        // Signed as @turnkey/crypto's verifyTurnkeyWebhookSignature checks (the Node suite
        // runs that function itself): over version, algorithm, key id, timestamp, event id
        // and body, with the key /webhooks/v1/signing-key serves.
        let header = |name: &str| got.headers.get(name).unwrap().to_str().unwrap().to_owned();
        assert_eq!(header("x-turnkey-signature-version"), "v1");
        assert_eq!(header("x-turnkey-signature-algorithm"), "ed25519");
        assert_eq!(header("x-turnkey-signature-key-id"), signer.key_id());
        assert_eq!(header("x-turnkey-event-id"), "ev-1");
        let input = super::signing::signed_input(
            signer.key_id(),
            &header("x-turnkey-timestamp"),
            "ev-1",
            &got.body,
        );
        let public: [u8; 32] = hex::decode(signer.public_key_hex())
            .unwrap()
            .try_into()
            .unwrap();
        let signature = hex::decode(header("x-turnkey-signature")).unwrap();
        ed25519_dalek::VerifyingKey::from_bytes(&public)
            .unwrap()
            .verify_strict(
                &input,
                &ed25519_dalek::Signature::from_slice(&signature).unwrap(),
            )
            .unwrap();
    }
}

/// Without `--webhook-allow-private-networks` an https endpoint on this machine is not
/// contacted, whether named or given as an address.
#[tokio::test]
async fn https_deliveries_to_internal_addresses_are_blocked() {
    let mut receiver = receiver().await;
    let clients = Clients::new(&options(&receiver, false)).unwrap();
    let (_dir, signer) = signer();
    let body = Bytes::from_static(b"{}");
    for host in ["localhost", "127.0.0.1", "[::1]", "[::ffff:127.0.0.1]"] {
        let url = format!("https://{host}:{}/", receiver.port);
        assert_eq!(
            send(&clients, &signer, &url, body.clone()).await,
            "blocked",
            "{host}"
        );
    }
    // An http endpoint (the enclave accepts them on loopback only) is not delivered at all
    // then; with private networks allowed (as in `keyhold dev`), to loopback only.
    assert_eq!(
        clients.check(&"http://127.0.0.1:9/".parse().unwrap()),
        Err(Refusal::Blocked)
    );
    assert_eq!(
        send(&clients, &signer, "http://localhost:9/", body.clone()).await,
        "blocked"
    );
    let private = Clients::new(&options(&receiver, true)).unwrap();
    assert_eq!(
        private.check(&"http://127.0.0.1:9/".parse().unwrap()),
        Ok(())
    );
    assert_eq!(
        private.check(&"http://10.0.0.1/".parse().unwrap()),
        Err(Refusal::Blocked)
    );
    assert_eq!(
        private.check(&"https://169.254.169.254/".parse().unwrap()),
        Err(Refusal::Blocked)
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(receiver.requests.try_recv().is_err(), "nothing was sent");
    assert_eq!(
        receiver
            .connections
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
}

/// A receiver whose certificate chains to no trusted root gets nothing: the certificate is
/// verified (the delivery fails after its retries).
#[tokio::test]
async fn an_untrusted_certificate_fails_the_delivery() {
    let mut receiver = receiver().await;
    let clients = Clients::new(&DeliveryOptions {
        extra_roots: vec![],
        allow_private_networks: true,
        signing_key_file: None,
    })
    .unwrap();
    let (_dir, signer) = signer();
    let url = format!("https://localhost:{}/", receiver.port);
    assert_eq!(
        send(&clients, &signer, &url, Bytes::from_static(b"{}")).await,
        "failed"
    );
    assert!(receiver.requests.try_recv().is_err());
    // It did connect (every attempt): the handshake is what failed.
    assert_eq!(
        receiver
            .connections
            .load(std::sync::atomic::Ordering::SeqCst),
        super::ATTEMPTS as usize
    );
}

#[test]
fn unusable_ca_files_are_refused_at_start() {
    let missing = DeliveryOptions {
        extra_roots: vec!["/nonexistent/ca.pem".into()],
        allow_private_networks: false,
        signing_key_file: None,
    };
    assert!(Clients::new(&missing).is_err());
    let mut empty = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut empty, b"not a certificate\n").unwrap();
    let empty = DeliveryOptions {
        extra_roots: vec![empty.path().to_owned()],
        allow_private_networks: false,
        signing_key_file: None,
    };
    let err = Clients::new(&empty).err().map(|e| e.to_string());
    assert!(
        err.as_deref().is_some_and(|e| e.contains("no certificate")),
        "{err:?}"
    );
}
