//! `keyhold signer-key`: fetches the bundle signing key from a running server and checks that
//! the deployment's quorum key endorsed it, so a client can pin a key the host could not have
//! substituted.

use anyhow::{Context, anyhow, bail};
use keyhold_shared::msg::{DOMAIN_SIGNER_KEY, domain_digest};
use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
use p256::ecdsa::{DerSignature, VerifyingKey};
use serde_json::Value;

use super::operator::http;

#[derive(Debug, clap::Args)]
pub struct SignerKeyArgs {
    /// The server's base URL, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    pub url: String,
    /// The deployment's quorum public key (hex), as the operators know it from genesis. Without
    /// it the endorsement is checked against the key the same server reports, which proves only
    /// that the two answers agree.
    #[arg(long)]
    pub quorum_public_key: Option<String>,
}

fn hex_field(json: &Value, name: &str) -> anyhow::Result<Vec<u8>> {
    let text = json
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("response has no `{name}`"))?;
    hex::decode(text).with_context(|| format!("`{name}` is not hex"))
}

/// Checks `endorsement` (DER) by `quorum_public_key` over the signer key.
pub fn check(
    signer_public_key: &[u8],
    endorsement: &[u8],
    quorum_public_key: &[u8],
) -> anyhow::Result<()> {
    let quorum = VerifyingKey::from_sec1_bytes(quorum_public_key)
        .map_err(|_| anyhow!("the quorum public key is not a P-256 point"))?;
    let digest = domain_digest(DOMAIN_SIGNER_KEY, &signer_public_key.to_vec())?;
    let signature = DerSignature::from_bytes(endorsement)
        .map_err(|_| anyhow!("the endorsement is not a DER signature"))?;
    quorum
        .verify_prehash(&digest, &signature)
        .map_err(|_| anyhow!("the signer key is NOT endorsed by this quorum key"))?;
    VerifyingKey::from_sec1_bytes(signer_public_key)
        .map_err(|_| anyhow!("the signer key is not a P-256 point"))?;
    if signer_public_key.len() != 65 {
        bail!("the signer key is not in uncompressed form");
    }
    Ok(())
}

pub async fn run(args: SignerKeyArgs) -> anyhow::Result<()> {
    let url = format!("{}/enclave/v1/signer", args.url.trim_end_matches('/'));
    let answer = http("GET", &url, None).await?;
    let signer = hex_field(&answer, "signerPublicKey")?;
    let endorsement = hex_field(&answer, "endorsement")?;
    let (quorum, pinned) = match &args.quorum_public_key {
        Some(text) => (
            hex::decode(text.trim()).context("--quorum-public-key is not hex")?,
            true,
        ),
        None => (hex_field(&answer, "quorumPublicKey")?, false),
    };
    check(&signer, &endorsement, &quorum)?;
    if !pinned {
        eprintln!(
            "note: checked against the quorum key this server reports ({}); pass \
             --quorum-public-key to check against the one you know",
            hex::encode(&quorum)
        );
    }
    println!("{}", hex::encode(&signer));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::hazmat::PrehashSigner as _;
    use p256::ecdsa::{Signature, SigningKey};

    #[test]
    fn endorsement_is_checked_against_the_quorum_key() {
        let quorum = SigningKey::from_slice(&[3u8; 32]).unwrap();
        let signer = SigningKey::from_slice(&[4u8; 32]).unwrap();
        let public = signer
            .verifying_key()
            .to_sec1_point(false)
            .as_bytes()
            .to_vec();
        let digest = domain_digest(DOMAIN_SIGNER_KEY, &public).unwrap();
        let sig: Signature = quorum.sign_prehash(&digest).unwrap();
        let der = sig.to_der().as_bytes().to_vec();
        let quorum_public = quorum
            .verifying_key()
            .to_sec1_point(true)
            .as_bytes()
            .to_vec();
        check(&public, &der, &quorum_public).unwrap();
        let other = SigningKey::from_slice(&[5u8; 32]).unwrap();
        let other_public = other
            .verifying_key()
            .to_sec1_point(true)
            .as_bytes()
            .to_vec();
        assert!(check(&public, &der, &other_public).is_err());
        let swapped = other
            .verifying_key()
            .to_sec1_point(false)
            .as_bytes()
            .to_vec();
        assert!(check(&swapped, &der, &quorum_public).is_err());
    }
}
