//! The enclaves the `request` target talks to, and an organization template its inputs refer to
//! through placeholders.
//!
//! Random bytes cannot carry a valid stamp or a sealed state, so a fuzzer that only mutated
//! requests would stop at the first signature check. Inputs therefore name real material with
//! placeholders that [`World::instantiate`] fills in: `$ORG`, `$NOW`, `$WALLET`, `$ETH`… in a
//! body, `$ROOT` or `$BOB` as a stamp (the body is then stamped with that user's API key), an
//! empty sealed state or seed (the template's), a nil wallet or private key id (the template's),
//! an empty operator signature (the operator's, over what the request carries). Everything else
//! the fuzzer mutates reaches the enclave as the host sent it.
//!
//! The template is an organization as an application builds it: a root user, a user `bob` whose
//! signing is allowed by policies (so that policy evaluation runs on parsed transactions and
//! limits counters), a wallet with Ethereum, Solana and Bitcoin accounts, and a private key.

use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyhold_enclave::Enclave;
use keyhold_enclave::attestation::{Attester, DevAttester};
use keyhold_enclave::enclave::now_ms;
use keyhold_enclave::hpke_suite::HpkeKeyPair;
use keyhold_shared::msg::{
    ActivityContext, ActivityRequest, ActivityResult, BootstrapOrgRequest, DOMAIN_BOOTSTRAP_ORG,
    DOMAIN_MANIFEST_APPROVAL, DerivedAccount, GenesisRequest, OperatorApproval, OperatorKey,
    OrgBootstrapSpec, Pcr, QuorumManifest, Request, Response, SealedOrgState, SealedSeed,
    SignedRequest, Stamp, domain_digest,
};
use keyhold_shared::{OrgId, PrivateKeyId, Uuid, WalletId};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::ecdsa::{DerSignature, Signature, SigningKey};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha384};
use zeroize::Zeroizing;

/// The wallet's accounts, in the order of the `$ETH`, `$SOL`, `$BTC`, `$TR` placeholders.
pub const ACCOUNTS: [(&str, &str, &str); 4] = [
    (
        "CURVE_SECP256K1",
        "m/44'/60'/0'/0/0",
        "ADDRESS_FORMAT_ETHEREUM",
    ),
    ("CURVE_ED25519", "m/44'/501'/0'/0'", "ADDRESS_FORMAT_SOLANA"),
    (
        "CURVE_SECP256K1",
        "m/84'/1'/0'/0/0",
        "ADDRESS_FORMAT_BITCOIN_TESTNET_P2WPKH",
    ),
    (
        "CURVE_SECP256K1",
        "m/86'/1'/0'/0/0",
        "ADDRESS_FORMAT_BITCOIN_TESTNET_P2TR",
    ),
];

/// Bob's policies: raw payloads from the treasury wallet, Ethereum, Solana and Bitcoin
/// transactions within limits; the private key needs a second approver; deleting policies is
/// denied. The engine does not short-circuit, so an ALLOW that reads an object the activity lacks
/// (`eth.tx` of a Solana transaction) errors and is ignored, and the DENY reads only fields every
/// activity has (one that errors would deny everything).
const POLICIES: [(&str, &str, &str); 7] = [
    (
        "EFFECT_ALLOW",
        "activity.type == 'ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2' && wallet.label == 'treasury'",
        "approvers.any(u, u.alias == 'bob')",
    ),
    (
        "EFFECT_ALLOW",
        "activity.type == 'ACTIVITY_TYPE_SIGN_TRANSACTION_V2' \
         && activity.params.type == 'TRANSACTION_TYPE_ETHEREUM' && wallet.label == 'treasury' \
         && eth.tx.value < 1000000000000000000 \
         && spend.eth.wei('24h') + eth.tx.value <= 5000000000000000000",
        "approvers.any(u, u.alias == 'bob')",
    ),
    (
        "EFFECT_ALLOW",
        "activity.type == 'ACTIVITY_TYPE_SIGN_TRANSACTION_V2' \
         && activity.params.type == 'TRANSACTION_TYPE_SOLANA' \
         && solana.tx.transfers.all(t, t.amount < 1000000)",
        "approvers.count() >= 1",
    ),
    (
        "EFFECT_ALLOW",
        "activity.type == 'ACTIVITY_TYPE_SIGN_TRANSACTION_V2' \
         && activity.params.type == 'TRANSACTION_TYPE_BITCOIN' \
         && bitcoin.tx.outputs.count() < 4 && signatures.count('1h') < 50",
        "",
    ),
    (
        "EFFECT_ALLOW",
        // (`private_key` is not in the enclave's policy context; the address stands in for it.)
        "activity.type == 'ACTIVITY_TYPE_SIGN_TRANSACTION_V2' && wallet_account.address == '$PK_ETH'",
        "approvers.count() >= 2",
    ),
    (
        "EFFECT_DENY",
        "activity.resource == 'POLICY' && activity.action == 'DELETE'",
        "",
    ),
    (
        "EFFECT_ALLOW",
        "activity.resource == 'WALLET' && activity.action == 'CREATE'",
        "approvers.count() >= 1",
    ),
];

/// Placeholders a body may contain, replaced in this order (a name before its prefixes).
/// `$BTC_SCRIPT`, `$TR_SCRIPT` and `$SOL_HEX` are hex, for building transactions that spend
/// from the template's accounts inside an `unsignedTransaction`.
const PLACEHOLDERS: [&str; 15] = [
    "$BTC_SCRIPT",
    "$TR_SCRIPT",
    "$SOL_HEX",
    "$BOB_PUBLIC",
    "$ROOT_USER",
    "$BOB_USER",
    "$PK_ETH",
    "$WALLET",
    "$ORG",
    "$NOW",
    "$ETH",
    "$SOL",
    "$BTC",
    "$TR",
    "$PK",
];

pub struct Template {
    pub org: SealedOrgState,
    pub org_id: OrgId,
    pub root_user: String,
    pub bob_user: String,
    pub wallet_id: WalletId,
    pub seed: SealedSeed,
    pub accounts: Vec<DerivedAccount>,
    pub private_key_id: PrivateKeyId,
    pub private_key: SealedSeed,
    pub private_key_address: String,
}

pub struct World {
    pub operator: SigningKey,
    operator_hpke: HpkeKeyPair,
    pub root: SigningKey,
    pub bob: SigningKey,
    /// Provisioned, holding the template organization.
    pub enclave: Enclave,
    /// Not provisioned: provisioning messages go here.
    pub fresh: Enclave,
    /// The provisioned enclave's manifest.
    pub manifest: QuorumManifest,
    pub template: Template,
    /// The template's state was superseded (an activity succeeded on it); the enclave now
    /// refuses it as a replay, so the next input gets a new template.
    pub stale: bool,
}

static WORLD: Mutex<Option<World>> = Mutex::new(None);

/// Runs `f` on the world, creating it on first use (and again after a poisoned lock).
pub fn with<R>(f: impl FnOnce(&mut World) -> R) -> R {
    let mut guard = WORLD.lock().unwrap_or_else(|poisoned| {
        WORLD.clear_poison();
        let mut guard = poisoned.into_inner();
        *guard = None;
        guard
    });
    let world = guard.get_or_insert_with(World::new);
    if world.stale {
        world.template = world.new_template();
        world.stale = false;
    }
    f(world)
}

/// What the dev attester measures as the enclave binary (PCR0).
const ENCLAVE_BINARY: &[u8] = b"keyhold fuzz enclave";

/// An enclave with a dev attester (a fixed CA seed), so that attestation and key forwarding
/// run as in a dev deployment.
pub fn new_enclave() -> Enclave {
    let attester = DevAttester::new(Zeroizing::new(vec![0x5a; 32]), ENCLAVE_BINARY);
    Enclave::with_attester(Attester::Dev(attester)).expect("enclave")
}

pub fn key(byte: u8) -> SigningKey {
    SigningKey::from_slice(&[byte; 32]).expect("a valid P-256 scalar")
}

pub fn public_hex(key: &SigningKey) -> String {
    hex::encode(key.verifying_key().to_sec1_point(true).as_bytes())
}

/// An `X-Stamp` value over `body`, as `@turnkey/api-key-stamper` makes it.
pub fn stamp(key: &SigningKey, body: &[u8]) -> String {
    let sig: Signature = key.sign(body);
    let json = json!({
        "publicKey": public_hex(key),
        "scheme": "SIGNATURE_SCHEME_TK_API_P256",
        "signature": hex::encode(DerSignature::from(sig).as_bytes()),
    });
    URL_SAFE_NO_PAD.encode(json.to_string())
}

/// An operator's approval of `value` under `domain`.
pub fn approve<T: Serialize>(key: &SigningKey, domain: &[u8], value: &T) -> OperatorApproval {
    let digest = domain_digest(domain, value).expect("encodable");
    let sig: Signature = key.sign_prehash(&digest).expect("prehash signing");
    OperatorApproval {
        operator: 0,
        signature: DerSignature::from(sig).as_bytes().to_vec(),
    }
}

pub fn body(activity_type: &str, parameters: Value) -> String {
    json!({
        "type": activity_type,
        "timestampMs": "$NOW",
        "organizationId": "$ORG",
        "parameters": parameters,
    })
    .to_string()
}

impl World {
    pub fn new() -> World {
        let operator = key(9);
        let operator_hpke = HpkeKeyPair::generate().expect("HPKE key");
        let enclave = new_enclave();
        let manifest = QuorumManifest {
            operators: vec![OperatorKey {
                encryption_key: operator_hpke.public_bytes(),
                signing_key: operator.verifying_key().to_sec1_bytes().to_vec(),
            }],
            threshold: 1,
            nonce: 1,
            // What the dev attester measures, so that key forwarding can verify a peer.
            pcrs: vec![Pcr {
                index: 0,
                value: Sha384::digest(ENCLAVE_BINARY).to_vec(),
            }],
        };
        let approvals = vec![approve(&operator, DOMAIN_MANIFEST_APPROVAL, &manifest)];
        let genesis = enclave.handle(Request::Genesis(GenesisRequest {
            manifest: manifest.clone(),
            approvals,
        }));
        assert!(matches!(genesis, Ok(Response::Genesis(_))), "{genesis:?}");
        let mut world = World {
            operator,
            operator_hpke,
            root: key(0x21),
            bob: key(0x22),
            enclave,
            fresh: new_enclave(),
            manifest,
            template: placeholder_template(),
            stale: false,
        };
        world.template = world.new_template();
        world
    }

    /// An operator key entry for this world's operator.
    pub fn operator_key(&self) -> OperatorKey {
        OperatorKey {
            encryption_key: self.operator_hpke.public_bytes(),
            signing_key: self.operator.verifying_key().to_sec1_bytes().to_vec(),
        }
    }

    /// A new organization in the provisioned enclave, built through its activities.
    fn new_template(&self) -> Template {
        let spec = OrgBootstrapSpec {
            organization_name: "fuzz".into(),
            root_user_name: "root".into(),
            api_key_name: "root key".into(),
            api_public_key: self
                .root
                .verifying_key()
                .to_sec1_point(true)
                .as_bytes()
                .to_vec(),
            nonce: [7; 16],
        };
        let approvals = vec![approve(&self.operator, DOMAIN_BOOTSTRAP_ORG, &spec)];
        let boot = match self
            .enclave
            .handle(Request::BootstrapOrg(BootstrapOrgRequest {
                spec,
                approvals,
            })) {
            Ok(Response::BootstrapOrg(boot)) => boot,
            other => panic!("bootstrap the template organization: {other:?}"),
        };
        let mut t = placeholder_template();
        t.org = boot.sealed_state;
        t.org_id = boot.organization_id;
        t.root_user = boot.user_id.to_string();

        let users = body(
            "ACTIVITY_TYPE_CREATE_USERS_V4",
            json!({"users": [{"userName": "bob", "apiKeys": [{"apiKeyName": "bob key",
                "publicKey": "$BOB_PUBLIC", "curveType": "API_KEY_CURVE_P256"}],
                "authenticators": [], "oauthProviders": [], "userTags": []}]}),
        );
        let out = self.setup(&mut t, &users);
        t.bob_user = organization_result(&out)["createUsersResult"]["userIds"][0]
            .as_str()
            .expect("bob's user id")
            .to_owned();

        let accounts: Vec<Value> = ACCOUNTS
            .iter()
            .map(|(curve, path, format)| {
                json!({"curve": curve, "pathFormat": "PATH_FORMAT_BIP32", "path": path,
                       "addressFormat": format})
            })
            .collect();
        let wallet = body(
            "ACTIVITY_TYPE_CREATE_WALLET",
            json!({"walletName": "treasury", "accounts": accounts}),
        );
        let ActivityResult::CreateWallet {
            wallet_id,
            accounts,
            sealed_seed,
            ..
        } = self.setup(&mut t, &wallet)
        else {
            panic!("create the template wallet")
        };
        t.wallet_id = wallet_id;
        t.accounts = accounts;
        t.seed = sealed_seed;

        let keys = body(
            "ACTIVITY_TYPE_CREATE_PRIVATE_KEYS_V2",
            json!({"privateKeys": [{"privateKeyName": "hot", "curve": "CURVE_SECP256K1",
                   "privateKeyTags": [], "addressFormats": ["ADDRESS_FORMAT_ETHEREUM"]}]}),
        );
        let ActivityResult::CreatePrivateKeys(mut created) = self.setup(&mut t, &keys) else {
            panic!("create the template private key")
        };
        let key = created.pop().expect("one private key");
        t.private_key_id = key.private_key_id;
        t.private_key_address = key
            .addresses
            .first()
            .map(|(_, address)| address.clone())
            .expect("an address");
        t.private_key = key.sealed_key;

        for (effect, condition, consensus) in POLICIES {
            let policy = body(
                "ACTIVITY_TYPE_CREATE_POLICY_V3",
                json!({"policyName": condition, "effect": effect, "condition": condition,
                       "consensus": consensus, "notes": ""}),
            );
            self.setup(&mut t, &policy);
        }
        t
    }

    /// Runs a setup activity as the root user; it must succeed.
    fn setup(&self, t: &mut Template, body: &str) -> ActivityResult {
        let body = self.fill(t, body);
        let request = ActivityRequest {
            parent: None,
            request: SignedRequest {
                stamp: Stamp::ApiKey(stamp(&self.root, body.as_bytes())),
                body: body.into_bytes(),
            },
            org: t.org.clone(),
            context: ActivityContext::None,
        };
        match self.enclave.handle(Request::Activity(request)) {
            Ok(Response::Activity(out)) => {
                if let Some(state) = out.new_org_state {
                    t.org = state;
                }
                out.result
            }
            other => panic!("template setup failed: {other:?}"),
        }
    }

    /// Fills the body placeholders in with the template's values.
    pub fn fill(&self, t: &Template, body: &str) -> String {
        let mut out = body.to_owned();
        for name in PLACEHOLDERS {
            if !out.contains(name) {
                continue;
            }
            let value = match name {
                "$BTC_SCRIPT" => script(t, 2, keyhold_enclave::chains::bitcoin::p2wpkh_script),
                "$TR_SCRIPT" => script(t, 3, |k| {
                    keyhold_enclave::chains::bitcoin::p2tr_script(k).unwrap_or_default()
                }),
                "$SOL_HEX" => t
                    .accounts
                    .get(1)
                    .map(|a| hex::encode(&a.public_key))
                    .unwrap_or_default(),
                "$BOB_PUBLIC" => public_hex(&self.bob),
                "$ROOT_USER" => t.root_user.clone(),
                "$BOB_USER" => t.bob_user.clone(),
                "$PK_ETH" => t.private_key_address.clone(),
                "$WALLET" => t.wallet_id.to_string(),
                "$ORG" => t.org_id.to_string(),
                "$NOW" => now_ms().to_string(),
                "$ETH" => address(t, 0),
                "$SOL" => address(t, 1),
                "$BTC" => address(t, 2),
                "$TR" => address(t, 3),
                _ => t.private_key_id.to_string(),
            };
            out = out.replace(name, &value);
        }
        out
    }
}

fn address(t: &Template, index: usize) -> String {
    t.accounts
        .get(index)
        .map(|a| a.address.clone())
        .unwrap_or_default()
}

/// The hex script paying the secp256k1 account at `index`.
fn script(t: &Template, index: usize, make: fn(&k256::ecdsa::VerifyingKey) -> Vec<u8>) -> String {
    t.accounts
        .get(index)
        .and_then(|a| k256::ecdsa::VerifyingKey::from_sec1_bytes(&a.public_key).ok())
        .map(|key| hex::encode(make(&key)))
        .unwrap_or_default()
}

fn organization_result(result: &ActivityResult) -> Value {
    let ActivityResult::Organization { result_json, .. } = result else {
        panic!("not an organization result: {result:?}")
    };
    serde_json::from_str(result_json).expect("result JSON")
}

fn placeholder_template() -> Template {
    let nil = Uuid::from_bytes([0; 16]);
    let empty = SealedSeed {
        nonce: [0; 24],
        ciphertext: Vec::new(),
    };
    Template {
        org: SealedOrgState {
            org_id: OrgId(nil),
            version: 0,
            nonce: [0; 24],
            ciphertext: Vec::new(),
        },
        org_id: OrgId(nil),
        root_user: String::new(),
        bob_user: String::new(),
        wallet_id: WalletId(nil),
        seed: empty.clone(),
        accounts: Vec::new(),
        private_key_id: PrivateKeyId(nil),
        private_key: empty,
        private_key_address: String::new(),
    }
}
