//! Turnkey's `X-Stamp-Webauthn` passkey stamp (../shared/reference/turnkey-api.md §2.2): plain
//! JSON `{"authenticatorData", "clientDataJson", "credentialId", "signature"}`, each base64url,
//! as `@turnkey/webauthn-stamper` 0.6.0 and `@turnkey/http`'s `getWebAuthnAssertion` send it.
//!
//! The WebAuthn challenge is the ASCII of `hex(sha256(body))`, so the assertion signs the body.
//! Checked here: `clientDataJSON.type == "webauthn.get"`, that challenge, the relying-party hash
//! the credential was registered with, the user-presence flag, and the ES256 signature over
//! `authenticatorData ‖ sha256(clientDataJSON)` with the registered key, and the origin when
//! the organization restricts origins (`FEATURE_NAME_WEBAUTHN_ORIGINS`, [`origins`]; as in
//! Turnkey, every origin is allowed otherwise). Not checked: the signature counter (keeping it
//! would mean a new sealed state on every read; passkeys synced between devices report 0
//! anyway).

pub mod origins;
pub mod registration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD_INDIFFERENT, URL_SAFE_NO_PAD_INDIFFERENT};
use p256::ecdsa::signature::Verifier;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::schemes::ecdsa_scalars;
use crate::error::{Error, Result};
use crate::org::{Authenticator, Feature};

/// Longest header accepted (the host's limit is 16 KiB; a real stamp is under 1 KiB).
const MAX_HEADER_LEN: usize = 8 * 1024;
/// rpIdHash (32) ‖ flags (1) ‖ signCount (4).
const AUTH_DATA_MIN_LEN: usize = 37;
/// Flag bits of authenticatorData.
pub(crate) const FLAG_USER_PRESENT: u8 = 0x01;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StampJson {
    authenticator_data: String,
    client_data_json: String,
    credential_id: String,
    signature: String,
}

/// The part of `clientDataJSON` that is checked.
#[derive(Deserialize)]
pub(crate) struct ClientData {
    #[serde(rename = "type")]
    pub kind: String,
    pub challenge: String,
    /// Checked only against `FEATURE_NAME_WEBAUTHN_ORIGINS` ([`origins::check`]).
    #[serde(default)]
    pub origin: Option<String>,
}

/// A parsed (not yet verified) passkey stamp.
#[derive(Debug)]
pub struct WebauthnStamp {
    credential_id: Vec<u8>,
    authenticator_data: Vec<u8>,
    client_data_json: Vec<u8>,
    signature: Vec<u8>,
}

/// WebAuthn's base64url; standard base64 is tolerated (some mobile stampers produce it).
pub(crate) fn b64(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD_INDIFFERENT
        .decode(text)
        .or_else(|_| STANDARD_NO_PAD_INDIFFERENT.decode(text))
        .ok()
}

impl WebauthnStamp {
    pub fn parse(header: &str) -> Result<Self> {
        if header.len() > MAX_HEADER_LEN {
            return Err(Error::MalformedStamp("stamp header too long"));
        }
        let stamp: StampJson = serde_json::from_str(header)
            .map_err(|_| Error::MalformedStamp("not a WebAuthn stamp JSON object"))?;
        let field = |text: &str, what: &'static str| b64(text).ok_or(Error::MalformedStamp(what));
        Ok(WebauthnStamp {
            credential_id: field(&stamp.credential_id, "credentialId is not base64url")?,
            authenticator_data: field(
                &stamp.authenticator_data,
                "authenticatorData is not base64url",
            )?,
            client_data_json: field(&stamp.client_data_json, "clientDataJson is not base64url")?,
            signature: field(&stamp.signature, "signature is not base64url")?,
        })
    }

    pub fn credential_id(&self) -> &[u8] {
        &self.credential_id
    }

    /// Verifies the assertion as a signature by `authenticator` over `body`, made from an
    /// origin the organization's `features` allow.
    pub fn verify(
        &self,
        authenticator: &Authenticator,
        body: &[u8],
        features: &[Feature],
    ) -> Result<()> {
        let client: ClientData = serde_json::from_slice(&self.client_data_json)
            .map_err(|_| Error::WebauthnInvalid("clientDataJSON is not a JSON object"))?;
        if client.kind != "webauthn.get" {
            return Err(Error::WebauthnInvalid(
                "clientDataJSON.type must be webauthn.get",
            ));
        }
        let expected = hex::encode(Sha256::digest(body));
        if b64(&client.challenge).as_deref() != Some(expected.as_bytes()) {
            return Err(Error::WebauthnInvalid(
                "the challenge is not the hex SHA-256 of the request body",
            ));
        }
        origins::check(features, client.origin.as_deref())?;
        let data = &self.authenticator_data;
        if data.len() < AUTH_DATA_MIN_LEN {
            return Err(Error::WebauthnInvalid("authenticatorData is too short"));
        }
        if data.get(..32) != Some(authenticator.rp_id_hash.as_slice()) {
            return Err(Error::WebauthnInvalid(
                "the assertion is for another relying party than the passkey was registered for",
            ));
        }
        if data
            .get(32)
            .is_none_or(|flags| flags & FLAG_USER_PRESENT == 0)
        {
            return Err(Error::WebauthnInvalid("the user-presence flag is not set"));
        }
        let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&authenticator.public_key)
            .map_err(|_| Error::Internal("stored passkey key"))?;
        let (r, s) = ecdsa_scalars(&self.signature).ok_or(Error::WebauthnInvalid(
            "signature is not a DER ECDSA signature",
        ))?;
        let signature = p256::ecdsa::Signature::from_scalars(r, s)
            .map_err(|_| Error::WebauthnInvalid("signature is out of range"))?;
        let mut signed = Vec::with_capacity(data.len().saturating_add(32));
        signed.extend_from_slice(data);
        signed.extend_from_slice(&Sha256::digest(&self.client_data_json));
        key.verify(&signed, &signature)
            .map_err(|_| Error::WebauthnInvalid("signature does not verify"))
    }
}
