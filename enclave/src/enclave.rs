//! The enclave's state and the dispatch of one request to the code that answers it.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use keyhold_shared::msg::{
    AttestRequest, Attestation, BootKey, BootstrapOrgOutput, BootstrapOrgRequest,
    DOMAIN_BOOTSTRAP_ORG, DOMAIN_SESSION_SIGNER, DOMAIN_SIGNER_KEY, EnclaveStatus, MAX_NONCE_LEN,
    QuorumManifest, Request, Response, SealedOrgState, SignerKey, domain_digest,
};
use keyhold_shared::{ApiKeyId, OrgId, UserId, Uuid, WireError};
use p256::ecdsa::signature::hazmat::PrehashSigner as _;
use p256::ecdsa::{SigningKey, VerifyingKey};

use crate::activities;
use crate::attestation::Attester;
use crate::audit::AuditLog;
use crate::auth;
use crate::error::{Error, Result};
use crate::hpke_suite::HpkeKeyPair;
use crate::org::{ApiKey, ApiKeyCurve, OrgSealer, OrgState, RootQuorum, User};
use crate::provisioning::{self, Pending};
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
    /// Kept for key forwarding to another attested enclave; never leaves otherwise.
    pub quorum: QuorumKey,
    /// Unsealed seeds and derived keys (bounded, zeroizing).
    pub cache: crate::keys::cache::KeyCache,
    /// Signs export and import bundles; clients pin its public key.
    pub bundle_signer: crate::bundles::signed::BundleSigner,
    /// Signs session JWTs (`stamp_login`, read-only sessions) and checks read-only ones.
    pub session_signer: crate::auth::session::SessionSigner,
    /// The receipt key and the organizations' audit chain heads (shared across a manifest
    /// update: the chains go on).
    pub audit: Arc<AuditLog>,
    /// State-changing answers the host has not yet shown it stored (shared across a manifest
    /// update, like the audit chains).
    pub pending: Arc<crate::recovery::PendingAnswers>,
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
        let audit = Arc::new(AuditLog::derive(quorum, &signing)?);
        Ok(Keys {
            org_sealer: OrgSealer::new(SealKey::derive(quorum, b"keyhold/v1/seal/org-state")?),
            seed_seal: SealKey::derive(quorum, b"keyhold/v1/seal/wallet-seed")?,
            signing,
            quorum_public_key,
            manifest,
            quorum: QuorumKey::from_bytes(zeroize::Zeroizing::new(*quorum.expose())),
            cache: crate::keys::cache::KeyCache::default(),
            bundle_signer: crate::bundles::signed::BundleSigner::derive(quorum)?,
            session_signer: crate::auth::session::SessionSigner::derive(quorum)?,
            audit,
            pending: Arc::default(),
        })
    }
}

#[derive(Debug)]
pub struct Enclave {
    /// Fresh at every start; operators encrypt shares to it, other enclaves forward the key to it.
    boot_key: HpkeKeyPair,
    attester: Attester,
    keys: RwLock<Option<Arc<Keys>>>,
    pending: Mutex<Pending>,
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Enclave {
    /// An enclave without attestation (tests; a dev enclave without a dev CA).
    pub fn new() -> Result<Self> {
        Self::with_attester(Attester::None)
    }

    pub fn with_attester(attester: Attester) -> Result<Self> {
        Ok(Enclave {
            boot_key: HpkeKeyPair::generate()?,
            attester,
            keys: RwLock::new(None),
            pending: Mutex::new(Pending::default()),
        })
    }

    pub fn status(&self) -> EnclaveStatus {
        let quorum_public_key = self.keys().ok().map(|k| k.quorum_public_key.clone());
        let shares_received = self.pending.lock().map(|p| p.received()).unwrap_or(0);
        EnclaveStatus {
            quorum_public_key,
            shares_received,
        }
    }

    fn pending(&self) -> Result<std::sync::MutexGuard<'_, Pending>> {
        self.pending
            .lock()
            .map_err(|_| Error::Internal("lock poisoned"))
    }

    /// Idempotence for a provisioned enclave asked to provision again with the same key (a
    /// restarted host, or two requests racing to bring back a restarted enclave); refusal for
    /// another deployment's key. Callers hold the lock of the pending shares, so of two racing
    /// requests the second sees the first one's install.
    fn already_provisioned(&self, quorum_public_key: &[u8]) -> Result<bool> {
        match self.keys() {
            Ok(keys) if keys.quorum_public_key == quorum_public_key => Ok(true),
            Ok(_) => Err(Error::Provisioning(
                "this enclave is already provisioned with another key",
            )),
            Err(_) => Ok(false),
        }
    }

    fn attest(&self, request: &AttestRequest) -> Result<Attestation> {
        if request.nonce.len() > MAX_NONCE_LEN {
            return Err(Error::invalid(format!(
                "nonce longer than {MAX_NONCE_LEN} bytes"
            )));
        }
        let user_data = match (self.keys(), &request.manifest) {
            (Ok(keys), None) => provisioning::manifest_digest(&keys.manifest)?.to_vec(),
            (Ok(keys), Some(m)) if *m == keys.manifest => {
                provisioning::manifest_digest(m)?.to_vec()
            }
            (Ok(_), Some(_)) => {
                return Err(Error::Provisioning(
                    "this enclave runs under another manifest",
                ));
            }
            (Err(_), Some(m)) => self.pending()?.stage(m)?.to_vec(),
            (Err(_), None) => Vec::new(),
        };
        let boot_key = self.boot_key.public_bytes();
        let document = self
            .attester
            .attest(&boot_key, &user_data, &request.nonce)?;
        Ok(Attestation { document, boot_key })
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
        // Provision and AcceptForward check for an installed key under the shares lock before
        // they get here, so a second install of the same key does not happen.
        if slot.is_some() {
            return Err(Error::Provisioning("this enclave is already provisioned"));
        }
        *slot = Some(Arc::new(keys));
        Ok(())
    }

    /// Swaps in keys for a new manifest of the same deployment (same quorum key).
    fn replace(&self, mut keys: Keys) -> Result<()> {
        let mut slot = self
            .keys
            .write()
            .map_err(|_| Error::Internal("lock poisoned"))?;
        match slot.as_ref() {
            Some(current) if current.quorum_public_key == keys.quorum_public_key => {
                // The newest organization versions seen so far still bind: a manifest update
                // must not reopen the door to replaying older states.
                keys.org_sealer.adopt_history(&current.org_sealer)?;
                keys.audit = Arc::clone(&current.audit);
                keys.pending = Arc::clone(&current.pending);
                *slot = Some(Arc::new(keys));
                Ok(())
            }
            _ => Err(Error::Internal("manifest update for another key")),
        }
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
            Request::Attest(request) => Ok(Response::Attest(self.attest(&request)?)),
            Request::Genesis(genesis) => {
                if self.keys().is_ok() {
                    return Err(Error::Provisioning("this enclave is already provisioned"));
                }
                let (keys, output) = provisioning::genesis(&genesis)?;
                self.install(keys)?;
                tracing::info!(
                    threshold = genesis.manifest.threshold,
                    operators = genesis.manifest.operators.len(),
                    "genesis complete; quorum key created and split"
                );
                Ok(Response::Genesis(output))
            }
            Request::Provision(p) => {
                {
                    let mut pending = self.pending()?;
                    if !self.already_provisioned(&p.quorum_public_key)? {
                        let keys = pending.add(
                            &p.manifest,
                            &p.manifest_signature,
                            &p.quorum_public_key,
                            &p.shares,
                            &self.boot_key,
                        )?;
                        if let Some(keys) = keys {
                            self.install(keys)?;
                            tracing::info!("provisioned; quorum key reconstructed and checked");
                        }
                    }
                }
                Ok(Response::Provision(self.status()))
            }
            Request::UpdateManifest(request) => {
                let keys = self.keys()?;
                let (next, output) = provisioning::update_manifest(&keys, &request)?;
                self.replace(next)?;
                tracing::info!(
                    nonce = request.manifest.nonce,
                    "manifest updated; quorum key re-split"
                );
                Ok(Response::Genesis(output))
            }
            Request::Forward(request) => {
                let keys = self.keys()?;
                let forwarded =
                    provisioning::forward(&keys, &keys.quorum, &self.attester, &request)?;
                Ok(Response::Forward(forwarded))
            }
            Request::AcceptForward(request) => {
                {
                    let pending = self.pending()?;
                    if !self.already_provisioned(&request.quorum_public_key)? {
                        let keys =
                            provisioning::accept_forward(&pending, &request, &self.boot_key)?;
                        self.install(keys)?;
                        tracing::info!("provisioned by key forwarding from another enclave");
                    }
                }
                Ok(Response::Provision(self.status()))
            }
            Request::BootstrapOrg(bootstrap) => {
                Ok(Response::BootstrapOrg(self.bootstrap_org(&bootstrap)?))
            }
            Request::Authenticate(auth) => {
                let keys = self.keys()?;
                let org = Self::open_stored(&keys, &auth.org)?;
                let parent = Self::open_parent(&keys, &org, auth.parent.as_ref())?;
                Ok(Response::Authenticate(activities::authenticate_query(
                    &keys.session_signer,
                    &org,
                    parent.as_ref(),
                    &auth.request,
                    now_ms(),
                )?))
            }
            Request::ReadOrg(read) => {
                let keys = self.keys()?;
                let org = Self::open_stored(&keys, &read.org)?;
                let parent = Self::open_parent(&keys, &org, read.parent.as_ref())?;
                Ok(Response::ReadOrg(Box::new(activities::read_org(
                    &keys.session_signer,
                    &org,
                    parent.as_ref(),
                    &read.request,
                    now_ms(),
                )?)))
            }
            Request::Activity(activity) => {
                let keys = self.keys()?;
                let org = Self::open_stored(&keys, &activity.org)?;
                if let Some(parent) = Self::open_parent(&keys, &org, activity.parent.as_ref())? {
                    auth::parent::refuse_parent_activity(
                        &org,
                        &parent,
                        &activity.request,
                        now_ms(),
                    )?;
                }
                // Before the activity runs: a step that could not get its receipt must not.
                if !keys.audit.knows(org.org_id)? {
                    return Err(Error::AuditHeadNeeded);
                }
                let output = activities::execute(
                    &keys,
                    &org,
                    &activity.request,
                    &activity.context,
                    now_ms(),
                )?;
                keys.pending.record(&activity.request, &output)?;
                Ok(Response::Activity(Box::new(output)))
            }
            Request::SignerKey => Ok(Response::SignerKey(self.signer_key()?)),
            Request::SessionSigner => Ok(Response::SessionSigner(self.session_signer_key()?)),
            Request::AuditKey => Ok(Response::AuditKey(self.keys()?.audit.certificate())),
            Request::Recover(org) => Ok(Response::Recover(
                self.keys()?.pending.get(org)?.map(Box::new),
            )),
            Request::AuditResume(resume) => {
                let keys = self.keys()?;
                let org = keys.org_sealer.open(&resume.org)?;
                Ok(Response::AuditResume(
                    keys.audit.resume(&org, resume.latest.as_ref())?,
                ))
            }
            Request::AuditReceipts(fetch) => Ok(Response::AuditReceipts(
                self.keys()?
                    .audit
                    .receipts_after(fetch.org_id, fetch.after_seq)?,
            )),
            Request::AuditHead(request) => Ok(Response::AuditHead(Box::new(
                self.keys()?
                    .audit
                    .signed_head(request.org_id, &request.nonce, now_ms())?,
            ))),
        }
    }

    /// Opens the organization state the host presents for a client request. The host holds
    /// this version, so an answer that sealed it is stored and need not be kept for recovery —
    /// also when it is a deleted organization's tombstone (the deletion's answer is stored).
    fn open_stored(keys: &Keys, sealed: &SealedOrgState) -> Result<OrgState> {
        match keys.org_sealer.open(sealed) {
            Ok(org) => {
                keys.pending.confirm(org.org_id, org.version)?;
                Ok(org)
            }
            Err(Error::OrganizationDeleted(org)) => {
                keys.pending.confirm(org, sealed.version)?;
                Err(Error::OrganizationDeleted(org))
            }
            Err(e) => Err(e),
        }
    }

    /// The parent organization state the host passed along, opened and checked to be `org`'s.
    fn open_parent(
        keys: &Keys,
        org: &OrgState,
        sealed: Option<&SealedOrgState>,
    ) -> Result<Option<OrgState>> {
        sealed
            .map(|p| auth::parent::open(&keys.org_sealer, org, p))
            .transpose()
    }

    /// The bundle signing key, endorsed by the quorum signing key.
    fn signer_key(&self) -> Result<SignerKey> {
        let keys = self.keys()?;
        let public_key = keys.bundle_signer.public_key();
        let digest = domain_digest(DOMAIN_SIGNER_KEY, &public_key)
            .map_err(|_| Error::Internal("encode signer key"))?;
        let signature: p256::ecdsa::Signature = keys
            .signing
            .sign_prehash(&digest)
            .map_err(|_| Error::Internal("endorse signer key"))?;
        Ok(SignerKey {
            public_key,
            endorsement: signature.to_der().as_bytes().to_vec(),
        })
    }

    /// The session JWT signing key, endorsed by the quorum signing key.
    fn session_signer_key(&self) -> Result<SignerKey> {
        let keys = self.keys()?;
        let public_key = keys.session_signer.public_key();
        let digest = domain_digest(DOMAIN_SESSION_SIGNER, &public_key)
            .map_err(|_| Error::Internal("encode session signer key"))?;
        let signature: p256::ecdsa::Signature = keys
            .signing
            .sign_prehash(&digest)
            .map_err(|_| Error::Internal("endorse session signer key"))?;
        Ok(SignerKey {
            public_key,
            endorsement: signature.to_der().as_bytes().to_vec(),
        })
    }

    /// Creates an organization with one root user and API key, if enough operators of the
    /// provisioned manifest approved exactly this spec.
    fn bootstrap_org(&self, request: &BootstrapOrgRequest) -> Result<BootstrapOrgOutput> {
        let keys = self.keys()?;
        let spec = &request.spec;
        let digest = domain_digest(DOMAIN_BOOTSTRAP_ORG, spec)
            .map_err(|_| Error::Internal("encode bootstrap spec"))?;
        if provisioning::count_approvals(&keys.manifest, &digest, &request.approvals)?
            < usize::from(keys.manifest.threshold)
        {
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
                email: None,
                phone_number: None,
                tags: Vec::new(),
                created_at_ms: now,
                updated_at_ms: now,
                authenticators: Vec::new(),
            }],
            ..OrgState::new(
                org_id,
                spec.organization_name.clone(),
                RootQuorum {
                    threshold: 1,
                    user_ids: vec![user_id],
                },
                now,
            )
        };
        let sealed_state = keys.org_sealer.seal(&state)?;
        keys.audit.start_chain(org_id)?;
        tracing::info!(organization = %org_id, "organization bootstrapped");
        Ok(BootstrapOrgOutput {
            organization_id: org_id,
            user_id,
            api_key_id,
            sealed_state,
        })
    }
}

#[cfg(test)]
impl Enclave {
    /// The same deployment after a restart: the same quorum key, nothing remembered.
    pub(crate) fn restarted(&self) -> Result<Enclave> {
        let keys = self.keys()?;
        let fresh = Enclave::new()?;
        fresh.install(Keys::derive(&keys.quorum, keys.manifest.clone())?)?;
        Ok(fresh)
    }

    pub(crate) fn test_keys(&self) -> Arc<Keys> {
        self.keys().unwrap()
    }
}
