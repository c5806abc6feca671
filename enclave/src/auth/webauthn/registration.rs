//! A passkey's registration (Turnkey's `v1Attestation`: `credentialId`, `clientDataJson`,
//! `attestationObject`, base64url): the public key is read from the attestation object's
//! authenticator data (WebAuthn §6.5), never taken from a separate field.
//!
//! attestationObject = CBOR `{"fmt": text, "attStmt": map, "authData": bytes}`; authData =
//! rpIdHash (32) ‖ flags (1) ‖ signCount (4) ‖ aaguid (16) ‖ credentialIdLength (2, BE) ‖
//! credentialId ‖ COSE_Key ‖ [extensions]. Accepted: COSE EC2 keys on P-256 with ES256, and the
//! `none` and `packed` statement formats (packed signatures are verified, with the credential key
//! for self attestation, with the first certificate's key otherwise; no certificate is trusted
//! for anything, since keyhold keeps no list of authenticator vendors). What makes the key the
//! user's is the activity that registers it, stamped and authorized like any other.

use ciborium::Value;
use der::Decode as _;
use p256::ecdsa::signature::Verifier;
use sha2::{Digest, Sha256};

use super::{ClientData, FLAG_USER_PRESENT, b64, origins};
use crate::auth::schemes::ecdsa_scalars;
use crate::error::{Error, Result, clip};
use crate::org::Feature;

/// Limits on what a registration may carry (real ones: about 300 bytes of attestation object
/// for `none`, a few KiB with certificates).
const MAX_ATTESTATION_OBJECT: usize = 32 * 1024;
const MAX_CLIENT_DATA: usize = 4 * 1024;
/// WebAuthn's limit on credential ids.
const MAX_CREDENTIAL_ID: usize = 1023;
const MAX_CERTIFICATES: usize = 5;
const MAX_CBOR_DEPTH: usize = 8;
const FLAG_ATTESTED_CREDENTIAL: u8 = 0x40;
const FLAG_EXTENSIONS: u8 = 0x80;
/// COSE: kty EC2, alg ES256, crv P-256.
const COSE_KTY_EC2: i128 = 2;
const COSE_ALG_ES256: i128 = -7;
const COSE_CRV_P256: i128 = 1;

/// A verified registration.
#[derive(Debug)]
pub struct Registered {
    pub credential_id: Vec<u8>,
    /// SEC1 compressed P-256 key.
    pub public_key: Vec<u8>,
    pub rp_id_hash: [u8; 32],
    pub aaguid: [u8; 16],
    pub format: String,
}

fn invalid(msg: &str) -> Error {
    Error::invalid(format!("invalid passkey attestation: {msg}"))
}

/// Verifies a registration whose `clientDataJSON` must carry `challenge` (the activity's
/// `challenge` parameter: the base64url the client passed to `navigator.credentials.create`)
/// and an origin the organization's `features` allow (`FEATURE_NAME_WEBAUTHN_ORIGINS`: a
/// passkey made on a site the organization does not allow is refused when registered, not
/// only each time it is used).
pub fn verify(
    credential_id: &str,
    client_data_json: &str,
    attestation_object: &str,
    challenge: &str,
    features: &[Feature],
) -> Result<Registered> {
    let credential_id = b64(credential_id)
        .filter(|id| !id.is_empty() && id.len() <= MAX_CREDENTIAL_ID)
        .ok_or_else(|| invalid("credentialId must be 1 to 1023 bytes of base64url"))?;
    let client_data = b64(client_data_json)
        .filter(|c| c.len() <= MAX_CLIENT_DATA)
        .ok_or_else(|| invalid("clientDataJson must be base64url of at most 4 KiB"))?;
    let object = b64(attestation_object)
        .filter(|o| o.len() <= MAX_ATTESTATION_OBJECT)
        .ok_or_else(|| invalid("attestationObject must be base64url of at most 32 KiB"))?;

    let client: ClientData = serde_json::from_slice(&client_data)
        .map_err(|_| invalid("clientDataJson is not a JSON object"))?;
    if client.kind != "webauthn.create" {
        return Err(invalid("clientDataJson.type must be webauthn.create"));
    }
    let signed_challenge = b64(&client.challenge);
    let matches = signed_challenge.as_deref() == b64(challenge).as_deref()
        || signed_challenge.as_deref() == Some(challenge.as_bytes());
    if !matches || challenge.is_empty() {
        return Err(invalid(
            "the challenge in clientDataJson is not the activity's challenge",
        ));
    }

    origins::check(features, client.origin.as_deref()).map_err(|e| match e {
        Error::WebauthnInvalid(why) => invalid(why),
        other => other,
    })?;

    let Parts {
        format,
        statement,
        auth_data,
    } = attestation_parts(&object)?;
    let parsed = AuthData::parse(&auth_data)?;
    if parsed.credential_id != credential_id {
        return Err(invalid(
            "credentialId differs from the one in the authenticator data",
        ));
    }
    let key = cose_p256_key(parsed.cose_key)?;
    let mut signed = auth_data.clone();
    signed.extend_from_slice(&Sha256::digest(&client_data));
    match format.as_str() {
        "none" => {
            if !statement.is_empty() {
                return Err(invalid("a `none` attestation has an empty statement"));
            }
        }
        "packed" => verify_packed(statement, &key, &signed)?,
        other => {
            return Err(Error::Unsupported(format!(
                "the `{}` passkey attestation format (keyhold accepts `none` and `packed`)",
                clip(other)
            )));
        }
    }
    Ok(Registered {
        credential_id,
        public_key: key.to_sec1_point(true).as_bytes().to_vec(),
        rp_id_hash: parsed.rp_id_hash,
        aaguid: parsed.aaguid,
        format,
    })
}

/// The three parts of an attestation object.
struct Parts {
    format: String,
    statement: Vec<(Value, Value)>,
    auth_data: Vec<u8>,
}

/// `fmt`, `attStmt` and `authData` of an attestation object.
fn attestation_parts(object: &[u8]) -> Result<Parts> {
    let (value, used) = read_cbor(object)?;
    if used != object.len() {
        return Err(invalid("trailing bytes after the attestation object"));
    }
    let Value::Map(entries) = value else {
        return Err(invalid("the attestation object is not a CBOR map"));
    };
    let (mut format, mut statement, mut auth_data) = (None, None, None);
    for (k, v) in entries {
        match (k.as_text(), v) {
            (Some("fmt"), Value::Text(t)) if format.is_none() => format = Some(t),
            (Some("attStmt"), Value::Map(m)) if statement.is_none() => statement = Some(m),
            (Some("authData"), Value::Bytes(b)) if auth_data.is_none() => auth_data = Some(b),
            (Some("fmt" | "attStmt" | "authData"), _) => {
                return Err(invalid("fmt, attStmt or authData is repeated or mistyped"));
            }
            _ => {}
        }
    }
    match (format, statement, auth_data) {
        (Some(format), Some(statement), Some(auth_data)) => Ok(Parts {
            format,
            statement,
            auth_data,
        }),
        _ => Err(invalid(
            "the attestation object lacks fmt, attStmt or authData",
        )),
    }
}

struct AuthData<'a> {
    rp_id_hash: [u8; 32],
    aaguid: [u8; 16],
    credential_id: &'a [u8],
    cose_key: Value,
}

impl<'a> AuthData<'a> {
    fn parse(data: &'a [u8]) -> Result<Self> {
        let short = || invalid("authenticator data is too short");
        let (rp_id_hash, rest) = data.split_first_chunk::<32>().ok_or_else(short)?;
        let (&flags, rest) = rest.split_first().ok_or_else(short)?;
        let (_sign_count, rest) = rest.split_first_chunk::<4>().ok_or_else(short)?;
        if flags & FLAG_USER_PRESENT == 0 {
            return Err(invalid("the user-presence flag is not set"));
        }
        if flags & FLAG_ATTESTED_CREDENTIAL == 0 {
            return Err(invalid("the authenticator data carries no credential"));
        }
        let (aaguid, rest) = rest.split_first_chunk::<16>().ok_or_else(short)?;
        let (length, rest) = rest.split_first_chunk::<2>().ok_or_else(short)?;
        let (credential_id, rest) = rest
            .split_at_checked(usize::from(u16::from_be_bytes(*length)))
            .ok_or_else(short)?;
        let (cose_key, used) = read_cbor(rest)?;
        // Extensions (a CBOR map) may follow only when their flag says so.
        let trailing = rest.len().saturating_sub(used);
        if flags & FLAG_EXTENSIONS == 0 && trailing != 0 {
            return Err(invalid("trailing bytes after the credential public key"));
        }
        Ok(AuthData {
            rp_id_hash: *rp_id_hash,
            aaguid: *aaguid,
            credential_id,
            cose_key,
        })
    }
}

/// Reads the first CBOR item of `bytes`; returns it and how many bytes it took. ciborium reads
/// strings in chunks rather than reserving their declared length, so a lying length cannot make
/// it allocate more than the input.
fn read_cbor(bytes: &[u8]) -> Result<(Value, usize)> {
    let mut rest = bytes;
    let value: Value = ciborium::de::from_reader_with_recursion_limit(&mut rest, MAX_CBOR_DEPTH)
        .map_err(|_| invalid("malformed CBOR"))?;
    Ok((value, bytes.len().saturating_sub(rest.len())))
}

fn int(value: &Value) -> Option<i128> {
    value.as_integer().map(i128::from)
}

/// The P-256 key of a COSE_Key (RFC 9053 §7.1.1: kty 2, alg −7, crv 1, x −2, y −3).
fn cose_p256_key(key: Value) -> Result<p256::ecdsa::VerifyingKey> {
    let Value::Map(entries) = key else {
        return Err(invalid("the credential public key is not a COSE map"));
    };
    let get = |label: i128| {
        entries
            .iter()
            .find(|(k, _)| int(k) == Some(label))
            .map(|(_, v)| v)
    };
    match get(3).and_then(int) {
        Some(COSE_ALG_ES256) => {}
        Some(alg) => {
            return Err(Error::Unsupported(format!(
                "passkeys with COSE algorithm {alg} (keyhold accepts ES256, -7)"
            )));
        }
        None => return Err(invalid("the credential public key has no algorithm")),
    }
    if get(1).and_then(int) != Some(COSE_KTY_EC2) || get(-1).and_then(int) != Some(COSE_CRV_P256) {
        return Err(invalid("an ES256 key must be an EC2 key on P-256"));
    }
    let coordinate = |label| match get(label) {
        Some(Value::Bytes(b)) if b.len() == 32 => Ok(b.as_slice()),
        _ => Err(invalid("an EC2 coordinate must be 32 bytes")),
    };
    let mut point = Vec::with_capacity(65);
    point.push(0x04);
    point.extend_from_slice(coordinate(-2)?);
    point.extend_from_slice(coordinate(-3)?);
    p256::ecdsa::VerifyingKey::from_sec1_bytes(&point)
        .map_err(|_| invalid("the credential public key is not a P-256 point"))
}

/// A `packed` statement (WebAuthn §8.2): `{alg, sig, x5c?}`, `sig` over authData ‖
/// sha256(clientDataJSON).
fn verify_packed(
    statement: Vec<(Value, Value)>,
    credential_key: &p256::ecdsa::VerifyingKey,
    signed: &[u8],
) -> Result<()> {
    let (mut alg, mut sig, mut x5c) = (None, None, None);
    for (k, v) in statement {
        match (k.as_text(), v) {
            (Some("alg"), v) => alg = int(&v),
            (Some("sig"), Value::Bytes(b)) => sig = Some(b),
            (Some("x5c"), Value::Array(certs)) => x5c = Some(certs),
            _ => return Err(invalid("unexpected field in a packed statement")),
        }
    }
    if alg != Some(COSE_ALG_ES256) {
        return Err(Error::Unsupported(
            "packed attestations signed other than with ES256".into(),
        ));
    }
    let sig = sig.ok_or_else(|| invalid("a packed statement needs sig"))?;
    let key = match x5c {
        None => *credential_key,
        Some(certs) => {
            if certs.is_empty() || certs.len() > MAX_CERTIFICATES {
                return Err(invalid("x5c must hold 1 to 5 certificates"));
            }
            let Some(Value::Bytes(leaf)) = certs.first() else {
                return Err(invalid("x5c must hold DER certificates"));
            };
            certificate_p256_key(leaf)?
        }
    };
    let (r, s) = ecdsa_scalars(&sig).ok_or_else(|| invalid("sig is not DER ECDSA"))?;
    let sig =
        p256::ecdsa::Signature::from_scalars(r, s).map_err(|_| invalid("sig is out of range"))?;
    key.verify(signed, &sig)
        .map_err(|_| invalid("the packed attestation signature does not verify"))
}

fn certificate_p256_key(der: &[u8]) -> Result<p256::ecdsa::VerifyingKey> {
    let cert = x509_cert::Certificate::from_der(der)
        .map_err(|_| invalid("an x5c certificate is not DER X.509"))?;
    let point = cert
        .tbs_certificate()
        .subject_public_key_info()
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| invalid("the attestation certificate's key is malformed"))?;
    p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
        .map_err(|_| invalid("the attestation certificate's key is not a P-256 key"))
}
