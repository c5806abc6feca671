//! Signatures on webhook deliveries, in the scheme `@turnkey/crypto`'s
//! `verifyTurnkeyWebhookSignature` checks: Ed25519 over
//! `v1.ed25519.{keyId}.{timestampMs}.{eventId}.` followed by the raw body, sent as the
//! `X-Turnkey-Signature*` headers beside `X-Turnkey-Timestamp` and `X-Turnkey-Event-Id`.
//! A receiver passes keyhold's key (`GET /webhooks/v1/signing-key`) as its verification key and
//! can then tell a delivery from this deployment apart from anyone else's POST to its URL.
//!
//! The key is the host's, not the enclave's: the host writes the activity JSON it delivers, so an
//! enclave signature over it would vouch for nothing more. It lives in a file (default
//! `webhook-signing-key` in the data directory, mode 0600, created on first start); hosts that
//! share a database should be given the same file (`--webhook-signing-key`).

use std::path::Path;

use ed25519_dalek::Signer as _;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::HostError;

pub const SIGNATURE_VERSION: &str = "v1";
pub const SIGNATURE_ALGORITHM: &str = "ed25519";

/// The delivery signing key. `Debug` shows only the key id.
pub struct Signer {
    key_id: String,
    key: ed25519_dalek::SigningKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// The key in `path` (hex of its 32-byte seed), which must exist.
    pub fn load(path: &Path) -> Result<Self, HostError> {
        let config = |what: &str| HostError::Config(format!("{}: {what}", path.display()));
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
            config(&format!(
                "{e} (keyhold makes a key in the data directory on first start; copy that file, \
                 or write 64 random hex digits)"
            ))
        })?);
        #[cfg(unix)]
        if let Ok(meta) = std::fs::metadata(path) {
            use std::os::unix::fs::PermissionsExt as _;
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(path = %path.display(), "the webhook signing key file is readable by others");
            }
        }
        let mut seed = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text.trim(), seed.as_mut())
            .map_err(|_| config("not a webhook signing key (64 hex digits)"))?;
        Ok(Self::from_seed(&seed))
    }

    /// The key in `path`, made and written there first if the file does not exist; `true` if
    /// this call made it. The file appears whole or not at all (written beside it, then
    /// hard-linked, which never replaces a file): two hosts starting at once end up with the
    /// same key, and a crash mid-write leaves no half key to refuse every later start.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), HostError> {
        if path.exists() {
            return Ok((Self::load(path)?, false));
        }
        let config = |what: &str| HostError::Config(format!("{}: {what}", path.display()));
        let seed = crate::operator::random_bytes::<32>()?;
        // Hex and a newline, written in place (no intermediate strings left behind unzeroized).
        let mut text = Zeroizing::new([b'\n'; 65]);
        hex::encode_to_slice(seed.as_ref(), &mut text[..64])
            .map_err(|_| config("cannot encode the key"))?;
        let made = crate::operator::publish_private(path, text.as_ref())?;
        if made {
            Ok((Self::from_seed(&seed), true))
        } else {
            // Another process published its key first: use that one.
            Ok((Self::load(path)?, false))
        }
    }

    fn from_seed(seed: &[u8; 32]) -> Self {
        let key = ed25519_dalek::SigningKey::from_bytes(seed);
        let digest = Sha256::digest(key.verifying_key().as_bytes());
        let key_id = format!(
            "keyhold-{}",
            hex::encode(digest.get(..8).unwrap_or_default())
        );
        Signer { key_id, key }
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The public key, hex (32 bytes), as `verifyTurnkeyWebhookSignature` takes it.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.key.verifying_key().as_bytes())
    }

    /// The `X-Turnkey-Signature` value for one delivery attempt, hex.
    pub fn sign(&self, timestamp_ms: &str, event_id: &str, body: &[u8]) -> String {
        let input = signed_input(&self.key_id, timestamp_ms, event_id, body);
        hex::encode(self.key.sign(&input).to_bytes())
    }
}

/// What is signed: `{version}.{algorithm}.{keyId}.{timestampMs}.{eventId}.` + body.
pub fn signed_input(key_id: &str, timestamp_ms: &str, event_id: &str, body: &[u8]) -> Vec<u8> {
    let mut input =
        format!("{SIGNATURE_VERSION}.{SIGNATURE_ALGORITHM}.{key_id}.{timestamp_ms}.{event_id}.")
            .into_bytes();
    input.extend_from_slice(body);
    input
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::Verifier as _;

    #[test]
    fn a_key_is_made_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("webhook-signing-key");
        let (made, created) = Signer::load_or_create(&path).unwrap();
        assert!(created);
        let (again, created) = Signer::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(
            again.public_key_hex(),
            Signer::load(&path).unwrap().public_key_hex()
        );
        assert_eq!(made.public_key_hex(), again.public_key_hex());
        assert_eq!(made.key_id(), again.key_id());
        assert!(made.key_id().starts_with("keyhold-") && made.key_id().len() == 24);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!format!("{made:?}").contains(&hex::encode(made.key.to_bytes())));
    }

    /// Publishing never replaces a key another host wrote first, leaves no temporary file,
    /// and a named file that does not exist is an error, not a new key.
    #[test]
    fn a_published_key_is_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("webhook-signing-key");
        assert!(crate::operator::publish_private(&path, b"first\n").unwrap());
        assert!(!crate::operator::publish_private(&path, b"second\n").unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"first\n");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("webhook-signing-key")]);
        let missing = Signer::load(&dir.path().join("typo"))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("No such file"), "{missing}");
        assert!(!dir.path().join("typo").exists());
    }

    #[test]
    fn a_file_that_is_not_a_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "not hex\n").unwrap();
        let err = Signer::load_or_create(&path).unwrap_err().to_string();
        assert!(err.contains("not a webhook signing key"), "{err}");
    }

    /// The signature covers the documented input (version, algorithm, key id, timestamp, event
    /// id, body) and nothing else verifies.
    #[test]
    fn signatures_cover_the_turnkey_signed_input() {
        let dir = tempfile::tempdir().unwrap();
        let (signer, _) = Signer::load_or_create(&dir.path().join("k")).unwrap();
        let body = br#"{"activity":{"id":"a"}}"#;
        let signature = signer.sign("1700000000000", "ev-1", body);
        let signature =
            ed25519_dalek::Signature::from_slice(&hex::decode(signature).unwrap()).unwrap();
        let public = signer.key.verifying_key();
        let mut input = format!("v1.ed25519.{}.1700000000000.ev-1.", signer.key_id()).into_bytes();
        input.extend_from_slice(body);
        public.verify(&input, &signature).unwrap();
        let other = signed_input(signer.key_id(), "1700000000001", "ev-1", body);
        assert!(public.verify(&other, &signature).is_err());
    }
}
