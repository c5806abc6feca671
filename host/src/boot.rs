//! Bringing an enclave into service: genesis on first start, provisioning on every later start
//! (and whenever the enclave restarts), and the dev organization.

use std::path::Path;

use std::sync::Arc;

use keyhold_attestation::{Policy, TrustAnchor, UnixTime};
use keyhold_shared::msg::{
    AcceptForwardRequest, AttestRequest, BootstrapOrgRequest, DOMAIN_BOOTSTRAP_ORG,
    DOMAIN_MANIFEST, DOMAIN_MANIFEST_APPROVAL, ForwardRequest, GenesisOutput, GenesisRequest,
    OrgBootstrapSpec, Pcr, ProvisionRequest, QuorumManifest, Request, Response, SignedShare,
    domain_digest,
};
use keyhold_shared::{ErrorCode, WireError};
use serde::{Deserialize, Serialize};

use crate::enclave_client::EnclaveClient;
use crate::error::HostError;
use crate::operator::{AttestationCheck, DevOperator, random_bytes, random_p256, write_private};
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

/// How this host may bring an unprovisioned enclave into service.
#[derive(Clone, Debug, Default)]
pub struct Provisioner {
    /// A local operator key (dev mode): creates the deployment on first start and plays the
    /// operator's part on every later one.
    pub operator: Option<Arc<DevOperator>>,
    /// The root the enclave's attestation documents must chain to (the dev CA's root in dev
    /// mode; AWS Nitro's otherwise).
    /// (Shared: the provisioner is cloned with the API state for every request, and a parsed
    /// certificate is not cheap to copy.)
    pub attestation_root: Option<Arc<TrustAnchor>>,
    /// A provisioned enclave of the same deployment that may forward the key (scale-out).
    pub forward_from: Option<Arc<EnclaveClient>>,
    /// One re-provisioning at a time: after an enclave restart every in-flight request notices
    /// at once, and one boot serves them all.
    pub in_progress: Arc<tokio::sync::Mutex<()>>,
}

/// How old an enclave's attestation document may be when an operator checks it.
const MAX_DOCUMENT_AGE_SECS: u64 = 5 * 60;

async fn load_record(store: &dyn Store) -> Result<Option<QuorumRecord>, HostError> {
    match store.get_meta(QUORUM_META_KEY).await? {
        Some(bytes) => Ok(Some(
            postcard::from_bytes(&bytes).map_err(|e| HostError::Store(e.to_string()))?,
        )),
        None => Ok(None),
    }
}

pub async fn save_record(store: &dyn Store, record: &QuorumRecord) -> Result<(), HostError> {
    let bytes = postcard::to_allocvec(record).map_err(|e| HostError::Store(e.to_string()))?;
    store.put_meta(QUORUM_META_KEY, bytes).await
}

pub async fn quorum_record(store: &dyn Store) -> Result<Option<QuorumRecord>, HostError> {
    load_record(store).await
}

fn nonce() -> Result<Vec<u8>, HostError> {
    Ok(random_bytes::<32>()?.to_vec())
}

/// Makes sure the enclave holds this deployment's quorum key, by whatever means `provisioner`
/// allows. Returns the quorum public key, or `None` when the enclave must wait for operators.
pub async fn ensure_provisioned(
    client: &EnclaveClient,
    store: &dyn Store,
    provisioner: &Provisioner,
) -> Result<Option<Vec<u8>>, HostError> {
    // Requests queued here find the enclave provisioned by the first and return at once.
    let _one_at_a_time = provisioner.in_progress.lock().await;
    let Response::Status(status) = client.call(Request::Status).await? else {
        return Err(unexpected());
    };
    let record = load_record(store).await?;
    match (status.quorum_public_key, record) {
        (Some(key), Some(record)) if key == record.genesis.quorum_public_key => Ok(Some(key)),
        (Some(_), Some(_)) => Err(HostError::Config(
            "the enclave holds a different deployment's quorum key".into(),
        )),
        (Some(_), None) => Err(HostError::Config(
            "the enclave is provisioned but this database has no quorum record".into(),
        )),
        (None, Some(record)) => {
            if let Some(source) = &provisioner.forward_from {
                return forward(source, client, &record).await.map(Some);
            }
            match &provisioner.operator {
                Some(operator) => dev_boot(client, &record, operator, provisioner)
                    .await
                    .map(Some),
                None => Ok(None),
            }
        }
        (None, None) => match &provisioner.operator {
            Some(operator) => dev_genesis(client, store, operator, provisioner)
                .await
                .map(Some),
            None => Ok(None),
        },
    }
}

/// Dev genesis (1-of-1): the manifest pins the PCRs the enclave attests to now (trust on first
/// use; production operators write the PCRs of the image they built into the manifest).
async fn dev_genesis(
    client: &EnclaveClient,
    store: &dyn Store,
    operator: &DevOperator,
    provisioner: &Provisioner,
) -> Result<Vec<u8>, HostError> {
    let nonce = nonce()?;
    let pcrs = match client
        .call(Request::Attest(AttestRequest {
            nonce: nonce.clone(),
            manifest: None,
        }))
        .await
    {
        Ok(Response::Attest(attestation)) => {
            let root = provisioner
                .attestation_root
                .as_deref()
                .cloned()
                .ok_or_else(|| {
                    HostError::Config("no attestation root to check the enclave against".into())
                })?;
            let policy = Policy::new(UnixTime::from_secs(crate::api::now_ms() / 1000))
                .with_root(root)
                .expect_nonce(nonce)
                .expect_public_key(attestation.boot_key.clone());
            let verified = keyhold_attestation::verify(&attestation.document, &policy)
                .map_err(|e| HostError::Config(format!("enclave attestation refused: {e}")))?;
            (0u8..3)
                .map(|index| {
                    verified
                        .pcr(index)
                        .map(|value| Pcr {
                            index,
                            value: value.to_vec(),
                        })
                        .ok_or_else(|| HostError::Config(format!("attestation has no PCR{index}")))
                })
                .collect::<Result<Vec<_>, _>>()?
        }
        Err(HostError::Enclave(WireError {
            code: ErrorCode::Unsupported,
            ..
        })) => {
            tracing::warn!(
                "the enclave cannot attest; dev genesis without PCRs (unattested deployment)"
            );
            Vec::new()
        }
        Err(e) => return Err(e),
        Ok(_) => return Err(unexpected()),
    };
    let manifest = QuorumManifest {
        operators: vec![operator.public()],
        threshold: 1,
        nonce: 1,
        pcrs,
    };
    let approvals = vec![operator.approval(&manifest, DOMAIN_MANIFEST_APPROVAL, &manifest)?];
    let Response::Genesis(genesis) = client
        .call(Request::Genesis(GenesisRequest {
            manifest: manifest.clone(),
            approvals,
        }))
        .await?
    else {
        return Err(unexpected());
    };
    let key = genesis.quorum_public_key.clone();
    save_record(store, &QuorumRecord { manifest, genesis }).await?;
    tracing::info!(quorum_public_key = %hex::encode(&key), "dev genesis: quorum key created (1-of-1)");
    Ok(key)
}

/// The dev operator's part of a boot: verify the enclave's attestation, hand it our share.
async fn dev_boot(
    client: &EnclaveClient,
    record: &QuorumRecord,
    operator: &DevOperator,
    provisioner: &Provisioner,
) -> Result<Vec<u8>, HostError> {
    let nonce = nonce()?;
    let request = Request::Attest(AttestRequest {
        nonce: nonce.clone(),
        manifest: Some(record.manifest.clone()),
    });
    let share = if record.manifest.pcrs.is_empty() {
        // An unattested dev deployment (genesis ran without attestation): nothing to verify.
        let Response::BootKey(boot) = client.call(Request::BootKey).await? else {
            return Err(unexpected());
        };
        // Stage the manifest all the same; the enclave refuses shares for an unstaged one.
        let _ = client.call(request).await;
        let digest = domain_digest(DOMAIN_MANIFEST, &record.manifest)
            .map_err(|e| HostError::Config(e.to_string()))?;
        let index = operator.index_in(&record.manifest)?;
        let mine = record
            .genesis
            .shares
            .iter()
            .find(|s| s.operator == index)
            .ok_or_else(|| HostError::Config("no genesis share for the dev operator".into()))?;
        let share = operator.reencrypt(mine, &digest, &boot.public_key)?;
        let submission =
            keyhold_shared::msg::share_submission_digest(&boot.public_key, &digest, &share)
                .map_err(|e| HostError::Config(e.to_string()))?;
        SignedShare {
            share,
            signature: operator.approve(&submission)?,
        }
    } else {
        let Response::Attest(attestation) = client.call(request).await? else {
            return Err(unexpected());
        };
        let check = AttestationCheck {
            root: match provisioner.attestation_root.as_deref() {
                Some(root) => root.clone(),
                None => TrustAnchor::aws_nitro_root_g1()
                    .map_err(|e| HostError::Config(e.to_string()))?,
            },
            nonce,
            allow_debug: false,
            max_age_secs: MAX_DOCUMENT_AGE_SECS,
        };
        operator.submit_share(
            &record.manifest,
            &record.genesis.shares,
            &attestation,
            &check,
        )?
    };
    let status = provision(client, record, vec![share]).await?;
    tracing::info!("enclave provisioned with the dev operator's share");
    status
        .quorum_public_key
        .ok_or_else(|| HostError::Config("the enclave is still locked after the dev share".into()))
}

/// Submits shares for `record` to the enclave.
pub async fn provision(
    client: &EnclaveClient,
    record: &QuorumRecord,
    shares: Vec<SignedShare>,
) -> Result<keyhold_shared::msg::EnclaveStatus, HostError> {
    let request = ProvisionRequest {
        manifest: record.manifest.clone(),
        manifest_signature: record.genesis.manifest_signature.clone(),
        quorum_public_key: record.genesis.quorum_public_key.clone(),
        shares,
    };
    let Response::Provision(status) = client.call(Request::Provision(request)).await? else {
        return Err(unexpected());
    };
    Ok(status)
}

/// Key forwarding: the fresh enclave attests (staging the deployment's manifest), the
/// provisioned one verifies that and encrypts the key to it, the fresh one checks and installs.
pub async fn forward(
    source: &EnclaveClient,
    target: &EnclaveClient,
    record: &QuorumRecord,
) -> Result<Vec<u8>, HostError> {
    let nonce = nonce()?;
    let Response::Attest(attestation) = target
        .call(Request::Attest(AttestRequest {
            nonce: nonce.clone(),
            manifest: Some(record.manifest.clone()),
        }))
        .await?
    else {
        return Err(unexpected());
    };
    let Response::Forward(forwarded) = source
        .call(Request::Forward(ForwardRequest {
            attestation: attestation.document,
            nonce,
        }))
        .await?
    else {
        return Err(unexpected());
    };
    let request = AcceptForwardRequest {
        manifest: record.manifest.clone(),
        manifest_signature: record.genesis.manifest_signature.clone(),
        quorum_public_key: record.genesis.quorum_public_key.clone(),
        forwarded,
    };
    let Response::Provision(status) = target.call(Request::AcceptForward(request)).await? else {
        return Err(unexpected());
    };
    tracing::info!("enclave provisioned by key forwarding");
    status.quorum_public_key.ok_or_else(unexpected)
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
    let record = load_record(store)
        .await?
        .ok_or_else(|| HostError::Config("no quorum record".into()))?;
    let approvals = vec![operator.approval(&record.manifest, DOMAIN_BOOTSTRAP_ORG, &spec)?];
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
