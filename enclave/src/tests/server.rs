//! The socket server against hostile and busy peers.

use std::sync::Arc;
use std::time::Duration;

use keyhold_shared::frame;
use keyhold_shared::msg::{
    Hello, HelloReply, PROTOCOL_VERSION, Request, RequestFrame, Response, ResponseFrame,
};
use keyhold_shared::transport::{self, Stream};
use keyhold_shared::{Address, RequestId};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::Enclave;
use crate::server::{Limits, serve};

async fn start() -> (tempfile::TempDir, Address) {
    let dir = tempfile::tempdir().unwrap();
    let address = Address::Unix(dir.path().join("enclave.sock"));
    let listener = transport::bind(&address).unwrap();
    let enclave = Arc::new(Enclave::new().unwrap());
    tokio::spawn(serve(
        listener,
        enclave,
        Limits::default(),
        std::future::pending(),
    ));
    (dir, address)
}

async fn connect(address: &Address) -> Stream {
    let mut stream = transport::connect(address).await.unwrap();
    frame::write_message(&mut stream, &Hello::current())
        .await
        .unwrap();
    let reply: HelloReply = frame::read_message(&mut stream).await.unwrap().unwrap();
    assert!(matches!(
        reply,
        HelloReply::Accepted {
            version: PROTOCOL_VERSION,
            ..
        }
    ));
    stream
}

async fn status(stream: &mut Stream, id: u64) {
    frame::write_message(
        stream,
        &RequestFrame {
            id: RequestId(id),
            request: Request::Status,
        },
    )
    .await
    .unwrap();
    let answer: ResponseFrame = frame::read_message(stream).await.unwrap().unwrap();
    assert_eq!(answer.id, RequestId(id));
    assert!(matches!(answer.result, Ok(Response::Status(_))));
}

/// Reads until the peer closes; fails if it does not close within a few seconds.
async fn assert_closed(stream: &mut Stream) {
    let mut sink = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut sink)).await;
    assert!(
        matches!(read, Ok(Ok(_)) | Ok(Err(_))),
        "the enclave kept a bad connection open"
    );
}

#[tokio::test]
async fn garbage_and_oversized_frames_close_only_that_connection() {
    let (_dir, address) = start().await;
    let mut good = connect(&address).await;
    status(&mut good, 1).await;

    // 1. garbage instead of a handshake (an HTTP probe)
    let mut garbage = transport::connect(&address).await.unwrap();
    garbage
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert_closed(&mut garbage).await;

    // 2. a frame header announcing 4 GiB after a valid handshake
    let mut oversized = connect(&address).await;
    oversized
        .write_all(&[0xff, 0xff, 0xff, 0xff, 0, 0])
        .await
        .unwrap();
    assert_closed(&mut oversized).await;

    // 3. one byte over the limit, exactly
    let mut over_by_one = connect(&address).await;
    over_by_one
        .write_all(&((frame::MAX_FRAME_LEN as u32) + 1).to_be_bytes())
        .await
        .unwrap();
    assert_closed(&mut over_by_one).await;

    // 4. a well-framed payload that is not a request
    let mut malformed = connect(&address).await;
    malformed
        .write_all(&[0, 0, 0, 3, 0xff, 0xff, 0xff])
        .await
        .unwrap();
    assert_closed(&mut malformed).await;

    // 5. a request followed by trailing bytes inside the frame
    let mut trailing = connect(&address).await;
    let mut bytes = frame::encode(&RequestFrame {
        id: RequestId(9),
        request: Request::Status,
    })
    .unwrap();
    bytes.push(0);
    let len = (bytes.len() - 4) as u32;
    bytes[..4].copy_from_slice(&len.to_be_bytes());
    trailing.write_all(&bytes).await.unwrap();
    assert_closed(&mut trailing).await;

    // The first connection and new ones are still served.
    status(&mut good, 2).await;
    let mut fresh = connect(&address).await;
    status(&mut fresh, 3).await;
}

#[tokio::test]
async fn wrong_protocol_version_is_refused() {
    let (_dir, address) = start().await;
    let mut stream = transport::connect(&address).await.unwrap();
    let hello = Hello {
        version: PROTOCOL_VERSION + 1,
        ..Hello::current()
    };
    frame::write_message(&mut stream, &hello).await.unwrap();
    let reply: HelloReply = frame::read_message(&mut stream).await.unwrap().unwrap();
    assert_eq!(
        reply,
        HelloReply::Incompatible {
            supported: PROTOCOL_VERSION
        }
    );
    assert_closed(&mut stream).await;
}

/// Writes requests `0..n` without waiting for answers (pipelined, not lock-stepped): a
/// `BootKey` where `boot_key(id)`, else a `Status`.
async fn send_requests<W: AsyncWrite + Unpin>(writer: &mut W, n: u64, boot_key: fn(u64) -> bool) {
    for id in 0..n {
        let request = if boot_key(id) {
            Request::BootKey
        } else {
            Request::Status
        };
        let frame = RequestFrame {
            id: RequestId(id),
            request,
        };
        frame::write_message(writer, &frame).await.unwrap();
    }
}

/// Reads the answers to [`send_requests`]`(n, boot_key)`, in any order: each once, each of
/// the kind its request asked for.
async fn read_answers<R: AsyncRead + Unpin>(reader: &mut R, n: u64, boot_key: fn(u64) -> bool) {
    let mut seen = vec![false; n as usize];
    for _ in 0..n {
        let answer: ResponseFrame = frame::read_message(reader).await.unwrap().unwrap();
        let id = answer.id.0;
        assert!(!seen[id as usize], "answer {id} twice");
        seen[id as usize] = true;
        match answer.result.unwrap() {
            Response::Status(_) => assert!(!boot_key(id)),
            Response::BootKey(key) => {
                assert!(boot_key(id));
                assert_eq!(key.public_key.len(), 32);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(seen.iter().all(|s| *s));
}

#[tokio::test]
async fn many_requests_in_flight_on_one_connection() {
    let (_dir, address) = start().await;
    let stream = connect(&address).await;
    let (mut reader, mut writer) = tokio::io::split(stream);
    // Write all requests before reading any answer: they are pipelined, not lock-stepped.
    let n = 500u64;
    let odd = |id: u64| id % 2 == 1;
    let writer_task = tokio::spawn(async move {
        send_requests(&mut writer, n, odd).await;
        writer
    });
    read_answers(&mut reader, n, odd).await;
    writer_task.await.unwrap();
}

#[tokio::test]
async fn unprovisioned_enclave_refuses_client_work() {
    let (_dir, address) = start().await;
    let mut stream = connect(&address).await;
    let request = Request::Authenticate(keyhold_shared::msg::AuthenticateRequest {
        parent: None,
        request: keyhold_shared::msg::SignedRequest {
            body: b"{}".to_vec(),
            stamp: keyhold_shared::msg::Stamp::Missing,
        },
        org: keyhold_shared::msg::SealedOrgState {
            org_id: keyhold_shared::OrgId(keyhold_shared::Uuid::from_bytes([1; 16])),
            version: 1,
            nonce: [0; 24],
            ciphertext: vec![1, 2, 3],
        },
    });
    frame::write_message(
        &mut stream,
        &RequestFrame {
            id: RequestId(1),
            request,
        },
    )
    .await
    .unwrap();
    let answer: ResponseFrame = frame::read_message(&mut stream).await.unwrap().unwrap();
    assert_eq!(
        answer.result.unwrap_err().code,
        keyhold_shared::ErrorCode::NotProvisioned
    );
}

/// A peer that sends and never reads (a stopped host, or a hostile one) stalls only its own
/// connection: its answers wait holding its in-flight slots, the worker threads stay free, and
/// another connection is still served.
#[tokio::test]
async fn a_peer_that_never_reads_does_not_stall_the_others() {
    let (_dir, address) = start().await;
    let stalled = connect(&address).await;
    let (_unread, mut requests) = tokio::io::split(stalled);
    // Far more answers than the socket buffers, the answer channel and the slots hold.
    let flood = tokio::spawn(async move {
        for id in 0..50_000u64 {
            let frame = RequestFrame {
                id: RequestId(id),
                request: Request::Status,
            };
            if frame::write_message(&mut requests, &frame).await.is_err() {
                break;
            }
        }
    });
    // Let the flood fill everything up.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut other = connect(&address).await;
    tokio::time::timeout(Duration::from_secs(10), status(&mut other, 1))
        .await
        .expect("another connection is still served");
    flood.abort();
}

/// Answers written while the peer is not reading queue behind the full socket (`outbox.rs`)
/// and all reach it, once each, when it reads again. (Frames cut or reordered by partial writes:
/// `server/outbox/tests.rs`.)
#[tokio::test]
async fn answers_queued_behind_a_full_socket_arrive_whole() {
    let (_dir, address) = start().await;
    let stream = connect(&address).await;
    let (mut reader, mut writer) = tokio::io::split(stream);
    let n = 20_000u64;
    let third = |id: u64| id.is_multiple_of(3);
    let writer_task = tokio::spawn(async move {
        send_requests(&mut writer, n, third).await;
        writer
    });
    // Long enough for the socket to fill and answers to queue (and the reader to stop at the
    // connection's in-flight limit).
    tokio::time::sleep(Duration::from_millis(300)).await;
    tokio::time::timeout(Duration::from_secs(30), read_answers(&mut reader, n, third))
        .await
        .expect("every queued answer is written once the peer reads");
    writer_task.await.unwrap();
}

/// A peer that sends its requests and then shuts its side down still gets every answer, and
/// then the end of the stream.
#[tokio::test]
async fn answers_in_flight_when_the_peer_stops_sending_are_still_written() {
    let (_dir, address) = start().await;
    let mut stream = connect(&address).await;
    let n = 300u64;
    let all = |_: u64| true;
    send_requests(&mut stream, n, all).await;
    stream.shutdown().await.unwrap();
    tokio::time::timeout(Duration::from_secs(30), read_answers(&mut stream, n, all))
        .await
        .expect("every answer is written");
    let rest = tokio::time::timeout(
        Duration::from_secs(5),
        frame::read_message::<ResponseFrame, _>(&mut stream),
    )
    .await
    .expect("the enclave closes the connection after the last answer");
    assert!(matches!(rest, Ok(None)));
}
