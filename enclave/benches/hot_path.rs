//! The enclave's hot path, piece by piece: framing, stamp verification, unsealing the
//! organization state, policy evaluation, key derivation (cold, and from the cache), signing, and
//! a whole `sign_raw_payload` activity through `Enclave::handle`.
//!
//! `cargo bench -p keyhold-enclave --features test-support --bench hot_path`
//! (or `scripts/bench-criterion`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "benchmark setup: a failure should stop the run loudly"
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use keyhold_enclave::auth::stamp::ApiKeyStamp;
use keyhold_enclave::keys::account::{AccountKey, Scheme, sign};
use keyhold_enclave::keys::{Bip32Path, SeedMaterial};
use keyhold_enclave::org::OrgSealer;
use keyhold_enclave::seal::SealKey;
use keyhold_enclave::secrets::QuorumKey;
use keyhold_enclave::testing::{create_wallet_body, fixture, sign_body, signed, stamp};
use keyhold_policy::{Context, Effect, Policy, RootQuorum, User};
use keyhold_shared::RequestId;
use keyhold_shared::frame;
use keyhold_shared::msg::{
    ActivityContext, ActivityRequest, ActivityResult, AddressFormat, Curve, Request, RequestFrame,
    Response,
};

fn framing(c: &mut Criterion) {
    let f = fixture();
    let body = sign_body(
        &f.org_id,
        "0x0000000000000000000000000000000000000000",
        "deadbeef",
        "HASH_FUNCTION_KECCAK256",
    );
    let request = RequestFrame {
        id: RequestId(7),
        request: Request::Activity(ActivityRequest {
            request: signed(&f.api_key, &body),
            org: f.org.clone(),
            context: ActivityContext::None,
            parent: None,
        }),
    };
    let bytes = postcard::to_allocvec(&request).unwrap();
    c.bench_function("framing/encode_activity_request", |b| {
        b.iter(|| postcard::to_allocvec(black_box(&request)).unwrap())
    });
    c.bench_function("framing/decode_activity_request", |b| {
        b.iter(|| frame::decode::<RequestFrame>(black_box(&bytes)).unwrap())
    });
}

fn stamps(c: &mut Criterion) {
    let f = fixture();
    let body = sign_body(&f.org_id, "0x00", "deadbeef", "HASH_FUNCTION_KECCAK256");
    let header = stamp(&f.api_key, &body);
    c.bench_function("stamp/parse_and_verify_p256", |b| {
        b.iter(|| {
            let s = ApiKeyStamp::parse(black_box(&header)).unwrap();
            s.verify(black_box(body.as_bytes())).unwrap();
        })
    });
}

fn unsealing(c: &mut Criterion) {
    let f = fixture();
    // the fixture's own sealer is private to its enclave; measure the same work on a sealer
    // with a fresh quorum key and a state of the same shape
    let sealer =
        OrgSealer::new(SealKey::derive(&QuorumKey::generate().unwrap(), b"bench").unwrap());
    let _ = f;
    let state = keyhold_enclave::org::OrgState {
        policies: (0..20)
            .map(|i| keyhold_enclave::org::StoredPolicy {
                id: format!("p{i}"),
                name: format!("policy {i}"),
                allow: true,
                condition: "activity.resource == 'PRIVATE_KEY' && activity.action == 'SIGN'".into(),
                consensus: "approvers.any(u, u.id == 'x')".into(),
                notes: String::new(),
                time: None,
                created_at_ms: 0,
                updated_at_ms: 0,
            })
            .collect(),
        ..keyhold_enclave::org::OrgState::new(
            keyhold_shared::OrgId(keyhold_shared::Uuid::from_bytes([1; 16])),
            "acme".into(),
            keyhold_enclave::org::RootQuorum {
                threshold: 1,
                user_ids: vec![],
            },
            0,
        )
    };
    let sealed = sealer.seal(&state).unwrap();
    // Decrypting and decoding, and what a request pays once the state is in the opened cache.
    c.bench_function("unseal/org_state_20_policies", |b| {
        b.iter(|| sealer.open_uncached(black_box(&sealed)).unwrap())
    });
    c.bench_function("unseal/org_state_20_policies_cached", |b| {
        b.iter(|| sealer.open(black_box(&sealed)).unwrap())
    });
}

fn policies(c: &mut Criterion) {
    let compiled: Vec<Policy> = (0..20)
        .map(|i| {
            Policy::new(
                format!("p{i}"),
                Effect::Allow,
                &format!("activity.resource == 'PRIVATE_KEY' && activity.action == 'SIGN' && wallet_account.address == '0x{i:040x}'"),
                "approvers.any(u, u.id == 'bob')",
            )
            .unwrap()
        })
        .collect();
    let mut ctx = Context {
        activity: keyhold_policy::Activity::new(
            "ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2",
            "PRIVATE_KEY",
            "SIGN",
        ),
        ..Context::default()
    };
    ctx.approvers.push(User {
        id: "bob".into(),
        tags: vec![],
        email: None,
        alias: None,
    });
    ctx.wallet_account = Some(keyhold_policy::WalletAccount {
        address: format!("0x{:040x}", 19),
    });
    let root = RootQuorum {
        user_ids: vec!["root".into()],
        threshold: 1,
    };
    c.bench_function("policy/compile_one", |b| {
        b.iter(|| {
            Policy::new(
                "p",
                Effect::Allow,
                black_box("activity.resource == 'PRIVATE_KEY' && activity.action == 'SIGN' && wallet_account.address == '0x01'"),
                "approvers.any(u, u.id == 'bob')",
            )
            .unwrap()
        })
    });
    c.bench_function("policy/authorize_20_policies", |b| {
        b.iter(|| keyhold_policy::authorize(black_box(&compiled), &root, black_box(&ctx)))
    });
}

fn keys(c: &mut Criterion) {
    let seed = SeedMaterial::from_entropy(&[7u8; 16]).unwrap();
    let path = Bip32Path::parse("m/44'/60'/0'/0/0").unwrap();
    c.bench_function("derive/secp256k1_bip32_5_levels", |b| {
        b.iter(|| AccountKey::derive(black_box(&seed), Curve::Secp256k1, &path).unwrap())
    });
    c.bench_function("derive/ed25519_slip10", |b| {
        let path = Bip32Path::parse("m/44'/501'/0'/0'").unwrap();
        b.iter(|| AccountKey::derive(black_box(&seed), Curve::Ed25519, &path).unwrap())
    });
    let key = AccountKey::derive(&seed, Curve::Secp256k1, &path).unwrap();
    let scheme = Scheme::for_key(Curve::Secp256k1, Some(AddressFormat::Ethereum));
    let digest = [0x42u8; 32];
    c.bench_function("sign/secp256k1_recoverable", |b| {
        b.iter(|| sign(&key, scheme, black_box(&digest)).unwrap())
    });
    let ed = AccountKey::derive(
        &seed,
        Curve::Ed25519,
        &Bip32Path::parse("m/44'/501'/0'/0'").unwrap(),
    )
    .unwrap();
    let ed_scheme = Scheme::for_key(Curve::Ed25519, Some(AddressFormat::Solana));
    c.bench_function("sign/ed25519", |b| {
        b.iter(|| sign(&ed, ed_scheme, black_box(b"a solana message")).unwrap())
    });
}

/// The whole activity: parse, authenticate (stamp), unseal, authorize, derive (cached), sign.
fn activity(c: &mut Criterion) {
    let f = fixture();
    let created = f
        .enclave
        .handle(Request::Activity(ActivityRequest {
            request: signed(
                &f.api_key,
                &create_wallet_body(&f.org_id, "bench", &["m/44'/60'/0'/0/0"]),
            ),
            org: f.org.clone(),
            context: ActivityContext::None,
            parent: None,
        }))
        .unwrap();
    let Response::Activity(out) = created else {
        panic!("create_wallet")
    };
    let org = out.new_org_state.clone().unwrap();
    let ActivityResult::CreateWallet {
        wallet_id,
        accounts,
        sealed_seed,
        ..
    } = out.result
    else {
        panic!("not a wallet")
    };
    let address = accounts[0].address.clone();
    let context = ActivityContext::WalletAccount {
        wallet_id,
        path: "m/44'/60'/0'/0/0".into(),
        curve: Curve::Secp256k1,
        address_format: AddressFormat::Ethereum,
        sealed_seed,
    };
    // distinct bodies (and stamps) prepared up front, as a client would send them
    let requests: Vec<Request> = (0..256u32)
        .map(|i| {
            let body = sign_body(
                &f.org_id,
                &address,
                &format!("{i:08x}"),
                "HASH_FUNCTION_KECCAK256",
            );
            Request::Activity(ActivityRequest {
                request: signed(&f.api_key, &body),
                org: org.clone(),
                context: context.clone(),
                parent: None,
            })
        })
        .collect();
    let mut i = 0usize;
    c.bench_function("activity/sign_raw_payload_end_to_end", |b| {
        b.iter(|| {
            i = (i + 1) % requests.len();
            f.enclave.handle(black_box(requests[i].clone())).unwrap()
        })
    });
}

criterion_group!(
    benches, framing, stamps, unsealing, policies, keys, activity
);
criterion_main!(benches);
