//! The enclave's own endpoints (`/enclave/v1/*`): its attestation document and boot status for
//! anyone who wants to check what holds the keys, and the operator side of provisioning. None of
//! these need a stamp: what makes them safe is checked by the operators (attestation) and by the
//! enclave (operator signatures), not by this untrusted host.
//!
//! Binary artefacts (manifests, genesis output, shares) travel as hex of their postcard encoding,
//! exactly the bytes operators sign over.

use axum::Json;
use axum::extract::{Query, State};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use keyhold_shared::msg::{
    AttestRequest, GenesisRequest, OperatorApproval, Request, Response, SignedShare,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use crate::boot::{self, QuorumRecord};

fn decode<T: DeserializeOwned>(hex_text: &str, what: &str) -> Result<T, ApiError> {
    let bytes = hex::decode(hex_text.trim())
        .map_err(|_| ApiError::invalid(format!("{what} is not hex")))?;
    postcard::from_bytes(&bytes).map_err(|_| ApiError::invalid(format!("{what} does not decode")))
}

pub fn encode<T: serde::Serialize>(value: &T) -> Result<String, ApiError> {
    postcard::to_allocvec(value)
        .map(hex::encode)
        .map_err(|_| ApiError::internal("encoding failed"))
}

#[derive(Deserialize)]
pub struct AttestationQuery {
    nonce: Option<String>,
}

/// `GET /enclave/v1/attestation?nonce=HEX`: a fresh attestation document over the boot key, the
/// deployment's manifest digest and the caller's nonce, plus the boot status.
pub async fn attestation(
    State(state): State<AppState>,
    Query(query): Query<AttestationQuery>,
) -> Result<Json<Value>, ApiError> {
    let nonce = match query.nonce.as_deref() {
        Some(text) => hex::decode(text).map_err(|_| ApiError::invalid("nonce must be hex"))?,
        None => Vec::new(),
    };
    let record = boot::quorum_record(state.store.as_ref()).await?;
    let status = match state.enclave.call(Request::Status).await? {
        Response::Status(status) => status,
        _ => return Err(ApiError::internal("unexpected enclave answer")),
    };
    // An unprovisioned enclave stages the deployment's manifest, so operators can provision it.
    let manifest = match (&status.quorum_public_key, &record) {
        (None, Some(record)) => Some(record.manifest.clone()),
        _ => None,
    };
    let Response::Attest(attestation) = state
        .enclave
        .call(Request::Attest(AttestRequest { nonce, manifest }))
        .await?
    else {
        return Err(ApiError::internal("unexpected enclave answer"));
    };
    Ok(Json(json!({
        "attestationDocument": STANDARD.encode(&attestation.document),
        "bootKey": hex::encode(&attestation.boot_key),
        "provisioned": status.quorum_public_key.is_some(),
        "quorumPublicKey": status.quorum_public_key.map(hex::encode),
        "sharesReceived": status.shares_received,
        "deploymentExists": record.is_some(),
    })))
}

/// `GET /enclave/v1/quorum`: the deployment's public quorum record (manifest, quorum public
/// key, the shares encrypted to each operator).
pub async fn quorum(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let record = boot::quorum_record(state.store.as_ref())
        .await?
        .ok_or_else(|| ApiError::not_found("no deployment yet: run genesis first"))?;
    Ok(Json(json!({
        "record": encode(&record)?,
        "quorumPublicKey": hex::encode(&record.genesis.quorum_public_key),
        "threshold": record.manifest.threshold,
        "operators": record.manifest.operators.len(),
        "manifestNonce": record.manifest.nonce,
    })))
}

/// `GET /enclave/v1/signer`: the key that signs export and import bundles (for clients to pin
/// as `@turnkey/crypto`'s `dangerouslyOverrideSignerPublicKey`), with the quorum key's
/// endorsement of it. This host is not trusted: check the endorsement against the quorum
/// public key you know (`keyhold signer-key --quorum-public-key` does).
pub async fn signer(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let Response::SignerKey(key) = state.call(Request::SignerKey).await? else {
        return Err(ApiError::internal("unexpected enclave answer"));
    };
    let Response::Status(status) = state.enclave.call(Request::Status).await? else {
        return Err(ApiError::internal("unexpected enclave answer"));
    };
    Ok(Json(json!({
        "signerPublicKey": hex::encode(&key.public_key),
        "endorsement": hex::encode(&key.endorsement),
        "quorumPublicKey": status.quorum_public_key.map(hex::encode),
    })))
}

/// `GET /enclave/v1/session-signer`: the key that signs session JWTs (`stamp_login`, read-only
/// sessions), for `@turnkey/crypto`'s `verifySessionJwtSignature` (its notarizer key override),
/// endorsed by the quorum key like the bundle signer key.
pub async fn session_signer(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let Response::SessionSigner(key) = state.call(Request::SessionSigner).await? else {
        return Err(ApiError::internal("unexpected enclave answer"));
    };
    let Response::Status(status) = state.enclave.call(Request::Status).await? else {
        return Err(ApiError::internal("unexpected enclave answer"));
    };
    Ok(Json(json!({
        "sessionSignerPublicKey": hex::encode(&key.public_key),
        "endorsement": hex::encode(&key.endorsement),
        "quorumPublicKey": status.quorum_public_key.map(hex::encode),
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenesisBody {
    manifest: String,
    approvals: Vec<String>,
}

impl GenesisBody {
    fn decode(&self) -> Result<GenesisRequest, ApiError> {
        let approvals = self
            .approvals
            .iter()
            .map(|a| decode::<OperatorApproval>(a, "approval"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(GenesisRequest {
            manifest: decode(&self.manifest, "manifest")?,
            approvals,
        })
    }
}

/// `POST /enclave/v1/genesis`: creates the deployment (once) from an approved manifest.
pub async fn genesis(
    State(state): State<AppState>,
    Json(body): Json<GenesisBody>,
) -> Result<Json<Value>, ApiError> {
    if boot::quorum_record(state.store.as_ref()).await?.is_some() {
        return Err(ApiError::invalid("this deployment already ran genesis"));
    }
    let GenesisRequest {
        manifest,
        approvals,
    } = body.decode()?;
    let request = Request::Genesis(GenesisRequest {
        manifest: manifest.clone(),
        approvals,
    });
    let Response::Genesis(genesis) = state.enclave.call(request).await? else {
        return Err(ApiError::internal("unexpected enclave answer"));
    };
    let record = QuorumRecord { manifest, genesis };
    boot::save_record(state.store.as_ref(), &record).await?;
    Ok(Json(
        json!({"quorumPublicKey": hex::encode(&record.genesis.quorum_public_key)}),
    ))
}

#[derive(Deserialize)]
pub struct ShareBody {
    share: String,
}

/// `POST /enclave/v1/provision`: one operator's share for the enclave's current boot key.
pub async fn provision(
    State(state): State<AppState>,
    Json(body): Json<ShareBody>,
) -> Result<Json<Value>, ApiError> {
    let share: SignedShare = decode(&body.share, "share")?;
    let record = boot::quorum_record(state.store.as_ref())
        .await?
        .ok_or_else(|| ApiError::not_found("no deployment yet: run genesis first"))?;
    let status = boot::provision(&state.enclave, &record, vec![share]).await?;
    Ok(Json(json!({
        "provisioned": status.quorum_public_key.is_some(),
        "sharesReceived": status.shares_received,
        "threshold": record.manifest.threshold,
    })))
}

/// `POST /enclave/v1/manifest`: moves the deployment to a new manifest (new operators, threshold
/// or PCRs), approved by `threshold` operators of the current one; the enclave refuses a nonce
/// that does not grow. The new quorum record replaces the old one.
pub async fn update_manifest(
    State(state): State<AppState>,
    Json(body): Json<GenesisBody>,
) -> Result<Json<Value>, ApiError> {
    let current = boot::quorum_record(state.store.as_ref())
        .await?
        .ok_or_else(|| ApiError::not_found("no deployment yet: run genesis first"))?;
    let GenesisRequest {
        manifest,
        approvals,
    } = body.decode()?;
    let request = Request::UpdateManifest(GenesisRequest {
        manifest: manifest.clone(),
        approvals,
    });
    let Response::Genesis(genesis) = state.enclave.call(request).await? else {
        return Err(ApiError::internal("unexpected enclave answer"));
    };
    if genesis.quorum_public_key != current.genesis.quorum_public_key {
        return Err(ApiError::internal(
            "the enclave answered for another deployment",
        ));
    }
    boot::save_record(state.store.as_ref(), &QuorumRecord { manifest, genesis }).await?;
    Ok(Json(
        json!({"quorumPublicKey": hex::encode(&current.genesis.quorum_public_key)}),
    ))
}
