//! [`split()`]: a read half and a write half of any reader-writer, usable from two tasks.
//!
//! Both halves hold the object in one `Arc<Mutex<T>>`; each `poll_*` call locks it for the
//! call's duration only (a poll never blocks), so the reader and the writer take turns
//! without waiting on each other's I/O. [`ReadHalf::unsplit`] gives the object back.

use std::fmt;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use super::{AsyncRead, AsyncWrite, ReadBuf};
use crate::loom::sync::{Arc, Mutex, MutexGuard};

/// The reading half of [`split()`].
pub struct ReadHalf<T> {
    inner: Arc<Mutex<T>>,
}

/// The writing half of [`split()`].
pub struct WriteHalf<T> {
    inner: Arc<Mutex<T>>,
}

/// Splits `stream` into a reading and a writing half, for two tasks (or one `select`).
/// For sockets, `TcpStream::into_split` does the same without a lock.
///
/// ```
/// use spindle::io::{AsyncReadExt, AsyncWriteExt};
/// spindle::block_on(async {
///     let (near, mut far) = spindle::io::duplex(64);
///     let (mut reader, mut writer) = spindle::io::split(near);
///     writer.write_all(b"out").await.unwrap();
///     far.write_all(b"in").await.unwrap();
///     let mut buf = [0u8; 3];
///     far.read_exact(&mut buf).await.unwrap();
///     let mut back = [0u8; 2];
///     reader.read_exact(&mut back).await.unwrap();
///     assert_eq!((&buf, &back), (b"out", b"in"));
///     let _near = reader.unsplit(writer);
/// });
/// ```
pub fn split<T: AsyncRead + AsyncWrite>(stream: T) -> (ReadHalf<T>, WriteHalf<T>) {
    let inner = Arc::new(Mutex::new(stream));
    (
        ReadHalf {
            inner: inner.clone(),
        },
        WriteHalf { inner },
    )
}

fn lock<T>(inner: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic inside a poll leaves the object as that poll left it, which is what the other
    // half would have seen anyway.
    inner
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<T> ReadHalf<T> {
    /// Whether `other` is the write half of the same [`split()`].
    pub fn is_pair_of(&self, other: &WriteHalf<T>) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Puts the halves back together.
    ///
    /// # Panics
    /// If `write` is not this half's partner.
    pub fn unsplit(self, write: WriteHalf<T>) -> T {
        assert!(
            self.is_pair_of(&write),
            "unsplit: the write half is from another split"
        );
        drop(write);
        let mutex = Arc::try_unwrap(self.inner)
            .ok()
            .expect("the two halves held the only references");
        mutex
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ReadHalf<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *lock(&self.inner)).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WriteHalf<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *lock(&self.inner)).poll_write(cx, buf)
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *lock(&self.inner)).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        lock(&self.inner).is_write_vectored()
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *lock(&self.inner)).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *lock(&self.inner)).poll_shutdown(cx)
    }
}

impl<T> fmt::Debug for ReadHalf<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadHalf").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for WriteHalf<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteHalf").finish_non_exhaustive()
    }
}
