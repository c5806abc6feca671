//! What the host keeps: sealed blobs it cannot open and public metadata for listing. The
//! `Store` trait is what the HTTP layer needs; SQLite is the embedded default and PostgreSQL
//! (for several hosts sharing one database) implements the same trait.

pub mod postgres;
mod request_key;
pub mod sqlite;
#[cfg(test)]
mod tests;

use request_key::CONSENSUS_NEEDED;
pub use request_key::{request_ms, request_ms_of};

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use keyhold_shared::msg::{Receipt, SealedOrgState, SealedSeed};
use keyhold_shared::{ActivityId, OrgId, PrivateKeyId, WalletId};

use crate::error::HostError;

pub type StoreResult<T> = Result<T, HostError>;

/// Refuses a database a newer keyhold migrated (`applied` of this build's `known` migrations):
/// this build would write rows without the columns those migrations added (since SQLite 12 and
/// PostgreSQL 7 an activity stored without its request time is never found again by a
/// resubmission, nor by a vote).
fn refuse_newer_schema(applied: usize, known: usize) -> StoreResult<()> {
    if applied > known {
        return Err(HostError::Store(format!(
            "the database was migrated by a newer keyhold (schema version {applied}; this one knows {known}): run that version, or restore a backup"
        )));
    }
    Ok(())
}

/// A receipt seq as the databases' signed 64-bit integer (seqs never get near the top).
fn seq_param(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// A private key's tag list after adding or removing `tag`, as the enclave edits it: no
/// duplicates, a new tag last.
fn edit_tags(tags: &mut Vec<String>, tag: &str, add: bool) {
    tags.retain(|t| t != tag);
    if add {
        tags.push(tag.to_owned());
    }
}

/// Where the host keeps its records (`keyhold serve --database`): a SQLite file (the default,
/// `keyhold.db` in the data directory) or a PostgreSQL database several hosts can share.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    /// A `postgres://` or `postgresql://` URL (it may hold a password: never logged).
    Postgres(String),
}

impl std::str::FromStr for Database {
    type Err = String;

    /// `postgres://...` / `postgresql://...`, `sqlite:PATH`, or a plain path (SQLite).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Ok(Database::Postgres(s.to_owned()))
        } else if let Some(path) = s.strip_prefix("sqlite:") {
            match path.strip_prefix("//").unwrap_or(path) {
                "" => Err("`sqlite:` needs a path".into()),
                path => Ok(Database::Sqlite(path.into())),
            }
        } else if s.is_empty() {
            Err("empty database".into())
        } else {
            Ok(Database::Sqlite(s.into()))
        }
    }
}

/// Shows the kind and location, never a PostgreSQL password.
impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            Database::Postgres(url) => match url.parse::<tokio_postgres::Config>() {
                Ok(config) => write!(
                    f,
                    "postgres (hosts {:?}, ports {:?}, database {:?}, user {:?})",
                    config.get_hosts(),
                    config.get_ports(),
                    config.get_dbname().unwrap_or_default(),
                    config.get_user().unwrap_or_default(),
                ),
                Err(_) => f.write_str("postgres (unparsable URL)"),
            },
        }
    }
}

impl Database {
    /// Opens the store (creating or migrating its schema).
    pub async fn open(&self) -> StoreResult<Arc<dyn Store>> {
        Ok(match self {
            Database::Sqlite(path) => Arc::new(sqlite::SqliteStore::open(path)?),
            Database::Postgres(url) => Arc::new(postgres::PgStore::connect(url).await?),
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgRecord {
    pub id: OrgId,
    pub name: String,
    pub sealed: SealedOrgState,
    pub created_at_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalletRecord {
    pub id: WalletId,
    pub org: OrgId,
    pub name: String,
    pub sealed_seed: SealedSeed,
    pub created_at_ms: u64,
    /// Created by `import_wallet`.
    pub imported: bool,
    /// Exported at least once (`export_wallet`, `export_wallet_account`).
    pub exported: bool,
    /// Last renamed (`update_wallet`); the creation time until then.
    pub updated_at_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRecord {
    pub id: String,
    pub org: OrgId,
    pub wallet: WalletId,
    pub curve: String,
    pub path_format: String,
    pub path: String,
    pub address_format: String,
    pub address: String,
    pub public_key: String,
    pub created_at_ms: u64,
}

/// A standalone private key: public data plus the key sealed to (organization, key id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrivateKeyRecord {
    pub id: PrivateKeyId,
    pub org: OrgId,
    pub name: String,
    /// Turnkey curve string, e.g. `CURVE_SECP256K1`.
    pub curve: String,
    /// Hex public key.
    pub public_key: String,
    /// (Turnkey address format string, address).
    pub addresses: Vec<(String, String)>,
    pub tags: Vec<String>,
    pub sealed_key: SealedSeed,
    pub created_at_ms: u64,
    /// Created by `import_private_key`.
    pub imported: bool,
    /// Exported at least once (`export_private_key`).
    pub exported: bool,
    /// Last tagged or untagged; the creation time until then.
    pub updated_at_ms: u64,
}

/// A wallet or private key an activity exported (its `exported` flag is set in the commit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExportMark {
    Wallet(WalletId),
    PrivateKey(PrivateKeyId),
}

/// A change an activity makes to records that already exist (the enclave made the same change
/// to the sealed state; these copies only serve listings).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordEdit {
    /// `update_wallet`.
    RenameWallet { wallet: WalletId, name: String },
    /// `delete_wallets`: the wallet, its accounts and its sealed seed.
    DeleteWallet(WalletId),
    /// `delete_wallet_accounts` (by account id).
    DeleteAccount(String),
    /// `delete_private_keys`: the key, its addresses and its sealed key.
    DeletePrivateKey(PrivateKeyId),
    /// Private key tag `tag` added to (or removed from) `key`; a key already deleted is skipped.
    TagPrivateKey {
        key: PrivateKeyId,
        tag: String,
        add: bool,
    },
    /// `delete_private_key_tags`: `tag` removed from every key of the organization.
    DropPrivateKeyTag(String),
    /// `create_webhook_endpoint` / `update_webhook_endpoint`: the endpoint `id` as the
    /// enclave answered it (`v1WebhookEndpointData` JSON), inserted or replaced.
    PutWebhookEndpoint { id: String, data: String },
    /// `delete_webhook_endpoint`.
    DeleteWebhookEndpoint(String),
}

/// A webhook endpoint (not sealed: its configuration is not secret and only the host delivers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookEndpointRecord {
    pub org: OrgId,
    pub id: String,
    /// Turnkey's `v1WebhookEndpointData`, JSON, as the enclave's result gave it.
    pub data: String,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivityRecord {
    pub id: ActivityId,
    pub org: OrgId,
    pub fingerprint: String,
    pub activity_type: String,
    pub status: String,
    /// The raw request body, exactly as stamped.
    pub body: String,
    /// The activity's `result` object (JSON).
    pub result: String,
    /// The activity's `votes` array (JSON).
    pub votes: String,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
}

/// Everything one activity writes, committed atomically: a crash leaves all of it or none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivityCommit {
    pub activity: ActivityRecord,
    pub wallets: Vec<WalletRecord>,
    pub accounts: Vec<AccountRecord>,
    pub private_keys: Vec<PrivateKeyRecord>,
    pub org_state: Option<SealedOrgState>,
    /// Organizations this activity created (sub-organizations), with their parent.
    pub sub_orgs: Vec<(OrgRecord, OrgId)>,
    /// A stamped request (body, `X-Stamp` value) to keep as a vote on this activity: the
    /// submitter's when it waits for consensus, then each approval's.
    pub vote_request: Option<(String, String)>,
    /// Update the waiting activity with this fingerprint (a vote changed it) instead of
    /// inserting it — only while its `votes` are still these, the ones the vote was decided on.
    /// Two votes decided on the same votes would otherwise each write its own list of votes
    /// over the other's: the loser is a conflict and is decided again.
    pub replace_waiting: Option<String>,
    /// A value this activity keeps under a `meta` key (the sealed import key an `INIT_IMPORT_*`
    /// made), written in the same transaction: a run that loses its race to be stored (another
    /// host's enclave ran the same request) must not leave its key over the stored run's.
    pub meta: Option<(String, Vec<u8>)>,
    /// Wallets and private keys this activity exported.
    pub exported: Vec<ExportMark>,
    /// The activity deleted its own organization (`DELETE_SUB_ORGANIZATION`): unlink it from
    /// its parent, so the parent no longer lists it. The enclave refuses it from its sealed
    /// tombstone (`org_state`) whatever the records say.
    pub detach_from_parent: bool,
    /// Changes to existing wallets, accounts and private keys, applied after the inserts.
    pub edits: Vec<RecordEdit>,
    /// The enclave's receipt for this step. Stored under (organization, seq); replaces a row
    /// recovered earlier for the same seq (see [`Store::insert_recovered_receipts`]).
    pub receipt: Option<ReceiptRecord>,
    /// What the policies gave for this step (its submission, or a vote on it), when the enclave
    /// evaluated them.
    pub policy_evaluation: Option<PolicyEvaluationRecord>,
}

/// One evaluation of an activity's policies (Turnkey's `externalactivityv1PolicyEvaluation`):
/// made at its submission and again at every approval. A copy of what the step's receipt
/// covers (its result bytes end with the same evaluations).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyEvaluationRecord {
    pub id: String,
    pub org: OrgId,
    pub activity: ActivityId,
    /// The vote this evaluation was made for (the submitter's stamp is the first vote).
    pub vote_id: String,
    /// The step's receipt seq: orders an activity's evaluations.
    pub seq: u64,
    /// Turnkey's `policyEvaluations` array (JSON): `[{policyId, outcome}]`.
    pub policy_evaluations: String,
    pub created_at_ms: u64,
}
/// An audit receipt as the host keeps it (docs/audit.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptRecord {
    pub receipt: Receipt,
    /// The canonical `AuditResult` bytes the receipt's result digest covers; `None` for a
    /// receipt recovered from the enclave after the host lost it: issued, no activity record.
    pub result: Option<Vec<u8>>,
}

/// Cursor pagination as in Turnkey's `paginationOptions`.
#[derive(Clone, Debug, Default)]
pub struct Page {
    pub limit: Option<u32>,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// One activity under way (see [`Store::activity_started`]); counts down when dropped.
#[derive(Debug)]
pub struct ActivityGuard(Option<Arc<std::sync::atomic::AtomicUsize>>);

impl ActivityGuard {
    /// Counts one more activity under way in `count`.
    pub fn enter(count: &Arc<std::sync::atomic::AtomicUsize>) -> Self {
        count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ActivityGuard(Some(count.clone()))
    }
}

impl Drop for ActivityGuard {
    fn drop(&mut self) {
        if let Some(count) = &self.0 {
            count.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn get_meta(&self, key: &str) -> StoreResult<Option<Vec<u8>>>;
    async fn put_meta(&self, key: &str, value: Vec<u8>) -> StoreResult<()>;
    async fn insert_org(&self, org: OrgRecord) -> StoreResult<()>;
    async fn get_org(&self, id: OrgId) -> StoreResult<Option<OrgRecord>>;
    /// Drops any cached copy of `id`'s record, so the next [`Store::get_org`] reads the store:
    /// called when the enclave refused the record as stale (another process may have changed
    /// the row). Stores without a cache do nothing.
    fn forget_org(&self, _id: OrgId) {}
    /// Marks an activity as under way until the guard is dropped. The SQLite writer waits a
    /// moment for a larger group commit when many are (`sqlite.rs`); other stores ignore it.
    fn activity_started(&self) -> ActivityGuard {
        ActivityGuard(None)
    }
    async fn commit_activity(&self, commit: ActivityCommit) -> StoreResult<()>;
    async fn get_activity(&self, org: OrgId, id: ActivityId)
    -> StoreResult<Option<ActivityRecord>>;
    /// The policy evaluations of an activity, oldest first.
    async fn policy_evaluations(
        &self,
        org: OrgId,
        activity: ActivityId,
    ) -> StoreResult<Vec<PolicyEvaluationRecord>>;
    /// The activity of the request with this body timestamp ([`request_ms`]) and fingerprint
    /// (`request_key.rs`).
    async fn find_activity(
        &self,
        org: OrgId,
        request_ms: i64,
        fingerprint: &str,
    ) -> StoreResult<Option<ActivityRecord>>;
    /// The activity a vote names by `fingerprint`: one created awaiting consensus (decided or
    /// not since); other activities are not found.
    async fn find_vote_target(
        &self,
        org: OrgId,
        fingerprint: &str,
    ) -> StoreResult<Option<ActivityRecord>>;
    async fn list_wallets(&self, org: OrgId) -> StoreResult<Vec<WalletRecord>>;
    /// The organization's webhook endpoints, oldest first.
    async fn list_webhook_endpoints(&self, org: OrgId) -> StoreResult<Vec<WebhookEndpointRecord>>;
    async fn get_webhook_endpoint(
        &self,
        org: OrgId,
        id: &str,
    ) -> StoreResult<Option<WebhookEndpointRecord>>;
    async fn get_wallet(&self, org: OrgId, id: WalletId) -> StoreResult<Option<WalletRecord>>;
    async fn list_accounts(
        &self,
        org: OrgId,
        wallet: Option<WalletId>,
        page: Page,
    ) -> StoreResult<Vec<AccountRecord>>;
    /// The stamped requests kept as votes on an activity, in order (the submitter's first).
    async fn vote_requests(
        &self,
        org: OrgId,
        fingerprint: &str,
    ) -> StoreResult<Vec<(String, String)>>;
    /// The parent of a sub-organization (`None` for a top-level organization or an unknown id).
    /// Only a hint for the enclave, which checks it against the parent id sealed in the
    /// sub-organization's state.
    async fn parent_of(&self, org: OrgId) -> StoreResult<Option<OrgId>>;
    /// Ids of the sub-organizations of `parent`, oldest first, paginated by id cursors.
    async fn list_sub_orgs(&self, parent: OrgId, page: Page) -> StoreResult<Vec<OrgId>>;
    /// Activities newest first, filtered by status and type (empty = all), paginated by
    /// activity id cursors.
    async fn list_activities(
        &self,
        org: OrgId,
        statuses: Vec<String>,
        types: Vec<String>,
        page: Page,
    ) -> StoreResult<Vec<ActivityRecord>>;
    /// The account with `address` (case-insensitive) and its wallet.
    async fn find_account(
        &self,
        org: OrgId,
        address: &str,
    ) -> StoreResult<Option<(AccountRecord, WalletRecord)>>;
    /// The private key whose id or one of whose addresses (case-insensitive) is `id_or_address`,
    /// with the address format matched (`None` when matched by id).
    async fn find_private_key(
        &self,
        org: OrgId,
        id_or_address: &str,
    ) -> StoreResult<Option<(PrivateKeyRecord, Option<String>)>>;
    async fn list_private_keys(&self, org: OrgId) -> StoreResult<Vec<PrivateKeyRecord>>;
    /// The accounts of `org` with these ids, in no particular order (unknown ids are left out).
    async fn get_accounts(&self, org: OrgId, ids: Vec<String>) -> StoreResult<Vec<AccountRecord>>;
    /// The stored receipt of `org` with the highest seq (below `before`, when given).
    async fn latest_receipt(
        &self,
        org: OrgId,
        before: Option<u64>,
    ) -> StoreResult<Option<ReceiptRecord>>;
    /// The seqs of `org`'s stored receipts from `from` up to (not including) `before`, ascending.
    async fn receipt_seqs(&self, org: OrgId, from: u64, before: u64) -> StoreResult<Vec<u64>>;
    /// Stores receipts the enclave issued but the host never committed (`result` is `None`);
    /// a seq already stored is left alone.
    async fn insert_recovered_receipts(&self, receipts: Vec<ReceiptRecord>) -> StoreResult<()>;
}
