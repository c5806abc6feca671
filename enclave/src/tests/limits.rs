//! Spending and velocity limits: counters come from the sealed ledger, every signature under a
//! limit policy advances it, and a host cannot reset it by presenting an older state.

use keyhold_shared::msg::{
    ActivityContext, ActivityRequest, ActivityResult, AddressFormat, Curve, Request, Response,
    SealedOrgState, SealedSeed,
};
use keyhold_shared::{ErrorCode, WalletId, WireError};
use p256::ecdsa::SigningKey;
use serde_json::json;

use super::orgs::{body, create_policy, create_user, new_key, run};
use super::support::{Fixture, create_wallet_body, fixture, sign_body, signed};

pub(super) struct Wallet {
    pub(super) id: WalletId,
    pub(super) address: String,
    pub(super) seed: SealedSeed,
}

pub(super) fn wallet(f: &Fixture, state: &SealedOrgState) -> (SealedOrgState, Wallet) {
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
        panic!("not a wallet")
    };
    (
        out.new_org_state.unwrap(),
        Wallet {
            id: wallet_id,
            address: accounts[0].address.clone(),
            seed: sealed_seed,
        },
    )
}

pub(super) fn sign(
    f: &Fixture,
    state: &SealedOrgState,
    key: &SigningKey,
    w: &Wallet,
    body: &str,
) -> Result<Option<SealedOrgState>, WireError> {
    match f.enclave.handle(Request::Activity(ActivityRequest {
        request: signed(key, body),
        org: state.clone(),
        context: ActivityContext::WalletAccount {
            wallet_id: w.id,
            path: "m/44'/60'/0'/0/0".into(),
            curve: Curve::Secp256k1,
            address_format: AddressFormat::Ethereum,
            sealed_seed: w.seed.clone(),
        },
        parent: None,
    }))? {
        Response::Activity(out) => Ok(out.new_org_state),
        other => panic!("unexpected answer {other:?}"),
    }
}

fn payload(f: &Fixture, w: &Wallet, n: u8) -> String {
    sign_body(
        &f.org_id,
        &w.address,
        &hex::encode([n; 8]),
        "HASH_FUNCTION_KECCAK256",
    )
}

#[test]
fn a_velocity_limit_stops_the_signature_that_crosses_it_and_survives_host_replays() {
    let f = fixture();
    let bob = new_key();
    let (state, bob_id) = create_user(&f, &f.org, "bob", &bob);
    let (state, w) = wallet(&f, &state);
    // without a limit policy signing changes nothing (no ledger, no serialisation)
    assert_eq!(
        sign(&f, &state, &f.api_key, &w, &payload(&f, &w, 0)),
        Ok(None)
    );
    let (state, _) = create_policy(
        &f,
        &state,
        "EFFECT_ALLOW",
        "activity.action == 'SIGN' && signatures.count('1h') < 2",
        &format!("approvers.any(u, u.id == '{bob_id}')"),
    );
    let s1 = sign(&f, &state, &bob, &w, &payload(&f, &w, 1))
        .unwrap()
        .expect("a signature under a limit advances the state");
    let s2 = sign(&f, &s1, &bob, &w, &payload(&f, &w, 2))
        .unwrap()
        .unwrap();
    let err = sign(&f, &s2, &bob, &w, &payload(&f, &w, 3)).unwrap_err();
    assert_eq!(err.code, ErrorCode::PermissionDenied, "{err:?}");
    // the host presents the state from before the two signatures to reset the counter
    for old in [&state, &s1] {
        let err = sign(&f, old, &bob, &w, &payload(&f, &w, 4)).unwrap_err();
        assert_eq!(err.code, ErrorCode::StaleState, "{err:?}");
    }
    // the same signed request again is a replay, not a new signature
    let err = sign(&f, &s2, &bob, &w, &payload(&f, &w, 2)).unwrap_err();
    assert_ne!(err.code, ErrorCode::StaleState);
    // the root quorum bypasses policies, but what it signs still counts
    let s3 = sign(&f, &s2, &f.api_key, &w, &payload(&f, &w, 5))
        .unwrap()
        .unwrap();
    let err = sign(&f, &s3, &bob, &w, &payload(&f, &w, 6)).unwrap_err();
    assert_eq!(err.code, ErrorCode::PermissionDenied);
}

#[test]
fn a_spending_limit_sums_transaction_values_per_wallet() {
    let f = fixture();
    let bob = new_key();
    let (state, bob_id) = create_user(&f, &f.org, "bob", &bob);
    let (state, w) = wallet(&f, &state);
    let (state, other) = wallet(&f, &state);
    let (state, _) = create_policy(
        &f,
        &state,
        "EFFECT_ALLOW",
        "activity.action == 'SIGN' && spend.eth.wei('24h') + eth.tx.value <= 1500000000000000000",
        &format!("approvers.any(u, u.id == '{bob_id}')"),
    );
    // EIP-155 example shape: to 0x3535…35, 1 ether, chain id 1; the nonce byte varies
    let tx = |nonce: u8| {
        format!(
            "ec{nonce:02x}8504a817c800825208943535353535353535353535353535353535353535880de0b6b3a764000080018080"
        )
    };
    let send = |w: &Wallet, nonce: u8| {
        body(
            &f.org_id,
            "ACTIVITY_TYPE_SIGN_TRANSACTION_V2",
            json!({"signWith": w.address, "unsignedTransaction": tx(nonce), "type": "TRANSACTION_TYPE_ETHEREUM"}),
        )
    };
    let s1 = sign(&f, &state, &bob, &w, &send(&w, 1)).unwrap().unwrap();
    // a second ether from the same wallet within 24 h crosses 1.5 ether
    let err = sign(&f, &s1, &bob, &w, &send(&w, 2)).unwrap_err();
    assert_eq!(err.code, ErrorCode::PermissionDenied, "{err:?}");
    // another wallet has its own ledger
    let s2 = sign(&f, &s1, &bob, &other, &send(&other, 1))
        .unwrap()
        .unwrap();
    // raw payloads spend no wei; a policy reading eth.tx fails closed for them
    let err = sign(&f, &s2, &bob, &w, &payload(&f, &w, 9)).unwrap_err();
    assert_eq!(err.code, ErrorCode::PermissionDenied);
}

#[test]
fn a_deny_on_a_counter_applies_to_signatures_only() {
    let f = fixture();
    let bob = new_key();
    let (state, bob_id) = create_user(&f, &f.org, "bob", &bob);
    let (state, _) = create_policy(
        &f,
        &state,
        "EFFECT_ALLOW",
        "activity.resource == 'WALLET' || activity.action == 'SIGN'",
        &format!("approvers.any(u, u.id == '{bob_id}')"),
    );
    let (state, _) = create_policy(&f, &state, "EFFECT_DENY", "signatures.count('1h') >= 1", "");
    // creating a wallet signs nothing: its counters are zero, the DENY does not apply
    let out = run(
        &f,
        &state,
        &bob,
        &create_wallet_body(&f.org_id, "b", &["m/44'/60'/0'/0/0"]),
    )
    .unwrap();
    let ActivityResult::CreateWallet {
        wallet_id,
        accounts,
        sealed_seed,
        ..
    } = out.result
    else {
        panic!("not a wallet")
    };
    let w = Wallet {
        id: wallet_id,
        address: accounts[0].address.clone(),
        seed: sealed_seed,
    };
    let state = out.new_org_state.unwrap();
    let s1 = sign(&f, &state, &bob, &w, &payload(&f, &w, 1))
        .unwrap()
        .unwrap();
    let err = sign(&f, &s1, &bob, &w, &payload(&f, &w, 2)).unwrap_err();
    assert_eq!(err.code, ErrorCode::PermissionDenied);
}
