//! A software WebAuthn authenticator (ES256) for tests: it registers (attestation objects in
//! the `none` and `packed` formats) and asserts (`X-Stamp-Webauthn` headers) the way a browser
//! and a platform authenticator do, with knobs to get each part wrong.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciborium::Value;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{DerSignature, Signature, SigningKey};
use serde_json::json;
use sha2::{Digest, Sha256};

pub struct SoftAuthenticator {
    pub key: SigningKey,
    pub credential_id: Vec<u8>,
    pub rp_id: String,
}

/// What to get wrong in an assertion.
#[derive(Default, Clone)]
pub struct Tamper {
    /// Sign this body's challenge instead of the real one.
    pub challenge_body: Option<String>,
    /// `clientDataJSON.type` instead of `webauthn.get`.
    pub kind: Option<&'static str>,
    /// Flags byte instead of UP|UV (0x05).
    pub flags: Option<u8>,
    /// Assert for this relying party instead.
    pub rp_id: Option<&'static str>,
    /// Name this credential id instead.
    pub credential_id: Option<Vec<u8>>,
    /// Sign `authenticatorData` alone (not ‖ sha256(clientDataJSON)).
    pub sign_auth_data_only: bool,
    /// Sign with this key instead.
    pub key: Option<SigningKey>,
    /// `clientDataJSON.origin` instead of `https://wallet.example` (`Some("")`: none at all).
    pub origin: Option<&'static str>,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn cbor(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(value, &mut out).unwrap();
    out
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

fn int(i: i64) -> Value {
    Value::Integer(i.into())
}

/// A registration as Turnkey's `v1AuthenticatorParamsV2` JSON.
pub struct Registration {
    pub credential_id: String,
    pub client_data_json: String,
    pub attestation_object: String,
    pub challenge: String,
}

impl Registration {
    pub fn params(&self, name: &str) -> serde_json::Value {
        json!({
            "authenticatorName": name,
            "challenge": self.challenge,
            "attestation": {
                "credentialId": self.credential_id,
                "clientDataJson": self.client_data_json,
                "attestationObject": self.attestation_object,
                "transports": ["AUTHENTICATOR_TRANSPORT_INTERNAL", "AUTHENTICATOR_TRANSPORT_HYBRID"],
            },
        })
    }
}

impl SoftAuthenticator {
    pub fn new() -> Self {
        let key = SigningKey::from_slice(&crate::secrets::random::<32>().unwrap()).unwrap();
        SoftAuthenticator {
            key,
            credential_id: crate::secrets::random::<20>().unwrap().to_vec(),
            rp_id: "wallet.example".into(),
        }
    }

    pub fn cose_key(&self) -> Value {
        let point = self.key.verifying_key().to_sec1_point(false);
        let bytes = point.as_bytes();
        Value::Map(vec![
            (int(1), int(2)),
            (int(3), int(-7)),
            (int(-1), int(1)),
            (int(-2), Value::Bytes(bytes[1..33].to_vec())),
            (int(-3), Value::Bytes(bytes[33..65].to_vec())),
        ])
    }

    /// authenticatorData with an attested credential (`cose_key`).
    pub fn registration_auth_data(&self, cose_key: &Value) -> Vec<u8> {
        let mut data = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        data.push(0x45); // UP | UV | AT
        data.extend_from_slice(&0u32.to_be_bytes());
        data.extend_from_slice(&[0xAA; 16]); // aaguid
        data.extend_from_slice(&(self.credential_id.len() as u16).to_be_bytes());
        data.extend_from_slice(&self.credential_id);
        data.extend_from_slice(&cbor(cose_key));
        data
    }

    pub fn client_data_create(challenge: &str) -> Vec<u8> {
        Self::client_data_create_at(challenge, "https://wallet.example")
    }

    pub fn client_data_create_at(challenge: &str, origin: &str) -> Vec<u8> {
        json!({"type": "webauthn.create", "challenge": challenge, "origin": origin,
               "crossOrigin": false})
        .to_string()
        .into_bytes()
    }

    /// A registration in format `fmt` (`none`, `packed` self attestation).
    pub fn register(&self, fmt: &str) -> Registration {
        self.register_at(fmt, "https://wallet.example")
    }

    /// [`Self::register`] made on a page of `origin`.
    pub fn register_at(&self, fmt: &str, origin: &str) -> Registration {
        let challenge = b64(&crate::secrets::random::<32>().unwrap());
        let auth_data = self.registration_auth_data(&self.cose_key());
        let client_data = Self::client_data_create_at(&challenge, origin);
        let statement = match fmt {
            "packed" => {
                let mut signed = auth_data.clone();
                signed.extend_from_slice(&Sha256::digest(&client_data));
                let sig: Signature = self.key.sign(&signed);
                Value::Map(vec![
                    (text("alg"), int(-7)),
                    (
                        text("sig"),
                        Value::Bytes(DerSignature::from(sig).as_bytes().to_vec()),
                    ),
                ])
            }
            _ => Value::Map(vec![]),
        };
        self.registration_with(fmt, statement, auth_data, client_data, challenge)
    }

    pub fn registration_with(
        &self,
        fmt: &str,
        statement: Value,
        auth_data: Vec<u8>,
        client_data: Vec<u8>,
        challenge: String,
    ) -> Registration {
        let object = Value::Map(vec![
            (text("fmt"), text(fmt)),
            (text("attStmt"), statement),
            (text("authData"), Value::Bytes(auth_data)),
        ]);
        Registration {
            credential_id: b64(&self.credential_id),
            client_data_json: b64(&client_data),
            attestation_object: b64(&cbor(&object)),
            challenge,
        }
    }

    /// An `X-Stamp-Webauthn` header for `body`, as `@turnkey/webauthn-stamper` builds it.
    pub fn stamp(&self, body: &str) -> String {
        self.stamp_with(body, &Tamper::default())
    }

    pub fn stamp_with(&self, body: &str, t: &Tamper) -> String {
        let challenge_body = t.challenge_body.as_deref().unwrap_or(body);
        let challenge = hex::encode(Sha256::digest(challenge_body.as_bytes()));
        let mut client_data = json!({
            "type": t.kind.unwrap_or("webauthn.get"),
            "challenge": b64(challenge.as_bytes()),
            "origin": t.origin.unwrap_or("https://wallet.example"),
            "crossOrigin": false,
        });
        if t.origin == Some("") {
            client_data.as_object_mut().unwrap().remove("origin");
        }
        let client_data = client_data.to_string();
        let mut auth_data = Sha256::digest(t.rp_id.unwrap_or(&self.rp_id).as_bytes()).to_vec();
        auth_data.push(t.flags.unwrap_or(0x05));
        auth_data.extend_from_slice(&7u32.to_be_bytes());
        let mut signed = auth_data.clone();
        if !t.sign_auth_data_only {
            signed.extend_from_slice(&Sha256::digest(client_data.as_bytes()));
        }
        let sig: Signature = t.key.as_ref().unwrap_or(&self.key).sign(&signed);
        json!({
            "authenticatorData": b64(&auth_data),
            "clientDataJson": b64(client_data.as_bytes()),
            "credentialId": b64(t.credential_id.as_ref().unwrap_or(&self.credential_id)),
            "signature": b64(DerSignature::from(sig).as_bytes()),
        })
        .to_string()
    }
}
