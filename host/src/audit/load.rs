//! Reads what `keyhold audit verify` checks straight from a SQLite data directory, read-only,
//! without starting anything: the stored receipts of one organization (raw, as stored), its
//! activities, the receipt key's certificate and the deployment record.

use std::path::Path;

use keyhold_shared::OrgId;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::AUDIT_KEY_META;
use crate::boot::QuorumRecord;
use crate::error::HostError;
use crate::store::ActivityRecord;

/// One stored receipt row, exactly as found: nothing in it is trusted yet.
#[derive(Clone, Debug)]
pub struct StoredReceipt {
    /// The row's own seq column.
    pub seq: u64,
    /// The postcard-encoded receipt.
    pub receipt: Vec<u8>,
    /// The canonical result bytes (`None`: recovered from the enclave, no activity record).
    pub result: Option<Vec<u8>>,
}

#[derive(Clone, Debug)]
pub struct AuditData {
    pub org_exists: bool,
    pub receipts: Vec<StoredReceipt>,
    pub activities: Vec<ActivityRecord>,
    /// The postcard-encoded receipt key certificate, if the host stored one.
    pub certificate: Option<Vec<u8>>,
    pub quorum: Option<QuorumRecord>,
}

fn parse<T: std::str::FromStr<Err = keyhold_shared::ids::InvalidUuid>>(
    column: usize,
    text: String,
) -> rusqlite::Result<T> {
    text.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// A column's bytes whatever type the host stored them as (a tampered row may hold text);
/// `None` for NULL. Whether the bytes mean anything is the verifier's business.
fn any_bytes(value: ValueRef<'_>) -> Option<Vec<u8>> {
    match value {
        ValueRef::Null => None,
        ValueRef::Blob(b) | ValueRef::Text(b) => Some(b.to_vec()),
        ValueRef::Integer(i) => Some(i.to_be_bytes().to_vec()),
        ValueRef::Real(f) => Some(f.to_be_bytes().to_vec()),
    }
}

fn activity(row: &rusqlite::Row<'_>) -> rusqlite::Result<ActivityRecord> {
    Ok(ActivityRecord {
        id: parse(0, row.get(0)?)?,
        org: parse(1, row.get(1)?)?,
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

/// Reads `org`'s audit data from the database at `path` (opened read-only).
pub fn read_sqlite(path: &Path, org: OrgId) -> Result<AuditData, HostError> {
    if !path.exists() {
        return Err(HostError::Config(format!(
            "{} does not exist",
            path.display()
        )));
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let has_table: bool = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_receipts'",
            [],
            |_| Ok(true),
        )
        .optional()?
        .unwrap_or(false);
    let org_text = org.to_string();
    let org_exists = conn
        .query_row("SELECT 1 FROM orgs WHERE org_id = ?1", [&org_text], |_| {
            Ok(())
        })
        .optional()?
        .is_some();
    let receipts = if has_table {
        let mut stmt = conn.prepare(
            "SELECT seq, receipt, result FROM audit_receipts WHERE org_id = ?1 ORDER BY seq",
        )?;
        stmt.query_map([&org_text], |r| {
            Ok(StoredReceipt {
                seq: r.get::<_, i64>(0)? as u64,
                receipt: any_bytes(r.get_ref(1)?).unwrap_or_default(),
                result: any_bytes(r.get_ref(2)?),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?
    } else {
        Vec::new()
    };
    let mut stmt = conn.prepare(
        "SELECT activity_id, org_id, fingerprint, type, status, body, result, votes, created_at_ms, updated_at_ms
         FROM activities WHERE org_id = ?1 ORDER BY created_at_ms, rowid",
    )?;
    let activities = stmt
        .query_map([&org_text], activity)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let meta = |key: &str| -> Result<Option<Vec<u8>>, HostError> {
        Ok(conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    };
    let certificate = meta(AUDIT_KEY_META)?;
    let quorum = meta("quorum")?
        .map(|bytes| {
            postcard::from_bytes::<QuorumRecord>(&bytes)
                .map_err(|e| HostError::Store(format!("the stored quorum record: {e}")))
        })
        .transpose()?;
    Ok(AuditData {
        org_exists,
        receipts,
        activities,
        certificate,
        quorum,
    })
}
