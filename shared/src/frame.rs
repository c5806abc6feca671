//! Length-prefixed postcard frames: a 4-byte big-endian length, then exactly that many bytes of
//! one postcard-encoded message.
//!
//! Three outcomes when reading, as in mini-redis: a whole frame, a clean end of stream *between*
//! frames (`Ok(None)`), or an error (a length over the limit, a stream that ends inside a frame, a
//! frame that does not finish within the timeout). The length is checked against the limit
//! *before* the buffer is allocated, and the buffer only grows as bytes actually arrive, so a peer
//! that announces a large frame and sends nothing costs nothing.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest frame either side accepts. The largest legitimate message is an activity carrying
/// a request body (at most [`crate::msg::MAX_BODY_LEN`], 1 MiB), a sealed organization state (at
/// most [`crate::msg::MAX_SEALED_LEN`], 2 MiB) and a sealed seed: 4 MiB leaves headroom without
/// letting one connection pin much memory.
pub const MAX_FRAME_LEN: usize = 4 * 1024 * 1024;

/// How long the rest of a frame may take once its first byte has arrived. Idle time *between*
/// frames is not limited here (pooled connections sit idle); a peer that starts a frame and
/// stalls is cut off.
pub const FRAME_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Errors from encoding or decoding a frame. Decoding errors never echo the peer's bytes.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {len} bytes exceeds the {max}-byte limit")]
    TooLarge { len: usize, max: usize },
    #[error("empty frame")]
    Empty,
    #[error("stream ended inside a frame")]
    Truncated,
    #[error("frame not completed within {0:?}")]
    Timeout(Duration),
    #[error("frame does not decode as the expected message")]
    Malformed,
    #[error("frame has {0} trailing bytes after the message")]
    TrailingBytes(usize),
    #[error("message could not be encoded")]
    Encode,
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// Encodes `msg` as one frame (length prefix included).
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, FrameError> {
    // Reserve the prefix, serialise after it, then fill the prefix in.
    let mut out = postcard::to_extend(msg, vec![0u8; 4]).map_err(|_| FrameError::Encode)?;
    let len = out.len().saturating_sub(4);
    if len > MAX_FRAME_LEN {
        return Err(FrameError::TooLarge {
            len,
            max: MAX_FRAME_LEN,
        });
    }
    let prefix = u32::try_from(len)
        .map_err(|_| FrameError::Encode)?
        .to_be_bytes();
    if let Some(head) = out.get_mut(..4) {
        head.copy_from_slice(&prefix);
    }
    Ok(out)
}

/// Decodes one message from a frame's payload (without the length prefix). The whole payload
/// must be consumed: `postcard::from_bytes` ignores trailing bytes, so they are checked here.
pub fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<T, FrameError> {
    let (msg, rest) = postcard::take_from_bytes(payload).map_err(|_| FrameError::Malformed)?;
    if !rest.is_empty() {
        return Err(FrameError::TrailingBytes(rest.len()));
    }
    Ok(msg)
}

/// Checks a frame header and returns the payload length it announces.
pub fn check_header(header: [u8; 4], max: usize) -> Result<usize, FrameError> {
    let len = usize::try_from(u32::from_be_bytes(header)).map_err(|_| FrameError::Encode)?;
    if len == 0 {
        return Err(FrameError::Empty);
    }
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    Ok(len)
}

/// Reads one frame's payload. `Ok(None)` is a clean end of stream before any byte of a frame.
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    max: usize,
    timeout: Duration,
) -> Result<Option<Vec<u8>>, FrameError> {
    let mut header = [0u8; 4];
    // Wait (without a deadline) for the first byte, so that EOF between frames is recognised.
    let first = reader.read(&mut header[..1]).await?;
    if first == 0 {
        return Ok(None);
    }
    let rest = async {
        reader
            .read_exact(&mut header[1..])
            .await
            .map_err(eof_is_truncation)?;
        let len = check_header(header, max)?;
        // Grow with the data actually received rather than trusting `len` up front.
        let mut payload = Vec::with_capacity(len.min(64 * 1024));
        let read = (&mut *reader)
            .take(len as u64)
            .read_to_end(&mut payload)
            .await?;
        if read != len {
            return Err(FrameError::Truncated);
        }
        Ok(payload)
    };
    match tokio::time::timeout(timeout, rest).await {
        Ok(result) => result.map(Some),
        Err(_) => Err(FrameError::Timeout(timeout)),
    }
}

/// Reads and decodes one message; `Ok(None)` on a clean end of stream.
pub async fn read_message<T: DeserializeOwned, R: AsyncRead + Unpin>(
    reader: &mut R,
) -> Result<Option<T>, FrameError> {
    match read_frame(reader, MAX_FRAME_LEN, FRAME_READ_TIMEOUT).await? {
        Some(payload) => decode(&payload).map(Some),
        None => Ok(None),
    }
}

/// Encodes and writes one message, then flushes.
pub async fn write_message<T: Serialize, W: AsyncWrite + Unpin>(
    writer: &mut W,
    msg: &T,
) -> Result<(), FrameError> {
    let bytes = encode(msg)?;
    writer.write_all(&bytes).await?;
    writer.flush().await?;
    Ok(())
}

fn eof_is_truncation(e: std::io::Error) -> FrameError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        FrameError::Truncated
    } else {
        FrameError::Io(e)
    }
}

#[cfg(test)]
mod tests;
