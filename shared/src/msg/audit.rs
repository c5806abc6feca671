//! The audit chain: one receipt per activity (and per vote), signed by the enclave and chained
//! to the organization's previous receipt (docs/audit.md).
//!
//! The enclave signs receipts with an Ed25519 key derived from the quorum key; the quorum key
//! certifies that key ([`AuditKeyCertificate`]), so a verifier needs only the deployment's
//! quorum public key. Everything a receipt commits to is defined here, on both sides of the
//! socket, so the verifier recomputes exactly what the enclave hashed:
//! - the receipt's hash, which the next receipt names as `prev`: [`ReceiptBody::hash`];
//! - the result digest: the hash of [`AuditResult`], the public part of the enclave's result
//!   (sealed blobs replaced by their SHA-256), followed by the step's policy evaluations
//!   ([`audit_bytes`]), whose bytes the host stores next to the receipt.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{
    ActivityResult, ActivityStatus, AddressFormat, CreatedPrivateKey, Curve, DerivedAccount,
    ExportTarget, ImportKind, PolicyEvaluation, RecoverableSignature, SealedOrgState, SealedSeed,
    domain_digest,
};
use crate::ids::{ActivityId, OrgId, PrivateKeyId, UserId, WalletId};

/// Domain of a receipt's hash (which is also what the receipt key signs).
pub const DOMAIN_RECEIPT: &[u8] = b"keyhold/v1/audit/receipt";
/// Domain of the hash of an activity's [`AuditResult`].
pub const DOMAIN_RESULT: &[u8] = b"keyhold/v1/audit/result";
/// Domain of the quorum key's signature over the receipt public key.
pub const DOMAIN_AUDIT_KEY: &[u8] = b"keyhold/v1/audit/receipt-key";
/// Domain of a signed chain head.
pub const DOMAIN_AUDIT_HEAD: &[u8] = b"keyhold/v1/audit/head";
/// The receipt format this code writes; a verifier refuses others.
pub const RECEIPT_FORMAT: u8 = 1;
/// Longest activity type a receipt carries (Turnkey's longest is under 64 bytes).
pub const MAX_RECEIPT_TYPE_LEN: usize = 128;
/// Receipts (all organizations) the enclave keeps for the host to fetch: the host looks for holes
/// only this far back, as older ones cannot be filled anyway.
pub const AUDIT_RING_LEN: usize = 4096;
/// Most receipts one [`AuditReceiptsRequest`] returns.
pub const MAX_RECEIPTS_PER_FETCH: usize = 256;
/// Longest caller nonce in a signed head.
pub const MAX_HEAD_NONCE_LEN: usize = 64;

/// An Ed25519 signature (`R ‖ S`), as two halves because serde arrays stop at 32.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ed25519Signature(pub [u8; 32], pub [u8; 32]);

impl Ed25519Signature {
    pub fn from_bytes(bytes: [u8; 64]) -> Self {
        let mut r = [0u8; 32];
        let mut s = [0u8; 32];
        for (o, b) in r.iter_mut().chain(s.iter_mut()).zip(bytes) {
            *o = b;
        }
        Ed25519Signature(r, s)
    }

    pub fn to_bytes(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        for (o, b) in out.iter_mut().zip(self.0.iter().chain(self.1.iter())) {
            *o = *b;
        }
        out
    }
}

/// What a receipt is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReceiptKind {
    /// A submitted activity (completed, or waiting for consensus).
    Activity,
    /// An approval of the activity whose body hashes to `target`.
    Approve { target: [u8; 32] },
    /// A rejection of the activity whose body hashes to `target`.
    Reject { target: [u8; 32] },
}

/// The signed content of a receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptBody {
    /// [`RECEIPT_FORMAT`].
    pub format: u8,
    pub org_id: OrgId,
    /// 1, 2, 3, … per organization.
    pub seq: u64,
    /// The previous receipt's [`ReceiptBody::hash`]; zero for seq 1.
    pub prev: [u8; 32],
    pub kind: ReceiptKind,
    /// The activity's id (for a vote: an id of the vote itself).
    pub activity_id: ActivityId,
    /// The activity type (for a vote: the voted-on activity's).
    pub activity_type: String,
    /// The activity's status after this step.
    pub status: ActivityStatus,
    /// SHA-256 of the exact request body this receipt is for (the vote's own body for a vote).
    pub fingerprint: [u8; 32],
    /// Who submitted (or voted).
    pub user_id: UserId,
    pub executed_at_ms: u64,
    /// The organization's state version after this step.
    pub org_version: u64,
    /// [`result_digest`] of the [`AuditResult`] bytes.
    pub result_digest: [u8; 32],
}

impl ReceiptBody {
    /// The receipt's hash: what the next receipt names as `prev` and what the receipt key signs.
    pub fn hash(&self) -> Result<[u8; 32], postcard::Error> {
        domain_digest(DOMAIN_RECEIPT, self)
    }
}

/// A receipt: its body and the receipt key's Ed25519 signature over [`ReceiptBody::hash`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub body: ReceiptBody,
    pub signature: Ed25519Signature,
}

/// The receipt key, certified by the quorum key: a P-256 ECDSA signature (DER) over
/// `domain_digest(DOMAIN_AUDIT_KEY, receipt_key)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditKeyCertificate {
    /// Ed25519 public key.
    pub receipt_key: [u8; 32],
    pub signature: Vec<u8>,
}

/// The enclave's current chain head for an organization, over a caller's nonce.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHead {
    pub org_id: OrgId,
    /// The newest receipt's seq (0: no receipt yet).
    pub seq: u64,
    /// The newest receipt's hash (zero: no receipt yet).
    pub hash: [u8; 32],
    /// The seq this enclave took the chain over at, after a restart (from the sealed checkpoint
    /// or a receipt the host presented); 0 when it has carried the chain from its start.
    /// Receipts up to this seq were not seen by this enclave (see docs/audit.md).
    pub resumed_at: u64,
    pub nonce: Vec<u8>,
    pub issued_at_ms: u64,
}

impl AuditHead {
    pub fn digest(&self) -> Result<[u8; 32], postcard::Error> {
        domain_digest(DOMAIN_AUDIT_HEAD, self)
    }
}

/// An [`AuditHead`] signed by the receipt key (over [`AuditHead::digest`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedAuditHead {
    pub head: AuditHead,
    pub signature: Ed25519Signature,
}

/// After an enclave restart: continue an organization's chain. `latest` is the newest receipt
/// the host stored; the enclave checks it against the checkpoint in the sealed state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditResumeRequest {
    pub org: SealedOrgState,
    pub latest: Option<Receipt>,
}

/// Where an organization's chain stands (answer to [`AuditResumeRequest`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPosition {
    pub seq: u64,
    pub hash: [u8; 32],
}

/// Receipts of `org_id` with seq above `after_seq` that the enclave still holds in its recent
/// ring (oldest first, at most [`MAX_RECEIPTS_PER_FETCH`]), for a host that lost some.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditReceiptsRequest {
    pub org_id: OrgId,
    pub after_seq: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHeadRequest {
    pub org_id: OrgId,
    /// At most [`MAX_HEAD_NONCE_LEN`] bytes.
    pub nonce: Vec<u8>,
}

/// The public part of an activity's result: [`ActivityResult`] with every sealed blob replaced
/// by the SHA-256 of its postcard encoding (the blob is not secret, but it is big and the host
/// stores it elsewhere; the hash still binds it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuditResult {
    CreateWallet {
        wallet_id: WalletId,
        wallet_name: String,
        accounts: Vec<DerivedAccount>,
        sealed_seed: [u8; 32],
    },
    CreateWalletAccounts {
        wallet_id: WalletId,
        accounts: Vec<DerivedAccount>,
    },
    CreatePrivateKeys(Vec<AuditPrivateKey>),
    SignRawPayload(RecoverableSignature),
    SignRawPayloads(Vec<RecoverableSignature>),
    SignTransaction(Vec<u8>),
    Empty,
    Organization {
        result_json: String,
        sub_organization: Option<AuditSubOrganization>,
    },
    /// An export: the encrypted bundle (it is what the client received).
    Exported {
        target: ExportTarget,
        export_bundle: String,
    },
    /// An import's first step: the signed bundle and the sealed import key's hash.
    InitImport {
        user_id: UserId,
        kind: ImportKind,
        import_bundle: String,
        sealed_key: [u8; 32],
    },
    ImportWallet(AuditWallet),
    ImportPrivateKey(AuditPrivateKey),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPrivateKey {
    pub private_key_id: PrivateKeyId,
    pub name: String,
    pub curve: Curve,
    pub public_key: Vec<u8>,
    pub addresses: Vec<(AddressFormat, String)>,
    pub tags: Vec<String>,
    pub sealed_key: [u8; 32],
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditSubOrganization {
    pub organization_id: OrgId,
    pub parent_organization_id: OrgId,
    pub name: String,
    pub sealed_state: [u8; 32],
    pub wallet: Option<AuditWallet>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditWallet {
    pub wallet_id: WalletId,
    pub wallet_name: String,
    pub accounts: Vec<DerivedAccount>,
    pub sealed_seed: [u8; 32],
}

/// SHA-256 of a value's postcard encoding (a sealed blob's stand-in in [`AuditResult`]).
fn blob_hash<T: Serialize>(value: &T) -> [u8; 32] {
    // Encoding into a Vec cannot fail for these plain types; an empty encoding would still
    // give a well-defined hash, and the verifier recomputes nothing from it.
    let bytes = postcard::to_allocvec(value).unwrap_or_default();
    Sha256::digest(bytes).into()
}

fn seed_hash(seed: &SealedSeed) -> [u8; 32] {
    blob_hash(seed)
}

fn audit_private_key(k: &CreatedPrivateKey) -> AuditPrivateKey {
    AuditPrivateKey {
        private_key_id: k.private_key_id,
        name: k.name.clone(),
        curve: k.curve,
        public_key: k.public_key.clone(),
        addresses: k.addresses.clone(),
        tags: k.tags.clone(),
        sealed_key: seed_hash(&k.sealed_key),
    }
}

impl From<&ActivityResult> for AuditResult {
    fn from(result: &ActivityResult) -> Self {
        match result {
            ActivityResult::CreateWallet {
                wallet_id,
                wallet_name,
                accounts,
                sealed_seed,
            } => AuditResult::CreateWallet {
                wallet_id: *wallet_id,
                wallet_name: wallet_name.clone(),
                accounts: accounts.clone(),
                sealed_seed: seed_hash(sealed_seed),
            },
            ActivityResult::CreateWalletAccounts {
                wallet_id,
                accounts,
            } => AuditResult::CreateWalletAccounts {
                wallet_id: *wallet_id,
                accounts: accounts.clone(),
            },
            ActivityResult::CreatePrivateKeys(keys) => {
                AuditResult::CreatePrivateKeys(keys.iter().map(audit_private_key).collect())
            }
            ActivityResult::Exported {
                target,
                export_bundle,
            } => AuditResult::Exported {
                target: target.clone(),
                export_bundle: export_bundle.clone(),
            },
            ActivityResult::InitImport {
                user_id,
                kind,
                import_bundle,
                sealed_key,
            } => AuditResult::InitImport {
                user_id: *user_id,
                kind: *kind,
                import_bundle: import_bundle.clone(),
                sealed_key: seed_hash(sealed_key),
            },
            ActivityResult::ImportWallet(w) => AuditResult::ImportWallet(AuditWallet {
                wallet_id: w.wallet_id,
                wallet_name: w.wallet_name.clone(),
                accounts: w.accounts.clone(),
                sealed_seed: seed_hash(&w.sealed_seed),
            }),
            ActivityResult::ImportPrivateKey(k) => {
                AuditResult::ImportPrivateKey(audit_private_key(k))
            }
            ActivityResult::SignRawPayload(sig) => AuditResult::SignRawPayload(sig.clone()),
            ActivityResult::SignRawPayloads(sigs) => AuditResult::SignRawPayloads(sigs.clone()),
            ActivityResult::SignTransaction(tx) => AuditResult::SignTransaction(tx.clone()),
            ActivityResult::Empty => AuditResult::Empty,
            ActivityResult::Organization {
                result_json,
                sub_organization,
            } => AuditResult::Organization {
                result_json: result_json.clone(),
                sub_organization: sub_organization.as_ref().map(|sub| AuditSubOrganization {
                    organization_id: sub.organization_id,
                    parent_organization_id: sub.parent_organization_id,
                    name: sub.name.clone(),
                    sealed_state: blob_hash(&sub.sealed_state),
                    wallet: sub.wallet.as_ref().map(|w| AuditWallet {
                        wallet_id: w.wallet_id,
                        wallet_name: w.wallet_name.clone(),
                        accounts: w.accounts.clone(),
                        sealed_seed: seed_hash(&w.sealed_seed),
                    }),
                }),
            },
        }
    }
}

impl AuditResult {
    /// The result's own encoding: the canonical bytes of receipts issued before policy
    /// evaluations were recorded (now the first part of [`audit_bytes`]).
    pub fn encode(&self) -> Result<Vec<u8>, postcard::Error> {
        postcard::to_allocvec(self)
    }
}

/// The canonical bytes the host stores next to a receipt, which its result digest covers: the
/// [`AuditResult`] followed by the step's policy evaluations (an `Option`, so even `None` adds a
/// byte). A host that adds, drops or changes an evaluation changes the digest.
pub fn audit_bytes(
    result: &AuditResult,
    evaluations: Option<&[PolicyEvaluation]>,
) -> Result<Vec<u8>, postcard::Error> {
    postcard::to_allocvec(&(result, evaluations))
}

/// Splits [`audit_bytes`] again. Bytes that end right after the result were written before
/// evaluations were recorded: they carry none (`None`). Anything after the evaluations is an
/// error.
pub fn decode_audit_bytes(
    bytes: &[u8],
) -> Result<(AuditResult, Option<Vec<PolicyEvaluation>>), postcard::Error> {
    let (result, rest) = postcard::take_from_bytes::<AuditResult>(bytes)?;
    if rest.is_empty() {
        return Ok((result, None));
    }
    let (evaluations, rest) = postcard::take_from_bytes::<Option<Vec<PolicyEvaluation>>>(rest)?;
    if !rest.is_empty() {
        return Err(postcard::Error::DeserializeBadEncoding);
    }
    Ok((result, evaluations))
}

/// The digest a receipt carries for the canonical [`AuditResult`] bytes.
pub fn result_digest(bytes: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update((DOMAIN_RESULT.len() as u64).to_be_bytes());
    hasher.update(DOMAIN_RESULT);
    hasher.update(bytes);
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Uuid;

    fn body() -> ReceiptBody {
        ReceiptBody {
            format: RECEIPT_FORMAT,
            org_id: OrgId(Uuid::from_bytes([1; 16])),
            seq: 1,
            prev: [0; 32],
            kind: ReceiptKind::Approve { target: [7; 32] },
            activity_id: ActivityId(Uuid::from_bytes([2; 16])),
            activity_type: "ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2".into(),
            status: ActivityStatus::Completed,
            fingerprint: [3; 32],
            user_id: UserId(Uuid::from_bytes([4; 16])),
            executed_at_ms: 5,
            org_version: 6,
            result_digest: result_digest(&AuditResult::Empty.encode().unwrap()),
        }
    }

    /// Pins the receipt encoding and hash: a change here breaks every stored chain.
    #[test]
    fn receipt_golden_hash() {
        let body = body();
        let encoded = postcard::to_allocvec(&body).unwrap();
        assert_eq!(
            encoded.len(),
            1 + 16 + 1 + 32 + 1 + 32 + 16 + 34 + 1 + 32 + 16 + 1 + 1 + 32
        );
        assert_eq!(
            hex::encode(body.hash().unwrap()),
            "49026069a30e008831c59f8d47d96f3555e4b6fbbee0558bdaea302f2547811d"
        );
        let mut other = body.clone();
        other.seq = 2;
        assert_ne!(other.hash().unwrap(), body.hash().unwrap());
    }

    #[test]
    fn signature_halves_round_trip() {
        let mut bytes = [0u8; 64];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = i as u8;
        }
        assert_eq!(Ed25519Signature::from_bytes(bytes).to_bytes(), bytes);
    }

    #[test]
    fn audit_bytes_carry_the_evaluations_and_read_older_bytes() {
        use crate::msg::PolicyOutcome;
        let result = AuditResult::SignTransaction(vec![1, 2, 3]);
        let evaluations = vec![
            PolicyEvaluation {
                policy_id: "p-1".into(),
                outcome: PolicyOutcome::Allow,
            },
            PolicyEvaluation {
                policy_id: "p-2".into(),
                outcome: PolicyOutcome::DenyImplicit,
            },
        ];
        let bytes = audit_bytes(&result, Some(&evaluations)).unwrap();
        assert_eq!(
            decode_audit_bytes(&bytes).unwrap(),
            (result.clone(), Some(evaluations.clone()))
        );
        // a changed outcome is a changed digest
        let mut edited = evaluations.clone();
        edited[1].outcome = PolicyOutcome::Allow;
        let other = audit_bytes(&result, Some(&edited)).unwrap();
        assert_ne!(result_digest(&bytes), result_digest(&other));
        // no evaluation (a rejection) differs from an empty one (the root quorum decided)
        let none = audit_bytes(&result, None).unwrap();
        let empty = audit_bytes(&result, Some(&[])).unwrap();
        assert_ne!(none, empty);
        assert_eq!(decode_audit_bytes(&empty).unwrap().1, Some(vec![]));
        // bytes stored before evaluations were recorded: the result alone
        let legacy = result.encode().unwrap();
        assert_eq!(decode_audit_bytes(&legacy).unwrap(), (result, None));
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(decode_audit_bytes(&trailing).is_err());
    }

    #[test]
    fn result_digest_is_domain_separated() {
        let bytes = AuditResult::Empty.encode().unwrap();
        assert_ne!(
            result_digest(&bytes),
            <[u8; 32]>::from(Sha256::digest(&bytes))
        );
    }
}
