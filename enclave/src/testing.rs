//! Test and benchmark support: an enclave with a provisioned quorum and one organization, and
//! Turnkey stamps. Compiled for tests and with the `test-support` feature (benches, fuzzing);
//! never part of the enclave binary.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::missing_panics_doc,
    reason = "test support: a failed setup should stop the test loudly"
)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyhold_shared::OrgId;
use keyhold_shared::msg::{
    BootstrapOrgRequest, DOMAIN_BOOTSTRAP_ORG, DOMAIN_MANIFEST_APPROVAL, GenesisRequest,
    OperatorApproval, OperatorKey, OrgBootstrapSpec, QuorumManifest, Request, Response,
    SealedOrgState, SignedRequest, Stamp, domain_digest,
};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::ecdsa::{DerSignature, Signature, SigningKey};

use crate::Enclave;
use crate::enclave::now_ms;
use crate::hpke_suite::HpkeKeyPair;

/// A `timestampMs` for a new request body: the clock, but strictly greater than the last one this
/// process handed out. Two bodies built within the same millisecond would otherwise be identical,
/// and the enclave rightly refuses the second as a replay of the first.
pub fn fresh_timestamp_ms() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = now_ms();
    let previous = LAST
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
            Some(now.max(last + 1))
        })
        .unwrap_or(now);
    now.max(previous + 1)
}

pub struct Fixture {
    pub enclave: Enclave,
    pub org: SealedOrgState,
    pub org_id: OrgId,
    pub api_key: SigningKey,
}

/// A fresh enclave after genesis, with one organization (`org_name`) bootstrapped.
pub fn fixture() -> Fixture {
    let enclave = Enclave::new().unwrap();
    let operator_hpke = HpkeKeyPair::generate().unwrap();
    let operator_sig = SigningKey::from_slice(&[9u8; 32]).unwrap();
    let manifest = QuorumManifest {
        operators: vec![OperatorKey {
            encryption_key: operator_hpke.public_bytes(),
            signing_key: operator_sig.verifying_key().to_sec1_bytes().to_vec(),
        }],
        threshold: 1,
        nonce: 1,
        pcrs: vec![],
    };
    let approval = approve(&operator_sig, DOMAIN_MANIFEST_APPROVAL, &manifest);
    let genesis = GenesisRequest {
        manifest,
        approvals: vec![approval],
    };
    let Ok(Response::Genesis(_)) = enclave.handle(Request::Genesis(genesis)) else {
        panic!("genesis")
    };
    let api_key = SigningKey::from_slice(&crate::secrets::random::<32>().unwrap()).unwrap();
    let spec = OrgBootstrapSpec {
        organization_name: "acme".into(),
        root_user_name: "root".into(),
        api_key_name: "key".into(),
        api_public_key: api_key
            .verifying_key()
            .to_sec1_point(true)
            .as_bytes()
            .to_vec(),
        nonce: [1; 16],
    };
    let digest = domain_digest(DOMAIN_BOOTSTRAP_ORG, &spec).unwrap();
    let sig: Signature = operator_sig.sign_prehash(&digest).unwrap();
    let approvals = vec![OperatorApproval {
        operator: 0,
        signature: DerSignature::from(sig).as_bytes().to_vec(),
    }];
    let Ok(Response::BootstrapOrg(out)) =
        enclave.handle(Request::BootstrapOrg(BootstrapOrgRequest {
            spec,
            approvals,
        }))
    else {
        panic!("bootstrap")
    };
    Fixture {
        enclave,
        org: out.sealed_state,
        org_id: out.organization_id,
        api_key,
    }
}

/// Operator 0's approval of `value` under `domain`.
pub fn approve<T: serde::Serialize>(
    key: &SigningKey,
    domain: &[u8],
    value: &T,
) -> OperatorApproval {
    let digest = domain_digest(domain, value).unwrap();
    let sig: Signature = key.sign_prehash(&digest).unwrap();
    OperatorApproval {
        operator: 0,
        signature: DerSignature::from(sig).as_bytes().to_vec(),
    }
}

/// An `X-Stamp` header value for `body`, as `@turnkey/api-key-stamper` makes it.
pub fn stamp(key: &SigningKey, body: &str) -> String {
    let sig: Signature = key.sign(body.as_bytes());
    let json = serde_json::json!({
        "publicKey": hex::encode(key.verifying_key().to_sec1_point(true).as_bytes()),
        "scheme": "SIGNATURE_SCHEME_TK_API_P256",
        "signature": hex::encode(DerSignature::from(sig).as_bytes()),
    });
    URL_SAFE_NO_PAD.encode(json.to_string())
}

pub fn signed(key: &SigningKey, body: &str) -> SignedRequest {
    SignedRequest {
        body: body.as_bytes().to_vec(),
        stamp: Stamp::ApiKey(stamp(key, body)),
    }
}

pub fn create_wallet_body(org: &OrgId, name: &str, paths: &[&str]) -> String {
    let accounts: Vec<_> = paths
        .iter()
        .map(|p| {
            serde_json::json!({"curve": "CURVE_SECP256K1", "pathFormat": "PATH_FORMAT_BIP32", "path": p,
                               "addressFormat": "ADDRESS_FORMAT_ETHEREUM"})
        })
        .collect();
    serde_json::json!({
        "type": "ACTIVITY_TYPE_CREATE_WALLET",
        "timestampMs": fresh_timestamp_ms().to_string(),
        "organizationId": org.to_string(),
        "parameters": {"walletName": name, "accounts": accounts},
    })
    .to_string()
}

pub fn sign_body(org: &OrgId, sign_with: &str, payload_hex: &str, hash: &str) -> String {
    serde_json::json!({
        "type": "ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2",
        "timestampMs": fresh_timestamp_ms().to_string(),
        "organizationId": org.to_string(),
        "parameters": {"signWith": sign_with, "payload": payload_hex,
                       "encoding": "PAYLOAD_ENCODING_HEXADECIMAL", "hashFunction": hash},
    })
    .to_string()
}
