//! Messages between host and enclave.
//!
//! A connection starts with the host sending [`Hello`] and the enclave answering [`HelloReply`];
//! after that the host sends [`RequestFrame`]s and the enclave answers [`ResponseFrame`]s carrying
//! the same [`RequestId`], in any order. Requests and responses are separate types, so the enclave
//! cannot even decode a response (see the qos contrast in STYLE.md).
//!
//! Nothing in a request is trusted by the enclave unless it can check it: client requests come as
//! the raw body plus the stamp header, organization state and seeds come sealed, and everything
//! the host adds (which wallet, which path) is checked against what the client signed.

use serde::{Deserialize, Serialize};

use crate::error::WireError;
use crate::ids::{ActivityId, ApiKeyId, OrgId, PrivateKeyId, RequestId, UserId, WalletId};

mod audit;
mod evaluations;
mod provisioning;
pub use audit::*;
pub use evaluations::*;
pub use provisioning::*;

/// Protocol version; both sides must speak the same one. Raised whenever a message's encoding
/// changes, so a host and an enclave from different builds refuse each other at the handshake
/// instead of misreading frames. 2: `WireError::authenticated`.
pub const PROTOCOL_VERSION: u32 = 2;
/// First bytes of [`Hello`], so a stray client (an HTTP probe, say) is recognised at once.
pub const HELLO_MAGIC: [u8; 8] = *b"KEYHOLD\x01";
/// Largest client request body the enclave accepts (the host's HTTP limit matches it).
pub const MAX_BODY_LEN: usize = 1024 * 1024;
/// Largest stamp header value.
pub const MAX_STAMP_LEN: usize = 16 * 1024;
/// Largest sealed organization state.
pub const MAX_SEALED_LEN: usize = 2 * 1024 * 1024;

/// Host → enclave, first frame of every connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub magic: [u8; 8],
    pub version: u32,
}

impl Hello {
    pub fn current() -> Self {
        Hello {
            magic: HELLO_MAGIC,
            version: PROTOCOL_VERSION,
        }
    }
}

/// Enclave → host, answer to [`Hello`]. After `Incompatible` the enclave closes the connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HelloReply {
    Accepted { version: u32, status: EnclaveStatus },
    Incompatible { supported: u32 },
}

/// Host → enclave.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestFrame {
    pub id: RequestId,
    pub request: Request,
}

/// A [`RequestFrame`] that borrows its request: encodes to the same bytes, so the host can send
/// a request (with its sealed state and signed body) without copying it first.
#[derive(Debug, Serialize)]
pub struct RequestFrameRef<'a> {
    pub id: RequestId,
    pub request: &'a Request,
}

/// Enclave → host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseFrame {
    pub id: RequestId,
    pub result: Result<Response, WireError>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Is the enclave provisioned, and with which quorum public key?
    Status,
    /// Create a quorum key, split it and encrypt the shares to the manifest's operators.
    Genesis(GenesisRequest),
    /// The ephemeral key the enclave generated at boot, to which operators encrypt their shares.
    BootKey,
    /// An attestation document over the boot key, the staged manifest and a nonce.
    Attest(AttestRequest),
    /// Operators' shares (re-encrypted to the boot key) and the manifest they belong to.
    Provision(ProvisionRequest),
    /// (To a provisioned enclave) hand the quorum key to the attested enclave.
    Forward(ForwardRequest),
    /// (To a provisioned enclave) replace the manifest — new operators, threshold or PCRs —
    /// approved by `threshold` operators of the current one; the nonce must grow. Answers with a
    /// new genesis output: the same quorum key, re-split for the new operators, re-signed.
    UpdateManifest(GenesisRequest),
    /// (To a fresh enclave) take the quorum key another enclave forwarded.
    AcceptForward(AcceptForwardRequest),
    /// Create an organization, authorized by operator signatures (dev bootstrap).
    BootstrapOrg(BootstrapOrgRequest),
    /// Authenticate a client request (queries): verify the stamp against the sealed org state.
    Authenticate(AuthenticateRequest),
    /// Authenticate, authorize and execute an activity.
    Activity(ActivityRequest),
    /// Authenticate a query and return the organization's public data (users, policies, tags).
    ReadOrg(AuthenticateRequest),
    /// The deployment signing key that signs export and import bundles, endorsed by the quorum
    /// key (see [`SignerKey`]).
    SignerKey,
    /// The receipt key and its certificate by the quorum key.
    AuditKey,
    /// After an enclave restart, continue an organization's receipt chain.
    AuditResume(AuditResumeRequest),
    /// Recently issued receipts of an organization (for a host that lost some).
    AuditReceipts(AuditReceiptsRequest),
    /// The organization's current chain head, signed over a caller nonce.
    AuditHead(AuditHeadRequest),
    /// The newest state-changing answer for an organization that the host has not yet shown
    /// it stored (it crashed between the answer and the commit): see [`RecoveredActivity`].
    Recover(OrgId),
    /// The key that signs session JWTs (`stamp_login`, read-only sessions), endorsed by the
    /// quorum key under [`DOMAIN_SESSION_SIGNER`].
    SessionSigner,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    Status(EnclaveStatus),
    Genesis(GenesisOutput),
    BootKey(BootKey),
    Attest(Attestation),
    Provision(EnclaveStatus),
    Forward(ForwardedKey),
    BootstrapOrg(BootstrapOrgOutput),
    Authenticate(Principal),
    Activity(Box<ActivityOutput>),
    ReadOrg(Box<OrgReadout>),
    SignerKey(SignerKey),
    AuditKey(AuditKeyCertificate),
    AuditResume(AuditPosition),
    AuditReceipts(Vec<Receipt>),
    AuditHead(Box<SignedAuditHead>),
    Recover(Option<Box<RecoveredActivity>>),
    SessionSigner(SignerKey),
}

/// An answer the enclave gave and the host may have lost: the request exactly as stamped and
/// the enclave's output for it (with the new sealed state and the receipt). Storing it is
/// storing the only successor the enclave sealed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveredActivity {
    pub request: SignedRequest,
    pub output: ActivityOutput,
}

/// The P-256 key, derived from the quorum key, that signs export bundles and import bundles
/// (Turnkey's "signer enclave" key): clients pin it as `dangerouslyOverrideSignerPublicKey`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignerKey {
    /// SEC1 uncompressed (65 bytes), the form `@turnkey/crypto` compares.
    pub public_key: Vec<u8>,
    /// The quorum signing key's DER signature over [`domain_digest`]`(`[`DOMAIN_SIGNER_KEY`]`,
    /// public_key)`: whoever knows the quorum public key can check the signer key belongs to
    /// the deployment without trusting the host that served it.
    pub endorsement: Vec<u8>,
}

/// Domain of the quorum key's endorsement of the bundle signing key.
pub const DOMAIN_SIGNER_KEY: &[u8] = b"keyhold/v1/signer-key";
/// Domain of the quorum key's endorsement of the session JWT signing key.
pub const DOMAIN_SESSION_SIGNER: &[u8] = b"keyhold/v1/session-signer-key";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnclaveStatus {
    /// The quorum public key (SEC1 compressed P-256) once provisioned.
    pub quorum_public_key: Option<Vec<u8>>,
    /// Shares received so far towards the threshold (0 once provisioned).
    pub shares_received: u8,
}

// ---- organizations --------------------------------------------------------------------------

/// An organization's state, sealed by the enclave. `org_id` and `version` are in the clear so the
/// host can store and index it; both are bound into the AEAD, so changing either breaks it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedOrgState {
    pub org_id: OrgId,
    pub version: u64,
    pub nonce: [u8; 24],
    #[serde(with = "serde_bytes")]
    pub ciphertext: Vec<u8>,
}

/// A wallet seed sealed by the enclave, bound to (organization, wallet).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedSeed {
    pub nonce: [u8; 24],
    #[serde(with = "serde_bytes")]
    pub ciphertext: Vec<u8>,
}

/// What a dev bootstrap creates: an organization with one root user holding one P-256 API key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgBootstrapSpec {
    pub organization_name: String,
    pub root_user_name: String,
    pub api_key_name: String,
    /// SEC1 compressed P-256 public key (33 bytes).
    pub api_public_key: Vec<u8>,
    /// Makes every approval unique.
    pub nonce: [u8; 16],
}

/// An operator's P-256 signature (DER) over a domain-separated digest of what it approves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorApproval {
    pub operator: u8,
    pub signature: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootstrapOrgRequest {
    pub spec: OrgBootstrapSpec,
    pub approvals: Vec<OperatorApproval>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootstrapOrgOutput {
    pub organization_id: OrgId,
    pub user_id: UserId,
    pub api_key_id: ApiKeyId,
    pub sealed_state: SealedOrgState,
}

// ---- client requests ------------------------------------------------------------------------

/// A client's request exactly as received: the raw body bytes and the stamp header value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedRequest {
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
    pub stamp: Stamp,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stamp {
    /// No stamp header was sent (the enclave answers `SignatureMissing`).
    Missing,
    /// The `X-Stamp` header value (base64url JSON).
    ApiKey(String),
    /// The `X-Stamp-Webauthn` header value (JSON).
    Webauthn(String),
    /// No stamp, but an `X-Session` header: a read-only session token, which authenticates
    /// queries only (the enclave verifies it; activities are refused).
    Session(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthenticateRequest {
    pub request: SignedRequest,
    pub org: SealedOrgState,
    /// The parent organization's state when `org` is a sub-organization and the stamp may be a
    /// parent user's (Turnkey lets a parent's users read their sub-organizations). The enclave
    /// checks it against the parent id sealed inside `org`.
    pub parent: Option<SealedOrgState>,
}

/// Who made an authenticated request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub organization_id: OrgId,
    pub organization_name: String,
    pub user_id: UserId,
    pub user_name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityRequest {
    pub request: SignedRequest,
    pub org: SealedOrgState,
    /// Material the host looked up for this activity; every piece is checked by the enclave.
    pub context: ActivityContext,
    /// As in [`AuthenticateRequest::parent`]: lets the enclave tell a parent user apart (whose
    /// activities on a sub-organization are refused) from an unknown key.
    pub parent: Option<SealedOrgState>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActivityContext {
    None,
    /// The wallet account the host resolved `signWith` to. The enclave derives the key at `path`
    /// on `curve` from the unsealed seed and refuses unless its address in `address_format`
    /// equals the signed `signWith`.
    WalletAccount {
        wallet_id: WalletId,
        path: String,
        curve: Curve,
        address_format: AddressFormat,
        sealed_seed: SealedSeed,
    },
    /// The wallet an activity names by id (`create_wallet_accounts`). The seal binds it to the
    /// organization and wallet id; the enclave also checks the id against the signed intent.
    Wallet {
        wallet_id: WalletId,
        sealed_seed: SealedSeed,
    },
    /// The standalone private key the host resolved `signWith` to: by id (then
    /// `address_format` is `None`) or by one of its addresses.
    PrivateKey {
        private_key_id: PrivateKeyId,
        address_format: Option<AddressFormat>,
        sealed_key: SealedSeed,
    },
    /// For `APPROVE_ACTIVITY` / `REJECT_ACTIVITY`: the activity voted on, exactly as its
    /// submitter stamped it, the earlier approvals (each as its voter stamped it), and what the
    /// target activity itself needs. The enclave verifies every stamp again.
    Approval(Box<ApprovalContext>),
    /// For `IMPORT_WALLET` / `IMPORT_PRIVATE_KEY`: the import key the enclave sealed to
    /// (organization, user, kind) at `INIT_IMPORT_*`, as the host stored it.
    ImportKey {
        sealed_key: SealedSeed,
    },
    /// For `UPDATE_WEBHOOK_ENDPOINT` / `DELETE_WEBHOOK_ENDPOINT`: the endpoint as the host
    /// stored it (Turnkey's `v1WebhookEndpointData`, JSON). Not secret and not sealed — the host
    /// alone delivers webhooks — so the enclave only checks it names the signed endpoint id in
    /// this organization, validates it again and answers from it.
    WebhookEndpoint {
        endpoint_json: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalContext {
    pub target: SignedRequest,
    pub votes: Vec<SignedRequest>,
    pub target_context: ActivityContext,
}

/// Most votes an activity collects.
pub const MAX_VOTES: usize = 100;

/// Turnkey's activity statuses that the enclave decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActivityStatus {
    Completed,
    /// Not enough approvals yet (`ACTIVITY_STATUS_CONSENSUS_NEEDED`, result `{}`).
    ConsensusNeeded,
    /// Rejected by a vote (`ACTIVITY_STATUS_REJECTED`, result `{}`).
    Rejected,
}

/// Turnkey's `v1Curve`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Curve {
    Secp256k1,
    Ed25519,
    P256,
}

impl Curve {
    pub const ALL: [Curve; 3] = [Curve::Secp256k1, Curve::Ed25519, Curve::P256];

    /// Turnkey's enum string, e.g. `CURVE_SECP256K1`.
    pub fn as_turnkey(self) -> &'static str {
        match self {
            Curve::Secp256k1 => "CURVE_SECP256K1",
            Curve::Ed25519 => "CURVE_ED25519",
            Curve::P256 => "CURVE_P256",
        }
    }

    pub fn from_turnkey(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_turnkey() == s)
    }
}

/// Bitcoin networks of Turnkey's `ADDRESS_FORMAT_BITCOIN_<NETWORK>_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BitcoinNetwork {
    Mainnet,
    Testnet,
    Signet,
    Regtest,
}

/// Bitcoin output kinds keyhold derives addresses for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BitcoinKind {
    P2pkh,
    P2wpkh,
    P2tr,
}

/// Turnkey's `v1AddressFormat`, the subset keyhold implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AddressFormat {
    Ethereum,
    Compressed,
    Uncompressed,
    Solana,
    Cosmos,
    Tron,
    Bitcoin(BitcoinNetwork, BitcoinKind),
}

impl AddressFormat {
    pub const ALL: [AddressFormat; 18] = {
        use BitcoinKind::*;
        use BitcoinNetwork::*;
        [
            AddressFormat::Ethereum,
            AddressFormat::Compressed,
            AddressFormat::Uncompressed,
            AddressFormat::Solana,
            AddressFormat::Cosmos,
            AddressFormat::Tron,
            AddressFormat::Bitcoin(Mainnet, P2pkh),
            AddressFormat::Bitcoin(Mainnet, P2wpkh),
            AddressFormat::Bitcoin(Mainnet, P2tr),
            AddressFormat::Bitcoin(Testnet, P2pkh),
            AddressFormat::Bitcoin(Testnet, P2wpkh),
            AddressFormat::Bitcoin(Testnet, P2tr),
            AddressFormat::Bitcoin(Signet, P2pkh),
            AddressFormat::Bitcoin(Signet, P2wpkh),
            AddressFormat::Bitcoin(Signet, P2tr),
            AddressFormat::Bitcoin(Regtest, P2pkh),
            AddressFormat::Bitcoin(Regtest, P2wpkh),
            AddressFormat::Bitcoin(Regtest, P2tr),
        ]
    };

    /// Turnkey's enum string, e.g. `ADDRESS_FORMAT_BITCOIN_MAINNET_P2WPKH`.
    pub fn as_turnkey(self) -> &'static str {
        use BitcoinKind::*;
        use BitcoinNetwork::*;
        match self {
            AddressFormat::Ethereum => "ADDRESS_FORMAT_ETHEREUM",
            AddressFormat::Compressed => "ADDRESS_FORMAT_COMPRESSED",
            AddressFormat::Uncompressed => "ADDRESS_FORMAT_UNCOMPRESSED",
            AddressFormat::Solana => "ADDRESS_FORMAT_SOLANA",
            AddressFormat::Cosmos => "ADDRESS_FORMAT_COSMOS",
            AddressFormat::Tron => "ADDRESS_FORMAT_TRON",
            AddressFormat::Bitcoin(Mainnet, P2pkh) => "ADDRESS_FORMAT_BITCOIN_MAINNET_P2PKH",
            AddressFormat::Bitcoin(Mainnet, P2wpkh) => "ADDRESS_FORMAT_BITCOIN_MAINNET_P2WPKH",
            AddressFormat::Bitcoin(Mainnet, P2tr) => "ADDRESS_FORMAT_BITCOIN_MAINNET_P2TR",
            AddressFormat::Bitcoin(Testnet, P2pkh) => "ADDRESS_FORMAT_BITCOIN_TESTNET_P2PKH",
            AddressFormat::Bitcoin(Testnet, P2wpkh) => "ADDRESS_FORMAT_BITCOIN_TESTNET_P2WPKH",
            AddressFormat::Bitcoin(Testnet, P2tr) => "ADDRESS_FORMAT_BITCOIN_TESTNET_P2TR",
            AddressFormat::Bitcoin(Signet, P2pkh) => "ADDRESS_FORMAT_BITCOIN_SIGNET_P2PKH",
            AddressFormat::Bitcoin(Signet, P2wpkh) => "ADDRESS_FORMAT_BITCOIN_SIGNET_P2WPKH",
            AddressFormat::Bitcoin(Signet, P2tr) => "ADDRESS_FORMAT_BITCOIN_SIGNET_P2TR",
            AddressFormat::Bitcoin(Regtest, P2pkh) => "ADDRESS_FORMAT_BITCOIN_REGTEST_P2PKH",
            AddressFormat::Bitcoin(Regtest, P2wpkh) => "ADDRESS_FORMAT_BITCOIN_REGTEST_P2WPKH",
            AddressFormat::Bitcoin(Regtest, P2tr) => "ADDRESS_FORMAT_BITCOIN_REGTEST_P2TR",
        }
    }

    pub fn from_turnkey(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_turnkey() == s)
    }
}

/// A derived account: public data only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DerivedAccount {
    pub curve: Curve,
    pub path: String,
    pub address_format: AddressFormat,
    pub address: String,
    /// SEC1 compressed public key (secp256k1, P-256) or the 32-byte Ed25519 key.
    pub public_key: Vec<u8>,
}

/// A signature as Turnkey returns it: ECDSA `r`, `s` (low `s`) and recovery id `v` (0 or 1);
/// for Ed25519 and Schnorr `r ‖ s` is the 64-byte signature and `v` is 0.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoverableSignature {
    pub r: [u8; 32],
    pub s: [u8; 32],
    pub v: u8,
}

/// A standalone private key created by the enclave: public data plus the key sealed to
/// (organization, private key id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedPrivateKey {
    pub private_key_id: PrivateKeyId,
    pub name: String,
    pub curve: Curve,
    pub public_key: Vec<u8>,
    pub addresses: Vec<(AddressFormat, String)>,
    pub tags: Vec<String>,
    pub sealed_key: SealedSeed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActivityResult {
    CreateWallet {
        wallet_id: WalletId,
        wallet_name: String,
        accounts: Vec<DerivedAccount>,
        sealed_seed: SealedSeed,
    },
    CreateWalletAccounts {
        wallet_id: WalletId,
        accounts: Vec<DerivedAccount>,
    },
    CreatePrivateKeys(Vec<CreatedPrivateKey>),
    SignRawPayload(RecoverableSignature),
    SignRawPayloads(Vec<RecoverableSignature>),
    /// The signed transaction in the chain's wire form (a PSBT for Bitcoin).
    SignTransaction(Vec<u8>),
    /// No result (consensus needed, rejected).
    Empty,
    /// An organization activity (users, credentials, policies, tags, root quorum): Turnkey's
    /// `result` object, ready to serve (JSON text).
    Organization {
        result_json: String,
        /// A sub-organization created by this activity (`CREATE_SUB_ORGANIZATION`).
        sub_organization: Option<Box<NewSubOrganization>>,
    },
    /// An export bundle (Turnkey's signed envelope around the HPKE ciphertext) and what was
    /// exported, so the host can mark it.
    Exported {
        target: ExportTarget,
        export_bundle: String,
    },
    /// `INIT_IMPORT_*`: the signed import bundle for the client and the import key sealed to
    /// (organization, `user_id`, `kind`), which the host keeps until the import.
    InitImport {
        user_id: UserId,
        kind: ImportKind,
        import_bundle: String,
        sealed_key: SealedSeed,
    },
    ImportWallet(NewWallet),
    ImportPrivateKey(CreatedPrivateKey),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExportTarget {
    Wallet(WalletId),
    WalletAccount {
        wallet_id: WalletId,
        address: String,
    },
    PrivateKey(PrivateKeyId),
}

/// What an import brings in: one pending import key per (organization, user, kind).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ImportKind {
    Wallet,
    PrivateKey,
}

impl ImportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Wallet => "wallet",
            ImportKind::PrivateKey => "private-key",
        }
    }
}

/// A sub-organization the enclave created: its sealed state (version 1) and, optionally, its
/// first wallet with the seed sealed to (sub-organization, wallet).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSubOrganization {
    pub organization_id: OrgId,
    pub parent_organization_id: OrgId,
    pub name: String,
    pub sealed_state: SealedOrgState,
    pub wallet: Option<NewWallet>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewWallet {
    pub wallet_id: WalletId,
    pub wallet_name: String,
    pub accounts: Vec<DerivedAccount>,
    pub sealed_seed: SealedSeed,
}

/// Answer to [`Request::ReadOrg`]: who asked, and the organization's public data as Turnkey's
/// `organizationData` object (JSON text; wallets are added by the host from its own records).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgReadout {
    pub principal: Principal,
    pub organization_json: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityOutput {
    pub activity_id: ActivityId,
    pub status: ActivityStatus,
    /// The activity type the client signed (e.g. `ACTIVITY_TYPE_CREATE_WALLET`).
    pub activity_type: String,
    /// `"sha256:" + hex(sha256(body))`, as Turnkey computes it.
    pub fingerprint: String,
    pub principal: Principal,
    /// Enclave clock when the activity executed, ms since the Unix epoch.
    pub executed_at_ms: u64,
    pub result: ActivityResult,
    /// A new sealed state when the activity changed the organization.
    pub new_org_state: Option<SealedOrgState>,
    /// The enclave's receipt for this step, chained to the organization's previous one.
    pub receipt: Receipt,
    /// Every policy's outcome when this step was decided, in the organization's policy order
    /// (at most [`MAX_POLICY_EVALUATIONS`]; empty when the root quorum decided); `None` when no
    /// policy was evaluated (a rejection). Covered by the receipt: see [`audit_bytes`].
    pub policy_evaluations: Option<Vec<PolicyEvaluation>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    /// The byte strings marked `serde_bytes` encode exactly as the plain `Vec<u8>` sequences
    /// they were before (postcard writes a `u8` as one byte either way): hosts and enclaves of
    /// either build still understand each other, and stored encodings are unchanged.
    #[test]
    fn byte_strings_keep_their_encoding() {
        #[derive(Serialize)]
        struct PlainSealed {
            org_id: OrgId,
            version: u64,
            nonce: [u8; 24],
            ciphertext: Vec<u8>,
        }
        #[derive(Serialize)]
        struct PlainSeed {
            nonce: [u8; 24],
            ciphertext: Vec<u8>,
        }
        #[derive(Serialize)]
        struct PlainRequest {
            body: Vec<u8>,
            stamp: Stamp,
        }
        // Lengths on both sides of postcard's one-byte varint limit.
        for len in [0usize, 1, 127, 128, 1500, 70_000] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let org_id = OrgId(crate::ids::Uuid::new_v4([5; 16]));
            let sealed = SealedOrgState {
                org_id,
                version: 9,
                nonce: [1; 24],
                ciphertext: bytes.clone(),
            };
            let plain = PlainSealed {
                org_id,
                version: 9,
                nonce: [1; 24],
                ciphertext: bytes.clone(),
            };
            let encoded = postcard::to_allocvec(&sealed).unwrap();
            assert_eq!(encoded, postcard::to_allocvec(&plain).unwrap());
            assert_eq!(
                postcard::from_bytes::<SealedOrgState>(&encoded).unwrap(),
                sealed
            );

            let seed = SealedSeed {
                nonce: [2; 24],
                ciphertext: bytes.clone(),
            };
            let plain = PlainSeed {
                nonce: [2; 24],
                ciphertext: bytes.clone(),
            };
            let encoded = postcard::to_allocvec(&seed).unwrap();
            assert_eq!(encoded, postcard::to_allocvec(&plain).unwrap());
            assert_eq!(postcard::from_bytes::<SealedSeed>(&encoded).unwrap(), seed);

            let request = SignedRequest {
                body: bytes.clone(),
                stamp: Stamp::Missing,
            };
            let plain = PlainRequest {
                body: bytes,
                stamp: Stamp::Missing,
            };
            let encoded = postcard::to_allocvec(&request).unwrap();
            assert_eq!(encoded, postcard::to_allocvec(&plain).unwrap());
            assert_eq!(
                postcard::from_bytes::<SignedRequest>(&encoded).unwrap(),
                request
            );
        }
    }

    /// A length beyond the bytes that follow is refused, not allocated.
    #[test]
    fn a_lying_length_is_refused() {
        // Body length 2^31 with four bytes behind it.
        let encoded = [0x80, 0x80, 0x80, 0x80, 0x08, 1, 2, 3, 4];
        assert!(postcard::from_bytes::<SignedRequest>(&encoded).is_err());
    }
}
