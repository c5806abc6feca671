//! The enclave's state and the dispatch of one request to the code that answers it.

use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use keyhold_shared::msg::{
    BootKey, BootstrapOrgOutput, BootstrapOrgRequest, DOMAIN_BOOTSTRAP_ORG, EnclaveStatus,
    QuorumManifest, Request, Response, domain_digest,
};
use keyhold_shared::{ApiKeyId, OrgId, UserId, Uuid, WireError};
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};

use crate::activities;
use crate::error::{Error, Result};
use crate::hpke_suite::HpkeKeyPair;
use crate::org::{ApiKey, ApiKeyCurve, OrgSealer, OrgState, RootQuorum, User};
use crate::provisioning;
use crate::seal::SealKey;
use crate::secrets::{QuorumKey, random};

/// Everything derived from the quorum key, plus the manifest it was checked against.
#[derive(Debug)]
pub struct Keys {
    pub org_sealer: OrgSealer,
    pub seed_seal: SealKey,
    /// Signs manifests (and, later, activity receipts); its public key is the quorum public key.
    pub signing: SigningKey,
    pub quorum_public_key: Vec<u8>,
    pub manifest: QuorumManifest,
    /// Unsealed seeds and derived keys (bounded, zeroizing).
    pub cache: crate::keys::cache::KeyCache,
}

impl Keys {
    pub fn derive(quorum: &QuorumKey, manifest: QuorumManifest) -> Result<Self> {
        let signing_secret = quorum.derive(b"keyhold/v1/quorum-signing")?;
        let signing = SigningKey::from_slice(signing_secret.as_ref())
            .map_err(|_| Error::Internal("signing key"))?;
        let quorum_public_key = signing
            .verifying_key()
            .to_sec1_point(true)
            .as_bytes()
            .to_vec();
        Ok(Keys {
            org_sealer: OrgSealer::new(SealKey::derive(quorum, b"keyhold/v1/seal/org-state")?),
            seed_seal: SealKey::derive(quorum, b"keyhold/v1/seal/wallet-seed")?,
            signing,
            quorum_public_key,
            manifest,
            cache: crate::keys::cache::KeyCache::default(),
        })
    }
}

#[derive(Debug)]
pub struct Enclave {
    boot_key: HpkeKeyPair,
    keys: RwLock<Option<Arc<Keys>>>,
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Enclave {
    pub fn new() -> Result<Self> {
        Ok(Enclave {
            boot_key: HpkeKeyPair::generate()?,
            keys: RwLock::new(None),
        })
    }

    pub fn status(&self) -> EnclaveStatus {
        let quorum_public_key = self.keys().ok().map(|k| k.quorum_public_key.clone());
        EnclaveStatus {
            quorum_public_key,
            shares_received: 0,
        }
    }

    fn keys(&self) -> Result<Arc<Keys>> {
        self.keys
            .read()
            .map_err(|_| Error::Internal("lock poisoned"))?
            .clone()
            .ok_or(Error::NotProvisioned)
    }

    fn install(&self, keys: Keys) -> Result<()> {
        let mut slot = self
            .keys
            .write()
            .map_err(|_| Error::Internal("lock poisoned"))?;
        if slot.is_some() {
            return Err(Error::Provisioning("this enclave is already provisioned"));
        }
        *slot = Some(Arc::new(keys));
        Ok(())
    }

    /// Answers one request. Runs on a worker thread: everything here may be CPU-heavy.
    pub fn handle(&self, request: Request) -> Result<Response, WireError> {
        self.dispatch(request).map_err(WireError::from)
    }

    fn dispatch(&self, request: Request) -> Result<Response> {
        match request {
            Request::Status => Ok(Response::Status(self.status())),
            Request::BootKey => Ok(Response::BootKey(BootKey {
                public_key: self.boot_key.public_bytes(),
            })),
            Request::Genesis(genesis) => {
                if self.keys().is_ok() {
                    return Err(Error::Provisioning("this enclave is already provisioned"));
                }
                let (keys, output) = provisioning::genesis(&genesis.manifest)?;
                self.install(keys)?;
                tracing::info!("genesis complete; quorum key created");
                Ok(Response::Genesis(output))
            }
            Request::Provision(provision) => {
                if let Ok(keys) = self.keys() {
                    // Idempotent for the same deployment (a restarted host re-provisions).
                    if keys.quorum_public_key == provision.quorum_public_key {
                        return Ok(Response::Provision(self.status()));
                    }
                    return Err(Error::Provisioning(
                        "this enclave is already provisioned with another key",
                    ));
                }
                let keys = provisioning::provision(&provision, &self.boot_key)?;
                self.install(keys)?;
                tracing::info!("provisioned; quorum key reconstructed and checked");
                Ok(Response::Provision(self.status()))
            }
            Request::BootstrapOrg(bootstrap) => {
                Ok(Response::BootstrapOrg(self.bootstrap_org(&bootstrap)?))
            }
            Request::Authenticate(auth) => {
                let keys = self.keys()?;
                let org = keys.org_sealer.open(&auth.org)?;
                Ok(Response::Authenticate(activities::authenticate_query(
                    &org,
                    &auth.request,
                    now_ms(),
                )?))
            }
            Request::Activity(activity) => {
                let keys = self.keys()?;
                let org = keys.org_sealer.open(&activity.org)?;
                let output = activities::execute(
                    &keys,
                    &org,
                    &activity.request,
                    &activity.context,
                    now_ms(),
                )?;
                Ok(Response::Activity(Box::new(output)))
            }
        }
    }

    /// Creates an organization with one root user and API key, if enough operators of the
    /// provisioned manifest approved exactly this spec.
    fn bootstrap_org(&self, request: &BootstrapOrgRequest) -> Result<BootstrapOrgOutput> {
        let keys = self.keys()?;
        let spec = &request.spec;
        let digest = domain_digest(DOMAIN_BOOTSTRAP_ORG, spec)
            .map_err(|_| Error::Internal("encode bootstrap spec"))?;
        let mut approvers: Vec<u8> = Vec::new();
        for approval in &request.approvals {
            let operator = keys
                .manifest
                .operators
                .get(usize::from(approval.operator))
                .ok_or(Error::PermissionDenied("approval from an unknown operator"))?;
            let key = VerifyingKey::from_sec1_bytes(&operator.signing_key)
                .map_err(|_| Error::Internal("operator key"))?;
            let signature = Signature::from_der(&approval.signature)
                .map_err(|_| Error::PermissionDenied("malformed operator approval"))?;
            key.verify_prehash(&digest, &signature)
                .map_err(|_| Error::PermissionDenied("operator approval does not verify"))?;
            if !approvers.contains(&approval.operator) {
                approvers.push(approval.operator);
            }
        }
        if approvers.len() < usize::from(keys.manifest.threshold) {
            return Err(Error::PermissionDenied(
                "not enough operator approvals to create an organization",
            ));
        }
        for (field, value) in [
            ("organization name", &spec.organization_name),
            ("user name", &spec.root_user_name),
            ("API key name", &spec.api_key_name),
        ] {
            if value.trim().is_empty() || value.len() > 256 {
                return Err(Error::invalid(format!("{field} must be 1 to 256 bytes")));
            }
        }
        VerifyingKey::from_sec1_bytes(&spec.api_public_key)
            .map_err(|_| Error::invalid("API public key is not a P-256 point"))?;
        if spec.api_public_key.len() != 33 {
            return Err(Error::invalid(
                "API public key must be compressed (33 bytes)",
            ));
        }

        let now = now_ms();
        let org_id = OrgId(Uuid::new_v4(random()?));
        let user_id = UserId(Uuid::new_v4(random()?));
        let api_key_id = ApiKeyId(Uuid::new_v4(random()?));
        let state = OrgState {
            org_id,
            name: spec.organization_name.clone(),
            version: 1,
            users: vec![User {
                id: user_id,
                name: spec.root_user_name.clone(),
                api_keys: vec![ApiKey {
                    id: api_key_id,
                    name: spec.api_key_name.clone(),
                    curve: ApiKeyCurve::P256,
                    public_key: spec.api_public_key.clone(),
                    created_at_ms: now,
                    expires_at_ms: None,
                }],
                created_at_ms: now,
            }],
            root_quorum: RootQuorum {
                threshold: 1,
                user_ids: vec![user_id],
            },
            created_at_ms: now,
        };
        let sealed_state = keys.org_sealer.seal(&state)?;
        tracing::info!(organization = %org_id, "organization bootstrapped");
        Ok(BootstrapOrgOutput {
            organization_id: org_id,
            user_id,
            api_key_id,
            sealed_state,
        })
    }
}
