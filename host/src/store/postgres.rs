//! The PostgreSQL store, for several hosts sharing one database (scale-out). Same records and
//! the same semantics as the SQLite store; each activity commits in one transaction, and the
//! organization's sealed state moves only by compare-and-swap on its version, so two hosts (with
//! two enclaves) racing on one organization can never both succeed.

use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Timeouts};
use keyhold_shared::msg::{SealedOrgState, SealedSeed};
use keyhold_shared::{ActivityId, OrgId, PrivateKeyId, WalletId};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use super::{
    AccountRecord, ActivityCommit, ActivityRecord, ExportMark, OrgRecord, Page,
    PolicyEvaluationRecord, PrivateKeyRecord, ReceiptRecord, RecordEdit, Store, StoreResult,
    WalletRecord, WebhookEndpointRecord, edit_tags, seq_param,
};
use crate::error::HostError;

/// Schema migrations, applied in order; `keyhold_migrations` records how many ran. The first is
/// the SQLite store's three migrations in one, with PostgreSQL types and an explicit insertion
/// sequence where SQLite orders by `rowid`.
pub(super) const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE orgs (
    org_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    sealed BYTEA NOT NULL,
    created_at_ms BIGINT NOT NULL,
    parent_org_id TEXT,
    seq BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX orgs_by_parent ON orgs(parent_org_id, created_at_ms, seq);
CREATE TABLE wallets (
    wallet_id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(org_id),
    name TEXT NOT NULL,
    sealed_seed BYTEA NOT NULL,
    created_at_ms BIGINT NOT NULL
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
    created_at_ms BIGINT NOT NULL,
    seq BIGINT NOT NULL
);
CREATE INDEX accounts_by_address ON wallet_accounts(org_id, address_lower);
CREATE INDEX accounts_by_wallet ON wallet_accounts(org_id, wallet_id, seq);
CREATE INDEX accounts_by_time ON wallet_accounts(org_id, created_at_ms, seq);
CREATE TABLE activities (
    activity_id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    body TEXT NOT NULL,
    result TEXT NOT NULL,
    votes TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    UNIQUE (org_id, fingerprint)
);
CREATE INDEX activities_by_time ON activities(org_id, created_at_ms DESC, seq DESC);
CREATE TABLE private_keys (
    private_key_id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(org_id),
    name TEXT NOT NULL,
    curve TEXT NOT NULL,
    public_key TEXT NOT NULL,
    tags TEXT NOT NULL,
    sealed_key BYTEA NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX private_keys_by_org ON private_keys(org_id, created_at_ms);
CREATE TABLE private_key_addresses (
    org_id TEXT NOT NULL,
    private_key_id TEXT NOT NULL REFERENCES private_keys(private_key_id),
    seq BIGINT NOT NULL,
    format TEXT NOT NULL,
    address TEXT NOT NULL,
    address_lower TEXT NOT NULL,
    PRIMARY KEY (private_key_id, seq)
);
CREATE INDEX private_key_addresses_by_address ON private_key_addresses(org_id, address_lower);
CREATE TABLE vote_requests (
    org_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    seq BIGINT NOT NULL,
    body TEXT NOT NULL,
    stamp TEXT NOT NULL,
    PRIMARY KEY (org_id, fingerprint, seq)
);
"#,
    // Imported / exported flags of wallets and private keys (SQLite's migration 4).
    r#"
ALTER TABLE wallets ADD COLUMN imported BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE wallets ADD COLUMN exported BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE private_keys ADD COLUMN imported BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE private_keys ADD COLUMN exported BOOLEAN NOT NULL DEFAULT FALSE;
"#,
    // Audit receipts (docs/audit.md), as in SQLite's migration 5.
    r#"
CREATE TABLE audit_receipts (
    org_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    receipt BYTEA NOT NULL,
    result BYTEA,
    PRIMARY KEY (org_id, seq)
);
"#,
    // When a wallet was renamed or a private key's tags changed, as in SQLite's migration 6.
    r#"
ALTER TABLE wallets ADD COLUMN updated_at_ms BIGINT NOT NULL DEFAULT 0;
UPDATE wallets SET updated_at_ms = created_at_ms;
ALTER TABLE private_keys ADD COLUMN updated_at_ms BIGINT NOT NULL DEFAULT 0;
UPDATE private_keys SET updated_at_ms = created_at_ms;
"#,
    // Policy evaluations, as in SQLite's migration 7.
    r#"
CREATE TABLE policy_evaluations (
    evaluation_id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    activity_id TEXT NOT NULL,
    vote_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    policy_evaluations TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX policy_evaluations_by_activity ON policy_evaluations(org_id, activity_id, seq);
"#,
    // Webhook endpoints, as in SQLite's migration 8.
    r#"
CREATE TABLE webhook_endpoints (
    org_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (org_id, endpoint_id)
);
"#,
    // As SQLite's migration 12 (`store/request_key.rs`): activities found by (request time,
    // fingerprint), votes' targets in a partial index. `request_ms` is filled in by
    // `backfill_request_ms` after this, in the same transaction. Hosts of an earlier version
    // must be stopped first: they would store activities without `request_ms`, and a resubmitted
    // body would not find them.
    r#"
ALTER TABLE activities ADD COLUMN request_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE activities ADD COLUMN consensus BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE activities a SET consensus = TRUE
    WHERE a.status = 'ACTIVITY_STATUS_CONSENSUS_NEEDED' OR EXISTS (
        SELECT 1 FROM vote_requests v WHERE v.org_id = a.org_id AND v.fingerprint = a.fingerprint);
ALTER TABLE activities DROP CONSTRAINT activities_org_id_fingerprint_key;
CREATE INDEX activities_awaiting_consensus ON activities(org_id, fingerprint) WHERE consensus;
"#,
    // After the backfill: one activity per request.
    r#"
CREATE UNIQUE INDEX activities_by_request ON activities(org_id, request_ms, fingerprint);
"#,
];

/// The migration (its number) after which [`backfill_request_ms`] runs.
pub(super) const REQUEST_MS_VERSION: usize = 7;

/// Taken (per database) while migrating, so hosts starting together migrate once.
const MIGRATION_LOCK: i64 = 0x006b_6579_686f_6c64; // "keyhold"

/// Connections per host process.
const POOL_SIZE: usize = 16;

const PUT_META_SQL: &str = "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value";
const ORG_COLUMNS: &str = "org_id, name, sealed, created_at_ms";
const WALLET_COLUMNS: &str =
    "wallet_id, org_id, name, sealed_seed, created_at_ms, imported, exported, updated_at_ms";
const ACCOUNT_COLUMNS: &str = "account_id, org_id, wallet_id, curve, path_format, path, address_format, address, public_key, created_at_ms";
const PRIVATE_KEY_COLUMNS: &str = "private_key_id, org_id, name, curve, public_key, tags, sealed_key, created_at_ms, imported, exported, updated_at_ms";
const ACTIVITY_COLUMNS: &str = "activity_id, org_id, fingerprint, type, status, body, result, votes, created_at_ms, updated_at_ms";

/// A pool of connections to one PostgreSQL database (or one schema of it, via `search_path`).
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/db?...`, or the key=value form)
    /// and brings the schema up to date.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| HostError::Config(format!("invalid PostgreSQL URL: {e}")))?;
        Self::from_config(config).await
    }

    /// Like [`PgStore::connect`], from a parsed configuration (e.g. with a `search_path` set in
    /// its options).
    pub async fn from_config(config: tokio_postgres::Config) -> StoreResult<Self> {
        let manager = Manager::from_config(
            config,
            // TLS to the database is not supported yet: use a local socket, a private network
            // or a TLS tunnel.
            NoTls,
            ManagerConfig {
                // A connection the server dropped is noticed on first use and replaced; no
                // round trip before every checkout.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .timeouts(Timeouts {
                wait: Some(Duration::from_secs(30)),
                create: Some(Duration::from_secs(10)),
                recycle: Some(Duration::from_secs(10)),
            })
            .build()
            .map_err(|e| HostError::Store(e.to_string()))?;
        let store = PgStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> StoreResult<()> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        let fresh = tx
            .query_one("SELECT to_regclass('keyhold_migrations') IS NULL", &[])
            .await?
            .try_get::<_, bool>(0)?;
        if fresh {
            tx.batch_execute("CREATE TABLE keyhold_migrations (version BIGINT NOT NULL)")
                .await?;
        }
        let applied: i64 = tx
            .query_one("SELECT COUNT(*) FROM keyhold_migrations", &[])
            .await?
            .try_get(0)?;
        // A count is never negative.
        let applied = usize::try_from(applied).unwrap_or(0);
        super::refuse_newer_schema(applied, MIGRATIONS.len())?;
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
            tx.batch_execute(sql).await?;
            if index + 1 == REQUEST_MS_VERSION {
                backfill_request_ms(&tx).await?;
            }
            tx.execute(
                "INSERT INTO keyhold_migrations (version) VALUES ($1)",
                &[&(index as i64 + 1)],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<Vec<Row>> {
        let client = self.pool.get().await?;
        let statement = client.prepare_cached(sql).await?;
        Ok(client.query(&statement, params).await?)
    }

    async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Option<Row>> {
        let client = self.pool.get().await?;
        let statement = client.prepare_cached(sql).await?;
        Ok(client.query_opt(&statement, params).await?)
    }

    async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<u64> {
        let client = self.pool.get().await?;
        let statement = client.prepare_cached(sql).await?;
        Ok(client.execute(&statement, params).await?)
    }

    /// The private key's addresses, in their order.
    async fn fill_addresses(&self, key: &mut PrivateKeyRecord) -> StoreResult<()> {
        let rows = self
            .query(
                "SELECT format, address FROM private_key_addresses WHERE private_key_id = $1 ORDER BY seq",
                &[&key.id.to_string()],
            )
            .await?;
        key.addresses = rows
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(())
    }
}

fn encode<T: serde::Serialize>(value: &T) -> StoreResult<Vec<u8>> {
    postcard::to_allocvec(value).map_err(|e| HostError::Store(e.to_string()))
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> StoreResult<T> {
    postcard::from_bytes(bytes).map_err(|e| HostError::Store(format!("stored blob: {e}")))
}

fn parse_id<T: std::str::FromStr>(row: &Row, index: usize) -> StoreResult<T>
where
    T::Err: std::fmt::Display,
{
    let text: String = row.try_get(index)?;
    text.parse()
        .map_err(|e| HostError::Store(format!("stored id `{text}`: {e}")))
}

/// Milliseconds are stored as BIGINT (PostgreSQL has no unsigned integers), as in SQLite.
fn ms(row: &Row, index: usize) -> StoreResult<u64> {
    Ok(row.try_get::<_, i64>(index)? as u64)
}

fn org_from_row(row: &Row) -> StoreResult<OrgRecord> {
    Ok(OrgRecord {
        id: parse_id(row, 0)?,
        name: row.try_get(1)?,
        sealed: decode::<SealedOrgState>(row.try_get(2)?)?,
        created_at_ms: ms(row, 3)?,
    })
}

fn wallet_from_row(row: &Row) -> StoreResult<WalletRecord> {
    Ok(WalletRecord {
        id: parse_id(row, 0)?,
        org: parse_id(row, 1)?,
        name: row.try_get(2)?,
        sealed_seed: decode::<SealedSeed>(row.try_get(3)?)?,
        created_at_ms: ms(row, 4)?,
        imported: row.try_get(5)?,
        exported: row.try_get(6)?,
        updated_at_ms: ms(row, 7)?,
    })
}

fn account_from_row(row: &Row) -> StoreResult<AccountRecord> {
    Ok(AccountRecord {
        id: row.try_get(0)?,
        org: parse_id(row, 1)?,
        wallet: parse_id(row, 2)?,
        curve: row.try_get(3)?,
        path_format: row.try_get(4)?,
        path: row.try_get(5)?,
        address_format: row.try_get(6)?,
        address: row.try_get(7)?,
        public_key: row.try_get(8)?,
        created_at_ms: ms(row, 9)?,
    })
}

fn private_key_from_row(row: &Row) -> StoreResult<PrivateKeyRecord> {
    let tags: String = row.try_get(5)?;
    Ok(PrivateKeyRecord {
        id: parse_id(row, 0)?,
        org: parse_id(row, 1)?,
        name: row.try_get(2)?,
        curve: row.try_get(3)?,
        public_key: row.try_get(4)?,
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        sealed_key: decode::<SealedSeed>(row.try_get(6)?)?,
        created_at_ms: ms(row, 7)?,
        imported: row.try_get(8)?,
        exported: row.try_get(9)?,
        updated_at_ms: ms(row, 10)?,
        addresses: Vec::new(),
    })
}

fn activity_from_row(row: &Row) -> StoreResult<ActivityRecord> {
    Ok(ActivityRecord {
        id: parse_id(row, 0)?,
        org: parse_id(row, 1)?,
        fingerprint: row.try_get(2)?,
        activity_type: row.try_get(3)?,
        status: row.try_get(4)?,
        body: row.try_get(5)?,
        result: row.try_get(6)?,
        votes: row.try_get(7)?,
        created_at_ms: ms(row, 8)?,
        updated_at_ms: ms(row, 9)?,
    })
}

const EVALUATION_COLUMNS: &str =
    "evaluation_id, org_id, activity_id, vote_id, seq, policy_evaluations, created_at_ms";

fn evaluation_from_row(row: &Row) -> StoreResult<PolicyEvaluationRecord> {
    Ok(PolicyEvaluationRecord {
        id: row.try_get(0)?,
        org: parse_id(row, 1)?,
        activity: parse_id(row, 2)?,
        vote_id: row.try_get(3)?,
        seq: ms(row, 4)?,
        policy_evaluations: row.try_get(5)?,
        created_at_ms: ms(row, 6)?,
    })
}

/// A cursor resolved to its position in an ordering by (created_at_ms, seq).
type Position = (i64, i64);

/// Positions below and above every real one: what a missing or unknown cursor stands for.
const FIRST: Position = (i64::MIN, i64::MIN);
const LAST: Position = (i64::MAX, i64::MAX);

fn position(row: Option<Row>) -> StoreResult<Option<Position>> {
    row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
}

/// Sets `request_ms` of the activities stored before it existed, with the same function new
/// ones get it from (PostgreSQL's JSON parsing would refuse some bodies serde_json accepts).
async fn backfill_request_ms(tx: &deadpool_postgres::Transaction<'_>) -> StoreResult<()> {
    // A thousand bodies at a time, in key order, updated in one statement per batch.
    let select = tx
        .prepare(
            "SELECT activity_id, body FROM activities WHERE activity_id > $1 ORDER BY activity_id LIMIT 1000",
        )
        .await?;
    let update = tx
        .prepare(
            "UPDATE activities a SET request_ms = u.ms FROM unnest($1::text[], $2::bigint[]) AS u(id, ms) WHERE a.activity_id = u.id",
        )
        .await?;
    let mut after = String::new();
    loop {
        let rows = tx.query(&select, &[&after]).await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.try_get(0)?;
        let (mut ids, mut values) = (Vec::new(), Vec::new());
        for row in &rows {
            let body: &str = row.try_get(1)?;
            let ms = super::request_ms(body.as_bytes());
            if ms != 0 {
                ids.push(row.try_get::<_, String>(0)?);
                values.push(ms);
            }
        }
        if !ids.is_empty() {
            tx.execute(&update, &[&ids, &values]).await?;
        }
    }
}

/// Writes one activity's records inside `tx`. The same statements, in the same order, as the
/// SQLite store; a lost race is [`HostError::Conflict`].
async fn write_commit(
    tx: &deadpool_postgres::Transaction<'_>,
    commit: &ActivityCommit,
) -> StoreResult<()> {
    if let Some(record) = &commit.receipt {
        // Replaces a row recovered from the enclave for the same seq: the real one wins.
        let statement = tx
            .prepare_cached(
                "INSERT INTO audit_receipts (org_id, seq, receipt, result) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (org_id, seq) DO UPDATE SET receipt = excluded.receipt, result = excluded.result",
            )
            .await?;
        tx.execute(
            &statement,
            &[
                &record.receipt.body.org_id.to_string(),
                &(record.receipt.body.seq as i64),
                &encode(&record.receipt)?,
                &record.result,
            ],
        )
        .await?;
    }
    // Sub-organizations first: their wallets reference them.
    for (org, parent) in &commit.sub_orgs {
        let statement = tx
            .prepare_cached(
                "INSERT INTO orgs (org_id, name, version, sealed, created_at_ms, parent_org_id) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .await?;
        tx.execute(
            &statement,
            &[
                &org.id.to_string(),
                &org.name,
                &(org.sealed.version as i64),
                &encode(&org.sealed)?,
                &(org.created_at_ms as i64),
                &parent.to_string(),
            ],
        )
        .await?;
    }
    let a = &commit.activity;
    let org = a.org.to_string();
    if let Some((body, stamp)) = &commit.vote_request {
        let statement = tx
            .prepare_cached(
                "INSERT INTO vote_requests (org_id, fingerprint, seq, body, stamp) VALUES ($1, $2, (SELECT COUNT(*) FROM vote_requests WHERE org_id = $1 AND fingerprint = $2), $3, $4)",
            )
            .await?;
        // Two votes stored at once both count the same rows and claim the same seq: the second
        // waits for the first and then loses on the primary key. It is run again.
        match tx
            .execute(&statement, &[&org, &a.fingerprint, body, stamp])
            .await
        {
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                return Err(HostError::Conflict("another vote was stored first".into()));
            }
            other => {
                other?;
            }
        }
    }
    if let Some(decided_on) = &commit.replace_waiting {
        let statement = tx
            .prepare_cached(
                "UPDATE activities SET status = $1, result = $2, votes = $3, updated_at_ms = $4 WHERE org_id = $5 AND fingerprint = $6 AND consensus AND status = 'ACTIVITY_STATUS_CONSENSUS_NEEDED' AND votes = $7",
            )
            .await?;
        let changed = tx
            .execute(
                &statement,
                &[
                    &a.status,
                    &a.result,
                    &a.votes,
                    &(a.updated_at_ms as i64),
                    &org,
                    &a.fingerprint,
                    decided_on,
                ],
            )
            .await?;
        if changed != 1 {
            return Err(HostError::Conflict("activity changed concurrently".into()));
        }
    } else {
        let statement = tx
            .prepare_cached(&format!(
                "INSERT INTO activities ({ACTIVITY_COLUMNS}, request_ms, consensus) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            ))
            .await?;
        let inserted = tx
            .execute(
                &statement,
                &[
                    &a.id.to_string(),
                    &org,
                    &a.fingerprint,
                    &a.activity_type,
                    &a.status,
                    &a.body,
                    &a.result,
                    &a.votes,
                    &(a.created_at_ms as i64),
                    &(a.updated_at_ms as i64),
                    &super::request_ms(a.body.as_bytes()),
                    &(a.status == super::CONSENSUS_NEEDED),
                ],
            )
            .await;
        match inserted {
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                return Err(HostError::Conflict("activity already stored".into()));
            }
            other => {
                other?;
            }
        }
    }
    if let Some((key, value)) = &commit.meta {
        let statement = tx.prepare_cached(PUT_META_SQL).await?;
        tx.execute(&statement, &[key, value]).await?;
    }
    for w in &commit.wallets {
        let statement = tx
            .prepare_cached(&format!(
                "INSERT INTO wallets ({WALLET_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ))
            .await?;
        tx.execute(
            &statement,
            &[
                &w.id.to_string(),
                &w.org.to_string(),
                &w.name,
                &encode(&w.sealed_seed)?,
                &(w.created_at_ms as i64),
                &w.imported,
                &w.exported,
                &(w.updated_at_ms as i64),
            ],
        )
        .await?;
    }
    for (seq, acc) in commit.accounts.iter().enumerate() {
        let statement = tx
            .prepare_cached(&format!(
                "INSERT INTO wallet_accounts ({ACCOUNT_COLUMNS}, address_lower, seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            ))
            .await?;
        tx.execute(
            &statement,
            &[
                &acc.id,
                &acc.org.to_string(),
                &acc.wallet.to_string(),
                &acc.curve,
                &acc.path_format,
                &acc.path,
                &acc.address_format,
                &acc.address,
                &acc.public_key,
                &(acc.created_at_ms as i64),
                &acc.address.to_lowercase(),
                &(seq as i64),
            ],
        )
        .await?;
    }
    for k in &commit.private_keys {
        let statement = tx
            .prepare_cached(&format!(
                "INSERT INTO private_keys ({PRIVATE_KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            ))
            .await?;
        tx.execute(
            &statement,
            &[
                &k.id.to_string(),
                &k.org.to_string(),
                &k.name,
                &k.curve,
                &k.public_key,
                &serde_json::to_string(&k.tags).unwrap_or_else(|_| "[]".into()),
                &encode(&k.sealed_key)?,
                &(k.created_at_ms as i64),
                &k.imported,
                &k.exported,
                &(k.updated_at_ms as i64),
            ],
        )
        .await?;
        let statement = tx
            .prepare_cached(
                "INSERT INTO private_key_addresses (org_id, private_key_id, seq, format, address, address_lower) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .await?;
        for (seq, (format, address)) in k.addresses.iter().enumerate() {
            tx.execute(
                &statement,
                &[
                    &k.org.to_string(),
                    &k.id.to_string(),
                    &(seq as i64),
                    format,
                    address,
                    &address.to_lowercase(),
                ],
            )
            .await?;
        }
    }
    if let Some(state) = &commit.org_state {
        // Compare-and-swap on the version. Under READ COMMITTED a concurrent transaction that
        // updated the row first makes this one wait, then re-check `version` against the row
        // it committed: no update is lost and no version is written twice.
        let statement = tx
            .prepare_cached(
                "UPDATE orgs SET version = $1, sealed = $2 WHERE org_id = $3 AND version = $4",
            )
            .await?;
        let changed = tx
            .execute(
                &statement,
                &[
                    &(state.version as i64),
                    &encode(state)?,
                    &state.org_id.to_string(),
                    &(state.version.saturating_sub(1) as i64),
                ],
            )
            .await?;
        if changed != 1 {
            return Err(HostError::Conflict(
                "organization state changed concurrently".into(),
            ));
        }
    }
    if commit.detach_from_parent {
        tx.execute(
            "UPDATE orgs SET parent_org_id = NULL WHERE org_id = $1",
            &[&commit.activity.org.to_string()],
        )
        .await?;
    }
    for mark in &commit.exported {
        let (sql, id) = match mark {
            ExportMark::Wallet(id) => (
                "UPDATE wallets SET exported = TRUE WHERE org_id = $1 AND wallet_id = $2",
                id.to_string(),
            ),
            ExportMark::PrivateKey(id) => (
                "UPDATE private_keys SET exported = TRUE WHERE org_id = $1 AND private_key_id = $2",
                id.to_string(),
            ),
        };
        let statement = tx.prepare_cached(sql).await?;
        tx.execute(&statement, &[&commit.activity.org.to_string(), &id])
            .await?;
    }
    if let Some(e) = &commit.policy_evaluation {
        let statement = tx
            .prepare_cached(&format!(
                "INSERT INTO policy_evaluations ({EVALUATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            ))
            .await?;
        tx.execute(
            &statement,
            &[
                &e.id,
                &e.org.to_string(),
                &e.activity.to_string(),
                &e.vote_id,
                &seq_param(e.seq),
                &e.policy_evaluations,
                &(e.created_at_ms as i64),
            ],
        )
        .await?;
    }
    apply_edits(
        tx,
        &commit.activity.org.to_string(),
        &commit.edits,
        commit.activity.updated_at_ms,
    )
    .await
}

/// Applies an activity's [`RecordEdit`]s inside its transaction; `now_ms` is the activity's time.
async fn apply_edits(
    tx: &deadpool_postgres::Transaction<'_>,
    org: &str,
    edits: &[RecordEdit],
    now_ms: u64,
) -> StoreResult<()> {
    let now = now_ms as i64;
    for edit in edits {
        match edit {
            RecordEdit::RenameWallet { wallet, name } => {
                tx.execute(
                    "UPDATE wallets SET name = $1, updated_at_ms = $2 WHERE org_id = $3 AND wallet_id = $4",
                    &[name, &now, &org, &wallet.to_string()],
                )
                .await?;
            }
            RecordEdit::DeleteWallet(wallet) => {
                let wallet = wallet.to_string();
                tx.execute(
                    "DELETE FROM wallet_accounts WHERE org_id = $1 AND wallet_id = $2",
                    &[&org, &wallet],
                )
                .await?;
                tx.execute(
                    "DELETE FROM wallets WHERE org_id = $1 AND wallet_id = $2",
                    &[&org, &wallet],
                )
                .await?;
            }
            RecordEdit::DeleteAccount(account) => {
                tx.execute(
                    "DELETE FROM wallet_accounts WHERE org_id = $1 AND account_id = $2",
                    &[&org, account],
                )
                .await?;
            }
            RecordEdit::DeletePrivateKey(key) => {
                let key = key.to_string();
                tx.execute(
                    "DELETE FROM private_key_addresses WHERE org_id = $1 AND private_key_id = $2",
                    &[&org, &key],
                )
                .await?;
                tx.execute(
                    "DELETE FROM private_keys WHERE org_id = $1 AND private_key_id = $2",
                    &[&org, &key],
                )
                .await?;
            }
            RecordEdit::TagPrivateKey { key, tag, add } => {
                let key = key.to_string();
                // FOR UPDATE: a concurrent tag edit of the same key waits instead of being lost.
                let row = tx
                    .query_opt(
                        "SELECT tags FROM private_keys WHERE org_id = $1 AND private_key_id = $2 FOR UPDATE",
                        &[&org, &key],
                    )
                    .await?;
                if let Some(row) = row {
                    let tags: String = row.try_get(0)?;
                    let mut tags: Vec<String> = serde_json::from_str(&tags).unwrap_or_default();
                    edit_tags(&mut tags, tag, *add);
                    set_tags(tx, org, &key, &tags, now).await?;
                }
            }
            RecordEdit::DropPrivateKeyTag(tag) => {
                let rows = tx
                    .query(
                        "SELECT private_key_id, tags FROM private_keys WHERE org_id = $1 FOR UPDATE",
                        &[&org],
                    )
                    .await?;
                for row in rows {
                    let id: String = row.try_get(0)?;
                    let tags: String = row.try_get(1)?;
                    let mut tags: Vec<String> = serde_json::from_str(&tags).unwrap_or_default();
                    if tags.contains(tag) {
                        edit_tags(&mut tags, tag, false);
                        set_tags(tx, org, &id, &tags, now).await?;
                    }
                }
            }
            RecordEdit::PutWebhookEndpoint { id, data } => {
                tx.execute(
                    "INSERT INTO webhook_endpoints (org_id, endpoint_id, data, created_at_ms, updated_at_ms) \
                     VALUES ($1, $2, $3, $4, $4) ON CONFLICT (org_id, endpoint_id) \
                     DO UPDATE SET data = excluded.data, updated_at_ms = excluded.updated_at_ms",
                    &[&org, id, data, &now],
                )
                .await?;
            }
            RecordEdit::DeleteWebhookEndpoint(id) => {
                tx.execute(
                    "DELETE FROM webhook_endpoints WHERE org_id = $1 AND endpoint_id = $2",
                    &[&org, id],
                )
                .await?;
            }
        }
    }
    Ok(())
}

const WEBHOOK_COLUMNS: &str = "org_id, endpoint_id, data, created_at_ms, updated_at_ms";

fn webhook_from_row(row: &Row) -> StoreResult<WebhookEndpointRecord> {
    Ok(WebhookEndpointRecord {
        org: parse_id(row, 0)?,
        id: row.try_get(1)?,
        data: row.try_get(2)?,
        created_at_ms: row.try_get::<_, i64>(3)? as u64,
        updated_at_ms: row.try_get::<_, i64>(4)? as u64,
    })
}

async fn set_tags(
    tx: &deadpool_postgres::Transaction<'_>,
    org: &str,
    key: &str,
    tags: &[String],
    now: i64,
) -> StoreResult<()> {
    let tags = serde_json::to_string(tags).unwrap_or_else(|_| "[]".into());
    tx.execute(
        "UPDATE private_keys SET tags = $1, updated_at_ms = $2 WHERE org_id = $3 AND private_key_id = $4",
        &[&tags, &now, &org, &key],
    )
    .await?;
    Ok(())
}

#[async_trait]
impl Store for PgStore {
    async fn parent_of(&self, org: OrgId) -> StoreResult<Option<OrgId>> {
        let row = self
            .query_opt(
                "SELECT parent_org_id FROM orgs WHERE org_id = $1",
                &[&org.to_string()],
            )
            .await?;
        match row {
            None => Ok(None),
            Some(row) => {
                let parent: Option<String> = row.try_get(0)?;
                parent
                    .map(|p| {
                        p.parse::<OrgId>()
                            .map_err(|_| HostError::Store("invalid parent organization id".into()))
                    })
                    .transpose()
            }
        }
    }

    async fn latest_receipt(
        &self,
        org: OrgId,
        before: Option<u64>,
    ) -> StoreResult<Option<ReceiptRecord>> {
        let before = before.map_or(i64::MAX, |b| i64::try_from(b).unwrap_or(i64::MAX));
        let row = self
            .query_opt(
                "SELECT receipt, result FROM audit_receipts WHERE org_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT 1",
                &[&org.to_string(), &before],
            )
            .await?;
        row.map(|row| {
            Ok(ReceiptRecord {
                receipt: decode(row.try_get(0)?)?,
                result: row.try_get(1)?,
            })
        })
        .transpose()
    }

    async fn receipt_seqs(&self, org: OrgId, from: u64, before: u64) -> StoreResult<Vec<u64>> {
        let rows = self
            .query(
                "SELECT seq FROM audit_receipts WHERE org_id = $1 AND seq >= $2 AND seq < $3 ORDER BY seq",
                &[&org.to_string(), &seq_param(from), &seq_param(before)],
            )
            .await?;
        rows.iter()
            .map(|row| Ok(u64::try_from(row.try_get::<_, i64>(0)?).unwrap_or(0)))
            .collect()
    }

    async fn insert_recovered_receipts(&self, receipts: Vec<ReceiptRecord>) -> StoreResult<()> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let statement = tx
            .prepare_cached(
                "INSERT INTO audit_receipts (org_id, seq, receipt, result) VALUES ($1, $2, $3, NULL)
                 ON CONFLICT (org_id, seq) DO NOTHING",
            )
            .await?;
        for r in &receipts {
            tx.execute(
                &statement,
                &[
                    &r.receipt.body.org_id.to_string(),
                    &(r.receipt.body.seq as i64),
                    &encode(&r.receipt)?,
                ],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn get_meta(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        self.query_opt("SELECT value FROM meta WHERE key = $1", &[&key])
            .await?
            .map(|r| Ok(r.try_get(0)?))
            .transpose()
    }

    async fn put_meta(&self, key: &str, value: Vec<u8>) -> StoreResult<()> {
        self.execute(PUT_META_SQL, &[&key, &value]).await?;
        Ok(())
    }

    async fn insert_org(&self, org: OrgRecord) -> StoreResult<()> {
        self.execute(
            "INSERT INTO orgs (org_id, name, version, sealed, created_at_ms) VALUES ($1, $2, $3, $4, $5)",
            &[
                &org.id.to_string(),
                &org.name,
                &(org.sealed.version as i64),
                &encode(&org.sealed)?,
                &(org.created_at_ms as i64),
            ],
        )
        .await?;
        Ok(())
    }

    async fn get_org(&self, id: OrgId) -> StoreResult<Option<OrgRecord>> {
        self.query_opt(
            &format!("SELECT {ORG_COLUMNS} FROM orgs WHERE org_id = $1"),
            &[&id.to_string()],
        )
        .await?
        .as_ref()
        .map(org_from_row)
        .transpose()
    }

    async fn commit_activity(&self, commit: ActivityCommit) -> StoreResult<()> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        // On any error the transaction is dropped unfinished, which rolls it back.
        write_commit(&tx, &commit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn policy_evaluations(
        &self,
        org: OrgId,
        activity: ActivityId,
    ) -> StoreResult<Vec<PolicyEvaluationRecord>> {
        self.query(
            &format!(
                "SELECT {EVALUATION_COLUMNS} FROM policy_evaluations WHERE org_id = $1 AND activity_id = $2 ORDER BY seq"
            ),
            &[&org.to_string(), &activity.to_string()],
        )
        .await?
        .iter()
        .map(evaluation_from_row)
        .collect()
    }

    async fn get_activity(
        &self,
        org: OrgId,
        id: ActivityId,
    ) -> StoreResult<Option<ActivityRecord>> {
        self.query_opt(
            &format!(
                "SELECT {ACTIVITY_COLUMNS} FROM activities WHERE org_id = $1 AND activity_id = $2"
            ),
            &[&org.to_string(), &id.to_string()],
        )
        .await?
        .as_ref()
        .map(activity_from_row)
        .transpose()
    }

    async fn find_activity(
        &self,
        org: OrgId,
        request_ms: i64,
        fingerprint: &str,
    ) -> StoreResult<Option<ActivityRecord>> {
        self.query_opt(
            &format!(
                "SELECT {ACTIVITY_COLUMNS} FROM activities WHERE org_id = $1 AND request_ms = $2 AND fingerprint = $3"
            ),
            &[&org.to_string(), &request_ms, &fingerprint],
        )
        .await?
        .as_ref()
        .map(activity_from_row)
        .transpose()
    }

    async fn find_vote_target(
        &self,
        org: OrgId,
        fingerprint: &str,
    ) -> StoreResult<Option<ActivityRecord>> {
        self.query_opt(
            &format!(
                "SELECT {ACTIVITY_COLUMNS} FROM activities WHERE org_id = $1 AND fingerprint = $2 AND consensus"
            ),
            &[&org.to_string(), &fingerprint],
        )
        .await?
        .as_ref()
        .map(activity_from_row)
        .transpose()
    }

    async fn vote_requests(
        &self,
        org: OrgId,
        fingerprint: &str,
    ) -> StoreResult<Vec<(String, String)>> {
        self.query(
            "SELECT body, stamp FROM vote_requests WHERE org_id = $1 AND fingerprint = $2 ORDER BY seq",
            &[&org.to_string(), &fingerprint],
        )
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
    }

    async fn list_sub_orgs(&self, parent: OrgId, page: Page) -> StoreResult<Vec<OrgId>> {
        let parent = parent.to_string();
        // A cursor that is not a sub-organization of `parent` is ignored, as in SQLite.
        let cursor = async |id: &Option<String>| -> StoreResult<Option<Position>> {
            match id {
                None => Ok(None),
                Some(id) => position(
                    self.query_opt(
                        "SELECT created_at_ms, seq FROM orgs WHERE parent_org_id = $1 AND org_id = $2",
                        &[&parent, id],
                    )
                    .await?,
                ),
            }
        };
        let after = cursor(&page.after).await?.unwrap_or(FIRST);
        let before = cursor(&page.before).await?.unwrap_or(LAST);
        let limit = i64::from(page.limit.unwrap_or(10).clamp(1, 100));
        self.query(
            "SELECT org_id FROM orgs WHERE parent_org_id = $1
               AND (created_at_ms, seq) > ($2, $3) AND (created_at_ms, seq) < ($4, $5)
             ORDER BY created_at_ms, seq LIMIT $6",
            &[&parent, &after.0, &after.1, &before.0, &before.1, &limit],
        )
        .await?
        .iter()
        .map(|r| parse_id(r, 0))
        .collect()
    }

    async fn list_activities(
        &self,
        org: OrgId,
        statuses: Vec<String>,
        types: Vec<String>,
        page: Page,
    ) -> StoreResult<Vec<ActivityRecord>> {
        let org = org.to_string();
        // Newest first. A cursor is an activity id, resolved among the activities that pass
        // the filters (an id that does not is ignored, as in SQLite).
        let cursor = async |id: &Option<String>| -> StoreResult<Option<Position>> {
            match id {
                None => Ok(None),
                Some(id) => position(
                    self.query_opt(
                        "SELECT created_at_ms, seq FROM activities WHERE org_id = $1 AND activity_id = $2
                           AND (cardinality($3::text[]) = 0 OR status = ANY($3))
                           AND (cardinality($4::text[]) = 0 OR type = ANY($4))",
                        &[&org, id, &statuses, &types],
                    )
                    .await?,
                ),
            }
        };
        let after = cursor(&page.after).await?.unwrap_or(LAST);
        let before = cursor(&page.before).await?.unwrap_or(FIRST);
        let limit = i64::from(page.limit.unwrap_or(10).clamp(1, 100));
        self.query(
            &format!(
                "SELECT {ACTIVITY_COLUMNS} FROM activities WHERE org_id = $1
                   AND (cardinality($2::text[]) = 0 OR status = ANY($2))
                   AND (cardinality($3::text[]) = 0 OR type = ANY($3))
                   AND (created_at_ms, seq) < ($4, $5) AND (created_at_ms, seq) > ($6, $7)
                 ORDER BY created_at_ms DESC, seq DESC LIMIT $8"
            ),
            &[
                &org, &statuses, &types, &after.0, &after.1, &before.0, &before.1, &limit,
            ],
        )
        .await?
        .iter()
        .map(activity_from_row)
        .collect()
    }

    async fn list_wallets(&self, org: OrgId) -> StoreResult<Vec<WalletRecord>> {
        self.query(
            &format!("SELECT {WALLET_COLUMNS} FROM wallets WHERE org_id = $1 ORDER BY created_at_ms, wallet_id"),
            &[&org.to_string()],
        )
        .await?
        .iter()
        .map(wallet_from_row)
        .collect()
    }

    async fn get_wallet(&self, org: OrgId, id: WalletId) -> StoreResult<Option<WalletRecord>> {
        self.query_opt(
            &format!("SELECT {WALLET_COLUMNS} FROM wallets WHERE org_id = $1 AND wallet_id = $2"),
            &[&org.to_string(), &id.to_string()],
        )
        .await?
        .as_ref()
        .map(wallet_from_row)
        .transpose()
    }

    async fn list_accounts(
        &self,
        org: OrgId,
        wallet: Option<WalletId>,
        page: Page,
    ) -> StoreResult<Vec<AccountRecord>> {
        let org = org.to_string();
        // Accounts are ordered by (creation time, position in their wallet); a cursor is an
        // account id of the organization, resolved to its position.
        let cursor = async |id: &Option<String>| -> StoreResult<Option<Position>> {
            match id {
                None => Ok(None),
                Some(id) => position(
                    self.query_opt(
                        "SELECT created_at_ms, seq FROM wallet_accounts WHERE org_id = $1 AND account_id = $2",
                        &[&org, id],
                    )
                    .await?,
                ),
            }
        };
        let after = cursor(&page.after).await?.unwrap_or(FIRST);
        let before = cursor(&page.before).await?.unwrap_or(LAST);
        let limit = i64::from(page.limit.unwrap_or(100).clamp(1, 100));
        let wallet = wallet.map(|w| w.to_string());
        self.query(
            &format!(
                "SELECT {ACCOUNT_COLUMNS} FROM wallet_accounts
                 WHERE org_id = $1 AND ($2::text IS NULL OR wallet_id = $2)
                   AND (created_at_ms, seq) > ($3, $4) AND (created_at_ms, seq) < ($5, $6)
                 ORDER BY created_at_ms, seq LIMIT $7"
            ),
            &[
                &org, &wallet, &after.0, &after.1, &before.0, &before.1, &limit,
            ],
        )
        .await?
        .iter()
        .map(account_from_row)
        .collect()
    }

    async fn find_account(
        &self,
        org: OrgId,
        address: &str,
    ) -> StoreResult<Option<(AccountRecord, WalletRecord)>> {
        let org = org.to_string();
        let address = address.trim().to_lowercase();
        let Some(account) = self
            .query_opt(
                &format!(
                    "SELECT {ACCOUNT_COLUMNS} FROM wallet_accounts WHERE org_id = $1 AND address_lower = $2
                     ORDER BY created_at_ms, seq LIMIT 1"
                ),
                &[&org, &address],
            )
            .await?
        else {
            return Ok(None);
        };
        let account = account_from_row(&account)?;
        let wallet = self
            .query_opt(
                &format!(
                    "SELECT {WALLET_COLUMNS} FROM wallets WHERE org_id = $1 AND wallet_id = $2"
                ),
                &[&org, &account.wallet.to_string()],
            )
            .await?;
        wallet
            .map(|w| Ok((account, wallet_from_row(&w)?)))
            .transpose()
    }

    async fn find_private_key(
        &self,
        org: OrgId,
        id_or_address: &str,
    ) -> StoreResult<Option<(PrivateKeyRecord, Option<String>)>> {
        let org = org.to_string();
        let needle = id_or_address.trim().to_lowercase();
        let (id, format): (String, Option<String>) = match needle.parse::<PrivateKeyId>() {
            Ok(id) => (id.to_string(), None),
            Err(_) => {
                let hit = self
                    .query_opt(
                        "SELECT private_key_id, format FROM private_key_addresses WHERE org_id = $1 AND address_lower = $2
                         ORDER BY private_key_id, seq LIMIT 1",
                        &[&org, &needle],
                    )
                    .await?;
                match hit {
                    Some(r) => (r.try_get(0)?, Some(r.try_get(1)?)),
                    None => return Ok(None),
                }
            }
        };
        let Some(row) = self
            .query_opt(
                &format!("SELECT {PRIVATE_KEY_COLUMNS} FROM private_keys WHERE org_id = $1 AND private_key_id = $2"),
                &[&org, &id],
            )
            .await?
        else {
            return Ok(None);
        };
        let mut key = private_key_from_row(&row)?;
        self.fill_addresses(&mut key).await?;
        Ok(Some((key, format)))
    }

    async fn list_webhook_endpoints(&self, org: OrgId) -> StoreResult<Vec<WebhookEndpointRecord>> {
        self.query(
            &format!(
                "SELECT {WEBHOOK_COLUMNS} FROM webhook_endpoints WHERE org_id = $1 ORDER BY created_at_ms, endpoint_id"
            ),
            &[&org.to_string()],
        )
        .await?
        .iter()
        .map(webhook_from_row)
        .collect()
    }

    async fn get_webhook_endpoint(
        &self,
        org: OrgId,
        id: &str,
    ) -> StoreResult<Option<WebhookEndpointRecord>> {
        self.query_opt(
            &format!(
                "SELECT {WEBHOOK_COLUMNS} FROM webhook_endpoints WHERE org_id = $1 AND endpoint_id = $2"
            ),
            &[&org.to_string(), &id],
        )
        .await?
        .as_ref()
        .map(webhook_from_row)
        .transpose()
    }

    async fn list_private_keys(&self, org: OrgId) -> StoreResult<Vec<PrivateKeyRecord>> {
        let rows = self
            .query(
                &format!("SELECT {PRIVATE_KEY_COLUMNS} FROM private_keys WHERE org_id = $1 ORDER BY created_at_ms, private_key_id"),
                &[&org.to_string()],
            )
            .await?;
        let mut keys = rows
            .iter()
            .map(private_key_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        for key in &mut keys {
            self.fill_addresses(key).await?;
        }
        Ok(keys)
    }

    async fn get_accounts(&self, org: OrgId, ids: Vec<String>) -> StoreResult<Vec<AccountRecord>> {
        let rows = self
            .query(
                &format!(
                    "SELECT {ACCOUNT_COLUMNS} FROM wallet_accounts WHERE org_id = $1 AND account_id = ANY($2) ORDER BY created_at_ms, seq"
                ),
                &[&org.to_string(), &ids],
            )
            .await?;
        rows.iter().map(account_from_row).collect()
    }
}
