//! `keyhold dev`: the enclave as a child process on a Unix socket in the data directory, and
//! the host in this process. Ctrl-C (or SIGTERM) stops the host, then the enclave.

use std::path::PathBuf;
use std::process::Stdio;

use anyhow::Context;
use keyhold_shared::Address;
use tokio::process::{Child, Command};

use super::DevArgs;
use super::serve::{self, CREDENTIALS_FILE, HostConfig};

pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let data_dir = std::fs::canonicalize(&args.data_dir)?;
    let socket = data_dir.join("enclave.sock");
    let address = Address::Unix(socket);
    let binary = match args.enclave_bin {
        Some(path) => path,
        None => enclave_binary()?,
    };
    serve::ensure_dev_ca(&data_dir)?;
    let mut child = Command::new(&binary)
        .arg("--listen")
        .arg(address.to_string())
        .arg("--dev-attestation-ca")
        .arg(data_dir.join(serve::DEV_CA_SEED_FILE))
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    tracing::info!(pid = child.id(), %address, "enclave started");

    let config = HostConfig {
        enclave: address,
        data_dir: data_dir.clone(),
        listen: args.listen,
        dev: true,
        forward_from: None,
        org_rate_limit: args.limits.org_rate_limit,
        database: args.database.clone(),
    };
    let result = async {
        let host = serve::start(&config).await?;
        println!("keyhold dev is up at {}", host.base_url);
        println!("credentials: {}", data_dir.join(CREDENTIALS_FILE).display());
        host.run(serve::shutdown_signal()).await
    }
    .await;
    stop(&mut child).await;
    result
}

/// The enclave binary built beside this one.
fn enclave_binary() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let candidate = me.with_file_name("keyhold-enclave");
    anyhow::ensure!(
        candidate.exists(),
        "{} not found; build it with `cargo build` or pass --enclave-bin",
        candidate.display()
    );
    Ok(candidate)
}

/// Asks the enclave to stop (SIGTERM) and waits a little; kills it if it does not.
async fn stop(child: &mut Child) {
    if let Some(pid) = child.id() {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .await;
    }
    match tokio::time::timeout(std::time::Duration::from_secs(5), child.wait()).await {
        Ok(_) => tracing::info!("enclave stopped"),
        Err(_) => {
            let _ = child.kill().await;
        }
    }
}
