//! The policy language: the input is up to three expressions separated by NUL bytes
//! (`condition`, `consensus`, `time`). Each is compiled in every scope (so the parser and the
//! type checker see it as every kind of field); if they form a policy, it is evaluated and
//! authorized, as ALLOW and as DENY, against contexts the enclave built from real activities.

use std::sync::OnceLock;

use keyhold_enclave::activities::Envelope;
use keyhold_enclave::org::{OrgState, RootQuorum as OrgRootQuorum, WalletMeta};
use keyhold_policy::{
    Context, Credential, Decision, Effect, Eip712, Env, Expression, Policy, RootQuorum, Scope,
    U256, User, Value, authorize,
};
use keyhold_shared::msg::{
    ActivityContext, AddressFormat, BitcoinKind, BitcoinNetwork, Curve, SealedSeed,
};
use keyhold_shared::{OrgId, Uuid, WalletId};
use serde_json::json;

use crate::samples;

const SCOPES: [Scope; 3] = [Scope::Condition, Scope::Consensus, Scope::Time];

pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(3, '\0');
    let condition = parts.next().unwrap_or("");
    let consensus = parts.next().unwrap_or("");
    let time = parts.next().unwrap_or("");
    for src in [condition, consensus, time] {
        if src.is_empty() {
            continue;
        }
        for scope in SCOPES {
            if let Ok(expression) = Expression::compile(src, scope) {
                assert_eq!(expression.source(), src);
                let _ = expression.counters();
            }
        }
    }
    for effect in [Effect::Allow, Effect::Deny] {
        let Ok(policy) = Policy::new("fuzz", effect, condition, consensus)
            .and_then(|policy| policy.with_time(time))
        else {
            return;
        };
        let root = RootQuorum {
            user_ids: vec![ROOT.into()],
            threshold: 1,
        };
        for ctx in contexts() {
            let mut ctx = ctx.clone();
            // Counters the policy reads, with values that let a limit hold or break.
            for (i, key) in policy.counters().into_iter().enumerate() {
                ctx.counters.set(key, (i as u64) * 1_000_000_007);
            }
            if let Ok(env) = Env::new(&ctx) {
                let _ = policy.evaluate(&env);
            }
            let decision = authorize(std::slice::from_ref(&policy), &root, &ctx).decision();
            // A DENY policy can never allow anything by itself.
            if effect == Effect::Deny && !root.is_met(&ctx) {
                assert_ne!(decision, Decision::Allow);
            }
        }
    }
}

const ROOT: &str = "9a0d7c1e-2f3b-4a5c-8d6e-7f8091a2b3c4";
const ORG: &str = "5b0e9e1c-1d4a-4f6e-9a3b-2c1d0e9f8a7b";
const WALLET: &str = "e1b6a3c0-5f1e-4a7b-9c2d-3e4f5a6b7c8d";

fn org() -> OrgState {
    let wallet_id: WalletId = WALLET
        .parse()
        .unwrap_or(WalletId(Uuid::from_bytes([1; 16])));
    OrgState {
        version: 7,
        wallets: vec![WalletMeta {
            id: wallet_id,
            name: "treasury".into(),
            imported: false,
            exported: true,
            created_at_ms: 0,
        }],
        ..OrgState::new(
            ORG.parse().unwrap_or(OrgId(Uuid::from_bytes([2; 16]))),
            "acme".into(),
            OrgRootQuorum {
                threshold: 1,
                user_ids: Vec::new(),
            },
            0,
        )
    }
}

/// A context as the enclave builds it for `parameters` of `activity_type`, approved by the
/// root user and a tagged user.
fn context(activity_type: &str, parameters: serde_json::Value) -> Option<Context> {
    let body = json!({
        "type": activity_type,
        "timestampMs": "1700000000000",
        "organizationId": ORG,
        "parameters": parameters,
    })
    .to_string();
    let envelope = Envelope::parse(body.as_bytes()).ok()?;
    let account = ActivityContext::WalletAccount {
        wallet_id: WALLET.parse().ok()?,
        path: "m/44'/60'/0'/0/0".into(),
        curve: Curve::Secp256k1,
        address_format: AddressFormat::Ethereum,
        sealed_seed: SealedSeed {
            nonce: [0; 24],
            ciphertext: Vec::new(),
        },
    };
    let mut ctx =
        keyhold_enclave::authorize::context(&org(), &envelope, &[], &account, 1_700_000_000_000);
    for (id, tags, alias) in [
        (ROOT, vec![], "root"),
        (
            "0f3c2a7e-1b7d-4c55-9d0e-6a1f2b3c4d5e",
            vec!["finance"],
            "bob",
        ),
    ] {
        ctx.approvers.push(User {
            id: id.into(),
            tags: tags.into_iter().map(String::from).collect(),
            email: Some(format!("{alias}@example.com")),
            alias: Some(alias.into()),
        });
        ctx.credentials.push(Credential {
            id: format!("key-{alias}"),
            user_id: id.into(),
            credential_type: "CREDENTIAL_TYPE_API_KEY_P256".into(),
            credential_id: None,
            public_key: "02c6f8e1d3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f".into(),
        });
    }
    Some(ctx)
}

/// One context per kind of activity a policy commonly reads.
pub fn contexts() -> &'static [Context] {
    static CONTEXTS: OnceLock<Vec<Context>> = OnceLock::new();
    CONTEXTS.get_or_init(|| {
        let sign = "ACTIVITY_TYPE_SIGN_TRANSACTION_V2";
        let eth_from = "0x2a9e8fa175f45b235efddd97d2727741ef4eee63";
        let secp = k256::ecdsa::SigningKey::from_slice(&crate::chains::SECP256K1_KEY).ok();
        let wpkh = secp.as_ref().map(samples::p2wpkh_script).unwrap_or_default();
        let btc_from = secp
            .as_ref()
            .and_then(|k| {
                keyhold_enclave::chains::bitcoin::address(
                    k.verifying_key(),
                    BitcoinNetwork::Testnet,
                    BitcoinKind::P2wpkh,
                )
                .ok()
            })
            .unwrap_or_default();
        let mut out: Vec<Context> = Vec::new();
        for (_, tx) in samples::ethereum() {
            out.extend(context(
                sign,
                json!({"signWith": eth_from, "type": "TRANSACTION_TYPE_ETHEREUM",
                       "unsignedTransaction": hex::encode(tx)}),
            ));
        }
        let payer = ed25519_dalek::SigningKey::from_bytes(&crate::chains::ED25519_KEY)
            .verifying_key()
            .to_bytes();
        for tx in [
            samples::solana_transfer(payer, [5; 32], 1000, false),
            samples::solana_lookup(payer),
        ] {
            out.extend(context(
                sign,
                json!({"signWith": bs58::encode(payer).into_string(), "type": "TRANSACTION_TYPE_SOLANA",
                       "unsignedTransaction": hex::encode(tx)}),
            ));
        }
        out.extend(context(
            sign,
            json!({"signWith": btc_from, "type": "TRANSACTION_TYPE_BITCOIN",
                   "unsignedTransaction": hex::encode(samples::psbt(&wpkh, 20_000, true))}),
        ));
        out.extend(context(
            "ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2",
            json!({"signWith": eth_from, "payload": "deadbeef",
                   "encoding": "PAYLOAD_ENCODING_HEXADECIMAL", "hashFunction": "HASH_FUNCTION_KECCAK256"}),
        ));
        if let Some(mut ctx) = context(
            "ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2",
            json!({"signWith": eth_from, "payload": samples::EIP712_MAIL,
                   "encoding": "PAYLOAD_ENCODING_EIP712", "hashFunction": "HASH_FUNCTION_NO_OP"}),
        ) {
            ctx.eth_eip_712 = Some(Eip712 {
                primary_type: "Mail".into(),
                domain_name: Some("Ether Mail".into()),
                domain_version: Some("1".into()),
                domain_chain_id: Some(U256::from_u128(1)),
                domain_verifying_contract: Some("0xcccccccccccccccccccccccccccccccccccccccc".into()),
                message: [("contents".to_owned(), Value::str("Hello, Bob!"))].into(),
            });
            out.push(ctx);
        }
        out.extend(context(
            "ACTIVITY_TYPE_CREATE_WALLET",
            json!({"walletName": "w", "accounts": [{"curve": "CURVE_SECP256K1",
                   "pathFormat": "PATH_FORMAT_BIP32", "path": "m/44'/60'/0'/0/0",
                   "addressFormat": "ADDRESS_FORMAT_ETHEREUM"}]}),
        ));
        out.extend(context(
            "ACTIVITY_TYPE_CREATE_POLICY_V3",
            json!({"policyName": "p", "effect": "EFFECT_DENY", "condition": "true", "consensus": "",
                   "notes": ""}),
        ));
        out.push(Context::default());
        out
    })
}
