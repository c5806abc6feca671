//! WAL checkpoints off the commit path.
//!
//! SQLite checkpoints from the connection that commits once the WAL has grown past
//! `wal_autocheckpoint` pages (1000 by default): the writer thread then copied about a thousand
//! pages into the database file — 1–6 ms of CPU on the 2-core bench machine, about once per
//! hundred signing activities — while every request waiting for its group commit waited too.
//! Those stalls were most of the latency tail at concurrency 8 (requests of 10–35 ms against a
//! median of 3.5 ms, clustered around slow groups).
//!
//! In WAL mode a PASSIVE checkpoint from another connection neither blocks nor waits for the
//! writer: it copies the frames every reader is done with while the writer keeps appending. So
//! a thread of its own, with its own connection, checkpoints after commits, at most every
//! [`PAUSE`].
//!
//! The WAL starts over from its beginning only when a write begins with every frame copied,
//! which under steady commits a checkpoint running beside the writer almost never achieves (in a
//! 20,000-request run at concurrency 64 the WAL grew to the writer's safety net, 4070 pages; with
//! the catch-up it peaked at 2275). So once the WAL holds
//! [`CATCH_UP_AT`] frames, this thread asks the writer to copy the few frames committed since,
//! between two of its transactions (`Checkpointer::take_catch_up`); its next write then restarts
//! the WAL. The writer keeps an automatic checkpoint only as a safety net, at
//! [`WRITER_AUTOCHECKPOINT`] pages, should this thread fall behind or stop.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use rusqlite::Connection;

use crate::error::HostError;
use crate::store::StoreResult;

/// Shortest time between two checkpoints. Under load each then copies about as many pages as
/// SQLite's automatic checkpoint did (~1000 at 2,000 signing activities per second): every
/// checkpoint ends with an fsync of the database and copies the hot pages (the B-trees' right
/// edges) again, and at 25 ms the host spent ~4% more CPU per request than with the writer's
/// own checkpoints (same-minute pairs).
const PAUSE: Duration = Duration::from_millis(100);

/// The writer's own automatic checkpoint, in WAL pages (16 MiB with 4 KiB pages).
pub(super) const WRITER_AUTOCHECKPOINT: i64 = 4000;

/// WAL frames after which the writer is asked to catch up (SQLite's default checkpoint size).
const CATCH_UP_AT: i64 = 1000;

/// The writer thread's handle on the checkpointing thread; dropping it stops the thread.
pub(super) struct Checkpointer {
    wake: SyncSender<()>,
    /// Set by the thread when the WAL is long and nearly all copied.
    catch_up: Arc<AtomicBool>,
}

impl Checkpointer {
    /// Starts the thread, with its own connection to the database at `path`. `runs` counts the
    /// checkpoints it completed.
    pub(super) fn spawn(
        connection: Connection,
        path: &Path,
        runs: Arc<AtomicU64>,
        ownership: Option<super::owner::Ownership>,
    ) -> StoreResult<Checkpointer> {
        // Room for one pending wake-up: commits while a checkpoint runs need only one more.
        let (wake, woken) = sync_channel(1);
        let catch_up = Arc::new(AtomicBool::new(false));
        let asked = catch_up.clone();
        let name = format!("keyhold-sqlite-checkpoint {}", path.display());
        std::thread::Builder::new()
            // 15 bytes: what Linux keeps of a thread name (the writer is `keyhold-sqlite-`).
            .name("keyhold-sqlckpt".into())
            .spawn(move || {
                run(&connection, &woken, &runs, &asked, &name);
                // The database stays claimed until this connection is closed.
                drop(connection);
                drop(ownership);
            })
            .map_err(|e| HostError::Store(e.to_string()))?;
        Ok(Checkpointer { wake, catch_up })
    }

    /// Whether the writer should copy the remaining frames now (between its transactions):
    /// asked once per long WAL.
    pub(super) fn take_catch_up(&self) -> bool {
        self.catch_up.swap(false, Ordering::Relaxed)
    }

    /// Called after each group commit: asks for a checkpoint without waiting for it.
    pub(super) fn committed(&self) {
        match self.wake.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) => {}
            // The thread ended (a panic in SQLite's bindings): the writer's own automatic
            // checkpoint still bounds the WAL.
            Err(TrySendError::Disconnected(())) => {}
        }
    }
}

fn run(
    connection: &Connection,
    woken: &Receiver<()>,
    runs: &AtomicU64,
    catch_up: &AtomicBool,
    name: &str,
) {
    let mut asked = woken.recv().is_ok();
    while asked {
        // (busy, frames in the WAL, frames copied); busy = 1: another checkpoint (the writer's)
        // held the lock, so this one did nothing.
        match connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?))
        }) {
            Ok((0, frames)) => {
                runs.fetch_add(1, Ordering::Relaxed);
                if frames >= CATCH_UP_AT {
                    catch_up.store(true, Ordering::Relaxed);
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(store = name, error = %e, "WAL checkpoint failed"),
        }
        asked = pause(woken);
    }
}

/// Waits [`PAUSE`], then for the next request if none came meanwhile; `false` once the store
/// is gone (its writer thread dropped the sender), so the thread and its connection end then.
fn pause(woken: &Receiver<()>) -> bool {
    let until = std::time::Instant::now() + PAUSE;
    let mut asked = false;
    loop {
        let left = until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            break;
        }
        match woken.recv_timeout(left) {
            Ok(()) => asked = true,
            Err(RecvTimeoutError::Timeout) => break,
            Err(RecvTimeoutError::Disconnected) => return false,
        }
    }
    asked || woken.recv().is_ok()
}
