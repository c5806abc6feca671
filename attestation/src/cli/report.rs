//! The human-readable and JSON reports.

use std::io::{self, Write as _};

use keyhold_attestation::{Cert, Document, Error, format_millis};
use serde_json::{Value, json};

use super::args::Config;

/// Fields up to this size are printed in full in the text report; longer ones are abbreviated.
const FULL_HEX_MAX: usize = 64;

fn field_text(value: Option<&[u8]>) -> String {
    match value {
        None => "none".to_owned(),
        Some(v) if v.len() <= FULL_HEX_MAX => format!("{} bytes: {}", v.len(), hex::encode(v)),
        Some(v) => {
            let head = v.get(..32).unwrap_or(v);
            format!("{} bytes: {}…", v.len(), hex::encode(head))
        }
    }
}

fn verdict(result: &Result<(), Error>) -> String {
    match result {
        Ok(()) => "VALID".to_owned(),
        Err(e) => format!("INVALID: {e}"),
    }
}

/// (role, certificate) pairs in chain order, root first.
fn chain<'a>(config: &'a Config, doc: &'a Document) -> Vec<(String, &'a Cert, &'static str)> {
    let mut rows = vec![("pinned root".to_owned(), config.root.cert(), "")];
    for (i, cert) in doc.cabundle().iter().enumerate() {
        let note = if i == 0 {
            " (document's copy of the root, not trusted)"
        } else {
            ""
        };
        rows.push((format!("cabundle[{i}]"), cert, note));
    }
    rows.push(("leaf".to_owned(), doc.certificate(), ""));
    rows
}

pub(crate) fn text(
    config: &Config,
    doc: Option<&Document>,
    result: &Result<(), Error>,
) -> io::Result<()> {
    let mut out = io::stdout().lock();
    if let Some(doc) = doc {
        writeln!(out, "module id:    {}", doc.module_id())?;
        writeln!(
            out,
            "timestamp:    {} ({} ms)",
            format_millis(doc.timestamp_millis()),
            doc.timestamp_millis()
        )?;
        writeln!(out, "digest:       {}", doc.digest().name())?;
        writeln!(
            out,
            "debug mode:   {}",
            if doc.is_debug() {
                "yes (pcr0-2 all zero)"
            } else {
                "no"
            }
        )?;
        for (index, value) in doc.pcrs() {
            writeln!(out, "pcr{index:<2}         {}", hex::encode(value))?;
        }
        writeln!(out, "public key:   {}", field_text(doc.public_key()))?;
        writeln!(out, "user data:    {}", field_text(doc.user_data()))?;
        writeln!(out, "nonce:        {}", field_text(doc.nonce()))?;
        writeln!(out, "certificates (root first):")?;
        for (role, cert, note) in chain(config, doc) {
            writeln!(out, "  {role}{note}")?;
            writeln!(out, "    subject:  {}", cert.subject())?;
            writeln!(
                out,
                "    valid:    {} .. {}",
                cert.not_before(),
                cert.not_after()
            )?;
            writeln!(out, "    sha256:   {}", hex::encode(cert.sha256()))?;
        }
    }
    writeln!(out, "checked at:   {}", config.policy.at())?;
    writeln!(out, "{}", verdict(result))?;
    out.flush()
}

fn cert_json(role: &str, cert: &Cert) -> Value {
    json!({
        "role": role,
        "subject": cert.subject(),
        "issuer": cert.issuer(),
        "not_before": cert.not_before().to_string(),
        "not_after": cert.not_after().to_string(),
        "sha256": hex::encode(cert.sha256()),
    })
}

pub(crate) fn json(
    config: &Config,
    doc: Option<&Document>,
    result: &Result<(), Error>,
) -> io::Result<()> {
    let document = doc.map(|doc| {
        let pcrs: serde_json::Map<String, Value> = doc
            .pcrs()
            .iter()
            .map(|(i, v)| (i.to_string(), Value::String(hex::encode(v))))
            .collect();
        json!({
            "module_id": doc.module_id(),
            "timestamp_ms": doc.timestamp_millis(),
            "timestamp": format_millis(doc.timestamp_millis()),
            "digest": doc.digest().name(),
            "debug": doc.is_debug(),
            "pcrs": pcrs,
            "public_key": doc.public_key().map(hex::encode),
            "user_data": doc.user_data().map(hex::encode),
            "nonce": doc.nonce().map(hex::encode),
            "chain": chain(config, doc)
                .into_iter()
                .map(|(role, cert, _)| cert_json(&role, cert))
                .collect::<Vec<_>>(),
        })
    });
    let report = json!({
        "valid": result.is_ok(),
        "verdict": verdict(result),
        "reason": result.as_ref().err().map(ToString::to_string),
        "checked_at": config.policy.at().to_string(),
        "document": document,
    });
    let mut out = io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &report).map_err(io::Error::from)?;
    writeln!(out)?;
    out.flush()
}
