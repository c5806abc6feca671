//! `ACTIVITY_TYPE_SIGN_TRANSACTION_V2`: parse the unsigned transaction strictly (each parser
//! also yields the typed fields the policy engine will evaluate), sign it with the `signWith`
//! key, and return it in the chain's wire form as hex without `0x`.

use keyhold_shared::msg::{ActivityContext, ActivityResult};
use serde::Deserialize;

use super::Allowed;
use super::envelope::Envelope;
use super::signer::resolve;
use crate::chains::{bitcoin, ethereum, solana};
use crate::enclave::Keys;
use crate::error::clip;
use crate::error::{Error, Result};
use crate::org::OrgState;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignTransactionIntentV2 {
    sign_with: String,
    unsigned_transaction: String,
    #[serde(rename = "type")]
    transaction_type: String,
}

pub fn run(
    keys: &Keys,
    org: &OrgState,
    envelope: &Envelope,
    context: &ActivityContext,
    _allowed: Allowed,
) -> Result<ActivityResult> {
    let intent: SignTransactionIntentV2 = envelope.parameters()?;
    let kind = intent.transaction_type.as_str();
    if !matches!(
        kind,
        "TRANSACTION_TYPE_ETHEREUM" | "TRANSACTION_TYPE_SOLANA" | "TRANSACTION_TYPE_BITCOIN"
    ) {
        return Err(match kind {
            "TRANSACTION_TYPE_TRON" | "TRANSACTION_TYPE_TEMPO" => {
                Error::Unsupported(format!("transaction type `{kind}`"))
            }
            other => Error::invalid(format!("unknown transaction type `{}`", clip(other))),
        });
    }
    let text = intent.unsigned_transaction.trim();
    let text = text.strip_prefix("0x").unwrap_or(text);
    let raw = hex::decode(text)
        .map_err(|_| Error::invalid("unsignedTransaction is not valid hexadecimal"))?;
    let signer = resolve(keys, org, &intent.sign_with, context)?;
    let signed = match kind {
        "TRANSACTION_TYPE_ETHEREUM" => {
            let key = signer
                .key
                .secp256k1()
                .ok_or_else(|| Error::invalid("an Ethereum transaction needs a secp256k1 key"))?;
            let tx = ethereum::tx::UnsignedTransaction::parse(&raw)?;
            tx.sign(key)?
        }
        "TRANSACTION_TYPE_SOLANA" => {
            let key = signer
                .key
                .ed25519()
                .ok_or_else(|| Error::invalid("a Solana transaction needs an Ed25519 key"))?;
            let tx = solana::Transaction::parse(&raw)?;
            tx.sign(key)?
        }
        _ => {
            let key = signer
                .key
                .secp256k1()
                .ok_or_else(|| Error::invalid("a Bitcoin transaction needs a secp256k1 key"))?;
            let mut psbt = bitcoin::psbt::Psbt::parse(&raw)?;
            psbt.sign(key)?;
            psbt.serialize()
        }
    };
    Ok(ActivityResult::SignTransaction(signed))
}
