//! The outbox against a socket that takes a few bytes at a time and often would block.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use tokio::io::AsyncWrite;
use tokio::sync::Semaphore;

use super::Outbox;

/// Takes at most `max` bytes per write and answers every third poll with `Pending` (waking the
/// poller at once, as a socket that drains quickly would); records what it took.
struct Choppy {
    taken: Arc<Mutex<Vec<u8>>>,
    polls: u64,
    max: usize,
    shut: Arc<Mutex<bool>>,
}

impl AsyncWrite for Choppy {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.polls += 1;
        if self.polls.is_multiple_of(3) {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let n = buf.len().min(self.max);
        self.taken.lock().unwrap().extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        *self.shut.lock().unwrap() = true;
        Poll::Ready(Ok(()))
    }
}

/// A frame as the workers send them: a 4-byte length, then `sender`, `seq` and filler.
fn frame(sender: u8, seq: u32, len: usize) -> Vec<u8> {
    let mut payload = vec![sender];
    payload.extend_from_slice(&seq.to_be_bytes());
    payload.resize(len.max(5), sender ^ (seq as u8));
    let mut out = (payload.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&payload);
    out
}

/// Four threads send frames of many sizes at once, partly written directly and partly queued:
/// the bytes that reach the socket are every frame, whole, each sender's in its order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_from_many_threads_arrive_whole_and_in_each_senders_order() {
    let taken = Arc::new(Mutex::new(Vec::new()));
    let shut = Arc::new(Mutex::new(false));
    let outbox = Arc::new(Outbox::new(Choppy {
        taken: taken.clone(),
        polls: 0,
        max: 700,
        shut: shut.clone(),
    }));
    let writer = tokio::spawn({
        let outbox = outbox.clone();
        async move { outbox.run().await }
    });
    let slots = Arc::new(Semaphore::new(64));
    let per_sender = 400u32;
    let senders: Vec<_> = (0..4u8)
        .map(|sender| {
            let (outbox, slots) = (outbox.clone(), slots.clone());
            std::thread::spawn(move || {
                for seq in 0..per_sender {
                    let slot = loop {
                        match slots.clone().try_acquire_owned() {
                            Ok(slot) => break slot,
                            Err(_) => std::thread::yield_now(),
                        }
                    };
                    let len = 5 + (seq as usize * 37 + sender as usize * 101) % 2500;
                    outbox.send(&frame(sender, seq, len), slot);
                }
            })
        })
        .collect();
    for sender in senders {
        sender.join().unwrap();
    }
    // Every slot comes back once its answer is written.
    let all = slots.acquire_many(64).await.unwrap();
    drop(all);
    outbox.finish();
    writer.await.unwrap();
    assert!(*shut.lock().unwrap(), "the socket is shut down at the end");

    let bytes = taken.lock().unwrap().clone();
    let mut next_seq = [0u32; 4];
    let mut at = 0;
    while at < bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let payload = &bytes[at + 4..at + 4 + len];
        let sender = payload[0] as usize;
        let seq = u32::from_be_bytes(payload[1..5].try_into().unwrap());
        assert_eq!(
            seq, next_seq[sender],
            "sender {sender}'s frames out of order or cut"
        );
        assert_eq!(
            &frame(sender as u8, seq, len)[4..],
            payload,
            "frame {sender}/{seq} arrived whole"
        );
        next_seq[sender] += 1;
        at += 4 + len;
    }
    assert_eq!(next_seq, [per_sender; 4]);
}

/// Would block until `broken` is set, then fails every write; wakes the last poller when it
/// breaks, as the I/O driver does when a socket reports an error.
#[derive(Clone, Default)]
struct Breaking {
    broken: Arc<Mutex<bool>>,
    waiting: Arc<Mutex<Option<Waker>>>,
    shut: Arc<Mutex<bool>>,
}

impl Breaking {
    fn break_now(&self) {
        *self.broken.lock().unwrap() = true;
        if let Some(waker) = self.waiting.lock().unwrap().take() {
            waker.wake();
        }
    }
}

impl AsyncWrite for Breaking {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        _: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if *self.broken.lock().unwrap() {
            return Poll::Ready(Err(std::io::ErrorKind::BrokenPipe.into()));
        }
        *self.waiting.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        *self.shut.lock().unwrap() = true;
        Poll::Ready(Ok(()))
    }
}

/// Answers queued behind a socket that would block are dropped when its write fails: every
/// slot comes back, later answers are dropped at once, and the writer task shuts the socket down
/// (the host sees the end of the stream instead of waiting).
#[tokio::test]
async fn a_failed_write_drops_the_queue_and_returns_the_slots() {
    let socket = Breaking::default();
    let outbox = Arc::new(Outbox::new(socket.clone()));
    let writer = tokio::spawn({
        let outbox = outbox.clone();
        async move { outbox.run().await }
    });
    let slots = Arc::new(Semaphore::new(8));
    let send = |seq| {
        let slot = slots.clone().try_acquire_owned().unwrap();
        outbox.send(&frame(0, seq, 10), slot);
    };
    send(0);
    // The writer task takes it and waits for the socket; what follows queues behind it.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    for seq in 1..4 {
        send(seq);
    }
    assert!(!outbox.is_closed());
    assert_eq!(
        slots.available_permits(),
        4,
        "queued answers hold their slots"
    );
    socket.break_now();
    tokio::time::timeout(std::time::Duration::from_secs(5), writer)
        .await
        .expect("the writer task stops after a failed write")
        .unwrap();
    assert!(outbox.is_closed());
    assert_eq!(slots.available_permits(), 8, "every slot is back");
    assert!(*socket.shut.lock().unwrap(), "the socket is shut down");
    send(4);
    assert_eq!(
        slots.available_permits(),
        8,
        "a later answer is dropped at once"
    );
}
