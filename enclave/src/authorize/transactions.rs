//! The typed transaction objects policies read (`eth.tx`, `solana.tx`, `bitcoin.tx`), parsed from
//! the signed `unsignedTransaction` by the same parsers that sign it, and what a transaction
//! spends for the limit counters. Anything that cannot be parsed is left out, so every policy
//! reading it fails closed.

use keyhold_policy::{
    BitcoinInput, BitcoinOutput, BitcoinTx, EthTx, Int, SolanaAccount, SolanaInstruction,
    SolanaTransfer, SolanaTx, SplTransfer, U256 as PolicyU256,
};

use crate::activities::Envelope;
use crate::chains::{bitcoin, ethereum, solana};
use crate::limits::Spend;
use crate::org::OrgState;

/// Native SOL transfers come from the System Program; SPL transfers from either token program.
const SPL_TOKEN: &str = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";
const SPL_TOKEN_2022: &str = "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb";
/// How an account resolved through an address lookup table is shown (Turnkey's convention).
const LOOKUP: &str = "ADDRESS_TABLE_LOOKUP";

/// The signed `unsignedTransaction` of a `SIGN_TRANSACTION` of `transaction_type`, as bytes.
fn unsigned(envelope: &Envelope, transaction_type: &str) -> Option<Vec<u8>> {
    if keyhold_policy::activity_kind(&envelope.activity_type) != "SIGN_TRANSACTION" {
        return None;
    }
    let p = &envelope.parameters;
    if p.get("type").and_then(serde_json::Value::as_str) != Some(transaction_type) {
        return None;
    }
    let text = p.get("unsignedTransaction")?.as_str()?.trim();
    hex::decode(text.strip_prefix("0x").unwrap_or(text)).ok()
}

fn sign_with(envelope: &Envelope) -> Option<&str> {
    envelope
        .parameters
        .get("signWith")
        .and_then(serde_json::Value::as_str)
}

/// `eth.tx`. `from` is `signWith` (lowercase), which the signer checks against the derived key;
/// when `signWith` is not an address (a private-key id) `eth.tx` is absent. Addresses and data
/// are lowercase `0x` hex.
/// With a smart contract interface for `to`, the call is decoded too (`function_name`, …).
pub fn eth_tx(envelope: &Envelope, org: &OrgState) -> Option<EthTx> {
    let raw = unsigned(envelope, "TRANSACTION_TYPE_ETHEREUM")?;
    let from = sign_with(envelope)
        .filter(|s| s.len() == 42 && s.starts_with("0x"))?
        .to_lowercase();
    let tx = ethereum::tx::UnsignedTransaction::parse(&raw).ok()?.fields;
    let u = |v: ethereum::tx::U256| PolicyU256::from_be_bytes(v.0);
    let call = tx
        .to
        .and_then(|to| super::contract_calls::decode(org, &to, &tx.data));
    let (function_name, function_signature, contract_call_args) = match call {
        Some((name, selector, args)) => (Some(name), Some(selector), Some(args)),
        None => (None, None, None),
    };
    Some(EthTx {
        from,
        to: tx.to.map(|a| format!("0x{}", hex::encode(a))),
        data: format!("0x{}", hex::encode(&tx.data)),
        value: u(tx.value),
        gas: u(tx.gas),
        gas_price: u(tx.gas_price),
        chain_id: PolicyU256::from_u128(u128::from(tx.chain_id.unwrap_or(0))),
        nonce: u(tx.nonce),
        max_fee_per_gas: tx.max_fee_per_gas.map(u),
        max_priority_fee_per_gas: tx.max_priority_fee_per_gas.map(u),
        max_fee_per_blob_gas: None,
        tx_type: tx.tx_type.policy_name().to_owned(),
        function_name,
        function_signature,
        contract_call_args,
    })
}

fn b58(key: &[u8; 32]) -> String {
    bs58::encode(key).into_string()
}

/// `solana.tx`, legacy or v0. Accounts loaded through lookup tables are shown as
/// `ADDRESS_TABLE_LOOKUP` (their keys are not in the transaction).
/// An instruction of a program with an uploaded IDL gets `parsed_instruction_data`.
pub fn solana_tx(envelope: &Envelope, org: &OrgState) -> Option<SolanaTx> {
    let raw = unsigned(envelope, "TRANSACTION_TYPE_SOLANA")?;
    let m = solana::Transaction::parse(&raw).ok()?.message;
    let keys: Vec<String> = m.account_keys.iter().map(b58).collect();
    let n_static = keys.len();
    let required = usize::from(m.num_required_signatures);
    let writable_loaded: usize = m
        .address_table_lookups
        .iter()
        .map(|l| l.writable_indexes.len())
        .sum();
    let account = |index: u8| {
        let i = usize::from(index);
        let writable = if i < required {
            i < required.saturating_sub(usize::from(m.num_readonly_signed))
        } else if i < n_static {
            i < n_static.saturating_sub(usize::from(m.num_readonly_unsigned))
        } else {
            i - n_static < writable_loaded
        };
        SolanaAccount {
            account_key: keys.get(i).cloned().unwrap_or_else(|| LOOKUP.to_owned()),
            signer: i < required,
            writable,
        }
    };
    let key_of = |index: Option<&u8>| {
        index
            .and_then(|i| keys.get(usize::from(*i)).cloned())
            .unwrap_or_else(|| LOOKUP.to_owned())
    };
    let mut program_keys: Vec<String> = Vec::new();
    let mut instructions = Vec::new();
    let mut spl_transfers = Vec::new();
    for ix in &m.instructions {
        let program = key_of(Some(&ix.program_index));
        if !program_keys.contains(&program) {
            program_keys.push(program.clone());
        }
        if program == SPL_TOKEN || program == SPL_TOKEN_2022 {
            spl_transfers.extend(spl_transfer(&ix.data, &ix.accounts, &key_of));
        }
        let accounts: Vec<SolanaAccount> = ix.accounts.iter().map(|a| account(*a)).collect();
        let keys: Vec<String> = accounts.iter().map(|a| a.account_key.clone()).collect();
        let parsed = super::contract_calls::solana_instruction(org, &program, &ix.data, &keys);
        instructions.push(SolanaInstruction {
            program_key: program,
            accounts,
            instruction_data_hex: hex::encode(&ix.data),
            address_table_lookups: Vec::new(),
            parsed_instruction_data: parsed,
        });
    }
    let transfers = m
        .transfers()
        .into_iter()
        .map(|t| SolanaTransfer {
            from: t.from.as_ref().map_or_else(|| LOOKUP.to_owned(), b58),
            to: t.to.as_ref().map_or_else(|| LOOKUP.to_owned(), b58),
            amount: PolicyU256::from_u128(u128::from(t.lamports)),
        })
        .collect();
    Some(SolanaTx {
        account_keys: keys.clone(),
        program_keys,
        instructions,
        transfers,
        recent_blockhash: b58(&m.recent_blockhash),
        spl_transfers,
        address_table_lookups: m
            .address_table_lookups
            .iter()
            .map(|l| keyhold_policy::AddressTableLookup {
                address_table_key: b58(&l.account),
                writable_indexes: l.writable_indexes.clone(),
                readonly_indexes: l.readonly_indexes.clone(),
            })
            .collect(),
    })
}

/// An SPL Token `Transfer` (3: source, destination, owner, signers…) or `TransferChecked`
/// (12: source, mint, destination, owner, signers…).
fn spl_transfer(
    data: &[u8],
    accounts: &[u8],
    key_of: &dyn Fn(Option<&u8>) -> String,
) -> Option<SplTransfer> {
    let (&tag, rest) = data.split_first()?;
    let amount = u64::from_le_bytes(*rest.first_chunk::<8>()?);
    let (from, mint, to, owner, signers_from) = match (tag, rest.len()) {
        (3, 8) => (0, None, 1, 2, 3),
        (12, 9) => (0, Some(1), 2, 3, 4),
        _ => return None,
    };
    Some(SplTransfer {
        from: key_of(accounts.get(from)),
        to: key_of(accounts.get(to)),
        amount: PolicyU256::from_u128(u128::from(amount)),
        owner: key_of(accounts.get(owner)),
        signers: accounts
            .iter()
            .skip(signers_from)
            .map(|a| key_of(Some(a)))
            .collect(),
        token_mint: mint.map_or_else(String::new, |i| key_of(accounts.get(i))),
    })
}

/// `bitcoin.tx`, from the PSBT's unsigned transaction. Output addresses need the network, taken
/// from `signWith`; and the fee needs every input's `witness_utxo`. Without either, `bitcoin.tx`
/// is absent (a policy cannot be told a wrong address or a made-up fee).
pub fn bitcoin_tx(envelope: &Envelope) -> Option<BitcoinTx> {
    let raw = unsigned(envelope, "TRANSACTION_TYPE_BITCOIN")?;
    let network = bitcoin::address_network(sign_with(envelope)?)?;
    let psbt = bitcoin::psbt::Psbt::parse(&raw).ok()?;
    let tx = &psbt.tx;
    let spent: u128 = psbt.input_amounts()?.into_iter().map(u128::from).sum();
    let paid: u128 = tx.outputs.iter().map(|o| u128::from(o.value)).sum();
    let fee = i128::try_from(spent).ok()? - i128::try_from(paid).ok()?;
    Some(BitcoinTx {
        version: tx.version.to_string(),
        inputs: tx
            .inputs
            .iter()
            .map(|i| {
                // Transaction ids are shown byte-reversed, as block explorers do.
                let mut id = i.txid;
                id.reverse();
                BitcoinInput {
                    tx_id: hex::encode(id),
                    vout: i.vout,
                    sequence: i.sequence,
                }
            })
            .collect(),
        outputs: tx
            .outputs
            .iter()
            .map(|o| {
                let (address, kind) = bitcoin::script_address(&o.script_pubkey, network)
                    .unwrap_or_else(|| (String::new(), "UNKNOWN"));
                BitcoinOutput {
                    value: o.value,
                    script_pubkey: hex::encode(&o.script_pubkey),
                    address,
                    address_type: kind.to_owned(),
                }
            })
            .collect(),
        locktime_amount: tx.locktime,
        // Consensus rule: below 500 000 000 a locktime is a block height.
        locktime_type: if tx.locktime < 500_000_000 {
            "Blocks"
        } else {
            "Seconds"
        }
        .to_owned(),
        fee: Int::from(fee),
    })
}

/// What a signing activity spends, for the limit counters. When the spender cannot be pinned
/// down the count errs high: every native SOL transfer from any required signer, and every
/// Bitcoin output not paying back to `signWith` (all of them when `signWith` is a key id).
pub fn spend(envelope: &Envelope) -> Spend {
    let kind = keyhold_policy::activity_kind(&envelope.activity_type);
    let signatures = match kind.as_str() {
        "SIGN_RAW_PAYLOADS" => envelope
            .parameters
            .get("payloads")
            .and_then(serde_json::Value::as_array)
            .map_or(1, |p| u32::try_from(p.len()).unwrap_or(u32::MAX)),
        _ => 1,
    };
    let mut spend = Spend {
        signatures,
        ..Spend::default()
    };
    if let Some(raw) = unsigned(envelope, "TRANSACTION_TYPE_ETHEREUM")
        && let Ok(tx) = ethereum::tx::UnsignedTransaction::parse(&raw)
    {
        let v = tx.fields.value.0;
        // Saturating: a value beyond 2^128 wei only makes limits stricter.
        spend.eth_wei = if v.iter().take(16).any(|b| *b != 0) {
            u128::MAX
        } else {
            v.last_chunk::<16>()
                .map_or(u128::MAX, |low| u128::from_be_bytes(*low))
        };
    }
    if let Some(raw) = unsigned(envelope, "TRANSACTION_TYPE_SOLANA")
        && let Ok(tx) = solana::Transaction::parse(&raw)
    {
        let m = &tx.message;
        let signers = m
            .account_keys
            .get(..usize::from(m.num_required_signatures))
            .unwrap_or_default();
        spend.lamports = m
            .transfers()
            .iter()
            .filter(|t| t.from.is_none_or(|from| signers.contains(&from)))
            .fold(0u64, |acc, t| acc.saturating_add(t.lamports));
    }
    if let Some(raw) = unsigned(envelope, "TRANSACTION_TYPE_BITCOIN")
        && let Ok(psbt) = bitcoin::psbt::Psbt::parse(&raw)
    {
        let own = sign_with(envelope).unwrap_or_default();
        let network = bitcoin::address_network(own);
        spend.sats = psbt
            .tx
            .outputs
            .iter()
            .filter(|o| {
                let change = network
                    .and_then(|n| bitcoin::script_address(&o.script_pubkey, n))
                    .is_some_and(|(address, _)| address == own);
                !change
            })
            .fold(0u64, |acc, o| acc.saturating_add(o.value));
    }
    spend
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envelope(tx_type: &str, sign_with: &str, raw: &[u8]) -> Envelope {
        let body = json!({
            "type": "ACTIVITY_TYPE_SIGN_TRANSACTION_V2",
            "timestampMs": "1",
            "organizationId": "00000000-0000-4000-8000-000000000000",
            "parameters": {"signWith": sign_with, "type": tx_type,
                           "unsignedTransaction": hex::encode(raw)},
        });
        Envelope::parse(body.to_string().as_bytes()).unwrap()
    }

    fn org(contract_interfaces: Vec<crate::org::ContractInterface>) -> OrgState {
        OrgState {
            contract_interfaces,
            ..OrgState::new(
                keyhold_shared::OrgId(keyhold_shared::Uuid::from_bytes([1; 16])),
                "o".into(),
                crate::org::RootQuorum {
                    threshold: 1,
                    user_ids: vec![],
                },
                0,
            )
        }
    }

    /// A legacy EIP-155 transaction (chain 1) to `to` with `data`.
    fn legacy_call(to: [u8; 20], data: &[u8]) -> Vec<u8> {
        use crate::chains::rlp::{encode_bytes, encode_list};
        let mut payload = Vec::new();
        for field in [&[][..], &[1], &[0x52, 0x08], &to, &[], data, &[1], &[], &[]] {
            encode_bytes(&mut payload, field);
        }
        let mut out = Vec::new();
        encode_list(&mut out, &payload);
        out
    }

    #[test]
    fn an_instruction_of_a_program_with_an_idl_is_decoded() {
        let (payer, vault, program) = ([3u8; 32], [5u8; 32], [7u8; 32]);
        let idl = r#"{"instructions":[{"name":"deposit","discriminator":[1,2,3,4,5,6,7,8],
            "accounts":[{"name":"owner"},{"name":"vault"}],"args":[{"name":"amount","type":"u64"}]}]}"#;
        let mut data = vec![1, 2, 3, 4, 5, 6, 7, 8];
        data.extend(42u64.to_le_bytes());
        // a legacy message: payer signs, vault and the program are read-only accounts
        let mut m = vec![1, 0, 1, 3];
        for key in [payer, vault, program] {
            m.extend(key);
        }
        m.extend([9u8; 32]);
        m.extend([1, 2, 2, 0, 1, data.len() as u8]);
        m.extend(&data);
        let mut raw = vec![1];
        raw.extend([0u8; 64]);
        raw.extend(m);
        let e = envelope("TRANSACTION_TYPE_SOLANA", &b58(&payer), &raw);
        let interface = |address: String, kind| crate::org::ContractInterface {
            id: "i".into(),
            address,
            kind,
            interface: idl.into(),
            label: "l".into(),
            notes: String::new(),
            created_at_ms: 0,
            updated_at_ms: 0,
        };
        let with = org(vec![interface(
            b58(&program),
            crate::org::ContractInterfaceKind::Solana,
        )]);
        let tx = solana_tx(&e, &with).unwrap();
        let parsed = tx.instructions[0].parsed_instruction_data.as_ref().unwrap();
        assert_eq!(parsed.instruction_name, "deposit");
        assert_eq!(parsed.discriminator, "0102030405060708");
        assert_eq!(parsed.named_accounts["owner"], b58(&payer));
        assert_eq!(parsed.named_accounts["vault"], b58(&vault));
        assert_eq!(
            parsed.program_call_args["amount"],
            keyhold_policy::Value::int(42i64)
        );
        // another program, or an Ethereum interface at that text: nothing parsed
        for state in [
            org(vec![interface(
                b58(&vault),
                crate::org::ContractInterfaceKind::Solana,
            )]),
            org(vec![interface(
                b58(&program),
                crate::org::ContractInterfaceKind::Ethereum,
            )]),
        ] {
            let tx = solana_tx(&e, &state).unwrap();
            assert!(tx.instructions[0].parsed_instruction_data.is_none());
        }
    }

    #[test]
    fn a_call_to_a_contract_with_an_abi_is_decoded() {
        let token = [0x42u8; 20];
        let abi = r#"[{"type":"function","name":"transfer","inputs":[{"name":"_to","type":"address"},{"name":"_value","type":"uint256"}]}]"#;
        let interface = |address: String, kind| crate::org::ContractInterface {
            id: "i".into(),
            address,
            kind,
            interface: abi.into(),
            label: "l".into(),
            notes: String::new(),
            created_at_ms: 0,
            updated_at_ms: 0,
        };
        let mut data = hex::decode("a9059cbb").unwrap();
        data.extend([0u8; 12]);
        data.extend([0x77u8; 20]);
        data.extend([0u8; 30]);
        data.extend([0x03, 0xe8]);
        let from = "0x1111111111111111111111111111111111111111";
        let e = envelope(
            "TRANSACTION_TYPE_ETHEREUM",
            from,
            &legacy_call(token, &data),
        );
        // the address matches case-insensitively
        let upper = format!("0x{}", hex::encode_upper(token));
        let tx = eth_tx(
            &e,
            &org(vec![interface(
                upper.clone(),
                crate::org::ContractInterfaceKind::Ethereum,
            )]),
        )
        .unwrap();
        assert_eq!(tx.function_name.as_deref(), Some("transfer"));
        assert_eq!(tx.function_signature.as_deref(), Some("0xa9059cbb"));
        let args = tx.contract_call_args.unwrap();
        assert_eq!(
            args["_to"],
            keyhold_policy::Value::str(format!("0x{}", "77".repeat(20)))
        );
        assert_eq!(args["_value"], keyhold_policy::Value::int(1000i64));
        // no interface, a Solana one at the same text, another contract, another selector
        let solana = interface(upper, crate::org::ContractInterfaceKind::Solana);
        for state in [org(vec![]), org(vec![solana])] {
            assert!(eth_tx(&e, &state).unwrap().function_name.is_none());
        }
        let other = interface(
            format!("0x{}", "43".repeat(20)),
            crate::org::ContractInterfaceKind::Ethereum,
        );
        assert!(
            eth_tx(&e, &org(vec![other]))
                .unwrap()
                .contract_call_args
                .is_none()
        );
        data[0] = 0;
        let e = envelope(
            "TRANSACTION_TYPE_ETHEREUM",
            from,
            &legacy_call(token, &data),
        );
        let here = interface(
            format!("0x{}", hex::encode(token)),
            crate::org::ContractInterfaceKind::Ethereum,
        );
        let tx = eth_tx(&e, &org(vec![here])).unwrap();
        assert!(tx.function_name.is_none() && tx.function_signature.is_none());
    }

    #[test]
    fn solana_transfers_accounts_and_spend() {
        let payer = [3u8; 32];
        for versioned in [false, true] {
            let raw = solana::tests::transfer(payer, [5; 32], versioned);
            let e = envelope("TRANSACTION_TYPE_SOLANA", &b58(&payer), &raw);
            let tx = solana_tx(&e, &org(vec![])).unwrap();
            assert_eq!(tx.account_keys.len(), 3);
            assert_eq!(tx.program_keys, vec!["11111111111111111111111111111111"]);
            assert_eq!(tx.transfers.len(), 1);
            assert_eq!(tx.transfers[0].from, b58(&payer));
            assert_eq!(tx.transfers[0].to, b58(&[5; 32]));
            assert_eq!(tx.transfers[0].amount, PolicyU256::from_u128(1000));
            let accounts = &tx.instructions[0].accounts;
            assert!(accounts[0].signer && accounts[0].writable);
            assert!(!accounts[1].signer && accounts[1].writable);
            assert!(tx.spl_transfers.is_empty());
            assert_eq!(spend(&e).lamports, 1000);
            assert!(eth_tx(&e, &org(vec![])).is_none() && bitcoin_tx(&e).is_none());
        }
    }

    #[test]
    fn spl_transfer_checked_is_read() {
        let t = spl_transfer(
            &[[12].as_slice(), &500u64.to_le_bytes(), &[6]].concat(),
            &[0, 1, 2, 3],
            &|i: Option<&u8>| i.map_or_else(String::new, |i| format!("k{i}")),
        )
        .unwrap();
        assert_eq!(
            (
                t.from.as_str(),
                t.token_mint.as_str(),
                t.to.as_str(),
                t.owner.as_str()
            ),
            ("k0", "k1", "k2", "k3")
        );
        assert_eq!(t.amount, PolicyU256::from_u128(500));
        // wrong length: not a transfer
        assert!(spl_transfer(&[3, 1, 2], &[0, 1, 2], &|_| String::new()).is_none());
    }

    #[test]
    fn bitcoin_outputs_fee_and_change() {
        // spends 10 000 sats, pays 9 000 to a P2WPKH of 0x01..0x14: fee 1 000
        let p2wpkh: Vec<u8> = [[0x00, 0x14].as_slice(), &[9; 20]].concat();
        let raw = bitcoin::psbt::tests::psbt_for(p2wpkh, 10_000);
        let payee = bitcoin::script_address(
            &[[0x00, 0x14].as_slice(), &(1..=20).collect::<Vec<u8>>()].concat(),
            keyhold_shared::msg::BitcoinNetwork::Testnet,
        )
        .unwrap()
        .0;
        let other = bitcoin::script_address(
            &[[0x00, 0x14].as_slice(), &[0x42; 20]].concat(),
            keyhold_shared::msg::BitcoinNetwork::Testnet,
        )
        .unwrap()
        .0;
        let e = envelope("TRANSACTION_TYPE_BITCOIN", &other, &raw);
        let tx = bitcoin_tx(&e).unwrap();
        assert_eq!(tx.fee, Int::from(1000i64));
        assert_eq!(tx.outputs[0].value, 9000);
        assert_eq!(tx.outputs[0].address, payee);
        assert_eq!(tx.outputs[0].address_type, "P2WPKH");
        assert_eq!(tx.inputs[0].tx_id, hex::encode([7u8; 32]));
        assert_eq!(tx.locktime_type, "Blocks");
        assert_eq!(spend(&e).sats, 9000);
        // paying back to signWith is change, not spending
        let e = envelope("TRANSACTION_TYPE_BITCOIN", &payee, &raw);
        assert_eq!(spend(&e).sats, 0);
        // without a network (signWith is a key id) there is no bitcoin.tx, and all outputs count
        let e = envelope("TRANSACTION_TYPE_BITCOIN", "n0t-an-address", &raw);
        assert!(bitcoin_tx(&e).is_none());
        assert_eq!(spend(&e).sats, 9000);
    }
}
