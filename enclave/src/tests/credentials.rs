//! Credentials: the four `X-Stamp` schemes, passkeys (registration and `X-Stamp-Webauthn`), and
//! a parent organization's users reading (only reading) its sub-organizations — including a
//! host that names the wrong parent.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use k256::ecdsa::signature::hazmat::PrehashSigner;
use keyhold_shared::msg::{
    ActivityContext, ActivityRequest, AuthenticateRequest, Principal, Request, Response,
    SealedOrgState, SignedRequest, Stamp,
};
use keyhold_shared::{ApiKeyId, ErrorCode, OrgId, UserId, Uuid, WireError};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::passkey::{SoftAuthenticator, Tamper, cbor};
use super::support::{Fixture, create_wallet_body, fixture, signed};
use crate::auth::schemes::eip191_digest;
use crate::auth::{Credential, authenticate};
use crate::enclave::now_ms;
use crate::error::Error;
use crate::org::{ApiKey, ApiKeyCurve, OrgState, RootQuorum, User};

// ---- the X-Stamp schemes, against an organization state directly ---------------------------

/// A client key of one scheme, stamping as the Turnkey SDKs do.
enum ClientKey {
    P256(p256::ecdsa::SigningKey),
    Secp256k1(k256::ecdsa::SigningKey),
    Eip191(k256::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
}

impl ClientKey {
    fn all() -> Vec<ClientKey> {
        vec![
            ClientKey::P256(p256::ecdsa::SigningKey::from_slice(&rand32()).unwrap()),
            ClientKey::Secp256k1(k256::ecdsa::SigningKey::from_slice(&rand32()).unwrap()),
            ClientKey::Eip191(k256::ecdsa::SigningKey::from_slice(&rand32()).unwrap()),
            ClientKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&rand32())),
        ]
    }

    /// Another key of the same scheme.
    fn sibling(&self) -> ClientKey {
        match self {
            ClientKey::P256(_) => {
                ClientKey::P256(p256::ecdsa::SigningKey::from_slice(&rand32()).unwrap())
            }
            ClientKey::Secp256k1(_) => {
                ClientKey::Secp256k1(k256::ecdsa::SigningKey::from_slice(&rand32()).unwrap())
            }
            ClientKey::Eip191(_) => {
                ClientKey::Eip191(k256::ecdsa::SigningKey::from_slice(&rand32()).unwrap())
            }
            ClientKey::Ed25519(_) => {
                ClientKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&rand32()))
            }
        }
    }

    fn scheme(&self) -> &'static str {
        match self {
            ClientKey::P256(_) => "SIGNATURE_SCHEME_TK_API_P256",
            ClientKey::Secp256k1(_) => "SIGNATURE_SCHEME_TK_API_SECP256K1",
            ClientKey::Eip191(_) => "SIGNATURE_SCHEME_TK_API_SECP256K1_EIP191",
            ClientKey::Ed25519(_) => "SIGNATURE_SCHEME_TK_API_ED25519",
        }
    }

    fn curve(&self) -> ApiKeyCurve {
        match self {
            ClientKey::P256(_) => ApiKeyCurve::P256,
            ClientKey::Secp256k1(_) | ClientKey::Eip191(_) => ApiKeyCurve::Secp256k1,
            ClientKey::Ed25519(_) => ApiKeyCurve::Ed25519,
        }
    }

    fn curve_type(&self) -> &'static str {
        match self.curve() {
            ApiKeyCurve::P256 => "API_KEY_CURVE_P256",
            ApiKeyCurve::Secp256k1 => "API_KEY_CURVE_SECP256K1",
            ApiKeyCurve::Ed25519 => "API_KEY_CURVE_ED25519",
        }
    }

    fn public_key(&self) -> Vec<u8> {
        match self {
            ClientKey::P256(k) => k.verifying_key().to_sec1_point(true).as_bytes().to_vec(),
            ClientKey::Secp256k1(k) | ClientKey::Eip191(k) => {
                k.verifying_key().to_sec1_point(true).as_bytes().to_vec()
            }
            ClientKey::Ed25519(k) => k.verifying_key().to_bytes().to_vec(),
        }
    }

    /// The signature field, encoded as each stamper encodes it.
    fn signature(&self, body: &[u8]) -> Vec<u8> {
        match self {
            ClientKey::P256(k) => {
                use p256::ecdsa::signature::Signer;
                let sig: p256::ecdsa::Signature = k.sign(body);
                sig.to_der().as_bytes().to_vec()
            }
            ClientKey::Secp256k1(k) => {
                let sig: k256::ecdsa::Signature = k.sign_prehash(&Sha256::digest(body)).unwrap();
                sig.to_der().as_bytes().to_vec()
            }
            ClientKey::Eip191(k) => {
                let sig: k256::ecdsa::Signature = k.sign_prehash(&eip191_digest(body)).unwrap();
                to_der_signature_like_turnkey(&sig.to_bytes())
            }
            ClientKey::Ed25519(k) => {
                use ed25519_dalek::Signer;
                k.sign(body).to_bytes().to_vec()
            }
        }
    }

    fn stamp(&self, body: &str) -> String {
        self.stamp_as(self.scheme(), &self.public_key(), body)
    }

    fn stamp_as(&self, scheme: &str, public_key: &[u8], body: &str) -> String {
        header(scheme, public_key, &self.signature(body.as_bytes()))
    }
}

fn header(scheme: &str, public_key: &[u8], signature: &[u8]) -> String {
    let json = json!({
        "publicKey": hex::encode(public_key),
        "scheme": scheme,
        "signature": hex::encode(signature),
    });
    URL_SAFE_NO_PAD.encode(json.to_string())
}

/// `@turnkey/crypto.toDerSignature`: r and s as 32-byte INTEGERs, a 0x00 prefix only when the
/// top bit is set, leading zero bytes kept (so not always minimal DER).
fn to_der_signature_like_turnkey(raw: &[u8]) -> Vec<u8> {
    let int = |x: &[u8]| {
        let mut v = Vec::new();
        if x[0] & 0x80 != 0 {
            v.push(0);
        }
        v.extend_from_slice(x);
        let mut out = vec![0x02, v.len() as u8];
        out.extend(v);
        out
    };
    let (r, s) = (int(&raw[..32]), int(&raw[32..64]));
    let mut out = vec![0x30, (r.len() + s.len()) as u8];
    out.extend(r);
    out.extend(s);
    out
}

fn rand32() -> [u8; 32] {
    crate::secrets::random::<32>().unwrap()
}

fn state_with(keys: &[(&ClientKey, Option<u64>)]) -> OrgState {
    let user = UserId(Uuid::from_bytes([1; 16]));
    OrgState {
        users: vec![User {
            id: user,
            name: "root".into(),
            email: None,
            phone_number: None,
            api_keys: keys
                .iter()
                .enumerate()
                .map(|(i, (k, expires_at_ms))| ApiKey {
                    id: ApiKeyId(Uuid::from_bytes([i as u8 + 10; 16])),
                    name: format!("key {i}"),
                    curve: k.curve(),
                    public_key: k.public_key(),
                    created_at_ms: 0,
                    expires_at_ms: *expires_at_ms,
                })
                .collect(),
            tags: vec![],
            created_at_ms: 0,
            updated_at_ms: 0,
            authenticators: vec![],
        }],
        ..OrgState::new(
            OrgId(Uuid::from_bytes([9; 16])),
            "acme".into(),
            RootQuorum {
                threshold: 1,
                user_ids: vec![user],
            },
            0,
        )
    }
}

fn request(body: &str, stamp: String) -> SignedRequest {
    SignedRequest {
        body: body.as_bytes().to_vec(),
        stamp: Stamp::ApiKey(stamp),
    }
}

const BODY: &str = r#"{"organizationId":"09090909-0909-0909-0909-090909090909","type":"ACTIVITY_TYPE_CREATE_WALLET"}"#;

#[test]
fn every_scheme_verifies_a_good_stamp_and_refuses_bad_ones() {
    for key in ClientKey::all() {
        let scheme = key.scheme();
        let state = state_with(&[(&key, None)]);
        let now = now_ms();
        // good
        let auth = authenticate(&state, &request(BODY, key.stamp(BODY)), now)
            .unwrap_or_else(|e| panic!("{scheme}: {e}"));
        let Credential::ApiKey(api_key) = auth.credential else {
            panic!("{scheme}: not an API key")
        };
        assert_eq!(api_key.curve, key.curve(), "{scheme}");
        assert_eq!(
            auth.credential.credential_type(),
            key.curve().credential_type()
        );
        // signed by another key, claiming the registered one
        let other = key.sibling();
        let forged = other.stamp_as(scheme, &key.public_key(), BODY);
        assert!(
            matches!(
                authenticate(&state, &request(BODY, forged), now),
                Err(Error::SignatureInvalid)
            ),
            "{scheme}: wrong key"
        );
        // a key the organization does not know
        assert!(
            matches!(
                authenticate(&state, &request(BODY, other.stamp(BODY)), now),
                Err(Error::PublicKeyNotFound)
            ),
            "{scheme}: unknown key"
        );
        // the body changed after stamping
        let altered = BODY.replace("CREATE_WALLET", "CREATE_WALLEt");
        assert!(
            matches!(
                authenticate(&state, &request(&altered, key.stamp(BODY)), now),
                Err(Error::SignatureInvalid)
            ),
            "{scheme}: altered body"
        );
        // an expired key, and one that has not expired yet
        let expired = state_with(&[(&key, Some(now - 1))]);
        assert!(
            matches!(
                authenticate(&expired, &request(BODY, key.stamp(BODY)), now),
                Err(Error::ApiKeyExpired)
            ),
            "{scheme}: expired"
        );
        let valid = state_with(&[(&key, Some(now + 60_000))]);
        authenticate(&valid, &request(BODY, key.stamp(BODY)), now).unwrap();
    }
}

#[test]
fn a_stamp_under_a_scheme_of_another_curve_is_refused() {
    // A P-256 key whose compressed encoding is also a valid secp256k1 point: the stamp parses
    // under the secp256k1 scheme, finds the P-256 key by its bytes, and must still be refused.
    let key = loop {
        let k = ClientKey::P256(p256::ecdsa::SigningKey::from_slice(&rand32()).unwrap());
        if k256::ecdsa::VerifyingKey::from_sec1_bytes(&k.public_key()).is_ok() {
            break k;
        }
    };
    let state = state_with(&[(&key, None)]);
    let stamp = key.stamp_as("SIGNATURE_SCHEME_TK_API_SECP256K1", &key.public_key(), BODY);
    let err = authenticate(&state, &request(BODY, stamp), now_ms()).unwrap_err();
    assert!(
        matches!(err, Error::MalformedStamp(m) if m.contains("curve")),
        "{err}"
    );
    // an Ed25519 key stamped as P-256: its 32 bytes are no P-256 key
    let ed = ClientKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&rand32()));
    let state = state_with(&[(&ed, None)]);
    let stamp = ed.stamp_as("SIGNATURE_SCHEME_TK_API_P256", &ed.public_key(), BODY);
    assert!(matches!(
        authenticate(&state, &request(BODY, stamp), now_ms()),
        Err(Error::MalformedStamp(_))
    ));
    // a plain secp256k1 signature (SHA-256) presented as EIP-191, and the reverse
    let k = k256::ecdsa::SigningKey::from_slice(&rand32()).unwrap();
    let (plain, eip) = (ClientKey::Secp256k1(k.clone()), ClientKey::Eip191(k));
    let state = state_with(&[(&plain, None)]);
    for (signer, scheme) in [
        (&plain, "SIGNATURE_SCHEME_TK_API_SECP256K1_EIP191"),
        (&eip, "SIGNATURE_SCHEME_TK_API_SECP256K1"),
    ] {
        let stamp = signer.stamp_as(scheme, &signer.public_key(), BODY);
        assert!(matches!(
            authenticate(&state, &request(BODY, stamp), now_ms()),
            Err(Error::SignatureInvalid)
        ));
    }
}

#[test]
fn secp256k1_accepts_high_s_and_eip191_accepts_turnkeys_non_minimal_der() {
    let k = k256::ecdsa::SigningKey::from_slice(&rand32()).unwrap();
    let plain = ClientKey::Secp256k1(k.clone());
    let state = state_with(&[(&plain, None)]);
    // high S (what Node's crypto produces half of the time)
    let sig: k256::ecdsa::Signature = k.sign_prehash(&Sha256::digest(BODY)).unwrap();
    let high = k256::ecdsa::Signature::from_scalars(sig.r(), -*sig.s()).unwrap();
    assert_ne!(high, high.normalize_s());
    let stamp = header(
        plain.scheme(),
        &plain.public_key(),
        high.to_der().as_bytes(),
    );
    authenticate(&state, &request(BODY, stamp), now_ms()).unwrap();
    // EIP-191 signatures whose r starts with a zero byte: toDerSignature keeps it
    let eip = ClientKey::Eip191(k.clone());
    let mut found = false;
    for i in 0..4000 {
        let body = format!(r#"{{"organizationId":"x","n":{i}}}"#);
        let sig: k256::ecdsa::Signature = k.sign_prehash(&eip191_digest(body.as_bytes())).unwrap();
        let raw = sig.to_bytes();
        if raw[0] != 0 || raw[1] & 0x80 != 0 {
            continue;
        }
        let der = to_der_signature_like_turnkey(&raw);
        assert!(
            k256::ecdsa::Signature::from_der(&der).is_err(),
            "strict DER would refuse it"
        );
        authenticate(&state, &request(&body, eip.stamp(&body)), now_ms()).unwrap();
        found = true;
        break;
    }
    assert!(found, "no signature with a leading zero byte in 4000 tries");
}

// ---- through the enclave: API keys of every curve, passkeys, parents ------------------------

fn body(org: &OrgId, activity_type: &str, parameters: Value) -> String {
    json!({
        "type": activity_type,
        "timestampMs": crate::testing::fresh_timestamp_ms().to_string(),
        "organizationId": org.to_string(),
        "parameters": parameters,
    })
    .to_string()
}

fn query_body(org: &OrgId) -> String {
    json!({"organizationId": org.to_string()}).to_string()
}

fn activity(
    f: &Fixture,
    state: &SealedOrgState,
    parent: Option<&SealedOrgState>,
    request: SignedRequest,
) -> Result<keyhold_shared::msg::ActivityOutput, WireError> {
    match f.enclave.handle(Request::Activity(ActivityRequest {
        request,
        org: state.clone(),
        context: ActivityContext::None,
        parent: parent.cloned(),
    }))? {
        Response::Activity(out) => Ok(*out),
        other => panic!("unexpected answer {other:?}"),
    }
}

fn whoami(
    f: &Fixture,
    state: &SealedOrgState,
    parent: Option<&SealedOrgState>,
    request: SignedRequest,
) -> Result<Principal, WireError> {
    match f
        .enclave
        .handle(Request::Authenticate(AuthenticateRequest {
            request,
            org: state.clone(),
            parent: parent.cloned(),
        }))? {
        Response::Authenticate(p) => Ok(p),
        other => panic!("unexpected answer {other:?}"),
    }
}

fn read_org(
    f: &Fixture,
    state: &SealedOrgState,
    parent: Option<&SealedOrgState>,
    request: SignedRequest,
) -> Result<Value, WireError> {
    match f.enclave.handle(Request::ReadOrg(AuthenticateRequest {
        request,
        org: state.clone(),
        parent: parent.cloned(),
    }))? {
        Response::ReadOrg(r) => Ok(serde_json::from_str(&r.organization_json).unwrap()),
        other => panic!("unexpected answer {other:?}"),
    }
}

/// Runs an organization activity stamped by the fixture's root key; returns the new state and
/// the result.
fn change(f: &Fixture, state: &SealedOrgState, body: &str) -> (SealedOrgState, Value) {
    let out = activity(f, state, None, signed(&f.api_key, body)).unwrap();
    let keyhold_shared::msg::ActivityResult::Organization { result_json, .. } = out.result else {
        panic!("not an organization result")
    };
    (
        out.new_org_state.unwrap(),
        serde_json::from_str(&result_json).unwrap(),
    )
}

fn root_user_id(f: &Fixture, state: &SealedOrgState) -> String {
    whoami(f, state, None, signed(&f.api_key, &query_body(&f.org_id)))
        .unwrap()
        .user_id
        .to_string()
}

fn webauthn(body: &str, header: String) -> SignedRequest {
    SignedRequest {
        body: body.as_bytes().to_vec(),
        stamp: Stamp::Webauthn(header),
    }
}

fn api_stamped(body: &str, key: &ClientKey) -> SignedRequest {
    request(body, key.stamp(body))
}

#[test]
fn api_keys_of_every_curve_are_created_listed_and_used() {
    let f = fixture();
    let root = root_user_id(&f, &f.org);
    let keys = ClientKey::all();
    let params: Vec<Value> = keys
        .iter()
        .map(|k| {
            json!({"apiKeyName": k.scheme(), "publicKey": hex::encode(k.public_key()),
                         "curveType": k.curve_type()})
        })
        .collect();
    // the EIP-191 key is registered as an API_KEY_CURVE_SECP256K1 key, like the plain one
    let (state, result) = change(
        &f,
        &f.org,
        &body(
            &f.org_id,
            "ACTIVITY_TYPE_CREATE_API_KEYS_V2",
            json!({"userId": root, "apiKeys": params}),
        ),
    );
    assert_eq!(
        result["createApiKeysResult"]["apiKeyIds"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    // each key runs an activity (root: allowed) and a query
    let mut state = state;
    for key in &keys {
        let out = activity(
            &f,
            &state,
            None,
            api_stamped(&create_wallet_body(&f.org_id, key.scheme(), &[]), key),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", key.scheme()));
        state = out.new_org_state.unwrap();
        let p = whoami(&f, &state, None, api_stamped(&query_body(&f.org_id), key)).unwrap();
        assert_eq!(p.user_id.to_string(), root);
    }
    // the organization lists them with Turnkey's credential types
    let data = read_org(&f, &state, None, signed(&f.api_key, &query_body(&f.org_id))).unwrap();
    let types: Vec<&str> = data["users"][0]["apiKeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["credential"]["type"].as_str().unwrap())
        .collect();
    for t in [
        "CREDENTIAL_TYPE_API_KEY_P256",
        "CREDENTIAL_TYPE_API_KEY_SECP256K1",
        "CREDENTIAL_TYPE_API_KEY_ED25519",
    ] {
        assert!(types.contains(&t), "{types:?}");
    }
    // bad registrations: unknown curve, key not on the named curve
    let ed = ClientKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&rand32()));
    for (public_key, curve) in [
        (hex::encode(ed.public_key()), "API_KEY_CURVE_RSA"),
        (hex::encode(ed.public_key()), "API_KEY_CURVE_SECP256K1"),
        (hex::encode([2u8; 33]), "API_KEY_CURVE_ED25519"),
    ] {
        let b = body(
            &f.org_id,
            "ACTIVITY_TYPE_CREATE_API_KEYS_V2",
            json!({"userId": root, "apiKeys": [{"apiKeyName": "x", "publicKey": public_key, "curveType": curve}]}),
        );
        let err = activity(&f, &state, None, signed(&f.api_key, &b)).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidRequest, "{curve}: {err}");
    }
}

#[test]
fn passkeys_register_list_stamp_and_delete() {
    let f = fixture();
    let root = root_user_id(&f, &f.org);
    let (alice, packed) = (SoftAuthenticator::new(), SoftAuthenticator::new());
    let b = body(
        &f.org_id,
        "ACTIVITY_TYPE_CREATE_AUTHENTICATORS_V2",
        json!({"userId": root, "authenticators": [alice.register("none").params("phone"),
                                                  packed.register("packed").params("key")]}),
    );
    let (state, result) = change(&f, &f.org, &b);
    let ids = result["createAuthenticatorsResult"]["authenticatorIds"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(ids.len(), 2);

    // listed in Turnkey's shape, with the key from the attestation
    let data = read_org(&f, &state, None, signed(&f.api_key, &query_body(&f.org_id))).unwrap();
    let listed = &data["users"][0]["authenticators"][0];
    assert_eq!(listed["authenticatorId"], ids[0]);
    assert_eq!(listed["authenticatorName"], "phone");
    assert_eq!(
        listed["credentialId"],
        json!(URL_SAFE_NO_PAD.encode(&alice.credential_id))
    );
    assert_eq!(
        listed["credential"]["publicKey"],
        json!(hex::encode(
            alice.key.verifying_key().to_sec1_point(true).as_bytes()
        ))
    );
    assert_eq!(
        listed["credential"]["type"],
        "CREDENTIAL_TYPE_WEBAUTHN_AUTHENTICATOR"
    );
    assert_eq!(listed["attestationType"], "none");
    assert_eq!(
        data["users"][0]["authenticators"][1]["attestationType"],
        "packed"
    );

    // both passkeys stamp queries and activities
    for a in [&alice, &packed] {
        let q = query_body(&f.org_id);
        let p = whoami(&f, &state, None, webauthn(&q, a.stamp(&q))).unwrap();
        assert_eq!(p.user_id.to_string(), root);
    }
    let w = create_wallet_body(&f.org_id, "by passkey", &[]);
    let out = activity(&f, &state, None, webauthn(&w, alice.stamp(&w))).unwrap();
    let state = out.new_org_state.unwrap();

    // deleted: it no longer authenticates
    let b = body(
        &f.org_id,
        "ACTIVITY_TYPE_DELETE_AUTHENTICATORS",
        json!({"userId": root, "authenticatorIds": [ids[0]]}),
    );
    let (state, _) = change(&f, &state, &b);
    let q = query_body(&f.org_id);
    let err = whoami(&f, &state, None, webauthn(&q, alice.stamp(&q))).unwrap_err();
    assert_eq!(err.code, ErrorCode::CredentialNotFound, "{err}");
    whoami(&f, &state, None, webauthn(&q, packed.stamp(&q))).unwrap();
}

#[test]
fn bad_passkey_assertions_are_refused() {
    let f = fixture();
    let root = root_user_id(&f, &f.org);
    let a = SoftAuthenticator::new();
    let b = body(
        &f.org_id,
        "ACTIVITY_TYPE_CREATE_AUTHENTICATORS_V2",
        json!({"userId": root, "authenticators": [a.register("none").params("phone")]}),
    );
    let (state, _) = change(&f, &f.org, &b);
    let q = query_body(&f.org_id);
    let other_body = json!({"organizationId": f.org_id.to_string(), "x": 1}).to_string();
    let cases: Vec<(&str, Tamper, ErrorCode)> = vec![
        (
            "challenge of another body",
            Tamper {
                challenge_body: Some(other_body),
                ..Tamper::default()
            },
            ErrorCode::SignatureInvalid,
        ),
        (
            "registration type instead of assertion",
            Tamper {
                kind: Some("webauthn.create"),
                ..Tamper::default()
            },
            ErrorCode::SignatureInvalid,
        ),
        (
            "user presence missing",
            Tamper {
                flags: Some(0x04),
                ..Tamper::default()
            },
            ErrorCode::SignatureInvalid,
        ),
        (
            "another relying party",
            Tamper {
                rp_id: Some("evil.example"),
                ..Tamper::default()
            },
            ErrorCode::SignatureInvalid,
        ),
        (
            "unknown credential",
            Tamper {
                credential_id: Some(vec![7; 20]),
                ..Tamper::default()
            },
            ErrorCode::CredentialNotFound,
        ),
        (
            "signature over authenticatorData only",
            Tamper {
                sign_auth_data_only: true,
                ..Tamper::default()
            },
            ErrorCode::SignatureInvalid,
        ),
        (
            "signed by another key",
            Tamper {
                key: Some(SoftAuthenticator::new().key),
                ..Tamper::default()
            },
            ErrorCode::SignatureInvalid,
        ),
    ];
    for (what, tamper, code) in cases {
        let err = whoami(&f, &state, None, webauthn(&q, a.stamp_with(&q, &tamper))).unwrap_err();
        assert_eq!(err.code, code, "{what}: {err}");
    }
    // the body altered after stamping
    let stamp = a.stamp(&q);
    let altered = q.replace('}', r#","x":1}"#);
    let err = whoami(&f, &state, None, webauthn(&altered, stamp)).unwrap_err();
    assert_eq!(err.code, ErrorCode::SignatureInvalid);
    // malformed headers
    for bad in [
        "",
        "{}",
        "not json",
        r#"{"authenticatorData":"!","clientDataJson":"","credentialId":"","signature":""}"#,
    ] {
        let err = whoami(&f, &state, None, webauthn(&q, bad.into())).unwrap_err();
        assert_eq!(err.code, ErrorCode::SignatureInvalid, "{bad}");
    }
    // the good one still works
    whoami(&f, &state, None, webauthn(&q, a.stamp(&q))).unwrap();
}

#[test]
fn bad_passkey_registrations_are_refused() {
    let f = fixture();
    let root = root_user_id(&f, &f.org);
    let a = SoftAuthenticator::new();
    let register = |params: Value| {
        let b = body(
            &f.org_id,
            "ACTIVITY_TYPE_CREATE_AUTHENTICATORS_V2",
            json!({"userId": root, "authenticators": [params]}),
        );
        activity(&f, &f.org, None, signed(&f.api_key, &b))
    };
    let good = a.register("none");
    let mut cases: Vec<(&str, Value, ErrorCode)> = Vec::new();
    // another credential id than the authenticator data's
    let mut p = good.params("x");
    p["attestation"]["credentialId"] = json!(URL_SAFE_NO_PAD.encode([1u8; 20]));
    cases.push(("credential id", p, ErrorCode::InvalidRequest));
    // another challenge
    let mut p = good.params("x");
    p["challenge"] = json!(URL_SAFE_NO_PAD.encode([2u8; 32]));
    cases.push(("challenge", p, ErrorCode::InvalidRequest));
    // an assertion's client data
    let get = json!({"type": "webauthn.get", "challenge": good.challenge, "origin": "https://x"});
    let mut p = good.params("x");
    p["attestation"]["clientDataJson"] = json!(URL_SAFE_NO_PAD.encode(get.to_string()));
    cases.push(("client data type", p, ErrorCode::InvalidRequest));
    // garbage and truncated CBOR
    let mut p = good.params("x");
    p["attestation"]["attestationObject"] = json!(URL_SAFE_NO_PAD.encode([0xff, 0x00, 0x12]));
    cases.push(("garbage", p, ErrorCode::InvalidRequest));
    let object = URL_SAFE_NO_PAD
        .decode(good.attestation_object.as_bytes())
        .unwrap();
    let mut p = good.params("x");
    p["attestation"]["attestationObject"] =
        json!(URL_SAFE_NO_PAD.encode(&object[..object.len() - 10]));
    cases.push(("truncated", p, ErrorCode::InvalidRequest));
    // deeply nested CBOR (bounded recursion, no stack overflow)
    let mut nested = vec![0x81u8; 10_000];
    nested.push(0x00);
    let mut p = good.params("x");
    p["attestation"]["attestationObject"] = json!(URL_SAFE_NO_PAD.encode(&nested));
    cases.push(("nested", p, ErrorCode::InvalidRequest));
    // a packed statement whose signature is over other data
    let auth_data = a.registration_auth_data(&a.cose_key());
    let client = SoftAuthenticator::client_data_create(&good.challenge);
    let bad_sig = {
        use p256::ecdsa::signature::Signer;
        let sig: p256::ecdsa::Signature = a.key.sign(b"something else");
        sig.to_der().as_bytes().to_vec()
    };
    let statement = ciborium::Value::Map(vec![
        (
            ciborium::Value::Text("alg".into()),
            ciborium::Value::Integer((-7).into()),
        ),
        (
            ciborium::Value::Text("sig".into()),
            ciborium::Value::Bytes(bad_sig),
        ),
    ]);
    let reg = a.registration_with(
        "packed",
        statement,
        auth_data.clone(),
        client.clone(),
        good.challenge.clone(),
    );
    cases.push((
        "packed signature",
        reg.params("x"),
        ErrorCode::InvalidRequest,
    ));
    // formats and algorithms keyhold does not accept
    let reg = a.registration_with(
        "tpm",
        ciborium::Value::Map(vec![]),
        auth_data.clone(),
        client.clone(),
        good.challenge.clone(),
    );
    cases.push(("tpm", reg.params("x"), ErrorCode::Unsupported));
    let ed_key = ciborium::Value::Map(vec![
        (
            ciborium::Value::Integer(1.into()),
            ciborium::Value::Integer(1.into()),
        ),
        (
            ciborium::Value::Integer(3.into()),
            ciborium::Value::Integer((-8).into()),
        ),
        (
            ciborium::Value::Integer((-1).into()),
            ciborium::Value::Integer(6.into()),
        ),
        (
            ciborium::Value::Integer((-2).into()),
            ciborium::Value::Bytes(vec![1; 32]),
        ),
    ]);
    let reg = a.registration_with(
        "none",
        ciborium::Value::Map(vec![]),
        a.registration_auth_data(&ed_key),
        client.clone(),
        good.challenge.clone(),
    );
    cases.push(("EdDSA", reg.params("x"), ErrorCode::Unsupported));
    // a `none` statement that is not empty
    let reg = a.registration_with(
        "none",
        ciborium::Value::Map(vec![(
            ciborium::Value::Text("sig".into()),
            ciborium::Value::Bytes(vec![1]),
        )]),
        auth_data.clone(),
        client.clone(),
        good.challenge.clone(),
    );
    cases.push((
        "none with statement",
        reg.params("x"),
        ErrorCode::InvalidRequest,
    ));
    // bytes after the credential key without the extensions flag
    let mut trailing = auth_data.clone();
    trailing.extend(cbor(&ciborium::Value::Integer(1.into())));
    let reg = a.registration_with(
        "none",
        ciborium::Value::Map(vec![]),
        trailing,
        client.clone(),
        good.challenge.clone(),
    );
    cases.push(("trailing", reg.params("x"), ErrorCode::InvalidRequest));
    // an unknown transport
    let mut p = good.params("x");
    p["attestation"]["transports"] = json!(["AUTHENTICATOR_TRANSPORT_PIGEON"]);
    cases.push(("transport", p, ErrorCode::InvalidRequest));

    for (what, params, code) in cases {
        let err = register(params).unwrap_err();
        assert_eq!(err.code, code, "{what}: {err}");
    }
    // the good one registers, and the same credential id cannot be registered twice
    let b = body(
        &f.org_id,
        "ACTIVITY_TYPE_CREATE_AUTHENTICATORS_V2",
        json!({"userId": root, "authenticators": [good.params("a")]}),
    );
    let (state, _) = change(&f, &f.org, &b);
    let again = a.register("none");
    let b = body(
        &f.org_id,
        "ACTIVITY_TYPE_CREATE_AUTHENTICATORS_V2",
        json!({"userId": root, "authenticators": [again.params("b")]}),
    );
    let err = activity(&f, &state, None, signed(&f.api_key, &b)).unwrap_err();
    assert!(err.message.contains("already exists"), "{err}");
}

/// A sub-organization of the fixture's organization whose root user holds `api_key` and a
/// passkey; returns its sealed state and id.
fn sub_org(
    f: &Fixture,
    api_key: &p256::ecdsa::SigningKey,
    passkey: &SoftAuthenticator,
) -> (SealedOrgState, OrgId) {
    let b = body(
        &f.org_id,
        "ACTIVITY_TYPE_CREATE_SUB_ORGANIZATION_V7",
        json!({
            "subOrganizationName": "end user", "rootQuorumThreshold": 1,
            "rootUsers": [{"userName": "alice",
                "apiKeys": [{"apiKeyName": "k", "curveType": "API_KEY_CURVE_P256",
                    "publicKey": hex::encode(api_key.verifying_key().to_sec1_point(true).as_bytes())}],
                "authenticators": [passkey.register("none").params("phone")], "oauthProviders": []}],
        }),
    );
    let out = activity(f, &f.org, None, signed(&f.api_key, &b)).unwrap();
    let keyhold_shared::msg::ActivityResult::Organization {
        sub_organization: Some(sub),
        ..
    } = out.result
    else {
        panic!("no sub-organization")
    };
    (sub.sealed_state, sub.organization_id)
}

#[test]
fn a_passkey_root_user_of_a_sub_organization_signs_in_it() {
    let f = fixture();
    let (alice_key, alice_passkey) = (
        p256::ecdsa::SigningKey::from_slice(&rand32()).unwrap(),
        SoftAuthenticator::new(),
    );
    let (sub, sub_id) = sub_org(&f, &alice_key, &alice_passkey);
    let w = create_wallet_body(&sub_id, "alice's", &[]);
    let out = activity(&f, &sub, None, webauthn(&w, alice_passkey.stamp(&w))).unwrap();
    assert_eq!(out.principal.user_name, "alice");
    assert_eq!(out.principal.organization_id, sub_id);
}

#[test]
fn parent_users_read_sub_organizations_and_cannot_act_in_them() {
    let f = fixture();
    let alice_key = p256::ecdsa::SigningKey::from_slice(&rand32()).unwrap();
    let (sub, sub_id) = sub_org(&f, &alice_key, &SoftAuthenticator::new());
    let q = query_body(&sub_id);

    // without the parent's state the parent's key is unknown in the sub-organization
    let err = whoami(&f, &sub, None, signed(&f.api_key, &q)).unwrap_err();
    assert_eq!(err.code, ErrorCode::PublicKeyNotFound);
    // with it, the parent's root user reads the sub-organization
    let p = whoami(&f, &sub, Some(&f.org), signed(&f.api_key, &q)).unwrap();
    assert_eq!(p.organization_id, f.org_id, "the reader's own organization");
    assert_eq!(p.user_name, "root");
    let data = read_org(&f, &sub, Some(&f.org), signed(&f.api_key, &q)).unwrap();
    assert_eq!(data["organizationId"], json!(sub_id.to_string()));
    assert_eq!(data["parentOrganizationId"], json!(f.org_id.to_string()));
    // the sub-organization's own users still authenticate with the parent passed along
    let p = whoami(&f, &sub, Some(&f.org), signed(&alice_key, &q)).unwrap();
    assert_eq!(p.organization_id, sub_id);
    // a key of neither: Turnkey's "or its parent organization" message
    let stranger = p256::ecdsa::SigningKey::from_slice(&rand32()).unwrap();
    let err = whoami(&f, &sub, Some(&f.org), signed(&stranger, &q)).unwrap_err();
    assert_eq!(err.code, ErrorCode::PublicKeyNotFound);
    assert!(err.message.contains("parent organization"), "{err}");

    // no activity by a parent user, even by its root, even with the parent passed along
    let w = create_wallet_body(&sub_id, "parent's try", &[]);
    for parent in [None, Some(&f.org)] {
        let err = activity(&f, &sub, parent, signed(&f.api_key, &w)).unwrap_err();
        assert_ne!(err.code, ErrorCode::InvalidRequest, "{err}");
        if parent.is_some() {
            assert_eq!(err.code, ErrorCode::PermissionDenied, "{err}");
            assert!(err.message.contains("organization mismatch"), "{err}");
        } else {
            assert_eq!(err.code, ErrorCode::PublicKeyNotFound, "{err}");
        }
    }
    // while the sub-organization's root acts normally with the parent passed along
    activity(&f, &sub, Some(&f.org), signed(&alice_key, &w)).unwrap();
}

#[test]
fn host_passes_a_parent_that_is_not_the_parent() {
    let f = fixture();
    let alice_key = p256::ecdsa::SigningKey::from_slice(&rand32()).unwrap();
    let (sub, sub_id) = sub_org(&f, &alice_key, &SoftAuthenticator::new());
    // another organization (its own root key stamps) claimed as the sub-organization's parent
    let mallory = p256::ecdsa::SigningKey::from_slice(&rand32()).unwrap();
    let (other, _) = second_org(&f, &mallory);
    let q = query_body(&sub_id);
    for (what, org, parent, key) in [
        ("another organization as parent", &sub, &other, &mallory),
        (
            "the sub-organization as its own parent",
            &sub,
            &sub,
            &alice_key,
        ),
        (
            "a parent for an organization that has none",
            &f.org,
            &other,
            &mallory,
        ),
    ] {
        let err = whoami(&f, org, Some(parent), signed(key, &q)).unwrap_err();
        assert_eq!(err.code, ErrorCode::PermissionDenied, "{what}: {err}");
        assert!(err.message.contains("not the parent"), "{what}: {err}");
        let err = read_org(&f, org, Some(parent), signed(key, &q)).unwrap_err();
        assert_eq!(err.code, ErrorCode::PermissionDenied, "{what}: {err}");
        let w = create_wallet_body(&sub_id, "x", &[]);
        let err = activity(&f, org, Some(parent), signed(key, &w)).unwrap_err();
        assert_eq!(err.code, ErrorCode::PermissionDenied, "{what}: {err}");
    }
    // a forged parent blob does not open
    let mut forged = f.org.clone();
    forged.ciphertext[5] ^= 1;
    let err = whoami(&f, &sub, Some(&forged), signed(&f.api_key, &q)).unwrap_err();
    assert_eq!(err.code, ErrorCode::SealedDataInvalid);
}

#[test]
fn host_replays_an_old_parent_state_to_revive_a_deleted_key() {
    let f = fixture();
    let alice_key = p256::ecdsa::SigningKey::from_slice(&rand32()).unwrap();
    let (sub, sub_id) = sub_org(&f, &alice_key, &SoftAuthenticator::new());
    // the parent's root adds a second key for itself, then deletes it
    let root = root_user_id(&f, &f.org);
    let extra = p256::ecdsa::SigningKey::from_slice(&rand32()).unwrap();
    let b = body(
        &f.org_id,
        "ACTIVITY_TYPE_CREATE_API_KEYS_V2",
        json!({"userId": root, "apiKeys": [{"apiKeyName": "extra", "curveType": "API_KEY_CURVE_P256",
            "publicKey": hex::encode(extra.verifying_key().to_sec1_point(true).as_bytes())}]}),
    );
    let (with_extra, result) = change(&f, &f.org, &b);
    let key_id = result["createApiKeysResult"]["apiKeyIds"][0].clone();
    let q = query_body(&sub_id);
    whoami(&f, &sub, Some(&with_extra), signed(&extra, &q)).unwrap();
    let b = body(
        &f.org_id,
        "ACTIVITY_TYPE_DELETE_API_KEYS",
        json!({"userId": root, "apiKeyIds": [key_id]}),
    );
    let (without, _) = change(&f, &with_extra, &b);
    let err = whoami(&f, &sub, Some(&without), signed(&extra, &q)).unwrap_err();
    assert_eq!(err.code, ErrorCode::PublicKeyNotFound);
    // the host presents the parent's state from before the deletion
    let err = whoami(&f, &sub, Some(&with_extra), signed(&extra, &q)).unwrap_err();
    assert_eq!(err.code, ErrorCode::StaleState, "{err}");
}

fn second_org(f: &Fixture, root_key: &p256::ecdsa::SigningKey) -> (SealedOrgState, OrgId) {
    use keyhold_shared::msg::{BootstrapOrgRequest, DOMAIN_BOOTSTRAP_ORG, OrgBootstrapSpec};
    let operator = p256::ecdsa::SigningKey::from_slice(&[9u8; 32]).unwrap();
    let spec = OrgBootstrapSpec {
        organization_name: "globex".into(),
        root_user_name: "root".into(),
        api_key_name: "key".into(),
        api_public_key: root_key
            .verifying_key()
            .to_sec1_point(true)
            .as_bytes()
            .to_vec(),
        nonce: [3; 16],
    };
    let approvals = vec![super::support::approve(
        &operator,
        DOMAIN_BOOTSTRAP_ORG,
        &spec,
    )];
    let Ok(Response::BootstrapOrg(out)) =
        f.enclave.handle(Request::BootstrapOrg(BootstrapOrgRequest {
            spec,
            approvals,
        }))
    else {
        panic!("bootstrap")
    };
    (out.sealed_state, out.organization_id)
}
