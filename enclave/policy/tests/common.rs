//! Realistic contexts shared by the suites.

use std::collections::BTreeMap;

use keyhold_policy::{
    Activity, AddressTableLookup, BitcoinOutput, BitcoinTx, Context, Credential, Eip712, Env,
    EthTx, Expression, Int, PrivateKey, Scope, SolanaAccount, SolanaInstruction, SolanaTransfer,
    SolanaTx, SplTransfer, TempoCall, TempoTx, Timestamp, U256, User, Value, Wallet, WalletAccount,
};

pub const ALICE: &str = "4b894565-fa11-42fc-b813-5bf4ea3d53f9";
pub const BOB: &str = "0f3c2a7e-1b7d-4c55-9d0e-6a1f2b3c4d5e";
pub const ROOT: &str = "9a0d7c1e-2f3b-4a5c-8d6e-7f8091a2b3c4";
pub const TAG: &str = "a1b2c3d4-0000-4000-8000-000000000001";
pub const WALLET_ID: &str = "e1b6a3c0-5f1e-4a7b-9c2d-3e4f5a6b7c8d";
pub const KEY_ID: &str = "f2c7b4d1-6a2f-4b8c-ad3e-4f5a6b7c8d9e";
pub const USDC: &str = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48";
pub const RECIPIENT: &str = "0x08d2b0a37f869ff76bacb5bab3278e26ab7067b7";

pub fn user(id: &str, tags: &[&str]) -> User {
    User {
        id: id.into(),
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        email: Some(format!("{id}@example.com")),
        alias: Some("user".into()),
    }
}

pub fn api_key(user_id: &str) -> Credential {
    Credential {
        id: format!("key-{user_id}"),
        user_id: user_id.into(),
        credential_type: "CREDENTIAL_TYPE_API_KEY_P256".into(),
        credential_id: None,
        public_key: "02c6f8e1d3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f".into(),
    }
}

pub fn passkey(user_id: &str) -> Credential {
    Credential {
        credential_type: "CREDENTIAL_TYPE_WEBAUTHN_AUTHENTICATOR".into(),
        credential_id: Some("cred-1".into()),
        ..api_key(user_id)
    }
}

pub fn wei(s: &str) -> U256 {
    U256::from_dec_str(s).unwrap()
}

/// ACTIVITY_TYPE_SIGN_TRANSACTION_V2 of an EIP-1559 USDC `transfer` with a wallet account.
pub fn eth_sign() -> Context {
    let mut args = BTreeMap::new();
    args.insert("to".to_owned(), Value::str(RECIPIENT));
    args.insert("value".to_owned(), Value::int(1_000_000u64));
    Context {
        activity: Activity::new("ACTIVITY_TYPE_SIGN_TRANSACTION_V2", "PRIVATE_KEY", "SIGN")
            .with_param("type", "TRANSACTION_TYPE_ETHEREUM"),
        approvers: vec![user(ALICE, &[TAG])],
        credentials: vec![api_key(ALICE)],
        wallet: Some(Wallet {
            id: WALLET_ID.into(),
            imported: false,
            exported: false,
            label: "treasury".into(),
        }),
        wallet_account: Some(WalletAccount {
            address: "0x2a9e8fa175f45b235efddd97d2727741ef4eee63".into(),
        }),
        eth_tx: Some(EthTx {
            from: "0x2a9e8fa175f45b235efddd97d2727741ef4eee63".into(),
            to: Some(USDC.into()),
            data: format!(
                "0xa9059cbb000000000000000000000000{}00000000000000000000000000000000000000000000000000000000000f4240",
                RECIPIENT.trim_start_matches("0x")
            ),
            value: U256::ZERO,
            gas: wei("65000"),
            gas_price: wei("30000000000"),
            chain_id: wei("1"),
            nonce: wei("7"),
            max_fee_per_gas: Some(wei("30000000000")),
            max_priority_fee_per_gas: Some(wei("1000000000")),
            max_fee_per_blob_gas: None,
            tx_type: "TYPE_2".into(),
            function_name: Some("transfer".into()),
            function_signature: Some("0xa9059cbb".into()),
            contract_call_args: Some(args),
        }),
        now: Some(Timestamp::parse_rfc3339("2025-01-15T15:00:00Z").unwrap()),
        ..Context::default()
    }
}

/// A plain ETH transfer of `value` wei to RECIPIENT, signed with a private key.
pub fn eth_send_with_key(value: &str) -> Context {
    let mut ctx = eth_sign();
    ctx.wallet = None;
    ctx.wallet_account = None;
    ctx.private_key = Some(PrivateKey {
        id: KEY_ID.into(),
        tags: vec!["hot".into()],
        imported: true,
        exported: false,
        label: "ops".into(),
    });
    if let Some(tx) = ctx.eth_tx.as_mut() {
        tx.to = Some(RECIPIENT.into());
        tx.data = "0x".into();
        tx.value = wei(value);
        tx.function_name = None;
        tx.function_signature = None;
        tx.contract_call_args = None;
    }
    ctx
}

/// ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2 of a Permit2 PermitBatchTransferFrom.
pub fn eip712_permit2(token: &str) -> Context {
    let permitted = Value::list([
        Value::record([("token", Value::str(token)), ("amount", Value::int(100u64))]),
        Value::record([("token", Value::str(token)), ("amount", Value::int(5u64))]),
    ]);
    let mut message = BTreeMap::new();
    message.insert("permitted".to_owned(), permitted);
    message.insert("spender".to_owned(), Value::str(RECIPIENT));
    message.insert("nonce".to_owned(), Value::int(0u64));
    Context {
        activity: Activity::new("ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2", "PRIVATE_KEY", "SIGN")
            .with_param("hash_function", "HASH_FUNCTION_NO_OP")
            .with_param("encoding", "PAYLOAD_ENCODING_EIP712"),
        approvers: vec![user(ALICE, &[])],
        wallet: Some(Wallet {
            id: WALLET_ID.into(),
            ..Wallet::default()
        }),
        eth_eip_712: Some(Eip712 {
            primary_type: "PermitBatchTransferFrom".into(),
            domain_name: Some("Permit2".into()),
            domain_version: None,
            domain_chain_id: Some(wei("1")),
            domain_verifying_contract: Some("0x000000000022d473030f116ddee9f6b43ac78ba3".into()),
            message,
        }),
        ..Context::default()
    }
}

pub const SOL_FROM: &str = "7EqQdEULxWcraVx3mXKFjc84LhCkMGZCkRuDpvcMwJeK";
pub const SOL_TO: &str = "FZ6jVBhmYLxcT2bLCV8nyC4WjfTqvTKCmdKTmLkb7sFm";
pub const MINT: &str = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v";

/// ACTIVITY_TYPE_SIGN_TRANSACTION_V2 of a Solana SPL transfer.
pub fn solana_spl(amount: u64, lookups: usize) -> Context {
    let lookup = AddressTableLookup {
        address_table_key: "2immgwYNHBbyVQKVGCEkgWpi53bLwWNRMB5G2nbgYV17".into(),
        writable_indexes: vec![1, 2],
        readonly_indexes: vec![0],
    };
    Context {
        activity: Activity::new("ACTIVITY_TYPE_SIGN_TRANSACTION_V2", "PRIVATE_KEY", "SIGN")
            .with_param("type", "TRANSACTION_TYPE_SOLANA"),
        approvers: vec![user(ALICE, &[])],
        wallet: Some(Wallet {
            id: WALLET_ID.into(),
            ..Wallet::default()
        }),
        solana_tx: Some(SolanaTx {
            account_keys: vec![SOL_FROM.into(), SOL_TO.into(), MINT.into()],
            program_keys: vec!["TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA".into()],
            instructions: vec![SolanaInstruction {
                program_key: "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA".into(),
                accounts: vec![
                    SolanaAccount {
                        account_key: SOL_FROM.into(),
                        signer: false,
                        writable: true,
                    },
                    SolanaAccount {
                        account_key: SOL_TO.into(),
                        signer: false,
                        writable: true,
                    },
                ],
                instruction_data_hex: "0c40420f000000000006".into(),
                address_table_lookups: vec![],
                parsed_instruction_data: None,
            }],
            transfers: vec![],
            recent_blockhash: "9sHcv6xwn9YkB8nxTUGKDwPwNnmqVp5oAXxU8Fdkm4J6".into(),
            spl_transfers: vec![SplTransfer {
                from: SOL_FROM.into(),
                to: SOL_TO.into(),
                amount: U256::from_u128(u128::from(amount)),
                owner: SOL_FROM.into(),
                signers: vec![],
                token_mint: MINT.into(),
            }],
            address_table_lookups: vec![lookup; lookups],
        }),
        ..Context::default()
    }
}

/// A native SOL transfer whose recipient came from an address table.
pub fn solana_lookup_transfer() -> Context {
    let mut ctx = solana_spl(1, 1);
    if let Some(tx) = ctx.solana_tx.as_mut() {
        tx.spl_transfers.clear();
        tx.transfers.push(SolanaTransfer {
            from: SOL_FROM.into(),
            to: "ADDRESS_TABLE_LOOKUP".into(),
            amount: U256::from_u128(5_000_000),
        });
    }
    ctx
}

pub fn bitcoin_send() -> Context {
    Context {
        activity: Activity::new("ACTIVITY_TYPE_SIGN_TRANSACTION_V2", "PRIVATE_KEY", "SIGN")
            .with_param("type", "TRANSACTION_TYPE_BITCOIN"),
        approvers: vec![user(ALICE, &[])],
        wallet: Some(Wallet {
            id: WALLET_ID.into(),
            ..Wallet::default()
        }),
        bitcoin_tx: Some(BitcoinTx {
            version: "2".into(),
            inputs: vec![],
            outputs: vec![BitcoinOutput {
                value: 50_000,
                script_pubkey: "0014751e76e8199196d454941c45d1b3a323f1433bd6".into(),
                address: "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4".into(),
                address_type: "p2wpkh".into(),
            }],
            locktime_amount: 0,
            locktime_type: "Blocks".into(),
            fee: Int::from(1_200i64),
        }),
        ..Context::default()
    }
}

pub fn tempo_send() -> Context {
    let input = format!(
        "0xa9059cbb000000000000000000000000{}0000000000000000000000000000000000000000000000000000000000000064",
        RECIPIENT.trim_start_matches("0x")
    );
    Context {
        activity: Activity::new("ACTIVITY_TYPE_SIGN_TRANSACTION_V2", "PRIVATE_KEY", "SIGN")
            .with_param("type", "TRANSACTION_TYPE_TEMPO"),
        approvers: vec![user(ALICE, &[])],
        wallet: Some(Wallet {
            id: WALLET_ID.into(),
            ..Wallet::default()
        }),
        tempo_tx: Some(TempoTx {
            chain_id: wei("42429"),
            from: "0x2a9e8fa175f45b235efddd97d2727741ef4eee63".into(),
            calls: vec![TempoCall {
                to: USDC.into(),
                input,
                function_signature: "0xa9059cbb".into(),
            }],
            ..TempoTx::default()
        }),
        ..Context::default()
    }
}

pub fn tron_send() -> Context {
    let contract = Value::record([
        ("type", Value::str("TransferContract")),
        (
            "owner_address",
            Value::str("TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf"),
        ),
        (
            "to_address",
            Value::str("TN3W4H6rK2ce4vX9YnFQHwKENnHjoxb3m9"),
        ),
        ("amount", Value::int(2_000_000u64)),
        ("permission_id", Value::int(0u64)),
    ]);
    Context {
        activity: Activity::new("ACTIVITY_TYPE_SIGN_TRANSACTION_V2", "PRIVATE_KEY", "SIGN")
            .with_param("type", "TRANSACTION_TYPE_TRON"),
        approvers: vec![user(ALICE, &[])],
        tron_tx: Some(Value::record([
            ("contract", Value::list([contract])),
            ("fee_limit", Value::int(10_000_000u64)),
        ])),
        ..Context::default()
    }
}

pub fn delete_users(ids: &[&str], approver: &str) -> Context {
    Context {
        activity: Activity::new("ACTIVITY_TYPE_DELETE_USERS", "USER", "DELETE")
            .with_param("user_ids", Value::strings(ids)),
        approvers: vec![user(approver, &[])],
        credentials: vec![api_key(approver)],
        ..Context::default()
    }
}

pub fn create_policy(approvers: &[User]) -> Context {
    Context {
        activity: Activity::new("ACTIVITY_TYPE_CREATE_POLICY_V3", "POLICY", "CREATE"),
        approvers: approvers.to_vec(),
        ..Context::default()
    }
}

/// Compiles and evaluates one expression.
pub fn eval(src: &str, scope: Scope, ctx: &Context) -> Result<bool, String> {
    let e = Expression::compile(src, scope).map_err(|e| format!("compile: {}", e.report()))?;
    let env = Env::new(ctx).map_err(|e| e.to_string())?;
    e.evaluate(&env).map_err(|err| e.render_error(&err))
}
