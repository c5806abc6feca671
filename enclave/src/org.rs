//! An organization's state as the enclave sees it once unsealed: who its users are, which
//! credentials they hold, and who forms the root quorum. The host only ever stores this sealed;
//! the enclave refuses a blob that is forged, belongs to another organization, or is older than
//! a version it has already seen.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use keyhold_shared::msg::SealedOrgState;
use keyhold_shared::{ApiKeyId, AuthenticatorId, OrgId, UserId, WalletId};
use serde::{Deserialize, Serialize};

use crate::audit::AuditCheckpoint;
use crate::error::{Error, Result};
use crate::lru::{Lru, cache_key};
use crate::seal::{
    SealKey, org_state_aad, org_state_aad_v2, org_state_aad_v3, org_state_aad_v4, org_state_aad_v5,
    org_tombstone_aad,
};

mod v2;
mod v3;
mod v4;

/// Most policies an organization may hold (Turnkey: 100).
pub const MAX_POLICIES: usize = 100;
/// Most users, user tags, and API keys per user.
pub const MAX_USERS: usize = 1000;
pub const MAX_TAGS: usize = 1000;
pub const MAX_API_KEYS_PER_USER: usize = 100;
/// Most passkeys per user (Turnkey: 10).
pub const MAX_AUTHENTICATORS_PER_USER: usize = 10;
/// Most fingerprints remembered against replay (see [`OrgState::recent`]).
pub const MAX_RECENT: usize = 10_000;
/// Most wallets whose metadata an organization records.
pub const MAX_WALLETS: usize = 10_000;
/// Most private keys whose metadata an organization records.
pub const MAX_PRIVATE_KEYS: usize = 10_000;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgState {
    pub org_id: OrgId,
    pub name: String,
    pub version: u64,
    pub users: Vec<User>,
    pub root_quorum: RootQuorum,
    pub created_at_ms: u64,
    pub policies: Vec<StoredPolicy>,
    pub user_tags: Vec<Tag>,
    /// Wallet metadata policies read (`wallet.id`, `wallet.label`, …).
    pub wallets: Vec<WalletMeta>,
    /// The parent organization, for a sub-organization.
    pub parent_org_id: Option<OrgId>,
    /// Fingerprints (first 16 bytes of the SHA-256) of the activities that changed this state,
    /// with the time until which a replay of them could still pass the timestamp check. The
    /// host cannot drop an entry without presenting an older state, which the sealer refuses.
    pub recent: Vec<([u8; 16], u64)>,
    /// The spending and velocity ledger (only kept while a policy reads a limit counter).
    pub usage: Vec<crate::limits::Entry>,
    /// Private key metadata policies read (`private_key.*`).
    pub private_keys: Vec<PrivateKeyMeta>,
    /// Private key tags (`TAG_TYPE_PRIVATE_KEY`); keys name them by id in
    /// [`PrivateKeyMeta::tags`], which policies read as `private_key.tags`.
    pub private_key_tags: Vec<Tag>,
    /// Organization features (`SET_ORGANIZATION_FEATURE`), at most one per name.
    pub features: Vec<Feature>,
    /// Uploaded ABIs and IDLs (`CREATE_SMART_CONTRACT_INTERFACE`) that policies decode
    /// transactions with (`eth.tx.function_name`, `eth.tx.contract_call_args`).
    pub contract_interfaces: Vec<ContractInterface>,
    /// The audit chain head as of this state's last change. Not part of the state's own
    /// encoding: it is sealed after it (see [`OrgSealer::seal`]), so blobs from before the
    /// audit chain open unchanged, and the state's format can evolve on its own.
    #[serde(skip)]
    pub audit: Option<AuditCheckpoint>,
    /// Set by `DELETE_SUB_ORGANIZATION`. Not part of the state's encoding: a deleted state is
    /// sealed as a [`Tombstone`] instead (see [`OrgSealer::seal`]), which no request can use.
    #[serde(skip)]
    pub deleted_at_ms: Option<u64>,
}

/// What the enclave keeps of a deleted organization: who it was and the version of its
/// deletion. Sealed under its own associated data, so it never opens as a live state; its
/// version makes every earlier state stale, so the host cannot bring the organization back by
/// presenting one (while the enclave runs: docs/rollback.md).
#[derive(Debug, Serialize, Deserialize)]
struct Tombstone {
    org_id: OrgId,
    version: u64,
    parent_org_id: Option<OrgId>,
    deleted_at_ms: u64,
}

/// A sealed blob, opened.
enum Opened {
    Live(Box<OrgState>),
    Deleted(Tombstone),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub email: Option<String>,
    pub phone_number: Option<String>,
    pub api_keys: Vec<ApiKey>,
    /// User tag ids.
    pub tags: Vec<String>,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    /// Passkeys (since the third sealed format).
    pub authenticators: Vec<Authenticator>,
}

/// Which curve an API key is on (Turnkey's `API_KEY_CURVE_*`). New variants go last: postcard
/// numbers them in order, and sealed states store the number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApiKeyCurve {
    P256,
    Secp256k1,
    Ed25519,
}

impl ApiKeyCurve {
    pub fn from_turnkey(s: &str) -> Option<Self> {
        Some(match s {
            "API_KEY_CURVE_P256" => ApiKeyCurve::P256,
            "API_KEY_CURVE_SECP256K1" => ApiKeyCurve::Secp256k1,
            "API_KEY_CURVE_ED25519" => ApiKeyCurve::Ed25519,
            _ => return None,
        })
    }

    /// Turnkey's `CREDENTIAL_TYPE_*` for a key on this curve (what policies see as `c.type`).
    pub fn credential_type(self) -> &'static str {
        match self {
            ApiKeyCurve::P256 => "CREDENTIAL_TYPE_API_KEY_P256",
            ApiKeyCurve::Secp256k1 => "CREDENTIAL_TYPE_API_KEY_SECP256K1",
            ApiKeyCurve::Ed25519 => "CREDENTIAL_TYPE_API_KEY_ED25519",
        }
    }
}

/// A passkey registered to a user. Its public key was taken from the registration's
/// attestation object inside an activity the organization authorized; the host never supplies it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authenticator {
    pub id: AuthenticatorId,
    pub name: String,
    /// The credential id the authenticator chose (raw bytes; base64url on the wire).
    pub credential_id: Vec<u8>,
    /// SEC1 compressed P-256 public key (COSE algorithm ES256).
    pub public_key: Vec<u8>,
    /// SHA-256 of the relying-party id the credential was created for: every assertion made
    /// with this credential carries the same hash, so one made for another site is refused.
    pub rp_id_hash: [u8; 32],
    pub aaguid: [u8; 16],
    /// The attestation statement format it was registered with (`none` or `packed`).
    pub attestation_format: String,
    /// Turnkey's `AUTHENTICATOR_TRANSPORT_*` strings.
    pub transports: Vec<String>,
    pub created_at_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub name: String,
    pub curve: ApiKeyCurve,
    /// SEC1 compressed public key.
    pub public_key: Vec<u8>,
    pub created_at_ms: u64,
    pub expires_at_ms: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootQuorum {
    pub threshold: u32,
    pub user_ids: Vec<UserId>,
}

/// A policy as the organization stores it: the source text, compiled again at every evaluation
/// (it was validated when created).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPolicy {
    pub id: String,
    pub name: String,
    /// `true` for `EFFECT_ALLOW`, `false` for `EFFECT_DENY`.
    pub allow: bool,
    pub condition: String,
    pub consensus: String,
    pub notes: String,
    pub time: Option<String>,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub id: String,
    pub name: String,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletMeta {
    pub id: WalletId,
    pub name: String,
    pub imported: bool,
    pub exported: bool,
    pub created_at_ms: u64,
}

/// A standalone private key as policies see it (`private_key.id`, `.label`, `.tags`, …).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateKeyMeta {
    pub id: keyhold_shared::PrivateKeyId,
    pub name: String,
    pub tags: Vec<String>,
    pub imported: bool,
    pub exported: bool,
    pub created_at_ms: u64,
}

/// An organization feature (Turnkey's `FEATURE_NAME_*`) and its value, when it takes one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feature {
    pub name: String,
    pub value: Option<String>,
}

/// Which chain a smart contract interface describes. New variants go last (postcard numbers
/// them in order, and sealed states store the number).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ContractInterfaceKind {
    /// An Ethereum JSON ABI.
    Ethereum,
    /// A Solana (Anchor) JSON IDL.
    Solana,
}

/// An uploaded smart contract interface: the JSON text as the user sent it (validated when
/// uploaded), and the contract or program address it applies to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractInterface {
    pub id: String,
    pub address: String,
    pub kind: ContractInterfaceKind,
    pub interface: String,
    pub label: String,
    pub notes: String,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
}

/// The first sealed format (before users had tags and organizations had policies): still
/// opened, and migrated on the fly; the next change seals it in the current format.
mod v1 {
    use super::{ApiKey, OrgId, UserId};
    use serde::Deserialize;

    #[derive(Deserialize)]
    pub struct OrgState {
        pub org_id: OrgId,
        pub name: String,
        pub version: u64,
        pub users: Vec<User>,
        pub root_quorum: super::RootQuorum,
        pub created_at_ms: u64,
    }

    #[derive(Deserialize)]
    pub struct User {
        pub id: UserId,
        pub name: String,
        pub api_keys: Vec<ApiKey>,
        pub created_at_ms: u64,
    }

    impl From<OrgState> for super::OrgState {
        fn from(old: OrgState) -> Self {
            super::OrgState {
                version: old.version,
                users: old
                    .users
                    .into_iter()
                    .map(|u| super::User {
                        id: u.id,
                        name: u.name,
                        email: None,
                        phone_number: None,
                        api_keys: u.api_keys,
                        tags: Vec::new(),
                        created_at_ms: u.created_at_ms,
                        updated_at_ms: u.created_at_ms,
                        authenticators: Vec::new(),
                    })
                    .collect(),
                ..super::OrgState::new(old.org_id, old.name, old.root_quorum, old.created_at_ms)
            }
        }
    }
}

impl OrgState {
    /// A new organization at version 1 with its root quorum and nothing else yet: callers add
    /// what it starts with (users, a parent, …) by struct update, and the upgrades from older
    /// sealed formats what those carried. The one place that lists the empty fields, so that one
    /// added later is not missed where organizations are made or upgraded.
    pub fn new(org_id: OrgId, name: String, root_quorum: RootQuorum, created_at_ms: u64) -> Self {
        OrgState {
            org_id,
            name,
            version: 1,
            users: Vec::new(),
            root_quorum,
            created_at_ms,
            policies: Vec::new(),
            user_tags: Vec::new(),
            wallets: Vec::new(),
            parent_org_id: None,
            recent: Vec::new(),
            usage: Vec::new(),
            private_keys: Vec::new(),
            private_key_tags: Vec::new(),
            features: Vec::new(),
            contract_interfaces: Vec::new(),
            audit: None,
            deleted_at_ms: None,
        }
    }

    /// Finds the user holding the passkey with `credential_id`.
    pub fn find_authenticator(&self, credential_id: &[u8]) -> Option<(&User, &Authenticator)> {
        self.users.iter().find_map(|u| {
            u.authenticators
                .iter()
                .find(|a| a.credential_id == credential_id)
                .map(|a| (u, a))
        })
    }

    /// Finds the user holding the API key `public_key`.
    pub fn find_api_key(&self, public_key: &[u8]) -> Option<(&User, &ApiKey)> {
        self.users.iter().find_map(|u| {
            u.api_keys
                .iter()
                .find(|k| k.public_key == public_key)
                .map(|k| (u, k))
        })
    }

    pub fn user(&self, id: &UserId) -> Option<&User> {
        self.users.iter().find(|u| &u.id == id)
    }

    pub fn is_root(&self, id: &UserId) -> bool {
        self.root_quorum.user_ids.contains(id)
    }

    pub fn user_mut(&mut self, id: &UserId) -> Option<&mut User> {
        self.users.iter_mut().find(|u| &u.id == id)
    }

    /// The successor of this state that an activity edits: version + 1, the activity's
    /// fingerprint remembered until `replay_until_ms`, expired fingerprints forgotten.
    pub fn successor(
        &self,
        fingerprint: &[u8; 32],
        now_ms: u64,
        replay_until_ms: u64,
    ) -> Result<OrgState> {
        let mut next = self.clone();
        next.version = self
            .version
            .checked_add(1)
            .ok_or(Error::Internal("version overflow"))?;
        next.recent.retain(|(_, until)| *until >= now_ms);
        if next.recent.len() >= MAX_RECENT {
            return Err(Error::invalid(
                "too many organization changes in the last hours; retry later",
            ));
        }
        next.recent.push((short(fingerprint), replay_until_ms));
        Ok(next)
    }

    /// Whether an activity with this fingerprint already changed this organization.
    pub fn seen(&self, fingerprint: &[u8; 32]) -> bool {
        let f = short(fingerprint);
        self.recent.iter().any(|(r, _)| *r == f)
    }
}

fn short(fingerprint: &[u8; 32]) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (o, b) in out.iter_mut().zip(fingerprint.iter()) {
        *o = *b;
    }
    out
}

/// Seals and opens organization states, remembering the newest version seen per organization so
/// the host cannot roll one back while this enclave runs. (Across an enclave restart that memory
/// is gone; the organizations issue adds the persistent defence and documents the limits.)
#[derive(Debug)]
pub struct OrgSealer {
    key: SealKey,
    newest: Mutex<HashMap<OrgId, u64>>,
    /// States opened recently, keyed by a digest of the exact sealed bytes: every signing
    /// request presents its organization's unchanged blob, and decrypting and decoding it again
    /// was a few percent of the enclave's CPU. Only the bytes that decrypted to the state map
    /// to it, so the host gains nothing by presenting a cached blob it could not present anyway.
    opened: Mutex<Lru<OrgState>>,
}

/// Organization states kept opened.
const OPENED_CACHE: usize = 64;
/// Largest sealed state kept opened. A decoded state takes several times its encoding (every
/// string and list is a heap allocation), so the cache holds at most some tens of MiB.
const OPENED_CACHE_MAX_LEN: usize = 64 * 1024;

impl OrgSealer {
    pub fn new(key: SealKey) -> Self {
        OrgSealer {
            key,
            newest: Mutex::new(HashMap::new()),
            opened: Mutex::new(Lru::new(OPENED_CACHE)),
        }
    }

    /// Seals `state`: its encoding, followed by its audit checkpoint's when it has one. The
    /// AEAD covers both, so the host can neither strip nor swap the checkpoint. A deleted state
    /// is sealed as its [`Tombstone`] (with the checkpoint of the deletion's receipt).
    pub fn seal(&self, state: &OrgState) -> Result<SealedOrgState> {
        let (encoded, aad) = match state.deleted_at_ms {
            None => (
                postcard::to_allocvec(state),
                org_state_aad_v5(&state.org_id, state.version),
            ),
            Some(deleted_at_ms) => (
                postcard::to_allocvec(&Tombstone {
                    org_id: state.org_id,
                    version: state.version,
                    parent_org_id: state.parent_org_id,
                    deleted_at_ms,
                }),
                org_tombstone_aad(&state.org_id, state.version),
            ),
        };
        let mut plaintext =
            zeroize::Zeroizing::new(encoded.map_err(|_| Error::Internal("encode org state"))?);
        if let Some(checkpoint) = &state.audit {
            plaintext.extend(
                postcard::to_allocvec(checkpoint)
                    .map_err(|_| Error::Internal("encode audit checkpoint"))?,
            );
        }
        // A blob `open` would refuse must not be made: the organization would be locked out of
        // every later request. The activity that grew the state fails instead, nothing stored.
        // (16 bytes: the AEAD tag.)
        if plaintext.len().saturating_add(16) > keyhold_shared::msg::MAX_SEALED_LEN {
            return Err(Error::invalid(
                "the organization's state would exceed its size limit (2 MiB sealed); delete \
                 something from it first",
            ));
        }
        let (nonce, ciphertext) = self.key.seal(&plaintext, &aad)?;
        // Strictly newer: two different states never carry the same version, so a host cannot
        // keep two concurrent successors of one state and choose later which one to present.
        self.observe_new(state.org_id, state.version)?;
        Ok(SealedOrgState {
            org_id: state.org_id,
            version: state.version,
            nonce,
            ciphertext,
        })
    }

    pub fn open(&self, sealed: &SealedOrgState) -> Result<OrgState> {
        if sealed.ciphertext.len() > keyhold_shared::msg::MAX_SEALED_LEN {
            return Err(Error::Unseal);
        }
        if sealed.ciphertext.len() > OPENED_CACHE_MAX_LEN {
            return self.open_uncached(sealed);
        }
        let key = cache_key(&[
            b"org-state",
            sealed.org_id.0.as_bytes(),
            &sealed.version.to_be_bytes(),
            &sealed.nonce,
            &sealed.ciphertext,
        ]);
        if let Some(state) = Lru::lookup(&self.opened, &key)? {
            // The freshness rule applies to a cached state exactly as to a decrypted one.
            self.observe(state.org_id, state.version)?;
            return Ok(OrgState::clone(&state));
        }
        let state = self.open_uncached(sealed)?;
        Lru::put(&self.opened, key, Arc::new(state.clone()))?;
        Ok(state)
    }

    /// [`OrgSealer::open`] without the cache: always decrypts and decodes (the same checks).
    pub fn open_uncached(&self, sealed: &SealedOrgState) -> Result<OrgState> {
        // The format is told apart by the associated data, which the AEAD authenticates: a
        // blob cannot be opened as the other format.
        let state = match self.open_any_format(sealed)? {
            Opened::Live(state) => *state,
            Opened::Deleted(tombstone) => {
                if tombstone.org_id != sealed.org_id || tombstone.version != sealed.version {
                    return Err(Error::Unseal);
                }
                // Seen, so that every earlier (live) state of the organization is now stale.
                self.observe(tombstone.org_id, tombstone.version)?;
                return Err(Error::OrganizationDeleted(tombstone.org_id));
            }
        };
        // The AEAD binds org id and version already; this only guards against our own bugs.
        if state.org_id != sealed.org_id || state.version != sealed.version {
            return Err(Error::Unseal);
        }
        self.observe(state.org_id, state.version)?;
        Ok(state)
    }

    /// Opens the current format or migrates an older one. The format is told apart by the
    /// associated data, which the AEAD authenticates: a blob cannot be opened as another format.
    fn open_any_format(&self, sealed: &SealedOrgState) -> Result<Opened> {
        let (org, version) = (&sealed.org_id, sealed.version);
        let open = |aad: Vec<u8>| self.key.open(&sealed.nonce, &sealed.ciphertext, &aad);
        // What follows a state of the third, fourth or fifth format is its audit checkpoint (see
        // [`OrgSealer::seal`]).
        let checkpoint = |rest: &[u8]| -> Result<Option<AuditCheckpoint>> {
            if rest.is_empty() {
                return Ok(None);
            }
            keyhold_shared::frame::decode::<AuditCheckpoint>(rest)
                .map(Some)
                .map_err(|_| Error::Unseal)
        };
        if let Ok(plaintext) = open(org_state_aad_v5(org, version)) {
            let (mut state, rest) =
                postcard::take_from_bytes::<OrgState>(&plaintext).map_err(|_| Error::Unseal)?;
            state.audit = checkpoint(rest)?;
            return Ok(Opened::Live(Box::new(state)));
        }
        if let Ok(plaintext) = open(org_state_aad_v4(org, version)) {
            let (old, rest) =
                postcard::take_from_bytes::<v4::OrgState>(&plaintext).map_err(|_| Error::Unseal)?;
            let mut state = OrgState::from(old);
            state.audit = checkpoint(rest)?;
            return Ok(Opened::Live(Box::new(state)));
        }
        if let Ok(plaintext) = open(org_state_aad_v3(org, version)) {
            let (old, rest) =
                postcard::take_from_bytes::<v3::OrgState>(&plaintext).map_err(|_| Error::Unseal)?;
            let mut state = OrgState::from(old);
            state.audit = checkpoint(rest)?;
            return Ok(Opened::Live(Box::new(state)));
        }
        if let Ok(plaintext) = open(org_tombstone_aad(org, version)) {
            // The checkpoint that follows is of no use: nothing runs in a deleted organization.
            let (tombstone, _checkpoint) =
                postcard::take_from_bytes::<Tombstone>(&plaintext).map_err(|_| Error::Unseal)?;
            return Ok(Opened::Deleted(tombstone));
        }
        if let Ok(plaintext) = open(org_state_aad_v2(org, version)) {
            return keyhold_shared::frame::decode::<v2::OrgState>(&plaintext)
                .map(|s| Opened::Live(Box::new(s.into())))
                .map_err(|_| Error::Unseal);
        }
        let plaintext = open(org_state_aad(org, version))?;
        keyhold_shared::frame::decode::<v1::OrgState>(&plaintext)
            .map(|s| Opened::Live(Box::new(s.into())))
            .map_err(|_| Error::Unseal)
    }

    /// Takes over the newest versions `previous` has seen (same deployment, new manifest).
    pub fn adopt_history(&self, previous: &OrgSealer) -> Result<()> {
        let old = previous
            .newest
            .lock()
            .map_err(|_| Error::Internal("version map poisoned"))?
            .clone();
        let mut newest = self
            .newest
            .lock()
            .map_err(|_| Error::Internal("version map poisoned"))?;
        for (org, version) in old {
            let seen = newest.entry(org).or_insert(version);
            *seen = (*seen).max(version);
        }
        Ok(())
    }

    /// Records a version about to be sealed, refusing one not newer than the newest seen.
    fn observe_new(&self, org: OrgId, version: u64) -> Result<()> {
        let mut newest = self
            .newest
            .lock()
            .map_err(|_| Error::Internal("version map poisoned"))?;
        match newest.get(&org) {
            Some(seen) if version <= *seen => Err(Error::StaleState {
                got: version,
                seen: *seen,
            }),
            _ => {
                newest.insert(org, version);
                Ok(())
            }
        }
    }

    /// Records `version` as seen, refusing one older than the newest seen.
    fn observe(&self, org: OrgId, version: u64) -> Result<()> {
        let mut newest = self
            .newest
            .lock()
            .map_err(|_| Error::Internal("version map poisoned"))?;
        let seen = newest.entry(org).or_insert(version);
        if version < *seen {
            return Err(Error::StaleState {
                got: version,
                seen: *seen,
            });
        }
        *seen = version;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::QuorumKey;
    use keyhold_shared::Uuid;
    use keyhold_shared::msg::SealedOrgState;

    fn state(org: u8, version: u64) -> OrgState {
        OrgState {
            version,
            ..OrgState::new(
                OrgId(Uuid::from_bytes([org; 16])),
                "acme".into(),
                RootQuorum {
                    threshold: 1,
                    user_ids: vec![],
                },
                0,
            )
        }
    }

    fn sealer() -> OrgSealer {
        OrgSealer::new(SealKey::derive(&QuorumKey::generate().unwrap(), b"org").unwrap())
    }

    /// A new sealer, and `old` sealed by its key in an older format (told apart by `aad`).
    fn sealed_as(
        old: &impl Serialize,
        org_id: OrgId,
        version: u64,
        aad: fn(&OrgId, u64) -> Vec<u8>,
    ) -> (OrgSealer, SealedOrgState) {
        let key = SealKey::derive(&QuorumKey::generate().unwrap(), b"org").unwrap();
        let (nonce, ciphertext) = key
            .seal(&postcard::to_allocvec(old).unwrap(), &aad(&org_id, version))
            .unwrap();
        let sealed = SealedOrgState {
            org_id,
            version,
            nonce,
            ciphertext,
        };
        (OrgSealer::new(key), sealed)
    }

    #[test]
    fn opened_states_are_reused_only_for_the_same_sealed_bytes() {
        let sealer = sealer();
        let v1 = sealer.seal(&state(1, 1)).unwrap();
        assert_eq!(sealer.open(&v1).unwrap(), state(1, 1));
        assert_eq!(sealer.opened.lock().unwrap().len(), 1);
        // served from the cache: same state, nothing added
        assert_eq!(sealer.open(&v1).unwrap(), state(1, 1));
        assert_eq!(sealer.opened.lock().unwrap().len(), 1);
        // any changed byte (ciphertext, tag, nonce) misses the cache and fails to decrypt
        for flip in [0, v1.ciphertext.len() - 1] {
            let mut forged = v1.clone();
            forged.ciphertext[flip] ^= 1;
            assert!(matches!(sealer.open(&forged), Err(Error::Unseal)));
        }
        let mut renonced = v1.clone();
        renonced.nonce[0] ^= 1;
        assert!(matches!(sealer.open(&renonced), Err(Error::Unseal)));
        // a cached state is still refused once a newer version was seen
        let v2 = sealer.seal(&state(1, 2)).unwrap();
        sealer.open(&v2).unwrap();
        assert!(matches!(
            sealer.open(&v1),
            Err(Error::StaleState { got: 1, seen: 2 })
        ));
        // a state too large to keep is opened, not cached
        let mut big = state(3, 1);
        big.name = "x".repeat(OPENED_CACHE_MAX_LEN);
        let sealed_big = sealer.seal(&big).unwrap();
        assert_eq!(sealer.open(&sealed_big).unwrap(), big);
        assert_eq!(sealer.opened.lock().unwrap().len(), 2);
    }

    #[test]
    fn host_cannot_forge_swap_or_roll_back() {
        let sealer = sealer();
        let v1 = sealer.seal(&state(1, 1)).unwrap();
        assert_eq!(sealer.open(&v1).unwrap(), state(1, 1));
        // the host relabels the blob as another org or another version
        let mut swapped = v1.clone();
        swapped.org_id = OrgId(Uuid::from_bytes([2; 16]));
        assert!(matches!(sealer.open(&swapped), Err(Error::Unseal)));
        let mut bumped = v1.clone();
        bumped.version = 7;
        assert!(matches!(sealer.open(&bumped), Err(Error::Unseal)));
        // a forged ciphertext
        let mut forged = v1.clone();
        forged.ciphertext[3] ^= 0x80;
        assert!(matches!(sealer.open(&forged), Err(Error::Unseal)));
        // once v2 was seen, v1 is refused
        let v2 = sealer.seal(&state(1, 2)).unwrap();
        sealer.open(&v2).unwrap();
        assert!(matches!(
            sealer.open(&v1),
            Err(Error::StaleState { got: 1, seen: 2 })
        ));
        // another enclave (other quorum key) cannot open it at all
        assert!(matches!(self::sealer().open(&v2), Err(Error::Unseal)));
    }

    #[test]
    fn a_state_too_large_to_open_is_not_sealed() {
        let sealer = sealer();
        let mut big = state(9, 1);
        big.name = "x".repeat(keyhold_shared::msg::MAX_SEALED_LEN);
        assert!(matches!(sealer.seal(&big), Err(Error::InvalidRequest(_))));
        // the refused seal did not use up the version
        let sealed = sealer.seal(&state(9, 1)).unwrap();
        assert_eq!(sealer.open(&sealed).unwrap(), state(9, 1));
        // the largest state that seals also opens
        let mut largest = state(9, 2);
        let room = keyhold_shared::msg::MAX_SEALED_LEN
            - 16
            - postcard::to_allocvec(&largest).unwrap().len();
        largest.name = "y".repeat(room - 4);
        let sealed = sealer.seal(&largest).unwrap();
        assert_eq!(sealer.open(&sealed).unwrap().name.len(), room - 4);
    }

    #[test]
    fn fourth_format_blobs_open_and_migrate() {
        let mut current = state(4, 6);
        current.private_key_tags = vec![Tag {
            id: "k".into(),
            name: "hot".into(),
            created_at_ms: 1,
            updated_at_ms: 1,
        }];
        let old = v4::OrgState {
            org_id: current.org_id,
            name: current.name.clone(),
            version: current.version,
            users: current.users.clone(),
            root_quorum: current.root_quorum.clone(),
            created_at_ms: current.created_at_ms,
            policies: current.policies.clone(),
            user_tags: current.user_tags.clone(),
            wallets: current.wallets.clone(),
            parent_org_id: current.parent_org_id,
            recent: vec![],
            usage: vec![],
            private_keys: current.private_keys.clone(),
            private_key_tags: current.private_key_tags.clone(),
        };
        let (sealer, sealed) = sealed_as(&old, current.org_id, 6, org_state_aad_v4);
        let opened = sealer.open(&sealed).unwrap();
        assert_eq!(opened, current);
        assert!(opened.features.is_empty() && opened.contract_interfaces.is_empty());
        // resealed in the current format (with a feature), the old blob is stale
        let mut next = opened.clone();
        next.version = 7;
        next.features.push(Feature {
            name: "FEATURE_NAME_WEBAUTHN_ORIGINS".into(),
            value: Some("https://app.example".into()),
        });
        let resealed = sealer.seal(&next).unwrap();
        assert_eq!(sealer.open(&resealed).unwrap(), next);
        assert!(matches!(
            sealer.open(&sealed),
            Err(Error::StaleState { .. })
        ));
    }

    #[test]
    fn third_format_blobs_open_and_migrate() {
        let current = state(3, 4);
        let old = v3::OrgState {
            org_id: current.org_id,
            name: current.name.clone(),
            version: current.version,
            users: current.users.clone(),
            root_quorum: current.root_quorum.clone(),
            created_at_ms: current.created_at_ms,
            policies: current.policies.clone(),
            user_tags: current.user_tags.clone(),
            wallets: current.wallets.clone(),
            parent_org_id: current.parent_org_id,
            recent: vec![([2; 16], 8)],
            usage: vec![],
            private_keys: current.private_keys.clone(),
        };
        let (sealer, sealed) = sealed_as(&old, current.org_id, 4, org_state_aad_v3);
        let opened = sealer.open(&sealed).unwrap();
        assert_eq!(opened.users, current.users);
        assert_eq!(opened.recent, vec![([2; 16], 8)]);
        assert!(opened.private_key_tags.is_empty());
        // resealed in the current format, the old blob is stale
        let mut next = opened.clone();
        next.version = 5;
        let resealed = sealer.seal(&next).unwrap();
        assert_eq!(sealer.open(&resealed).unwrap(), next);
        assert!(matches!(
            sealer.open(&sealed),
            Err(Error::StaleState { .. })
        ));
    }

    #[test]
    fn second_format_blobs_open_and_migrate() {
        #[derive(Serialize)]
        struct OldUser {
            id: UserId,
            name: String,
            email: Option<String>,
            phone_number: Option<String>,
            api_keys: Vec<ApiKey>,
            tags: Vec<String>,
            created_at_ms: u64,
            updated_at_ms: u64,
        }
        #[derive(Serialize)]
        struct OldState {
            org_id: OrgId,
            name: String,
            version: u64,
            users: Vec<OldUser>,
            root_quorum: RootQuorum,
            created_at_ms: u64,
            policies: Vec<StoredPolicy>,
            user_tags: Vec<Tag>,
            wallets: Vec<WalletMeta>,
            parent_org_id: Option<OrgId>,
            recent: Vec<([u8; 16], u64)>,
        }
        let org_id = OrgId(Uuid::from_bytes([5; 16]));
        let parent = OrgId(Uuid::from_bytes([6; 16]));
        let user = UserId(Uuid::from_bytes([7; 16]));
        let api_key = ApiKey {
            id: ApiKeyId(Uuid::from_bytes([8; 16])),
            name: "k".into(),
            curve: ApiKeyCurve::P256,
            public_key: vec![2; 33],
            created_at_ms: 1,
            expires_at_ms: Some(99),
        };
        let old = OldState {
            org_id,
            name: "second".into(),
            version: 9,
            users: vec![OldUser {
                id: user,
                name: "root".into(),
                email: Some("r@example.com".into()),
                phone_number: None,
                api_keys: vec![api_key.clone()],
                tags: vec!["t".into()],
                created_at_ms: 1,
                updated_at_ms: 2,
            }],
            root_quorum: RootQuorum {
                threshold: 1,
                user_ids: vec![user],
            },
            created_at_ms: 1,
            policies: vec![],
            user_tags: vec![Tag {
                id: "t".into(),
                name: "tag".into(),
                created_at_ms: 1,
                updated_at_ms: 1,
            }],
            wallets: vec![],
            parent_org_id: Some(parent),
            recent: vec![([1; 16], 5)],
        };
        let (sealer, sealed) = sealed_as(&old, org_id, 9, org_state_aad_v2);
        let state = sealer.open(&sealed).unwrap();
        assert_eq!(state.users[0].api_keys, vec![api_key]);
        assert_eq!(state.users[0].email.as_deref(), Some("r@example.com"));
        assert_eq!(state.users[0].tags, vec!["t".to_owned()]);
        assert!(state.users[0].authenticators.is_empty());
        assert_eq!(state.parent_org_id, Some(parent));
        assert_eq!(state.recent, vec![([1; 16], 5)]);
        assert_eq!(state.user_tags.len(), 1);
        // resealed in the current format it opens as such, and the old blob is stale
        let mut next = state.clone();
        next.version = 10;
        let resealed = sealer.seal(&next).unwrap();
        assert_eq!(sealer.open(&resealed).unwrap(), next);
        assert!(matches!(
            sealer.open(&sealed),
            Err(Error::StaleState { .. })
        ));
        // a current-format blob relabelled as another version cannot be opened in any format
        let mut relabelled = resealed.clone();
        relabelled.version = 9;
        assert!(matches!(sealer.open(&relabelled), Err(Error::Unseal)));
    }

    #[test]
    fn first_format_blobs_open_and_migrate() {
        #[derive(Serialize)]
        struct OldUser {
            id: UserId,
            name: String,
            api_keys: Vec<ApiKey>,
            created_at_ms: u64,
        }
        #[derive(Serialize)]
        struct OldState {
            org_id: OrgId,
            name: String,
            version: u64,
            users: Vec<OldUser>,
            root_quorum: RootQuorum,
            created_at_ms: u64,
        }
        let org_id = OrgId(Uuid::from_bytes([3; 16]));
        let user = UserId(Uuid::from_bytes([4; 16]));
        let old = OldState {
            org_id,
            name: "old".into(),
            version: 5,
            users: vec![OldUser {
                id: user,
                name: "root".into(),
                api_keys: vec![],
                created_at_ms: 7,
            }],
            root_quorum: RootQuorum {
                threshold: 1,
                user_ids: vec![user],
            },
            created_at_ms: 7,
        };
        let (sealer, sealed) = sealed_as(&old, org_id, 5, org_state_aad);
        let state = sealer.open(&sealed).unwrap();
        assert_eq!(state.users[0].name, "root");
        assert!(state.policies.is_empty() && state.users[0].tags.is_empty());
        // resealed in the current format, it opens as such (and not as the old one)
        let mut next = state.clone();
        next.version = 6;
        let resealed = sealer.seal(&next).unwrap();
        assert_eq!(sealer.open(&resealed).unwrap(), next);
        // the old blob is now stale
        assert!(matches!(
            sealer.open(&sealed),
            Err(Error::StaleState { .. })
        ));
    }
}
