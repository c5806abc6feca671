//! The receipt issuer on its own: a step whose new state the sealer refuses consumes no seq.

use keyhold_shared::msg::{
    ActivityStatus, QuorumManifest, RECEIPT_FORMAT, ReceiptBody, ReceiptKind,
};
use keyhold_shared::{ActivityId, OrgId, UserId, Uuid};

use crate::enclave::Keys;
use crate::error::Error;
use crate::org::{OrgState, RootQuorum};
use crate::secrets::QuorumKey;

fn keys() -> Keys {
    let manifest = QuorumManifest {
        operators: vec![],
        threshold: 1,
        nonce: 1,
        pcrs: vec![],
    };
    Keys::derive(&QuorumKey::generate().unwrap(), manifest).unwrap()
}

fn state(org: OrgId, version: u64) -> OrgState {
    OrgState {
        version,
        ..OrgState::new(
            org,
            "acme".into(),
            RootQuorum {
                threshold: 1,
                user_ids: vec![],
            },
            0,
        )
    }
}

fn body(org: OrgId) -> ReceiptBody {
    ReceiptBody {
        format: RECEIPT_FORMAT,
        org_id: org,
        seq: 0,
        prev: [0; 32],
        kind: ReceiptKind::Activity,
        activity_id: ActivityId(Uuid::from_bytes([1; 16])),
        activity_type: "ACTIVITY_TYPE_CREATE_POLICY_V3".into(),
        status: ActivityStatus::Completed,
        fingerprint: [2; 32],
        user_id: UserId(Uuid::from_bytes([3; 16])),
        executed_at_ms: 4,
        org_version: 2,
        result_digest: [5; 32],
    }
}

#[test]
fn a_refused_state_consumes_no_seq() {
    let keys = keys();
    let org = OrgId(Uuid::from_bytes([9; 16]));
    keys.org_sealer.seal(&state(org, 1)).unwrap();
    // an unknown organization must be resumed first
    assert!(matches!(
        keys.audit
            .issue(&keys.org_sealer, body(org), Some(state(org, 2))),
        Err(Error::AuditHeadNeeded)
    ));
    keys.audit.start_chain(org).unwrap();
    let (first, sealed) = keys
        .audit
        .issue(&keys.org_sealer, body(org), Some(state(org, 2)))
        .unwrap();
    assert_eq!(first.body.seq, 1);
    // the sealed state remembers this receipt
    let opened = keys.org_sealer.open(&sealed.unwrap()).unwrap();
    assert_eq!(opened.audit.unwrap().seq, 1);
    assert_eq!(opened.audit.unwrap().hash, first.body.hash().unwrap());
    // a concurrent successor of version 1 is refused by the sealer: no receipt, no seq used
    assert!(matches!(
        keys.audit
            .issue(&keys.org_sealer, body(org), Some(state(org, 2))),
        Err(Error::StaleState { .. })
    ));
    let (next, _) = keys.audit.issue(&keys.org_sealer, body(org), None).unwrap();
    assert_eq!(next.body.seq, 2);
    assert_eq!(next.body.prev, first.body.hash().unwrap());
    assert_eq!(
        keys.audit.receipts_after(org, 0).unwrap(),
        vec![first, next]
    );
}

#[test]
fn the_ring_forgets_the_oldest_receipts() {
    let keys = keys();
    let org = OrgId(Uuid::from_bytes([8; 16]));
    keys.audit.start_chain(org).unwrap();
    let total = super::RING_LEN as u64 + 10;
    for _ in 0..total {
        keys.audit.issue(&keys.org_sealer, body(org), None).unwrap();
    }
    let kept = keys.audit.receipts_after(org, 0).unwrap();
    assert_eq!(kept.len(), keyhold_shared::msg::MAX_RECEIPTS_PER_FETCH);
    assert_eq!(kept[0].body.seq, 11, "the 10 oldest are gone");
    let tail = keys.audit.receipts_after(org, total - 3).unwrap();
    let seqs: Vec<u64> = tail.iter().map(|r| r.body.seq).collect();
    assert_eq!(seqs, vec![total - 2, total - 1, total]);
}
