//! `ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2` and `ACTIVITY_TYPE_SIGN_RAW_PAYLOADS`.
//!
//! The payload is decoded (`encoding`), hashed (`hashFunction`) and signed with the scheme the
//! key's address format implies: ECDSA over a 32-byte digest (secp256k1, P-256), BIP-340 Schnorr
//! under the tweaked key for Bitcoin P2TR accounts, Ed25519 over the message itself.

use keyhold_shared::msg::{ActivityContext, ActivityResult, RecoverableSignature};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::Allowed;
use super::envelope::Envelope;
use super::signer::{Signer, resolve};
use crate::chains::{eip712, ethereum};
use crate::enclave::Keys;
use crate::error::clip;
use crate::error::{Error, Result};
use crate::keys::account::{Scheme, sign};
use crate::org::OrgState;

pub const MAX_PAYLOADS: usize = 100;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignRawPayloadIntentV2 {
    sign_with: String,
    payload: String,
    encoding: String,
    hash_function: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignRawPayloadsIntent {
    sign_with: String,
    payloads: Vec<String>,
    encoding: String,
    hash_function: String,
}

pub fn run(
    keys: &Keys,
    org: &OrgState,
    envelope: &Envelope,
    context: &ActivityContext,
    _allowed: Allowed,
) -> Result<ActivityResult> {
    let intent: SignRawPayloadIntentV2 = envelope.parameters()?;
    let encoding = Encoding::parse(&intent.encoding)?;
    let hash = HashFunction::parse(&intent.hash_function)?;
    let signer = resolve(keys, org, &intent.sign_with, context)?;
    Ok(ActivityResult::SignRawPayload(sign_one(
        &signer,
        &intent.payload,
        encoding,
        hash,
    )?))
}

pub fn run_many(
    keys: &Keys,
    org: &OrgState,
    envelope: &Envelope,
    context: &ActivityContext,
    _allowed: Allowed,
) -> Result<ActivityResult> {
    let intent: SignRawPayloadsIntent = envelope.parameters()?;
    if intent.payloads.is_empty() || intent.payloads.len() > MAX_PAYLOADS {
        return Err(Error::invalid(format!(
            "payloads must hold 1 to {MAX_PAYLOADS} payloads"
        )));
    }
    let encoding = Encoding::parse(&intent.encoding)?;
    let hash = HashFunction::parse(&intent.hash_function)?;
    let signer = resolve(keys, org, &intent.sign_with, context)?;
    let signatures = intent
        .payloads
        .iter()
        .map(|p| sign_one(&signer, p, encoding, hash))
        .collect::<Result<Vec<_>>>()?;
    Ok(ActivityResult::SignRawPayloads(signatures))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Hexadecimal,
    TextUtf8,
    Eip712,
}

impl Encoding {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "PAYLOAD_ENCODING_HEXADECIMAL" => Ok(Encoding::Hexadecimal),
            "PAYLOAD_ENCODING_TEXT_UTF8" => Ok(Encoding::TextUtf8),
            "PAYLOAD_ENCODING_EIP712" => Ok(Encoding::Eip712),
            "PAYLOAD_ENCODING_EIP7702_AUTHORIZATION" => Err(Error::Unsupported(
                "payload encoding `PAYLOAD_ENCODING_EIP7702_AUTHORIZATION`".into(),
            )),
            other => Err(Error::invalid(format!(
                "unknown payload encoding `{}`",
                clip(other)
            ))),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashFunction {
    NoOp,
    Sha256,
    Keccak256,
    NotApplicable,
}

impl HashFunction {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "HASH_FUNCTION_NO_OP" => Ok(HashFunction::NoOp),
            "HASH_FUNCTION_SHA256" => Ok(HashFunction::Sha256),
            "HASH_FUNCTION_KECCAK256" => Ok(HashFunction::Keccak256),
            "HASH_FUNCTION_NOT_APPLICABLE" => Ok(HashFunction::NotApplicable),
            other => Err(Error::invalid(format!(
                "unknown hash function `{}`",
                clip(other)
            ))),
        }
    }
}

/// Decodes `payload` as `encoding`, hashes it as asked and signs it.
pub fn sign_one(
    signer: &Signer,
    payload: &str,
    encoding: Encoding,
    hash: HashFunction,
) -> Result<RecoverableSignature> {
    let scheme = signer.scheme();
    let message = message(scheme, payload, encoding, hash)?;
    sign(&signer.key, scheme, &message)
}

/// What the scheme signs: the 32-byte digest, or for Ed25519 the message itself.
pub fn message(
    scheme: Scheme,
    payload: &str,
    encoding: Encoding,
    hash: HashFunction,
) -> Result<Zeroizing<Vec<u8>>> {
    if encoding == Encoding::Eip712 {
        if !scheme.signs_digest() {
            return Err(Error::invalid(
                "PAYLOAD_ENCODING_EIP712 needs an ECDSA key (secp256k1)",
            ));
        }
        if hash != HashFunction::NoOp {
            return Err(Error::invalid(
                "PAYLOAD_ENCODING_EIP712 is hashed by EIP-712 itself; use HASH_FUNCTION_NO_OP",
            ));
        }
        return Ok(Zeroizing::new(eip712::hash_json(payload)?.to_vec()));
    }
    let bytes = Zeroizing::new(match encoding {
        Encoding::Hexadecimal => {
            let text = payload.trim();
            let text = text
                .strip_prefix("0x")
                .or_else(|| text.strip_prefix("0X"))
                .unwrap_or(text);
            hex::decode(text).map_err(|_| Error::invalid("payload is not valid hexadecimal"))?
        }
        _ => payload.as_bytes().to_vec(),
    });
    if !scheme.signs_digest() {
        return match hash {
            HashFunction::NotApplicable => Ok(bytes),
            _ => Err(Error::invalid(
                "Ed25519 signs the message itself: use HASH_FUNCTION_NOT_APPLICABLE",
            )),
        };
    }
    let digest: [u8; 32] = match hash {
        HashFunction::NoOp => bytes.as_slice().try_into().map_err(|_| {
            Error::invalid(format!(
                "with HASH_FUNCTION_NO_OP the payload must be a 32-byte digest, got {} bytes",
                bytes.len()
            ))
        })?,
        HashFunction::Keccak256 => ethereum::keccak256(&bytes),
        HashFunction::Sha256 => Sha256::digest(bytes.as_slice()).into(),
        HashFunction::NotApplicable => {
            return Err(Error::invalid(
                "HASH_FUNCTION_NOT_APPLICABLE is only for Ed25519 keys; this key signs a digest \
                 (choose NO_OP, SHA256 or KECCAK256)",
            ));
        }
    };
    Ok(Zeroizing::new(digest.to_vec()))
}
