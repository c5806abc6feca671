//! `keyhold operator …`: what an operator runs on their own machine. Keys stay in the
//! operator's key file; the host only ever sees public keys, signatures and ciphertexts.

use std::path::PathBuf;

use anyhow::{Context, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clap::Subcommand;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use keyhold_attestation::TrustAnchor;
use keyhold_shared::msg::{
    Attestation, DOMAIN_MANIFEST_APPROVAL, OperatorApproval, OperatorKey, Pcr, QuorumManifest,
};
use serde_json::{Value, json};

use crate::boot::QuorumRecord;
use crate::operator::{AttestationCheck, DevOperator, random_bytes};

#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Create an operator key file (HPKE + P-256) and print its public half.
    Keygen {
        /// Where to write the key file (mode 0600).
        #[arg(long)]
        out: PathBuf,
    },
    /// Write a quorum manifest from operators' public keys, a threshold and expected PCRs.
    Manifest {
        /// An operator public key as printed by `keygen` (repeat, in order).
        #[arg(long = "operator", required = true)]
        operators: Vec<String>,
        /// How many operators must act together.
        #[arg(long)]
        threshold: u8,
        /// An expected PCR, `N=HEX` (repeatable): the measurements of the enclave image.
        #[arg(long = "pcr", value_parser = parse_pcr, required = true)]
        pcrs: Vec<Pcr>,
        /// Manifest version; a new manifest of a deployment must have a larger one.
        #[arg(long, default_value_t = 1)]
        nonce: u64,
        #[arg(long)]
        out: PathBuf,
    },
    /// Show a manifest file in readable form.
    Show { manifest: PathBuf },
    /// Approve a manifest (for genesis, or as an operator of the current manifest for an update):
    /// prints the approval to hand to `genesis` or `update-manifest`.
    Approve {
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        manifest: PathBuf,
        /// For an update: the deployment's current manifest, in which this operator is listed.
        #[arg(long)]
        current: Option<PathBuf>,
    },
    /// Move the deployment to a new manifest with approvals of the current operators.
    UpdateManifest {
        #[arg(long)]
        url: String,
        #[arg(long)]
        manifest: PathBuf,
        #[arg(long = "approval", required = true)]
        approvals: Vec<String>,
    },
    /// Run genesis on a host's enclave with K approvals.
    Genesis {
        /// The host's base URL, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        url: String,
        #[arg(long)]
        manifest: PathBuf,
        /// Approvals printed by `approve` (repeat).
        #[arg(long = "approval", required = true)]
        approvals: Vec<String>,
    },
    /// Verify the host's enclave attestation and hand it this operator's share.
    Provision {
        #[arg(long)]
        url: String,
        #[arg(long)]
        key: PathBuf,
        /// Root certificate to pin (PEM). Default: the AWS Nitro Enclaves root.
        #[arg(long)]
        root: Option<PathBuf>,
        /// Accept a debug-mode enclave (PCR0-2 zero). Never in production.
        #[arg(long)]
        allow_debug: bool,
    },
}

fn parse_pcr(text: &str) -> Result<Pcr, String> {
    let (index, value) = text.split_once('=').ok_or("expected N=HEX")?;
    let index: u8 = index.parse().map_err(|_| "PCR index must be a number")?;
    let value = hex::decode(value).map_err(|_| "PCR value must be hex")?;
    Ok(Pcr { index, value })
}

fn read_hex<T: serde::de::DeserializeOwned>(path: &PathBuf) -> anyhow::Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    from_hex(&text).with_context(|| format!("decoding {}", path.display()))
}

fn from_hex<T: serde::de::DeserializeOwned>(text: &str) -> anyhow::Result<T> {
    Ok(postcard::from_bytes(&hex::decode(text.trim())?)?)
}

fn to_hex<T: serde::Serialize>(value: &T) -> anyhow::Result<String> {
    Ok(hex::encode(postcard::to_allocvec(value)?))
}

/// A JSON request to a keyhold host; a non-2xx answer is an error.
pub async fn http(method: &str, url: &str, body: Option<Value>) -> anyhow::Result<Value> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut request = hyper::Request::builder().method(method).uri(url);
    let payload = match body {
        Some(json) => {
            request = request.header("content-type", "application/json");
            Bytes::from(json.to_string())
        }
        None => Bytes::new(),
    };
    let response = client
        .request(request.body(Full::new(payload))?)
        .await
        .with_context(|| format!("{method} {url}"))?;
    let status = response.status();
    let bytes = response.into_body().collect().await?.to_bytes();
    let json: Value =
        serde_json::from_slice(&bytes).unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes)));
    if !status.is_success() {
        bail!("{method} {url}: {status}: {json}");
    }
    Ok(json)
}

fn field<'a>(json: &'a Value, name: &str) -> anyhow::Result<&'a str> {
    json.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("response has no `{name}`"))
}

pub async fn run(command: OperatorCommand) -> anyhow::Result<()> {
    match command {
        OperatorCommand::Keygen { out } => {
            if out.exists() {
                bail!(
                    "{} exists; refusing to overwrite an operator key",
                    out.display()
                );
            }
            let operator = DevOperator::load_or_create(&out)?;
            println!("{}", to_hex(&operator.public())?);
        }
        OperatorCommand::Manifest {
            operators,
            threshold,
            pcrs,
            nonce,
            out,
        } => {
            let operators = operators
                .iter()
                .map(|o| from_hex::<OperatorKey>(o))
                .collect::<anyhow::Result<Vec<_>>>()?;
            if threshold == 0 || usize::from(threshold) > operators.len() {
                bail!("threshold must be between 1 and the number of operators");
            }
            let manifest = QuorumManifest {
                operators,
                threshold,
                nonce,
                pcrs,
            };
            std::fs::write(&out, to_hex(&manifest)?)?;
            print_manifest(&manifest);
        }
        OperatorCommand::Show { manifest } => print_manifest(&read_hex(&manifest)?),
        OperatorCommand::Approve {
            key,
            manifest,
            current,
        } => {
            let operator = DevOperator::load_or_create(&key)?;
            let manifest: QuorumManifest = read_hex(&manifest)?;
            print_manifest(&manifest);
            let signer_list = match current {
                Some(path) => read_hex::<QuorumManifest>(&path)?,
                None => manifest.clone(),
            };
            let approval = operator.approval(&signer_list, DOMAIN_MANIFEST_APPROVAL, &manifest)?;
            eprintln!("approved as operator {}", approval.operator);
            println!("{}", to_hex(&approval)?);
        }
        OperatorCommand::Genesis {
            url,
            manifest,
            approvals,
        } => {
            let manifest: QuorumManifest = read_hex(&manifest)?;
            for a in &approvals {
                from_hex::<OperatorApproval>(a).context("an approval does not decode")?;
            }
            let body = json!({"manifest": to_hex(&manifest)?, "approvals": approvals});
            let answer = http(
                "POST",
                &format!("{}/enclave/v1/genesis", url.trim_end_matches('/')),
                Some(body),
            )
            .await?;
            println!(
                "genesis done; quorum public key {}",
                field(&answer, "quorumPublicKey")?
            );
        }
        OperatorCommand::UpdateManifest {
            url,
            manifest,
            approvals,
        } => {
            let manifest: QuorumManifest = read_hex(&manifest)?;
            let body = json!({"manifest": to_hex(&manifest)?, "approvals": approvals});
            let url = format!("{}/enclave/v1/manifest", url.trim_end_matches('/'));
            http("POST", &url, Some(body)).await?;
            println!("manifest updated to nonce {}", manifest.nonce);
        }
        OperatorCommand::Provision {
            url,
            key,
            root,
            allow_debug,
        } => {
            let base = url.trim_end_matches('/');
            let operator = DevOperator::load_or_create(&key)?;
            let quorum = http("GET", &format!("{base}/enclave/v1/quorum"), None).await?;
            let record: QuorumRecord = from_hex(field(&quorum, "record")?)?;
            // A host could replay an older record — say, one pinning a vulnerable build's PCRs.
            // Remember the newest manifest nonce seen for this deployment and refuse anything older.
            remember_nonce(&key, &record)?;
            let nonce = random_bytes::<32>()?.to_vec();
            let doc = http(
                "GET",
                &format!(
                    "{base}/enclave/v1/attestation?nonce={}",
                    hex::encode(&nonce)
                ),
                None,
            )
            .await?;
            let attestation = Attestation {
                document: STANDARD.decode(field(&doc, "attestationDocument")?)?,
                boot_key: hex::decode(field(&doc, "bootKey")?)?,
            };
            let root = match root {
                Some(path) => TrustAnchor::from_pem(&std::fs::read(&path)?)
                    .map_err(|e| anyhow!("{}: {e}", path.display()))?,
                None => TrustAnchor::aws_nitro_root_g1().map_err(|e| anyhow!("{e}"))?,
            };
            let check = AttestationCheck {
                root,
                nonce,
                allow_debug,
                max_age_secs: 300,
            };
            let share = operator.submit_share(
                &record.manifest,
                &record.genesis.shares,
                &attestation,
                &check,
            )?;
            eprintln!(
                "attestation verified: the enclave runs the manifest's PCRs and holds boot key {}",
                hex::encode(&attestation.boot_key)
            );
            let answer = http(
                "POST",
                &format!("{base}/enclave/v1/provision"),
                Some(json!({"share": to_hex(&share)?})),
            )
            .await?;
            println!("{answer}");
        }
    }
    Ok(())
}

/// Refuses a manifest older than the newest this operator has provisioned for the deployment,
/// and records the newest (next to the key file, `<key>.seen`).
fn remember_nonce(key: &std::path::Path, record: &QuorumRecord) -> anyhow::Result<()> {
    let path = key.with_extension("seen.json");
    let mut seen: serde_json::Map<String, Value> = match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)?,
        Err(_) => serde_json::Map::new(),
    };
    let deployment = hex::encode(&record.genesis.quorum_public_key);
    let newest = seen.get(&deployment).and_then(Value::as_u64).unwrap_or(0);
    if record.manifest.nonce < newest {
        bail!(
            "the host offers manifest nonce {} but this operator already provisioned nonce {newest}: refusing a rollback",
            record.manifest.nonce
        );
    }
    seen.insert(deployment, json!(record.manifest.nonce));
    std::fs::write(&path, serde_json::to_string_pretty(&seen)?)?;
    Ok(())
}

fn print_manifest(manifest: &QuorumManifest) {
    eprintln!(
        "manifest nonce {}: {}-of-{} operators",
        manifest.nonce,
        manifest.threshold,
        manifest.operators.len()
    );
    for (i, op) in manifest.operators.iter().enumerate() {
        eprintln!(
            "  operator {i}: signing key {}",
            hex::encode(&op.signing_key)
        );
    }
    for pcr in &manifest.pcrs {
        eprintln!("  PCR{}: {}", pcr.index, hex::encode(&pcr.value));
    }
}

#[cfg(test)]
mod tests {
    use keyhold_shared::msg::GenesisOutput;

    use super::*;

    fn record(nonce: u64) -> QuorumRecord {
        QuorumRecord {
            manifest: QuorumManifest {
                operators: vec![],
                threshold: 1,
                nonce,
                pcrs: vec![],
            },
            genesis: GenesisOutput {
                quorum_public_key: vec![2; 33],
                manifest_signature: vec![],
                shares: vec![],
            },
        }
    }

    #[test]
    fn operators_refuse_a_manifest_rollback() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("op.json");
        remember_nonce(&key, &record(1)).unwrap();
        remember_nonce(&key, &record(3)).unwrap();
        remember_nonce(&key, &record(3)).unwrap();
        let err = remember_nonce(&key, &record(2)).unwrap_err().to_string();
        assert!(err.contains("refusing a rollback"), "{err}");
        // another deployment is tracked separately
        let mut other = record(1);
        other.genesis.quorum_public_key = vec![3; 33];
        remember_nonce(&key, &other).unwrap();
    }
}
