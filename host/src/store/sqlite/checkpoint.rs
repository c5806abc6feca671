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
//! [`PAUSE`]. The writer keeps an automatic checkpoint only as a safety net, at
//! [`WRITER_AUTOCHECKPOINT`] pages, should this thread fall behind or stop.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
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

/// The writer thread's handle on the checkpointing thread; dropping it stops the thread.
pub(super) struct Checkpointer {
    wake: SyncSender<()>,
}

impl Checkpointer {
    /// Starts the thread, with its own connection to the database at `path`. `runs` counts the
    /// checkpoints it completed.
    pub(super) fn spawn(
        connection: Connection,
        path: &Path,
        runs: Arc<AtomicU64>,
    ) -> StoreResult<Checkpointer> {
        // Room for one pending wake-up: commits while a checkpoint runs need only one more.
        let (wake, woken) = sync_channel(1);
        let name = format!("keyhold-sqlite-checkpoint {}", path.display());
        std::thread::Builder::new()
            .name("keyhold-sqlite-checkpoint".into())
            .spawn(move || run(&connection, &woken, &runs, &name))
            .map_err(|e| HostError::Store(e.to_string()))?;
        Ok(Checkpointer { wake })
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

fn run(connection: &Connection, woken: &Receiver<()>, runs: &AtomicU64, name: &str) {
    while woken.recv().is_ok() {
        // (busy, frames in the WAL, frames copied): `busy` only says a concurrent checkpoint
        // was running, which this thread alone starts apart from the writer's safety net.
        match connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            row.get::<_, i64>(0)
        }) {
            Ok(_) => {
                runs.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => tracing::warn!(store = name, error = %e, "WAL checkpoint failed"),
        }
        std::thread::sleep(PAUSE);
    }
}
