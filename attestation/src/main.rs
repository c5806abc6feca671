//! `keyhold-attest`: verify an AWS Nitro attestation document from the command line.
//!
//! Exit status: 0 the document is valid, 1 it is invalid (the reason is printed), 2 the command
//! line was wrong or the input could not be read.

mod cli;

fn main() -> std::process::ExitCode {
    cli::run()
}
