//! The `keyhold-attest` command: flags → validated config → verification → report.
//!
//! Like ripgrep's low/high args split, `args` mirrors the flags and `Config` is what the
//! verification runs on; only this module decides exit codes.

mod args;
mod input;
mod report;

use std::process::ExitCode;

use clap::Parser as _;
use keyhold_attestation::{Document, Error};

use args::{Cli, Command, Config};

/// How a run ended; each maps to one exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Valid,
    Invalid,
    Usage,
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Valid => ExitCode::SUCCESS,
            Outcome::Invalid => ExitCode::from(1),
            Outcome::Usage => ExitCode::from(2),
        }
    }
}

pub(crate) fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version also arrive here, with exit code 0.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    match cli.command {
        Command::Verify(args) => verify(args).into(),
    }
}

fn verify(args: args::VerifyArgs) -> Outcome {
    let config = match Config::try_from(args) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("keyhold-attest: {e}");
            return Outcome::Usage;
        }
    };
    let bytes = match input::read(&config.file).and_then(|raw| input::decode(&raw)) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("keyhold-attest: {e}");
            return Outcome::Usage;
        }
    };
    let (document, result): (Option<Document>, Result<(), Error>) = match Document::parse(&bytes) {
        Ok(doc) => {
            let result = doc.verify(&config.policy).map(|_| ());
            (Some(doc), result)
        }
        Err(e) => (None, Err(e)),
    };
    let printed = if config.json {
        report::json(&config, document.as_ref(), &result)
    } else {
        report::text(&config, document.as_ref(), &result)
    };
    if let Err(e) = printed {
        // A closed pipe (e.g. `| head`) is not a verification failure; anything else is.
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("keyhold-attest: writing the report: {e}");
            return Outcome::Usage;
        }
    }
    if result.is_ok() {
        Outcome::Valid
    } else {
        Outcome::Invalid
    }
}
