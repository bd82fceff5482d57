//! Unix-domain stream sockets: [`UnixListener`], [`UnixStream`].

use std::fmt;
use std::io;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::io::{AsyncRead, AsyncWrite, ReadBuf};
use crate::reactor::registration::PollEvented;
use crate::reactor::scheduled_io::Direction;

use super::split::{self, OwnedReadHalf, OwnedWriteHalf, ReadHalf, SplitStream, WriteHalf};

/// A Unix-domain socket listening for connections.
pub struct UnixListener {
    pub(super) io: PollEvented<mio::net::UnixListener>,
}

impl UnixListener {
    /// Binds to `path` and listens. The path must not exist yet.
    ///
    /// # Errors
    /// The OS's (`AddrInUse` if the path exists); or outside a runtime.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        crate::reactor::refuse_under_loom()?;
        let listener = mio::net::UnixListener::bind(path)?;
        Ok(UnixListener {
            io: PollEvented::with_interest(listener, mio::Interest::READABLE)?,
        })
    }

    /// Waits for a connection.
    ///
    /// # Errors
    /// The OS's (e.g. `EMFILE`; the listener stays usable).
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (stream, addr) = self
            .io
            .registration()
            .async_io(Direction::Read, || self.io.get_ref().accept())
            .await?;
        Ok((UnixStream::from_mio(stream)?, addr))
    }

    /// The address this listener is bound to.
    ///
    /// # Errors
    /// The OS's.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

/// A Unix-domain stream connection.
///
/// ```
/// use spindle::io::{AsyncReadExt, AsyncWriteExt};
/// spindle::block_on(async {
///     let (mut a, mut b) = spindle::net::UnixStream::pair().unwrap();
///     a.write_all(b"over the socketpair").await.unwrap();
///     a.shutdown().await.unwrap();
///     let mut got = String::new();
///     let mut bytes = Vec::new();
///     b.read_to_end(&mut bytes).await.unwrap();
///     got.push_str(std::str::from_utf8(&bytes).unwrap());
///     assert_eq!(got, "over the socketpair");
/// });
/// ```
pub struct UnixStream {
    pub(super) io: PollEvented<mio::net::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket at `path`.
    ///
    /// # Errors
    /// The OS's (`NotFound`, `ConnectionRefused`, ...); or outside a runtime.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        crate::reactor::refuse_under_loom()?;
        let stream = UnixStream::from_mio(mio::net::UnixStream::connect(path)?)?;
        loop {
            let event = stream.io.registration().readiness(Direction::Write).await?;
            if let Some(error) = stream.io.get_ref().take_error()? {
                return Err(error);
            }
            match stream.io.get_ref().peer_addr() {
                Ok(_) => return Ok(stream),
                Err(error) if error.kind() == io::ErrorKind::NotConnected => {
                    stream.io.registration().clear_readiness(event);
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// A connected pair, as `socketpair(2)` makes.
    ///
    /// # Errors
    /// The OS's; or outside a runtime.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        crate::reactor::refuse_under_loom()?;
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((UnixStream::from_mio(a)?, UnixStream::from_mio(b)?))
    }

    fn from_mio(stream: mio::net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            io: PollEvented::new(stream)?,
        })
    }

    /// Wraps a connected std stream (switched to nonblocking mode here).
    ///
    /// # Errors
    /// Outside a runtime, or if the OS refuses.
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        UnixStream::from_mio(mio::net::UnixStream::from_std(stream))
    }

    /// The local address.
    ///
    /// # Errors
    /// The OS's.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The peer's address.
    ///
    /// # Errors
    /// The OS's.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Borrowed halves for reading and writing at once (e.g. in one `select`-like future).
    pub fn split(&mut self) -> (ReadHalf<'_, UnixStream>, WriteHalf<'_, UnixStream>) {
        (ReadHalf(self), WriteHalf(self))
    }

    /// Owned halves that can move to different tasks. Dropping the write half shuts down
    /// the write side, like [`AsyncWriteExt::shutdown`](crate::io::AsyncWriteExt::shutdown).
    ///
    /// ```
    /// use spindle::io::{AsyncReadExt, AsyncWriteExt};
    /// spindle::block_on(async {
    ///     let (a, mut b) = spindle::net::UnixStream::pair().unwrap();
    ///     let (mut reader, mut writer) = a.into_split();
    ///     let echo = spindle::spawn(async move {
    ///         let mut line = [0u8; 4];
    ///         reader.read_exact(&mut line).await.unwrap();
    ///         line
    ///     });
    ///     b.write_all(b"ping").await.unwrap();
    ///     assert_eq!(&echo.await.unwrap(), b"ping");
    ///     writer.write_all(b"pong").await.unwrap();
    ///     drop(writer); // shuts down the write side: `b` reads end-of-file after "pong"
    ///     let mut got = Vec::new();
    ///     b.read_to_end(&mut got).await.unwrap();
    ///     assert_eq!(got, b"pong");
    /// });
    /// ```
    pub fn into_split(self) -> (OwnedReadHalf<UnixStream>, OwnedWriteHalf<UnixStream>) {
        split::into_split(self)
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream").finish_non_exhaustive()
    }
}

impl AsyncRead for UnixStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.poll_read_shared(cx, buf)
    }
}

impl AsyncWrite for UnixStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_shared(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored_shared(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.shutdown_write())
    }
}
