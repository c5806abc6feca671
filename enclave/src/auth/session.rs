//! Session JWTs in Turnkey's shape (spec §7.5). `stamp_login` answers with one naming the key
//! the client will stamp with (`SESSION_TYPE_READ_WRITE`: informational, the key itself is the
//! credential); `create_read_only_session` with one that is itself a credential for reads,
//! sent as `X-Session` (`SESSION_TYPE_READ_ONLY`, checked by [`SessionSigner::verify`]).
//!
//! Header `{"alg":"ES256","typ":"JWT"}`; payload `{exp, public_key, session_type, user_id,
//! organization_id}`; signature: P-256 over SHA-256(SHA-256(`header.payload`)), raw `r‖s`,
//! base64url — Turnkey's scheme, which `@turnkey/crypto`'s `verifySessionJwtSignature` checks
//! against the key served at `/enclave/v1/session-signer` (`@turnkey/core` only decodes the
//! payload, with `atob`: plain-ASCII JSON without `>`, `?` or `~` never encodes to the `-` and
//! `_` it would refuse). The key is derived from the quorum key, so every enclave of a
//! deployment issues and accepts the same sessions, across restarts.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::hazmat::{PrehashSigner as _, PrehashVerifier as _};
use p256::ecdsa::{Signature, SigningKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::secrets::QuorumKey;

const LABEL: &[u8] = b"keyhold/v1/session-jwt-signing";
/// `{"alg":"ES256","typ":"JWT"}`, base64url: every token keyhold issues starts with it.
const HEADER: &str = "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9";
/// Longest token accepted (keyhold's are about 450 bytes).
pub const MAX_TOKEN_LEN: usize = 2048;

pub const READ_ONLY: &str = "SESSION_TYPE_READ_ONLY";
pub const READ_WRITE: &str = "SESSION_TYPE_READ_WRITE";

/// A session's claims (Turnkey's names).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Hex public key: the session key (`stamp_login`) or the credential that created the
    /// session (a read-only session).
    pub public_key: String,
    pub session_type: String,
    pub user_id: String,
    pub organization_id: String,
}

/// The deployment's session signing key (Turnkey's "notarizer" key).
pub struct SessionSigner {
    key: SigningKey,
}

impl fmt::Debug for SessionSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionSigner")
            .field("public", &hex::encode(self.public_key()))
            .finish_non_exhaustive()
    }
}

fn digest(signing_input: &str) -> [u8; 32] {
    Sha256::digest(Sha256::digest(signing_input.as_bytes())).into()
}

impl SessionSigner {
    pub fn derive(quorum: &QuorumKey) -> Result<Self> {
        let secret = quorum.derive(LABEL)?;
        let key = SigningKey::from_slice(secret.as_ref())
            .map_err(|_| Error::Internal("session signing key"))?;
        Ok(SessionSigner { key })
    }

    /// SEC1 uncompressed public key (what `verifySessionJwtSignature` takes, in hex).
    pub fn public_key(&self) -> Vec<u8> {
        self.key
            .verifying_key()
            .to_sec1_point(false)
            .as_bytes()
            .to_vec()
    }

    pub fn issue(&self, claims: &Claims) -> Result<String> {
        let payload = serde_json::to_vec(claims).map_err(|_| Error::Internal("encode claims"))?;
        let signing_input = format!("{HEADER}.{}", URL_SAFE_NO_PAD.encode(payload));
        let signature: Signature = self
            .key
            .sign_prehash(&digest(&signing_input))
            .map_err(|_| Error::Internal("sign session"))?;
        // Low s: `@noble/curves` (under `@turnkey/crypto`) refuses high-s signatures.
        let signature = signature.normalize_s();
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        ))
    }

    /// The claims of a token this deployment issued; anything else (another key, an edited
    /// payload, another header) is refused. Expiry and session type are the caller's to check.
    pub fn verify(&self, token: &str) -> Result<Claims> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(Error::SessionInvalid("the session token is too long"));
        }
        let mut parts = token.split('.');
        let (Some(HEADER), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Error::SessionInvalid("not a keyhold session token"));
        };
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .ok()
            .and_then(|bytes| Signature::from_slice(&bytes).ok())
            .ok_or(Error::SessionInvalid("malformed signature"))?;
        let signing_input = format!("{HEADER}.{payload}");
        self.key
            .verifying_key()
            .verify_prehash(&digest(&signing_input), &signature)
            .map_err(|_| Error::SessionInvalid("the signature does not verify"))?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| Error::SessionInvalid("malformed payload"))?;
        serde_json::from_slice(&payload).map_err(|_| Error::SessionInvalid("malformed payload"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            exp: 1_900_000_000,
            public_key: "02".repeat(33),
            session_type: READ_ONLY.into(),
            user_id: "3f1e8d4a-0000-4000-8000-000000000001".into(),
            organization_id: "3f1e8d4a-0000-4000-8000-000000000002".into(),
        }
    }

    #[test]
    fn issued_tokens_verify_and_edits_do_not() {
        let quorum = QuorumKey::generate().unwrap();
        let signer = SessionSigner::derive(&quorum).unwrap();
        let token = signer.issue(&claims()).unwrap();
        assert_eq!(signer.verify(&token).unwrap(), claims());
        // the same deployment (same quorum key) accepts it; another does not
        let again = SessionSigner::derive(&quorum).unwrap();
        assert_eq!(again.verify(&token).unwrap(), claims());
        let other = SessionSigner::derive(&QuorumKey::generate().unwrap()).unwrap();
        assert!(matches!(
            other.verify(&token),
            Err(Error::SessionInvalid(_))
        ));
        // a payload with another user, signature kept
        let parts: Vec<&str> = token.split('.').collect();
        let mut forged = claims();
        forged.user_id = "3f1e8d4a-0000-4000-8000-000000000009".into();
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        let edited = format!("{}.{forged_payload}.{}", parts[0], parts[2]);
        assert!(matches!(
            signer.verify(&edited),
            Err(Error::SessionInvalid(_))
        ));
        // other headers, extra parts, garbage, oversize
        for bad in [
            format!("eyJhbGciOiJub25lIn0.{}.{}", parts[1], parts[2]),
            format!("{token}.x"),
            format!("{}.{}", parts[0], parts[1]),
            "a.b.c".to_owned(),
            String::new(),
            "x".repeat(MAX_TOKEN_LEN + 1),
        ] {
            assert!(
                matches!(signer.verify(&bad), Err(Error::SessionInvalid(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn tokens_are_turnkeys_shape() {
        let signer = SessionSigner::derive(&QuorumKey::generate().unwrap()).unwrap();
        let token = signer.issue(&claims()).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(
            URL_SAFE_NO_PAD.decode(parts[0]).unwrap(),
            br#"{"alg":"ES256","typ":"JWT"}"#
        );
        let payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(payload["exp"], serde_json::json!(1_900_000_000u64));
        assert_eq!(payload["session_type"], "SESSION_TYPE_READ_ONLY");
        // @turnkey/core decodes the payload with atob, which refuses base64url's - and _
        assert!(!parts[1].contains(['-', '_']));
        // raw r‖s, low s
        let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
        assert_eq!(signature.normalize_s(), signature);
    }
}
