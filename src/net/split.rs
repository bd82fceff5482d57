//! Read and write halves of a stream socket, one set for [`TcpStream`] and [`UnixStream`].
//!
//! A stream socket can be read and written at the same time: the reactor keeps the waiters
//! of each direction apart. So a half is nothing but a way to reach the stream: a shared reference
//! ([`ReadHalf`], [`WriteHalf`], from `split`) or a shared `Arc` ([`OwnedReadHalf`],
//! [`OwnedWriteHalf`], from `into_split`, to move into different tasks). The type parameter
//! says which kind of stream; it defaults to [`TcpStream`].

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::{TcpStream, UnixStream};
use crate::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A stream socket that [`ReadHalf`] and friends can share: read, written and shut down
/// through `&self`. Implemented by [`TcpStream`] and [`UnixStream`] only (sealed).
pub trait SplitStream: sealed::Sealed + fmt::Debug {
    /// The address type of the peer (`std::net::SocketAddr` or a Unix one).
    type Addr;

    #[doc(hidden)]
    fn poll_read_shared(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>)
        -> Poll<io::Result<()>>;

    #[doc(hidden)]
    fn poll_write_shared(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;

    #[doc(hidden)]
    fn poll_write_vectored_shared(
        &self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>>;

    #[doc(hidden)]
    fn shutdown_write(&self) -> io::Result<()>;

    #[doc(hidden)]
    fn peer_address(&self) -> io::Result<Self::Addr>;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::TcpStream {}
    impl Sealed for super::UnixStream {}
}

/// Both stream types keep their socket in `io: PollEvented<_>`, so one body serves both.
macro_rules! split_stream {
    ($stream:ty, $addr:ty) => {
        impl SplitStream for $stream {
            type Addr = $addr;

            fn poll_read_shared(
                &self,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                self.io.poll_read(cx, buf)
            }

            fn poll_write_vectored_shared(
                &self,
                cx: &mut Context<'_>,
                bufs: &[io::IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                self.io.poll_write_vectored(cx, bufs)
            }

            fn poll_write_shared(
                &self,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.io.poll_write(cx, buf)
            }

            fn shutdown_write(&self) -> io::Result<()> {
                match self.io.get_ref().shutdown(std::net::Shutdown::Write) {
                    // Already disconnected: the write side is as shut as it gets.
                    Err(error) if error.kind() == io::ErrorKind::NotConnected => Ok(()),
                    result => result,
                }
            }

            fn peer_address(&self) -> io::Result<$addr> {
                self.peer_addr()
            }
        }
    };
}

split_stream!(TcpStream, std::net::SocketAddr);
split_stream!(UnixStream, std::os::unix::net::SocketAddr);

/// The reading half of `split` (on [`TcpStream`] or [`UnixStream`]).
#[derive(Debug)]
pub struct ReadHalf<'a, S: SplitStream = TcpStream>(pub(super) &'a S);

/// The writing half of `split` (on [`TcpStream`] or [`UnixStream`]).
#[derive(Debug)]
pub struct WriteHalf<'a, S: SplitStream = TcpStream>(pub(super) &'a S);

/// The reading half of `into_split` (on [`TcpStream`] or [`UnixStream`]).
#[derive(Debug)]
pub struct OwnedReadHalf<S: SplitStream = TcpStream>(Arc<S>);

/// The writing half of `into_split` (on [`TcpStream`] or [`UnixStream`]); dropping it shuts
/// down the write side, so the peer reads end-of-file.
#[derive(Debug)]
pub struct OwnedWriteHalf<S: SplitStream = TcpStream> {
    stream: Arc<S>,
    shutdown_on_drop: bool,
}

/// `into_split` for both stream types.
pub(super) fn into_split<S: SplitStream>(stream: S) -> (OwnedReadHalf<S>, OwnedWriteHalf<S>) {
    let shared = Arc::new(stream);
    (
        OwnedReadHalf(shared.clone()),
        OwnedWriteHalf {
            stream: shared,
            shutdown_on_drop: true,
        },
    )
}

impl<S: SplitStream> ReadHalf<'_, S> {
    /// The peer's address.
    ///
    /// # Errors
    /// The OS's.
    pub fn peer_addr(&self) -> io::Result<S::Addr> {
        self.0.peer_address()
    }
}

impl<S: SplitStream> WriteHalf<'_, S> {
    /// The peer's address.
    ///
    /// # Errors
    /// The OS's.
    pub fn peer_addr(&self) -> io::Result<S::Addr> {
        self.0.peer_address()
    }
}

impl<S: SplitStream> OwnedReadHalf<S> {
    /// The peer's address.
    ///
    /// # Errors
    /// The OS's.
    pub fn peer_addr(&self) -> io::Result<S::Addr> {
        self.0.peer_address()
    }
}

impl<S: SplitStream> OwnedWriteHalf<S> {
    /// The peer's address.
    ///
    /// # Errors
    /// The OS's.
    pub fn peer_addr(&self) -> io::Result<S::Addr> {
        self.stream.peer_address()
    }

    /// Drops the half without shutting down the write side.
    pub fn forget(mut self) {
        self.shutdown_on_drop = false;
    }
}

impl<S: SplitStream> Drop for OwnedWriteHalf<S> {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            let _ = self.stream.shutdown_write();
        }
    }
}

impl<S: SplitStream> AsyncRead for ReadHalf<'_, S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.0.poll_read_shared(cx, buf)
    }
}

impl<S: SplitStream> AsyncRead for OwnedReadHalf<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.0.poll_read_shared(cx, buf)
    }
}

/// The writing side of both write halves: `$stream` names the stream inside `self`.
macro_rules! write_half {
    ($ty:ty, $half:ident => $stream:expr) => {
        impl<S: SplitStream> AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                let $half = &*self;
                $stream.poll_write_shared(cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[io::IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                let $half = &*self;
                $stream.poll_write_vectored_shared(cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(())) // stream sockets have no user-space buffer
            }

            fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                let $half = &*self;
                Poll::Ready($stream.shutdown_write())
            }
        }
    };
}

write_half!(WriteHalf<'_, S>, half => half.0);
write_half!(OwnedWriteHalf<S>, half => half.stream);

#[cfg(all(test, not(loom)))]
mod tests {
    use std::future::Future;
    use std::task::Poll;

    use crate::io::{AsyncReadExt, AsyncWriteExt};
    use crate::net::UnixStream;

    /// Both borrowed halves of one Unix stream waiting at once: one task writes a message
    /// larger than the socket buffers through its write half (so the write has to wait for
    /// the peer to read) while its read half waits for the peer's reply, which comes only
    /// after the whole message. One waker per direction must wake each half in turn.
    #[test]
    fn unix_halves_read_and_write_at_once() {
        const MESSAGE: usize = 4 << 20;
        crate::block_on(async {
            let (mut near, far) = UnixStream::pair().unwrap();
            let (mut far_reader, mut far_writer) = far.into_split();
            let peer = crate::spawn(async move {
                let mut request = vec![0u8; MESSAGE];
                far_reader.read_exact(&mut request).await.unwrap();
                far_writer.write_all(b"reply").await.unwrap();
                request
            });
            let (mut reader, mut writer) = near.split();
            let message: Vec<u8> = (0..MESSAGE).map(|i| i as u8).collect();
            let mut reply = [0u8; 5];
            let mut read = std::pin::pin!(async { reader.read_exact(&mut reply).await.map(drop) });
            let mut write = std::pin::pin!(async { writer.write_all(&message).await });
            // Poll both until both are done (a two-future join).
            let (mut read_done, mut write_done) = (false, false);
            std::future::poll_fn(|cx| {
                if !read_done {
                    if let Poll::Ready(result) = read.as_mut().poll(cx) {
                        result.unwrap();
                        read_done = true;
                    }
                }
                if !write_done {
                    if let Poll::Ready(result) = write.as_mut().poll(cx) {
                        result.unwrap();
                        write_done = true;
                    }
                }
                if read_done && write_done {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            })
            .await;
            assert_eq!(&reply, b"reply");
            assert!(
                peer.await.unwrap() == message,
                "the message arrived changed"
            );
            assert!(reader.peer_addr().is_ok());
        });
    }
}
