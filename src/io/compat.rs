//! `futures-io` implementations (feature `futures-io`, off by default), so runtime-neutral codecs
//! and utilities from the wider ecosystem work on spindle's sockets. `poll_close` is
//! `poll_shutdown`.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use super::{AsyncRead, AsyncWrite, ReadBuf};
use crate::net::{
    OwnedReadHalf, OwnedWriteHalf, ReadHalf, SplitStream, TcpStream, UnixStream, WriteHalf,
};

/// `[generics] Type`: `impl<generics> futures_io::AsyncRead for Type` via [`AsyncRead`].
macro_rules! futures_read {
    ($([$($generics:tt)*] $ty:ty),*) => {$(
        impl<$($generics)*> futures_io::AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                let mut buf = ReadBuf::new(buf);
                ready!(AsyncRead::poll_read(self, cx, &mut buf))?;
                Poll::Ready(Ok(buf.filled().len()))
            }
        }
    )*};
}

/// `[generics] Type`: `impl<generics> futures_io::AsyncWrite for Type` via [`AsyncWrite`].
macro_rules! futures_write {
    ($([$($generics:tt)*] $ty:ty),*) => {$(
        impl<$($generics)*> futures_io::AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                AsyncWrite::poll_write(self, cx, buf)
            }
            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[io::IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                AsyncWrite::poll_write_vectored(self, cx, bufs)
            }
            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                AsyncWrite::poll_flush(self, cx)
            }
            fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                AsyncWrite::poll_shutdown(self, cx)
            }
        }
    )*};
}

futures_read!([] TcpStream, [] UnixStream, [S: SplitStream] ReadHalf<'_, S>, [S: SplitStream] OwnedReadHalf<S>);
futures_write!([] TcpStream, [] UnixStream, [S: SplitStream] WriteHalf<'_, S>, [S: SplitStream] OwnedWriteHalf<S>);

// A child's pipes (src/process/command.rs).
futures_read!([] crate::process::ChildStdout, [] crate::process::ChildStderr);
futures_write!([] crate::process::ChildStdin);
