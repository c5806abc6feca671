//! The enclave and the real host run in this process; the test drives the HTTP API with stamped
//! requests, then takes the seeds the enclave generated straight from its memory (the
//! `test_hooks` window, compiled only under `cfg(test)`) and searches the host's SQLite files and
//! every log line for them, in every encoding a leak would plausibly take.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Body;
use axum::http::Request as HttpRequest;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use keyhold_host::cli::serve::{HostConfig, start};
use keyhold_shared::Address;
use p256::ecdsa::SigningKey;
use p256::elliptic_curve::sec1::ToSec1Point as _;
use tower::ServiceExt;

use super::support::{create_wallet_body, sign_body, stamp};
use crate::bundles::hpke_p256::{ReceiverKey, TargetKey, seal};
use crate::keys::{Bip32Path, SeedMaterial};
use crate::server::{Limits, serve};
use crate::{Enclave, test_hooks};

/// A mnemonic this test imports (BIP-39 test vector entropy 7f7f…).
const IMPORTED: &str =
    "legal winner thank year wave sausage worth useful legal winner thank yellow";

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line of this test process, at the most verbose level.
fn logs() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        capture
    })
}

async fn post(
    router: &axum::Router,
    path: &str,
    body: String,
    key: &SigningKey,
) -> serde_json::Value {
    let request = HttpRequest::post(path)
        .header("content-type", "application/json")
        .header("x-stamp", stamp(key, &body))
        .body(Body::from(body))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert!(status.is_success(), "{path}: {status} {json}");
    json
}

/// Every encoding of `secret` a leak could plausibly take.
fn encodings(secret: &[u8]) -> Vec<Vec<u8>> {
    let hex = hex::encode(secret);
    vec![
        secret.to_vec(),
        hex.clone().into_bytes(),
        hex.to_uppercase().into_bytes(),
        STANDARD.encode(secret).into_bytes(),
        STANDARD_NO_PAD.encode(secret).into_bytes(),
        URL_SAFE.encode(secret).into_bytes(),
        URL_SAFE_NO_PAD.encode(secret).into_bytes(),
        // a Debug print of the bytes, e.g. `[12, 200, ...]`
        format!("{:?}", secret).into_bytes(),
    ]
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.len() <= haystack.len() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_seed_mnemonic_or_key_reaches_the_database_or_logs() {
    let logs = logs();
    let dir = tempfile::tempdir().unwrap();
    let address = Address::Unix(dir.path().join("enclave.sock"));
    let listener = keyhold_shared::transport::bind(&address).unwrap();
    tokio::spawn(serve(
        listener,
        Arc::new(Enclave::new().unwrap()),
        Limits::default(),
        std::future::pending(),
    ));

    let data_dir = dir.path().join("data");
    let config = HostConfig {
        enclave: address,
        data_dir: data_dir.clone(),
        listen: "127.0.0.1:0".parse().unwrap(),
        dev: true,
        forward_from: None,
        org_rate_limit: 0,
        database: None,
        webhooks: Default::default(),
    };
    let host = start(&config).await.unwrap();
    let creds = host.credentials.clone().unwrap();
    let key = SigningKey::from_slice(&hex::decode(&creds.api_private_key).unwrap()).unwrap();
    let org = creds.organization_id.parse().unwrap();
    let router = keyhold_host::api::router(host.state.clone());

    let before = test_hooks::seeds().len();
    let mut addresses = Vec::new();
    let mut wallet_ids = Vec::new();
    for (name, words) in [("twelve", 12), ("twenty-four", 24)] {
        let mut body: serde_json::Value = serde_json::from_str(&create_wallet_body(
            &org,
            name,
            &["m/44'/60'/0'/0/0", "m/44'/60'/0'/0/1"],
        ))
        .unwrap();
        body["parameters"]["mnemonicLength"] = words.into();
        let out = post(
            &router,
            "/public/v1/submit/create_wallet",
            body.to_string(),
            &key,
        )
        .await;
        let address = out["activity"]["result"]["createWalletResult"]["addresses"][0]
            .as_str()
            .unwrap()
            .to_owned();
        addresses.push(address.clone());
        wallet_ids.push(
            out["activity"]["result"]["createWalletResult"]["walletId"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        for hash in ["HASH_FUNCTION_KECCAK256", "HASH_FUNCTION_SHA256"] {
            post(
                &router,
                "/public/v1/submit/sign_raw_payload",
                sign_body(&org, &address, "c0ffee", hash),
                &key,
            )
            .await;
        }
    }
    let org_body = serde_json::json!({"organizationId": creds.organization_id}).to_string();
    post(
        &router,
        "/public/v1/query/list_wallet_accounts",
        org_body.clone(),
        &key,
    )
    .await;
    post(&router, "/public/v1/query/list_wallets", org_body, &key).await;

    // Export one wallet, import a known mnemonic and open a session: the bundles are stored
    // (as activity results, the import key as a sealed blob), what they carry must not be.
    let transfer = |activity_type: &str, parameters: serde_json::Value| {
        serde_json::json!({"type": activity_type, "timestampMs": crate::testing::fresh_timestamp_ms().to_string(),
                           "organizationId": creds.organization_id, "parameters": parameters})
        .to_string()
    };
    let client = ReceiverKey::generate().unwrap();
    let client_public = hex::encode(client.public_uncompressed());
    post(
        &router,
        "/public/v1/submit/export_wallet",
        transfer(
            "ACTIVITY_TYPE_EXPORT_WALLET",
            serde_json::json!({"walletId": wallet_ids[0], "targetPublicKey": client_public}),
        ),
        &key,
    )
    .await;
    let init = post(
        &router,
        "/public/v1/submit/init_import_wallet",
        transfer(
            "ACTIVITY_TYPE_INIT_IMPORT_WALLET",
            serde_json::json!({"userId": creds.user_id}),
        ),
        &key,
    )
    .await;
    let bundle: serde_json::Value = serde_json::from_str(
        init["activity"]["result"]["initImportWalletResult"]["importBundle"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let data: serde_json::Value =
        serde_json::from_slice(&hex::decode(bundle["data"].as_str().unwrap()).unwrap()).unwrap();
    let target = TargetKey::parse_hex("t", data["targetPublic"].as_str().unwrap()).unwrap();
    let sealed = seal(&target, IMPORTED.as_bytes()).unwrap();
    let encrypted = serde_json::json!({"encappedPublic": hex::encode(sealed.encapped),
                                       "ciphertext": hex::encode(&sealed.ciphertext)});
    post(
        &router,
        "/public/v1/submit/import_wallet",
        transfer(
            "ACTIVITY_TYPE_IMPORT_WALLET",
            serde_json::json!({"userId": creds.user_id, "walletName": "imported",
                "encryptedBundle": encrypted.to_string(),
                "accounts": [{"curve": "CURVE_SECP256K1", "pathFormat": "PATH_FORMAT_BIP32",
                              "path": "m/44'/60'/0'/0/0", "addressFormat": "ADDRESS_FORMAT_ETHEREUM"}]}),
        ),
        &key,
    )
    .await;
    let session = post(
        &router,
        "/public/v1/submit/create_read_write_session",
        transfer(
            "ACTIVITY_TYPE_CREATE_READ_WRITE_SESSION_V2",
            serde_json::json!({"targetPublicKey": client_public}),
        ),
        &key,
    )
    .await;
    let credential = bs58::decode(
        session["activity"]["result"]["createReadWriteSessionResultV2"]["credentialBundle"]
            .as_str()
            .unwrap(),
    )
    .into_vec()
    .unwrap();
    let (payload, _) = credential.split_at(credential.len() - 4);
    let (compressed, ciphertext) = payload.split_at(33);
    let enc = p256::PublicKey::from_sec1_bytes(compressed)
        .unwrap()
        .to_sec1_point(false);
    let session_secret = client.open(enc.as_bytes(), ciphertext).unwrap();

    // Other tests in this process create wallets too; ours are the ones whose address matches.
    let seeds = test_hooks::seeds();
    assert!(seeds.len() >= before + 2);
    let mut needles: Vec<(String, Vec<u8>)> = Vec::new();
    let mut ours = 0;
    for (entropy, seed) in &seeds {
        let material = SeedMaterial::from_entropy(entropy).unwrap();
        let private = material
            .derive_secp256k1(&Bip32Path::parse("m/44'/60'/0'/0/0").unwrap())
            .unwrap();
        if !addresses.contains(&crate::chains::ethereum::address(private.verifying_key())) {
            continue;
        }
        ours += 1;
        let phrase = bip39::Mnemonic::from_entropy(entropy).unwrap().to_string();
        let words: Vec<&str> = phrase.split(' ').collect();
        needles.push(("mnemonic".into(), phrase.clone().into_bytes()));
        // any four consecutive words of the phrase
        for window in words.windows(4) {
            needles.push(("mnemonic words".into(), window.join(" ").into_bytes()));
        }
        for e in encodings(entropy) {
            needles.push(("entropy".into(), e));
        }
        for e in encodings(seed) {
            needles.push(("seed".into(), e));
        }
        for e in encodings(&private.to_bytes()) {
            needles.push(("private key".into(), e));
        }
    }
    assert_eq!(ours, 2, "the hook must have recorded both wallets");
    let imported = SeedMaterial::from_mnemonic(IMPORTED).unwrap();
    let words: Vec<&str> = IMPORTED.split(' ').collect();
    for window in words.windows(4) {
        needles.push((
            "imported mnemonic words".into(),
            window.join(" ").into_bytes(),
        ));
    }
    for e in encodings(imported.seed()) {
        needles.push(("imported seed".into(), e));
    }
    let imported_key = imported
        .derive_secp256k1(&Bip32Path::parse("m/44'/60'/0'/0/0").unwrap())
        .unwrap();
    for e in encodings(&imported_key.to_bytes()) {
        needles.push(("imported private key".into(), e));
    }
    for e in encodings(&session_secret) {
        needles.push(("session private key".into(), e));
    }

    let mut haystacks: Vec<(String, Vec<u8>)> = Vec::new();
    for file in ["keyhold.db", "keyhold.db-wal", "keyhold.db-shm"] {
        if let Ok(bytes) = std::fs::read(data_dir.join(file)) {
            haystacks.push((file.into(), bytes));
        }
    }
    assert!(
        haystacks.iter().any(|(_, b)| !b.is_empty()),
        "the database must exist"
    );
    let captured = logs.0.lock().unwrap().clone();
    assert!(
        contains(&captured, b"organization bootstrapped"),
        "logs were captured"
    );
    haystacks.push(("logs".into(), captured));

    for (where_, haystack) in &haystacks {
        for (what, needle) in &needles {
            assert!(!contains(haystack, needle), "{what} found in {where_}");
        }
    }
    // The checker itself can find things: the public addresses are in the database.
    assert!(
        haystacks
            .iter()
            .any(|(_, h)| contains(h, addresses[0].as_bytes()))
    );
}
