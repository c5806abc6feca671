//! `eth.tx.function_name`, `eth.tx.function_signature` and `eth.tx.contract_call_args`: the
//! calldata of a transaction to a contract with an uploaded Ethereum ABI, decoded with that ABI
//! from the sealed state; and `solana.tx.instructions[i].parsed_instruction_data`, an
//! instruction of a program with an uploaded Anchor IDL. Without an interface for the contract
//! or program, or with data that does not decode (an unknown selector or discriminator, a
//! truncated or non-canonical encoding), the fields stay absent and every policy reading them
//! fails closed.

use std::collections::BTreeMap;
use std::sync::{LazyLock, Mutex};

use keyhold_policy::{SolanaParsedInstruction, Value};

use crate::chains::ethereum::abi::Abi;
use crate::chains::solana::idl::Idl;
use crate::error::Result;
use crate::lru::{Lru, cache_key};
use crate::org::{ContractInterfaceKind, OrgState};

/// Most parsed ABIs kept (an organization holds at most 100 interfaces; a parsed ABI is a few
/// times its JSON, at most 64 KiB of it).
const PARSED_CAPACITY: usize = 128;

/// Parsed ABIs by the SHA-256 of their JSON text: parsing a large ABI and hashing each of its
/// function signatures costs far more than a signature does.
static PARSED: LazyLock<Mutex<Lru<Abi>>> = LazyLock::new(|| Mutex::new(Lru::new(PARSED_CAPACITY)));

fn parsed(text: &str) -> Result<std::sync::Arc<Abi>> {
    Lru::get_or_insert(&PARSED, cache_key(&[text.as_bytes()]), || Abi::parse(text))
}

/// Parsed IDLs, as [`PARSED`].
static PARSED_IDLS: LazyLock<Mutex<Lru<Idl>>> =
    LazyLock::new(|| Mutex::new(Lru::new(PARSED_CAPACITY)));

fn parsed_idl(text: &str) -> Result<std::sync::Arc<Idl>> {
    Lru::get_or_insert(&PARSED_IDLS, cache_key(&[text.as_bytes()]), || {
        Idl::parse(text)
    })
}

/// An instruction of `program` (base58) with `data` and `accounts` (its account keys, in
/// order), decoded with the program's IDL.
pub fn solana_instruction(
    org: &OrgState,
    program: &str,
    data: &[u8],
    accounts: &[String],
) -> Option<SolanaParsedInstruction> {
    let interface = org
        .contract_interfaces
        .iter()
        .find(|i| i.kind == ContractInterfaceKind::Solana && i.address == program)?;
    let parsed = parsed_idl(&interface.interface)
        .ok()?
        .decode(data, accounts)
        .ok()?;
    Some(SolanaParsedInstruction {
        instruction_name: parsed.instruction_name,
        discriminator: parsed.discriminator,
        named_accounts: parsed.named_accounts,
        program_call_args: parsed.args,
    })
}

/// What a call to `to` with `data` decodes to: the function name, its selector (`0x` and 8
/// lowercase hex digits, as Turnkey shows it) and its named arguments.
pub fn decode(
    org: &OrgState,
    to: &[u8; 20],
    data: &[u8],
) -> Option<(String, String, BTreeMap<String, Value>)> {
    let to = format!("0x{}", hex::encode(to));
    let interface = org.contract_interfaces.iter().find(|i| {
        i.kind == ContractInterfaceKind::Ethereum && i.address.eq_ignore_ascii_case(&to)
    })?;
    let abi = parsed(&interface.interface).ok()?;
    let (selector, args) = data.split_first_chunk::<4>()?;
    let function = abi.function(selector)?;
    let args = function.decode(args).ok()?;
    Some((
        function.name.clone(),
        format!("0x{}", hex::encode(selector)),
        args,
    ))
}
