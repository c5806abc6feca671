//! `ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2` for secp256k1 wallet accounts.
//!
//! The host tells us which wallet and path `signWith` lives at and hands over the sealed seed.
//! None of that is trusted: the seed only opens if it was sealed for this organization and that
//! wallet, and the key derived at the host's path must produce exactly the address the client
//! signed, or nothing is signed.

use keyhold_shared::msg::{ActivityContext, ActivityResult};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::Allowed;
use super::envelope::Envelope;
use crate::chains::ethereum;
use crate::enclave::Keys;
use crate::error::{Error, Result};
use crate::keys::{Bip32Path, SeedMaterial};
use crate::org::OrgState;
use crate::seal::seed_aad;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignRawPayloadIntentV2 {
    sign_with: String,
    payload: String,
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
    let digest = digest(&intent)?;
    let ActivityContext::WalletAccount {
        wallet_id,
        path,
        sealed_seed,
    } = context
    else {
        return Err(Error::NotFound(format!(
            "no wallet account or private key `{}`",
            clip(&intent.sign_with)
        )));
    };
    let plaintext = keys.seed_seal.open(
        &sealed_seed.nonce,
        &sealed_seed.ciphertext,
        &seed_aad(&org.org_id, wallet_id),
    )?;
    let seed = SeedMaterial::decode(&plaintext)?;
    let key = seed.derive_secp256k1(&Bip32Path::parse(path)?)?;
    let address = ethereum::address(key.verifying_key());
    if !address.eq_ignore_ascii_case(intent.sign_with.trim()) {
        // The host resolved signWith to a key that is not the one the client named.
        return Err(Error::NotFound(format!(
            "no wallet account `{}` in this organization",
            clip(&intent.sign_with)
        )));
    }
    Ok(ActivityResult::SignRawPayload(ethereum::sign_digest(
        &key, &digest,
    )?))
}

/// Decodes the payload and hashes it as asked; the result is the 32-byte digest to sign.
fn digest(intent: &SignRawPayloadIntentV2) -> Result<[u8; 32]> {
    let bytes: Zeroizing<Vec<u8>> = Zeroizing::new(match intent.encoding.as_str() {
        "PAYLOAD_ENCODING_HEXADECIMAL" => {
            let hex_text = intent.payload.strip_prefix("0x").unwrap_or(&intent.payload);
            hex::decode(hex_text).map_err(|_| Error::invalid("payload is not valid hexadecimal"))?
        }
        "PAYLOAD_ENCODING_TEXT_UTF8" => intent.payload.as_bytes().to_vec(),
        "PAYLOAD_ENCODING_EIP712" | "PAYLOAD_ENCODING_EIP7702_AUTHORIZATION" => {
            return Err(Error::Unsupported(format!(
                "payload encoding `{}` (so far)",
                intent.encoding
            )));
        }
        other => {
            return Err(Error::invalid(format!(
                "unknown payload encoding `{}`",
                clip(other)
            )));
        }
    });
    match intent.hash_function.as_str() {
        "HASH_FUNCTION_NO_OP" => bytes.as_slice().try_into().map_err(|_| {
            Error::invalid("with HASH_FUNCTION_NO_OP the payload must be a 32-byte digest")
        }),
        "HASH_FUNCTION_KECCAK256" => Ok(ethereum::keccak256(&bytes)),
        "HASH_FUNCTION_SHA256" => Ok(Sha256::digest(bytes.as_slice()).into()),
        "HASH_FUNCTION_NOT_APPLICABLE" => Err(Error::invalid(
            "HASH_FUNCTION_NOT_APPLICABLE is only for Ed25519 keys; secp256k1 needs a hash function",
        )),
        other => Err(Error::invalid(format!(
            "unknown hash function `{}`",
            clip(other)
        ))),
    }
}

fn clip(s: &str) -> String {
    s.chars().take(80).collect()
}
