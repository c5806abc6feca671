//! The enclave's socket server.
//!
//! Per connection: a handshake ([`Hello`] within [`HELLO_TIMEOUT`]), then a reader that decodes
//! request frames, and the work on a fixed pool of worker threads so that signing never
//! stalls socket I/O; each worker writes its answer itself as it finishes (in any order), or
//! queues it for the connection's writer task when the socket is full or answers are already
//! queued (`server/outbox.rs`). Concurrency is bounded twice: per connection (in-flight requests; the reader
//! stops reading when the limit is reached, which pushes back on the host) and globally (the
//! worker threads). A malformed, oversized or stalled frame ends that one connection; the
//! listener and other connections carry on.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use keyhold_shared::frame::{self, FrameError};
use keyhold_shared::msg::{
    HELLO_MAGIC, Hello, HelloReply, PROTOCOL_VERSION, RequestFrame, ResponseFrame,
};
use keyhold_shared::transport::{Listener, Stream};
use keyhold_shared::{ErrorCode, WireError};
use tokio::io::{BufReader, ReadHalf, WriteHalf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use outbox::Outbox;

use crate::enclave::Enclave;

mod outbox;

/// How long a new connection may take to send its [`Hello`].
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Requests in flight on one connection.
    pub per_connection: usize,
    /// Worker threads: requests being computed at once across all connections.
    pub workers: usize,
    /// Open connections.
    pub connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        Limits {
            per_connection: 256,
            // The work is CPU-bound: one thread per core. More only added thread switches.
            workers: cores,
            connections: 256,
        }
    }
}

/// Serves connections until `shutdown` completes.
pub async fn serve(
    mut listener: Listener,
    enclave: Arc<Enclave>,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let Some(workers) = Workers::start(limits.workers, enclave) else {
        tracing::error!("no worker thread could be started; not serving");
        return;
    };
    let connections = Arc::new(Semaphore::new(limits.connections));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => return,
            permit = connections.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let stream = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(stream) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let workers = workers.clone();
        tokio::spawn(async move {
            if let Err(e) = connection(stream, workers, limits).await {
                tracing::info!(error = %e, "connection closed");
            }
            drop(permit);
        });
    }
}

async fn connection(stream: Stream, workers: Workers, limits: Limits) -> Result<(), FrameError> {
    let (reader, mut writer) = tokio::io::split(stream);
    // Under load many frames arrive together: read them from one buffer, not two or three
    // system calls per frame.
    let mut reader = BufReader::with_capacity(READ_BUFFER, reader);
    let hello: Hello =
        match tokio::time::timeout(HELLO_TIMEOUT, frame::read_message(&mut reader)).await {
            Ok(Ok(Some(hello))) => hello,
            Ok(Ok(None)) => return Ok(()),
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(FrameError::Timeout(HELLO_TIMEOUT)),
        };
    if hello.magic != HELLO_MAGIC || hello.version != PROTOCOL_VERSION {
        let reply = HelloReply::Incompatible {
            supported: PROTOCOL_VERSION,
        };
        frame::write_message(&mut writer, &reply).await?;
        return Err(FrameError::Malformed);
    }
    frame::write_message(
        &mut writer,
        &HelloReply::Accepted {
            version: PROTOCOL_VERSION,
            status: workers.enclave.status(),
        },
    )
    .await?;

    let outbox = Arc::new(Outbox::new(writer));
    let writer_task = tokio::spawn({
        let outbox = outbox.clone();
        async move { outbox.run().await }
    });
    // Also if this future were dropped: the writer task would otherwise wait forever.
    let finish = FinishOnDrop(outbox.clone());
    let in_flight = Arc::new(Semaphore::new(limits.per_connection));
    let result = read_requests(reader, &workers, &in_flight, &outbox).await;
    // The reader is done (EOF or a bad frame): once every request it took is answered (its slot
    // is back when its answer was written or dropped), the writer task closes the socket.
    let all = u32::try_from(limits.per_connection).unwrap_or(u32::MAX);
    let _ = in_flight.acquire_many(all).await;
    drop(finish);
    let _ = writer_task.await;
    result
}

/// A connection's write side (`server/outbox.rs`).
type ConnectionOutbox = Outbox<WriteHalf<Stream>>;

/// Lets the writer task finish when the connection's reader is done.
struct FinishOnDrop(Arc<ConnectionOutbox>);

impl Drop for FinishOnDrop {
    fn drop(&mut self) {
        self.0.finish();
    }
}

/// Bytes read from a connection at once.
const READ_BUFFER: usize = 64 * 1024;

async fn read_requests(
    mut reader: BufReader<ReadHalf<Stream>>,
    workers: &Workers,
    in_flight: &Arc<Semaphore>,
    outbox: &Arc<ConnectionOutbox>,
) -> Result<(), FrameError> {
    loop {
        let Ok(slot) = in_flight.clone().acquire_owned().await else {
            return Ok(());
        };
        let Some(RequestFrame { id, request }) =
            frame::read_message::<RequestFrame, _>(&mut reader).await?
        else {
            return Ok(());
        };
        workers.submit(Job {
            id,
            request,
            outbox: outbox.clone(),
            slot,
        });
    }
}

/// One decoded request waiting for a worker.
struct Job {
    id: keyhold_shared::RequestId,
    request: keyhold_shared::msg::Request,
    outbox: Arc<ConnectionOutbox>,
    /// The connection's in-flight slot, released once the answer is written.
    slot: OwnedSemaphorePermit,
}

/// The worker threads and their queue. Cloned into every connection; the threads stop when
/// the last clone is dropped (after the queue drains).
#[derive(Clone)]
struct Workers {
    enclave: Arc<Enclave>,
    queue: Arc<Queue>,
    _stop: Arc<StopOnDrop>,
}

#[derive(Default)]
struct Queue {
    state: Mutex<QueueState>,
    ready: Condvar,
}

#[derive(Default)]
struct QueueState {
    jobs: VecDeque<Job>,
    closed: bool,
    /// Workers waiting for a job. A notification is a system call even when nobody waits, and
    /// under load every worker is busy when a job arrives.
    idle: usize,
}

/// Closes the queue when the last [`Workers`] handle goes.
struct StopOnDrop(Arc<Queue>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.ready.notify_all();
    }
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        // A worker never panics while holding the lock (handlers run outside it).
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next job, waiting for one; `None` once the queue is closed and empty.
    fn next(&self) -> Option<Job> {
        let mut state = self.lock();
        loop {
            if let Some(job) = state.jobs.pop_front() {
                return Some(job);
            }
            if state.closed {
                return None;
            }
            state.idle += 1;
            state = self.ready.wait(state).unwrap_or_else(|p| p.into_inner());
            state.idle -= 1;
        }
    }
}

impl Workers {
    /// Starts `threads` workers; `None` if not even one could be started.
    fn start(threads: usize, enclave: Arc<Enclave>) -> Option<Self> {
        let queue = Arc::new(Queue::default());
        // Closes the queue (and so stops the started threads) if this returns `None`.
        let stop = Arc::new(StopOnDrop(queue.clone()));
        let mut started = 0;
        for n in 0..threads.max(1) {
            let (queue, enclave) = (queue.clone(), enclave.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("keyhold-worker-{n}"))
                .spawn(move || work(&queue, &enclave));
            match spawned {
                Ok(_) => started += 1,
                Err(e) => tracing::error!(error = %e, "cannot start a worker thread"),
            }
        }
        (started > 0).then_some(Workers {
            enclave,
            _stop: stop,
            queue,
        })
    }

    fn submit(&self, job: Job) {
        let mut state = self.queue.lock();
        state.jobs.push_back(job);
        // A busy worker takes the job from the queue when it is done with its current one.
        let wake = state.idle > 0;
        drop(state);
        if wake {
            self.queue.ready.notify_one();
        }
    }
}

fn work(queue: &Queue, enclave: &Enclave) {
    while let Some(job) = queue.next() {
        let Job {
            id,
            request,
            outbox,
            slot,
        } = job;
        if outbox.is_closed() {
            // The connection is gone and nobody will read the answer: the request is dropped
            // unread, as if it had never arrived.
            continue;
        }
        // No handler panics by design; if one did, this request fails and the worker lives on.
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| enclave.handle(request)))
            .unwrap_or_else(|_| {
                Err(WireError::new(
                    ErrorCode::Internal,
                    "request handler failed",
                ))
            });
        let response = ResponseFrame { id, result };
        let encoded = frame::encode(&response).or_else(|e| {
            // Too large to send, say: that request fails; the others still go out.
            tracing::info!(error = %e, "encoding a response failed");
            frame::encode(&ResponseFrame {
                id: response.id,
                result: Err(WireError::new(
                    ErrorCode::Internal,
                    "the answer could not be encoded",
                )),
            })
        });
        match encoded {
            Ok(bytes) => outbox.send(&bytes, slot),
            // Not even the error frame: end the connection rather than leave the host waiting
            // for this answer forever.
            Err(e) => outbox.fail(&std::io::Error::other(e)),
        }
    }
}
