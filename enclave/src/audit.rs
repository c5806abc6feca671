//! The audit chain, enclave side (docs/audit.md).
//!
//! Every activity and every vote ends here: [`conclude`] gives it a receipt chained to its
//! organization's previous one and signed with the receipt key, an Ed25519 key derived from
//! the quorum key and certified by it. The enclave, not the host, orders each chain: the head
//! (newest seq and hash) of every organization lives in enclave memory, behind a lock per
//! organization, so receipts of one organization are issued one after the other while other
//! organizations proceed in parallel, and nothing waits for the database.
//!
//! What the host could lie about, and what stops it:
//! - **the head after a restart** (memory is empty): the host presents its newest stored
//!   receipt ([`AuditLog::resume`]); the enclave checks its signature and organization, and
//!   that it is not older than the checkpoint (seq, hash) sealed into the organization's state
//!   at every state change. What this cannot catch is written in docs/audit.md.
//! - **a lost receipt** (crash between the enclave's answer and the commit): the last
//!   [`RING_LEN`] receipts stay in a ring the host can fetch from, so a hole can be filled with
//!   the very receipt the enclave issued.
//! - **a receipt for a failed step**: a receipt is only issued once the new state (if any) is
//!   sealed, under the organization's lock, so a step the sealer refuses (a concurrent change)
//!   consumes no seq.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};

use ed25519_dalek::{Signature, Signer as _, SigningKey};
use keyhold_shared::msg::{
    ActivityOutput, ActivityResult, ActivityStatus, AuditHead, AuditKeyCertificate, AuditPosition,
    AuditResult, DOMAIN_AUDIT_KEY, Ed25519Signature, MAX_HEAD_NONCE_LEN, MAX_POLICY_EVALUATIONS,
    MAX_RECEIPT_TYPE_LEN, MAX_RECEIPTS_PER_FETCH, PolicyEvaluation, Principal, RECEIPT_FORMAT,
    Receipt, ReceiptBody, ReceiptKind, SealedOrgState, SignedAuditHead, audit_bytes, domain_digest,
    result_digest,
};
use keyhold_shared::{ActivityId, OrgId, Uuid};
use p256::ecdsa::DerSignature;
use p256::ecdsa::signature::hazmat::PrehashSigner;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::enclave::Keys;
use crate::error::{Error, Result};
use crate::org::{OrgSealer, OrgState};
use crate::secrets::{QuorumKey, random};

/// Receipts kept for hosts that lost some, over all organizations (a few hundred bytes each).
pub const RING_LEN: usize = keyhold_shared::msg::AUDIT_RING_LEN;

/// The chain head an organization's sealed state remembers, as of its last change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditCheckpoint {
    pub seq: u64,
    pub hash: [u8; 32],
}

#[derive(Clone, Copy, Debug)]
struct Head {
    seq: u64,
    hash: [u8; 32],
    /// The seq this enclave took the chain over at (0: it carried it from the start).
    resumed_at: u64,
}

/// The receipt key, the heads of the chains, and the ring of recent receipts.
pub struct AuditLog {
    key: SigningKey,
    certificate: AuditKeyCertificate,
    /// One lock per organization, so only receipts of the same organization wait for each
    /// other. An entry is ~100 bytes; an organization without one must be resumed first.
    heads: Mutex<HashMap<OrgId, Arc<Mutex<Head>>>>,
    ring: Mutex<VecDeque<Receipt>>,
}

impl fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditLog")
            .field("receipt_key", &hex::encode(self.certificate.receipt_key))
            .finish_non_exhaustive()
    }
}

fn poisoned<T>(_: T) -> Error {
    Error::Internal("audit lock poisoned")
}

impl AuditLog {
    /// Derives the receipt key from the quorum key and certifies it with the quorum signing key
    /// (deterministic ECDSA: every enclave of a deployment produces the same certificate).
    pub fn derive(quorum: &QuorumKey, quorum_signing: &p256::ecdsa::SigningKey) -> Result<Self> {
        let secret = quorum.derive(b"keyhold/v1/audit/receipt-signing")?;
        let key = SigningKey::from_bytes(&secret);
        let receipt_key = key.verifying_key().to_bytes();
        let digest = domain_digest(DOMAIN_AUDIT_KEY, &receipt_key)
            .map_err(|_| Error::Internal("encode receipt key"))?;
        let signature: p256::ecdsa::Signature = quorum_signing
            .sign_prehash(&digest)
            .map_err(|_| Error::Internal("certify receipt key"))?;
        Ok(AuditLog {
            key,
            certificate: AuditKeyCertificate {
                receipt_key,
                signature: DerSignature::from(signature).as_bytes().to_vec(),
            },
            heads: Mutex::new(HashMap::new()),
            ring: Mutex::new(VecDeque::with_capacity(RING_LEN)),
        })
    }

    pub fn certificate(&self) -> AuditKeyCertificate {
        self.certificate.clone()
    }

    fn slot(&self, org: OrgId) -> Result<Option<Arc<Mutex<Head>>>> {
        Ok(self.heads.lock().map_err(poisoned)?.get(&org).cloned())
    }

    /// Whether this enclave knows where `org`'s chain stands (else the host must resume it).
    pub fn knows(&self, org: OrgId) -> Result<bool> {
        Ok(self.slot(org)?.is_some())
    }

    /// An organization this enclave just created: its chain is empty, and this enclave knows it.
    pub fn start_chain(&self, org: OrgId) -> Result<()> {
        self.heads
            .lock()
            .map_err(poisoned)?
            .entry(org)
            .or_insert_with(|| {
                Arc::new(Mutex::new(Head {
                    seq: 0,
                    hash: [0; 32],
                    resumed_at: 0,
                }))
            });
        Ok(())
    }

    fn sign(&self, digest: &[u8; 32]) -> Result<Ed25519Signature> {
        let signature: Signature = self
            .key
            .try_sign(digest)
            .map_err(|_| Error::Internal("sign receipt"))?;
        Ok(Ed25519Signature::from_bytes(signature.to_bytes()))
    }

    fn check_signature(&self, digest: &[u8; 32], signature: &Ed25519Signature) -> Result<()> {
        self.key
            .verifying_key()
            .verify_strict(digest, &Signature::from_bytes(&signature.to_bytes()))
            .map_err(|_| Error::AuditHeadRefused("the receipt's signature does not verify"))
    }

    /// Continues `state`'s chain after a restart, from the newest receipt the host stored.
    /// `state` was opened by the sealer, so it is authentic and not older than any version this
    /// enclave has seen. A head this enclave already knows wins over anything presented.
    pub fn resume(&self, state: &OrgState, latest: Option<&Receipt>) -> Result<AuditPosition> {
        let mut heads = self.heads.lock().map_err(poisoned)?;
        if let Some(slot) = heads.get(&state.org_id) {
            let head = slot.lock().map_err(poisoned)?;
            return Ok(AuditPosition {
                seq: head.seq,
                hash: head.hash,
            });
        }
        let checkpoint = state.audit.unwrap_or(AuditCheckpoint {
            seq: 0,
            hash: [0; 32],
        });
        let head = match latest {
            None => checkpoint,
            Some(receipt) => {
                let body = &receipt.body;
                let hash = body.hash().map_err(|_| Error::Internal("encode receipt"))?;
                self.check_signature(&hash, &receipt.signature)?;
                if body.org_id != state.org_id {
                    return Err(Error::AuditHeadRefused(
                        "the receipt belongs to another organization",
                    ));
                }
                if body.seq < checkpoint.seq {
                    return Err(Error::AuditHeadRefused(
                        "the receipt is older than the organization's sealed checkpoint",
                    ));
                }
                if body.seq == checkpoint.seq && hash != checkpoint.hash {
                    return Err(Error::AuditHeadRefused(
                        "the receipt does not match the organization's sealed checkpoint",
                    ));
                }
                // Each receipt names the state version its step left behind: a newer one than
                // the state presented means the chain has moved past that state — a rollback
                // (e.g. to undo a sub-organization's deletion), or an honest host that read the
                // state just before another host committed the next one: stale, so it reloads.
                if body.org_version > state.version {
                    return Err(Error::StaleState {
                        got: state.version,
                        seen: body.org_version,
                    });
                }
                AuditCheckpoint {
                    seq: body.seq,
                    hash,
                }
            }
        };
        heads.insert(
            state.org_id,
            Arc::new(Mutex::new(Head {
                seq: head.seq,
                hash: head.hash,
                resumed_at: head.seq,
            })),
        );
        tracing::info!(organization = %state.org_id, seq = head.seq, "audit chain resumed");
        Ok(AuditPosition {
            seq: head.seq,
            hash: head.hash,
        })
    }

    /// Gives `body` the next seq of its organization's chain, seals `new_state` (which then
    /// remembers this receipt as its checkpoint) and signs. Nothing advances if sealing fails.
    fn issue(
        &self,
        sealer: &OrgSealer,
        mut body: ReceiptBody,
        new_state: Option<OrgState>,
    ) -> Result<(Receipt, Option<SealedOrgState>)> {
        let slot = self.slot(body.org_id)?.ok_or(Error::AuditHeadNeeded)?;
        let mut head = slot.lock().map_err(poisoned)?;
        body.seq = head
            .seq
            .checked_add(1)
            .ok_or(Error::Internal("receipt seq overflow"))?;
        body.prev = head.hash;
        let hash = body.hash().map_err(|_| Error::Internal("encode receipt"))?;
        let sealed = match new_state {
            Some(mut state) => {
                state.audit = Some(AuditCheckpoint {
                    seq: body.seq,
                    hash,
                });
                Some(sealer.seal(&state)?)
            }
            None => None,
        };
        let receipt = Receipt {
            signature: self.sign(&hash)?,
            body,
        };
        {
            let mut ring = self.ring.lock().map_err(poisoned)?;
            if ring.len() >= RING_LEN {
                ring.pop_front();
            }
            ring.push_back(receipt.clone());
        }
        head.seq = receipt.body.seq;
        head.hash = hash;
        Ok((receipt, sealed))
    }

    /// Receipts of `org` above `after_seq` still in the ring, oldest first.
    pub fn receipts_after(&self, org: OrgId, after_seq: u64) -> Result<Vec<Receipt>> {
        let ring = self.ring.lock().map_err(poisoned)?;
        let mut found: Vec<Receipt> = ring
            .iter()
            .filter(|r| r.body.org_id == org && r.body.seq > after_seq)
            .cloned()
            .collect();
        drop(ring);
        found.sort_by_key(|r| r.body.seq);
        found.truncate(MAX_RECEIPTS_PER_FETCH);
        Ok(found)
    }

    /// `org`'s current head, signed over the caller's nonce: an anchor against truncation.
    pub fn signed_head(&self, org: OrgId, nonce: &[u8], now_ms: u64) -> Result<SignedAuditHead> {
        if nonce.len() > MAX_HEAD_NONCE_LEN {
            return Err(Error::invalid(format!(
                "nonce longer than {MAX_HEAD_NONCE_LEN} bytes"
            )));
        }
        let slot = self.slot(org)?.ok_or(Error::AuditHeadNeeded)?;
        let head = *slot.lock().map_err(poisoned)?;
        let head = AuditHead {
            org_id: org,
            seq: head.seq,
            hash: head.hash,
            resumed_at: head.resumed_at,
            nonce: nonce.to_vec(),
            issued_at_ms: now_ms,
        };
        let digest = head.digest().map_err(|_| Error::Internal("encode head"))?;
        Ok(SignedAuditHead {
            signature: self.sign(&digest)?,
            head,
        })
    }
}

/// One finished step (an activity, or a vote on one), before it gets its receipt.
pub(crate) struct Step<'a> {
    pub kind: ReceiptKind,
    /// The exact body of the request this step is for (the vote's own, for a vote).
    pub request_body: &'a [u8],
    pub activity_type: String,
    pub status: ActivityStatus,
    /// Turnkey's fingerprint of the activity (for a vote: of the voted-on activity).
    pub fingerprint: String,
    pub principal: Principal,
    pub executed_at_ms: u64,
    pub result: ActivityResult,
    pub new_state: Option<OrgState>,
    /// Every policy's outcome, when policies were evaluated for this step.
    pub policy_evaluations: Option<Vec<PolicyEvaluation>>,
}

/// Issues the step's receipt, seals its new state, and makes the answer to the host.
pub(crate) fn conclude(keys: &Keys, org: &OrgState, step: Step<'_>) -> Result<ActivityOutput> {
    if step.activity_type.len() > MAX_RECEIPT_TYPE_LEN {
        return Err(Error::invalid(format!(
            "activity type longer than {MAX_RECEIPT_TYPE_LEN} bytes"
        )));
    }
    // Time-ordered (UUIDv7): the host's indexes on activity ids then grow at one end.
    let activity_id = ActivityId(Uuid::new_v7(step.executed_at_ms, random()?));
    if step
        .policy_evaluations
        .as_ref()
        .is_some_and(|e| e.len() > MAX_POLICY_EVALUATIONS)
    {
        return Err(Error::Internal("too many policy evaluations"));
    }
    // The evaluations are in the bytes the receipt's digest covers: a host cannot change them.
    let result_bytes = audit_bytes(
        &AuditResult::from(&step.result),
        step.policy_evaluations.as_deref(),
    )
    .map_err(|_| Error::Internal("encode result"))?;
    let body = ReceiptBody {
        format: RECEIPT_FORMAT,
        org_id: org.org_id,
        seq: 0,
        prev: [0; 32],
        kind: step.kind,
        activity_id,
        activity_type: step.activity_type.clone(),
        status: step.status,
        fingerprint: Sha256::digest(step.request_body).into(),
        user_id: step.principal.user_id,
        executed_at_ms: step.executed_at_ms,
        org_version: step.new_state.as_ref().map_or(org.version, |s| s.version),
        result_digest: result_digest(&result_bytes),
    };
    // A sub-organization created by this step starts with an empty chain this enclave knows.
    if let ActivityResult::Organization {
        sub_organization: Some(sub),
        ..
    } = &step.result
    {
        keys.audit.start_chain(sub.organization_id)?;
    }
    let (receipt, new_org_state) = keys.audit.issue(&keys.org_sealer, body, step.new_state)?;
    Ok(ActivityOutput {
        activity_id,
        status: step.status,
        activity_type: step.activity_type,
        fingerprint: step.fingerprint,
        principal: step.principal,
        executed_at_ms: step.executed_at_ms,
        result: step.result,
        new_org_state,
        receipt,
        policy_evaluations: step.policy_evaluations,
    })
}

#[cfg(test)]
mod tests;
