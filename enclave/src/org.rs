//! An organization's state as the enclave sees it once unsealed: who its users are, which
//! credentials they hold, and who forms the root quorum. The host only ever stores this sealed;
//! the enclave refuses a blob that is forged, belongs to another organization, or is older than
//! a version it has already seen.

use std::collections::HashMap;
use std::sync::Mutex;

use keyhold_shared::msg::SealedOrgState;
use keyhold_shared::{ApiKeyId, OrgId, UserId};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::seal::{SealKey, org_state_aad};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgState {
    pub org_id: OrgId,
    pub name: String,
    pub version: u64,
    pub users: Vec<User>,
    pub root_quorum: RootQuorum,
    pub created_at_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub api_keys: Vec<ApiKey>,
    pub created_at_ms: u64,
}

/// Which signature scheme an API key uses (Turnkey's `API_KEY_CURVE_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApiKeyCurve {
    P256,
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

impl OrgState {
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
}

/// Seals and opens organization states, remembering the newest version seen per organization so
/// the host cannot roll one back while this enclave runs. (Across an enclave restart that memory
/// is gone; the organizations issue adds the persistent defence and documents the limits.)
#[derive(Debug)]
pub struct OrgSealer {
    key: SealKey,
    newest: Mutex<HashMap<OrgId, u64>>,
}

impl OrgSealer {
    pub fn new(key: SealKey) -> Self {
        OrgSealer {
            key,
            newest: Mutex::new(HashMap::new()),
        }
    }

    pub fn seal(&self, state: &OrgState) -> Result<SealedOrgState> {
        let plaintext =
            postcard::to_allocvec(state).map_err(|_| Error::Internal("encode org state"))?;
        let (nonce, ciphertext) = self
            .key
            .seal(&plaintext, &org_state_aad(&state.org_id, state.version))?;
        self.observe(state.org_id, state.version)?;
        Ok(SealedOrgState {
            org_id: state.org_id,
            version: state.version,
            nonce,
            ciphertext,
        })
    }

    pub fn open(&self, sealed: &SealedOrgState) -> Result<OrgState> {
        let plaintext = self.key.open(
            &sealed.nonce,
            &sealed.ciphertext,
            &org_state_aad(&sealed.org_id, sealed.version),
        )?;
        let state: OrgState =
            keyhold_shared::frame::decode(&plaintext).map_err(|_| Error::Unseal)?;
        // The AEAD binds org id and version already; this only guards against our own bugs.
        if state.org_id != sealed.org_id || state.version != sealed.version {
            return Err(Error::Unseal);
        }
        self.observe(state.org_id, state.version)?;
        Ok(state)
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

    fn state(org: u8, version: u64) -> OrgState {
        OrgState {
            org_id: OrgId(Uuid::from_bytes([org; 16])),
            name: "acme".into(),
            version,
            users: vec![],
            root_quorum: RootQuorum {
                threshold: 1,
                user_ids: vec![],
            },
            created_at_ms: 0,
        }
    }

    fn sealer() -> OrgSealer {
        OrgSealer::new(SealKey::derive(&QuorumKey::generate().unwrap(), b"org").unwrap())
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
}
