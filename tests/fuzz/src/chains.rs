//! The chains' transaction formats, as the enclave reads them from a signed `unsignedTransaction`
//! or a typed-data payload. Each target also checks what a correct parser guarantees (a parsed
//! transaction is signed over exactly the bytes that were parsed, a serialised PSBT parses
//! again), since a parser that reads one thing and signs another is worse than one that panics.

use keyhold_enclave::chains::bitcoin::psbt::Psbt;
use keyhold_enclave::chains::eip712::{self, TypedData};
use keyhold_enclave::chains::ethereum::abi::Abi;
use keyhold_enclave::chains::ethereum::keccak256;
use keyhold_enclave::chains::ethereum::tx::{TxType, UnsignedTransaction};
use keyhold_enclave::chains::solana::idl::Idl;
use keyhold_enclave::chains::solana::{SolanaMessage, Transaction};

/// The secp256k1 key the Ethereum and Bitcoin targets sign with (the seeds pay to it).
pub const SECP256K1_KEY: [u8; 32] = [0x33; 32];
/// The Ed25519 key the Solana target signs with (the seeds' fee payer).
pub const ED25519_KEY: [u8; 32] = [3; 32];

fn secp256k1_key() -> k256::ecdsa::SigningKey {
    k256::ecdsa::SigningKey::from_slice(&SECP256K1_KEY).expect("a valid secp256k1 scalar")
}

pub fn eth_tx(data: &[u8]) {
    let Ok(tx) = UnsignedTransaction::parse(data) else {
        return;
    };
    let preimage = tx.signing_hash();
    // Typed transactions are signed over the bytes exactly as sent (the parser accepts only
    // canonical RLP), so what the policy engine read is what gets signed.
    if tx.fields.tx_type != TxType::Legacy {
        assert_eq!(preimage, data, "typed transaction re-encodes differently");
    } else if tx.fields.chain_id.is_some() {
        assert_eq!(preimage, data, "EIP-155 transaction re-encodes differently");
    }
    let signed = tx
        .sign(&secp256k1_key())
        .expect("a parsed transaction signs");
    assert!(signed.len() > preimage.len().saturating_sub(8));
}

pub fn solana_tx(data: &[u8]) {
    if let Ok(message) = SolanaMessage::parse(data) {
        let _ = message.transfers();
    }
    let Ok(tx) = Transaction::parse(data) else {
        return;
    };
    let transfers = tx.message.transfers();
    let key = ed25519_dalek::SigningKey::from_bytes(&ED25519_KEY);
    if let Ok(signed) = tx.sign(&key) {
        // Only a signature slot changed: the signed transaction parses to the same message.
        let again = Transaction::parse(&signed).expect("a signed transaction parses");
        assert_eq!(again.message.transfers(), transfers);
        assert_eq!(signed.len(), data.len());
    }
}

pub fn psbt(data: &[u8]) {
    let Ok(mut psbt) = Psbt::parse(data) else {
        return;
    };
    let _ = psbt.input_amounts();
    let serialized = psbt.serialize();
    let again = Psbt::parse(&serialized).expect("a serialised PSBT parses");
    assert_eq!(again.serialize(), serialized, "serialisation is not stable");
    if psbt.sign(&secp256k1_key()).is_ok() {
        let signed = psbt.serialize();
        Psbt::parse(&signed).expect("a signed PSBT parses");
    }
}

pub fn eip712(data: &[u8]) {
    let Ok(json) = std::str::from_utf8(data) else {
        return;
    };
    let hashed = eip712::hash_json(json);
    if let Ok(typed) = TypedData::parse(json) {
        // Hashing is deterministic: the one-shot helper and the two steps agree.
        assert_eq!(typed.signing_hash().ok(), hashed.ok());
    }
}

/// Smart contract interfaces: Ethereum ABIs with calldata, Anchor IDLs with instruction data.
/// An input with a NUL byte is `JSON NUL data`, tried as both; any other input is data for
/// [`crate::samples::ABI`] and [`crate::samples::IDL`]. Every function of the ABI decodes the
/// arguments and the IDL decodes the data (a panic, an unbounded allocation or a runaway
/// recursion is a bug); every selector is the Keccak-256 of the canonical signature the function
/// reports, and a decoded instruction is the one whose discriminator starts the data.
pub fn abi(data: &[u8]) {
    let (json, bytes) = match data.iter().position(|b| *b == 0) {
        Some(i) => {
            let (json, rest) = data.split_at(i);
            let Ok(json) = std::str::from_utf8(json) else {
                return;
            };
            (json, rest.get(1..).unwrap_or_default())
        }
        None => (crate::samples::ABI, data),
    };
    if let Ok(abi) = Abi::parse(json) {
        for f in abi.functions() {
            let hash = keccak256(f.signature().as_bytes());
            assert_eq!(
                hash.get(..4),
                Some(&f.selector[..]),
                "selector of {}",
                f.signature()
            );
            if let Ok(values) = f.decode(bytes.get(4..).unwrap_or_default()) {
                assert!(values.len() <= f.inputs.len());
            }
        }
        if let Some(selector) = bytes.first_chunk::<4>()
            && let Some(f) = abi.function(selector)
        {
            assert_eq!(&f.selector, selector);
        }
    }
    let idl = if json == crate::samples::ABI {
        crate::samples::IDL
    } else {
        json
    };
    if let Ok(idl) = Idl::parse(idl) {
        let accounts: Vec<String> = (0..4).map(|i| format!("account{i}")).collect();
        if let Ok(parsed) = idl.decode(bytes, &accounts) {
            let ix = idl
                .instructions()
                .iter()
                .find(|ix| ix.name == parsed.instruction_name)
                .expect("the decoded instruction is in the IDL");
            assert!(bytes.starts_with(&ix.discriminator));
            assert!(parsed.named_accounts.len() <= accounts.len());
        }
    }
}
