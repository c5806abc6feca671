//! The host's side of the enclave socket: a small pool of connections, each pipelining many
//! requests (request ids; answers may arrive in any order), with a per-request timeout and
//! reconnection when the enclave goes away and comes back.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keyhold_shared::frame;
use keyhold_shared::msg::{Hello, HelloReply, Request, RequestFrameRef, Response, ResponseFrame};
use keyhold_shared::transport::{self, Stream};
use keyhold_shared::{Address, RequestId, WireError};
use tokio::io::{ReadHalf, WriteHalf};
use tokio::sync::oneshot;

use crate::error::HostError;

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Response, WireError>>>>>;

struct Connection {
    writer: tokio::sync::Mutex<WriteHalf<Stream>>,
    pending: Pending,
    alive: Arc<AtomicBool>,
    next_id: AtomicU64,
}

/// A pooled, pipelining client for the enclave.
pub struct EnclaveClient {
    address: Address,
    slots: Vec<tokio::sync::Mutex<Option<Arc<Connection>>>>,
    next_slot: AtomicUsize,
    timeout: Duration,
}

impl std::fmt::Debug for EnclaveClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnclaveClient")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl EnclaveClient {
    pub fn new(address: Address, pool_size: usize, timeout: Duration) -> Self {
        let slots = (0..pool_size.max(1))
            .map(|_| tokio::sync::Mutex::new(None))
            .collect();
        EnclaveClient {
            address,
            slots,
            next_slot: AtomicUsize::new(0),
            timeout,
        }
    }

    pub fn address(&self) -> &Address {
        &self.address
    }

    /// Sends one request and waits for its answer. A request that could not be *sent* (the
    /// connection was dead) is retried once on a fresh connection; one that was sent is never
    /// re-sent, since the enclave may already have acted on it.
    pub async fn call(&self, request: Request) -> Result<Response, HostError> {
        self.call_ref(&request).await
    }

    /// [`EnclaveClient::call`] with a borrowed request (it is encoded straight from it).
    pub async fn call_ref(&self, request: &Request) -> Result<Response, HostError> {
        let kind = request_kind(request);
        let metrics = crate::metrics::global();
        let started = std::time::Instant::now();
        metrics.enclave_in_flight(1);
        let result = self.call_once(request).await;
        metrics.enclave_in_flight(-1);
        let outcome = match &result {
            Ok(_) => "ok".to_owned(),
            Err(HostError::Enclave(e)) => format!("{:?}", e.code),
            Err(HostError::EnclaveTimeout(_)) => "timeout".to_owned(),
            Err(_) => "unavailable".to_owned(),
        };
        metrics.enclave_call(kind, &outcome, started.elapsed());
        result
    }

    async fn call_once(&self, request: &Request) -> Result<Response, HostError> {
        let slot = self.next_slot.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let mut last_error = None;
        for _ in 0..2 {
            let conn = self.connection(slot).await?;
            match self.send(&conn, request).await {
                Ok(receiver) => return self.wait(&conn, receiver).await,
                Err(e) => {
                    conn.alive.store(false, Ordering::SeqCst);
                    last_error = Some(e);
                }
            }
        }
        Err(last_error.unwrap_or_else(|| HostError::EnclaveUnavailable("no connection".into())))
    }

    async fn connection(&self, slot: usize) -> Result<Arc<Connection>, HostError> {
        let mut guard = self
            .slots
            .get(slot)
            .ok_or_else(|| HostError::EnclaveUnavailable("no pool slot".into()))?
            .lock()
            .await;
        if let Some(conn) = guard.as_ref()
            && conn.alive.load(Ordering::SeqCst)
        {
            return Ok(conn.clone());
        }
        let conn = Arc::new(connect(&self.address).await?);
        *guard = Some(conn.clone());
        Ok(conn)
    }

    async fn send(
        &self,
        conn: &Connection,
        request: &Request,
    ) -> Result<(u64, oneshot::Receiver<Result<Response, WireError>>), HostError> {
        let id = conn.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&conn.pending).insert(id, tx);
        let mut writer = conn.writer.lock().await;
        if let Err(e) = frame::write_message(
            &mut *writer,
            &RequestFrameRef {
                id: RequestId(id),
                request,
            },
        )
        .await
        {
            lock(&conn.pending).remove(&id);
            return Err(HostError::EnclaveUnavailable(e.to_string()));
        }
        Ok((id, rx))
    }

    async fn wait(
        &self,
        conn: &Connection,
        (id, receiver): (u64, oneshot::Receiver<Result<Response, WireError>>),
    ) -> Result<Response, HostError> {
        match tokio::time::timeout(self.timeout, receiver).await {
            Ok(Ok(answer)) => answer.map_err(HostError::Enclave),
            Ok(Err(_)) => Err(HostError::EnclaveUnavailable(
                "connection lost while waiting for an answer".into(),
            )),
            Err(_) => {
                lock(&conn.pending).remove(&id);
                Err(HostError::EnclaveTimeout(self.timeout))
            }
        }
    }
}

/// The request's kind, as a metrics label.
fn request_kind(request: &Request) -> &'static str {
    match request {
        Request::Status => "status",
        Request::Genesis(_) => "genesis",
        Request::BootKey => "boot_key",
        Request::Attest(_) => "attest",
        Request::Provision(_) => "provision",
        Request::Forward(_) => "forward",
        Request::UpdateManifest(_) => "update_manifest",
        Request::AcceptForward(_) => "accept_forward",
        Request::BootstrapOrg(_) => "bootstrap_org",
        Request::Authenticate(_) => "authenticate",
        Request::Activity(_) => "activity",
        Request::ReadOrg(_) => "read_org",
        Request::SignerKey => "signer_key",
        Request::AuditKey => "audit_key",
        Request::AuditResume(_) => "audit_resume",
        Request::AuditReceipts(_) => "audit_receipts",
        Request::AuditHead(_) => "audit_head",
        Request::Recover(_) => "recover",
        Request::SessionSigner => "session_signer",
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn connect(address: &Address) -> Result<Connection, HostError> {
    let unavailable =
        |e: &dyn std::fmt::Display| HostError::EnclaveUnavailable(format!("{address}: {e}"));
    let stream = transport::connect(address)
        .await
        .map_err(|e| unavailable(&e))?;
    let (mut reader, mut writer) = tokio::io::split(stream);
    frame::write_message(&mut writer, &Hello::current())
        .await
        .map_err(|e| unavailable(&e))?;
    let reply = tokio::time::timeout(
        Duration::from_secs(5),
        frame::read_message::<HelloReply, _>(&mut reader),
    )
    .await
    .map_err(|_| unavailable(&"no handshake answer"))?
    .map_err(|e| unavailable(&e))?;
    match reply {
        Some(HelloReply::Accepted { .. }) => {}
        Some(HelloReply::Incompatible { supported }) => {
            return Err(HostError::EnclaveUnavailable(format!(
                "enclave speaks protocol version {supported}"
            )));
        }
        None => return Err(unavailable(&"closed during handshake")),
    }
    let pending: Pending = Arc::new(Mutex::new(HashMap::new()));
    let alive = Arc::new(AtomicBool::new(true));
    crate::metrics::global().enclave_connections(1);
    tokio::spawn(read_responses(reader, pending.clone(), alive.clone()));
    Ok(Connection {
        writer: tokio::sync::Mutex::new(writer),
        pending,
        alive,
        next_id: AtomicU64::new(1),
    })
}

async fn read_responses(reader: ReadHalf<Stream>, pending: Pending, alive: Arc<AtomicBool>) {
    // Answers arrive in batches under load: read them from one buffer, not two or three system
    // calls per frame.
    let mut reader = tokio::io::BufReader::with_capacity(64 * 1024, reader);
    loop {
        match frame::read_message::<ResponseFrame, _>(&mut reader).await {
            Ok(Some(ResponseFrame { id, result })) => {
                if let Some(tx) = lock(&pending).remove(&id.0) {
                    let _ = tx.send(result);
                }
            }
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(error = %e, "enclave connection failed");
                break;
            }
        }
    }
    alive.store(false, Ordering::SeqCst);
    // Dropping the senders wakes every waiter with "connection lost".
    lock(&pending).clear();
}
