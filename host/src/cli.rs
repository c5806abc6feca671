//! The `keyhold` command line: `dev` (whole stack, one command) and `serve` (host only).

pub mod audit;
pub mod dev;
pub mod operator;
pub mod serve;
pub mod signer_key;

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use keyhold_shared::Address;

use crate::store::Database;

/// keyhold: self-hostable wallet infrastructure. Keys live only in the enclave; this host
/// serves Turnkey's API and stores sealed blobs.
#[derive(Debug, Parser)]
#[command(name = "keyhold", version)]
pub struct Cli {
    /// Log as JSON lines.
    #[arg(long, global = true)]
    pub log_json: bool,
    /// Threads serving HTTP and running the host's request handling (SQLite's writer and the
    /// blocking pool have their own). Default: one per core; with `dev`, half the cores (at
    /// least one), since the enclave's workers run on the same machine there. The option,
    /// and `dev`'s default, take precedence over tokio's TOKIO_WORKER_THREADS.
    #[arg(long, global = true, value_name = "N")]
    pub worker_threads: Option<NonZeroUsize>,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The runtime's worker threads for this command on a machine with `cores` cores: `None`
    /// leaves tokio's default (one per core).
    ///
    /// `dev` runs the enclave beside the host, with a worker per core of its own. On this
    /// project's 2-core machine a host with one runtime worker instead of two used 5–21% less
    /// CPU (host and enclave) per signing request at concurrency 64 and served 4–27% more
    /// requests a second, in 6 of 6 pairs; at concurrency 8 sign_raw_payload's p99 fell and
    /// sign_transaction's rose by ~0.3 ms (README, session 13). On Nitro the enclave has vCPUs
    /// of its own, so `serve` keeps one worker per core.
    pub fn worker_threads(&self, cores: usize) -> Option<usize> {
        match (self.worker_threads, &self.command) {
            (Some(n), _) => Some(n.get()),
            (None, Command::Dev(_)) => Some((cores / 2).max(1)),
            (None, _) => None,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the whole stack for development: the enclave as a child process over a Unix
    /// socket, SQLite, a dev organization with a root API key (written to
    /// <data-dir>/dev-credentials.json). Ctrl-C stops both.
    Dev(DevArgs),
    /// Run the host against an already running enclave.
    Serve(ServeArgs),
    /// Create the dev attestation CA in a data directory (seed for `keyhold-enclave
    /// --dev-attestation-ca`, root PEM for `keyhold-attest --root`), if it is not there yet.
    DevCa {
        #[arg(long, default_value = "./keyhold-data")]
        data_dir: PathBuf,
    },
    /// Print the OpenAPI (Swagger 2.0) document of what this keyhold serves, as `GET
    /// /openapi.json` does (scripts/compat-matrix builds the README's matrix from it).
    Openapi,
    /// Operator tools: keys, manifests, approvals, genesis, provisioning an enclave.
    #[command(subcommand)]
    Operator(operator::OperatorCommand),
    /// Print the deployment's bundle signing key (uncompressed P-256, hex) from a running
    /// server, after checking the quorum key's endorsement of it. Clients pin it as
    /// `dangerouslyOverrideSignerPublicKey` of `@turnkey/crypto` to decrypt export bundles and
    /// to build import bundles.
    SignerKey(signer_key::SignerKeyArgs),
    /// Audit receipts: verify an organization's chain (exit 0 verified, 1 failed, 2 error).
    #[command(subcommand)]
    Audit(audit::AuditCommand),
}

#[derive(Debug, clap::Args)]
pub struct DevArgs {
    /// Data directory (database, dev operator key, credentials, enclave socket).
    #[arg(long, default_value = "./keyhold-data")]
    pub data_dir: PathBuf,
    /// HTTP listen address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Path of the `keyhold-enclave` binary (default: next to this one).
    #[arg(long)]
    pub enclave_bin: Option<PathBuf>,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub webhooks: WebhookArgs,
    /// Where to keep records: `postgres://user@host:port/db`, `sqlite:PATH` or a path
    /// (default: SQLite, keyhold.db in the data directory).
    #[arg(long, value_name = "DATABASE")]
    pub database: Option<Database>,
    /// Niceness of the enclave's signing worker threads (0-19; 0 leaves them as they are).
    /// Here the enclave shares the host's cores, and a request's parsing, commit and answer
    /// should not queue behind another request's signature; on Nitro the enclave has its own.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u8).range(0..=19))]
    pub enclave_worker_nice: u8,
}

/// Where webhook deliveries may go.
#[derive(Debug, Clone, clap::Args)]
pub struct WebhookArgs {
    /// A PEM file of root certificates to trust for https webhook endpoints besides Mozilla's
    /// (receivers behind a private CA); may be given more than once.
    #[arg(long = "webhook-ca-file", value_name = "PEM")]
    pub ca_files: Vec<PathBuf>,
    /// Also deliver to https endpoints on private and loopback addresses, and to http
    /// endpoints (loopback only). Off by default in `serve` (an endpoint's creator would
    /// otherwise reach into this host's network), always on in `dev`; link-local addresses
    /// (cloud metadata) stay out of reach.
    #[arg(long = "webhook-allow-private-networks")]
    pub allow_private_networks: bool,
    /// The file of the key webhook deliveries are signed with (made on first start; default
    /// `webhook-signing-key` in the data directory). Give hosts that share a database the
    /// same file, so receivers need one key.
    #[arg(long = "webhook-signing-key", value_name = "FILE")]
    pub signing_key_file: Option<PathBuf>,
}

impl WebhookArgs {
    pub fn options(&self) -> crate::webhooks::DeliveryOptions {
        crate::webhooks::DeliveryOptions {
            extra_roots: self.ca_files.clone(),
            allow_private_networks: self.allow_private_networks,
            signing_key_file: self.signing_key_file.clone(),
        }
    }
}

/// Limits on what clients may ask of the host.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct LimitArgs {
    /// Requests per second each organization may make (bursts of twice that); 0 = no limit.
    #[arg(long, default_value_t = 1000, value_name = "PER_SECOND")]
    pub org_rate_limit: u32,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Enclave address: `unix:/path` or `vsock:CID:PORT`.
    #[arg(long)]
    pub enclave: Address,
    /// Data directory (database; a dev operator key here, if any, provisions the enclave).
    #[arg(long, default_value = "./keyhold-data")]
    pub data_dir: PathBuf,
    /// HTTP listen address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Key forwarding: if our enclave is not provisioned, have this already provisioned enclave
    /// of the same deployment verify its attestation and hand it the quorum key.
    #[arg(long, value_name = "ENCLAVE_ADDR")]
    pub forward_from: Option<Address>,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub webhooks: WebhookArgs,
    /// Where to keep records: `postgres://user@host:port/db` (several hosts may share one
    /// PostgreSQL database), `sqlite:PATH` or a path (default: SQLite, keyhold.db in the data
    /// directory).
    #[arg(long, value_name = "DATABASE")]
    pub database: Option<Database>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("keyhold").chain(args.iter().copied()))
            .expect("valid command line")
    }

    #[test]
    fn dev_takes_half_the_cores_and_an_explicit_count_wins() {
        let dev = parse(&["dev"]);
        assert_eq!(dev.worker_threads(1), Some(1));
        assert_eq!(dev.worker_threads(2), Some(1));
        assert_eq!(dev.worker_threads(8), Some(4));
        let serve = parse(&["serve", "--enclave", "unix:/tmp/enclave.sock"]);
        assert_eq!(
            serve.worker_threads(8),
            None,
            "tokio's default: one per core"
        );
        assert_eq!(
            parse(&["--worker-threads", "3", "dev"]).worker_threads(2),
            Some(3)
        );
        assert_eq!(
            parse(&["serve", "--enclave", "unix:/e", "--worker-threads", "2"]).worker_threads(8),
            Some(2)
        );
        assert!(Cli::try_parse_from(["keyhold", "--worker-threads", "0", "dev"]).is_err());
    }
}
