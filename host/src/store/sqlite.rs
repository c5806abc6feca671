//! The embedded SQLite store: one file in the data directory, WAL mode, versioned migrations.
//! rusqlite is synchronous, so every call runs on the blocking pool.

use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use keyhold_shared::msg::{SealedOrgState, SealedSeed};
use keyhold_shared::{ActivityId, OrgId, PrivateKeyId, WalletId};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{
    AccountRecord, ActivityCommit, ActivityRecord, ExportMark, OrgRecord, Page,
    PolicyEvaluationRecord, PrivateKeyRecord, ReceiptRecord, RecordEdit, Store, StoreResult,
    WalletRecord, WebhookEndpointRecord, edit_tags, seq_param,
};
use crate::error::HostError;

mod cache;
mod checkpoint;
mod owner;
use cache::RecordCache;
use checkpoint::Checkpointer;

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
pub(super) const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE orgs (
    org_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    created_at_ms INTEGER NOT NULL
);
CREATE TABLE wallets (
    wallet_id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(org_id),
    name TEXT NOT NULL,
    sealed_seed BLOB NOT NULL,
    created_at_ms INTEGER NOT NULL
);
CREATE INDEX wallets_by_org ON wallets(org_id, created_at_ms);
CREATE TABLE wallet_accounts (
    account_id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    wallet_id TEXT NOT NULL REFERENCES wallets(wallet_id),
    curve TEXT NOT NULL,
    path_format TEXT NOT NULL,
    path TEXT NOT NULL,
    address_format TEXT NOT NULL,
    address TEXT NOT NULL,
    address_lower TEXT NOT NULL,
    public_key TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    seq INTEGER NOT NULL
);
CREATE INDEX accounts_by_address ON wallet_accounts(org_id, address_lower);
CREATE INDEX accounts_by_wallet ON wallet_accounts(org_id, wallet_id, seq);
CREATE TABLE activities (
    activity_id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    body TEXT NOT NULL,
    result TEXT NOT NULL,
    votes TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    UNIQUE (org_id, fingerprint)
);
"#,
    r#"
CREATE TABLE private_keys (
    private_key_id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(org_id),
    name TEXT NOT NULL,
    curve TEXT NOT NULL,
    public_key TEXT NOT NULL,
    tags TEXT NOT NULL,
    sealed_key BLOB NOT NULL,
    created_at_ms INTEGER NOT NULL
);
CREATE INDEX private_keys_by_org ON private_keys(org_id, created_at_ms);
CREATE TABLE private_key_addresses (
    org_id TEXT NOT NULL,
    private_key_id TEXT NOT NULL REFERENCES private_keys(private_key_id),
    seq INTEGER NOT NULL,
    format TEXT NOT NULL,
    address TEXT NOT NULL,
    address_lower TEXT NOT NULL,
    PRIMARY KEY (private_key_id, seq)
);
CREATE INDEX private_key_addresses_by_address ON private_key_addresses(org_id, address_lower);
"#,
    r#"
ALTER TABLE orgs ADD COLUMN parent_org_id TEXT;
CREATE INDEX orgs_by_parent ON orgs(parent_org_id, created_at_ms);
CREATE TABLE vote_requests (
    org_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    stamp TEXT NOT NULL,
    PRIMARY KEY (org_id, fingerprint, seq)
);
"#,
    r#"
ALTER TABLE wallets ADD COLUMN imported INTEGER NOT NULL DEFAULT 0;
ALTER TABLE wallets ADD COLUMN exported INTEGER NOT NULL DEFAULT 0;
ALTER TABLE private_keys ADD COLUMN imported INTEGER NOT NULL DEFAULT 0;
ALTER TABLE private_keys ADD COLUMN exported INTEGER NOT NULL DEFAULT 0;
"#,
    // Audit receipts (docs/audit.md): the postcard-encoded receipt and the canonical result
    // bytes it commits to (NULL: recovered from the enclave, no activity record).
    r#"
CREATE TABLE audit_receipts (
    org_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    receipt BLOB NOT NULL,
    result BLOB,
    PRIMARY KEY (org_id, seq)
);
"#,
    // When a wallet was renamed or a private key's tags changed (Turnkey's `updatedAt`).
    r#"
ALTER TABLE wallets ADD COLUMN updated_at_ms INTEGER NOT NULL DEFAULT 0;
UPDATE wallets SET updated_at_ms = created_at_ms;
ALTER TABLE private_keys ADD COLUMN updated_at_ms INTEGER NOT NULL DEFAULT 0;
UPDATE private_keys SET updated_at_ms = created_at_ms;
"#,
    // Policy evaluations (`query/get_policy_evaluations`): one row per step that evaluated the
    // policies, ordered within its activity by the step's receipt seq.
    r#"
CREATE TABLE policy_evaluations (
    evaluation_id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    activity_id TEXT NOT NULL,
    vote_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    policy_evaluations TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
);
CREATE INDEX policy_evaluations_by_activity ON policy_evaluations(org_id, activity_id, seq);
"#,
    // Webhook endpoints (`submit/*_webhook_endpoint`, `query/list_webhook_endpoints`): the
    // enclave's `v1WebhookEndpointData`, kept for listing and delivery.
    r#"
CREATE TABLE webhook_endpoints (
    org_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (org_id, endpoint_id)
);
"#,
    // Receipts and policy evaluations stored in their primary-key B-tree (WITHOUT ROWID)
    // instead of a rowid table plus an index: every group commit rewrites the last page of each
    // B-tree an activity appends to, and these two tables had five of the eight. An evaluation
    // is keyed by its activity and step (the receipt seq); its id stays a column.
    r#"
CREATE TABLE audit_receipts_v9 (
    org_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    receipt BLOB NOT NULL,
    result BLOB,
    PRIMARY KEY (org_id, seq)
) WITHOUT ROWID;
INSERT INTO audit_receipts_v9 (org_id, seq, receipt, result)
    SELECT org_id, seq, receipt, result FROM audit_receipts;
DROP TABLE audit_receipts;
ALTER TABLE audit_receipts_v9 RENAME TO audit_receipts;
CREATE TABLE policy_evaluations_v9 (
    org_id TEXT NOT NULL,
    activity_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    evaluation_id TEXT NOT NULL,
    vote_id TEXT NOT NULL,
    policy_evaluations TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (org_id, activity_id, seq)
) WITHOUT ROWID;
INSERT INTO policy_evaluations_v9
        (org_id, activity_id, seq, evaluation_id, vote_id, policy_evaluations, created_at_ms)
    SELECT org_id, activity_id, seq, evaluation_id, vote_id, policy_evaluations, created_at_ms
    FROM policy_evaluations;
DROP TABLE policy_evaluations;
ALTER TABLE policy_evaluations_v9 RENAME TO policy_evaluations;
"#,
    // Activities listed newest first, a page at a time (`query/get_activities`), as PostgreSQL's
    // `activities_by_time`; the rowid breaks ties of the same millisecond.
    r#"
CREATE INDEX activities_by_time ON activities(org_id, created_at_ms DESC);
"#,
    // The same index ascending. Descending, a new activity (the newest) went to the front of
    // its organization's range: never the index's last page, so SQLite split and rebalanced
    // three pages per group commit there (2-3 of ~30 WAL frames per commit in the signing
    // benchmark). Ascending, the newest goes last: for the organization at the end of the index
    // an append; for the others no worse than before. Newest-first listing scans it backwards.
    r#"
DROP INDEX activities_by_time;
CREATE INDEX activities_by_time ON activities(org_id, created_at_ms);
"#,
    // Activities found by (request time, fingerprint) rather than fingerprint alone, and votes'
    // targets in a partial index (`store/request_key.rs`). The UNIQUE (org_id, fingerprint)
    // constraint can only go with a rebuild of the table; rowids are kept (page cursors hold
    // them). `request_ms` is filled in by `backfill_request_ms` after this, in the same
    // transaction. The copy goes through the WAL first and the old table's pages stay free in
    // the file (no VACUUM): up to about twice the table's size in free disk space is needed,
    // and the file stays larger by the table's size.
    r#"
CREATE TABLE activities_v12 (
    activity_id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    body TEXT NOT NULL,
    result TEXT NOT NULL,
    votes TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    request_ms INTEGER NOT NULL DEFAULT 0,
    consensus INTEGER NOT NULL DEFAULT 0
);
INSERT INTO activities_v12
    (rowid, activity_id, org_id, fingerprint, type, status, body, result, votes,
     created_at_ms, updated_at_ms, request_ms, consensus)
    SELECT rowid, activity_id, org_id, fingerprint, type, status, body, result, votes,
        created_at_ms, updated_at_ms, 0,
        status = 'ACTIVITY_STATUS_CONSENSUS_NEEDED' OR EXISTS (
            SELECT 1 FROM vote_requests v
            WHERE v.org_id = activities.org_id AND v.fingerprint = activities.fingerprint)
    FROM activities ORDER BY rowid;
DROP TABLE activities;
ALTER TABLE activities_v12 RENAME TO activities;
CREATE INDEX activities_by_time ON activities(org_id, created_at_ms);
CREATE INDEX activities_awaiting_consensus ON activities(org_id, fingerprint) WHERE consensus = 1;
"#,
    // After the backfill (built once rather than updated row by row): one activity per request.
    r#"
CREATE UNIQUE INDEX activities_by_request ON activities(org_id, request_ms, fingerprint);
"#,
];

/// The migration (its `user_version`) after which [`backfill_request_ms`] runs.
pub(super) const REQUEST_MS_VERSION: usize = 12;

#[derive(Clone)]
pub struct SqliteStore {
    readers: Arc<Readers>,
    caches: Arc<Caches>,
    /// Activity commits go to one writer thread that groups whatever is queued (and, under
    /// load, what arrives within a few milliseconds: `GroupCommit`) into a single transaction:
    /// one fsync for many acknowledged activities (group commit).
    writer: std::sync::mpsc::Sender<WriteJob>,
    /// WAL checkpoints completed off the commit path (see `checkpoint.rs`).
    checkpoints: Arc<AtomicU64>,
    /// Activities under way (`Store::activity_started`), read by the writer.
    under_way: Arc<AtomicUsize>,
    /// Group transactions committed.
    groups: Arc<AtomicU64>,
}

/// When the writer waits for a larger group (PostgreSQL's `commit_delay`/`commit_siblings`).
///
/// Every group commit costs an fsync and rewrites the right-hand pages of the six B-trees an
/// activity touches: with groups of ~3, those were a fifth of the host's CPU per signing
/// request (fsync alone ~10%). Groups stayed that small even at concurrency 64 because answers
/// leave the enclave one by one. With many activities under way, most of them waiting for the
/// enclave, a commit that waits a few milliseconds for more does not slow anyone down: the
/// enclave stays busy either way (a saturated closed loop, as in the benchmark; with traffic
/// that arrives independently, an activity may wait up to `delay` while that many are in
/// flight). With few under way (concurrency 8) nothing waits. The writer skips the wait after
/// one that gathered nothing: activities that change one organization's state form a chain
/// (each retries on the state the previous one committed), and counted as under way they
/// would otherwise wait the full delay each. (Also ending a wait after a 1 ms gap between
/// jobs lost most of the gain: arrivals are bursty.)
#[derive(Clone, Copy, Debug)]
pub struct GroupCommit {
    /// Wait only with at least this many activities under way.
    pub siblings: usize,
    /// Longest wait for more jobs after the first.
    pub delay: std::time::Duration,
}

impl Default for GroupCommit {
    fn default() -> Self {
        GroupCommit {
            siblings: 24,
            delay: std::time::Duration::from_millis(3),
        }
    }
}

type WriteFn = Box<dyn FnOnce(&Connection) -> StoreResult<()> + Send>;

/// One activity's writes, run inside the group's transaction under its own savepoint, so a
/// failing job (a lost compare-and-swap, say) rolls back alone.
struct WriteJob {
    write: WriteFn,
    /// Rows the job changes: their cached records are forgotten once the group committed,
    /// before anyone is told (and even if the caller stopped waiting).
    changes: Changes,
    done: tokio::sync::oneshot::Sender<StoreResult<()>>,
}

/// Most activities committed in one transaction.
const MAX_GROUP: usize = 128;

/// Most idle read connections kept open. WAL lets each read from its own connection while the
/// writer commits; one shared connection behind a lock made concurrent requests queue (and
/// park blocking-pool threads) for lookups of a few microseconds.
const MAX_IDLE_READERS: usize = 8;

/// The records kept in memory (see `cache.rs`), shared with the writer thread.
struct Caches {
    orgs: RecordCache<OrgId, OrgRecord>,
    /// Accounts found by address, with their wallet.
    accounts: RecordCache<(OrgId, String), (AccountRecord, WalletRecord)>,
}

impl Caches {
    fn new() -> Self {
        Caches {
            // Sealed states up to 64 KiB (larger ones, up to 2 MiB, are read each time), 64 MiB.
            orgs: RecordCache::new(64 << 20, 64 << 10, |org: &OrgRecord| {
                org.sealed.ciphertext.len() + 128
            }),
            // 16 MiB of accounts (about 30 000).
            accounts: RecordCache::new(16 << 20, 64 << 10, |(account, wallet)| {
                account.public_key.len()
                    + account.path.len()
                    + account.address.len()
                    + wallet.name.len()
                    + wallet.sealed_seed.ciphertext.len()
                    + 512
            }),
        }
    }

    /// Called by the writer thread once a job's transaction committed (or failed).
    fn forget(&self, changes: &Changes) {
        if let Some(org) = changes.org {
            self.orgs.forget(&org);
        }
        if changes.accounts {
            self.accounts.forget_all();
        }
    }
}

/// What a write job changes that the caches hold.
#[derive(Clone, Copy, Default)]
struct Changes {
    /// The organization whose row (sealed state) the job replaces.
    org: Option<OrgId>,
    /// Wallet or account rows (new, renamed, deleted, exported).
    accounts: bool,
}

/// Connections for reads (and the few writes outside activities), taken from an idle list and
/// put back after use; another is opened when all are busy.
struct Readers {
    path: std::path::PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// A share of the database's lock (`owner.rs`), dropped after the connections (a reader
    /// still working holds the `Readers`).
    _ownership: Option<owner::Ownership>,
}

impl Readers {
    fn take_idle(&self) -> StoreResult<Option<Connection>> {
        Ok(self
            .idle
            .lock()
            .map_err(|_| HostError::Store("connection pool poisoned".into()))?
            .pop())
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> StoreResult<T>) -> StoreResult<T> {
        let conn = match self.take_idle()? {
            Some(conn) => conn,
            None => open_connection(&self.path)?,
        };
        self.with_conn(conn, f)
    }

    fn with_conn<T>(
        &self,
        mut conn: Connection,
        f: impl FnOnce(&mut Connection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let result = f(&mut conn);
        // A connection left inside a transaction (an error halfway) is not reused.
        if conn.is_autocommit()
            && let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE_READERS
        {
            idle.push(conn);
        }
        result
    }
}

fn open_connection(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: an acknowledged activity survives power loss, not just a process crash.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // A deleted wallet's or key's sealed blob is overwritten in the file, not left in a free page.
    conn.pragma_update(None, "secure_delete", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // Statement journals in memory: every activity in a group commit runs under its own
    // savepoint, and SQLite saved each page it touched first to a temporary file — half the
    // writer's `pwrite`s (7.5 per signing activity), none of them needed for durability (the
    // WAL is the journal).
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Room for every statement the store runs (the default of 16 is fewer).
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// `execute` through the connection's statement cache: the hot statements (one activity's
/// inserts, the organization lookup) are parsed and planned once per connection, not per call.
fn exec(c: &Connection, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
    c.prepare_cached(sql)?.execute(params)
}

/// `query_row` through the statement cache (see `exec`).
fn row<T>(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    c.prepare_cached(sql)?.query_row(params, f)
}

fn write_group(conn: &mut Connection, caches: &Caches, jobs: Vec<WriteJob>) {
    let mut senders = Vec::with_capacity(jobs.len());
    let changed: Vec<Changes> = jobs.iter().map(|job| job.changes).collect();
    // Transaction control through the statement cache (rusqlite's `Transaction`/`Savepoint`
    // prepare their statements anew every time: ~7% of the writer thread).
    let outcome = (|| -> StoreResult<Vec<StoreResult<()>>> {
        if !conn.is_autocommit() {
            // A transaction an earlier group could not close (its ROLLBACK failed too).
            conn.execute_batch("ROLLBACK")?;
        }
        exec(conn, "BEGIN", [])?;
        let mut results = Vec::with_capacity(jobs.len());
        if let [_] = jobs.as_slice() {
            // Alone in its transaction, a job needs no savepoint: a failure rolls back the lot.
            for job in jobs {
                senders.push(job.done);
                results.push((job.write)(conn));
            }
            if results.iter().any(Result::is_err) {
                exec(conn, "ROLLBACK", [])?;
                return Ok(results);
            }
        } else {
            for job in jobs {
                senders.push(job.done);
                exec(conn, "SAVEPOINT job", [])?;
                let result = (job.write)(conn);
                if result.is_err() {
                    // That job's writes only.
                    exec(conn, "ROLLBACK TO job", [])?;
                }
                exec(conn, "RELEASE job", [])?;
                results.push(result);
            }
        }
        exec(conn, "COMMIT", [])?;
        Ok(results)
    })();
    if outcome.is_err() && !conn.is_autocommit() {
        // Whatever failed (the disk, say), nothing of the group stays half-written.
        let _ = conn.execute_batch("ROLLBACK");
    }
    for changes in &changed {
        caches.forget(changes);
    }
    match outcome {
        Ok(results) => {
            for (done, result) in senders.into_iter().zip(results) {
                let _ = done.send(result);
            }
        }
        Err(e) => {
            let message = e.to_string();
            for done in senders {
                let _ = done.send(Err(HostError::Store(message.clone())));
            }
        }
    }
}

/// What the writer thread works with besides its connection.
struct Writer {
    caches: Arc<Caches>,
    checkpointer: Checkpointer,
    under_way: Arc<AtomicUsize>,
    groups: Arc<AtomicU64>,
    policy: GroupCommit,
    /// A share of this host's claim on the database (`owner.rs`), dropped when the writer
    /// thread ends (after its connection).
    _ownership: Option<owner::Ownership>,
}

fn writer_loop(mut conn: Connection, writer: &Writer, jobs: std::sync::mpsc::Receiver<WriteJob>) {
    let mut waiting_paid = true;
    while let Ok(first) = jobs.recv() {
        let (group, gathered) =
            gather(first, &jobs, &writer.under_way, writer.policy, waiting_paid);
        waiting_paid = gathered.is_none_or(|n| n > 0);
        // Counted before the replies go out, so a caller that saw its commit sees the group.
        writer.groups.fetch_add(1, Ordering::Relaxed);
        write_group(&mut conn, &writer.caches, group);
        if writer.checkpointer.take_catch_up() {
            // A few frames since the background checkpoint: copied here, between transactions,
            // so the next write starts the WAL over (see `checkpoint.rs`).
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::warn!(error = %e, "WAL catch-up checkpoint failed");
            }
        }
        writer.checkpointer.committed();
    }
}

/// The next group: `first`, everything queued behind it, and — with at least
/// `policy.siblings` activities under way, and `may_wait` (the last wait gathered something) —
/// what arrives within `policy.delay`, until a quarter of those under way have joined. Also
/// returns how many jobs the wait added (`None`: it did not wait).
fn gather(
    first: WriteJob,
    jobs: &std::sync::mpsc::Receiver<WriteJob>,
    under_way: &AtomicUsize,
    policy: GroupCommit,
    may_wait: bool,
) -> (Vec<WriteJob>, Option<usize>) {
    let mut group = vec![first];
    while group.len() < MAX_GROUP {
        match jobs.try_recv() {
            Ok(job) => group.push(job),
            Err(_) => break,
        }
    }
    let busy = under_way.load(Ordering::Relaxed);
    let wanted = (busy / 4).clamp(1, MAX_GROUP);
    if busy < policy.siblings.max(1) || !may_wait || group.len() >= wanted {
        return (group, None);
    }
    let before = group.len();
    let deadline = std::time::Instant::now() + policy.delay;
    while group.len() < wanted {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match jobs.recv_timeout(left) {
            Ok(job) => group.push(job),
            Err(_) => break,
        }
    }
    let added = group.len().saturating_sub(before);
    (group, Some(added))
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    pub fn open(path: &Path) -> StoreResult<Self> {
        Self::open_with(path, GroupCommit::default())
    }

    /// [`SqliteStore::open`] with its own group commit policy.
    pub fn open_with(path: &Path, policy: GroupCommit) -> StoreResult<Self> {
        // Before migrating: another host may be running on this file.
        let ownership = owner::acquire(path)?;
        Self::open_owned(path, policy, Some(ownership))
    }

    /// A second store on a database another store in this process owns: for tests that play
    /// two host processes on one file (the compare-and-swap on organization versions still
    /// stands behind the ownership lock).
    #[cfg(test)]
    pub(super) fn open_unowned(path: &Path) -> StoreResult<Self> {
        Self::open_owned(path, GroupCommit::default(), None)
    }

    fn open_owned(
        path: &Path,
        policy: GroupCommit,
        ownership: Option<owner::Ownership>,
    ) -> StoreResult<Self> {
        let mut conn = open_connection(path)?;
        migrate(&mut conn)?;
        let readers = Readers {
            path: path.to_owned(),
            idle: Mutex::new(vec![conn]),
            _ownership: ownership.clone(),
        };
        let writer_conn = open_connection(path)?;
        // Checkpoints run on their own thread; the writer's own is only a safety net.
        writer_conn.pragma_update(
            None,
            "wal_autocheckpoint",
            checkpoint::WRITER_AUTOCHECKPOINT,
        )?;
        let checkpoints = Arc::new(AtomicU64::new(0));
        let checkpointer = Checkpointer::spawn(
            open_connection(path)?,
            path,
            checkpoints.clone(),
            ownership.clone(),
        )?;
        let (sender, jobs) = std::sync::mpsc::channel();
        let caches = Arc::new(Caches::new());
        let under_way = Arc::new(AtomicUsize::new(0));
        let groups = Arc::new(AtomicU64::new(0));
        // The checkpointer lives as long as the writer thread: both end when the store is dropped.
        let writer = Writer {
            caches: caches.clone(),
            checkpointer,
            under_way: under_way.clone(),
            groups: groups.clone(),
            policy,
            _ownership: ownership,
        };
        std::thread::Builder::new()
            .name("keyhold-sqlite-writer".into())
            .spawn(move || writer_loop(writer_conn, &writer, jobs))
            .map_err(|e| HostError::Store(e.to_string()))?;
        Ok(SqliteStore {
            readers: Arc::new(readers),
            caches,
            writer: sender,
            checkpoints,
            under_way,
            groups,
        })
    }

    /// WAL checkpoints the background thread has completed.
    pub fn checkpoints(&self) -> u64 {
        self.checkpoints.load(Ordering::Relaxed)
    }

    /// Group transactions the writer has committed.
    pub fn groups(&self) -> u64 {
        self.groups.load(Ordering::Relaxed)
    }

    /// Runs `write` in the writer thread's next group transaction; returns once it is durable.
    async fn write(
        &self,
        write: impl FnOnce(&Connection) -> StoreResult<()> + Send + 'static,
    ) -> StoreResult<()> {
        self.write_forgetting(Changes::default(), write).await
    }

    /// [`SqliteStore::write`] for a job that changes rows the caches hold.
    async fn write_forgetting(
        &self,
        changes: Changes,
        write: impl FnOnce(&Connection) -> StoreResult<()> + Send + 'static,
    ) -> StoreResult<()> {
        let (done, result) = tokio::sync::oneshot::channel();
        self.writer
            .send(WriteJob {
                write: Box::new(write),
                changes,
                done,
            })
            .map_err(|_| HostError::Store("the writer thread stopped".into()))?;
        result
            .await
            .map_err(|_| HostError::Store("the writer thread stopped".into()))?
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || readers.with(f))
            .await
            .map_err(|e| HostError::Store(e.to_string()))?
    }

    /// Runs a point lookup (by key or index, a few pages already cached) on the calling task's
    /// thread when an idle connection is at hand: the hand-off to the blocking pool and back
    /// cost more than the lookup itself, three times per activity. Reads never wait for the
    /// writer in WAL mode. Opening a connection (a burst of readers) goes to the blocking pool.
    async fn run_inline<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        match self.readers.take_idle()? {
            Some(conn) => self.readers.with_conn(conn, f),
            None => self.run(f).await,
        }
    }
}

fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let applied: usize =
        conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))? as usize;
    super::refuse_newer_schema(applied, MIGRATIONS.len())?;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        if index + 1 == REQUEST_MS_VERSION {
            backfill_request_ms(&tx)?;
        }
        tx.pragma_update(None, "user_version", (index + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

/// Sets `request_ms` of the activities stored before it existed, with the same function new
/// ones get it from (SQL's JSON and integer parsing differ from it at the edges).
fn backfill_request_ms(tx: &Connection) -> StoreResult<()> {
    let mut found = Vec::new();
    {
        let mut select = tx.prepare("SELECT rowid, body FROM activities")?;
        let mut rows = select.query([])?;
        while let Some(row) = rows.next()? {
            let body: String = row.get(1)?;
            let ms = super::request_ms(body.as_bytes());
            if ms != 0 {
                found.push((row.get::<_, i64>(0)?, ms));
            }
        }
    }
    let mut update = tx.prepare("UPDATE activities SET request_ms = ?1 WHERE rowid = ?2")?;
    for (rowid, ms) in found {
        update.execute(params![ms, rowid])?;
    }
    Ok(())
}

fn encode<T: serde::Serialize>(value: &T) -> StoreResult<Vec<u8>> {
    postcard::to_allocvec(value).map_err(|e| HostError::Store(e.to_string()))
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> rusqlite::Result<T> {
    postcard::from_bytes(bytes).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Blob, Box::new(e))
    })
}

fn parse_id<T: std::str::FromStr>(text: String) -> rusqlite::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    text.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn org_from_row(row: &Row<'_>) -> rusqlite::Result<OrgRecord> {
    Ok(OrgRecord {
        id: parse_id(row.get(0)?)?,
        name: row.get(1)?,
        sealed: decode::<SealedOrgState>(&row.get::<_, Vec<u8>>(2)?)?,
        created_at_ms: row.get::<_, i64>(3)? as u64,
    })
}

const WALLET_COLUMNS: &str =
    "wallet_id, org_id, name, sealed_seed, created_at_ms, imported, exported, updated_at_ms";

fn wallet_from_row(row: &Row<'_>) -> rusqlite::Result<WalletRecord> {
    Ok(WalletRecord {
        id: parse_id(row.get(0)?)?,
        org: parse_id(row.get(1)?)?,
        name: row.get(2)?,
        sealed_seed: decode::<SealedSeed>(&row.get::<_, Vec<u8>>(3)?)?,
        created_at_ms: row.get::<_, i64>(4)? as u64,
        imported: row.get(5)?,
        exported: row.get(6)?,
        updated_at_ms: row.get::<_, i64>(7)? as u64,
    })
}

const ACCOUNT_COLUMNS: &str = "account_id, org_id, wallet_id, curve, path_format, path, address_format, address, public_key, created_at_ms";

fn account_from_row(row: &Row<'_>) -> rusqlite::Result<AccountRecord> {
    Ok(AccountRecord {
        id: row.get(0)?,
        org: parse_id(row.get(1)?)?,
        wallet: parse_id(row.get(2)?)?,
        curve: row.get(3)?,
        path_format: row.get(4)?,
        path: row.get(5)?,
        address_format: row.get(6)?,
        address: row.get(7)?,
        public_key: row.get(8)?,
        created_at_ms: row.get::<_, i64>(9)? as u64,
    })
}

const PRIVATE_KEY_COLUMNS: &str = "private_key_id, org_id, name, curve, public_key, tags, sealed_key, created_at_ms, imported, exported, updated_at_ms";

fn private_key_from_row(row: &Row<'_>) -> rusqlite::Result<PrivateKeyRecord> {
    let tags: String = row.get(5)?;
    Ok(PrivateKeyRecord {
        id: parse_id(row.get(0)?)?,
        org: parse_id(row.get(1)?)?,
        name: row.get(2)?,
        curve: row.get(3)?,
        public_key: row.get(4)?,
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        sealed_key: decode::<SealedSeed>(&row.get::<_, Vec<u8>>(6)?)?,
        created_at_ms: row.get::<_, i64>(7)? as u64,
        imported: row.get(8)?,
        exported: row.get(9)?,
        updated_at_ms: row.get::<_, i64>(10)? as u64,
        addresses: Vec::new(),
    })
}

fn private_key_addresses(c: &Connection, key: &mut PrivateKeyRecord) -> rusqlite::Result<()> {
    let mut stmt = c.prepare_cached(
        "SELECT format, address FROM private_key_addresses WHERE private_key_id = ?1 ORDER BY seq",
    )?;
    key.addresses = stmt
        .query_map([key.id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(())
}

/// `query/get_activities`' filters on status and type (JSON arrays; empty: any).
const ACTIVITY_FILTERS: &str =
    "(json_array_length(?2) = 0 OR status IN (SELECT value FROM json_each(?2)))
     AND (json_array_length(?3) = 0 OR type IN (SELECT value FROM json_each(?3)))";

/// One page of an organization's activities, newest first, between two (created_at_ms, rowid)
/// cursors: ?1 org, ?2/?3 filters, ?4/?5 after, ?6/?7 before, ?8 limit.
pub(super) fn activity_page_sql() -> String {
    format!(
        "SELECT {ACTIVITY_COLUMNS} FROM activities WHERE org_id = ?1 AND {ACTIVITY_FILTERS}
           AND created_at_ms <= ?4 AND (created_at_ms < ?4 OR rowid < ?5)
           AND created_at_ms >= ?6 AND (created_at_ms > ?6 OR rowid > ?7)
         ORDER BY created_at_ms DESC, rowid DESC LIMIT ?8"
    )
}

/// An activity by its request (`store/request_key.rs`): org, request time, fingerprint.
pub(super) fn find_activity_sql() -> String {
    format!(
        "SELECT {ACTIVITY_COLUMNS} FROM activities WHERE org_id = ?1 AND request_ms = ?2 AND fingerprint = ?3"
    )
}

const PUT_META_SQL: &str =
    "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2";

/// A vote's outcome, over an activity that still waits for votes.
pub(super) const REPLACE_WAITING_SQL: &str = "UPDATE activities SET status = ?1, result = ?2, votes = ?3, updated_at_ms = ?4 WHERE org_id = ?5 AND fingerprint = ?6 AND consensus = 1 AND status = 'ACTIVITY_STATUS_CONSENSUS_NEEDED' AND votes = ?7";

/// A vote's target: org, fingerprint, among the activities created awaiting consensus (the
/// `consensus = 1` term lets SQLite use the partial index).
pub(super) fn find_vote_target_sql() -> String {
    format!(
        "SELECT {ACTIVITY_COLUMNS} FROM activities WHERE org_id = ?1 AND fingerprint = ?2 AND consensus = 1"
    )
}

const ACTIVITY_COLUMNS: &str = "activity_id, org_id, fingerprint, type, status, body, result, votes, created_at_ms, updated_at_ms";

fn activity_from_row(row: &Row<'_>) -> rusqlite::Result<ActivityRecord> {
    Ok(ActivityRecord {
        id: parse_id(row.get(0)?)?,
        org: parse_id(row.get(1)?)?,
        fingerprint: row.get(2)?,
        activity_type: row.get(3)?,
        status: row.get(4)?,
        body: row.get(5)?,
        result: row.get(6)?,
        votes: row.get(7)?,
        created_at_ms: row.get::<_, i64>(8)? as u64,
        updated_at_ms: row.get::<_, i64>(9)? as u64,
    })
}

const EVALUATION_COLUMNS: &str =
    "evaluation_id, org_id, activity_id, vote_id, seq, policy_evaluations, created_at_ms";

fn evaluation_from_row(row: &Row<'_>) -> rusqlite::Result<PolicyEvaluationRecord> {
    Ok(PolicyEvaluationRecord {
        id: row.get(0)?,
        org: parse_id(row.get(1)?)?,
        activity: parse_id(row.get(2)?)?,
        vote_id: row.get(3)?,
        seq: row.get::<_, i64>(4)? as u64,
        policy_evaluations: row.get(5)?,
        created_at_ms: row.get::<_, i64>(6)? as u64,
    })
}

/// Applies an activity's [`RecordEdit`]s inside its transaction; `now_ms` is the activity's time.
fn apply_edits(tx: &Connection, org: &str, edits: &[RecordEdit], now_ms: u64) -> StoreResult<()> {
    let now = now_ms as i64;
    let set_tags = |id: &str, tags: &[String]| -> StoreResult<()> {
        exec(
            tx,
            "UPDATE private_keys SET tags = ?1, updated_at_ms = ?2 WHERE org_id = ?3 AND private_key_id = ?4",
            params![
                serde_json::to_string(tags).unwrap_or_else(|_| "[]".into()),
                now,
                org,
                id
            ],
        )?;
        Ok(())
    };
    for edit in edits {
        match edit {
            RecordEdit::RenameWallet { wallet, name } => {
                exec(
                    tx,
                    "UPDATE wallets SET name = ?1, updated_at_ms = ?2 WHERE org_id = ?3 AND wallet_id = ?4",
                    params![name, now, org, wallet.to_string()],
                )?;
            }
            RecordEdit::DeleteWallet(wallet) => {
                let wallet = wallet.to_string();
                exec(
                    tx,
                    "DELETE FROM wallet_accounts WHERE org_id = ?1 AND wallet_id = ?2",
                    params![org, wallet],
                )?;
                exec(
                    tx,
                    "DELETE FROM wallets WHERE org_id = ?1 AND wallet_id = ?2",
                    params![org, wallet],
                )?;
            }
            RecordEdit::DeleteAccount(account) => {
                exec(
                    tx,
                    "DELETE FROM wallet_accounts WHERE org_id = ?1 AND account_id = ?2",
                    params![org, account],
                )?;
            }
            RecordEdit::DeletePrivateKey(key) => {
                let key = key.to_string();
                exec(
                    tx,
                    "DELETE FROM private_key_addresses WHERE org_id = ?1 AND private_key_id = ?2",
                    params![org, key],
                )?;
                exec(
                    tx,
                    "DELETE FROM private_keys WHERE org_id = ?1 AND private_key_id = ?2",
                    params![org, key],
                )?;
            }
            RecordEdit::TagPrivateKey { key, tag, add } => {
                let key = key.to_string();
                let tags: Option<String> = tx
                    .query_row(
                        "SELECT tags FROM private_keys WHERE org_id = ?1 AND private_key_id = ?2",
                        params![org, key],
                        |r| r.get(0),
                    )
                    .optional()?;
                if let Some(tags) = tags {
                    let mut tags: Vec<String> = serde_json::from_str(&tags).unwrap_or_default();
                    edit_tags(&mut tags, tag, *add);
                    set_tags(&key, &tags)?;
                }
            }
            RecordEdit::DropPrivateKeyTag(tag) => {
                let mut stmt = tx.prepare_cached(
                    "SELECT private_key_id, tags FROM private_keys WHERE org_id = ?1",
                )?;
                let rows = stmt
                    .query_map([org], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                for (id, tags) in rows {
                    let mut tags: Vec<String> = serde_json::from_str(&tags).unwrap_or_default();
                    if tags.contains(tag) {
                        edit_tags(&mut tags, tag, false);
                        set_tags(&id, &tags)?;
                    }
                }
            }
            RecordEdit::PutWebhookEndpoint { id, data } => {
                exec(
                    tx,
                    "INSERT INTO webhook_endpoints (org_id, endpoint_id, data, created_at_ms, updated_at_ms) \
                     VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (org_id, endpoint_id) \
                     DO UPDATE SET data = excluded.data, updated_at_ms = excluded.updated_at_ms",
                    params![org, id, data, now],
                )?;
            }
            RecordEdit::DeleteWebhookEndpoint(id) => {
                exec(
                    tx,
                    "DELETE FROM webhook_endpoints WHERE org_id = ?1 AND endpoint_id = ?2",
                    params![org, id],
                )?;
            }
        }
    }
    Ok(())
}

const WEBHOOK_COLUMNS: &str = "org_id, endpoint_id, data, created_at_ms, updated_at_ms";

fn webhook_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<WebhookEndpointRecord> {
    Ok(WebhookEndpointRecord {
        org: parse_id(row.get(0)?)?,
        id: row.get(1)?,
        data: row.get(2)?,
        created_at_ms: row.get::<_, i64>(3)? as u64,
        updated_at_ms: row.get::<_, i64>(4)? as u64,
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn get_meta(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let key = key.to_owned();
        self.run(move |c| {
            Ok(row(c, "SELECT value FROM meta WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
        })
        .await
    }

    async fn put_meta(&self, key: &str, value: Vec<u8>) -> StoreResult<()> {
        let key = key.to_owned();
        self.run(move |c| {
            exec(c, PUT_META_SQL, params![key, value])?;
            Ok(())
        })
        .await
    }

    async fn insert_org(&self, org: OrgRecord) -> StoreResult<()> {
        let sealed = encode(&org.sealed)?;
        self.run(move |c| {
            exec(c,
                "INSERT INTO orgs (org_id, name, version, sealed, created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![org.id.to_string(), org.name, org.sealed.version as i64, sealed, org.created_at_ms as i64],
            )?;
            Ok(())
        })
        .await
    }

    async fn get_org(&self, id: OrgId) -> StoreResult<Option<OrgRecord>> {
        let generation = match self.caches.orgs.get(&id) {
            Ok(cached) => return Ok(Some(cached)),
            Err(generation) => generation,
        };
        let found = self
            .run_inline(move |c| {
                Ok(row(
                    c,
                    "SELECT org_id, name, sealed, created_at_ms FROM orgs WHERE org_id = ?1",
                    [id.to_string()],
                    org_from_row,
                )
                .optional()?)
            })
            .await?;
        if let Some(record) = &found {
            self.caches.orgs.keep(generation, id, record);
        }
        Ok(found)
    }

    fn activity_started(&self) -> super::ActivityGuard {
        super::ActivityGuard::enter(&self.under_way)
    }

    fn forget_org(&self, id: OrgId) {
        self.caches.orgs.forget(&id);
        // Another process changed the organization: maybe its wallets too.
        self.caches.accounts.forget_all();
    }

    async fn commit_activity(&self, commit: ActivityCommit) -> StoreResult<()> {
        // Here rather than in the writer thread, whose time every commit waits for.
        let request_ms = super::request_ms(commit.activity.body.as_bytes());
        let wallets = commit
            .wallets
            .iter()
            .map(|w| encode(&w.sealed_seed).map(|seed| (w.clone(), seed)))
            .collect::<StoreResult<Vec<_>>>()?;
        let private_keys = commit
            .private_keys
            .iter()
            .map(|k| encode(&k.sealed_key).map(|sealed| (k.clone(), sealed)))
            .collect::<StoreResult<Vec<_>>>()?;
        let org_state = commit
            .org_state
            .as_ref()
            .map(|s| encode(s).map(|b| (s.clone(), b)))
            .transpose()?;
        let sub_orgs = commit
            .sub_orgs
            .iter()
            .map(|(o, parent)| encode(&o.sealed).map(|b| (o.clone(), *parent, b)))
            .collect::<StoreResult<Vec<_>>>()?;
        let receipt = commit
            .receipt
            .as_ref()
            .map(|r| encode(&r.receipt).map(|b| (r.clone(), b)))
            .transpose()?;
        let changes = Changes {
            org: commit.org_state.as_ref().map(|s| s.org_id),
            accounts: !(commit.wallets.is_empty()
                && commit.accounts.is_empty()
                && commit.edits.is_empty()
                && commit.exported.is_empty()),
        };
        self.write_forgetting(changes, move |tx| {
            if let Some((record, bytes)) = &receipt {
                // Replaces a row recovered from the enclave for the same seq: the real one wins.
                exec(tx,
                    "INSERT INTO audit_receipts (org_id, seq, receipt, result) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (org_id, seq) DO UPDATE SET receipt = excluded.receipt, result = excluded.result",
                    params![
                        record.receipt.body.org_id.to_string(),
                        record.receipt.body.seq as i64,
                        bytes,
                        record.result
                    ],
                )?;
            }
            // Sub-organizations first: their wallets reference them.
            for (org, parent, sealed) in &sub_orgs {
                exec(tx,
                    "INSERT INTO orgs (org_id, name, version, sealed, created_at_ms, parent_org_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![org.id.to_string(), org.name, org.sealed.version as i64, sealed, org.created_at_ms as i64, parent.to_string()],
                )?;
            }
            let a = &commit.activity;
            if let Some((body, stamp)) = &commit.vote_request {
                exec(tx,
                    "INSERT INTO vote_requests (org_id, fingerprint, seq, body, stamp) VALUES (?1, ?2, (SELECT COUNT(*) FROM vote_requests WHERE org_id = ?1 AND fingerprint = ?2), ?3, ?4)",
                    params![a.org.to_string(), a.fingerprint, body, stamp],
                )?;
            }
            if let Some(decided_on) = &commit.replace_waiting {
                let changed = exec(tx,
                    REPLACE_WAITING_SQL,
                    params![a.status, a.result, a.votes, a.updated_at_ms as i64, a.org.to_string(), a.fingerprint, decided_on],
                )?;
                if changed != 1 {
                    return Err(HostError::Conflict("activity changed concurrently".into()));
                }
            } else {
            let inserted = exec(tx,
                &format!("INSERT INTO activities ({ACTIVITY_COLUMNS}, request_ms, consensus) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"),
                params![
                    a.id.to_string(),
                    a.org.to_string(),
                    a.fingerprint,
                    a.activity_type,
                    a.status,
                    a.body,
                    a.result,
                    a.votes,
                    a.created_at_ms as i64,
                    a.updated_at_ms as i64,
                    request_ms,
                    a.status == super::CONSENSUS_NEEDED
                ],
            );
            match inserted {
                // The same request stored by a concurrent writer (another host, say).
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    return Err(HostError::Conflict("activity already stored".into()));
                }
                other => {
                    other?;
                }
            }
            }
            if let Some((key, value)) = &commit.meta {
                exec(tx, PUT_META_SQL, params![key, value])?;
            }
            for (w, seed) in &wallets {
                exec(tx,
                    &format!("INSERT INTO wallets ({WALLET_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
                    params![w.id.to_string(), w.org.to_string(), w.name, seed, w.created_at_ms as i64, w.imported, w.exported, w.updated_at_ms as i64],
                )?;
            }
            for (seq, acc) in commit.accounts.iter().enumerate() {
                exec(tx,
                    &format!("INSERT INTO wallet_accounts ({ACCOUNT_COLUMNS}, address_lower, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"),
                    params![
                        acc.id,
                        acc.org.to_string(),
                        acc.wallet.to_string(),
                        acc.curve,
                        acc.path_format,
                        acc.path,
                        acc.address_format,
                        acc.address,
                        acc.public_key,
                        acc.created_at_ms as i64,
                        acc.address.to_lowercase(),
                        seq as i64
                    ],
                )?;
            }
            for (k, sealed) in &private_keys {
                exec(tx,
                    &format!("INSERT INTO private_keys ({PRIVATE_KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"),
                    params![
                        k.id.to_string(),
                        k.org.to_string(),
                        k.name,
                        k.curve,
                        k.public_key,
                        serde_json::to_string(&k.tags).unwrap_or_else(|_| "[]".into()),
                        sealed,
                        k.created_at_ms as i64,
                        k.imported,
                        k.exported,
                        k.updated_at_ms as i64
                    ],
                )?;
                for (seq, (format, address)) in k.addresses.iter().enumerate() {
                    exec(tx,
                        "INSERT INTO private_key_addresses (org_id, private_key_id, seq, format, address, address_lower) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![k.org.to_string(), k.id.to_string(), seq as i64, format, address, address.to_lowercase()],
                    )?;
                }
            }
            for mark in &commit.exported {
                let (sql, id) = match mark {
                    ExportMark::Wallet(id) => ("UPDATE wallets SET exported = 1 WHERE org_id = ?1 AND wallet_id = ?2", id.to_string()),
                    ExportMark::PrivateKey(id) => ("UPDATE private_keys SET exported = 1 WHERE org_id = ?1 AND private_key_id = ?2", id.to_string()),
                };
                exec(tx, sql, params![a.org.to_string(), id])?;
            }
            if let Some(e) = &commit.policy_evaluation {
                exec(tx,
                    &format!("INSERT INTO policy_evaluations ({EVALUATION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
                    params![e.id, e.org.to_string(), e.activity.to_string(), e.vote_id, seq_param(e.seq), e.policy_evaluations, e.created_at_ms as i64],
                )?;
            }
            apply_edits(tx, &a.org.to_string(), &commit.edits, a.updated_at_ms)?;
            if let Some((state, bytes)) = org_state {
                // Compare-and-swap on the version: a concurrent writer's update is never lost.
                let changed = exec(tx,
                    "UPDATE orgs SET version = ?1, sealed = ?2 WHERE org_id = ?3 AND version = ?4",
                    params![state.version as i64, bytes, state.org_id.to_string(), state.version.saturating_sub(1) as i64],
                )?;
                if changed != 1 {
                    return Err(HostError::Conflict("organization state changed concurrently".into()));
                }
            }
            if commit.detach_from_parent {
                exec(tx,
                    "UPDATE orgs SET parent_org_id = NULL WHERE org_id = ?1",
                    params![commit.activity.org.to_string()],
                )?;
            }
            Ok(())
        })
        .await
    }

    async fn policy_evaluations(
        &self,
        org: OrgId,
        activity: ActivityId,
    ) -> StoreResult<Vec<PolicyEvaluationRecord>> {
        self.run(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {EVALUATION_COLUMNS} FROM policy_evaluations WHERE org_id = ?1 AND activity_id = ?2 ORDER BY seq"
            ))?;
            let rows = stmt
                .query_map([org.to_string(), activity.to_string()], evaluation_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await
    }

    async fn get_activity(
        &self,
        org: OrgId,
        id: ActivityId,
    ) -> StoreResult<Option<ActivityRecord>> {
        self.run(move |c| {
            Ok(row(c,
                &format!("SELECT {ACTIVITY_COLUMNS} FROM activities WHERE org_id = ?1 AND activity_id = ?2"),
                [org.to_string(), id.to_string()],
                activity_from_row,
            )
            .optional()?)
        })
        .await
    }

    async fn find_activity(
        &self,
        org: OrgId,
        request_ms: i64,
        fingerprint: &str,
    ) -> StoreResult<Option<ActivityRecord>> {
        let fingerprint = fingerprint.to_owned();
        self.run_inline(move |c| {
            Ok(row(
                c,
                &find_activity_sql(),
                params![org.to_string(), request_ms, fingerprint],
                activity_from_row,
            )
            .optional()?)
        })
        .await
    }

    async fn find_vote_target(
        &self,
        org: OrgId,
        fingerprint: &str,
    ) -> StoreResult<Option<ActivityRecord>> {
        let fingerprint = fingerprint.to_owned();
        self.run_inline(move |c| {
            Ok(row(
                c,
                &find_vote_target_sql(),
                [org.to_string(), fingerprint],
                activity_from_row,
            )
            .optional()?)
        })
        .await
    }

    async fn vote_requests(
        &self,
        org: OrgId,
        fingerprint: &str,
    ) -> StoreResult<Vec<(String, String)>> {
        let fingerprint = fingerprint.to_owned();
        self.run(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT body, stamp FROM vote_requests WHERE org_id = ?1 AND fingerprint = ?2 ORDER BY seq",
            )?;
            let rows = stmt.query_map([org.to_string(), fingerprint], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn parent_of(&self, org: OrgId) -> StoreResult<Option<OrgId>> {
        self.run(move |c| {
            let parent: Option<Option<String>> = row(
                c,
                "SELECT parent_org_id FROM orgs WHERE org_id = ?1",
                [org.to_string()],
                |r| r.get(0),
            )
            .optional()?;
            parent
                .flatten()
                .map(parse_id::<OrgId>)
                .transpose()
                .map_err(Into::into)
        })
        .await
    }

    async fn list_sub_orgs(&self, parent: OrgId, page: Page) -> StoreResult<Vec<OrgId>> {
        self.run(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT org_id FROM orgs WHERE parent_org_id = ?1 ORDER BY created_at_ms, rowid",
            )?;
            let rows = stmt.query_map([parent.to_string()], |r| parse_id::<OrgId>(r.get(0)?))?;
            let all = rows.collect::<rusqlite::Result<Vec<_>>>()?;
            let position = |id: &Option<String>| {
                id.as_ref()
                    .and_then(|id| all.iter().position(|o| &o.to_string() == id))
            };
            let start = position(&page.after).map_or(0, |i| i.saturating_add(1));
            let end = position(&page.before).unwrap_or(all.len());
            let limit = page.limit.unwrap_or(10).clamp(1, 100) as usize;
            Ok(all.into_iter().take(end).skip(start).take(limit).collect())
        })
        .await
    }

    async fn list_activities(
        &self,
        org: OrgId,
        statuses: Vec<String>,
        types: Vec<String>,
        page: Page,
    ) -> StoreResult<Vec<ActivityRecord>> {
        // Newest first, one page read through the `activities_by_time` index (the whole
        // organization's activities used to be read and sorted for every page). A cursor is an
        // activity id, resolved among the activities that pass the filters (an id that does not
        // is ignored), as in the PostgreSQL store.
        let org = org.to_string();
        let statuses =
            serde_json::to_string(&statuses).map_err(|e| HostError::Store(e.to_string()))?;
        let types = serde_json::to_string(&types).map_err(|e| HostError::Store(e.to_string()))?;
        self.run(move |c| {
            let cursor = |id: &Option<String>| -> rusqlite::Result<Option<(i64, i64)>> {
                let Some(id) = id else { return Ok(None) };
                row(
                    c,
                    &format!("SELECT created_at_ms, rowid FROM activities WHERE org_id = ?1 AND activity_id = ?4 AND {ACTIVITY_FILTERS}"),
                    params![org, statuses, types, id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
            };
            let (after_at, after_row) = cursor(&page.after)?.unwrap_or((i64::MAX, i64::MAX));
            let (before_at, before_row) = cursor(&page.before)?.unwrap_or((i64::MIN, i64::MIN));
            let limit = i64::from(page.limit.unwrap_or(10).clamp(1, 100));
            let mut stmt = c.prepare_cached(&activity_page_sql())?;
            let rows = stmt.query_map(
                params![org, statuses, types, after_at, after_row, before_at, before_row, limit],
                activity_from_row,
            )?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn list_wallets(&self, org: OrgId) -> StoreResult<Vec<WalletRecord>> {
        self.run(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {WALLET_COLUMNS} FROM wallets WHERE org_id = ?1 ORDER BY created_at_ms, wallet_id"
            ))?;
            let rows = stmt.query_map([org.to_string()], wallet_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn get_wallet(&self, org: OrgId, id: WalletId) -> StoreResult<Option<WalletRecord>> {
        self.run(move |c| {
            Ok(row(
                c,
                &format!(
                    "SELECT {WALLET_COLUMNS} FROM wallets WHERE org_id = ?1 AND wallet_id = ?2"
                ),
                [org.to_string(), id.to_string()],
                wallet_from_row,
            )
            .optional()?)
        })
        .await
    }

    async fn list_accounts(
        &self,
        org: OrgId,
        wallet: Option<WalletId>,
        page: Page,
    ) -> StoreResult<Vec<AccountRecord>> {
        self.run(move |c| {
            // Accounts are ordered by (creation time, position in their wallet); a cursor is an
            // account id, resolved to its position.
            let limit = i64::from(page.limit.unwrap_or(100).clamp(1, 100));
            let wallet = wallet.map(|w| w.to_string());
            let cursor = |id: &Option<String>| -> rusqlite::Result<Option<(i64, i64)>> {
                match id {
                    None => Ok(None),
                    Some(id) => row(c,
                            "SELECT created_at_ms, seq FROM wallet_accounts WHERE org_id = ?1 AND account_id = ?2",
                            [org.to_string(), id.clone()],
                            |r| Ok((r.get(0)?, r.get(1)?)),
                        )
                        .optional(),
                }
            };
            let after = cursor(&page.after)?.unwrap_or((-1, -1));
            let before = cursor(&page.before)?.unwrap_or((i64::MAX, i64::MAX));
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM wallet_accounts
                 WHERE org_id = ?1 AND (?2 IS NULL OR wallet_id = ?2)
                   AND (created_at_ms, seq) > (?3, ?4) AND (created_at_ms, seq) < (?5, ?6)
                 ORDER BY created_at_ms, seq LIMIT ?7"
            ))?;
            let rows = stmt.query_map(
                params![org.to_string(), wallet, after.0, after.1, before.0, before.1, limit],
                account_from_row,
            )?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn find_account(
        &self,
        org: OrgId,
        address: &str,
    ) -> StoreResult<Option<(AccountRecord, WalletRecord)>> {
        let address = address.trim().to_lowercase();
        let key = (org, address);
        let generation = match self.caches.accounts.get(&key) {
            Ok(cached) => return Ok(Some(cached)),
            Err(generation) => generation,
        };
        let address = key.1.clone();
        let found = self.run_inline(move |c| {
            let account = row(c,
                    &format!("SELECT {ACCOUNT_COLUMNS} FROM wallet_accounts WHERE org_id = ?1 AND address_lower = ?2"),
                    [org.to_string(), address],
                    account_from_row,
                )
                .optional()?;
            let Some(account) = account else { return Ok(None) };
            let wallet = row(c,
                    &format!("SELECT {WALLET_COLUMNS} FROM wallets WHERE org_id = ?1 AND wallet_id = ?2"),
                    [org.to_string(), account.wallet.to_string()],
                    wallet_from_row,
                )
                .optional()?;
            Ok(wallet.map(|w| (account, w)))
        })
        .await?;
        if let Some(found) = &found {
            self.caches.accounts.keep(generation, key, found);
        }
        Ok(found)
    }

    async fn find_private_key(
        &self,
        org: OrgId,
        id_or_address: &str,
    ) -> StoreResult<Option<(PrivateKeyRecord, Option<String>)>> {
        let needle = id_or_address.trim().to_lowercase();
        let by_id: Option<PrivateKeyId> = needle.parse().ok();
        self.run(move |c| {
            let (id, format): (String, Option<String>) = match by_id {
                Some(id) => (id.to_string(), None),
                None => {
                    let hit: Option<(String, String)> = row(c,
                            "SELECT private_key_id, format FROM private_key_addresses WHERE org_id = ?1 AND address_lower = ?2",
                            [org.to_string(), needle],
                            |r| Ok((r.get(0)?, r.get(1)?)),
                        )
                        .optional()?;
                    match hit {
                        Some((id, format)) => (id, Some(format)),
                        None => return Ok(None),
                    }
                }
            };
            let key = row(c,
                    &format!("SELECT {PRIVATE_KEY_COLUMNS} FROM private_keys WHERE org_id = ?1 AND private_key_id = ?2"),
                    [org.to_string(), id],
                    private_key_from_row,
                )
                .optional()?;
            let Some(mut key) = key else { return Ok(None) };
            private_key_addresses(c, &mut key)?;
            Ok(Some((key, format)))
        })
        .await
    }

    async fn list_webhook_endpoints(&self, org: OrgId) -> StoreResult<Vec<WebhookEndpointRecord>> {
        self.run(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {WEBHOOK_COLUMNS} FROM webhook_endpoints WHERE org_id = ?1 ORDER BY created_at_ms, endpoint_id"
            ))?;
            let rows = stmt
                .query_map([org.to_string()], webhook_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await
    }

    async fn get_webhook_endpoint(
        &self,
        org: OrgId,
        id: &str,
    ) -> StoreResult<Option<WebhookEndpointRecord>> {
        let id = id.to_owned();
        self.run(move |c| {
            Ok(row(
                c,
                &format!("SELECT {WEBHOOK_COLUMNS} FROM webhook_endpoints WHERE org_id = ?1 AND endpoint_id = ?2"),
                [org.to_string(), id],
                webhook_from_row,
            )
            .optional()?)
        })
        .await
    }

    async fn list_private_keys(&self, org: OrgId) -> StoreResult<Vec<PrivateKeyRecord>> {
        self.run(move |c| {
            let mut keys = {
                let mut stmt = c.prepare_cached(&format!(
                    "SELECT {PRIVATE_KEY_COLUMNS} FROM private_keys WHERE org_id = ?1 ORDER BY created_at_ms, private_key_id"
                ))?;
                let rows = stmt.query_map([org.to_string()], private_key_from_row)?;
                rows.collect::<rusqlite::Result<Vec<_>>>()?
            };
            for key in &mut keys {
                private_key_addresses(c, key)?;
            }
            Ok(keys)
        })
        .await
    }

    async fn get_accounts(&self, org: OrgId, ids: Vec<String>) -> StoreResult<Vec<AccountRecord>> {
        self.run(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM wallet_accounts WHERE org_id = ?1 AND account_id = ?2"
            ))?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(account) = stmt
                    .query_row(params![org.to_string(), id], account_from_row)
                    .optional()?
                {
                    out.push(account);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn latest_receipt(
        &self,
        org: OrgId,
        before: Option<u64>,
    ) -> StoreResult<Option<ReceiptRecord>> {
        let before = before.map_or(i64::MAX, |b| b as i64);
        self.run(move |c| {
            Ok(row(c,
                "SELECT receipt, result FROM audit_receipts WHERE org_id = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT 1",
                params![org.to_string(), before],
                |r| {
                    Ok(ReceiptRecord {
                        receipt: decode(&r.get::<_, Vec<u8>>(0)?)?,
                        result: r.get(1)?,
                    })
                },
            )
            .optional()?)
        })
        .await
    }

    async fn receipt_seqs(&self, org: OrgId, from: u64, before: u64) -> StoreResult<Vec<u64>> {
        let (from, before) = (seq_param(from), seq_param(before));
        self.run(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq FROM audit_receipts WHERE org_id = ?1 AND seq >= ?2 AND seq < ?3 ORDER BY seq",
            )?;
            let rows = stmt.query_map(params![org.to_string(), from, before], |r| {
                r.get::<_, i64>(0)
            })?;
            rows.map(|seq| Ok(u64::try_from(seq?).unwrap_or(0)))
                .collect()
        })
        .await
    }

    async fn insert_recovered_receipts(&self, receipts: Vec<ReceiptRecord>) -> StoreResult<()> {
        let rows = receipts
            .iter()
            .map(|r| encode(&r.receipt).map(|b| (r.receipt.body.org_id, r.receipt.body.seq, b)))
            .collect::<StoreResult<Vec<_>>>()?;
        self.write(move |tx| {
            for (org, seq, bytes) in &rows {
                exec(tx,
                    "INSERT INTO audit_receipts (org_id, seq, receipt, result) VALUES (?1, ?2, ?3, NULL)
                     ON CONFLICT (org_id, seq) DO NOTHING",
                    params![org.to_string(), *seq as i64, bytes],
                )?;
            }
            Ok(())
        })
        .await
    }
}
