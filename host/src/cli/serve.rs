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
use crate::boot::{self, DevCredentials};
use crate::enclave_client::EnclaveClient;
use crate::operator::DevOperator;
use crate::store::sqlite::SqliteStore;

#[derive(Clone, Debug)]
pub struct HostConfig {
    pub enclave: Address,
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// Dev mode: create the dev operator key and dev organization if missing.
    pub dev: bool,
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

/// Opens the store, waits for the enclave, provisions it and binds the HTTP listener.
pub async fn start(config: &HostConfig) -> anyhow::Result<Host> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating {}", config.data_dir.display()))?;
    let store = Arc::new(SqliteStore::open(&config.data_dir.join(DATABASE_FILE))?);
    let operator_path = config.data_dir.join(OPERATOR_KEY_FILE);
    let operator = if config.dev || operator_path.exists() {
        Some(Arc::new(DevOperator::load_or_create(&operator_path)?))
    } else {
        None
    };
    let enclave = Arc::new(EnclaveClient::new(
        config.enclave.clone(),
        4,
        Duration::from_secs(30),
    ));
    wait_for_enclave(&enclave, Duration::from_secs(30)).await?;
    let quorum = boot::ensure_provisioned(&enclave, store.as_ref(), operator.as_deref()).await?;
    tracing::info!(quorum_public_key = %hex::encode(quorum), "enclave ready");

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
            store,
            enclave,
            operator,
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
        axum::serve(self.listener, api::router(self.state))
            .with_graceful_shutdown(shutdown)
            .await?;
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
