//! The signed envelope of export and import bundles, as `@turnkey/crypto` checks it:
//! `{"version":"v1.0.0","data":hex(JSON),"dataSignature":DER-hex,"enclaveQuorumPublic":hex}`.
//! The client compares `enclaveQuorumPublic` as a string with the key it pins (lowercase hex of
//! the uncompressed point) and verifies the ECDSA P-256 signature over SHA-256 of the decoded
//! `data` bytes. keyhold's signer key is derived from the quorum key, so it is the same in every
//! enclave of a deployment and survives restarts.

use std::fmt;

use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::secrets::QuorumKey;

const VERSION: &str = "v1.0.0";
const LABEL: &[u8] = b"keyhold/v1/bundle-signing";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    version: &'a str,
    data: String,
    data_signature: String,
    enclave_quorum_public: &'a str,
}

/// The deployment's bundle signing key (Turnkey's "signer enclave quorum key").
pub struct BundleSigner {
    key: SigningKey,
    public_hex: String,
}

impl fmt::Debug for BundleSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BundleSigner")
            .field("public", &self.public_hex)
            .finish_non_exhaustive()
    }
}

impl BundleSigner {
    pub fn derive(quorum: &QuorumKey) -> Result<Self> {
        let secret = quorum.derive(LABEL)?;
        let key = SigningKey::from_slice(secret.as_ref())
            .map_err(|_| Error::Internal("bundle signing key"))?;
        let public_hex = hex::encode(key.verifying_key().to_sec1_point(false).as_bytes());
        Ok(BundleSigner { key, public_hex })
    }

    /// SEC1 uncompressed public key.
    pub fn public_key(&self) -> Vec<u8> {
        self.key
            .verifying_key()
            .to_sec1_point(false)
            .as_bytes()
            .to_vec()
    }

    /// Serialises `data` as JSON (field order as declared), signs those bytes and returns the
    /// envelope as the JSON string Turnkey's results carry.
    pub fn envelope<T: Serialize>(&self, data: &T) -> Result<String> {
        let bytes = serde_json::to_vec(data).map_err(|_| Error::Internal("bundle data"))?;
        let signature: Signature = self.key.sign(&bytes);
        // Low S: every verifier accepts it (noble's p256 accepts high S too, others may not).
        let signature = signature.normalize_s();
        serde_json::to_string(&Envelope {
            version: VERSION,
            data: hex::encode(&bytes),
            data_signature: hex::encode(signature.to_der().as_bytes()),
            enclave_quorum_public: &self.public_hex,
        })
        .map_err(|_| Error::Internal("bundle envelope"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Verifier as _;
    use p256::ecdsa::{DerSignature, VerifyingKey};

    #[test]
    fn envelope_verifies_as_turnkey_checks_it() {
        let quorum = QuorumKey::generate().unwrap();
        let signer = BundleSigner::derive(&quorum).unwrap();
        // derived: the same key from the same quorum key, another from another
        assert_eq!(
            BundleSigner::derive(&quorum).unwrap().public_key(),
            signer.public_key()
        );
        assert_ne!(
            BundleSigner::derive(&QuorumKey::generate().unwrap())
                .unwrap()
                .public_key(),
            signer.public_key()
        );
        let text = signer
            .envelope(&serde_json::json!({"organizationId": "o"}))
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["version"], "v1.0.0");
        let public = v["enclaveQuorumPublic"].as_str().unwrap();
        assert_eq!(public, hex::encode(signer.public_key()));
        assert!(public.starts_with("04") && public.len() == 130);
        let data = hex::decode(v["data"].as_str().unwrap()).unwrap();
        assert_eq!(data, br#"{"organizationId":"o"}"#);
        let sig =
            DerSignature::from_bytes(&hex::decode(v["dataSignature"].as_str().unwrap()).unwrap())
                .unwrap();
        let key = VerifyingKey::from_sec1_bytes(&hex::decode(public).unwrap()).unwrap();
        key.verify(&data, &sig).unwrap();
        assert!(key.verify(b"other data", &sig).is_err());
    }
}
