//! The evaluation context: what the enclave knows about one activity, as typed structs.
//!
//! Every object is optional where Turnkey's is: a keyword whose object is `None` (e.g. `eth.tx`
//! on a Solana transaction, `wallet` when signing with a private key) is an evaluation error, as
//! in Turnkey ("Policy evaluation" appendix), and so is an optional field left `None` (e.g.
//! `eth.tx.function_name` without a matching ABI). Errors fail closed in the authorizer.

use std::collections::BTreeMap;

use crate::limits::Counters;
use crate::value::{Int, Timestamp, U256, Value};

/// A user who approved the activity (`approvers`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct User {
    /// `id`.
    pub id: String,
    /// `tags`: the ids of the user's tags.
    pub tags: Vec<String>,
    /// `email`, if the user has one.
    pub email: Option<String>,
    /// `alias` (the user name), if set.
    pub alias: Option<String>,
}

/// A credential that approved the activity (`credentials`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Credential {
    /// `id`: the API key or authenticator id.
    pub id: String,
    /// `user_id`.
    pub user_id: String,
    /// `type`, e.g. `CREDENTIAL_TYPE_API_KEY_P256`.
    pub credential_type: String,
    /// `credential_id`: passkeys only.
    pub credential_id: Option<String>,
    /// `public_key`.
    pub public_key: String,
}

/// `activity`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Activity {
    /// `type`, e.g. `ACTIVITY_TYPE_SIGN_TRANSACTION_V2`.
    pub activity_type: String,
    /// `kind`, e.g. `SIGN_TRANSACTION` (see [`activity_kind`]).
    pub kind: String,
    /// `resource`, e.g. `PRIVATE_KEY`.
    pub resource: String,
    /// `action`, e.g. `SIGN`.
    pub action: String,
    /// `params`: only the fields Turnkey exposes for this activity type.
    pub params: BTreeMap<String, Value>,
}

impl Activity {
    /// An activity with `kind` derived from `activity_type` and no params.
    #[must_use]
    pub fn new(activity_type: &str, resource: &str, action: &str) -> Activity {
        Activity {
            activity_type: activity_type.to_owned(),
            kind: activity_kind(activity_type),
            resource: resource.to_owned(),
            action: action.to_owned(),
            params: BTreeMap::new(),
        }
    }

    /// Adds one `activity.params` field.
    #[must_use]
    pub fn with_param(mut self, name: &str, value: impl Into<Value>) -> Activity {
        self.params.insert(name.to_owned(), value.into());
        self
    }
}

/// The version-agnostic kind of an activity type: `ACTIVITY_TYPE_SIGN_TRANSACTION_V2` →
/// `SIGN_TRANSACTION` (strip the prefix and a trailing `_V<digits>`).
#[must_use]
pub fn activity_kind(activity_type: &str) -> String {
    let base = activity_type
        .strip_prefix("ACTIVITY_TYPE_")
        .unwrap_or(activity_type);
    match base.rsplit_once("_V") {
        Some((head, v)) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
            head.to_owned()
        }
        _ => base.to_owned(),
    }
}

/// `wallet` / an element of `wallets`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Wallet {
    /// `id`.
    pub id: String,
    /// `imported`.
    pub imported: bool,
    /// `exported`.
    pub exported: bool,
    /// `label` (the wallet name).
    pub label: String,
}

/// `private_key`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PrivateKey {
    /// `id`.
    pub id: String,
    /// `tags`.
    pub tags: Vec<String>,
    /// `imported`.
    pub imported: bool,
    /// `exported`.
    pub exported: bool,
    /// `label`.
    pub label: String,
}

/// `wallet_account`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WalletAccount {
    /// `address`.
    pub address: String,
}

/// `eth.tx`: a parsed Ethereum transaction.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EthTx {
    /// `from`.
    pub from: String,
    /// `to`; `None` for contract creation.
    pub to: Option<String>,
    /// `data`: `0x`-prefixed lowercase hex calldata.
    pub data: String,
    /// `value` in wei.
    pub value: U256,
    /// `gas`.
    pub gas: U256,
    /// `gas_price` (for EIP-1559 transactions, `max_fee_per_gas`).
    pub gas_price: U256,
    /// `chain_id`.
    pub chain_id: U256,
    /// `nonce`.
    pub nonce: U256,
    /// `max_fee_per_gas` (EIP-1559 and later).
    pub max_fee_per_gas: Option<U256>,
    /// `max_priority_fee_per_gas` (EIP-1559 and later).
    pub max_priority_fee_per_gas: Option<U256>,
    /// `max_fee_per_blob_gas` (EIP-4844).
    pub max_fee_per_blob_gas: Option<U256>,
    /// `type`: `LEGACY`, `TYPE_1` … `TYPE_4`.
    pub tx_type: String,
    /// `function_name` (with a matching smart contract interface).
    pub function_name: Option<String>,
    /// `function_signature` (with a matching smart contract interface).
    pub function_signature: Option<String>,
    /// `contract_call_args` (with a matching smart contract interface).
    pub contract_call_args: Option<BTreeMap<String, Value>>,
}

/// `eth.eip_712`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Eip712 {
    /// `primary_type`.
    pub primary_type: String,
    /// `domain.name`.
    pub domain_name: Option<String>,
    /// `domain.version`.
    pub domain_version: Option<String>,
    /// `domain.chain_id`.
    pub domain_chain_id: Option<U256>,
    /// `domain.verifying_contract`.
    pub domain_verifying_contract: Option<String>,
    /// `message`: the JSON message as values (lowercase hex strings, numbers as [`Value::Int`]
    /// where the type is an integer).
    pub message: BTreeMap<String, Value>,
}

/// `eth.eip_7702_authorization`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Eip7702Authorization {
    /// `address`.
    pub address: String,
    /// `chain_id`.
    pub chain_id: U256,
    /// `nonce`.
    pub nonce: U256,
}

/// `solana.tx`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SolanaTx {
    /// `account_keys`.
    pub account_keys: Vec<String>,
    /// `program_keys`.
    pub program_keys: Vec<String>,
    /// `instructions`.
    pub instructions: Vec<SolanaInstruction>,
    /// `transfers` (native SOL, top-level System Program transfers).
    pub transfers: Vec<SolanaTransfer>,
    /// `recent_blockhash`.
    pub recent_blockhash: String,
    /// `spl_transfers`.
    pub spl_transfers: Vec<SplTransfer>,
    /// `address_table_lookups`.
    pub address_table_lookups: Vec<AddressTableLookup>,
}

/// An element of `solana.tx.instructions`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SolanaInstruction {
    /// `program_key`.
    pub program_key: String,
    /// `accounts`.
    pub accounts: Vec<SolanaAccount>,
    /// `instruction_data_hex`.
    pub instruction_data_hex: String,
    /// `address_table_lookups`.
    pub address_table_lookups: Vec<AddressTableLookup>,
    /// `parsed_instruction_data` (with an uploaded IDL).
    pub parsed_instruction_data: Option<SolanaParsedInstruction>,
}

/// `parsed_instruction_data`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SolanaParsedInstruction {
    /// `instruction_name`.
    pub instruction_name: String,
    /// `discriminator`.
    pub discriminator: String,
    /// `named_accounts` (also readable as `named_account`).
    pub named_accounts: BTreeMap<String, String>,
    /// `program_call_args`.
    pub program_call_args: BTreeMap<String, Value>,
}

/// An instruction account.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SolanaAccount {
    /// `account_key` (`ADDRESS_TABLE_LOOKUP` when resolved through a lookup table).
    pub account_key: String,
    /// `signer`.
    pub signer: bool,
    /// `writable`.
    pub writable: bool,
}

/// A native SOL transfer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SolanaTransfer {
    /// `from`.
    pub from: String,
    /// `to`.
    pub to: String,
    /// `amount` in lamports.
    pub amount: U256,
}

/// An SPL token transfer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SplTransfer {
    /// `from` (token account).
    pub from: String,
    /// `to` (token account).
    pub to: String,
    /// `amount` in atomic units.
    pub amount: U256,
    /// `owner`.
    pub owner: String,
    /// `signers` (multisig).
    pub signers: Vec<String>,
    /// `token_mint`.
    pub token_mint: String,
}

/// An address table lookup.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AddressTableLookup {
    /// `address_table_key`.
    pub address_table_key: String,
    /// `writable_indexes`.
    pub writable_indexes: Vec<u8>,
    /// `readonly_indexes`.
    pub readonly_indexes: Vec<u8>,
}

/// `bitcoin.tx`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BitcoinTx {
    /// `version` (a string, as Turnkey documents it).
    pub version: String,
    /// `inputs`.
    pub inputs: Vec<BitcoinInput>,
    /// `outputs`.
    pub outputs: Vec<BitcoinOutput>,
    /// `locktime.amount`.
    pub locktime_amount: u32,
    /// `locktime.type`: `Seconds` or `Blocks`.
    pub locktime_type: String,
    /// `fee` in satoshis (inputs minus outputs).
    pub fee: Int,
}

/// A Bitcoin input.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BitcoinInput {
    /// `tx_id`.
    pub tx_id: String,
    /// `vout`.
    pub vout: u32,
    /// `sequence`.
    pub sequence: u32,
}

/// A Bitcoin output.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BitcoinOutput {
    /// `value` in satoshis.
    pub value: u64,
    /// `script_pubkey` (hex).
    pub script_pubkey: String,
    /// `address`.
    pub address: String,
    /// `address_type`.
    pub address_type: String,
}

/// `tempo.tx`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TempoTx {
    /// `chain_id`.
    pub chain_id: U256,
    /// `from`.
    pub from: String,
    /// `nonce`.
    pub nonce: U256,
    /// `gas_limit`.
    pub gas_limit: U256,
    /// `max_fee_per_gas`.
    pub max_fee_per_gas: U256,
    /// `max_priority_fee_per_gas`.
    pub max_priority_fee_per_gas: U256,
    /// `fee_token`.
    pub fee_token: String,
    /// `valid_before` (0 when unset).
    pub valid_before: u64,
    /// `valid_after` (0 when unset).
    pub valid_after: u64,
    /// `calls`.
    pub calls: Vec<TempoCall>,
}

/// A Tempo call.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TempoCall {
    /// `to` (empty for contract creation).
    pub to: String,
    /// `input` (hex).
    pub input: String,
    /// `function_signature` (empty when the input is too short).
    pub function_signature: String,
}

/// Everything a policy can read about one activity.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Context {
    /// `activity`.
    pub activity: Activity,
    /// `approvers`: the users who approved so far (the submitter first).
    pub approvers: Vec<User>,
    /// `credentials`: the credentials that approved so far.
    pub credentials: Vec<Credential>,
    /// `wallet`.
    pub wallet: Option<Wallet>,
    /// `wallets`.
    pub wallets: Option<Vec<Wallet>>,
    /// `private_key`.
    pub private_key: Option<PrivateKey>,
    /// `wallet_account`.
    pub wallet_account: Option<WalletAccount>,
    /// `eth.tx`.
    pub eth_tx: Option<EthTx>,
    /// `eth.eip_712`.
    pub eth_eip_712: Option<Eip712>,
    /// `eth.eip_7702_authorization`.
    pub eth_eip_7702_authorization: Option<Eip7702Authorization>,
    /// `solana.tx`.
    pub solana_tx: Option<SolanaTx>,
    /// `tron.tx`, as a record shaped like `TronTransaction` (fields a contract type lacks are
    /// simply absent and read as `MissingField`).
    pub tron_tx: Option<Value>,
    /// `bitcoin.tx`.
    pub bitcoin_tx: Option<BitcoinTx>,
    /// `tempo.tx`.
    pub tempo_tx: Option<TempoTx>,
    /// `time.now`: the enclave's trusted time for this request.
    pub now: Option<Timestamp>,
    /// keyhold limits counters (see `LANGUAGE.md`).
    pub counters: Counters,
}

/// A record with only the fields that are present.
fn rec<const N: usize>(fields: [(&str, Option<Value>); N]) -> Value {
    Value::record(fields.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))))
}

fn s(v: &str) -> Option<Value> {
    Some(Value::str(v))
}

fn i(v: impl Into<Int>) -> Option<Value> {
    Some(Value::int(v))
}

fn b(v: bool) -> Option<Value> {
    Some(Value::Bool(v))
}

fn strs(v: &[String]) -> Option<Value> {
    Some(Value::strings(v))
}

fn list<T>(items: &[T], f: impl Fn(&T) -> Value) -> Option<Value> {
    Some(Value::list(items.iter().map(f)))
}

fn map(m: &BTreeMap<String, Value>) -> Value {
    Value::record(m.iter().map(|(k, v)| (k.clone(), v.clone())))
}

impl User {
    pub(crate) fn to_value(&self) -> Value {
        rec([
            ("id", s(&self.id)),
            ("tags", strs(&self.tags)),
            ("email", self.email.as_deref().map(Value::str)),
            ("alias", self.alias.as_deref().map(Value::str)),
        ])
    }
}

impl Credential {
    pub(crate) fn to_value(&self) -> Value {
        rec([
            ("id", s(&self.id)),
            ("user_id", s(&self.user_id)),
            ("type", s(&self.credential_type)),
            (
                "credential_id",
                self.credential_id.as_deref().map(Value::str),
            ),
            ("public_key", s(&self.public_key)),
        ])
    }
}

impl Wallet {
    fn to_value(&self) -> Value {
        rec([
            ("id", s(&self.id)),
            ("imported", b(self.imported)),
            ("exported", b(self.exported)),
            ("label", s(&self.label)),
        ])
    }
}

fn lookup(l: &AddressTableLookup) -> Value {
    rec([
        ("address_table_key", s(&l.address_table_key)),
        (
            "writable_indexes",
            list(&l.writable_indexes, |v| Value::int(u32::from(*v))),
        ),
        (
            "readonly_indexes",
            list(&l.readonly_indexes, |v| Value::int(u32::from(*v))),
        ),
    ])
}

impl Context {
    /// The value of every top-level keyword that this context provides.
    pub(crate) fn roots(&self) -> BTreeMap<&'static str, Value> {
        let mut r = BTreeMap::new();
        let a = &self.activity;
        r.insert(
            "activity",
            rec([
                ("type", s(&a.activity_type)),
                ("kind", s(&a.kind)),
                ("resource", s(&a.resource)),
                ("action", s(&a.action)),
                ("params", Some(map(&a.params))),
            ]),
        );
        r.insert(
            "approvers",
            Value::list(self.approvers.iter().map(User::to_value)),
        );
        r.insert(
            "credentials",
            Value::list(self.credentials.iter().map(Credential::to_value)),
        );
        if let Some(w) = &self.wallet {
            r.insert("wallet", w.to_value());
        }
        if let Some(ws) = &self.wallets {
            r.insert("wallets", Value::list(ws.iter().map(Wallet::to_value)));
        }
        if let Some(k) = &self.private_key {
            r.insert(
                "private_key",
                rec([
                    ("id", s(&k.id)),
                    ("tags", strs(&k.tags)),
                    ("imported", b(k.imported)),
                    ("exported", b(k.exported)),
                    ("label", s(&k.label)),
                ]),
            );
        }
        if let Some(w) = &self.wallet_account {
            r.insert("wallet_account", rec([("address", s(&w.address))]));
        }
        let eth_tx = self.eth_tx.as_ref().map(|t| {
            rec([
                ("from", s(&t.from)),
                ("to", t.to.as_deref().map(Value::str)),
                ("data", s(&t.data)),
                ("value", i(t.value)),
                ("gas", i(t.gas)),
                ("gas_price", i(t.gas_price)),
                ("chain_id", i(t.chain_id)),
                ("nonce", i(t.nonce)),
                ("max_fee_per_gas", t.max_fee_per_gas.map(Value::int)),
                (
                    "max_priority_fee_per_gas",
                    t.max_priority_fee_per_gas.map(Value::int),
                ),
                (
                    "max_fee_per_blob_gas",
                    t.max_fee_per_blob_gas.map(Value::int),
                ),
                ("type", s(&t.tx_type)),
                ("function_name", t.function_name.as_deref().map(Value::str)),
                (
                    "function_signature",
                    t.function_signature.as_deref().map(Value::str),
                ),
                ("contract_call_args", t.contract_call_args.as_ref().map(map)),
            ])
        });
        let eip_712 = self.eth_eip_712.as_ref().map(|e| {
            rec([
                ("primary_type", s(&e.primary_type)),
                (
                    "domain",
                    Some(rec([
                        ("name", e.domain_name.as_deref().map(Value::str)),
                        ("version", e.domain_version.as_deref().map(Value::str)),
                        ("chain_id", e.domain_chain_id.map(Value::int)),
                        (
                            "verifying_contract",
                            e.domain_verifying_contract.as_deref().map(Value::str),
                        ),
                    ])),
                ),
                ("message", Some(map(&e.message))),
            ])
        });
        let eip_7702 = self.eth_eip_7702_authorization.as_ref().map(|e| {
            rec([
                ("address", s(&e.address)),
                ("chain_id", i(e.chain_id)),
                ("nonce", i(e.nonce)),
            ])
        });
        r.insert(
            "eth",
            rec([
                ("tx", eth_tx),
                ("eip_712", eip_712),
                ("eip_7702_authorization", eip_7702),
            ]),
        );
        let sol = self.solana_tx.as_ref().map(|t| {
            rec([
                ("account_keys", strs(&t.account_keys)),
                ("program_keys", strs(&t.program_keys)),
                (
                    "instructions",
                    list(&t.instructions, |ins| {
                        rec([
                            ("program_key", s(&ins.program_key)),
                            (
                                "accounts",
                                list(&ins.accounts, |a| {
                                    rec([
                                        ("account_key", s(&a.account_key)),
                                        ("signer", b(a.signer)),
                                        ("writable", b(a.writable)),
                                    ])
                                }),
                            ),
                            ("instruction_data_hex", s(&ins.instruction_data_hex)),
                            (
                                "address_table_lookups",
                                list(&ins.address_table_lookups, lookup),
                            ),
                            (
                                "parsed_instruction_data",
                                ins.parsed_instruction_data.as_ref().map(|p| {
                                    let named = Value::record(
                                        p.named_accounts
                                            .iter()
                                            .map(|(k, v)| (k.clone(), Value::str(v))),
                                    );
                                    rec([
                                        ("instruction_name", s(&p.instruction_name)),
                                        ("discriminator", s(&p.discriminator)),
                                        ("named_accounts", Some(named.clone())),
                                        ("named_account", Some(named)),
                                        ("program_call_args", Some(map(&p.program_call_args))),
                                    ])
                                }),
                            ),
                        ])
                    }),
                ),
                (
                    "transfers",
                    list(&t.transfers, |x| {
                        rec([
                            ("from", s(&x.from)),
                            ("to", s(&x.to)),
                            ("amount", i(x.amount)),
                        ])
                    }),
                ),
                ("recent_blockhash", s(&t.recent_blockhash)),
                (
                    "spl_transfers",
                    list(&t.spl_transfers, |x| {
                        rec([
                            ("from", s(&x.from)),
                            ("to", s(&x.to)),
                            ("amount", i(x.amount)),
                            ("owner", s(&x.owner)),
                            ("signers", strs(&x.signers)),
                            ("token_mint", s(&x.token_mint)),
                        ])
                    }),
                ),
                (
                    "address_table_lookups",
                    list(&t.address_table_lookups, lookup),
                ),
            ])
        });
        r.insert("solana", rec([("tx", sol)]));
        r.insert("tron", rec([("tx", self.tron_tx.clone())]));
        let btc = self.bitcoin_tx.as_ref().map(|t| {
            rec([
                ("version", s(&t.version)),
                (
                    "inputs",
                    list(&t.inputs, |x| {
                        rec([
                            ("tx_id", s(&x.tx_id)),
                            ("vout", i(x.vout)),
                            ("sequence", i(x.sequence)),
                        ])
                    }),
                ),
                (
                    "outputs",
                    list(&t.outputs, |x| {
                        rec([
                            ("value", i(x.value)),
                            ("script_pubkey", s(&x.script_pubkey)),
                            ("address", s(&x.address)),
                            ("address_type", s(&x.address_type)),
                        ])
                    }),
                ),
                (
                    "locktime",
                    Some(rec([
                        ("amount", i(t.locktime_amount)),
                        ("type", s(&t.locktime_type)),
                    ])),
                ),
                ("fee", i(t.fee)),
            ])
        });
        r.insert("bitcoin", rec([("tx", btc)]));
        let tempo = self.tempo_tx.as_ref().map(|t| {
            rec([
                ("chain_id", i(t.chain_id)),
                ("from", s(&t.from)),
                ("nonce", i(t.nonce)),
                ("gas_limit", i(t.gas_limit)),
                ("max_fee_per_gas", i(t.max_fee_per_gas)),
                ("max_priority_fee_per_gas", i(t.max_priority_fee_per_gas)),
                ("fee_token", s(&t.fee_token)),
                ("valid_before", i(t.valid_before)),
                ("valid_after", i(t.valid_after)),
                (
                    "calls",
                    list(&t.calls, |c| {
                        rec([
                            ("to", s(&c.to)),
                            ("input", s(&c.input)),
                            ("function_signature", s(&c.function_signature)),
                        ])
                    }),
                ),
            ])
        });
        r.insert("tempo", rec([("tx", tempo)]));
        r.insert("time", rec([("now", self.now.map(Value::Timestamp))]));
        let empty = || Value::record::<&str>([]);
        r.insert(
            "spend",
            Value::record([("eth", empty()), ("solana", empty()), ("bitcoin", empty())]),
        );
        r.insert("signatures", Value::record::<&str>([]));
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{self, Ty};

    /// Checks a value against a schema type; with `complete`, every struct field must be present.
    fn conforms(v: &Value, t: Ty, path: &str, complete: bool, errs: &mut Vec<String>) {
        match (t, v) {
            (Ty::Bool, Value::Bool(_))
            | (Ty::Int, Value::Int(_))
            | (Ty::Str, Value::Str(_))
            | (Ty::Timestamp, Value::Timestamp(_))
            | (Ty::Dyn, _) => {}
            (Ty::List(inner), Value::List(items)) => {
                for (i, item) in items.iter().enumerate() {
                    conforms(item, *inner, &format!("{path}[{i}]"), complete, errs);
                }
            }
            (Ty::Map(inner), Value::Record(m)) => {
                for (k, item) in m.iter() {
                    conforms(item, *inner, &format!("{path}['{k}']"), complete, errs);
                }
            }
            (Ty::Struct(name), Value::Record(m)) => {
                let def = schema::find_struct(name).unwrap();
                for (k, item) in m.iter() {
                    match def.fields.iter().find(|(f, _)| f == k) {
                        Some((_, ft)) => {
                            conforms(item, *ft, &format!("{path}.{k}"), complete, errs)
                        }
                        None => errs.push(format!("{path}.{k} is not in the schema")),
                    }
                }
                for (f, ft) in def.fields {
                    if complete && !matches!(ft, Ty::Counter(_)) && !m.contains_key(*f) {
                        errs.push(format!("{path}.{f} is never filled"));
                    }
                }
            }
            _ => errs.push(format!("{path}: {} is not {t:?}", v.kind())),
        }
    }

    fn full_context() -> Context {
        let lookup = AddressTableLookup {
            address_table_key: "k".into(),
            writable_indexes: vec![1],
            readonly_indexes: vec![2],
        };
        Context {
            activity: Activity::new("ACTIVITY_TYPE_SIGN_TRANSACTION_V2", "PRIVATE_KEY", "SIGN"),
            approvers: vec![User {
                id: "u".into(),
                tags: vec!["t".into()],
                email: Some("e".into()),
                alias: Some("a".into()),
            }],
            credentials: vec![Credential {
                credential_id: Some("c".into()),
                ..Credential::default()
            }],
            wallet: Some(Wallet::default()),
            wallets: Some(vec![Wallet::default()]),
            private_key: Some(PrivateKey {
                tags: vec!["t".into()],
                ..PrivateKey::default()
            }),
            wallet_account: Some(WalletAccount::default()),
            eth_tx: Some(EthTx {
                to: Some("t".into()),
                max_fee_per_gas: Some(U256::ZERO),
                max_priority_fee_per_gas: Some(U256::ZERO),
                max_fee_per_blob_gas: Some(U256::ZERO),
                function_name: Some("f".into()),
                function_signature: Some("s".into()),
                contract_call_args: Some(BTreeMap::new()),
                ..EthTx::default()
            }),
            eth_eip_712: Some(Eip712 {
                domain_name: Some("n".into()),
                domain_version: Some("1".into()),
                domain_chain_id: Some(U256::ZERO),
                domain_verifying_contract: Some("v".into()),
                ..Eip712::default()
            }),
            eth_eip_7702_authorization: Some(Eip7702Authorization::default()),
            solana_tx: Some(SolanaTx {
                account_keys: vec!["a".into()],
                program_keys: vec!["p".into()],
                instructions: vec![SolanaInstruction {
                    accounts: vec![SolanaAccount::default()],
                    address_table_lookups: vec![lookup.clone()],
                    parsed_instruction_data: Some(SolanaParsedInstruction::default()),
                    ..SolanaInstruction::default()
                }],
                transfers: vec![SolanaTransfer::default()],
                spl_transfers: vec![SplTransfer {
                    signers: vec!["s".into()],
                    ..SplTransfer::default()
                }],
                address_table_lookups: vec![lookup],
                ..SolanaTx::default()
            }),
            tron_tx: None,
            bitcoin_tx: Some(BitcoinTx {
                inputs: vec![BitcoinInput::default()],
                outputs: vec![BitcoinOutput::default()],
                ..BitcoinTx::default()
            }),
            tempo_tx: Some(TempoTx {
                calls: vec![TempoCall::default()],
                ..TempoTx::default()
            }),
            now: Some(Timestamp::from_unix_seconds(0)),
            counters: Counters::default(),
        }
    }

    /// The context fills exactly the schema: no field the checker accepts is left out (except
    /// `tron.tx`, supplied as a value, and the union `activity.params`), and no field is
    /// misspelled.
    #[test]
    fn context_matches_schema() {
        let roots = full_context().roots();
        let mut errs = Vec::new();
        for (name, ty, _) in schema::ROOTS {
            let v = roots.get(name).unwrap();
            conforms(v, *ty, name, true, &mut errs);
        }
        errs.retain(|e| e != "tron.tx is never filled" && !e.starts_with("activity.params."));
        assert!(errs.is_empty(), "{errs:#?}");
    }

    #[test]
    fn kinds() {
        assert_eq!(
            activity_kind("ACTIVITY_TYPE_SIGN_TRANSACTION_V2"),
            "SIGN_TRANSACTION"
        );
        assert_eq!(
            activity_kind("ACTIVITY_TYPE_SIGN_TRANSACTION"),
            "SIGN_TRANSACTION"
        );
        assert_eq!(
            activity_kind("ACTIVITY_TYPE_CREATE_SUB_ORGANIZATION_V8"),
            "CREATE_SUB_ORGANIZATION"
        );
        assert_eq!(activity_kind("ACTIVITY_TYPE_OTP_LOGIN_V2"), "OTP_LOGIN");
        assert_eq!(
            activity_kind("ACTIVITY_TYPE_CREATE_OAUTH2_CREDENTIAL"),
            "CREATE_OAUTH2_CREDENTIAL"
        );
    }
}
