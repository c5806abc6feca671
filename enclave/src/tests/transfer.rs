//! Export, import and sessions end to end through the enclave's request handler, with the
//! client side played by the same HPKE suite, and a host that lies about what it hands over.

use keyhold_shared::msg::{
    ActivityContext, ActivityRequest, ActivityResult, AddressFormat, AuthenticateRequest, Curve,
    DOMAIN_SIGNER_KEY, ExportTarget, ImportKind, Principal, Request, Response, SealedOrgState,
    SealedSeed, domain_digest,
};
use keyhold_shared::{ErrorCode, OrgId, WireError};
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
use p256::ecdsa::{DerSignature, SigningKey, VerifyingKey};
use serde_json::{Value, json};

use super::orgs::{body, create_policy, create_user, new_key, public_hex, run, second_org};
use super::support::{Fixture, create_wallet_body, fixture, sign_body, signed};
use crate::bundles::hpke_p256::{ReceiverKey, TargetKey, seal};
use crate::keys::SeedMaterial;

const ABOUT: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const ABOUT_ETH: &str = "0x9858EfFD232B4033E47d90003D41EC34EcaEda94";

fn signer_key(f: &Fixture) -> Vec<u8> {
    let Ok(Response::SignerKey(key)) = f.enclave.handle(Request::SignerKey) else {
        panic!("signer key")
    };
    key.public_key
}

fn activity(
    f: &Fixture,
    state: &SealedOrgState,
    key: &SigningKey,
    body: &str,
    context: ActivityContext,
) -> Result<keyhold_shared::msg::ActivityOutput, WireError> {
    match f.enclave.handle(Request::Activity(ActivityRequest {
        request: signed(key, body),
        org: state.clone(),
        context,
        parent: None,
    }))? {
        Response::Activity(out) => Ok(*out),
        other => panic!("unexpected answer {other:?}"),
    }
}

fn whoami(f: &Fixture, state: &SealedOrgState, key: &SigningKey) -> Result<Principal, WireError> {
    let query = json!({"organizationId": f.org_id.to_string()}).to_string();
    match f
        .enclave
        .handle(Request::Authenticate(AuthenticateRequest {
            request: signed(key, &query),
            org: state.clone(),
            parent: None,
        }))? {
        Response::Authenticate(p) => Ok(p),
        other => panic!("unexpected answer {other:?}"),
    }
}

/// Checks a signed bundle as `@turnkey/crypto` does and returns its decoded `data`.
fn verified_data(f: &Fixture, bundle: &str, org: &OrgId) -> Value {
    let v: Value = serde_json::from_str(bundle).unwrap();
    assert_eq!(v["version"], "v1.0.0");
    let pinned = hex::encode(signer_key(f));
    assert_eq!(v["enclaveQuorumPublic"].as_str().unwrap(), pinned);
    let data = hex::decode(v["data"].as_str().unwrap()).unwrap();
    let sig = DerSignature::from_bytes(&hex::decode(v["dataSignature"].as_str().unwrap()).unwrap())
        .unwrap();
    VerifyingKey::from_sec1_bytes(&hex::decode(&pinned).unwrap())
        .unwrap()
        .verify(&data, &sig)
        .unwrap();
    let data: Value = serde_json::from_slice(&data).unwrap();
    assert_eq!(data["organizationId"], org.to_string());
    data
}

/// Decrypts an export bundle with the client's key.
fn decrypt_export(f: &Fixture, bundle: &str, client: &ReceiverKey) -> Vec<u8> {
    let data = verified_data(f, bundle, &f.org_id);
    let enc = hex::decode(data["encappedPublic"].as_str().unwrap()).unwrap();
    let ct = hex::decode(data["ciphertext"].as_str().unwrap()).unwrap();
    client.open(&enc, &ct).expect("decrypts").to_vec()
}

fn client_hex(client: &ReceiverKey) -> String {
    hex::encode(client.public_uncompressed())
}

struct Wallet {
    id: keyhold_shared::WalletId,
    address: String,
    sealed: SealedSeed,
}

fn create_wallet(f: &Fixture, state: &SealedOrgState) -> (SealedOrgState, Wallet) {
    let out = run(
        f,
        state,
        &f.api_key,
        &create_wallet_body(&f.org_id, "w", &["m/44'/60'/0'/0/0"]),
    )
    .unwrap();
    let ActivityResult::CreateWallet {
        wallet_id,
        accounts,
        sealed_seed,
        ..
    } = out.result
    else {
        panic!()
    };
    (
        out.new_org_state.unwrap(),
        Wallet {
            id: wallet_id,
            address: accounts[0].address.clone(),
            sealed: sealed_seed,
        },
    )
}

fn eth_account(wallet: &Wallet) -> ActivityContext {
    ActivityContext::WalletAccount {
        wallet_id: wallet.id,
        path: "m/44'/60'/0'/0/0".into(),
        curve: Curve::Secp256k1,
        address_format: AddressFormat::Ethereum,
        sealed_seed: wallet.sealed.clone(),
    }
}

fn eth_address_of(seed: &SeedMaterial) -> String {
    let key = seed
        .derive_secp256k1(&crate::keys::Bip32Path::parse("m/44'/60'/0'/0/0").unwrap())
        .unwrap();
    crate::chains::ethereum::address(key.verifying_key())
}

#[test]
fn signer_key_is_endorsed_by_the_quorum_key() {
    let f = fixture();
    let Ok(Response::SignerKey(key)) = f.enclave.handle(Request::SignerKey) else {
        panic!()
    };
    let Ok(Response::Status(status)) = f.enclave.handle(Request::Status) else {
        panic!()
    };
    let quorum = VerifyingKey::from_sec1_bytes(&status.quorum_public_key.unwrap()).unwrap();
    let digest = domain_digest(DOMAIN_SIGNER_KEY, &key.public_key).unwrap();
    let sig = DerSignature::from_bytes(&key.endorsement).unwrap();
    quorum.verify_prehash(&digest, &sig).unwrap();
    assert_eq!(key.public_key.len(), 65);
}

#[test]
fn exported_wallet_decrypts_to_its_mnemonic_and_is_marked_exported() {
    let f = fixture();
    let bob = new_key();
    let (state, bob_id) = create_user(&f, &f.org, "bob", &bob);
    let (state, wallet) = create_wallet(&f, &state);
    // bob may sign with wallets that were never exported
    let (state, _) = create_policy(
        &f,
        &state,
        "EFFECT_ALLOW",
        "activity.action == 'SIGN' && wallet.exported == false",
        &format!("approvers.any(u, u.id == '{bob_id}')"),
    );
    let sign = |state: &SealedOrgState| {
        let b = sign_body(
            &f.org_id,
            &wallet.address,
            "deadbeef",
            "HASH_FUNCTION_KECCAK256",
        );
        activity(&f, state, &bob, &b, eth_account(&wallet))
    };
    sign(&state).unwrap();

    let client = ReceiverKey::generate().unwrap();
    let export = body(
        &f.org_id,
        "ACTIVITY_TYPE_EXPORT_WALLET",
        json!({"walletId": wallet.id.to_string(), "targetPublicKey": client_hex(&client)}),
    );
    let context = ActivityContext::Wallet {
        wallet_id: wallet.id,
        sealed_seed: wallet.sealed.clone(),
    };
    let out = activity(&f, &state, &f.api_key, &export, context.clone()).unwrap();
    let ActivityResult::Exported {
        target: ExportTarget::Wallet(id),
        export_bundle,
    } = out.result
    else {
        panic!("{:?}", out.result)
    };
    assert_eq!(id, wallet.id);
    let mnemonic = String::from_utf8(decrypt_export(&f, &export_bundle, &client)).unwrap();
    let seed = SeedMaterial::from_mnemonic(&mnemonic).unwrap();
    assert_eq!(eth_address_of(&seed), wallet.address);
    // another client key cannot read it
    let data = verified_data(&f, &export_bundle, &f.org_id);
    let enc = hex::decode(data["encappedPublic"].as_str().unwrap()).unwrap();
    let ct = hex::decode(data["ciphertext"].as_str().unwrap()).unwrap();
    assert!(ReceiverKey::generate().unwrap().open(&enc, &ct).is_none());

    // the sealed state now says exported: bob's policy no longer allows signing
    let state = out.new_org_state.unwrap();
    assert_eq!(sign(&state).unwrap_err().code, ErrorCode::PermissionDenied);
    // the host replays the export on the state it came from... only an older state, refused
    let replay = activity(&f, &state, &f.api_key, &export, context).unwrap_err();
    assert_eq!(replay.code, ErrorCode::InvalidRequest);
}

#[test]
fn host_cannot_redirect_an_export() {
    let f = fixture();
    let (state, a) = create_wallet(&f, &f.org);
    let (state, b) = create_wallet(&f, &state);
    let client = ReceiverKey::generate().unwrap();
    let export = body(
        &f.org_id,
        "ACTIVITY_TYPE_EXPORT_WALLET",
        json!({"walletId": a.id.to_string(), "targetPublicKey": client_hex(&client)}),
    );
    // the host hands over wallet b (its own seed), or b's seed under a's id
    for (id, sealed, code) in [
        (b.id, b.sealed.clone(), ErrorCode::NotFound),
        (a.id, b.sealed.clone(), ErrorCode::SealedDataInvalid),
    ] {
        let err = activity(
            &f,
            &state,
            &f.api_key,
            &export,
            ActivityContext::Wallet {
                wallet_id: id,
                sealed_seed: sealed,
            },
        )
        .unwrap_err();
        assert_eq!(err.code, code);
    }
    // an account export named by address, resolved by the host to another account
    let account = body(
        &f.org_id,
        "ACTIVITY_TYPE_EXPORT_WALLET_ACCOUNT",
        json!({"address": a.address, "targetPublicKey": client_hex(&client)}),
    );
    let err = activity(&f, &state, &f.api_key, &account, eth_account(&b)).unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
    // a target key that is not a P-256 point
    let bad = body(
        &f.org_id,
        "ACTIVITY_TYPE_EXPORT_WALLET",
        json!({"walletId": a.id.to_string(), "targetPublicKey": "04abcd"}),
    );
    let err = activity(
        &f,
        &state,
        &f.api_key,
        &bad,
        ActivityContext::Wallet {
            wallet_id: a.id,
            sealed_seed: a.sealed.clone(),
        },
    )
    .unwrap_err();
    assert!(err.message.contains("targetPublicKey"), "{}", err.message);
}

#[test]
fn wallet_account_and_private_key_exports_carry_the_raw_key() {
    let f = fixture();
    let (state, wallet) = create_wallet(&f, &f.org);
    let client = ReceiverKey::generate().unwrap();
    let account = body(
        &f.org_id,
        "ACTIVITY_TYPE_EXPORT_WALLET_ACCOUNT",
        json!({"address": wallet.address, "targetPublicKey": client_hex(&client)}),
    );
    let out = activity(&f, &state, &f.api_key, &account, eth_account(&wallet)).unwrap();
    let state = out.new_org_state.unwrap();
    let ActivityResult::Exported { export_bundle, .. } = out.result else {
        panic!()
    };
    let secret = decrypt_export(&f, &export_bundle, &client);
    let key = k256::ecdsa::SigningKey::from_slice(&secret).unwrap();
    assert_eq!(
        crate::chains::ethereum::address(key.verifying_key()),
        wallet.address
    );

    let create = body(
        &f.org_id,
        "ACTIVITY_TYPE_CREATE_PRIVATE_KEYS_V2",
        json!({"privateKeys": [{"privateKeyName": "k", "curve": "CURVE_SECP256K1",
               "privateKeyTags": [], "addressFormats": ["ADDRESS_FORMAT_ETHEREUM"]}]}),
    );
    let out = run(&f, &state, &f.api_key, &create).unwrap();
    // creating a private key records its metadata (policies read `private_key.*`)
    let state = out.new_org_state.clone().unwrap();
    let ActivityResult::CreatePrivateKeys(keys) = out.result else {
        panic!()
    };
    let pk = &keys[0];
    let export = body(
        &f.org_id,
        "ACTIVITY_TYPE_EXPORT_PRIVATE_KEY",
        json!({"privateKeyId": pk.private_key_id.to_string(), "targetPublicKey": client_hex(&client)}),
    );
    let context = ActivityContext::PrivateKey {
        private_key_id: pk.private_key_id,
        address_format: None,
        sealed_key: pk.sealed_key.clone(),
    };
    let out = activity(&f, &state, &f.api_key, &export, context).unwrap();
    let ActivityResult::Exported { export_bundle, .. } = out.result else {
        panic!()
    };
    let secret = decrypt_export(&f, &export_bundle, &client);
    let key = k256::ecdsa::SigningKey::from_slice(&secret).unwrap();
    assert_eq!(
        crate::chains::ethereum::address(key.verifying_key()),
        pk.addresses[0].1
    );
}

/// `INIT_IMPORT_*` for `user`: the import bundle's data, checked, and the sealed key.
fn init_import(
    f: &Fixture,
    state: &SealedOrgState,
    user: &str,
    kind: ImportKind,
) -> (TargetKey, SealedSeed) {
    let activity_type = match kind {
        ImportKind::Wallet => "ACTIVITY_TYPE_INIT_IMPORT_WALLET",
        ImportKind::PrivateKey => "ACTIVITY_TYPE_INIT_IMPORT_PRIVATE_KEY",
    };
    let b = body(&f.org_id, activity_type, json!({"userId": user}));
    let out = activity(f, state, &f.api_key, &b, ActivityContext::None).unwrap();
    assert!(out.new_org_state.is_none());
    let ActivityResult::InitImport {
        user_id,
        kind: got,
        import_bundle,
        sealed_key,
    } = out.result
    else {
        panic!()
    };
    assert_eq!((user_id.to_string().as_str(), got), (user, kind));
    let data = verified_data(f, &import_bundle, &f.org_id);
    assert_eq!(data["userId"], user);
    let target = TargetKey::parse_hex("t", data["targetPublic"].as_str().unwrap()).unwrap();
    (target, sealed_key)
}

/// What `encryptWalletToBundle` / `encryptPrivateKeyToBundle` produce.
fn encrypted_bundle(target: &TargetKey, plaintext: &[u8]) -> String {
    let sealed = seal(target, plaintext).unwrap();
    json!({"encappedPublic": hex::encode(sealed.encapped), "ciphertext": hex::encode(&sealed.ciphertext)})
        .to_string()
}

fn import_wallet_body(f: &Fixture, user: &str, bundle: &str) -> String {
    body(
        &f.org_id,
        "ACTIVITY_TYPE_IMPORT_WALLET",
        json!({"userId": user, "walletName": "imported", "encryptedBundle": bundle,
               "accounts": [{"curve": "CURVE_SECP256K1", "pathFormat": "PATH_FORMAT_BIP32",
                             "path": "m/44'/60'/0'/0/0", "addressFormat": "ADDRESS_FORMAT_ETHEREUM"}]}),
    )
}

#[test]
fn imported_wallet_signs_and_is_marked_imported() {
    let f = fixture();
    let root = whoami(&f, &f.org, &f.api_key).unwrap().user_id.to_string();
    let (target, sealed_key) = init_import(&f, &f.org, &root, ImportKind::Wallet);
    let b = import_wallet_body(&f, &root, &encrypted_bundle(&target, ABOUT.as_bytes()));
    let context = ActivityContext::ImportKey { sealed_key };
    let out = activity(&f, &f.org, &f.api_key, &b, context.clone()).unwrap();
    let ActivityResult::ImportWallet(wallet) = out.result else {
        panic!()
    };
    assert_eq!(wallet.accounts[0].address, ABOUT_ETH);
    let state = out.new_org_state.unwrap();
    // a replay of the same import is refused
    let err = activity(&f, &state, &f.api_key, &b, context).unwrap_err();
    assert!(err.message.contains("replayed"), "{}", err.message);
    // it signs like any wallet
    let w = Wallet {
        id: wallet.wallet_id,
        address: ABOUT_ETH.into(),
        sealed: wallet.sealed_seed,
    };
    let sign = sign_body(&f.org_id, ABOUT_ETH, "deadbeef", "HASH_FUNCTION_KECCAK256");
    activity(&f, &state, &f.api_key, &sign, eth_account(&w)).unwrap();
    // and policies see `wallet.imported`
    let (state, _) = create_policy(&f, &state, "EFFECT_DENY", "wallet.imported == true", "");
    let bob = new_key();
    let (state, bob_id) = create_user(&f, &state, "bob", &bob);
    let (state, _) = create_policy(
        &f,
        &state,
        "EFFECT_ALLOW",
        "activity.action == 'SIGN'",
        &format!("approvers.any(u, u.id == '{bob_id}')"),
    );
    let err = activity(&f, &state, &bob, &sign, eth_account(&w)).unwrap_err();
    assert_eq!(err.code, ErrorCode::PermissionDenied);
}

#[test]
fn import_refuses_keys_of_another_user_org_kind_or_init() {
    let f = fixture();
    let root = whoami(&f, &f.org, &f.api_key).unwrap().user_id.to_string();
    let bob = new_key();
    let (state, bob_id) = create_user(&f, &f.org, "bob", &bob);
    let (target, root_key) = init_import(&f, &state, &root, ImportKind::Wallet);
    let bundle = encrypted_bundle(&target, ABOUT.as_bytes());
    let import = |user: &str, sealed: &SealedSeed| {
        activity(
            &f,
            &state,
            &f.api_key,
            &import_wallet_body(&f, user, &bundle),
            ActivityContext::ImportKey {
                sealed_key: sealed.clone(),
            },
        )
    };
    // the host presents root's sealed import key for bob: bound to root, refused
    let err = import(&bob_id, &root_key).unwrap_err();
    assert!(
        err.message.contains("no import is pending"),
        "{}",
        err.message
    );
    // a key for a private-key import
    let (_, pk_key) = init_import(&f, &state, &root, ImportKind::PrivateKey);
    assert!(import(&root, &pk_key).is_err());
    // a newer init's key (the host swaps it in): the client encrypted to the older one
    let (_, newer) = init_import(&f, &state, &root, ImportKind::Wallet);
    let err = import(&root, &newer).unwrap_err();
    assert!(err.message.contains("does not decrypt"), "{}", err.message);
    // no key at all
    let err = activity(
        &f,
        &state,
        &f.api_key,
        &import_wallet_body(&f, &root, &bundle),
        ActivityContext::None,
    )
    .unwrap_err();
    assert!(
        err.message.contains("init_import_wallet"),
        "{}",
        err.message
    );
    // another organization's import key
    let other_root = new_key();
    let (other_state, other_org) = second_org(&f, &other_root);
    let other_user = whoami_in(&f, &other_state, &other_org, &other_root);
    let b = body(
        &other_org,
        "ACTIVITY_TYPE_INIT_IMPORT_WALLET",
        json!({"userId": other_user}),
    );
    let out = activity(&f, &other_state, &other_root, &b, ActivityContext::None).unwrap();
    let ActivityResult::InitImport { sealed_key, .. } = out.result else {
        panic!()
    };
    assert!(import(&root, &sealed_key).is_err());
    // a mnemonic with a bad checksum is refused with a reason; the right one imports
    let bad = encrypted_bundle(&target, ABOUT.replace("about", "abandon").as_bytes());
    let err = activity(
        &f,
        &state,
        &f.api_key,
        &import_wallet_body(&f, &root, &bad),
        ActivityContext::ImportKey {
            sealed_key: root_key.clone(),
        },
    )
    .unwrap_err();
    assert!(err.message.contains("checksum"), "{}", err.message);
    import(&root, &root_key).unwrap();
}

fn whoami_in(f: &Fixture, state: &SealedOrgState, org: &OrgId, key: &SigningKey) -> String {
    let query = json!({"organizationId": org.to_string()}).to_string();
    let Ok(Response::Authenticate(p)) =
        f.enclave.handle(Request::Authenticate(AuthenticateRequest {
            request: signed(key, &query),
            org: state.clone(),
            parent: None,
        }))
    else {
        panic!()
    };
    p.user_id.to_string()
}

#[test]
fn imported_private_key_keeps_its_addresses() {
    let f = fixture();
    let root = whoami(&f, &f.org, &f.api_key).unwrap().user_id.to_string();
    let (target, sealed_key) = init_import(&f, &f.org, &root, ImportKind::PrivateKey);
    let secret = [0x11u8; 32];
    let expected = crate::chains::ethereum::address(
        k256::ecdsa::SigningKey::from_slice(&secret)
            .unwrap()
            .verifying_key(),
    );
    let import = |plaintext: &[u8]| {
        let b = body(
            &f.org_id,
            "ACTIVITY_TYPE_IMPORT_PRIVATE_KEY",
            json!({"userId": root, "privateKeyName": "imported", "curve": "CURVE_SECP256K1",
                   "encryptedBundle": encrypted_bundle(&target, plaintext),
                   "addressFormats": ["ADDRESS_FORMAT_ETHEREUM"]}),
        );
        activity(
            &f,
            &f.org,
            &f.api_key,
            &b,
            ActivityContext::ImportKey {
                sealed_key: sealed_key.clone(),
            },
        )
    };
    // refused imports change nothing; then the real one
    assert!(import(&[1u8; 31]).unwrap_err().message.contains("32 bytes"));
    assert!(
        import(&[0u8; 32])
            .unwrap_err()
            .message
            .contains("not a valid")
    );
    let out = import(&secret).unwrap();
    let ActivityResult::ImportPrivateKey(key) = out.result else {
        panic!()
    };
    assert_eq!(key.addresses, vec![(AddressFormat::Ethereum, expected)]);
}

#[test]
fn session_keys_stamp_until_they_expire_or_are_invalidated() {
    let f = fixture();
    let client = ReceiverKey::generate().unwrap();
    let session = |state: &SealedOrgState, params: Value| {
        let b = body(
            &f.org_id,
            "ACTIVITY_TYPE_CREATE_READ_WRITE_SESSION_V2",
            params,
        );
        let out = activity(&f, state, &f.api_key, &b, ActivityContext::None).unwrap();
        let ActivityResult::Organization { result_json, .. } = out.result else {
            panic!()
        };
        let result: Value = serde_json::from_str(&result_json).unwrap();
        let r = &result["createReadWriteSessionResultV2"];
        assert_eq!(r["organizationId"], f.org_id.to_string());
        assert_eq!(r["username"], "root");
        let bytes = bs58::decode(r["credentialBundle"].as_str().unwrap())
            .into_vec()
            .unwrap();
        let (payload, _checksum) = bytes.split_at(bytes.len() - 4);
        let (compressed, ct) = payload.split_at(33);
        let enc = VerifyingKey::from_sec1_bytes(compressed)
            .unwrap()
            .to_sec1_point(false);
        let secret = client.open(enc.as_bytes(), ct).unwrap();
        (
            out.new_org_state.unwrap(),
            SigningKey::from_slice(&secret).unwrap(),
        )
    };
    let target = client_hex(&client);
    let (state, first) = session(&f.org, json!({"targetPublicKey": target}));
    assert!(whoami(&f, &state, &first).is_ok());
    // a second session with invalidateExisting drops the first session key, not the root key
    let (state, second) = session(
        &state,
        json!({"targetPublicKey": target, "invalidateExisting": true, "expirationSeconds": "1"}),
    );
    assert_eq!(
        whoami(&f, &state, &first).unwrap_err().code,
        ErrorCode::PublicKeyNotFound
    );
    assert!(whoami(&f, &state, &second).is_ok());
    assert!(whoami(&f, &state, &f.api_key).is_ok());
    // the session key is a read-write credential: it runs activities
    let state = create_wallet_with(&f, &state, &second)
        .unwrap()
        .new_org_state
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(
        whoami(&f, &state, &second).unwrap_err().code,
        ErrorCode::ApiKeyExpired
    );
    let bad = body(
        &f.org_id,
        "ACTIVITY_TYPE_CREATE_READ_WRITE_SESSION_V2",
        json!({"targetPublicKey": target, "expirationSeconds": "0"}),
    );
    assert!(activity(&f, &state, &f.api_key, &bad, ActivityContext::None).is_err());
    let _ = public_hex(&first);
}

fn create_wallet_with(
    f: &Fixture,
    state: &SealedOrgState,
    key: &SigningKey,
) -> Result<keyhold_shared::msg::ActivityOutput, WireError> {
    run(
        f,
        state,
        key,
        &create_wallet_body(&f.org_id, "s", &["m/44'/60'/0'/0/0"]),
    )
}

#[test]
fn policies_govern_exports_imports_and_sessions() {
    let f = fixture();
    let bob = new_key();
    let (state, bob_id) = create_user(&f, &f.org, "bob", &bob);
    let (state, wallet) = create_wallet(&f, &state);
    let client = ReceiverKey::generate().unwrap();
    let export = body(
        &f.org_id,
        "ACTIVITY_TYPE_EXPORT_WALLET",
        json!({"walletId": wallet.id.to_string(), "targetPublicKey": client_hex(&client)}),
    );
    let context = ActivityContext::Wallet {
        wallet_id: wallet.id,
        sealed_seed: wallet.sealed.clone(),
    };
    let init = body(
        &f.org_id,
        "ACTIVITY_TYPE_INIT_IMPORT_WALLET",
        json!({"userId": bob_id}),
    );
    let session = body(
        &f.org_id,
        "ACTIVITY_TYPE_CREATE_READ_WRITE_SESSION_V2",
        json!({"targetPublicKey": client_hex(&client)}),
    );
    // implicit deny for a non-root user
    for b in [&export, &init, &session] {
        let err = activity(&f, &state, &bob, b, context.clone()).unwrap_err();
        assert_eq!(err.code, ErrorCode::PermissionDenied, "{b}");
    }
    // Turnkey's resources and actions: WALLET/EXPORT, WALLET/IMPORT, AUTH/CREATE; the export's
    // target key is `activity.params.target_public_key`. (One policy each: a policy reading a
    // field another activity lacks errors as a whole, and an ALLOW that errors allows nothing.)
    let only_bob = format!("approvers.any(u, u.id == '{bob_id}')");
    let mut state = state;
    for condition in [
        format!(
            "activity.resource == 'WALLET' && activity.action == 'EXPORT' && \
             activity.params.target_public_key == '{}' && wallet.id == '{}'",
            client_hex(&client),
            wallet.id
        ),
        "activity.resource == 'WALLET' && activity.action == 'IMPORT'".to_owned(),
        "activity.resource == 'AUTH' && activity.action == 'CREATE'".to_owned(),
    ] {
        state = create_policy(&f, &state, "EFFECT_ALLOW", &condition, &only_bob).0;
    }
    activity(&f, &state, &bob, &init, ActivityContext::None).unwrap();
    // the session defaults to the caller: bob
    let out = activity(&f, &state, &bob, &session, ActivityContext::None).unwrap();
    let state = out.new_org_state.unwrap();
    let ActivityResult::Organization { result_json, .. } = out.result else {
        panic!()
    };
    let result: Value = serde_json::from_str(&result_json).unwrap();
    assert_eq!(result["createReadWriteSessionResultV2"]["userId"], bob_id);
    let out = activity(&f, &state, &bob, &export, context.clone()).unwrap();
    let state = out.new_org_state.unwrap();
    assert!(matches!(out.result, ActivityResult::Exported { .. }));
    // another target key is not allowed by the policy
    let other = ReceiverKey::generate().unwrap();
    let export_elsewhere = body(
        &f.org_id,
        "ACTIVITY_TYPE_EXPORT_WALLET",
        json!({"walletId": wallet.id.to_string(), "targetPublicKey": client_hex(&other)}),
    );
    let err = activity(&f, &state, &bob, &export_elsewhere, context).unwrap_err();
    assert_eq!(err.code, ErrorCode::PermissionDenied);
}
