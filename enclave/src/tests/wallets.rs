//! Renaming and deleting wallets, wallet accounts and private keys, and private key tags —
//! through the enclave's request handler, with a host that keeps what was deleted and hands it
//! over again.

use keyhold_shared::msg::{
    ActivityContext, ActivityOutput, ActivityRequest, ActivityResult, AddressFormat,
    AuthenticateRequest, CreatedPrivateKey, Curve, Request, Response, SealedOrgState, SealedSeed,
};
use keyhold_shared::{ErrorCode, WalletId, WireError};
use p256::ecdsa::SigningKey;
use serde_json::{Value, json};

use super::orgs::{body, change, create_policy, create_user, new_key, run};
use super::support::{Fixture, create_wallet_body, fixture, sign_body, signed};
use crate::bundles::hpke_p256::ReceiverKey;

const PATH: &str = "m/44'/60'/0'/0/0";

struct Wallet {
    id: WalletId,
    address: String,
    sealed: SealedSeed,
}

fn activity(
    f: &Fixture,
    state: &SealedOrgState,
    key: &SigningKey,
    body: &str,
    context: ActivityContext,
) -> Result<ActivityOutput, WireError> {
    match f.enclave.handle(Request::Activity(ActivityRequest {
        parent: None,
        request: signed(key, body),
        org: state.clone(),
        context,
    }))? {
        Response::Activity(out) => Ok(*out),
        other => panic!("unexpected answer {other:?}"),
    }
}

fn create_wallet(f: &Fixture, state: &SealedOrgState, name: &str) -> (SealedOrgState, Wallet) {
    let out = run(
        f,
        state,
        &f.api_key,
        &create_wallet_body(&f.org_id, name, &[PATH]),
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

fn account(wallet: &Wallet) -> ActivityContext {
    ActivityContext::WalletAccount {
        wallet_id: wallet.id,
        path: PATH.into(),
        curve: Curve::Secp256k1,
        address_format: AddressFormat::Ethereum,
        sealed_seed: wallet.sealed.clone(),
    }
}

fn sign_wallet(
    f: &Fixture,
    state: &SealedOrgState,
    key: &SigningKey,
    wallet: &Wallet,
) -> Result<ActivityOutput, WireError> {
    let b = sign_body(
        &f.org_id,
        &wallet.address,
        "deadbeef",
        "HASH_FUNCTION_KECCAK256",
    );
    activity(f, state, key, &b, account(wallet))
}

fn create_key(
    f: &Fixture,
    state: &SealedOrgState,
    tags: &[&str],
) -> (SealedOrgState, CreatedPrivateKey) {
    let b = body(
        &f.org_id,
        "ACTIVITY_TYPE_CREATE_PRIVATE_KEYS_V2",
        json!({"privateKeys": [{"privateKeyName": "k", "curve": "CURVE_SECP256K1",
               "privateKeyTags": tags, "addressFormats": ["ADDRESS_FORMAT_ETHEREUM"]}]}),
    );
    let out = run(f, state, &f.api_key, &b).unwrap();
    let ActivityResult::CreatePrivateKeys(mut keys) = out.result else {
        panic!()
    };
    (out.new_org_state.unwrap(), keys.remove(0))
}

fn key_context(key: &CreatedPrivateKey) -> ActivityContext {
    ActivityContext::PrivateKey {
        private_key_id: key.private_key_id,
        address_format: None,
        sealed_key: key.sealed_key.clone(),
    }
}

fn sign_key(
    f: &Fixture,
    state: &SealedOrgState,
    signer: &SigningKey,
    key: &CreatedPrivateKey,
) -> Result<ActivityOutput, WireError> {
    let b = sign_body(
        &f.org_id,
        &key.private_key_id.to_string(),
        "deadbeef",
        "HASH_FUNCTION_KECCAK256",
    );
    activity(f, state, signer, &b, key_context(key))
}

fn delete_wallets(ids: &[&WalletId], without_export: Option<bool>) -> Value {
    let mut p = json!({"walletIds": ids.iter().map(ToString::to_string).collect::<Vec<_>>()});
    if let Some(flag) = without_export {
        p["deleteWithoutExport"] = json!(flag);
    }
    p
}

/// The organization's public data as a query reads it.
fn organization(f: &Fixture, state: &SealedOrgState) -> Value {
    let query = json!({"organizationId": f.org_id.to_string()}).to_string();
    let Ok(Response::ReadOrg(readout)) = f.enclave.handle(Request::ReadOrg(AuthenticateRequest {
        parent: None,
        request: signed(&f.api_key, &query),
        org: state.clone(),
    })) else {
        panic!("read org")
    };
    serde_json::from_str(&readout.organization_json).unwrap()
}

#[test]
fn renaming_a_wallet_changes_its_label_for_policies() {
    let f = fixture();
    let bob = new_key();
    let (state, bob_id) = create_user(&f, &f.org, "bob", &bob);
    let (state, wallet) = create_wallet(&f, &state, "old");
    let (state, _) = create_policy(
        &f,
        &state,
        "EFFECT_ALLOW",
        "activity.action == 'SIGN' && wallet.label == 'treasury'",
        &format!("approvers.any(u, u.id == '{bob_id}')"),
    );
    assert_eq!(
        sign_wallet(&f, &state, &bob, &wallet).unwrap_err().code,
        ErrorCode::PermissionDenied
    );
    let rename = |name: &str| {
        body(
            &f.org_id,
            "ACTIVITY_TYPE_UPDATE_WALLET",
            json!({"walletId": wallet.id.to_string(), "walletName": name}),
        )
    };
    // bob may not rename it (no policy allows it)
    assert_eq!(
        run(&f, &state, &bob, &rename("treasury")).unwrap_err().code,
        ErrorCode::PermissionDenied
    );
    let (state, result) = change(&f, &state, &f.api_key, &rename("treasury"));
    assert_eq!(
        result,
        json!({"updateWalletResult": {"walletId": wallet.id.to_string()}})
    );
    sign_wallet(&f, &state, &bob, &wallet).unwrap();
    // policies see the wallet an update names: bob may rename only wallets labelled treasury
    let (state, _) = create_policy(
        &f,
        &state,
        "EFFECT_ALLOW",
        "activity.type == 'ACTIVITY_TYPE_UPDATE_WALLET' && wallet.label == 'treasury' && activity.params.wallet_id != ''",
        &format!("approvers.any(u, u.id == '{bob_id}')"),
    );
    let (state, _) = change(&f, &state, &bob, &rename("cold"));
    assert_eq!(
        run(&f, &state, &bob, &rename("treasury")).unwrap_err().code,
        ErrorCode::PermissionDenied
    );
    // an unknown wallet, a blank name
    let unknown = body(
        &f.org_id,
        "ACTIVITY_TYPE_UPDATE_WALLET",
        json!({"walletId": "00000000-0000-4000-8000-000000000000", "walletName": "x"}),
    );
    assert_eq!(
        run(&f, &state, &f.api_key, &unknown).unwrap_err().code,
        ErrorCode::NotFound
    );
    assert_eq!(
        run(&f, &state, &f.api_key, &rename("  ")).unwrap_err().code,
        ErrorCode::InvalidRequest
    );
}

#[test]
fn a_deleted_wallet_is_gone_even_when_the_host_still_sends_its_seed() {
    let f = fixture();
    let (state, wallet) = create_wallet(&f, &f.org, "w");
    let (state, other) = create_wallet(&f, &state, "other");
    sign_wallet(&f, &state, &f.api_key, &wallet).unwrap();

    // never exported: refused unless deleteWithoutExport
    for flag in [None, Some(false)] {
        let b = body(
            &f.org_id,
            "ACTIVITY_TYPE_DELETE_WALLETS",
            delete_wallets(&[&wallet.id], flag),
        );
        let err = run(&f, &state, &f.api_key, &b).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidRequest);
        assert!(
            err.message.contains("deleteWithoutExport"),
            "{}",
            err.message
        );
    }
    let b = body(
        &f.org_id,
        "ACTIVITY_TYPE_DELETE_WALLETS",
        delete_wallets(&[&wallet.id, &wallet.id], Some(true)),
    );
    let (deleted, result) = change(&f, &state, &f.api_key, &b);
    assert_eq!(
        result,
        json!({"deleteWalletsResult": {"walletIds": [wallet.id.to_string()]}})
    );

    // the host keeps the sealed seed and hands it over again: signing, deriving accounts and
    // exporting all refuse, as for a wallet that never existed
    let err = sign_wallet(&f, &deleted, &f.api_key, &wallet).unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
    let derive = body(
        &f.org_id,
        "ACTIVITY_TYPE_CREATE_WALLET_ACCOUNTS",
        json!({"walletId": wallet.id.to_string(), "accounts": [{"curve": "CURVE_SECP256K1",
               "pathFormat": "PATH_FORMAT_BIP32", "path": "m/44'/60'/0'/0/1",
               "addressFormat": "ADDRESS_FORMAT_ETHEREUM"}]}),
    );
    let seed = ActivityContext::Wallet {
        wallet_id: wallet.id,
        sealed_seed: wallet.sealed.clone(),
    };
    assert_eq!(
        activity(&f, &deleted, &f.api_key, &derive, seed.clone())
            .unwrap_err()
            .code,
        ErrorCode::NotFound
    );
    let client = ReceiverKey::generate().unwrap();
    let export = body(
        &f.org_id,
        "ACTIVITY_TYPE_EXPORT_WALLET",
        json!({"walletId": wallet.id.to_string(),
               "targetPublicKey": hex::encode(client.public_uncompressed())}),
    );
    assert_eq!(
        activity(&f, &deleted, &f.api_key, &export, seed)
            .unwrap_err()
            .code,
        ErrorCode::NotFound
    );
    // nor can the host bring the wallet back by presenting the state from before the deletion
    assert_eq!(
        sign_wallet(&f, &state, &f.api_key, &wallet)
            .unwrap_err()
            .code,
        ErrorCode::StaleState
    );
    // the other wallet still signs; a second deletion of the first finds nothing
    sign_wallet(&f, &deleted, &f.api_key, &other).unwrap();
    let again = body(
        &f.org_id,
        "ACTIVITY_TYPE_DELETE_WALLETS",
        delete_wallets(&[&wallet.id], Some(true)),
    );
    assert_eq!(
        run(&f, &deleted, &f.api_key, &again).unwrap_err().code,
        ErrorCode::NotFound
    );
    // the host replays the deletion on the state it produced: refused as a replay
    assert_eq!(
        run(&f, &deleted, &f.api_key, &b).unwrap_err().code,
        ErrorCode::InvalidRequest
    );
}

#[test]
fn an_exported_wallet_or_key_is_deleted_without_the_flag() {
    let f = fixture();
    let (state, wallet) = create_wallet(&f, &f.org, "w");
    let (state, key) = create_key(&f, &state, &[]);
    let client = ReceiverKey::generate().unwrap();
    let target = hex::encode(client.public_uncompressed());
    let export = body(
        &f.org_id,
        "ACTIVITY_TYPE_EXPORT_WALLET",
        json!({"walletId": wallet.id.to_string(), "targetPublicKey": target}),
    );
    let seed = ActivityContext::Wallet {
        wallet_id: wallet.id,
        sealed_seed: wallet.sealed.clone(),
    };
    let state = activity(&f, &state, &f.api_key, &export, seed)
        .unwrap()
        .new_org_state
        .unwrap();
    let export_key = body(
        &f.org_id,
        "ACTIVITY_TYPE_EXPORT_PRIVATE_KEY",
        json!({"privateKeyId": key.private_key_id.to_string(), "targetPublicKey": target}),
    );
    let state = activity(&f, &state, &f.api_key, &export_key, key_context(&key))
        .unwrap()
        .new_org_state
        .unwrap();
    // exported: the flag is not needed (and `false` is ignored, as Turnkey documents)
    let (state, result) = change(
        &f,
        &state,
        &f.api_key,
        &body(
            &f.org_id,
            "ACTIVITY_TYPE_DELETE_WALLETS",
            delete_wallets(&[&wallet.id], Some(false)),
        ),
    );
    assert_eq!(
        result["deleteWalletsResult"]["walletIds"][0],
        wallet.id.to_string()
    );
    let (state, result) = change(
        &f,
        &state,
        &f.api_key,
        &body(
            &f.org_id,
            "ACTIVITY_TYPE_DELETE_PRIVATE_KEYS",
            json!({"privateKeyIds": [key.private_key_id.to_string()]}),
        ),
    );
    assert_eq!(
        result,
        json!({"deletePrivateKeysResult": {"privateKeyIds": [key.private_key_id.to_string()]}})
    );
    assert_eq!(
        sign_key(&f, &state, &f.api_key, &key).unwrap_err().code,
        ErrorCode::NotFound
    );
}

#[test]
fn a_deleted_private_key_is_gone_even_when_the_host_still_sends_it() {
    let f = fixture();
    let (state, key) = create_key(&f, &f.org, &[]);
    let (state, kept) = create_key(&f, &state, &[]);
    sign_key(&f, &state, &f.api_key, &key).unwrap();
    let delete = |flag: bool| {
        body(
            &f.org_id,
            "ACTIVITY_TYPE_DELETE_PRIVATE_KEYS",
            json!({"privateKeyIds": [key.private_key_id.to_string()], "deleteWithoutExport": flag}),
        )
    };
    assert_eq!(
        run(&f, &state, &f.api_key, &delete(false))
            .unwrap_err()
            .code,
        ErrorCode::InvalidRequest
    );
    let (deleted, _) = change(&f, &state, &f.api_key, &delete(true));
    // by id and by address
    assert_eq!(
        sign_key(&f, &deleted, &f.api_key, &key).unwrap_err().code,
        ErrorCode::NotFound
    );
    let (format, address) = key.addresses[0].clone();
    let by_address = sign_body(&f.org_id, &address, "deadbeef", "HASH_FUNCTION_KECCAK256");
    let context = ActivityContext::PrivateKey {
        private_key_id: key.private_key_id,
        address_format: Some(format),
        sealed_key: key.sealed_key.clone(),
    };
    assert_eq!(
        activity(&f, &deleted, &f.api_key, &by_address, context)
            .unwrap_err()
            .code,
        ErrorCode::NotFound
    );
    // nor exported
    let client = ReceiverKey::generate().unwrap();
    let export = body(
        &f.org_id,
        "ACTIVITY_TYPE_EXPORT_PRIVATE_KEY",
        json!({"privateKeyId": key.private_key_id.to_string(),
               "targetPublicKey": hex::encode(client.public_uncompressed())}),
    );
    assert_eq!(
        activity(&f, &deleted, &f.api_key, &export, key_context(&key))
            .unwrap_err()
            .code,
        ErrorCode::NotFound
    );
    sign_key(&f, &deleted, &f.api_key, &kept).unwrap();
    // unknown ids, empty lists and non-UUIDs are refused before anything changes
    for params in [
        json!({"privateKeyIds": [], "deleteWithoutExport": true}),
        json!({"privateKeyIds": ["not-a-uuid"], "deleteWithoutExport": true}),
        json!({"privateKeyIds": [key.private_key_id.to_string()], "deleteWithoutExport": true}),
    ] {
        let b = body(&f.org_id, "ACTIVITY_TYPE_DELETE_PRIVATE_KEYS", params);
        assert_ne!(run(&f, &deleted, &f.api_key, &b).map(|_| ()), Ok(()));
    }
}

#[test]
fn deleting_wallet_accounts_is_authorized_and_recorded() {
    let f = fixture();
    let bob = new_key();
    let (state, bob_id) = create_user(&f, &f.org, "bob", &bob);
    let ids = [
        "4b0c8b1e-31a2-4a8e-9a7e-0d6a2f1c5e11",
        "4B0C8B1E-31A2-4A8E-9A7E-0D6A2F1C5E12",
    ];
    let b = body(
        &f.org_id,
        "ACTIVITY_TYPE_DELETE_WALLET_ACCOUNTS",
        json!({"walletAccountIds": ids, "deleteWithoutExport": true}),
    );
    // non-root users are denied until a policy allows WALLET/DELETE
    assert_eq!(
        run(&f, &state, &bob, &b).unwrap_err().code,
        ErrorCode::PermissionDenied
    );
    let (state, _) = create_policy(
        &f,
        &state,
        "EFFECT_ALLOW",
        "activity.resource == 'WALLET' && activity.action == 'DELETE'",
        &format!("approvers.any(u, u.id == '{bob_id}')"),
    );
    let (state, result) = change(&f, &state, &bob, &b);
    assert_eq!(
        result,
        json!({"deleteWalletAccountsResult": {"walletAccountIds": [ids[0], ids[1].to_lowercase()]}})
    );
    // recorded against replay
    assert_eq!(
        run(&f, &state, &bob, &b).unwrap_err().code,
        ErrorCode::InvalidRequest
    );
    let bad = body(
        &f.org_id,
        "ACTIVITY_TYPE_DELETE_WALLET_ACCOUNTS",
        json!({"walletAccountIds": ["0x1234"]}),
    );
    assert_eq!(
        run(&f, &state, &bob, &bad).unwrap_err().code,
        ErrorCode::InvalidRequest
    );
}

#[test]
fn non_root_users_are_denied_every_new_activity_by_default() {
    let f = fixture();
    let bob = new_key();
    let (state, _) = create_user(&f, &f.org, "bob", &bob);
    let (state, wallet) = create_wallet(&f, &state, "w");
    let (state, key) = create_key(&f, &state, &[]);
    let (state, tag) = change(
        &f,
        &state,
        &f.api_key,
        &body(
            &f.org_id,
            "ACTIVITY_TYPE_CREATE_PRIVATE_KEY_TAG",
            json!({"privateKeyTagName": "t", "privateKeyIds": []}),
        ),
    );
    let tag = tag["createPrivateKeyTagResult"]["privateKeyTagId"].clone();
    let k = key.private_key_id.to_string();
    let mut state = state;
    // in an order in which each runs after the previous one (the root user threads the state)
    for (kind, params) in [
        (
            "ACTIVITY_TYPE_UPDATE_WALLET",
            json!({"walletId": wallet.id.to_string(), "walletName": "x"}),
        ),
        (
            "ACTIVITY_TYPE_CREATE_PRIVATE_KEY_TAG",
            json!({"privateKeyTagName": "u", "privateKeyIds": [k]}),
        ),
        (
            "ACTIVITY_TYPE_UPDATE_PRIVATE_KEY_TAG",
            json!({"privateKeyTagId": tag, "addPrivateKeyIds": [k], "removePrivateKeyIds": []}),
        ),
        (
            "ACTIVITY_TYPE_DELETE_PRIVATE_KEY_TAGS",
            json!({"privateKeyTagIds": [tag]}),
        ),
        (
            "ACTIVITY_TYPE_DELETE_WALLET_ACCOUNTS",
            json!({"walletAccountIds": ["4b0c8b1e-31a2-4a8e-9a7e-0d6a2f1c5e11"]}),
        ),
        (
            "ACTIVITY_TYPE_DELETE_WALLETS",
            json!({"walletIds": [wallet.id.to_string()], "deleteWithoutExport": true}),
        ),
        (
            "ACTIVITY_TYPE_DELETE_PRIVATE_KEYS",
            json!({"privateKeyIds": [k], "deleteWithoutExport": true}),
        ),
    ] {
        let b = body(&f.org_id, kind, params);
        assert_eq!(
            run(&f, &state, &bob, &b).unwrap_err().code,
            ErrorCode::PermissionDenied,
            "{kind}"
        );
        // the root user may
        state = change(&f, &state, &f.api_key, &b).0;
    }
}

#[test]
fn private_key_tags_are_listed_and_read_by_policies() {
    let f = fixture();
    let bob = new_key();
    let (state, bob_id) = create_user(&f, &f.org, "bob", &bob);
    let (state, a) = create_key(&f, &state, &[]);
    let (state, b) = create_key(&f, &state, &[]);
    let (state, result) = change(
        &f,
        &state,
        &f.api_key,
        &body(
            &f.org_id,
            "ACTIVITY_TYPE_CREATE_PRIVATE_KEY_TAG",
            json!({"privateKeyTagName": "hot", "privateKeyIds": [a.private_key_id.to_string()]}),
        ),
    );
    let hot = result["createPrivateKeyTagResult"]["privateKeyTagId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        result["createPrivateKeyTagResult"]["privateKeyIds"],
        json!([a.private_key_id.to_string()])
    );
    // the same name twice, an unknown key
    for params in [
        json!({"privateKeyTagName": "hot", "privateKeyIds": []}),
        json!({"privateKeyTagName": "warm", "privateKeyIds": ["00000000-0000-4000-8000-000000000000"]}),
    ] {
        let b = body(&f.org_id, "ACTIVITY_TYPE_CREATE_PRIVATE_KEY_TAG", params);
        assert_ne!(run(&f, &state, &f.api_key, &b).map(|_| ()), Ok(()));
    }
    // listed among the organization's tags as TAG_TYPE_PRIVATE_KEY
    let tags = organization(&f, &state)["tags"].clone();
    assert_eq!(tags.as_array().unwrap().len(), 1);
    assert_eq!(tags[0]["tagId"], hot);
    assert_eq!(tags[0]["tagName"], "hot");
    assert_eq!(tags[0]["tagType"], "TAG_TYPE_PRIVATE_KEY");

    let (state, _) = create_policy(
        &f,
        &state,
        "EFFECT_ALLOW",
        &format!("activity.action == 'SIGN' && private_key.tags.contains('{hot}')"),
        &format!("approvers.any(u, u.id == '{bob_id}')"),
    );
    sign_key(&f, &state, &bob, &a).unwrap();
    assert_eq!(
        sign_key(&f, &state, &bob, &b).unwrap_err().code,
        ErrorCode::PermissionDenied
    );
    // move the tag from a to b, and rename it
    let (state, result) = change(
        &f,
        &state,
        &f.api_key,
        &body(
            &f.org_id,
            "ACTIVITY_TYPE_UPDATE_PRIVATE_KEY_TAG",
            json!({"privateKeyTagId": hot, "newPrivateKeyTagName": "hotter",
                   "addPrivateKeyIds": [b.private_key_id.to_string()],
                   "removePrivateKeyIds": [a.private_key_id.to_string()]}),
        ),
    );
    assert_eq!(
        result,
        json!({"updatePrivateKeyTagResult": {"privateKeyTagId": hot}})
    );
    assert_eq!(organization(&f, &state)["tags"][0]["tagName"], "hotter");
    assert_eq!(
        sign_key(&f, &state, &bob, &a).unwrap_err().code,
        ErrorCode::PermissionDenied
    );
    sign_key(&f, &state, &bob, &b).unwrap();
    // keys are created with existing tags only
    let (state, c) = create_key(&f, &state, &[hot.as_str()]);
    sign_key(&f, &state, &bob, &c).unwrap();
    let unknown = body(
        &f.org_id,
        "ACTIVITY_TYPE_CREATE_PRIVATE_KEYS_V2",
        json!({"privateKeys": [{"privateKeyName": "k", "curve": "CURVE_SECP256K1",
               "privateKeyTags": ["nope"], "addressFormats": ["ADDRESS_FORMAT_ETHEREUM"]}]}),
    );
    assert_eq!(
        run(&f, &state, &f.api_key, &unknown).unwrap_err().code,
        ErrorCode::NotFound
    );
    // deleting the tag untags every key that carried it
    let (state, result) = change(
        &f,
        &state,
        &f.api_key,
        &body(
            &f.org_id,
            "ACTIVITY_TYPE_DELETE_PRIVATE_KEY_TAGS",
            json!({"privateKeyTagIds": [hot]}),
        ),
    );
    let mut affected: Vec<String> = result["deletePrivateKeyTagsResult"]["privateKeyIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    affected.sort();
    let mut expected = vec![b.private_key_id.to_string(), c.private_key_id.to_string()];
    expected.sort();
    assert_eq!(affected, expected);
    assert_eq!(
        result["deletePrivateKeyTagsResult"]["privateKeyTagIds"],
        json!([hot])
    );
    assert_eq!(organization(&f, &state)["tags"], json!([]));
    for key in [&a, &b, &c] {
        assert_eq!(
            sign_key(&f, &state, &bob, key).unwrap_err().code,
            ErrorCode::PermissionDenied
        );
    }
}
