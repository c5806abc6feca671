//! `keyhold`: the host binary.

use std::process::ExitCode;

use clap::Parser;
use keyhold_host::cli::serve::{self, HostConfig};
use keyhold_host::cli::{Cli, Command, dev};

/// See host/Cargo.toml for why the host does not use the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("KEYHOLD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if cli.log_json {
        subscriber.json().init();
    } else {
        subscriber.init();
    }
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if let Some(workers) = cli.worker_threads(cores) {
        builder.worker_threads(workers);
    }
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("keyhold: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let command = match cli.command {
        Command::Audit(audit) => {
            return runtime
                .block_on(keyhold_host::cli::audit::run(audit))
                .into();
        }
        other => other,
    };
    let result = runtime.block_on(async move {
        match command {
            Command::Dev(args) => dev::run(args).await,
            Command::DevCa { data_dir } => {
                std::fs::create_dir_all(&data_dir)?;
                serve::ensure_dev_ca(&data_dir)
            }
            Command::Openapi => {
                let text = serde_json::to_string_pretty(&keyhold_host::api::openapi::document())?;
                std::io::Write::write_all(&mut std::io::stdout(), format!("{text}\n").as_bytes())?;
                Ok(())
            }
            Command::Operator(command) => keyhold_host::cli::operator::run(command).await,
            Command::SignerKey(args) => keyhold_host::cli::signer_key::run(args).await,
            Command::Audit(_) => Ok(()),
            Command::Serve(args) => {
                let config = HostConfig {
                    enclave: args.enclave,
                    data_dir: args.data_dir,
                    listen: args.listen,
                    dev: false,
                    forward_from: args.forward_from,
                    org_rate_limit: args.limits.org_rate_limit,
                    database: args.database,
                    webhooks: args.webhooks.options(),
                };
                serve::start(&config)
                    .await?
                    .run(serve::shutdown_signal())
                    .await
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keyhold: {e:#}");
            ExitCode::FAILURE
        }
    }
}
