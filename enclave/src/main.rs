//! `keyhold-enclave`: the trusted signer process.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use keyhold_enclave::Enclave;
use keyhold_enclave::attestation::{Attester, DevAttester};
use keyhold_enclave::server::{self, Limits};
use keyhold_shared::Address;

/// The keyhold enclave: holds the quorum key, verifies stamps, derives keys and signs.
/// The untrusted host connects to it over a Unix socket (dev) or vsock (Nitro).
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on: `unix:/path/to.sock` or `vsock:CID:PORT`.
    #[arg(long, default_value = "vsock:4294967295:5005")]
    listen: Address,
    /// Worker threads: requests computed at once (default: one per core).
    #[arg(long)]
    workers: Option<usize>,
    /// Dev attestation: a file holding the dev CA seed (hex). Documents are signed by a dev CA
    /// derived from it and PCR0 is the SHA-384 of this binary. Without it (and off Nitro) the
    /// enclave cannot attest, so it can only be provisioned by the unattested dev genesis flow.
    #[arg(long, value_name = "FILE")]
    dev_attestation_ca: Option<std::path::PathBuf>,
    /// Attest with the AWS Nitro NSM device (requires the `nitro` build feature).
    #[arg(long, conflicts_with = "dev_attestation_ca")]
    nitro: bool,
    /// Log as JSON lines.
    #[arg(long)]
    log_json: bool,
    /// Stop when standard input reaches its end: started as a child with a pipe for stdin, the
    /// enclave then stops with its parent however the parent ends (`keyhold dev` passes it; a
    /// killed host would otherwise leave its enclave running on the socket).
    #[arg(long)]
    exit_with_stdin: bool,
}

fn attester(args: &Args) -> Result<Attester, String> {
    if args.nitro {
        #[cfg(feature = "nitro")]
        return keyhold_enclave::attestation::nitro::NsmAttester::open()
            .map(Attester::Nitro)
            .map_err(|e| e.to_string());
        #[cfg(not(feature = "nitro"))]
        return Err("this build has no Nitro support (build with --features nitro)".into());
    }
    match &args.dev_attestation_ca {
        Some(path) => DevAttester::load(path)
            .map(Attester::Dev)
            .map_err(|e| format!("{}: {e}", path.display())),
        None => Ok(Attester::None),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("KEYHOLD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if args.log_json {
        subscriber.json().init();
    } else {
        subscriber.init();
    }
    // One thread for socket I/O: the requests themselves run on the server's worker threads
    // (one per core), so more I/O threads only added wake-ups between them.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("keyhold-enclave: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(async move {
        let attester = match attester(&args) {
            Ok(attester) => attester,
            Err(e) => {
                eprintln!("keyhold-enclave: {e}");
                return ExitCode::FAILURE;
            }
        };
        let enclave = match Enclave::with_attester(attester) {
            Ok(enclave) => Arc::new(enclave),
            Err(e) => {
                eprintln!("keyhold-enclave: {e}");
                return ExitCode::FAILURE;
            }
        };
        // Before listening: the first stamp of a key that signs often should not wait for it.
        keyhold_p256_verify::prepare();
        let listener = match keyhold_shared::transport::bind(&args.listen) {
            Ok(listener) => listener,
            Err(e) => {
                eprintln!("keyhold-enclave: cannot listen on {}: {e}", args.listen);
                return ExitCode::FAILURE;
            }
        };
        let mut limits = Limits::default();
        if let Some(workers) = args.workers {
            limits.workers = workers.max(1);
        }
        tracing::info!(address = %args.listen, "enclave listening");
        server::serve(
            listener,
            enclave,
            limits,
            shutdown_signal(args.exit_with_stdin),
        )
        .await;
        tracing::info!("enclave stopped");
        ExitCode::SUCCESS
    })
}

async fn shutdown_signal(exit_with_stdin: bool) {
    use tokio::signal::unix::{SignalKind, signal};
    let stdin_closed = async {
        if !exit_with_stdin {
            return std::future::pending().await;
        }
        let (closed, on_close) = tokio::sync::oneshot::channel::<()>();
        // A plain thread: a blocking read is all it takes, and the runtime has one thread.
        let watcher = std::thread::Builder::new()
            .name("keyhold-stdin".into())
            .spawn(move || {
                use std::io::Read;
                let mut buf = [0u8; 64];
                let mut stdin = std::io::stdin().lock();
                // Whatever the parent writes is ignored; the end of input (or an error) stops.
                while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
                let _ = closed.send(());
            });
        if watcher.is_err() {
            tracing::warn!("cannot watch standard input; stopping on signals only");
            return std::future::pending().await;
        }
        let _ = on_close.await;
        tracing::info!("standard input closed (the parent went away); stopping");
    };
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        return stdin_closed.await;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        () = stdin_closed => {}
    }
}
