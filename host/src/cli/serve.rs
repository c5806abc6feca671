//! Running the host: open the store, reach and provision the enclave, serve HTTP.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use keyhold_shared::Address;
use keyhold_shared::msg::Request;
use tokio::net::TcpListener;

use crate::api::{self, AppState};
use crate::boot::{self, DevCredentials, Provisioner};
use crate::enclave_client::EnclaveClient;
use crate::operator::DevOperator;
use crate::store::Database;
use keyhold_attestation::TrustAnchor;

#[derive(Clone, Debug)]
pub struct HostConfig {
    pub enclave: Address,
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// Dev mode: create the dev operator key and dev organization if missing.
    pub dev: bool,
    /// A provisioned enclave to take the quorum key from if ours is not provisioned.
    pub forward_from: Option<Address>,
    /// Requests per second per organization (0 = unlimited).
    pub org_rate_limit: u32,
    /// Where the records live; `None`: SQLite, `keyhold.db` in the data directory.
    pub database: Option<Database>,
    /// How webhook deliveries may connect.
    pub webhooks: crate::webhooks::DeliveryOptions,
}

/// A host that is ready to serve.
pub struct Host {
    pub base_url: String,
    pub credentials: Option<DevCredentials>,
    pub state: AppState,
    listener: TcpListener,
}

pub const OPERATOR_KEY_FILE: &str = "operator-key.json";
pub const CREDENTIALS_FILE: &str = "dev-credentials.json";
pub const DATABASE_FILE: &str = "keyhold.db";
/// The webhook signing key's default file in the data directory.
pub const WEBHOOK_SIGNING_KEY_FILE: &str = "webhook-signing-key";

/// The dev attestation CA: a seed the dev enclave derives its CA from, and that CA's root
/// certificate, which operators and clients pin (`keyhold-attest verify --root`).
pub const DEV_CA_SEED_FILE: &str = "dev-attestation-ca.seed";
pub const DEV_CA_ROOT_FILE: &str = "dev-attestation-root.pem";

/// Creates the dev attestation CA in `data_dir` if it does not exist yet.
pub fn ensure_dev_ca(data_dir: &std::path::Path) -> anyhow::Result<()> {
    let seed_path = data_dir.join(DEV_CA_SEED_FILE);
    if !seed_path.exists() {
        let seed = crate::operator::random_bytes::<32>()?;
        crate::operator::write_private(&seed_path, hex::encode(seed.as_ref()).as_bytes())?;
    }
    let seed = zeroize::Zeroizing::new(hex::decode(std::fs::read_to_string(&seed_path)?.trim())?);
    let now = keyhold_attestation::UnixTime::from_secs(crate::api::now_ms() / 1000);
    let issuer =
        keyhold_attestation::builder::DevIssuer::long_lived(&seed, now, now.saturating_add(60))
            .map_err(|e| anyhow::anyhow!("dev CA: {e}"))?;
    std::fs::write(
        data_dir.join(DEV_CA_ROOT_FILE),
        issuer.root_pem().map_err(|e| anyhow::anyhow!("{e}"))?,
    )?;
    Ok(())
}

/// Opens the store, waits for the enclave, provisions it (or leaves it for the operators) and
/// binds the HTTP listener.
pub async fn start(config: &HostConfig) -> anyhow::Result<Host> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating {}", config.data_dir.display()))?;
    let database = config
        .database
        .clone()
        .unwrap_or_else(|| Database::Sqlite(config.data_dir.join(DATABASE_FILE)));
    let store = database
        .open()
        .await
        .with_context(|| format!("opening the database {database:?}"))?;
    tracing::info!(?database, "store open");
    let webhook_signer = match &config.webhooks.signing_key_file {
        // Named: it must be there (a typo or a missing mount must not mint a key of its own).
        Some(path) => crate::webhooks::Signer::load(path).context("--webhook-signing-key")?,
        None => {
            let path = config.data_dir.join(WEBHOOK_SIGNING_KEY_FILE);
            let (signer, made) = crate::webhooks::Signer::load_or_create(&path).context(
                "the webhook signing key (with a read-only data directory, pass \
                 --webhook-signing-key FILE naming an existing key)",
            )?;
            if made {
                tracing::warn!(path = %path.display(), key_id = signer.key_id(),
                    "made a new webhook signing key: give receivers GET /webhooks/v1/signing-key, \
                     and other hosts of this deployment the same file (--webhook-signing-key)");
            }
            signer
        }
    };
    tracing::info!(key_id = webhook_signer.key_id(), "webhook signing key");
    let operator_path = config.data_dir.join(OPERATOR_KEY_FILE);
    let operator = if config.dev || operator_path.exists() {
        Some(Arc::new(DevOperator::load_or_create(&operator_path)?))
    } else {
        None
    };
    let root_path = config.data_dir.join(DEV_CA_ROOT_FILE);
    let attestation_root = if root_path.exists() {
        let pem = std::fs::read(&root_path)?;
        Some(Arc::new(TrustAnchor::from_pem(&pem).map_err(|e| {
            anyhow::anyhow!("{}: {e}", root_path.display())
        })?))
    } else {
        None
    };
    let forward_from = config.forward_from.as_ref().map(|address| {
        Arc::new(EnclaveClient::new(
            address.clone(),
            1,
            Duration::from_secs(30),
        ))
    });
    let provisioner = Provisioner {
        operator: operator.clone(),
        attestation_root,
        forward_from,
        in_progress: Default::default(),
    };

    let enclave = Arc::new(EnclaveClient::new(
        config.enclave.clone(),
        4,
        Duration::from_secs(30),
    ));
    wait_for_enclave(&enclave, Duration::from_secs(30)).await?;
    match boot::ensure_provisioned(&enclave, store.as_ref(), &provisioner).await? {
        Some(quorum) => tracing::info!(quorum_public_key = %hex::encode(quorum), "enclave ready"),
        None => tracing::warn!(
            "the enclave is not provisioned: waiting for operators (keyhold operator provision)"
        ),
    }

    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let base_url = format!("http://{}", listener.local_addr()?);
    let credentials = match (&operator, config.dev) {
        (Some(operator), true) => Some(
            boot::ensure_dev_org(
                &enclave,
                store.as_ref(),
                operator,
                &config.data_dir.join(CREDENTIALS_FILE),
                &base_url,
            )
            .await?,
        ),
        _ => None,
    };
    Ok(Host {
        base_url,
        credentials,
        state: AppState {
            webhooks: crate::webhooks::Webhooks::start(
                store.clone(),
                &config.webhooks,
                webhook_signer,
            )?,
            store,
            enclave,
            provisioner,
            rate_limiter: Arc::new(crate::api::rate_limit::OrgRateLimiter::new(
                config.org_rate_limit,
            )),
            audit: Arc::default(),
        },
        listener,
    })
}

impl Host {
    /// Serves HTTP until `shutdown` completes, then finishes in-flight requests.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!(url = %self.base_url, "keyhold API listening");
        api::server::serve(self.listener, api::router(self.state), shutdown).await?;
        Ok(())
    }
}

async fn wait_for_enclave(client: &EnclaveClient, patience: Duration) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        match client.call(Request::Status).await {
            Ok(_) => return Ok(()),
            Err(e) if started.elapsed() < patience => {
                tracing::debug!(error = %e, "waiting for the enclave");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => {
                return Err(e).context(format!("enclave at {} did not answer", client.address()));
            }
        }
    }
}

pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
