//! Every enclave message: a [`RequestFrame`] payload decoded as the enclave's server decodes it,
//! placeholders filled in (see [`crate::world`]), then handled by an in-process enclave.
//!
//! Provisioning messages go to an enclave that is not provisioned yet, everything else to one
//! that is and holds the template organization. Whatever the answer, it must fit in a frame.

use keyhold_shared::frame;
use keyhold_shared::msg::{
    ActivityContext, AttestRequest, DOMAIN_BOOTSTRAP_ORG, DOMAIN_MANIFEST_APPROVAL,
    OperatorApproval, QuorumManifest, Request, RequestFrame, Response, ResponseFrame,
    SealedOrgState, SealedSeed, SignedRequest, Stamp,
};
use keyhold_shared::{PrivateKeyId, Uuid, WalletId, WireError};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::world::{self, Template, World, approve, stamp};

pub fn run(data: &[u8]) {
    let _ = answers(data);
}

/// The enclaves' answers to the request in `data` (none if it does not decode).
pub fn answers(data: &[u8]) -> Vec<Result<Response, WireError>> {
    let Ok(RequestFrame { id, request }) = frame::decode::<RequestFrame>(data) else {
        return Vec::new();
    };
    world::with(|w| {
        let request = instantiate(w, request);
        let results = handle(w, request);
        for result in &results {
            let response = ResponseFrame {
                id,
                result: result.clone(),
            };
            // The server sends every answer back in one frame.
            frame::encode(&response).expect("every answer fits in a frame");
        }
        results
    })
}

/// Sends `request` where it belongs and keeps the world reusable: a template state an
/// activity superseded is replaced, an enclave a request provisioned is swapped for a new one.
fn handle(w: &mut World, request: Request) -> Vec<Result<Response, WireError>> {
    match request {
        Request::Status | Request::BootKey | Request::Attest(_) => {
            vec![w.enclave.handle(request.clone()), w.fresh.handle(request)]
        }
        Request::Genesis(_) | Request::Provision(_) | Request::AcceptForward(_) => {
            let result = w.fresh.handle(request);
            if w.fresh.status().quorum_public_key.is_some() {
                w.fresh = world::new_enclave();
            }
            vec![result]
        }
        Request::UpdateManifest(_) => {
            let result = w.enclave.handle(request);
            if result.is_ok() {
                // Other operators now govern this enclave: start over.
                *w = World::new();
            }
            vec![result]
        }
        Request::Activity(_) => {
            let result = w.enclave.handle(request);
            if let Ok(Response::Activity(out)) = &result
                && out.new_org_state.is_some()
            {
                w.stale = true;
            }
            vec![result]
        }
        Request::Forward(_)
        | Request::BootstrapOrg(_)
        | Request::Authenticate(_)
        | Request::ReadOrg(_)
        | Request::SignerKey
        | Request::SessionSigner
        | Request::AuditKey
        | Request::AuditResume(_)
        | Request::AuditReceipts(_)
        | Request::AuditHead(_)
        | Request::Recover(_) => vec![w.enclave.handle(request)],
    }
}

/// Fills placeholders in (see [`crate::world`]).
pub fn instantiate(w: &World, request: Request) -> Request {
    let t = &w.template;
    match request {
        Request::Genesis(mut genesis) => {
            fill_manifest(w, &mut genesis.manifest);
            sign_approvals(
                w,
                &mut genesis.approvals,
                DOMAIN_MANIFEST_APPROVAL,
                &genesis.manifest,
            );
            Request::Genesis(genesis)
        }
        Request::UpdateManifest(mut update) => {
            fill_manifest(w, &mut update.manifest);
            sign_approvals(
                w,
                &mut update.approvals,
                DOMAIN_MANIFEST_APPROVAL,
                &update.manifest,
            );
            Request::UpdateManifest(update)
        }
        Request::Attest(mut attest) => {
            if let Some(manifest) = &mut attest.manifest {
                fill_manifest(w, manifest);
            }
            Request::Attest(attest)
        }
        Request::BootstrapOrg(mut bootstrap) => {
            if bootstrap.spec.api_public_key.is_empty() {
                bootstrap.spec.api_public_key = w
                    .root
                    .verifying_key()
                    .to_sec1_point(true)
                    .as_bytes()
                    .to_vec();
            }
            sign_approvals(
                w,
                &mut bootstrap.approvals,
                DOMAIN_BOOTSTRAP_ORG,
                &bootstrap.spec,
            );
            Request::BootstrapOrg(bootstrap)
        }
        Request::Forward(mut forward) => {
            // The unprovisioned enclave's attestation to the provisioned one's manifest.
            if forward.attestation.is_empty() {
                let attest = Request::Attest(AttestRequest {
                    nonce: forward.nonce.clone(),
                    manifest: Some(w.manifest.clone()),
                });
                if let Ok(Response::Attest(attestation)) = w.fresh.handle(attest) {
                    forward.attestation = attestation.document;
                }
            }
            Request::Forward(forward)
        }
        Request::Authenticate(mut auth) => {
            fill_signed(w, &mut auth.request);
            fill_org(t, &mut auth.org);
            Request::Authenticate(auth)
        }
        Request::ReadOrg(mut auth) => {
            fill_signed(w, &mut auth.request);
            fill_org(t, &mut auth.org);
            Request::ReadOrg(auth)
        }
        Request::Activity(mut activity) => {
            fill_context(w, &mut activity.context);
            // A vote names the fingerprint of the activity it votes on.
            if let ActivityContext::Approval(approval) = &activity.context
                && let Ok(body) = std::str::from_utf8(&activity.request.body)
            {
                let fingerprint = format!(
                    "sha256:{}",
                    hex::encode(Sha256::digest(&approval.target.body))
                );
                activity.request.body = body.replace("$FINGERPRINT", &fingerprint).into_bytes();
            }
            fill_signed(w, &mut activity.request);
            fill_org(t, &mut activity.org);
            Request::Activity(activity)
        }
        other => other,
    }
}

fn fill_manifest(w: &World, manifest: &mut QuorumManifest) {
    let ours = w.operator_key();
    for op in &mut manifest.operators {
        if op.signing_key.is_empty() {
            op.signing_key = ours.signing_key.clone();
        }
        if op.encryption_key.is_empty() {
            op.encryption_key = ours.encryption_key.clone();
        }
    }
}

fn sign_approvals<T: Serialize>(
    w: &World,
    approvals: &mut [OperatorApproval],
    domain: &[u8],
    value: &T,
) {
    for approval in approvals.iter_mut().filter(|a| a.signature.is_empty()) {
        approval.signature = approve(&w.operator, domain, value).signature;
    }
}

fn fill_signed(w: &World, request: &mut SignedRequest) {
    if let Ok(body) = std::str::from_utf8(&request.body) {
        request.body = w.fill(&w.template, body).into_bytes();
    }
    if let Stamp::ApiKey(header) = &request.stamp {
        let key = match header.as_str() {
            "$ROOT" => Some(&w.root),
            "$BOB" => Some(&w.bob),
            _ => None,
        };
        if let Some(key) = key {
            request.stamp = Stamp::ApiKey(stamp(key, &request.body));
        }
    }
    // WEBAUTHN: when enclave/src/auth/ verifies `Stamp::Webauthn`, give the template a passkey
    // and sign a `$PASSKEY` placeholder here (and add passkey stamps to corpus/request).
}

fn fill_org(t: &Template, org: &mut SealedOrgState) {
    if org.ciphertext.is_empty() {
        *org = t.org.clone();
    }
}

/// An empty sealed seed is the template's: the wallet's seed, or with a first nonce byte of 1
/// the private key (so that the fuzzer can also hand over the wrong one).
fn fill_seed(t: &Template, seed: &mut SealedSeed) {
    if seed.ciphertext.is_empty() {
        *seed = match seed.nonce.first() {
            Some(1) => t.private_key.clone(),
            _ => t.seed.clone(),
        };
    }
}

fn is_nil(id: &Uuid) -> bool {
    id.as_bytes() == &[0; 16]
}

fn fill_context(w: &World, context: &mut ActivityContext) {
    let t = &w.template;
    match context {
        ActivityContext::None
        | ActivityContext::ImportKey { .. }
        | ActivityContext::WebhookEndpoint { .. } => {}
        ActivityContext::WalletAccount {
            wallet_id,
            sealed_seed,
            ..
        }
        | ActivityContext::Wallet {
            wallet_id,
            sealed_seed,
        } => {
            if is_nil(&wallet_id.0) {
                *wallet_id = WalletId(t.wallet_id.0);
            }
            fill_seed(t, sealed_seed);
        }
        ActivityContext::PrivateKey {
            private_key_id,
            sealed_key,
            ..
        } => {
            if is_nil(&private_key_id.0) {
                *private_key_id = PrivateKeyId(t.private_key_id.0);
            }
            if sealed_key.ciphertext.is_empty() {
                *sealed_key = match sealed_key.nonce.first() {
                    Some(1) => t.seed.clone(),
                    _ => t.private_key.clone(),
                };
            }
        }
        ActivityContext::Approval(approval) => {
            fill_signed(w, &mut approval.target);
            let fingerprint = format!(
                "sha256:{}",
                hex::encode(Sha256::digest(&approval.target.body))
            );
            for vote in &mut approval.votes {
                if let Ok(body) = std::str::from_utf8(&vote.body) {
                    vote.body = body.replace("$FINGERPRINT", &fingerprint).into_bytes();
                }
                fill_signed(w, vote);
            }
            fill_context(w, &mut approval.target_context);
        }
    }
}
