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

/// Shortest time between two checkpoints. Each checkpoint ends with an fsync of the database
/// file, and the group commits' WAL fsyncs queue behind it on the disk: at 100 ms (~270
/// activities, ~1 MiB of pages per checkpoint) that fsync took ~3 ms and the latency tail at
/// concurrency 8 came in bursts exactly ~100 ms apart (every in-flight request waiting on one
/// stalled commit). At 25 ms the stalls are a quarter as long and the bursts gone: p99 at
/// concurrency 8 was lower in 3 of 3 alternating pairs (7.2/7.2/8.3 → 6.1/6.8/5.9 ms) with no
/// more host CPU per request; 10 ms was no better than 25 in 3 more pairs. (Session 7 had
/// measured ~4% more host CPU at 25 ms, when commits still woke this thread every time.)
const PAUSE: Duration = Duration::from_millis(25);

/// The writer's own automatic checkpoint, in WAL pages (16 MiB with 4 KiB pages).
pub(super) const WRITER_AUTOCHECKPOINT: i64 = 4000;

/// WAL frames after which the writer is asked to catch up (SQLite's default checkpoint size).
const CATCH_UP_AT: i64 = 1000;

/// The writer thread's handle on the checkpointing thread; dropping it stops the thread.
pub(super) struct Checkpointer {
    /// Wakes the thread when it waits for a commit (and, dropped, ends it).
    wake: SyncSender<()>,
    signals: Arc<Signals>,
}

/// What the writer and the thread tell each other without a system call.
#[derive(Default)]
struct Signals {
    /// Set by the thread when the WAL is long and nearly all copied.
    catch_up: AtomicBool,
    /// A commit happened since the thread last looked.
    committed: AtomicBool,
    /// The thread is blocked until the next commit: only then does a commit wake it. Waking it
    /// at every commit during its pause cost the writer a system call and the thread a switch
    /// per group (0.74 switches per signing request at concurrency 8).
    idle: AtomicBool,
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
        // Room for one pending wake-up: the thread needs no more to know it should run.
        let (wake, woken) = sync_channel(1);
        let signals = Arc::new(Signals::default());
        let shared = signals.clone();
        let name = format!("keyhold-sqlite-checkpoint {}", path.display());
        std::thread::Builder::new()
            // 15 bytes: what Linux keeps of a thread name (the writer is `keyhold-sqlite-`).
            .name("keyhold-sqlckpt".into())
            .spawn(move || {
                run(&connection, &woken, &runs, &shared, &name);
                // The database stays claimed until this connection is closed.
                drop(connection);
                drop(ownership);
            })
            .map_err(|e| HostError::Store(e.to_string()))?;
        Ok(Checkpointer { wake, signals })
    }

    /// Whether the writer should copy the remaining frames now (between its transactions):
    /// asked once per long WAL.
    pub(super) fn take_catch_up(&self) -> bool {
        self.signals.catch_up.swap(false, Ordering::Relaxed)
    }

    /// Called after each group commit: asks for a checkpoint without waiting for it.
    pub(super) fn committed(&self) {
        // SeqCst on both flags, here and in `wait_for_commit`: of "commit, then see idle" and
        // "idle, then see no commit" at least one side sees the other's store, so a commit is
        // never left unnoticed by a sleeping thread.
        self.signals.committed.store(true, Ordering::SeqCst);
        if self.signals.idle.load(Ordering::SeqCst) {
            match self.wake.try_send(()) {
                Ok(()) | Err(TrySendError::Full(())) => {}
                // The thread ended (a panic in SQLite's bindings): the writer's own automatic
                // checkpoint still bounds the WAL.
                Err(TrySendError::Disconnected(())) => {}
            }
        }
    }
}

fn run(
    connection: &Connection,
    woken: &Receiver<()>,
    runs: &AtomicU64,
    signals: &Signals,
    name: &str,
) {
    while wait_for_commit(woken, signals) {
        // (busy, frames in the WAL, frames copied); busy = 1: another checkpoint (the writer's)
        // held the lock, so this one did nothing.
        match connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?))
        }) {
            Ok((0, frames)) => {
                runs.fetch_add(1, Ordering::Relaxed);
                if frames >= CATCH_UP_AT {
                    signals.catch_up.store(true, Ordering::Relaxed);
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(store = name, error = %e, "WAL checkpoint failed"),
        }
        if !pause(woken) {
            return;
        }
    }
}

/// Waits until a commit happened since the last look (at once if one did); `false` once the
/// store is gone (its writer thread dropped the sender), so the thread and its connection end.
fn wait_for_commit(woken: &Receiver<()>, signals: &Signals) -> bool {
    loop {
        if signals.committed.swap(false, Ordering::SeqCst) {
            return true;
        }
        signals.idle.store(true, Ordering::SeqCst);
        if signals.committed.swap(false, Ordering::SeqCst) {
            signals.idle.store(false, Ordering::SeqCst);
            return true;
        }
        let received = woken.recv();
        signals.idle.store(false, Ordering::SeqCst);
        if received.is_err() {
            return false;
        }
        // A wake-up left over from an earlier round finds no commit: wait again.
    }
}

/// Waits [`PAUSE`]; `false` if the store went meanwhile (noticed at once: the sender is dropped).
/// Commits do not wake the thread here (it is not idle).
fn pause(woken: &Receiver<()>) -> bool {
    let until = std::time::Instant::now() + PAUSE;
    loop {
        let left = until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return true;
        }
        match woken.recv_timeout(left) {
            // A wake-up sent just before the thread stopped being idle.
            Ok(()) => {}
            Err(RecvTimeoutError::Timeout) => return true,
            Err(RecvTimeoutError::Disconnected) => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn wait_for(runs: &AtomicU64, at_least: u64) -> bool {
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if runs.load(Ordering::Relaxed) >= at_least {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    /// A commit wakes an idle thread; commits during its pause are not lost (one checkpoint
    /// follows the pause) but do not each make one; dropping the handle ends the thread.
    #[test]
    fn commits_are_noticed_once_per_pause() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        let runs = Arc::new(AtomicU64::new(0));
        let checkpointer = Checkpointer::spawn(conn, &path, runs.clone(), None).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(runs.load(Ordering::Relaxed), 0, "no commit, no checkpoint");
        checkpointer.committed();
        assert!(wait_for(&runs, 1), "an idle thread was not woken");
        // Within the pause that follows: many commits, one checkpoint after it.
        for _ in 0..50 {
            checkpointer.committed();
        }
        assert!(wait_for(&runs, 2), "commits during the pause were lost");
        std::thread::sleep(PAUSE * 3);
        assert_eq!(runs.load(Ordering::Relaxed), 2);
        // Idle again, and woken again.
        checkpointer.committed();
        assert!(wait_for(&runs, 3));
        let signals = checkpointer.signals.clone();
        drop(checkpointer);
        // The thread holds the other reference until it ends.
        let until = Instant::now() + Duration::from_secs(5);
        while Arc::strong_count(&signals) > 1 {
            assert!(Instant::now() < until, "the thread did not end");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
