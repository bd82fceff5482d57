//! TCP: [`TcpListener`], [`TcpStream`] and its halves.

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::io::{AsyncRead, AsyncWrite, ReadBuf};
use crate::reactor::registration::PollEvented;
use crate::reactor::scheduled_io::Direction;

use super::split::{self, OwnedReadHalf, OwnedWriteHalf, ReadHalf, SplitStream, WriteHalf};

/// A TCP socket listening for connections.
///
/// ```
/// spindle::block_on(async {
///     let listener = spindle::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let addr = listener.local_addr().unwrap();
///     let client = spindle::spawn(async move { spindle::net::TcpStream::connect(addr).await });
///     let (_socket, peer) = listener.accept().await.unwrap();
///     assert_eq!(peer, client.await.unwrap().unwrap().local_addr().unwrap());
/// });
/// ```
pub struct TcpListener {
    pub(super) io: PollEvented<mio::net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` (the first of its addresses that works) and listens.
    ///
    /// # Errors
    /// The OS's: address in use, permission denied, ...; or outside a runtime.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        super::each_addr(addr, |addr| async move {
            TcpListener::from_mio(mio::net::TcpListener::bind(addr)?)
        })
        .await
    }

    fn from_mio(listener: mio::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            io: PollEvented::with_interest(listener, mio::Interest::READABLE)?,
        })
    }

    /// Wraps a bound, listening std listener (switched to nonblocking mode here).
    ///
    /// # Errors
    /// Outside a runtime, or if the OS refuses.
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        TcpListener::from_mio(mio::net::TcpListener::from_std(listener))
    }

    /// Waits for a connection.
    ///
    /// # Errors
    /// The OS's, e.g. `EMFILE` when the process is out of file descriptors; the listener
    /// stays usable and a later `accept` succeeds once descriptors are freed.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, addr) = self
            .io
            .registration()
            .async_io(Direction::Read, || self.io.get_ref().accept())
            .await?;
        Ok((TcpStream::from_mio(stream)?, addr))
    }

    /// Polls for a connection.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let (stream, addr) =
            std::task::ready!(self
                .io
                .registration()
                .poll_io(cx, Direction::Read, || self.io.get_ref().accept()))?;
        Poll::Ready(TcpStream::from_mio(stream).map(|stream| (stream, addr)))
    }

    /// The address this listener is bound to.
    ///
    /// # Errors
    /// The OS's.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

/// A TCP connection.
///
/// Reading and writing go through [`AsyncRead`]/[`AsyncWrite`] (and their `Ext` traits).
/// [`split`](Self::split) and [`into_split`](Self::into_split) give halves that a reader task
/// and a writer task can use at the same time.
pub struct TcpStream {
    pub(super) io: PollEvented<mio::net::TcpStream>,
}

impl TcpStream {
    /// Connects to `addr`, trying each of its addresses in turn.
    ///
    /// # Errors
    /// The OS's: connection refused, unreachable, ...; or outside a runtime.
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        super::each_addr(addr, TcpStream::connect_addr).await
    }

    async fn connect_addr(addr: SocketAddr) -> io::Result<TcpStream> {
        let stream = TcpStream::from_mio(mio::net::TcpStream::connect(addr)?)?;
        stream.wait_connected().await
    }

    /// Waits for a nonblocking connect started on this socket to finish.
    pub(super) async fn wait_connected(self) -> io::Result<TcpStream> {
        let stream = self;
        // A nonblocking connect finishes when the socket becomes writable; the outcome is in
        // SO_ERROR, and `peer_addr` tells a finished connection from a spurious wake-up.
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

    fn from_mio(stream: mio::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: PollEvented::new(stream)?,
        })
    }

    /// Wraps a connected std stream (switched to nonblocking mode here).
    ///
    /// # Errors
    /// Outside a runtime, or if the OS refuses.
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        TcpStream::from_mio(mio::net::TcpStream::from_std(stream))
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
    /// The OS's (`NotConnected` if the connection is gone).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm).
    ///
    /// # Errors
    /// The OS's.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get_ref().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// # Errors
    /// The OS's.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get_ref().nodelay()
    }

    /// Sets `SO_LINGER`: `None` (the default) lets `close` return at once and the kernel
    /// send what is left in the background; `Some(d)` makes the closing `drop` block up to
    /// `d` (whole seconds) for unsent data; `Some(Duration::ZERO)` resets the connection
    /// (RST) at close, discarding unsent data.
    ///
    /// # Errors
    /// The OS's.
    pub fn set_linger(&self, linger: Option<std::time::Duration>) -> io::Result<()> {
        super::socket::set_linger(std::os::fd::AsFd::as_fd(self), linger)
    }

    /// `SO_LINGER`'s value.
    ///
    /// # Errors
    /// The OS's.
    pub fn linger(&self) -> io::Result<Option<std::time::Duration>> {
        super::socket::linger(std::os::fd::AsFd::as_fd(self))
    }

    /// Sets `IP_TTL`, the time-to-live of outgoing packets.
    ///
    /// # Errors
    /// The OS's.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }

    /// `IP_TTL`.
    ///
    /// # Errors
    /// The OS's.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }

    /// Reads received bytes without removing them: the next read sees them again. Waits
    /// until some are there; `Ok(0)` at end of stream.
    ///
    /// # Errors
    /// The OS's, or if the runtime shut down.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io
            .registration()
            .async_io(Direction::Read, || self.io.get_ref().peek(buf))
            .await
    }

    /// Waits until the stream may be readable.
    ///
    /// # Errors
    /// If the runtime shut down.
    pub async fn readable(&self) -> io::Result<()> {
        self.io
            .registration()
            .readiness(Direction::Read)
            .await
            .map(drop)
    }

    /// Waits until the stream may be writable.
    ///
    /// # Errors
    /// If the runtime shut down.
    pub async fn writable(&self) -> io::Result<()> {
        self.io
            .registration()
            .readiness(Direction::Write)
            .await
            .map(drop)
    }

    /// Reads without waiting: `WouldBlock` if nothing is there.
    ///
    /// # Errors
    /// `WouldBlock`, or the OS's.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.try_read(buf)
    }

    /// Writes without waiting: `WouldBlock` if the send buffer is full.
    ///
    /// # Errors
    /// `WouldBlock`, or the OS's.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.try_write(buf)
    }

    /// Borrowed halves for reading and writing at once (e.g. in one `select`-like future).
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        (ReadHalf(self), WriteHalf(self))
    }

    /// Owned halves that can move to different tasks. Dropping the write half shuts down
    /// the write side, like [`AsyncWriteExt::shutdown`](crate::io::AsyncWriteExt::shutdown).
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        split::into_split(self)
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.poll_read_shared(cx, buf)
    }
}

impl AsyncWrite for TcpStream {
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
        Poll::Ready(Ok(())) // TCP sockets have no user-space buffer
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.shutdown_write())
    }
}
