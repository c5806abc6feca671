//! The generated part of the seed corpora (`corpus/<target>/gen-*`): valid inputs of every
//! target, written by `tests/corpus.rs` (`KEYHOLD_FUZZ_BLESS=1`) and checked there to be up to
//! date, so that a change to a message type cannot silently turn the seeds into noise.
//!
//! Request seeds use the placeholders of [`crate::world`]; their names say what the enclave
//! answers (`ok-*` must succeed, `err-*` must fail), which `tests/corpus.rs` also checks.

use keyhold_shared::msg::{
    ActivityContext, ActivityRequest, AddressFormat, ApprovalContext, AttestRequest,
    AuthenticateRequest, BitcoinKind, BitcoinNetwork, BootstrapOrgRequest, Curve, ForwardRequest,
    GenesisRequest, Hello, HelloReply, OperatorApproval, OperatorKey, OrgBootstrapSpec,
    QuorumManifest, Request, RequestFrame, Response, ResponseFrame, SealedOrgState, SealedSeed,
    SignedRequest, Stamp,
};
use keyhold_shared::{ErrorCode, OrgId, PrivateKeyId, RequestId, Uuid, WalletId, WireError};
use serde_json::json;

use crate::samples;
use crate::world::body;

/// One seed: target, file name (without the `gen-` prefix), content.
pub type Seed = (&'static str, String, Vec<u8>);

pub fn all() -> Vec<Seed> {
    let mut out = Vec::new();
    out.extend(frame());
    out.extend(request());
    out.extend(activity_text());
    out.extend(chains());
    out
}

fn nil() -> Uuid {
    Uuid::from_bytes([0; 16])
}

fn payload<T: serde::Serialize>(message: &T) -> Vec<u8> {
    postcard::to_allocvec(message).unwrap_or_default()
}

/// A length-prefixed frame.
fn framed(payload: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(payload.len())
        .unwrap_or(0)
        .to_be_bytes()
        .to_vec();
    out.extend_from_slice(payload);
    out
}

fn frame() -> Vec<Seed> {
    let hello = payload(&Hello::current());
    let status = payload(&RequestFrame {
        id: RequestId(7),
        request: Request::Status,
    });
    let reply = payload(&HelloReply::Incompatible { supported: 1 });
    let error = payload(&ResponseFrame {
        id: RequestId(7),
        result: Err::<Response, _>(WireError::new(ErrorCode::InvalidRequest, "bad")),
    });
    let mut stream = framed(&hello);
    stream.extend(framed(&status));
    stream.extend(framed(&payload(&request_seeds()[4].1)));
    vec![
        ("frame", "hello".into(), hello),
        ("frame", "stream".into(), stream),
        ("frame", "hello-reply".into(), reply),
        ("frame", "response-error".into(), error),
        ("frame", "oversized-header".into(), vec![0, 0x40, 0, 1, 0]),
    ]
}

fn signed(stamp: &str, body: String) -> SignedRequest {
    SignedRequest {
        body: body.into_bytes(),
        stamp: Stamp::ApiKey(stamp.into()),
    }
}

fn template_org() -> SealedOrgState {
    SealedOrgState {
        org_id: OrgId(nil()),
        version: 0,
        nonce: [0; 24],
        ciphertext: Vec::new(),
    }
}

fn template_seed(which: u8) -> SealedSeed {
    let mut nonce = [0; 24];
    nonce[0] = which;
    SealedSeed {
        nonce,
        ciphertext: Vec::new(),
    }
}

fn activity(stamp: &str, body: String, context: ActivityContext) -> Request {
    Request::Activity(ActivityRequest {
        parent: None,
        request: signed(stamp, body),
        org: template_org(),
        context,
    })
}

fn account(path: &str, curve: Curve, address_format: AddressFormat) -> ActivityContext {
    ActivityContext::WalletAccount {
        wallet_id: WalletId(nil()),
        path: path.into(),
        curve,
        address_format,
        sealed_seed: template_seed(0),
    }
}

fn eth_account() -> ActivityContext {
    account(
        "m/44'/60'/0'/0/0",
        Curve::Secp256k1,
        AddressFormat::Ethereum,
    )
}

fn private_key() -> ActivityContext {
    ActivityContext::PrivateKey {
        private_key_id: PrivateKeyId(nil()),
        address_format: Some(AddressFormat::Ethereum),
        sealed_key: template_seed(0),
    }
}

fn sign_tx(sign_with: &str, tx_type: &str, unsigned: &str) -> String {
    body(
        "ACTIVITY_TYPE_SIGN_TRANSACTION_V2",
        json!({"signWith": sign_with, "type": tx_type, "unsignedTransaction": unsigned}),
    )
}

fn sign_raw(sign_with: &str, payload: &str, encoding: &str, hash: &str) -> String {
    body(
        "ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2",
        json!({"signWith": sign_with, "payload": payload, "encoding": encoding, "hashFunction": hash}),
    )
}

fn manifest(nonce: u64) -> QuorumManifest {
    QuorumManifest {
        operators: vec![OperatorKey {
            encryption_key: Vec::new(),
            signing_key: Vec::new(),
        }],
        threshold: 1,
        nonce,
        pcrs: Vec::new(),
    }
}

fn unsigned_approval() -> Vec<OperatorApproval> {
    vec![OperatorApproval {
        operator: 0,
        signature: Vec::new(),
    }]
}

/// A PSBT paying from the template's account whose script the placeholder names, as hex.
fn psbt_hex(script_placeholder: &str) -> String {
    // Build with a 34-byte stand-in script, then swap its hex for the placeholder (P2WPKH
    // scripts are 22 bytes, P2TR 34: fix the length byte up accordingly).
    let len: u8 = if script_placeholder == "$BTC_SCRIPT" {
        22
    } else {
        34
    };
    let stand_in = vec![0xee; usize::from(len)];
    let hex = hex::encode(samples::psbt(&stand_in, 20_000, true));
    hex.replace(&hex::encode(&stand_in), script_placeholder)
}

/// Named requests. Kept in one list so the frame seeds can reuse one.
fn request_seeds() -> Vec<(String, Request)> {
    let eth = |tx: &[u8]| sign_tx("$ETH", "TRANSACTION_TYPE_ETHEREUM", &hex::encode(tx));
    let mut seeds = vec![
        ("ok-status".into(), Request::Status),
        ("ok-boot-key".into(), Request::BootKey),
        (
            "ok-attest".into(),
            Request::Attest(AttestRequest {
                nonce: vec![1, 2, 3],
                manifest: None,
            }),
        ),
        // Staged by the fresh enclave, refused by the provisioned one (another manifest).
        (
            "attest-staging".into(),
            Request::Attest(AttestRequest {
                nonce: vec![4; 32],
                manifest: Some(manifest(1)),
            }),
        ),
        (
            "ok-genesis".into(),
            Request::Genesis(GenesisRequest {
                manifest: manifest(1),
                approvals: unsigned_approval(),
            }),
        ),
        (
            "ok-create-wallet".into(),
            activity(
                "$ROOT",
                body(
                    "ACTIVITY_TYPE_CREATE_WALLET",
                    json!({"walletName": "w2", "mnemonicLength": 24, "accounts": [
                        {"curve": "CURVE_SECP256K1", "pathFormat": "PATH_FORMAT_BIP32",
                         "path": "m/44'/60'/0'/0/1", "addressFormat": "ADDRESS_FORMAT_ETHEREUM"},
                        {"curve": "CURVE_ED25519", "pathFormat": "PATH_FORMAT_BIP32",
                         "path": "m/44'/501'/1'/0'", "addressFormat": "ADDRESS_FORMAT_SOLANA"},
                        {"curve": "CURVE_SECP256K1", "pathFormat": "PATH_FORMAT_BIP32",
                         "path": "m/44'/118'/0'/0/0", "addressFormat": "ADDRESS_FORMAT_COSMOS"},
                        {"curve": "CURVE_SECP256K1", "pathFormat": "PATH_FORMAT_BIP32",
                         "path": "m/44'/195'/0'/0/0", "addressFormat": "ADDRESS_FORMAT_TRON"},
                        {"curve": "CURVE_P256", "pathFormat": "PATH_FORMAT_BIP32",
                         "path": "m/0'/1", "addressFormat": "ADDRESS_FORMAT_COMPRESSED"}]}),
                ),
                ActivityContext::None,
            ),
        ),
        (
            "ok-bootstrap-org".into(),
            Request::BootstrapOrg(BootstrapOrgRequest {
                spec: OrgBootstrapSpec {
                    organization_name: "other".into(),
                    root_user_name: "root".into(),
                    api_key_name: "key".into(),
                    api_public_key: Vec::new(),
                    nonce: [3; 16],
                },
                approvals: unsigned_approval(),
            }),
        ),
        (
            "ok-forward".into(),
            Request::Forward(ForwardRequest {
                attestation: Vec::new(),
                nonce: vec![9; 16],
            }),
        ),
        (
            "ok-update-manifest".into(),
            Request::UpdateManifest(GenesisRequest {
                manifest: manifest(2),
                approvals: unsigned_approval(),
            }),
        ),
        (
            "ok-authenticate".into(),
            Request::Authenticate(AuthenticateRequest {
                parent: None,
                request: signed("$BOB", json!({"organizationId": "$ORG"}).to_string()),
                org: template_org(),
            }),
        ),
        (
            "ok-read-org".into(),
            Request::ReadOrg(AuthenticateRequest {
                parent: None,
                request: signed("$ROOT", json!({"organizationId": "$ORG"}).to_string()),
                org: template_org(),
            }),
        ),
        (
            "ok-create-wallet-accounts".into(),
            activity(
                "$ROOT",
                body(
                    "ACTIVITY_TYPE_CREATE_WALLET_ACCOUNTS",
                    json!({"walletId": "$WALLET", "accounts": [
                        {"curve": "CURVE_SECP256K1", "pathFormat": "PATH_FORMAT_BIP32",
                         "path": "m/44'/0'/0'/0/0", "addressFormat": "ADDRESS_FORMAT_BITCOIN_MAINNET_P2PKH"},
                        {"curve": "CURVE_SECP256K1", "pathFormat": "PATH_FORMAT_BIP32",
                         "path": "m/44'/60'/0'/0/9", "addressFormat": "ADDRESS_FORMAT_UNCOMPRESSED"}]}),
                ),
                ActivityContext::Wallet {
                    wallet_id: WalletId(nil()),
                    sealed_seed: template_seed(0),
                },
            ),
        ),
        (
            "ok-create-private-keys".into(),
            activity(
                "$ROOT",
                body(
                    "ACTIVITY_TYPE_CREATE_PRIVATE_KEYS_V2",
                    json!({"privateKeys": [{"privateKeyName": "k2", "curve": "CURVE_ED25519",
                           "privateKeyTags": [], "addressFormats": ["ADDRESS_FORMAT_SOLANA"]}]}),
                ),
                ActivityContext::None,
            ),
        ),
        (
            "ok-bob-signs-eth-raw".into(),
            activity(
                "$BOB",
                sign_raw(
                    "$ETH",
                    "deadbeef",
                    "PAYLOAD_ENCODING_HEXADECIMAL",
                    "HASH_FUNCTION_KECCAK256",
                ),
                eth_account(),
            ),
        ),
        (
            "ok-root-signs-eip712".into(),
            activity(
                "$ROOT",
                sign_raw(
                    "$ETH",
                    samples::EIP712_MAIL,
                    "PAYLOAD_ENCODING_EIP712",
                    "HASH_FUNCTION_NO_OP",
                ),
                eth_account(),
            ),
        ),
        (
            "ok-root-signs-raw-payloads".into(),
            activity(
                "$ROOT",
                body(
                    "ACTIVITY_TYPE_SIGN_RAW_PAYLOADS",
                    json!({"signWith": "$SOL", "payloads": ["68656c6c6f", "00"],
                           "encoding": "PAYLOAD_ENCODING_HEXADECIMAL", "hashFunction": "HASH_FUNCTION_NOT_APPLICABLE"}),
                ),
                account("m/44'/501'/0'/0'", Curve::Ed25519, AddressFormat::Solana),
            ),
        ),
        (
            "ok-root-signs-with-private-key".into(),
            activity(
                "$ROOT",
                sign_raw(
                    "$PK",
                    "abcd",
                    "PAYLOAD_ENCODING_HEXADECIMAL",
                    "HASH_FUNCTION_SHA256",
                ),
                ActivityContext::PrivateKey {
                    private_key_id: PrivateKeyId(nil()),
                    address_format: None,
                    sealed_key: template_seed(0),
                },
            ),
        ),
        (
            "ok-bob-signs-solana-tx".into(),
            activity(
                "$BOB",
                sign_tx(
                    "$SOL",
                    "TRANSACTION_TYPE_SOLANA",
                    &hex::encode(samples::solana_transfer([0xee; 32], [5; 32], 1000, true))
                        .replace(&"ee".repeat(32), "$SOL_HEX"),
                ),
                account("m/44'/501'/0'/0'", Curve::Ed25519, AddressFormat::Solana),
            ),
        ),
        (
            "ok-bob-signs-psbt-p2wpkh".into(),
            activity(
                "$BOB",
                sign_tx("$BTC", "TRANSACTION_TYPE_BITCOIN", &psbt_hex("$BTC_SCRIPT")),
                account(
                    "m/84'/1'/0'/0/0",
                    Curve::Secp256k1,
                    AddressFormat::Bitcoin(BitcoinNetwork::Testnet, BitcoinKind::P2wpkh),
                ),
            ),
        ),
        (
            "ok-root-signs-psbt-p2tr".into(),
            activity(
                "$ROOT",
                sign_tx("$TR", "TRANSACTION_TYPE_BITCOIN", &psbt_hex("$TR_SCRIPT")),
                account(
                    "m/86'/1'/0'/0/0",
                    Curve::Secp256k1,
                    AddressFormat::Bitcoin(BitcoinNetwork::Testnet, BitcoinKind::P2tr),
                ),
            ),
        ),
        (
            "ok-bob-needs-consensus-for-private-key".into(),
            activity("$BOB", eth_from_private_key(), private_key()),
        ),
        (
            "ok-root-approves-bob".into(),
            activity(
                "$ROOT",
                body(
                    "ACTIVITY_TYPE_APPROVE_ACTIVITY",
                    json!({"fingerprint": "$FINGERPRINT"}),
                ),
                ActivityContext::Approval(Box::new(ApprovalContext {
                    target: signed("$BOB", eth_from_private_key()),
                    votes: Vec::new(),
                    target_context: private_key(),
                })),
            ),
        ),
        (
            "ok-organization".into(),
            activity(
                "$ROOT",
                body(
                    "ACTIVITY_TYPE_CREATE_USER_TAG",
                    json!({"userTagName": "signers", "userIds": ["$BOB_USER"]}),
                ),
                ActivityContext::None,
            ),
        ),
        (
            "ok-root-renames-wallet".into(),
            activity(
                "$ROOT",
                body(
                    "ACTIVITY_TYPE_UPDATE_WALLET",
                    json!({"walletId": "$WALLET", "walletName": "renamed"}),
                ),
                ActivityContext::None,
            ),
        ),
        (
            "ok-root-tags-private-key".into(),
            activity(
                "$ROOT",
                body(
                    "ACTIVITY_TYPE_CREATE_PRIVATE_KEY_TAG",
                    json!({"privateKeyTagName": "hot", "privateKeyIds": ["$PK"]}),
                ),
                ActivityContext::None,
            ),
        ),
        (
            "ok-root-deletes-private-key".into(),
            activity(
                "$ROOT",
                body(
                    "ACTIVITY_TYPE_DELETE_PRIVATE_KEYS",
                    json!({"privateKeyIds": ["$PK"], "deleteWithoutExport": true}),
                ),
                ActivityContext::None,
            ),
        ),
        (
            "err-bob-may-not-delete-wallets".into(),
            activity(
                "$BOB",
                body(
                    "ACTIVITY_TYPE_DELETE_WALLETS",
                    json!({"walletIds": ["$WALLET"], "deleteWithoutExport": true}),
                ),
                ActivityContext::None,
            ),
        ),
        (
            "ok-sub-organization".into(),
            activity(
                "$ROOT",
                body(
                    "ACTIVITY_TYPE_CREATE_SUB_ORGANIZATION_V8",
                    json!({"subOrganizationName": "end user", "rootQuorumThreshold": 1,
                           "rootUsers": [{"userName": "alice", "apiKeys": [{"apiKeyName": "a",
                               "publicKey": "$BOB_PUBLIC", "curveType": "API_KEY_CURVE_P256"}],
                               "authenticators": [], "oauthProviders": []}],
                           "wallet": {"walletName": "w", "accounts": [{"curve": "CURVE_SECP256K1",
                               "pathFormat": "PATH_FORMAT_BIP32", "path": "m/44'/60'/0'/0/0",
                               "addressFormat": "ADDRESS_FORMAT_ETHEREUM"}]}}),
                ),
                ActivityContext::None,
            ),
        ),
        (
            "ok-policy".into(),
            activity(
                "$ROOT",
                body(
                    "ACTIVITY_TYPE_CREATE_POLICY_V3",
                    json!({"policyName": "cap", "effect": "EFFECT_DENY", "notes": "",
                           "condition": "spend.eth.wei('7d') + eth.tx.value > 100000000000000000000",
                           "consensus": ""}),
                ),
                ActivityContext::None,
            ),
        ),
        (
            "err-bob-may-not-delete-policies".into(),
            activity(
                "$BOB",
                body(
                    "ACTIVITY_TYPE_DELETE_POLICY",
                    json!({"policyId": "$WALLET"}),
                ),
                ActivityContext::None,
            ),
        ),
        (
            "err-host-names-another-path".into(),
            activity(
                "$BOB",
                sign_raw(
                    "$ETH",
                    "00",
                    "PAYLOAD_ENCODING_HEXADECIMAL",
                    "HASH_FUNCTION_KECCAK256",
                ),
                account(
                    "m/44'/60'/0'/0/1",
                    Curve::Secp256k1,
                    AddressFormat::Ethereum,
                ),
            ),
        ),
    ];
    for (name, tx) in samples::ethereum() {
        // The EIP-155 example moves 1 ether: more than Bob's policy allows.
        let outcome = match name {
            "eip155" => "err-bob-over-limit",
            _ => "ok-bob-signs",
        };
        seeds.push((
            format!("{outcome}-{name}"),
            activity("$BOB", eth(&tx), eth_account()),
        ));
    }
    seeds
}

/// Bob signing an ERC-20 transfer with the private key: his policy needs a second approver.
fn eth_from_private_key() -> String {
    let tx = &samples::ethereum()[4].1;
    sign_tx("$PK_ETH", "TRANSACTION_TYPE_ETHEREUM", &hex::encode(tx))
}

fn request() -> Vec<Seed> {
    request_seeds()
        .into_iter()
        .enumerate()
        .map(|(i, (name, request))| {
            let frame = RequestFrame {
                id: RequestId(i as u64),
                request,
            };
            ("request", name, payload(&frame))
        })
        .collect()
}

/// The request seeds that can be written as text (see [`crate::activity`]).
fn activity_text() -> Vec<Seed> {
    request_seeds()
        .into_iter()
        .filter_map(|(name, request)| {
            let (head, body) = crate::activity::head(&request)?;
            let mut text = format!("{head}\n").into_bytes();
            text.extend(body);
            Some(("activity", name, text))
        })
        .collect()
}

fn chains() -> Vec<Seed> {
    let mut out: Vec<Seed> = Vec::new();
    for (name, tx) in samples::ethereum() {
        out.push(("eth_tx", name.into(), tx));
    }
    let payer = ed25519_dalek::SigningKey::from_bytes(&crate::chains::ED25519_KEY)
        .verifying_key()
        .to_bytes();
    out.push((
        "solana_tx",
        "legacy".into(),
        samples::solana_transfer(payer, [5; 32], 1000, false),
    ));
    out.push((
        "solana_tx",
        "v0".into(),
        samples::solana_transfer(payer, [5; 32], 1000, true),
    ));
    out.push(("solana_tx", "lookup".into(), samples::solana_lookup(payer)));
    if let Ok(key) = k256::ecdsa::SigningKey::from_slice(&crate::chains::SECP256K1_KEY) {
        out.push((
            "psbt",
            "p2wpkh".into(),
            samples::psbt(&samples::p2wpkh_script(&key), 10_000, false),
        ));
        out.push((
            "psbt",
            "p2tr-change".into(),
            samples::psbt(&samples::p2tr_script(&key), 10_000, true),
        ));
    }
    let issuer = crate::attestation::issuer();
    let mut spec = crate::attestation::spec();
    if let Ok(document) = issuer.sign(&spec) {
        out.push(("attestation", "valid".into(), document));
    }
    spec.map_encoding = keyhold_attestation::builder::MapEncoding::Indefinite;
    spec.tagged = true;
    if let Ok(document) = issuer.sign(&spec) {
        out.push(("attestation", "tagged-indefinite".into(), document));
    }
    out.push(("eip712", "mail".into(), samples::EIP712_MAIL.into()));
    out.push(("eip712", "permit".into(), samples::EIP712_PERMIT.into()));
    for (name, call) in [
        ("transfer", samples::ABI_CALL_TRANSFER),
        ("nested-arrays", samples::ABI_CALL_G),
    ] {
        let call = hex::decode(call).unwrap_or_default();
        out.push(("abi", format!("{name}-calldata"), call.clone()));
        let mut with_abi = samples::ABI.as_bytes().to_vec();
        with_abi.push(0);
        with_abi.extend(call);
        out.push(("abi", format!("{name}-with-abi"), with_abi));
    }
    // `withdraw(1000, "hi", key, Some(-2), [[1]], [true, false], Capped(5), Node { raw: ca, next: None })`
    let mut withdraw = vec![7u8];
    withdraw.extend(1000u64.to_le_bytes());
    withdraw.extend(2u32.to_le_bytes());
    withdraw.extend(b"hi");
    withdraw.extend([9u8; 32]);
    withdraw.extend([1, 0xfe, 0xff]);
    withdraw.extend(1u32.to_le_bytes());
    withdraw.extend(1u32.to_le_bytes());
    withdraw.push(1);
    withdraw.extend([1, 0, 1]);
    withdraw.extend(5u128.to_le_bytes());
    withdraw.extend(1u32.to_le_bytes());
    withdraw.extend([0xca, 0]);
    out.push(("abi", "idl-withdraw".into(), withdraw.clone()));
    let mut with_idl = samples::IDL.as_bytes().to_vec();
    with_idl.push(0);
    with_idl.extend(withdraw);
    out.push(("abi", "idl-withdraw-with-idl".into(), with_idl));
    let key = crate::world::key(0x21);
    let stamp = crate::world::stamp(&key, crate::stamp::BODY);
    out.push(("stamp", "valid".into(), stamp.clone().into_bytes()));
    let json = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        stamp.as_bytes(),
    )
    .unwrap_or_default();
    out.push(("stamp", "valid-json".into(), json));
    out
}

/// Which request seeds must succeed: their names start with `ok-`.
pub fn expects_success(name: &str) -> Option<bool> {
    let name = name.strip_prefix("gen-").unwrap_or(name);
    if name.starts_with("ok-") {
        Some(true)
    } else if name.starts_with("err-") {
        Some(false)
    } else {
        None
    }
}
