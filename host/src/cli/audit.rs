//! `keyhold audit verify`: checks an organization's audit chain in a data directory, offline,
//! against the deployment's quorum public key (docs/audit.md). Exit codes: 0 verified,
//! 1 verification failed, 2 the check could not run (usage, unreadable store).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use keyhold_shared::OrgId;
use keyhold_shared::msg::{Receipt, SignedAuditHead};
use serde_json::Value;

use crate::audit::load;
use crate::audit::verify::{self, Anchor, Input, Report};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify an organization's receipt chain: every receipt signed by the enclave, chained,
    /// complete, and matching the stored activities.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The organization whose chain to check.
    #[arg(long)]
    pub org: OrgId,
    /// Data directory holding keyhold.db (read-only; the host may keep running).
    #[arg(long, default_value = "./keyhold-data")]
    pub data_dir: PathBuf,
    /// The deployment's quorum public key (hex), as the operators know it. Without it, the key
    /// in the store's deployment record is used, and the report says so.
    #[arg(long)]
    pub quorum_key: Option<String>,
    /// An anchor against truncation: a JSON file holding a signed head (from
    /// `GET /enclave/v1/audit/head`) or a receipt (from an activity's answer).
    #[arg(long, conflicts_with = "url")]
    pub head: Option<PathBuf>,
    /// A running keyhold: fetch a fresh signed head over a random nonce as the anchor.
    #[arg(long)]
    pub url: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Treat receipts the enclave issued but the host never stored as failures.
    #[arg(long)]
    pub strict: bool,
}

/// What `verify` concluded, mapped to the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Verified,
    Failed,
    Usage,
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Verified => ExitCode::SUCCESS,
            Outcome::Failed => ExitCode::from(1),
            Outcome::Usage => ExitCode::from(2),
        }
    }
}

pub async fn run(command: AuditCommand) -> Outcome {
    match command {
        AuditCommand::Verify(args) => match check(&args).await {
            Ok(report) => {
                if args.json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&report).unwrap_or_default()
                    );
                } else {
                    print_human(&report);
                }
                if report.ok {
                    Outcome::Verified
                } else {
                    Outcome::Failed
                }
            }
            Err(e) => {
                eprintln!("keyhold audit verify: {e:#}");
                Outcome::Usage
            }
        },
    }
}

fn decode_hex<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> anyhow::Result<T> {
    let bytes = hex::decode(text.trim()).with_context(|| format!("{what} is not hex"))?;
    keyhold_shared::frame::decode(&bytes).map_err(|_| anyhow::anyhow!("{what} does not decode"))
}

/// An anchor from the JSON the API returns (`kind` tells a head from a receipt).
fn anchor_from(json: &Value, nonce: Option<Vec<u8>>) -> anyhow::Result<Anchor> {
    let encoded = json
        .get("encoded")
        .and_then(Value::as_str)
        .context("the anchor has no `encoded` field")?;
    match json.get("kind").and_then(Value::as_str) {
        Some("keyhold.audit.head") => Ok(Anchor::Head {
            head: Box::new(decode_hex::<SignedAuditHead>(encoded, "the head")?),
            nonce,
        }),
        Some("keyhold.audit.receipt") => Ok(Anchor::Receipt(Box::new(decode_hex::<Receipt>(
            encoded,
            "the receipt",
        )?))),
        _ => bail!("the anchor's `kind` must be keyhold.audit.head or keyhold.audit.receipt"),
    }
}

pub async fn check(args: &VerifyArgs) -> anyhow::Result<Report> {
    let data = load::read_sqlite(
        &args.data_dir.join(crate::cli::serve::DATABASE_FILE),
        args.org,
    )?;
    if !data.org_exists {
        bail!("organization {} is not in this store", args.org);
    }
    let mut notes = Vec::new();
    let quorum_public_key = match (&args.quorum_key, &data.quorum) {
        (Some(text), stored) => {
            let key = hex::decode(text.trim()).context("--quorum-key is not hex")?;
            if let Some(record) = stored
                && record.genesis.quorum_public_key != key
            {
                notes.push("the store's deployment record names another quorum key".to_owned());
            }
            key
        }
        (None, Some(record)) => {
            notes.push(format!(
                "quorum key {} taken from the store itself; pass --quorum-key to pin it",
                hex::encode(&record.genesis.quorum_public_key)
            ));
            record.genesis.quorum_public_key.clone()
        }
        (None, None) => bail!("the store has no deployment record: pass --quorum-key"),
    };
    let anchor = match (&args.head, &args.url) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let json: Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", path.display()))?;
            // A receipt as an activity's answer holds it, or the bare object.
            let json = json.get("receipt").cloned().unwrap_or(json);
            Some(anchor_from(&json, None)?)
        }
        (None, Some(url)) => {
            let nonce = *crate::operator::random_bytes::<16>()?;
            let url = format!(
                "{}/enclave/v1/audit/head?org={}&nonce={}",
                url.trim_end_matches('/'),
                args.org,
                hex::encode(nonce)
            );
            let json = crate::cli::operator::http("GET", &url, None).await?;
            Some(anchor_from(&json, Some(nonce.to_vec()))?)
        }
        (None, None) => None,
    };
    let mut report = verify::verify(Input {
        org: args.org,
        quorum_public_key: &quorum_public_key,
        certificate: data.certificate.as_deref(),
        receipts: &data.receipts,
        activities: &data.activities,
        anchor,
        strict: args.strict,
    });
    notes.append(&mut report.notes);
    report.notes = notes;
    Ok(report)
}

fn print_human(report: &Report) {
    println!(
        "organization {}: {} receipts (newest seq {}), {} activities",
        report.organization_id, report.receipts, report.head_seq, report.activities
    );
    match &report.anchor {
        Some(anchor) => println!("anchor: {anchor}"),
        None => println!("anchor: none"),
    }
    for r in &report.recovered {
        println!(
            "recovered: receipt seq {} ({}, {}, user {}) was issued by the enclave but the host never stored its activity",
            r.seq, r.activity_type, r.status, r.user_id
        );
    }
    for note in &report.notes {
        println!("note: {note}");
    }
    if report.ok {
        println!("OK: the chain verifies");
    } else {
        println!("FAILED: {} problem(s)", report.problems.len());
        for p in &report.problems {
            let kind = serde_json::to_value(p.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            println!("  [{kind}] {}", p.message);
        }
    }
}
