//! Smart contract interfaces: `CREATE_SMART_CONTRACT_INTERFACE`,
//! `DELETE_SMART_CONTRACT_INTERFACE`. An Ethereum ABI or a Solana (Anchor) IDL, uploaded as
//! JSON text for one contract or program address; it lives in the sealed state, so the ABI a
//! policy decodes a transaction with (`eth.tx.function_name`, `eth.tx.contract_call_args`) is
//! exactly the one the organization uploaded: a host can neither drop nor swap it. Shapes and
//! result keys are Turnkey's.

use serde::Deserialize;
use serde_json::{Value, json};

use super::envelope::Envelope;
use super::organization::{check_name, new_id, parse_uuid};
use crate::chains::ethereum::abi::Abi;
use crate::chains::solana::idl::Idl;
use crate::error::{Error, Result, clip};
use crate::org::{ContractInterface, ContractInterfaceKind, OrgState};

/// Most interfaces per organization.
pub const MAX_INTERFACES: usize = 100;
/// Longest interface JSON (Turnkey allows 400 kB; a large real ABI, Uniswap's router, is ~25 KiB).
pub const MAX_INTERFACE_LEN: usize = 64 * 1024;
/// Most interface JSON per organization: the sealed state must stay under
/// `keyhold_shared::msg::MAX_SEALED_LEN` (2 MiB) with everything else it holds, and every query
/// reads the organization out, so 100 × 64 KiB (6.4 MiB) cannot all be allowed.
pub const MAX_TOTAL_LEN: usize = 512 * 1024;
/// Longest `notes`.
pub const MAX_NOTES_LEN: usize = 1024;

impl ContractInterfaceKind {
    /// Turnkey's `SMART_CONTRACT_INTERFACE_TYPE_*`.
    pub fn type_name(self) -> &'static str {
        match self {
            ContractInterfaceKind::Ethereum => "SMART_CONTRACT_INTERFACE_TYPE_ETHEREUM",
            ContractInterfaceKind::Solana => "SMART_CONTRACT_INTERFACE_TYPE_SOLANA",
        }
    }

    fn parse(name: &str) -> Result<Self> {
        match name {
            "SMART_CONTRACT_INTERFACE_TYPE_ETHEREUM" => Ok(ContractInterfaceKind::Ethereum),
            "SMART_CONTRACT_INTERFACE_TYPE_SOLANA" => Ok(ContractInterfaceKind::Solana),
            other => Err(Error::invalid(format!(
                "type `{}` must be SMART_CONTRACT_INTERFACE_TYPE_ETHEREUM or SMART_CONTRACT_INTERFACE_TYPE_SOLANA",
                clip(other)
            ))),
        }
    }
}

/// The address an interface applies to: `0x` and 40 hex digits (any case: Ethereum addresses
/// compare case-insensitively), or a base58 Solana program id of 32 bytes (case-sensitive).
fn check_address(kind: ContractInterfaceKind, address: &str) -> Result<()> {
    let ok = match kind {
        ContractInterfaceKind::Ethereum => address
            .strip_prefix("0x")
            .is_some_and(|h| h.len() == 40 && h.bytes().all(|b| b.is_ascii_hexdigit())),
        ContractInterfaceKind::Solana => {
            address.len() <= 44
                && bs58::decode(address)
                    .into_vec()
                    .is_ok_and(|key| key.len() == 32)
        }
    };
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "smartContractAddress `{}` is not a valid {} address",
            clip(address),
            match kind {
                ContractInterfaceKind::Ethereum => "Ethereum contract",
                ContractInterfaceKind::Solana => "Solana program",
            }
        )))
    }
}

/// Whether two interface addresses name the same contract.
pub fn same_address(kind: ContractInterfaceKind, a: &str, b: &str) -> bool {
    match kind {
        ContractInterfaceKind::Ethereum => a.eq_ignore_ascii_case(b),
        ContractInterfaceKind::Solana => a == b,
    }
}

pub fn create_smart_contract_interface(
    state: &mut OrgState,
    envelope: &Envelope,
    now_ms: u64,
) -> Result<Value> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Intent {
        smart_contract_address: String,
        smart_contract_interface: String,
        #[serde(rename = "type")]
        kind: String,
        label: String,
        #[serde(default)]
        notes: Option<String>,
    }
    let intent: Intent = envelope.parameters()?;
    let kind = ContractInterfaceKind::parse(&intent.kind)?;
    check_address(kind, &intent.smart_contract_address)?;
    check_name("label", &intent.label)?;
    let notes = intent.notes.unwrap_or_default();
    if notes.len() > MAX_NOTES_LEN {
        return Err(Error::invalid(format!(
            "notes must be at most {MAX_NOTES_LEN} bytes"
        )));
    }
    let text = intent.smart_contract_interface;
    if text.len() > MAX_INTERFACE_LEN {
        return Err(Error::invalid(format!(
            "smartContractInterface must be at most {MAX_INTERFACE_LEN} bytes"
        )));
    }
    match kind {
        ContractInterfaceKind::Ethereum => {
            Abi::parse(&text)?;
        }
        ContractInterfaceKind::Solana => {
            Idl::parse(&text)?;
        }
    }
    let interfaces = &state.contract_interfaces;
    if interfaces.len() >= MAX_INTERFACES {
        return Err(Error::invalid(format!(
            "an organization holds at most {MAX_INTERFACES} smart contract interfaces"
        )));
    }
    let total = interfaces
        .iter()
        .map(|i| i.interface.len())
        .fold(text.len(), usize::saturating_add);
    if total > MAX_TOTAL_LEN {
        return Err(Error::invalid(format!(
            "an organization's smart contract interfaces hold at most {MAX_TOTAL_LEN} bytes of JSON"
        )));
    }
    // One interface per contract: a transaction is decoded with exactly one ABI.
    if interfaces
        .iter()
        .any(|i| i.kind == kind && same_address(kind, &i.address, &intent.smart_contract_address))
    {
        return Err(Error::invalid(
            "a smart contract interface for this address already exists; delete it first",
        ));
    }
    let id = new_id()?.to_string();
    state.contract_interfaces.push(ContractInterface {
        id: id.clone(),
        address: intent.smart_contract_address,
        kind,
        interface: text,
        label: intent.label,
        notes,
        created_at_ms: now_ms,
        updated_at_ms: now_ms,
    });
    Ok(json!({"createSmartContractInterfaceResult": {"smartContractInterfaceId": id}}))
}

pub fn delete_smart_contract_interface(
    state: &mut OrgState,
    envelope: &Envelope,
    _now_ms: u64,
) -> Result<Value> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Intent {
        smart_contract_interface_id: String,
    }
    let intent: Intent = envelope.parameters()?;
    let id: keyhold_shared::Uuid = parse_uuid(
        "smartContractInterfaceId",
        &intent.smart_contract_interface_id,
    )?;
    let id = id.to_string();
    let before = state.contract_interfaces.len();
    state.contract_interfaces.retain(|i| i.id != id);
    if state.contract_interfaces.len() == before {
        return Err(Error::NotFound(format!(
            "smart contract interface {id} not found"
        )));
    }
    Ok(json!({"deleteSmartContractInterfaceResult": {"smartContractInterfaceId": id}}))
}
