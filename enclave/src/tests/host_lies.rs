//! "What if the host lies here?" — every field the host adds to a request, tampered with.

use keyhold_shared::msg::{
    ActivityContext, ActivityRequest, ActivityResult, AddressFormat, Curve, Request, Response,
    SealedSeed,
};
use keyhold_shared::{ErrorCode, Uuid, WalletId};

use super::support::{Fixture, create_wallet_body, fixture, sign_body, signed};

struct Wallet {
    id: WalletId,
    seed: SealedSeed,
    addresses: Vec<String>,
}

/// Creates a wallet; the new organization state (which records it) becomes the fixture's.
fn create_wallet(f: &mut Fixture, paths: &[&str]) -> Wallet {
    let body = create_wallet_body(&f.org_id, "w", paths);
    let request = Request::Activity(ActivityRequest {
        parent: None,
        request: signed(&f.api_key, &body),
        org: f.org.clone(),
        context: ActivityContext::None,
    });
    let Ok(Response::Activity(out)) = f.enclave.handle(request) else {
        panic!("create wallet")
    };
    if let Some(state) = out.new_org_state.clone() {
        f.org = state;
    }
    let ActivityResult::CreateWallet {
        wallet_id,
        accounts,
        sealed_seed,
        ..
    } = out.result
    else {
        panic!()
    };
    Wallet {
        id: wallet_id,
        seed: sealed_seed,
        addresses: accounts.into_iter().map(|a| a.address).collect(),
    }
}

fn sign(
    f: &Fixture,
    sign_with: &str,
    context: ActivityContext,
) -> Result<Response, keyhold_shared::WireError> {
    let body = sign_body(&f.org_id, sign_with, "deadbeef", "HASH_FUNCTION_KECCAK256");
    f.enclave.handle(Request::Activity(ActivityRequest {
        parent: None,
        request: signed(&f.api_key, &body),
        org: f.org.clone(),
        context,
    }))
}

fn ctx(wallet: &Wallet, path: &str) -> ActivityContext {
    ActivityContext::WalletAccount {
        wallet_id: wallet.id,
        path: path.into(),
        curve: Curve::Secp256k1,
        address_format: AddressFormat::Ethereum,
        sealed_seed: wallet.seed.clone(),
    }
}

#[test]
fn honest_host_gets_a_signature() {
    let mut f = fixture();
    let w = create_wallet(&mut f, &["m/44'/60'/0'/0/0"]);
    assert!(matches!(
        sign(&f, &w.addresses[0], ctx(&w, "m/44'/60'/0'/0/0")),
        Ok(Response::Activity(_))
    ));
}

#[test]
fn host_resolves_sign_with_to_another_path() {
    let mut f = fixture();
    let w = create_wallet(&mut f, &["m/44'/60'/0'/0/0", "m/44'/60'/0'/0/1"]);
    // The client asked for account 0; the host substitutes account 1's path.
    let err = sign(&f, &w.addresses[0], ctx(&w, "m/44'/60'/0'/0/1")).unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
}

#[test]
fn host_substitutes_another_wallets_seed() {
    let mut f = fixture();
    let a = create_wallet(&mut f, &["m/44'/60'/0'/0/0"]);
    let b = create_wallet(&mut f, &["m/44'/60'/0'/0/0"]);
    // b's seed presented as a's wallet: the seal is bound to the wallet id.
    let lie = ActivityContext::WalletAccount {
        wallet_id: a.id,
        path: "m/44'/60'/0'/0/0".into(),
        curve: Curve::Secp256k1,
        address_format: AddressFormat::Ethereum,
        sealed_seed: b.seed.clone(),
    };
    assert_eq!(
        sign(&f, &a.addresses[0], lie).unwrap_err().code,
        ErrorCode::SealedDataInvalid
    );
    // b's seed under b's id, but the client named a's address.
    assert_eq!(
        sign(&f, &a.addresses[0], ctx(&b, "m/44'/60'/0'/0/0"))
            .unwrap_err()
            .code,
        ErrorCode::NotFound
    );
    // an invented wallet id
    let invented = ActivityContext::WalletAccount {
        wallet_id: WalletId(Uuid::from_bytes([7; 16])),
        path: "m/44'/60'/0'/0/0".into(),
        curve: Curve::Secp256k1,
        address_format: AddressFormat::Ethereum,
        sealed_seed: a.seed.clone(),
    };
    assert_eq!(
        sign(&f, &a.addresses[0], invented).unwrap_err().code,
        ErrorCode::SealedDataInvalid
    );
}

#[test]
fn host_uses_a_seed_from_another_organization() {
    let f = fixture();
    let mut other = fixture();
    let w = create_wallet(&mut other, &["m/44'/60'/0'/0/0"]);
    // other enclave (other quorum key): cannot open; same enclave, other org: bound to org id.
    assert_eq!(
        sign(&f, &w.addresses[0], ctx(&w, "m/44'/60'/0'/0/0"))
            .unwrap_err()
            .code,
        ErrorCode::SealedDataInvalid
    );
}

#[test]
fn host_presents_another_organizations_state() {
    let f = fixture();
    let other = fixture();
    // a request stamped for f's org, sent with other's sealed state: other's enclave cannot
    // even open it, and f's own enclave sees the org id mismatch after authentication fails.
    let body = create_wallet_body(&f.org_id, "w", &[]);
    let request = Request::Activity(ActivityRequest {
        parent: None,
        request: signed(&f.api_key, &body),
        org: other.org.clone(),
        context: ActivityContext::None,
    });
    assert_eq!(
        f.enclave.handle(request).unwrap_err().code,
        ErrorCode::SealedDataInvalid
    );
}

#[test]
fn host_alters_the_body_or_drops_the_stamp() {
    let f = fixture();
    let body = create_wallet_body(&f.org_id, "w", &[]);
    let mut request = signed(&f.api_key, &body);
    request.body = body.replace("\"w\"", "\"x\"").into_bytes();
    let err = f
        .enclave
        .handle(Request::Activity(ActivityRequest {
            parent: None,
            request,
            org: f.org.clone(),
            context: ActivityContext::None,
        }))
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::SignatureInvalid);
    let request = keyhold_shared::msg::SignedRequest {
        body: body.into_bytes(),
        stamp: keyhold_shared::msg::Stamp::Missing,
    };
    let err = f
        .enclave
        .handle(Request::Activity(ActivityRequest {
            parent: None,
            request,
            org: f.org.clone(),
            context: ActivityContext::None,
        }))
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::SignatureMissing);
}

#[test]
fn stale_or_future_timestamps_are_refused() {
    let f = fixture();
    for offset in [-(2 * 60 * 60 * 1000i64), 10 * 60 * 1000] {
        let ts = (crate::enclave::now_ms() as i64 + offset).to_string();
        let body = create_wallet_body(&f.org_id, "w", &[]);
        let mut json: serde_json::Value = serde_json::from_str(&body).unwrap();
        json["timestampMs"] = serde_json::Value::String(ts);
        let body = json.to_string();
        let err = f
            .enclave
            .handle(Request::Activity(ActivityRequest {
                parent: None,
                request: signed(&f.api_key, &body),
                org: f.org.clone(),
                context: ActivityContext::None,
            }))
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidTime, "{offset}");
    }
}

#[test]
fn signatures_recover_to_the_account_address() {
    use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
    let mut f = fixture();
    let w = create_wallet(&mut f, &["m/44'/60'/0'/0/0"]);
    let Ok(Response::Activity(out)) = sign(
        &f,
        &w.addresses[0].to_lowercase(),
        ctx(&w, "m/44'/60'/0'/0/0"),
    ) else {
        panic!()
    };
    let ActivityResult::SignRawPayload(sig) = out.result else {
        panic!()
    };
    let digest = crate::chains::ethereum::keccak256(&[0xde, 0xad, 0xbe, 0xef]);
    let key = VerifyingKey::recover_from_prehash(
        &digest,
        &Signature::from_scalars(sig.r, sig.s).unwrap(),
        RecoveryId::from_byte(sig.v).unwrap(),
    )
    .unwrap();
    assert_eq!(crate::chains::ethereum::address(&key), w.addresses[0]);
}

// ---- every key type and context added with issue 3 ------------------------------------------

fn activity(
    f: &Fixture,
    kind: &str,
    parameters: serde_json::Value,
    context: ActivityContext,
) -> Result<Response, keyhold_shared::WireError> {
    let body = serde_json::json!({
        "type": kind,
        "timestampMs": crate::testing::fresh_timestamp_ms().to_string(),
        "organizationId": f.org_id.to_string(),
        "parameters": parameters,
    })
    .to_string();
    f.enclave.handle(Request::Activity(ActivityRequest {
        parent: None,
        request: signed(&f.api_key, &body),
        org: f.org.clone(),
        context,
    }))
}

fn wallet_with(f: &mut Fixture, accounts: serde_json::Value) -> Wallet {
    let Ok(Response::Activity(out)) = activity(
        f,
        "ACTIVITY_TYPE_CREATE_WALLET",
        serde_json::json!({"walletName": "w", "accounts": accounts}),
        ActivityContext::None,
    ) else {
        panic!("create wallet")
    };
    // Creating a wallet records it in the organization's sealed state.
    if let Some(state) = out.new_org_state.clone() {
        f.org = state;
    }
    let ActivityResult::CreateWallet {
        wallet_id,
        accounts,
        sealed_seed,
        ..
    } = out.result
    else {
        panic!()
    };
    Wallet {
        id: wallet_id,
        seed: sealed_seed,
        addresses: accounts.into_iter().map(|a| a.address).collect(),
    }
}

fn sign_ed25519(
    f: &Fixture,
    sign_with: &str,
    context: ActivityContext,
) -> Result<Response, keyhold_shared::WireError> {
    activity(
        f,
        "ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2",
        serde_json::json!({"signWith": sign_with, "payload": "abcd",
            "encoding": "PAYLOAD_ENCODING_HEXADECIMAL", "hashFunction": "HASH_FUNCTION_NOT_APPLICABLE"}),
        context,
    )
}

#[test]
fn host_lies_about_an_ed25519_accounts_path_curve_or_format() {
    let mut f = fixture();
    let w = wallet_with(
        &mut f,
        serde_json::json!([
            {"curve": "CURVE_ED25519", "pathFormat": "PATH_FORMAT_BIP32", "path": "m/44'/501'/0'/0'", "addressFormat": "ADDRESS_FORMAT_SOLANA"},
            {"curve": "CURVE_ED25519", "pathFormat": "PATH_FORMAT_BIP32", "path": "m/44'/501'/1'/0'", "addressFormat": "ADDRESS_FORMAT_SOLANA"},
        ]),
    );
    let ctx = |path: &str, curve, address_format| ActivityContext::WalletAccount {
        wallet_id: w.id,
        path: path.into(),
        curve,
        address_format,
        sealed_seed: w.seed.clone(),
    };
    let honest = ctx("m/44'/501'/0'/0'", Curve::Ed25519, AddressFormat::Solana);
    let Ok(Response::Activity(out)) = sign_ed25519(&f, &w.addresses[0], honest) else {
        panic!("honest host")
    };
    let ActivityResult::SignRawPayload(sig) = out.result else {
        panic!()
    };
    let public = bs58::decode(&w.addresses[0]).into_vec().unwrap();
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&public.try_into().unwrap()).unwrap();
    let mut bytes = [0u8; 64];
    bytes[..32].copy_from_slice(&sig.r);
    bytes[32..].copy_from_slice(&sig.s);
    vk.verify_strict(&[0xab, 0xcd], &ed25519_dalek::Signature::from_bytes(&bytes))
        .unwrap();
    for lie in [
        ctx("m/44'/501'/1'/0'", Curve::Ed25519, AddressFormat::Solana),
        ctx(
            "m/44'/501'/0'/0'",
            Curve::Secp256k1,
            AddressFormat::Compressed,
        ),
        ctx(
            "m/44'/501'/0'/0'",
            Curve::Ed25519,
            AddressFormat::Compressed,
        ),
        ctx("m/44'/501'/0'/0'", Curve::P256, AddressFormat::Compressed),
    ] {
        assert_eq!(
            sign_ed25519(&f, &w.addresses[0], lie).unwrap_err().code,
            ErrorCode::NotFound
        );
    }
}

fn private_key(
    f: &mut Fixture,
    curve: &str,
    format: &str,
) -> (keyhold_shared::msg::CreatedPrivateKey, String) {
    let Ok(Response::Activity(out)) = activity(
        f,
        "ACTIVITY_TYPE_CREATE_PRIVATE_KEYS_V2",
        serde_json::json!({"privateKeys": [{"privateKeyName": "k", "curve": curve,
            "privateKeyTags": [], "addressFormats": [format]}]}),
        ActivityContext::None,
    ) else {
        panic!("create private key")
    };
    f.org = out.new_org_state.clone().unwrap();
    let ActivityResult::CreatePrivateKeys(mut keys) = out.result else {
        panic!()
    };
    let key = keys.remove(0);
    let address = key.addresses[0].1.clone();
    (key, address)
}

#[test]
fn host_swaps_private_keys_or_lies_about_their_ids() {
    let mut f = fixture();
    let (a, a_address) = private_key(&mut f, "CURVE_SECP256K1", "ADDRESS_FORMAT_ETHEREUM");
    let (b, _) = private_key(&mut f, "CURVE_SECP256K1", "ADDRESS_FORMAT_ETHEREUM");
    let ctx = |id, format, sealed: &SealedSeed| ActivityContext::PrivateKey {
        private_key_id: id,
        address_format: format,
        sealed_key: sealed.clone(),
    };
    // honest, by address and by id
    assert!(
        sign(
            &f,
            &a_address,
            ctx(
                a.private_key_id,
                Some(AddressFormat::Ethereum),
                &a.sealed_key
            )
        )
        .is_ok()
    );
    assert!(
        sign(
            &f,
            &a.private_key_id.to_string(),
            ctx(a.private_key_id, None, &a.sealed_key)
        )
        .is_ok()
    );
    // b's sealed key presented under a's id: the seal binds the id
    assert_eq!(
        sign(
            &f,
            &a_address,
            ctx(
                a.private_key_id,
                Some(AddressFormat::Ethereum),
                &b.sealed_key
            )
        )
        .unwrap_err()
        .code,
        ErrorCode::SealedDataInvalid
    );
    // b's key honestly labelled, but the client named a's address or a's id
    assert_eq!(
        sign(
            &f,
            &a_address,
            ctx(
                b.private_key_id,
                Some(AddressFormat::Ethereum),
                &b.sealed_key
            )
        )
        .unwrap_err()
        .code,
        ErrorCode::NotFound
    );
    assert_eq!(
        sign(
            &f,
            &a.private_key_id.to_string(),
            ctx(b.private_key_id, None, &b.sealed_key)
        )
        .unwrap_err()
        .code,
        ErrorCode::NotFound
    );
    // another organization's key
    let mut other = fixture();
    let (c, c_address) = private_key(&mut other, "CURVE_SECP256K1", "ADDRESS_FORMAT_ETHEREUM");
    assert_eq!(
        sign(
            &f,
            &c_address,
            ctx(
                c.private_key_id,
                Some(AddressFormat::Ethereum),
                &c.sealed_key
            )
        )
        .unwrap_err()
        .code,
        ErrorCode::SealedDataInvalid
    );
}

#[test]
fn host_substitutes_the_wallet_of_create_wallet_accounts() {
    let mut f = fixture();
    let a = create_wallet(&mut f, &["m/44'/60'/0'/0/0"]);
    let b = create_wallet(&mut f, &["m/44'/60'/0'/0/0"]);
    let params = serde_json::json!({"walletId": a.id.to_string(), "accounts": [
        {"curve": "CURVE_SECP256K1", "pathFormat": "PATH_FORMAT_BIP32", "path": "m/44'/60'/0'/0/0", "addressFormat": "ADDRESS_FORMAT_ETHEREUM"}]});
    let run = |wallet_id, seed: &SealedSeed| {
        activity(
            &f,
            "ACTIVITY_TYPE_CREATE_WALLET_ACCOUNTS",
            params.clone(),
            ActivityContext::Wallet {
                wallet_id,
                sealed_seed: seed.clone(),
            },
        )
    };
    let Ok(Response::Activity(out)) = run(a.id, &a.seed) else {
        panic!("honest host")
    };
    let ActivityResult::CreateWalletAccounts { accounts, .. } = out.result else {
        panic!()
    };
    assert_eq!(accounts[0].address, a.addresses[0]);
    assert_eq!(
        run(a.id, &b.seed).unwrap_err().code,
        ErrorCode::SealedDataInvalid
    );
    assert_eq!(run(b.id, &b.seed).unwrap_err().code, ErrorCode::NotFound);
    assert_eq!(
        activity(
            &f,
            "ACTIVITY_TYPE_CREATE_WALLET_ACCOUNTS",
            params.clone(),
            ActivityContext::None
        )
        .unwrap_err()
        .code,
        ErrorCode::NotFound
    );
}

#[test]
fn host_lies_about_a_bitcoin_accounts_format() {
    // A P2TR account signs Schnorr, a P2WPKH account ECDSA: claiming one format for the
    // other's address fails the address check instead of changing the signature scheme.
    let mut f = fixture();
    let w = wallet_with(
        &mut f,
        serde_json::json!([
            {"curve": "CURVE_SECP256K1", "pathFormat": "PATH_FORMAT_BIP32", "path": "m/86'/0'/0'/0/0", "addressFormat": "ADDRESS_FORMAT_BITCOIN_MAINNET_P2TR"},
        ]),
    );
    let lie = ActivityContext::WalletAccount {
        wallet_id: w.id,
        path: "m/86'/0'/0'/0/0".into(),
        curve: Curve::Secp256k1,
        address_format: AddressFormat::Bitcoin(
            keyhold_shared::msg::BitcoinNetwork::Mainnet,
            keyhold_shared::msg::BitcoinKind::P2wpkh,
        ),
        sealed_seed: w.seed.clone(),
    };
    assert_eq!(
        sign(&f, &w.addresses[0], lie).unwrap_err().code,
        ErrorCode::NotFound
    );
}
