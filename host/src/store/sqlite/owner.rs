//! One host per SQLite database.
//!
//! The SQLite store assumes it is the database's only writer: one writer thread groups commits,
//! and its caches of organizations, wallets and records are kept current by that thread alone.
//! A second host on the same file (a second `keyhold serve`) would commit behind those caches'
//! backs and both would answer from stale state. SQLite's own locks do not prevent that — they
//! serialise transactions, not processes — so the store holds an exclusive lock on a file beside
//! the database for as long as any of its threads or connections may still use it (the writer,
//! the checkpointer and the readers each keep a share). Several hosts sharing one database is
//! what the PostgreSQL store is for.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::lockfile::{self, Held};
use crate::store::StoreResult;

/// How long opening waits for a previous owner to let go: a store dropped in this process
/// releases its lock when its threads end, a moment after the drop.
const WAIT: Duration = Duration::from_secs(3);

/// This store's claim on its database; shared by everything that uses the database.
pub(super) type Ownership = Arc<Held>;

/// The lock file of the database at `db`: `keyhold.db` → `keyhold.db.owner`.
pub(super) fn lock_path(db: &Path) -> PathBuf {
    let mut name = lockfile::resolved(db).into_os_string();
    name.push(".owner");
    PathBuf::from(name)
}

/// Takes the database at `db` for this store, waiting up to [`WAIT`] for another owner to end.
pub(super) fn acquire(db: &Path) -> StoreResult<Ownership> {
    acquire_within(db, WAIT)
}

fn acquire_within(db: &Path, wait: Duration) -> StoreResult<Ownership> {
    let path = lock_path(db);
    let held = lockfile::hold(&path, wait, || {
        format!(
            "the database {} is in use by another keyhold host (it holds {}); \
             one host per SQLite database — use PostgreSQL for several",
            db.display(),
            path.display()
        )
    })?;
    Ok(Arc::new(held))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_owner_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("k.db");
        let first = acquire_within(&db, Duration::ZERO).unwrap();
        let share = first.clone();
        let refused = acquire_within(&db, Duration::from_millis(60)).unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("in use by another keyhold host"),
            "{refused}"
        );
        // Another spelling of the same file is the same database.
        let other_spelling = dir.path().join(".").join("k.db");
        assert!(acquire_within(&other_spelling, Duration::ZERO).is_err());
        // Every share must go before the database is free.
        drop(first);
        assert!(acquire_within(&db, Duration::ZERO).is_err());
        drop(share);
        acquire_within(&db, Duration::ZERO).unwrap();
    }

    #[test]
    fn opening_waits_for_an_owner_that_is_ending() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("k.db");
        let first = acquire_within(&db, Duration::ZERO).unwrap();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            drop(first);
        });
        acquire_within(&db, Duration::from_secs(5)).unwrap();
        releaser.join().unwrap();
    }
}
