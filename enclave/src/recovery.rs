//! Answers the host may have lost. When the enclave seals a new organization state, it refuses
//! every older one from then on (docs/rollback.md) — so if the host crashes after the enclave
//! answered but before it stored the answer, the organization would stall until the enclave
//! restarts. Instead the enclave keeps, per organization, its newest state-changing answer until
//! the host shows it has stored it (by presenting that version or a newer one), and hands it
//! back on request: the host stores it as if it had never crashed, and the organization goes
//! on. The answer is the unique successor the enclave sealed, so this gives the host no way to
//! fork the state — it only lets it catch up.
//!
//! Bounded: at most [`MAX_ENTRIES`] organizations and [`MAX_BYTES`] of answers; beyond that the
//! oldest entries are dropped (those organizations would stall as before, until a restart).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use keyhold_shared::OrgId;
use keyhold_shared::msg::{ActivityOutput, RecoveredActivity, SignedRequest};

use crate::error::{Error, Result};

pub const MAX_ENTRIES: usize = 10_000;
pub const MAX_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug)]
struct Entry {
    version: u64,
    size: usize,
    answer: RecoveredActivity,
}

#[derive(Debug, Default)]
struct Inner {
    by_org: HashMap<OrgId, Entry>,
    /// Insertion order, for eviction (may hold stale pairs of replaced entries).
    order: VecDeque<(OrgId, u64)>,
    bytes: usize,
}

/// The newest unconfirmed state-changing answer per organization.
#[derive(Debug, Default)]
pub struct PendingAnswers {
    inner: Mutex<Inner>,
}

fn size_of(request: &SignedRequest, output: &ActivityOutput) -> usize {
    let state = output
        .new_org_state
        .as_ref()
        .map_or(0, |s| s.ciphertext.len());
    // The result's own size is not known without encoding it; bodies and states dominate.
    request.body.len() + state + 1024
}

impl PendingAnswers {
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Inner>> {
        self.inner
            .lock()
            .map_err(|_| Error::Internal("pending answers poisoned"))
    }

    /// Remembers `output` (the answer to `request`) if it sealed a new organization state.
    pub fn record(&self, request: &SignedRequest, output: &ActivityOutput) -> Result<()> {
        let Some(state) = &output.new_org_state else {
            return Ok(());
        };
        let (org, version) = (state.org_id, state.version);
        let size = size_of(request, output);
        if size > MAX_BYTES {
            return Ok(());
        }
        let mut inner = self.lock()?;
        if let Some(old) = inner.by_org.remove(&org) {
            inner.bytes = inner.bytes.saturating_sub(old.size);
        }
        inner.by_org.insert(
            org,
            Entry {
                version,
                size,
                answer: RecoveredActivity {
                    request: request.clone(),
                    output: output.clone(),
                },
            },
        );
        inner.bytes = inner.bytes.saturating_add(size);
        inner.order.push_back((org, version));
        while inner.by_org.len() > MAX_ENTRIES || inner.bytes > MAX_BYTES {
            let Some((old_org, old_version)) = inner.order.pop_front() else {
                break;
            };
            if inner.by_org.get(&old_org).map(|e| e.version) == Some(old_version)
                && let Some(old) = inner.by_org.remove(&old_org)
            {
                inner.bytes = inner.bytes.saturating_sub(old.size);
            }
        }
        // Stale order pairs (replaced entries) are dropped as they reach the front; keep the
        // queue from growing without bound when one organization changes very often.
        if inner.order.len() > 4 * MAX_ENTRIES {
            let live: VecDeque<(OrgId, u64)> = inner
                .order
                .iter()
                .filter(|(o, v)| inner.by_org.get(o).map(|e| e.version) == Some(*v))
                .copied()
                .collect();
            inner.order = live;
        }
        Ok(())
    }

    /// The host presented `version` of `org`: whatever it is, the host has stored it, so an
    /// answer that sealed that version or an older one is no longer needed.
    pub fn confirm(&self, org: OrgId, version: u64) -> Result<()> {
        let mut inner = self.lock()?;
        if inner.by_org.get(&org).is_some_and(|e| e.version <= version)
            && let Some(old) = inner.by_org.remove(&org)
        {
            inner.bytes = inner.bytes.saturating_sub(old.size);
        }
        Ok(())
    }

    /// The newest answer for `org` that the host has not shown it stored.
    pub fn get(&self, org: OrgId) -> Result<Option<RecoveredActivity>> {
        Ok(self.lock()?.by_org.get(&org).map(|e| e.answer.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyhold_shared::msg::{
        ActivityResult, ActivityStatus, Ed25519Signature, Principal, Receipt, ReceiptBody,
        ReceiptKind, SealedOrgState, Stamp,
    };
    use keyhold_shared::{ActivityId, UserId, Uuid};

    fn answer(org: u8, version: u64, body_len: usize) -> (SignedRequest, ActivityOutput) {
        let org_id = OrgId(Uuid::from_bytes([org; 16]));
        let request = SignedRequest {
            body: vec![b'x'; body_len],
            stamp: Stamp::Missing,
        };
        let output = ActivityOutput {
            activity_id: ActivityId(Uuid::from_bytes([version as u8; 16])),
            status: ActivityStatus::Completed,
            activity_type: "ACTIVITY_TYPE_CREATE_POLICY_V3".into(),
            fingerprint: "sha256:00".into(),
            principal: Principal {
                organization_id: org_id,
                organization_name: "o".into(),
                user_id: UserId(Uuid::from_bytes([1; 16])),
                user_name: "u".into(),
            },
            executed_at_ms: 1,
            result: ActivityResult::Empty,
            new_org_state: Some(SealedOrgState {
                org_id,
                version,
                nonce: [0; 24],
                ciphertext: vec![0; 16],
            }),
            receipt: Receipt {
                body: ReceiptBody {
                    format: 1,
                    org_id,
                    seq: version,
                    prev: [0; 32],
                    kind: ReceiptKind::Activity,
                    activity_id: ActivityId(Uuid::from_bytes([version as u8; 16])),
                    activity_type: String::new(),
                    status: ActivityStatus::Completed,
                    fingerprint: [0; 32],
                    user_id: UserId(Uuid::from_bytes([1; 16])),
                    executed_at_ms: 1,
                    org_version: version,
                    result_digest: [0; 32],
                },
                signature: Ed25519Signature([0; 32], [0; 32]),
            },
            policy_evaluations: None,
        };
        (request, output)
    }

    #[test]
    fn keeps_the_newest_until_the_host_presents_it() {
        let pending = PendingAnswers::default();
        let org = OrgId(Uuid::from_bytes([1; 16]));
        let (r2, o2) = answer(1, 2, 10);
        let (r3, o3) = answer(1, 3, 10);
        pending.record(&r2, &o2).unwrap();
        pending.record(&r3, &o3).unwrap();
        assert_eq!(pending.get(org).unwrap().unwrap().output, o3);
        pending.confirm(org, 2).unwrap();
        assert!(
            pending.get(org).unwrap().is_some(),
            "version 2 does not store 3"
        );
        pending.confirm(org, 3).unwrap();
        assert!(pending.get(org).unwrap().is_none());
        // an answer without a new state is not kept
        let (r, mut o) = answer(1, 4, 10);
        o.new_org_state = None;
        pending.record(&r, &o).unwrap();
        assert!(pending.get(org).unwrap().is_none());
    }

    #[test]
    fn memory_is_bounded_by_bytes_oldest_out() {
        let pending = PendingAnswers::default();
        let big = MAX_BYTES / 3;
        for org in 1..=4u8 {
            let (r, o) = answer(org, 2, big);
            pending.record(&r, &o).unwrap();
        }
        let kept = |org: u8| {
            pending
                .get(OrgId(Uuid::from_bytes([org; 16])))
                .unwrap()
                .is_some()
        };
        assert!(!kept(1) && !kept(2), "the oldest were dropped");
        assert!(kept(3) && kept(4));
        assert!(pending.lock().unwrap().bytes <= MAX_BYTES);
    }
}
