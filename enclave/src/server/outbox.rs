//! A connection's write side, shared by the worker threads and the connection's writer task.
//!
//! A worker that finishes a request writes its answer to the socket itself when the socket takes
//! it at once, which it nearly always does: handing every answer to the connection's task cost a
//! wake-up of the enclave's I/O thread (an `eventfd` write, an `epoll` return and a thread
//! switch) per answer, on a machine whose two cores the host shares. Only when the socket is full
//! (the host is not reading), or bytes are already waiting, does the answer join the queue that
//! the writer task sends as the socket drains — in order: once anything is queued, every later
//! answer queues behind it, so a frame's bytes are never split by another's.
//!
//! Each answer keeps its connection's in-flight slot until it is written, so answers queued for a
//! host that does not read never outnumber the connection's slots.

use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use tokio::io::AsyncWrite;
use tokio::sync::{Notify, OwnedSemaphorePermit};

/// Capacity a send buffer keeps between backlogs; a larger one is shrunk after its write.
const KEPT_CAPACITY: usize = 256 * 1024;

pub(super) struct Outbox<W> {
    state: Mutex<State<W>>,
    /// Wakes the writer task: bytes were queued, or the connection is closing.
    queued: Notify,
}

struct State<W> {
    writer: W,
    /// Bytes the writer task has yet to send, oldest first.
    pending: Vec<u8>,
    /// Slots of the answers in `pending`, released once those are written.
    slots: Vec<OwnedSemaphorePermit>,
    /// The writer task holds bytes taken from `pending` and is writing them. Only one side
    /// polls the socket for writing at a time — workers while this is false and `pending` is
    /// empty, the writer task while it is true — because the socket keeps a single write
    /// waker: a worker's no-op waker must never replace the one the writer task waits on.
    sending: bool,
    /// A write failed: answers are dropped unsent.
    closed: bool,
    /// The reader is done and every answer written or dropped (or the connection's future was
    /// dropped): the writer task shuts the socket down once nothing is queued.
    finishing: bool,
}

impl<W: AsyncWrite + Unpin> Outbox<W> {
    pub(super) fn new(writer: W) -> Self {
        Outbox {
            state: Mutex::new(State {
                writer,
                pending: Vec::new(),
                slots: Vec::new(),
                sending: false,
                closed: false,
                finishing: false,
            }),
            queued: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<W>> {
        // Nothing panics while holding the lock; a poisoned one is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether answers would still reach the host.
    pub(super) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Sends one encoded answer from a worker thread: written now if the socket takes all of
    /// it and nothing is queued ahead of it, else (the rest) queued for the writer task.
    pub(super) fn send(&self, bytes: &[u8], slot: OwnedSemaphorePermit) {
        let mut state = self.lock();
        if state.closed {
            return;
        }
        let mut written = 0;
        if state.pending.is_empty() && !state.sending {
            // A no-op waker: this thread does not wait for the socket. A `Pending` leaves it
            // registered only until the writer task polls with its own, which it does next.
            let mut cx = Context::from_waker(Waker::noop());
            while let Some(rest) = bytes.get(written..).filter(|rest| !rest.is_empty()) {
                match Pin::new(&mut state.writer).poll_write(&mut cx, rest) {
                    Poll::Ready(Ok(0)) => {
                        drop(state);
                        return self.fail(&std::io::ErrorKind::WriteZero.into());
                    }
                    Poll::Ready(Err(e)) => {
                        drop(state);
                        return self.fail(&e);
                    }
                    Poll::Ready(Ok(n)) => written += n,
                    Poll::Pending => break,
                }
            }
        }
        let Some(rest) = bytes.get(written..).filter(|rest| !rest.is_empty()) else {
            return; // all written: the slot goes back now
        };
        state.pending.extend_from_slice(rest);
        state.slots.push(slot);
        drop(state);
        self.queued.notify_one();
    }

    /// Gives up on the connection: queued and later answers are dropped, and the writer task
    /// (after the write it may be in) shuts the socket down, so the host sees the end of the
    /// stream rather than waiting for answers.
    pub(super) fn fail(&self, error: &std::io::Error) {
        tracing::info!(error = %error, "writing a response failed");
        self.lock().close();
        self.queued.notify_one();
    }

    /// Tells the writer task to shut the socket down once nothing is queued: called when the
    /// reader is done and every answer it took has been written or dropped.
    pub(super) fn finish(&self) {
        self.lock().finishing = true;
        self.queued.notify_one();
    }

    /// The connection's writer task: sends queued bytes as the socket takes them, until
    /// [`Outbox::finish`] with nothing queued, or a failed write; then shuts the socket down.
    pub(super) async fn run(&self) {
        let mut batch = Vec::new();
        loop {
            let next = {
                let mut state = self.lock();
                state.next_batch(&mut batch)
            };
            let slots = match next {
                Next::Stop => break,
                Next::Wait => {
                    self.queued.notified().await;
                    continue;
                }
                Next::Send(slots) => slots,
            };
            if let Err(e) = self.write_all(&batch).await {
                self.fail(&e);
                break;
            }
            drop(slots);
            // A backlog should not pin its buffer for the rest of the connection.
            batch.clear();
            if batch.capacity() > KEPT_CAPACITY {
                batch.shrink_to(KEPT_CAPACITY);
            }
        }
        // Also after a failed write (the socket may be only half broken): the host's reader
        // must see the end of the stream, not wait for answers that were dropped.
        self.lock().close();
        let _ =
            std::future::poll_fn(|cx| Pin::new(&mut self.lock().writer).poll_shutdown(cx)).await;
    }

    /// Writes `bytes` in order, waiting for the socket; the lock is held only while polling.
    async fn write_all(&self, bytes: &[u8]) -> std::io::Result<()> {
        let mut written = 0;
        while let Some(rest) = bytes.get(written..).filter(|rest| !rest.is_empty()) {
            let n =
                std::future::poll_fn(|cx| Pin::new(&mut self.lock().writer).poll_write(cx, rest))
                    .await?;
            if n == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            written += n;
        }
        Ok(())
    }
}

/// What the writer task does next.
enum Next {
    /// Send the batch, then release these slots (exactly the batch's answers').
    Send(Vec<OwnedSemaphorePermit>),
    /// Nothing queued: wait to be woken.
    Wait,
    /// Closed, or finishing with nothing queued.
    Stop,
}

impl<W> State<W> {
    /// Hands everything queued to the writer task, in `batch` (an emptied buffer, which
    /// becomes the next queue: swapping costs nothing however large the backlog).
    fn next_batch(&mut self, batch: &mut Vec<u8>) -> Next {
        if self.closed {
            return Next::Stop;
        }
        if self.pending.is_empty() {
            self.sending = false;
            return if self.finishing {
                Next::Stop
            } else {
                Next::Wait
            };
        }
        self.sending = true;
        batch.clear();
        std::mem::swap(&mut self.pending, batch);
        Next::Send(std::mem::take(&mut self.slots))
    }

    fn close(&mut self) {
        self.closed = true;
        self.pending = Vec::new();
        self.slots.clear();
    }
}

#[cfg(test)]
mod tests;
