//! The objects and fields a policy may read, as data.
//!
//! Field names and types are Turnkey's (`turnkey-policy-language.mdx`, "Types" and "Nested
//! structs"), with two keyhold conventions: `int`, `uint` and `number` are one integer type (see
//! [`crate::value::Int`]), and Turnkey's `ContractArgument` / EIP-712 `Value` (any JSON-like
//! value) is the dynamically typed [`Ty::Dyn`], checked when evaluated. To expose a new field,
//! add a row here and fill it in [`crate::context`].

use crate::limits::Metric;

/// A type in the schema.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Ty {
    Bool,
    Int,
    Str,
    Timestamp,
    /// Any value, checked when evaluated (contract arguments, EIP-712 messages).
    Dyn,
    List(&'static Ty),
    /// String keys, accessed with `m['key']`.
    Map(&'static Ty),
    Struct(&'static str),
    /// A keyhold limits function (`spend.eth.wei('24h')`).
    Counter(Metric),
}

pub(crate) struct StructDef {
    pub(crate) name: &'static str,
    pub(crate) fields: &'static [(&'static str, Ty)],
}

/// Which policy field an expression is written in; each has its own keywords.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Scope {
    /// `condition`: the activity and what it touches.
    Condition,
    /// `consensus`: who approved.
    Consensus,
    /// `time`: when the policy is active.
    Time,
}

impl Scope {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Scope::Condition => "condition",
            Scope::Consensus => "consensus",
            Scope::Time => "time",
        }
    }
}

use Ty::{Bool, Dyn, Int, Str, Struct};

const STRS: Ty = Ty::List(&Str);
const INTS: Ty = Ty::List(&Int);

/// Top-level keywords, their type and the field they belong to.
pub(crate) static ROOTS: &[(&str, Ty, Scope)] = &[
    ("approvers", Ty::List(&Struct("User")), Scope::Consensus),
    (
        "credentials",
        Ty::List(&Struct("Credential")),
        Scope::Consensus,
    ),
    ("activity", Struct("Activity"), Scope::Condition),
    ("eth", Struct("eth"), Scope::Condition),
    ("solana", Struct("solana"), Scope::Condition),
    ("tron", Struct("tron"), Scope::Condition),
    ("bitcoin", Struct("bitcoin"), Scope::Condition),
    ("tempo", Struct("tempo"), Scope::Condition),
    ("wallet", Struct("Wallet"), Scope::Condition),
    ("wallets", Ty::List(&Struct("Wallet")), Scope::Condition),
    ("private_key", Struct("PrivateKey"), Scope::Condition),
    ("wallet_account", Struct("WalletAccount"), Scope::Condition),
    ("spend", Struct("spend"), Scope::Condition),
    ("signatures", Struct("signatures"), Scope::Condition),
    ("time", Struct("time"), Scope::Time),
];

pub(crate) static STRUCTS: &[StructDef] = &[
    // Namespaces.
    StructDef {
        name: "eth",
        fields: &[
            ("tx", Struct("EthereumTransaction")),
            ("eip_712", Struct("Eip712TypedData")),
            ("eip_7702_authorization", Struct("Eip7702Authorization")),
        ],
    },
    StructDef {
        name: "solana",
        fields: &[("tx", Struct("SolanaTransaction"))],
    },
    StructDef {
        name: "tron",
        fields: &[("tx", Struct("TronTransaction"))],
    },
    StructDef {
        name: "bitcoin",
        fields: &[("tx", Struct("BitcoinTransaction"))],
    },
    StructDef {
        name: "tempo",
        fields: &[("tx", Struct("TempoTransaction"))],
    },
    StructDef {
        name: "time",
        fields: &[("now", Ty::Timestamp)],
    },
    // keyhold limits extension (LANGUAGE.md).
    StructDef {
        name: "spend",
        fields: &[
            ("eth", Struct("spend.eth")),
            ("solana", Struct("spend.solana")),
            ("bitcoin", Struct("spend.bitcoin")),
        ],
    },
    StructDef {
        name: "spend.eth",
        fields: &[("wei", Ty::Counter(Metric::EthWei))],
    },
    StructDef {
        name: "spend.solana",
        fields: &[("lamports", Ty::Counter(Metric::SolanaLamports))],
    },
    StructDef {
        name: "spend.bitcoin",
        fields: &[("sats", Ty::Counter(Metric::BitcoinSats))],
    },
    StructDef {
        name: "signatures",
        fields: &[("count", Ty::Counter(Metric::Signatures))],
    },
    // Consensus.
    StructDef {
        name: "User",
        fields: &[("id", Str), ("tags", STRS), ("email", Str), ("alias", Str)],
    },
    StructDef {
        name: "Credential",
        fields: &[
            ("id", Str),
            ("user_id", Str),
            ("type", Str),
            ("credential_id", Str),
            ("public_key", Str),
        ],
    },
    // Condition.
    StructDef {
        name: "Activity",
        fields: &[
            ("type", Str),
            ("kind", Str),
            ("resource", Str),
            ("action", Str),
            ("params", Struct("ActivityParams")),
        ],
    },
    // The union of every activity's exposed parameters ("Activity parameters"); a field the
    // current activity does not expose is a `MissingField` evaluation error.
    StructDef {
        name: "ActivityParams",
        fields: &[
            ("hash_function", Str),
            ("encoding", Str),
            ("type", Str),
            ("user_ids", STRS),
            ("user_id", Str),
            ("api_key_ids", STRS),
            ("target_public_key", Str),
            ("wallet_id", Str),
            ("otp_length", Int),
            ("session_profile_id", Str),
            ("endpoint_id", Str),
            ("sign_with", Str),
            ("signatures", Ty::List(&Struct("SparkSignatureRequest"))),
            ("transfer", Struct("SparkTransferPackage")),
            ("claim", Struct("SparkClaimPackage")),
            ("lightning_receive", Struct("SparkLightningReceivePackage")),
        ],
    },
    StructDef {
        name: "Wallet",
        fields: &[
            ("id", Str),
            ("imported", Bool),
            ("exported", Bool),
            ("label", Str),
        ],
    },
    StructDef {
        name: "WalletAccount",
        fields: &[("address", Str)],
    },
    StructDef {
        name: "PrivateKey",
        fields: &[
            ("id", Str),
            ("tags", STRS),
            ("imported", Bool),
            ("exported", Bool),
            ("label", Str),
        ],
    },
    StructDef {
        name: "EthereumTransaction",
        fields: &[
            ("from", Str),
            ("to", Str),
            ("data", Str),
            ("value", Int),
            ("gas", Int),
            ("gas_price", Int),
            ("chain_id", Int),
            ("nonce", Int),
            ("max_fee_per_gas", Int),
            ("max_priority_fee_per_gas", Int),
            ("max_fee_per_blob_gas", Int),
            ("type", Str),
            ("function_name", Str),
            ("function_signature", Str),
            ("contract_call_args", Ty::Map(&Dyn)),
        ],
    },
    StructDef {
        name: "Eip712TypedData",
        fields: &[
            ("primary_type", Str),
            ("domain", Struct("Eip712Domain")),
            ("message", Ty::Map(&Dyn)),
        ],
    },
    StructDef {
        name: "Eip712Domain",
        fields: &[
            ("name", Str),
            ("version", Str),
            ("chain_id", Int),
            ("verifying_contract", Str),
        ],
    },
    StructDef {
        name: "Eip7702Authorization",
        fields: &[("address", Str), ("chain_id", Int), ("nonce", Int)],
    },
    StructDef {
        name: "SolanaTransaction",
        fields: &[
            ("account_keys", STRS),
            ("program_keys", STRS),
            ("instructions", Ty::List(&Struct("Instruction"))),
            ("transfers", Ty::List(&Struct("Transfer"))),
            ("recent_blockhash", Str),
            ("spl_transfers", Ty::List(&Struct("SPLTransfer"))),
            (
                "address_table_lookups",
                Ty::List(&Struct("AddressTableLookup")),
            ),
        ],
    },
    StructDef {
        name: "Instruction",
        fields: &[
            ("program_key", Str),
            ("accounts", Ty::List(&Struct("Account"))),
            ("instruction_data_hex", Str),
            (
                "address_table_lookups",
                Ty::List(&Struct("AddressTableLookup")),
            ),
            (
                "parsed_instruction_data",
                Struct("SolanaParsedInstructionData"),
            ),
        ],
    },
    StructDef {
        name: "Transfer",
        fields: &[("from", Str), ("to", Str), ("amount", Int)],
    },
    StructDef {
        name: "SPLTransfer",
        fields: &[
            ("from", Str),
            ("to", Str),
            ("amount", Int),
            ("owner", Str),
            ("signers", STRS),
            ("token_mint", Str),
        ],
    },
    StructDef {
        name: "Account",
        fields: &[("account_key", Str), ("signer", Bool), ("writable", Bool)],
    },
    StructDef {
        name: "AddressTableLookup",
        fields: &[
            ("address_table_key", Str),
            ("writable_indexes", INTS),
            ("readonly_indexes", INTS),
        ],
    },
    // The struct table spells it `named_account`, the prose `named_accounts`: both are accepted.
    StructDef {
        name: "SolanaParsedInstructionData",
        fields: &[
            ("instruction_name", Str),
            ("discriminator", Str),
            ("named_accounts", Ty::Map(&Str)),
            ("named_account", Ty::Map(&Str)),
            ("program_call_args", Ty::Map(&Dyn)),
        ],
    },
    StructDef {
        name: "TronTransaction",
        fields: &[
            ("ref_block_bytes", Str),
            ("ref_block_hash", Str),
            ("expiration", Int),
            ("timestamp", Int),
            ("data", Str),
            ("fee_limit", Int),
            ("contract", Ty::List(&Struct("TronContract"))),
        ],
    },
    StructDef {
        name: "TronContract",
        fields: &[
            ("type", Str),
            ("permission_id", Int),
            ("owner_address", Str),
            ("to_address", Str),
            ("amount", Int),
            ("contract_address", Str),
            ("call_value", Int),
            ("data", Str),
            ("call_token_value", Int),
            ("token_id", Int),
            ("resource", Str),
            ("balance", Int),
            ("receiver_address", Str),
            ("lock", Bool),
            ("lock_period", Int),
            ("frozen_balance", Int),
            ("unfreeze_balance", Int),
            ("owner", Struct("TronPermission")),
            ("witness", Struct("TronPermission")),
            ("actives", Ty::List(&Struct("TronPermission"))),
        ],
    },
    StructDef {
        name: "TronPermission",
        fields: &[
            ("type", Str),
            ("id", Int),
            ("permission_name", Str),
            ("threshold", Int),
            ("parent_id", Int),
            ("operations", Str),
            ("keys", Ty::List(&Struct("TronKey"))),
        ],
    },
    StructDef {
        name: "TronKey",
        fields: &[("address", Str), ("weight", Int)],
    },
    StructDef {
        name: "BitcoinTransaction",
        fields: &[
            ("version", Str),
            ("inputs", Ty::List(&Struct("BitcoinTxInput"))),
            ("outputs", Ty::List(&Struct("BitcoinTxOutput"))),
            ("locktime", Struct("BitcoinTxLocktime")),
            ("fee", Int),
        ],
    },
    StructDef {
        name: "BitcoinTxInput",
        fields: &[("tx_id", Str), ("vout", Int), ("sequence", Int)],
    },
    StructDef {
        name: "BitcoinTxOutput",
        fields: &[
            ("value", Int),
            ("script_pubkey", Str),
            ("address", Str),
            ("address_type", Str),
        ],
    },
    StructDef {
        name: "BitcoinTxLocktime",
        fields: &[("amount", Int), ("type", Str)],
    },
    StructDef {
        name: "TempoTransaction",
        fields: &[
            ("chain_id", Int),
            ("from", Str),
            ("nonce", Int),
            ("gas_limit", Int),
            ("max_fee_per_gas", Int),
            ("max_priority_fee_per_gas", Int),
            ("fee_token", Str),
            ("valid_before", Int),
            ("valid_after", Int),
            ("calls", Ty::List(&Struct("TempoCall"))),
        ],
    },
    StructDef {
        name: "TempoCall",
        fields: &[("to", Str), ("input", Str), ("function_signature", Str)],
    },
    // Spark ("Spark" section).
    StructDef {
        name: "SparkSignatureRequest",
        fields: &[
            ("derivation", Struct("SparkKeyDerivation")),
            ("message", Str),
            ("verifying_key", Str),
            (
                "operator_commitments",
                Ty::List(&Struct("SparkFrostCommitment")),
            ),
            ("adaptor_public_key", Str),
        ],
    },
    StructDef {
        name: "SparkKeyDerivation",
        fields: &[
            ("type", Str),
            ("signing_leaf", Struct("SparkSigningLeafDerivation")),
            ("static_deposit", Struct("SparkStaticDepositDerivation")),
        ],
    },
    StructDef {
        name: "SparkSigningLeafDerivation",
        fields: &[("leaf_id", Str)],
    },
    StructDef {
        name: "SparkStaticDepositDerivation",
        fields: &[("index", Int)],
    },
    StructDef {
        name: "SparkFrostCommitment",
        fields: &[("id", Str), ("hiding", Str), ("binding", Str)],
    },
    StructDef {
        name: "SparkTransferPackage",
        fields: &[
            ("transfer_id", Str),
            ("leaves", Ty::List(&Struct("SparkTransferLeaf"))),
            ("threshold", Int),
            (
                "operator_recipients",
                Ty::List(&Struct("SparkOperatorRecipient")),
            ),
            ("receiver_public_key", Str),
        ],
    },
    StructDef {
        name: "SparkTransferLeaf",
        fields: &[
            ("leaf_id", Str),
            ("old_leaf_derivation", Struct("SparkKeyDerivation")),
            ("new_leaf_derivation", Struct("SparkKeyDerivation")),
            ("refund_signature", Str),
            ("direct_refund_signature", Str),
            ("direct_from_cpfp_refund_signature", Str),
        ],
    },
    StructDef {
        name: "SparkOperatorRecipient",
        fields: &[("operator_id", Str), ("encryption_public_key", Str)],
    },
    StructDef {
        name: "SparkClaimPackage",
        fields: &[
            ("leaves", Ty::List(&Struct("SparkClaimLeaf"))),
            ("threshold", Int),
            (
                "operator_recipients",
                Ty::List(&Struct("SparkOperatorRecipient")),
            ),
            ("transfer_id", Str),
            ("sender_identity_public_key", Str),
        ],
    },
    StructDef {
        name: "SparkClaimLeaf",
        fields: &[
            ("leaf_id", Str),
            ("ciphertext", Str),
            ("sender_signature", Str),
        ],
    },
    StructDef {
        name: "SparkLightningReceivePackage",
        fields: &[
            ("threshold", Int),
            (
                "operator_recipients",
                Ty::List(&Struct("SparkOperatorRecipient")),
            ),
        ],
    },
];

pub(crate) fn find_struct(name: &str) -> Option<&'static StructDef> {
    STRUCTS.iter().find(|s| s.name == name)
}

pub(crate) fn find_root(name: &str) -> Option<(Ty, Scope)> {
    ROOTS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, t, s)| (*t, *s))
}

/// The closest candidate within a small edit distance, for "did you mean" hints.
pub(crate) fn suggest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let max = (word.chars().count().div_ceil(3)).clamp(1, 3);
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= max)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    let at = |i: usize, j: usize| i * w + j;
    let get = |d: &[usize], i: usize, j: usize| d.get(at(i, j)).copied().unwrap_or(usize::MAX / 2);
    for i in 0..=a.len() {
        for j in 0..=b.len() {
            let v = if i == 0 {
                j
            } else if j == 0 {
                i
            } else {
                let ca = a.get(i - 1);
                let cb = b.get(j - 1);
                let cost = usize::from(ca != cb);
                let mut v = (get(&d, i - 1, j) + 1)
                    .min(get(&d, i, j - 1) + 1)
                    .min(get(&d, i - 1, j - 1) + cost);
                if i > 1 && j > 1 && ca == b.get(j - 2) && a.get(i - 2) == cb {
                    v = v.min(get(&d, i - 2, j - 2) + 1);
                }
                v
            };
            if let Some(slot) = d.get_mut(at(i, j)) {
                *slot = v;
            }
        }
    }
    get(&d, a.len(), b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every struct a type names exists, so the checker never meets a dangling name.
    #[test]
    fn every_struct_reference_resolves() {
        fn walk(t: &Ty) {
            match t {
                Ty::List(inner) | Ty::Map(inner) => walk(inner),
                Ty::Struct(n) => assert!(find_struct(n).is_some(), "missing struct {n}"),
                _ => {}
            }
        }
        for (_, t, _) in ROOTS {
            walk(t);
        }
        for s in STRUCTS {
            for (_, t) in s.fields {
                walk(t);
            }
        }
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("vlaue", ["value", "gas"]), Some("value"));
        assert_eq!(suggest("xyz", ["value", "gas"]), None);
    }
}
