//! Exclusive locks on files, held for as long as a value lives.
//!
//! `flock`-style (`File::try_lock`): the kernel drops the lock when the process ends, however
//! it ends, and it is separate from SQLite's `fcntl` byte-range locks.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::HostError;

/// Held while it lives; dropping it releases the lock.
#[derive(Debug)]
pub struct Held {
    _file: File,
}

/// Locks the file at `path` (created if missing), waiting up to `wait` for its holder to let
/// go; then fails with `busy` (which should say who holds it and what to do).
pub fn hold(path: &Path, wait: Duration, busy: impl FnOnce() -> String) -> Result<Held, HostError> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| HostError::Store(format!("cannot open {}: {e}", path.display())))?;
    let started = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Held { _file: file }),
            Err(TryLockError::WouldBlock) if started.elapsed() < wait => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(TryLockError::WouldBlock) => return Err(HostError::Config(busy())),
            Err(TryLockError::Error(e)) => {
                return Err(HostError::Store(format!(
                    "cannot lock {}: {e}",
                    path.display()
                )));
            }
        }
    }
}

/// `path` with its directory resolved (symbolic links, `..`), so that two spellings of one
/// file lock the same lock file; the file itself need not exist yet.
pub fn resolved(path: &Path) -> PathBuf {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return path.to_owned();
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    match std::fs::canonicalize(dir) {
        Ok(dir) => dir.join(name),
        Err(_) => path.to_owned(),
    }
}
