//! `keyhold audit verify`: checks an organization's stored chain against the deployment's
//! quorum public key, offline. Everything the host stored is a suspect; the only trust roots
//! are the quorum public key and (for truncation) an anchor the enclave signed.
//!
//! What is checked, and the problem each failure is reported as:
//! - the receipt key's certificate verifies under the quorum key ([`ProblemKind::Certificate`]);
//! - every receipt decodes and its signature verifies ([`ProblemKind::Signature`]), belongs to
//!   the organization ([`ProblemKind::ForeignReceipt`]) and sits at its own seq
//!   ([`ProblemKind::Reordered`]); its stored result bytes match its digest
//!   ([`ProblemKind::ResultEdited`]);
//! - seqs run 1, 2, 3, … without a gap ([`ProblemKind::Missing`]), each naming its predecessor's
//!   hash ([`ProblemKind::ChainBroken`]), one receipt per seq ([`ProblemKind::Fork`]);
//! - every receipt's activity is stored ([`ProblemKind::ActivityMissing`]) with the exact body,
//!   type, status and result the newest receipt about it states ([`ProblemKind::ActivityEdited`]);
//!   every vote's body is among its activity's votes ([`ProblemKind::VoteMissing`]); every stored
//!   activity has a receipt ([`ProblemKind::Unreceipted`]);
//! - with an anchor (a signed head or a receipt a client kept), the chain reaches it with the
//!   same hash ([`ProblemKind::Truncated`], [`ProblemKind::AnchorMismatch`]).
//!
//! Receipts the host recovered from the enclave after losing them ("issued, no activity
//! record") are not a problem by default but are listed; `strict` makes them one.

use std::collections::{BTreeMap, HashMap, HashSet};

use ed25519_dalek::{Signature, VerifyingKey};
use keyhold_shared::msg::{
    ActivityStatus, AuditKeyCertificate, DOMAIN_AUDIT_KEY, RECEIPT_FORMAT, Receipt, ReceiptKind,
    SignedAuditHead, decode_audit_bytes, domain_digest, result_digest,
};
use keyhold_shared::{ActivityId, OrgId};
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::load::StoredReceipt;
use super::turnkey_result;
use crate::store::ActivityRecord;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemKind {
    Certificate,
    Undecodable,
    Signature,
    ForeignReceipt,
    Reordered,
    ResultEdited,
    Missing,
    ChainBroken,
    Fork,
    ActivityMissing,
    ActivityEdited,
    VoteMissing,
    Unreceipted,
    Truncated,
    AnchorMismatch,
    /// Only with `strict`: a receipt the enclave issued whose activity the host never stored.
    Recovered,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    pub kind: ProblemKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activity_id: Option<String>,
    pub message: String,
}

/// A receipt the enclave issued whose activity the host never stored.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Recovered {
    pub seq: u64,
    pub activity_type: String,
    pub status: String,
    pub user_id: String,
    pub executed_at_ms: u64,
}

/// Something a verifier holds that the enclave signed, to catch a cut-off tail.
#[derive(Clone, Debug)]
pub enum Anchor {
    /// A head fetched from the enclave; `nonce` is what the caller asked it to sign over.
    Head {
        head: Box<SignedAuditHead>,
        nonce: Option<Vec<u8>>,
    },
    /// A receipt a client kept from an activity's answer.
    Receipt(Box<Receipt>),
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub ok: bool,
    pub organization_id: String,
    pub receipts: usize,
    pub activities: usize,
    /// The newest stored receipt: seq and hash.
    pub head_seq: u64,
    pub head_hash: String,
    pub anchor: Option<String>,
    pub recovered: Vec<Recovered>,
    pub notes: Vec<String>,
    pub problems: Vec<Problem>,
}

pub struct Input<'a> {
    pub org: OrgId,
    pub quorum_public_key: &'a [u8],
    pub certificate: Option<&'a [u8]>,
    pub receipts: &'a [StoredReceipt],
    pub activities: &'a [ActivityRecord],
    pub anchor: Option<Anchor>,
    pub strict: bool,
}

pub fn status_text(status: ActivityStatus) -> &'static str {
    match status {
        ActivityStatus::Completed => "ACTIVITY_STATUS_COMPLETED",
        ActivityStatus::ConsensusNeeded => "ACTIVITY_STATUS_CONSENSUS_NEEDED",
        ActivityStatus::Rejected => "ACTIVITY_STATUS_REJECTED",
    }
}

/// Verifies the certificate and returns the receipt key.
pub fn receipt_key(quorum_public_key: &[u8], certificate: &[u8]) -> Result<VerifyingKey, String> {
    let cert: AuditKeyCertificate = keyhold_shared::frame::decode(certificate)
        .map_err(|_| "the stored receipt key certificate does not decode".to_owned())?;
    let quorum = p256::ecdsa::VerifyingKey::from_sec1_bytes(quorum_public_key)
        .map_err(|_| "the quorum public key is not a P-256 point".to_owned())?;
    let digest = domain_digest(DOMAIN_AUDIT_KEY, &cert.receipt_key)
        .map_err(|_| "cannot encode the receipt key".to_owned())?;
    let signature = p256::ecdsa::DerSignature::try_from(cert.signature.as_slice())
        .map_err(|_| "the receipt key certificate's signature is malformed".to_owned())?;
    quorum.verify_prehash(&digest, &signature).map_err(|_| {
        "the receipt key is not certified by this quorum key (another deployment, or forged)"
            .to_owned()
    })?;
    VerifyingKey::from_bytes(&cert.receipt_key)
        .map_err(|_| "the certified receipt key is not an Ed25519 point".to_owned())
}

fn signed_by(key: &VerifyingKey, digest: &[u8; 32], sig: &[u8; 64]) -> bool {
    key.verify_strict(digest, &Signature::from_bytes(sig))
        .is_ok()
}

struct Entry<'a> {
    receipt: Receipt,
    hash: [u8; 32],
    result: Option<&'a [u8]>,
}

struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    fn add(
        &mut self,
        kind: ProblemKind,
        seq: Option<u64>,
        activity: Option<String>,
        message: String,
    ) {
        self.problems.push(Problem {
            kind,
            seq,
            activity_id: activity,
            message,
        });
    }
}

fn hex_short(bytes: &[u8]) -> String {
    hex::encode(bytes.iter().take(8).copied().collect::<Vec<u8>>())
}

pub fn verify(input: Input<'_>) -> Report {
    let mut c = Checker {
        problems: Vec::new(),
    };
    let mut report = Report {
        ok: false,
        organization_id: input.org.to_string(),
        receipts: input.receipts.len(),
        activities: input.activities.len(),
        head_seq: 0,
        head_hash: hex::encode([0u8; 32]),
        anchor: None,
        recovered: Vec::new(),
        notes: Vec::new(),
        problems: Vec::new(),
    };
    let key = match input.certificate {
        None => Err("the store holds no receipt key certificate".to_owned()),
        Some(cert) => receipt_key(input.quorum_public_key, cert),
    };
    let key = match key {
        Ok(key) => key,
        Err(message) => {
            c.add(ProblemKind::Certificate, None, None, message);
            report.problems = c.problems;
            return report;
        }
    };

    // 1. Each row on its own: decodes, is signed, is this organization's, sits at its seq.
    let mut by_seq: BTreeMap<u64, Vec<Entry<'_>>> = BTreeMap::new();
    for row in input.receipts {
        let Ok(receipt) = keyhold_shared::frame::decode::<Receipt>(&row.receipt) else {
            c.add(
                ProblemKind::Undecodable,
                Some(row.seq),
                None,
                format!(
                    "the receipt stored at seq {} does not decode (edited)",
                    row.seq
                ),
            );
            continue;
        };
        let Ok(hash) = receipt.body.hash() else {
            c.add(
                ProblemKind::Undecodable,
                Some(row.seq),
                None,
                "cannot hash".into(),
            );
            continue;
        };
        if !signed_by(&key, &hash, &receipt.signature.to_bytes()) {
            c.add(
                ProblemKind::Signature,
                Some(row.seq),
                None,
                format!(
                    "the receipt stored at seq {}: its signature does not verify (edited or forged)",
                    row.seq
                ),
            );
            continue;
        }
        let body = &receipt.body;
        if body.format != RECEIPT_FORMAT {
            c.add(
                ProblemKind::Undecodable,
                Some(row.seq),
                None,
                format!(
                    "receipt seq {} has unknown format {}",
                    body.seq, body.format
                ),
            );
            continue;
        }
        if body.org_id != input.org {
            c.add(
                ProblemKind::ForeignReceipt,
                Some(row.seq),
                None,
                format!(
                    "the receipt stored at seq {} belongs to another organization ({}, its seq {}): inserted",
                    row.seq, body.org_id, body.seq
                ),
            );
            continue;
        }
        if body.seq != row.seq {
            c.add(
                ProblemKind::Reordered,
                Some(row.seq),
                None,
                format!(
                    "the receipt stored at seq {} is receipt seq {} (reordered)",
                    row.seq, body.seq
                ),
            );
        }
        if let Some(bytes) = &row.result
            && result_digest(bytes) != body.result_digest
        {
            c.add(
                ProblemKind::ResultEdited,
                Some(body.seq),
                Some(body.activity_id.to_string()),
                format!(
                    "the stored result of receipt seq {} does not match the digest it signed (edited)",
                    body.seq
                ),
            );
        }
        by_seq.entry(body.seq).or_default().push(Entry {
            hash,
            result: row.result.as_deref(),
            receipt,
        });
    }

    // 2. The chain: 1, 2, 3, … each naming its predecessor.
    let mut chain: Vec<Entry<'_>> = Vec::with_capacity(by_seq.len());
    let mut expected = 1u64;
    let mut prev = [0u8; 32];
    for (seq, mut entries) in by_seq {
        let distinct: HashSet<[u8; 32]> = entries.iter().map(|e| e.hash).collect();
        if distinct.len() > 1 {
            c.add(
                ProblemKind::Fork,
                Some(seq),
                None,
                format!(
                    "{} different receipts claim seq {seq} (a fork: the chain was cut and continued after an enclave restart)",
                    distinct.len()
                ),
            );
        }
        let entry = entries.swap_remove(0);
        if seq > expected {
            let message = if seq == expected + 1 {
                format!("receipt seq {expected} is missing (deleted)")
            } else {
                format!(
                    "receipts seq {expected} to {} are missing (deleted)",
                    seq - 1
                )
            };
            c.add(ProblemKind::Missing, Some(expected), None, message);
        } else if entry.receipt.body.prev != prev {
            c.add(
                ProblemKind::ChainBroken,
                Some(seq),
                None,
                format!(
                    "receipt seq {seq} does not follow receipt seq {} (its previous hash differs)",
                    seq.saturating_sub(1)
                ),
            );
        }
        prev = entry.hash;
        expected = seq.saturating_add(1);
        chain.push(entry);
    }
    if let Some(last) = chain.last() {
        report.head_seq = last.receipt.body.seq;
        report.head_hash = hex::encode(last.hash);
    }

    // 3. The activities against the receipts.
    let by_id: HashMap<ActivityId, &ActivityRecord> =
        input.activities.iter().map(|a| (a.id, a)).collect();
    let by_fingerprint: HashMap<&str, &ActivityRecord> = input
        .activities
        .iter()
        .map(|a| (a.fingerprint.as_str(), a))
        .collect();
    let mut covered: HashSet<ActivityId> = HashSet::new();
    let mut newest: HashMap<ActivityId, &Entry<'_>> = HashMap::new();
    for entry in &chain {
        let body = &entry.receipt.body;
        let seq = body.seq;
        let recovered = entry.result.is_none();
        let row = match body.kind {
            ReceiptKind::Activity => by_id.get(&body.activity_id).copied(),
            ReceiptKind::Approve { target } | ReceiptKind::Reject { target } => by_fingerprint
                .get(format!("sha256:{}", hex::encode(target)).as_str())
                .copied(),
        };
        let Some(row) = row else {
            if recovered {
                report.recovered.push(Recovered {
                    seq,
                    activity_type: body.activity_type.clone(),
                    status: status_text(body.status).into(),
                    user_id: body.user_id.to_string(),
                    executed_at_ms: body.executed_at_ms,
                });
            } else {
                let what = match body.kind {
                    ReceiptKind::Activity => format!("activity {}", body.activity_id),
                    _ => "the activity voted on".to_owned(),
                };
                c.add(
                    ProblemKind::ActivityMissing,
                    Some(seq),
                    Some(body.activity_id.to_string()),
                    format!(
                        "{what} ({}, receipt seq {seq}) is not in the store (deleted)",
                        body.activity_type
                    ),
                );
            }
            continue;
        };
        let id = row.id.to_string();
        match body.kind {
            ReceiptKind::Activity => {
                covered.insert(row.id);
                let body_hash: [u8; 32] = Sha256::digest(row.body.as_bytes()).into();
                if body_hash != body.fingerprint {
                    c.add(
                        ProblemKind::ActivityEdited,
                        Some(seq),
                        Some(id.clone()),
                        format!("activity {id}: its stored body is not the one receipt seq {seq} signed (edited)"),
                    );
                }
                if row.fingerprint != format!("sha256:{}", hex::encode(body.fingerprint)) {
                    c.add(
                        ProblemKind::ActivityEdited,
                        Some(seq),
                        Some(id.clone()),
                        format!("activity {id}: its stored fingerprint differs from receipt seq {seq} (edited)"),
                    );
                }
                if row.activity_type != body.activity_type {
                    c.add(
                        ProblemKind::ActivityEdited,
                        Some(seq),
                        Some(id.clone()),
                        format!(
                            "activity {id}: type is `{}` but receipt seq {seq} says `{}` (edited)",
                            row.activity_type, body.activity_type
                        ),
                    );
                }
            }
            ReceiptKind::Approve { .. } | ReceiptKind::Reject { .. } => {
                let votes: Vec<Value> = serde_json::from_str(&row.votes).unwrap_or_default();
                let found = votes.iter().any(|v| {
                    v.get("message").and_then(Value::as_str).is_some_and(|m| {
                        <[u8; 32]>::from(Sha256::digest(m.as_bytes())) == body.fingerprint
                    })
                });
                if !found {
                    c.add(
                        ProblemKind::VoteMissing,
                        Some(seq),
                        Some(id.clone()),
                        format!("activity {id}: the vote of receipt seq {seq} is missing from its votes (deleted or edited)"),
                    );
                }
            }
        }
        newest.insert(row.id, entry);
    }
    for row in input.activities {
        let id = row.id.to_string();
        if !covered.contains(&row.id) {
            c.add(
                ProblemKind::Unreceipted,
                None,
                Some(id.clone()),
                format!(
                    "activity {id} ({}) has no receipt (inserted, or its receipt was deleted)",
                    row.activity_type
                ),
            );
        }
        let Some(entry) = newest.get(&row.id) else {
            continue;
        };
        let body = &entry.receipt.body;
        let seq = body.seq;
        let Some(bytes) = entry.result else {
            report.notes.push(format!(
                "activity {id}: its newest receipt (seq {seq}, {}) was recovered from the enclave; the stored status and result predate it",
                status_text(body.status)
            ));
            continue;
        };
        let expected_status = status_text(body.status);
        if row.status != expected_status {
            c.add(
                ProblemKind::ActivityEdited,
                Some(seq),
                Some(id.clone()),
                format!(
                    "activity {id}: status is {} but receipt seq {seq} says {expected_status} (edited)",
                    row.status
                ),
            );
        }
        let expected = decode_audit_bytes(bytes)
            .ok()
            .and_then(|(r, _)| turnkey_result(&r));
        let stored: Option<Value> = serde_json::from_str(&row.result).ok();
        if expected.is_none() || expected != stored {
            c.add(
                ProblemKind::ActivityEdited,
                Some(seq),
                Some(id.clone()),
                format!("activity {id}: its stored result differs from what receipt seq {seq} signed (edited)"),
            );
        }
    }

    // 4. The anchor: the stored chain must reach it, with the same receipt there.
    if let Some(anchor) = input.anchor {
        let (seq, hash, label) = match &anchor {
            Anchor::Head { head, nonce } => {
                let digest = head.head.digest().unwrap_or([0; 32]);
                if !signed_by(&key, &digest, &head.signature.to_bytes()) {
                    c.add(
                        ProblemKind::AnchorMismatch,
                        None,
                        None,
                        "the head's signature does not verify (not from this deployment's enclave)"
                            .into(),
                    );
                }
                if let Some(nonce) = nonce
                    && *nonce != head.head.nonce
                {
                    c.add(
                        ProblemKind::AnchorMismatch,
                        None,
                        None,
                        "the head is not over the nonce asked for (replayed)".into(),
                    );
                }
                if head.head.org_id != input.org {
                    c.add(
                        ProblemKind::AnchorMismatch,
                        None,
                        None,
                        format!("the head is of another organization ({})", head.head.org_id),
                    );
                }
                if head.head.resumed_at > 0 {
                    report.notes.push(format!(
                        "the enclave took this chain over at seq {} after a restart: the anchor vouches for the chain's end, and for seq {} and before only as far as the sealed checkpoint and the host's receipts did (docs/audit.md)",
                        head.head.resumed_at, head.head.resumed_at
                    ));
                }
                (
                    head.head.seq,
                    head.head.hash,
                    format!("enclave head seq {}", head.head.seq),
                )
            }
            Anchor::Receipt(receipt) => {
                let digest = receipt.body.hash().unwrap_or([0; 32]);
                if !signed_by(&key, &digest, &receipt.signature.to_bytes()) {
                    c.add(
                        ProblemKind::AnchorMismatch,
                        None,
                        None,
                        "the anchor receipt's signature does not verify".into(),
                    );
                }
                if receipt.body.org_id != input.org {
                    c.add(
                        ProblemKind::AnchorMismatch,
                        None,
                        None,
                        format!(
                            "the anchor receipt is of another organization ({})",
                            receipt.body.org_id
                        ),
                    );
                }
                (
                    receipt.body.seq,
                    digest,
                    format!("receipt seq {}", receipt.body.seq),
                )
            }
        };
        if seq > report.head_seq {
            c.add(
                ProblemKind::Truncated,
                Some(seq),
                None,
                format!(
                    "the anchor ({label}) is beyond the stored chain, which ends at seq {} (truncated)",
                    report.head_seq
                ),
            );
        } else if seq > 0 {
            match chain.iter().find(|e| e.receipt.body.seq == seq) {
                Some(entry) if entry.hash == hash => {}
                Some(_) => c.add(
                    ProblemKind::AnchorMismatch,
                    Some(seq),
                    None,
                    format!(
                        "the stored receipt seq {seq} is not the anchor's ({}…): replaced or forked",
                        hex_short(&hash)
                    ),
                ),
                // Its absence is already reported as a missing receipt.
                None => {}
            }
        }
        report.anchor = Some(label);
    } else {
        report.notes.push(
            "no anchor given: a cut-off tail cannot be detected (pass --url or --head)".into(),
        );
    }

    if input.strict {
        for r in &report.recovered {
            c.add(
                ProblemKind::Recovered,
                Some(r.seq),
                None,
                format!(
                    "receipt seq {} ({}) was issued by the enclave but its activity was never stored",
                    r.seq, r.activity_type
                ),
            );
        }
    }
    report.problems = c.problems;
    report.ok = report.problems.is_empty();
    report
}
