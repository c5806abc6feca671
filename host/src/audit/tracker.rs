//! Keeping the chain whole on the host: resuming a restarted enclave's chain from the newest
//! stored receipt, noticing receipts that never reached the store (a crash or a failed commit
//! between the enclave's answer and the commit) and fetching them from the enclave's ring.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use keyhold_shared::OrgId;
use keyhold_shared::msg::{
    AUDIT_RING_LEN, AuditReceiptsRequest, AuditResumeRequest, MAX_RECEIPTS_PER_FETCH, Receipt,
    Request, Response,
};

use super::AUDIT_KEY_META;
use crate::api::AppState;
use crate::error::HostError;
use crate::store::{OrgRecord, ReceiptRecord};

/// How long a suspected hole may stay open before it is filled: commits of the receipts just
/// before it may still be in flight (they replace a recovered row if they land later anyway).
const REPAIR_DELAY: Duration = Duration::from_millis(500);

/// Per organization, the highest seq this host process has committed; a jump means a hole.
#[derive(Debug, Default)]
pub struct AuditTracker {
    newest: Mutex<HashMap<OrgId, u64>>,
    repairing: Mutex<HashSet<OrgId>>,
    key_saved: AtomicBool,
}

/// The receipt as the API returns it next to the activity (JSON text), for clients that keep
/// anchors.
pub fn receipt_text(receipt: &Receipt) -> String {
    serde_json::to_string(&ReceiptView::of(receipt)).unwrap_or_default()
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ReceiptView {
    kind: &'static str,
    organization_id: String,
    seq: String,
    hash: String,
    encoded: String,
}

impl ReceiptView {
    fn of(receipt: &Receipt) -> Self {
        ReceiptView {
            kind: "keyhold.audit.receipt",
            organization_id: receipt.body.org_id.to_string(),
            seq: receipt.body.seq.to_string(),
            hash: receipt.body.hash().map(hex::encode).unwrap_or_default(),
            encoded: postcard::to_allocvec(receipt)
                .map(hex::encode)
                .unwrap_or_default(),
        }
    }
}

impl AuditTracker {
    /// Called after a receipt was committed. Cheap: a map update; the checks run in the
    /// background and only when something looks wrong.
    pub fn committed(&self, state: &AppState, receipt: &Receipt) {
        let org = receipt.body.org_id;
        let seq = receipt.body.seq;
        if !self.key_saved.swap(true, Ordering::Relaxed) {
            let state = state.clone();
            tokio::spawn(async move {
                if let Err(e) = save_key(&state).await {
                    tracing::warn!(error = %e, "cannot store the audit key certificate");
                    state.audit.key_saved.store(false, Ordering::Relaxed);
                }
            });
        }
        let suspicious = match self.newest.lock() {
            Ok(mut newest) => {
                let before = newest.insert(org, seq);
                if let Some(b) = before
                    && b > seq
                {
                    newest.insert(org, b);
                }
                // The first receipt this process sees of an organization is checked against the
                // store once; after that only a jump past the newest is.
                match before {
                    None => seq > 1,
                    Some(b) => seq > b.saturating_add(1),
                }
            }
            Err(_) => false,
        };
        let start = suspicious && self.repairing.lock().is_ok_and(|mut r| r.insert(org));
        if start {
            let state = state.clone();
            tokio::spawn(async move {
                tokio::time::sleep(REPAIR_DELAY).await;
                if let Err(e) = repair(&state, org, seq).await {
                    tracing::warn!(organization = %org, error = %e, "cannot check the audit chain for holes");
                }
                if let Ok(mut r) = state.audit.repairing.lock() {
                    r.remove(&org);
                }
            });
        }
    }
}

/// Stores the receipt key's certificate (idempotent; the enclave's is deterministic).
pub async fn save_key(state: &AppState) -> Result<(), HostError> {
    let Response::AuditKey(cert) = state.call(Request::AuditKey).await? else {
        return Err(HostError::UnexpectedResponse);
    };
    let bytes = postcard::to_allocvec(&cert).map_err(|e| HostError::Store(e.to_string()))?;
    if state.store.get_meta(AUDIT_KEY_META).await?.as_deref() != Some(bytes.as_slice()) {
        state.store.put_meta(AUDIT_KEY_META, bytes).await?;
    }
    Ok(())
}

/// Fills holes below `upto` in `org`'s stored chain with receipts from the enclave's ring,
/// stored as "issued, no activity record". Returns how many were recovered.
///
/// Every hole as far back as the ring reaches, not only one right below `upto`: a host killed
/// before its own repair ran leaves a hole under receipts it did commit, and the next host
/// process's first commit is the only chance to fill it.
pub async fn repair(state: &AppState, org: OrgId, upto: u64) -> Result<usize, HostError> {
    let from = upto.saturating_sub(AUDIT_RING_LEN as u64).max(1);
    let stored: HashSet<u64> = state
        .store
        .receipt_seqs(org, from, upto)
        .await?
        .into_iter()
        .collect();
    let missing: HashSet<u64> = (from..upto).filter(|seq| !stored.contains(seq)).collect();
    let Some(first) = missing.iter().min().copied() else {
        return Ok(0);
    };
    let mut after = first.saturating_sub(1);
    let mut found = Vec::new();
    loop {
        let request = Request::AuditReceipts(AuditReceiptsRequest {
            org_id: org,
            after_seq: after,
        });
        let Response::AuditReceipts(batch) = state.call(request).await? else {
            return Err(HostError::UnexpectedResponse);
        };
        let full = batch.len() >= MAX_RECEIPTS_PER_FETCH;
        let mut progressed = false;
        for receipt in batch {
            if receipt.body.org_id != org || receipt.body.seq <= after {
                continue;
            }
            after = receipt.body.seq;
            progressed = true;
            if missing.contains(&receipt.body.seq) {
                found.push(ReceiptRecord {
                    receipt,
                    result: None,
                });
            }
        }
        if !full || !progressed || after >= upto {
            break;
        }
    }
    let count = found.len();
    if count > 0 {
        tracing::warn!(
            organization = %org,
            count,
            "receipts the enclave issued were missing from the store; recovered them from the enclave (no activity record)"
        );
        state.store.insert_recovered_receipts(found).await?;
    }
    if count < missing.len() {
        tracing::warn!(
            organization = %org,
            missing = missing.len() - count,
            "receipts are missing and the enclave no longer holds them"
        );
    }
    Ok(count)
}

/// Tells a restarted enclave where `org`'s chain stands: the newest receipt stored.
pub async fn resume(state: &AppState, org: &OrgRecord) -> Result<(), HostError> {
    let latest = state.store.latest_receipt(org.id, None).await?;
    let request = Request::AuditResume(AuditResumeRequest {
        org: org.sealed.clone(),
        latest: latest.map(|r| r.receipt),
    });
    let Response::AuditResume(position) = state.call(request).await? else {
        return Err(HostError::UnexpectedResponse);
    };
    tracing::info!(organization = %org.id, seq = position.seq, "audit chain resumed in the enclave");
    Ok(())
}
