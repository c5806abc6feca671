//! The HTTP clients deliveries go out through: TLS (rustls) for `https` endpoints, plain HTTP
//! for the loopback-only `http` ones, both resolving names through the address guard.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::ATTEMPT_TIMEOUT;
use super::guard::{GuardedResolver, Reach};
use crate::error::HostError;

/// How webhook deliveries may connect (`keyhold serve` / `dev` flags).
#[derive(Clone, Debug, Default)]
pub struct DeliveryOptions {
    /// PEM files of root certificates trusted for `https` endpoints besides Mozilla's (a
    /// private CA's receivers).
    pub extra_roots: Vec<PathBuf>,
    /// Deliver to `https` endpoints on private and loopback addresses too, and to `http`
    /// endpoints (loopback only) at all.
    pub allow_private_networks: bool,
    /// The delivery signing key's file (`signing.rs`); `None`: in the data directory.
    pub signing_key_file: Option<PathBuf>,
}

type Connector = HttpConnector<GuardedResolver>;
type Body = Full<Bytes>;

/// Why a delivery was not sent at all.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not an `http`/`https` URL, or no host in it.
    Unusable,
    /// An address the guard does not permit (given as an IP literal).
    Blocked,
}

pub struct Clients {
    http: Client<Connector, Body>,
    https: Client<HttpsConnector<Connector>, Body>,
    allow_private_networks: bool,
}

impl Clients {
    pub fn new(options: &DeliveryOptions) -> Result<Self, HostError> {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for path in &options.extra_roots {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| {
                    HostError::Config(format!("webhook CA file {}: {e}", path.display()))
                })?;
            if certs.is_empty() {
                return Err(HostError::Config(format!(
                    "webhook CA file {} holds no certificate",
                    path.display()
                )));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| {
                    HostError::Config(format!("webhook CA file {}: {e}", path.display()))
                })?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| HostError::Config(format!("TLS for webhooks: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let https_reach = Reach::for_scheme("https", options.allow_private_networks);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_only()
            .enable_http1()
            .wrap_connector(connector(https_reach.unwrap_or(Reach::Public), true));
        let http_reach = Reach::for_scheme("http", options.allow_private_networks);
        Ok(Clients {
            http: Client::builder(TokioExecutor::new())
                .build(connector(http_reach.unwrap_or(Reach::Nowhere), false)),
            https: Client::builder(TokioExecutor::new()).build(https),
            allow_private_networks: options.allow_private_networks,
        })
    }

    /// Checks where `uri` would connect to before anything is sent. Names are checked when
    /// they are resolved (see `guard.rs`); an IP literal is checked here.
    pub fn check(&self, uri: &hyper::Uri) -> Result<(), Refusal> {
        let reach = uri
            .scheme_str()
            .and_then(|scheme| Reach::for_scheme(scheme, self.allow_private_networks))
            .ok_or(Refusal::Unusable)?;
        let host = uri.host().ok_or(Refusal::Unusable)?;
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        match literal.parse::<IpAddr>() {
            Ok(ip) if !reach.permits(ip) => Err(Refusal::Blocked),
            _ => Ok(()),
        }
    }

    pub async fn send(
        &self,
        request: hyper::Request<Body>,
    ) -> Result<hyper::Response<Incoming>, hyper_util::client::legacy::Error> {
        if request.uri().scheme_str() == Some("https") {
            self.https.request(request).await
        } else {
            self.http.request(request).await
        }
    }
}

fn connector(reach: Reach, tls: bool) -> Connector {
    let mut connector = HttpConnector::new_with_resolver(GuardedResolver { reach });
    connector.set_connect_timeout(Some(ATTEMPT_TIMEOUT));
    // The TLS connector hands it `https` URIs.
    connector.enforce_http(!tls);
    connector
}
