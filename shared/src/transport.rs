//! Stream sockets for both address kinds, behind one listener and one stream type.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{UnixListener, UnixStream};
use tokio_vsock::{VsockAddr, VsockListener, VsockStream};

use crate::Address;

/// A connected stream socket, Unix or vsock.
#[derive(Debug)]
pub enum Stream {
    Unix(UnixStream),
    Vsock(VsockStream),
}

/// A listening socket, Unix or vsock.
#[derive(Debug)]
pub enum Listener {
    Unix(UnixListener),
    Vsock(VsockListener),
}

/// Connects to `addr`.
pub async fn connect(addr: &Address) -> io::Result<Stream> {
    match addr {
        Address::Unix(path) => Ok(Stream::Unix(UnixStream::connect(path).await?)),
        Address::Vsock { cid, port } => Ok(Stream::Vsock(
            VsockStream::connect(VsockAddr::new(*cid, *port)).await?,
        )),
    }
}

/// Binds `addr`. A stale Unix socket file left by a previous run is removed first: only a
/// socket file is removed, never anything else at that path.
pub fn bind(addr: &Address) -> io::Result<Listener> {
    match addr {
        Address::Unix(path) => {
            use std::os::unix::fs::FileTypeExt;
            if let Ok(meta) = std::fs::symlink_metadata(path)
                && meta.file_type().is_socket()
            {
                std::fs::remove_file(path)?;
            }
            Ok(Listener::Unix(UnixListener::bind(path)?))
        }
        Address::Vsock { cid, port } => Ok(Listener::Vsock(VsockListener::bind(VsockAddr::new(
            *cid, *port,
        ))?)),
    }
}

impl Listener {
    /// Accepts one connection.
    pub async fn accept(&mut self) -> io::Result<Stream> {
        match self {
            Listener::Unix(l) => Ok(Stream::Unix(l.accept().await?.0)),
            Listener::Vsock(l) => Ok(Stream::Vsock(l.accept().await?.0)),
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Unix(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Vsock(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Unix(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Vsock(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Unix(s) => Pin::new(s).poll_flush(cx),
            Stream::Vsock(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Unix(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Vsock(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
