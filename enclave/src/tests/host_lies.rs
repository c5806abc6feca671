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

fn create_wallet(f: &Fixture, paths: &[&str]) -> Wallet {
    let body = create_wallet_body(&f.org_id, "w", paths);
    let request = Request::Activity(ActivityRequest {
        request: signed(&f.api_key, &body),
        org: f.org.clone(),
        context: ActivityContext::None,
    });
    let Ok(Response::Activity(out)) = f.enclave.handle(request) else {
        panic!("create wallet")
    };
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
    let f = fixture();
    let w = create_wallet(&f, &["m/44'/60'/0'/0/0"]);
    assert!(matches!(
        sign(&f, &w.addresses[0], ctx(&w, "m/44'/60'/0'/0/0")),
        Ok(Response::Activity(_))
    ));
}

#[test]
fn host_resolves_sign_with_to_another_path() {
    let f = fixture();
    let w = create_wallet(&f, &["m/44'/60'/0'/0/0", "m/44'/60'/0'/0/1"]);
    // The client asked for account 0; the host substitutes account 1's path.
    let err = sign(&f, &w.addresses[0], ctx(&w, "m/44'/60'/0'/0/1")).unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
}

#[test]
fn host_substitutes_another_wallets_seed() {
    let f = fixture();
    let a = create_wallet(&f, &["m/44'/60'/0'/0/0"]);
    let b = create_wallet(&f, &["m/44'/60'/0'/0/0"]);
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
    let other = fixture();
    let w = create_wallet(&other, &["m/44'/60'/0'/0/0"]);
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
    let f = fixture();
    let w = create_wallet(&f, &["m/44'/60'/0'/0/0"]);
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
