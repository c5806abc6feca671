//! The enclave's socket server.
//!
//! Per connection: a handshake ([`Hello`] within [`HELLO_TIMEOUT`]), then a reader that decodes
//! request frames, a writer that sends responses as they finish (in any order), and the work in
//! between on the blocking thread pool so that signing never stalls socket I/O. Concurrency is
//! bounded twice: per connection (in-flight requests; the reader stops reading when the limit is
//! reached, which pushes back on the host) and globally (CPU workers). A malformed, oversized or
//! stalled frame ends that one connection; the listener and other connections carry on.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use keyhold_shared::frame::{self, FrameError};
use keyhold_shared::msg::{
    HELLO_MAGIC, Hello, HelloReply, PROTOCOL_VERSION, RequestFrame, ResponseFrame,
};
use keyhold_shared::transport::{Listener, Stream};
use keyhold_shared::{ErrorCode, WireError};
use tokio::io::{AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::{Semaphore, mpsc};

use crate::enclave::Enclave;

/// How long a new connection may take to send its [`Hello`].
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Requests in flight on one connection.
    pub per_connection: usize,
    /// Requests being computed at once across all connections.
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
            workers: cores * 2,
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
    let workers = Arc::new(Semaphore::new(limits.workers));
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
        let enclave = enclave.clone();
        let workers = workers.clone();
        tokio::spawn(async move {
            if let Err(e) = connection(stream, enclave, workers, limits).await {
                tracing::info!(error = %e, "connection closed");
            }
            drop(permit);
        });
    }
}

async fn connection(
    stream: Stream,
    enclave: Arc<Enclave>,
    workers: Arc<Semaphore>,
    limits: Limits,
) -> Result<(), FrameError> {
    let (mut reader, mut writer) = tokio::io::split(stream);
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
            status: enclave.status(),
        },
    )
    .await?;

    let (tx, rx) = mpsc::channel::<ResponseFrame>(limits.per_connection);
    let writer_task = tokio::spawn(write_responses(writer, rx));
    let result = read_requests(reader, enclave, workers, limits, tx).await;
    // The reader is done (EOF or a bad frame): let in-flight answers drain, then close.
    let _ = writer_task.await;
    result
}

async fn read_requests(
    mut reader: ReadHalf<Stream>,
    enclave: Arc<Enclave>,
    workers: Arc<Semaphore>,
    limits: Limits,
    tx: mpsc::Sender<ResponseFrame>,
) -> Result<(), FrameError> {
    let in_flight = Arc::new(Semaphore::new(limits.per_connection));
    loop {
        let Ok(slot) = in_flight.clone().acquire_owned().await else {
            return Ok(());
        };
        let Some(RequestFrame { id, request }) =
            frame::read_message::<RequestFrame, _>(&mut reader).await?
        else {
            return Ok(());
        };
        let enclave = enclave.clone();
        let workers = workers.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let result = match workers.acquire_owned().await {
                Ok(worker) => {
                    let answer = tokio::task::spawn_blocking(move || {
                        let _worker = worker;
                        enclave.handle(request)
                    })
                    .await;
                    answer.unwrap_or_else(|_| {
                        Err(WireError::new(
                            ErrorCode::Internal,
                            "request handler failed",
                        ))
                    })
                }
                Err(_) => Err(WireError::new(ErrorCode::Busy, "enclave is shutting down")),
            };
            let _ = tx.send(ResponseFrame { id, result }).await;
            drop(slot);
        });
    }
}

async fn write_responses(mut writer: WriteHalf<Stream>, mut rx: mpsc::Receiver<ResponseFrame>) {
    while let Some(response) = rx.recv().await {
        if let Err(e) = frame::write_message(&mut writer, &response).await {
            tracing::info!(error = %e, "writing a response failed");
            return;
        }
    }
    let _ = writer.shutdown().await;
}
