//! One host per SQLite database.
//!
//! The SQLite store assumes it is the database's only writer: one writer thread groups commits,
//! and its caches of organizations, wallets and records are kept current by that thread alone.
//! A second host on the same file (a second `keyhold serve`, or `keyhold dev` started twice on
//! one data directory) would commit behind those caches' backs and both would answer from stale
//! state. SQLite's own locks do not prevent that — they serialise transactions, not processes —
//! so the store holds an exclusive lock on a file beside the database for as long as its writer
//! runs. Several hosts sharing one database is what the PostgreSQL store is for.
//!
//! The lock is `flock`-style (`File::try_lock`), separate from SQLite's `fcntl` byte-range
//! locks on the database itself; the kernel drops it when the process ends, however it ends.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::HostError;
use crate::store::StoreResult;

/// How long opening waits for a previous owner to let go: a store dropped in this process
/// releases its lock when its writer thread ends, a moment after the drop.
const WAIT: Duration = Duration::from_secs(3);

/// Held while the store's writer runs; dropping it releases the database.
#[derive(Debug)]
pub(super) struct Ownership {
    _file: File,
}

/// The lock file of the database at `db`: `keyhold.db` → `keyhold.db.owner`.
pub(super) fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".owner");
    PathBuf::from(name)
}

/// Takes the database at `db` for this store, waiting up to [`WAIT`] for another owner to end.
pub(super) fn acquire(db: &Path) -> StoreResult<Ownership> {
    acquire_within(db, WAIT)
}

fn acquire_within(db: &Path, wait: Duration) -> StoreResult<Ownership> {
    let path = lock_path(db);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| HostError::Store(format!("cannot open {}: {e}", path.display())))?;
    let started = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Ownership { _file: file }),
            Err(TryLockError::WouldBlock) if started.elapsed() < wait => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(HostError::Config(format!(
                    "the database {} is in use by another keyhold host (it holds {}); \
                     one host per SQLite database — use PostgreSQL for several",
                    db.display(),
                    path.display()
                )));
            }
            Err(TryLockError::Error(e)) => {
                return Err(HostError::Store(format!(
                    "cannot lock {}: {e}",
                    path.display()
                )));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_owner_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("k.db");
        let first = acquire_within(&db, Duration::ZERO).unwrap();
        let refused = acquire_within(&db, Duration::from_millis(60)).unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("in use by another keyhold host"),
            "{refused}"
        );
        drop(first);
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
