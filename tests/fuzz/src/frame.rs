//! The frame layer (`keyhold_shared::frame`): a header, a stream cut into frames, and each
//! payload decoded as every message type either side reads.

use std::fmt::Debug;
use std::time::Duration;

use keyhold_shared::frame::{self, MAX_FRAME_LEN};
use keyhold_shared::msg::{Hello, HelloReply, RequestFrame, ResponseFrame};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A small frame limit, so that both sides of the length check are reachable from small inputs.
const SMALL_MAX: usize = 4096;

pub fn run(data: &[u8]) {
    if let Some(&[a, b, c, d]) = data.get(..4) {
        let header = [a, b, c, d];
        if let Ok(len) = frame::check_header(header, MAX_FRAME_LEN) {
            assert!((1..=MAX_FRAME_LEN).contains(&len));
        }
    }
    // The whole input as one payload, then as a stream of frames.
    decode_all(data);
    for payload in read_frames(data) {
        decode_all(&payload);
    }
}

/// Reads frames from `data` as the enclave reads them from its socket, until the end of the
/// stream or the first error.
fn read_frames(data: &[u8]) -> Vec<Vec<u8>> {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    else {
        return Vec::new();
    };
    runtime.block_on(async {
        let mut reader = data;
        let mut frames = Vec::new();
        // An in-memory reader never stalls, so the timeout only guards against a bug here.
        while let Ok(Some(payload)) =
            frame::read_frame(&mut reader, SMALL_MAX, Duration::from_secs(5)).await
        {
            assert!(!payload.is_empty() && payload.len() <= SMALL_MAX);
            frames.push(payload);
        }
        frames
    })
}

fn decode_all(payload: &[u8]) {
    round_trip::<Hello>(payload);
    round_trip::<HelloReply>(payload);
    round_trip::<RequestFrame>(payload);
    round_trip::<ResponseFrame>(payload);
}

/// Whatever decodes must encode again and decode to the same message.
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(payload: &[u8]) {
    let Ok(message) = frame::decode::<T>(payload) else {
        return;
    };
    let encoded = frame::encode(&message).expect("a decoded message encodes");
    let again: T = frame::decode(encoded.get(4..).expect("a frame has a header"))
        .expect("an encoded message decodes");
    assert_eq!(again, message);
}
