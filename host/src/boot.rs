//! Bringing an enclave into service: genesis on first start, provisioning on every later start
//! (and whenever the enclave restarts), and the dev organization.

use std::path::Path;

use keyhold_shared::msg::{
    BootstrapOrgRequest, DOMAIN_BOOTSTRAP_ORG, DOMAIN_MANIFEST, GenesisOutput, GenesisRequest,
    OperatorApproval, OrgBootstrapSpec, ProvisionRequest, QuorumManifest, Request, Response,
    domain_digest,
};
use serde::{Deserialize, Serialize};

use crate::enclave_client::EnclaveClient;
use crate::error::HostError;
use crate::operator::{DevOperator, random_bytes, random_p256, write_private};
use crate::store::{OrgRecord, Store};

const QUORUM_META_KEY: &str = "quorum";

/// The public record of a deployment's quorum, kept by the host: the manifest, the quorum's
/// signature over it, the quorum public key and the shares encrypted to the operators.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QuorumRecord {
    pub manifest: QuorumManifest,
    pub genesis: GenesisOutput,
}

fn unexpected() -> HostError {
    HostError::UnexpectedResponse
}

/// Makes sure the enclave holds this deployment's quorum key. With an operator at hand (dev),
/// creates the deployment on first start and provisions a fresh enclave on later ones; without
/// one, the enclave must already be provisioned.
pub async fn ensure_provisioned(
    client: &EnclaveClient,
    store: &dyn Store,
    operator: Option<&DevOperator>,
) -> Result<Vec<u8>, HostError> {
    let Response::Status(status) = client.call(Request::Status).await? else {
        return Err(unexpected());
    };
    let record: Option<QuorumRecord> = match store.get_meta(QUORUM_META_KEY).await? {
        Some(bytes) => {
            Some(postcard::from_bytes(&bytes).map_err(|e| HostError::Store(e.to_string()))?)
        }
        None => None,
    };
    match (status.quorum_public_key, record, operator) {
        (Some(key), Some(record), _) if key == record.genesis.quorum_public_key => Ok(key),
        (Some(_), Some(_), _) => Err(HostError::Config(
            "the enclave holds a different deployment's quorum key".into(),
        )),
        (Some(_), None, _) => Err(HostError::Config(
            "the enclave is provisioned but this database has no quorum record".into(),
        )),
        (None, None, Some(operator)) => {
            let manifest = QuorumManifest {
                operators: vec![operator.public()],
                threshold: 1,
                nonce: 1,
            };
            let Response::Genesis(genesis) = client
                .call(Request::Genesis(GenesisRequest {
                    manifest: manifest.clone(),
                }))
                .await?
            else {
                return Err(unexpected());
            };
            let key = genesis.quorum_public_key.clone();
            let record = QuorumRecord { manifest, genesis };
            store
                .put_meta(
                    QUORUM_META_KEY,
                    postcard::to_allocvec(&record).map_err(|e| HostError::Store(e.to_string()))?,
                )
                .await?;
            tracing::info!(quorum_public_key = %hex::encode(&key), "dev genesis: quorum key created (1-of-1)");
            Ok(key)
        }
        (None, Some(record), Some(operator)) => {
            let Response::BootKey(boot) = client.call(Request::BootKey).await? else {
                return Err(unexpected());
            };
            let digest = domain_digest(DOMAIN_MANIFEST, &record.manifest)
                .map_err(|e| HostError::Config(e.to_string()))?;
            let shares = record
                .genesis
                .shares
                .iter()
                .map(|share| operator.reencrypt(share, &digest, &boot.public_key))
                .collect::<Result<Vec<_>, _>>()?;
            let request = ProvisionRequest {
                manifest: record.manifest.clone(),
                manifest_signature: record.genesis.manifest_signature.clone(),
                quorum_public_key: record.genesis.quorum_public_key.clone(),
                shares,
            };
            let Response::Provision(status) = client.call(Request::Provision(request)).await?
            else {
                return Err(unexpected());
            };
            tracing::info!("enclave provisioned with the dev operator's share");
            status.quorum_public_key.ok_or_else(unexpected)
        }
        (None, _, None) => Err(HostError::Config(
            "the enclave is not provisioned and no operator key is available (see `keyhold dev`)"
                .into(),
        )),
    }
}

/// What `keyhold dev` writes for clients: exactly what Turnkey's SDKs take.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DevCredentials {
    pub base_url: String,
    pub organization_id: String,
    pub user_id: String,
    pub api_public_key: String,
    pub api_private_key: String,
}

/// Reuses `dev-credentials.json` if its organization exists; otherwise creates the dev
/// organization (root user + P-256 API key), approved by the dev operator, and writes the file.
pub async fn ensure_dev_org(
    client: &EnclaveClient,
    store: &dyn Store,
    operator: &DevOperator,
    path: &Path,
    base_url: &str,
) -> Result<DevCredentials, HostError> {
    let existing = std::fs::read_to_string(path)
        .ok()
        .and_then(|text| serde_json::from_str::<DevCredentials>(&text).ok());
    if let Some(mut creds) = existing
        && let Ok(org) = creds.organization_id.parse()
        && store.get_org(org).await?.is_some()
    {
        if creds.base_url != base_url {
            creds.base_url = base_url.to_owned();
            write_credentials(path, &creds)?;
        }
        return Ok(creds);
    }
    let api_key = random_p256()?;
    let api_public_key = api_key
        .verifying_key()
        .to_sec1_point(true)
        .as_bytes()
        .to_vec();
    let spec = OrgBootstrapSpec {
        organization_name: "keyhold dev organization".into(),
        root_user_name: "root".into(),
        api_key_name: "dev root key".into(),
        api_public_key: api_public_key.clone(),
        nonce: *random_bytes::<16>()?,
    };
    let digest =
        domain_digest(DOMAIN_BOOTSTRAP_ORG, &spec).map_err(|e| HostError::Config(e.to_string()))?;
    let approvals = vec![OperatorApproval {
        operator: 0,
        signature: operator.approve(&digest)?,
    }];
    let Response::BootstrapOrg(out) = client
        .call(Request::BootstrapOrg(BootstrapOrgRequest {
            spec: spec.clone(),
            approvals,
        }))
        .await?
    else {
        return Err(unexpected());
    };
    store
        .insert_org(OrgRecord {
            id: out.organization_id,
            name: spec.organization_name,
            sealed: out.sealed_state,
            created_at_ms: crate::api::now_ms(),
        })
        .await?;
    let creds = DevCredentials {
        base_url: base_url.to_owned(),
        organization_id: out.organization_id.to_string(),
        user_id: out.user_id.to_string(),
        api_public_key: hex::encode(&api_public_key),
        api_private_key: hex::encode(api_key.to_bytes()),
    };
    write_credentials(path, &creds)?;
    tracing::info!(organization = %out.organization_id, file = %path.display(), "dev organization created");
    Ok(creds)
}

fn write_credentials(path: &Path, creds: &DevCredentials) -> Result<(), HostError> {
    let text = serde_json::to_string_pretty(creds).map_err(|e| HostError::Config(e.to_string()))?;
    write_private(path, text.as_bytes())
}
