//! [`copy`], [`copy_buf`] and [`copy_bidirectional`].

use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use super::{AsyncBufRead, AsyncRead, AsyncWrite, ReadBuf};

const COPY_BUFFER: usize = 8 * 1024;

/// One direction of a copy: a ring buffer between a reader and a writer. While the writer
/// is not ready it keeps reading into the free part of the ring, so a slow writer does not
/// stall the reader, and when the bytes wrap around the end they go out in one vectored
/// write (if the writer gathers).
struct CopyBuffer {
    buf: Box<[u8]>,
    /// Start of the unwritten bytes.
    head: usize,
    /// How many unwritten bytes there are (from `head`, wrapping).
    len: usize,
    read_done: bool,
    need_flush: bool,
    amt: u64,
}

impl CopyBuffer {
    fn new() -> CopyBuffer {
        CopyBuffer {
            buf: vec![0; COPY_BUFFER].into_boxed_slice(),
            head: 0,
            len: 0,
            read_done: false,
            need_flush: false,
            amt: 0,
        }
    }

    /// The free part after the data, up to the end of the ring or to `head`.
    fn free_range(&self) -> std::ops::Range<usize> {
        let cap = self.buf.len();
        let tail = (self.head + self.len) % cap;
        if self.len == cap {
            tail..tail
        } else if tail >= self.head {
            tail..cap
        } else {
            tail..self.head
        }
    }

    /// Reads once into the free part; `Ready(Ok(()))` also at end of stream (`read_done`).
    fn poll_fill<R: AsyncRead + Unpin + ?Sized>(
        &mut self,
        cx: &mut Context<'_>,
        reader: &mut R,
    ) -> Poll<io::Result<()>> {
        let range = self.free_range();
        let mut buf = ReadBuf::new(&mut self.buf[range]);
        ready!(Pin::new(reader).poll_read(cx, &mut buf))?;
        let n = buf.filled().len();
        if n == 0 {
            self.read_done = true;
        }
        self.len += n;
        Poll::Ready(Ok(()))
    }

    /// Writes once from the data (both pieces of it in one call if it wraps and the writer
    /// gathers). Returns how many bytes went.
    fn poll_write_some<W: AsyncWrite + Unpin + ?Sized>(
        &mut self,
        cx: &mut Context<'_>,
        writer: &mut W,
    ) -> Poll<io::Result<usize>> {
        let cap = self.buf.len();
        let first_end = (self.head + self.len).min(cap);
        let wrapped = self.head + self.len - first_end;
        let first = &self.buf[self.head..first_end];
        let n = if wrapped > 0 && writer.is_write_vectored() {
            let bufs = [IoSlice::new(first), IoSlice::new(&self.buf[..wrapped])];
            ready!(Pin::new(writer).poll_write_vectored(cx, &bufs))?
        } else {
            ready!(Pin::new(writer).poll_write(cx, first))?
        };
        if n == 0 {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "write zero bytes into writer",
            )));
        }
        self.head = (self.head + n) % cap;
        self.len -= n;
        if self.len == 0 {
            self.head = 0; // keep the next read contiguous
        }
        self.amt += n as u64;
        Poll::Ready(Ok(n))
    }

    /// Copies until the reader ends and everything is written and flushed; the total.
    fn poll_copy<R, W>(
        &mut self,
        cx: &mut Context<'_>,
        reader: &mut R,
        writer: &mut W,
    ) -> Poll<io::Result<u64>>
    where
        R: AsyncRead + Unpin + ?Sized,
        W: AsyncWrite + Unpin + ?Sized,
    {
        loop {
            // Read while there is room, at least once per round, so data keeps flowing in
            // while the writer waits.
            if !self.read_done && self.len < self.buf.len() {
                match self.poll_fill(cx, reader) {
                    Poll::Ready(result) => result?,
                    Poll::Pending if self.len == 0 => {
                        // Nothing to write either: flush what was written, then wait.
                        if self.need_flush {
                            ready!(Pin::new(&mut *writer).poll_flush(cx))?;
                            self.need_flush = false;
                        }
                        return Poll::Pending;
                    }
                    Poll::Pending => {}
                }
            }
            if self.len > 0 {
                match self.poll_write_some(cx, writer) {
                    Poll::Ready(result) => {
                        result?;
                        self.need_flush = true;
                    }
                    // The writer is full; a read above may still have room, else wait.
                    Poll::Pending if self.read_done || self.len == self.buf.len() => {
                        return Poll::Pending;
                    }
                    Poll::Pending => {
                        if self.free_range().is_empty() {
                            return Poll::Pending;
                        }
                        // Try one more read; if that is pending too, both wakers are set.
                        match self.poll_fill(cx, reader) {
                            Poll::Ready(result) => result?,
                            Poll::Pending => return Poll::Pending,
                        }
                    }
                }
            }
            if self.read_done && self.len == 0 {
                ready!(Pin::new(&mut *writer).poll_flush(cx))?;
                return Poll::Ready(Ok(self.amt));
            }
        }
    }
}

/// Copies everything `reader` yields into `writer`, then flushes it; returns how many bytes.
/// A writer that accepts zero bytes gives `WriteZero`. The writer is not shut down.
///
/// ```
/// spindle::block_on(async {
///     let mut reader: &[u8] = b"copied";
///     let mut writer = Vec::new();
///     assert_eq!(spindle::io::copy(&mut reader, &mut writer).await.unwrap(), 6);
///     assert_eq!(writer, b"copied");
/// });
/// ```
///
/// # Errors
/// The first error of either side; what was copied before it is lost to the count.
pub async fn copy<R, W>(reader: &mut R, writer: &mut W) -> io::Result<u64>
where
    R: AsyncRead + Unpin + ?Sized,
    W: AsyncWrite + Unpin + ?Sized,
{
    let mut buffer = CopyBuffer::new();
    poll_fn(|cx| buffer.poll_copy(cx, reader, writer)).await
}

/// Copies from a buffered reader's own buffer into `writer` (no second buffer), then
/// flushes; returns how many bytes.
///
/// # Errors
/// The first error of either side.
pub async fn copy_buf<R, W>(reader: &mut R, writer: &mut W) -> io::Result<u64>
where
    R: AsyncBufRead + Unpin + ?Sized,
    W: AsyncWrite + Unpin + ?Sized,
{
    let mut amt = 0u64;
    poll_fn(|cx| loop {
        let available = ready!(Pin::new(&mut *reader).poll_fill_buf(cx))?;
        if available.is_empty() {
            ready!(Pin::new(&mut *writer).poll_flush(cx))?;
            return Poll::Ready(Ok(amt));
        }
        let n = ready!(Pin::new(&mut *writer).poll_write(cx, available))?;
        if n == 0 {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "write zero bytes into writer",
            )));
        }
        Pin::new(&mut *reader).consume(n);
        amt += n as u64;
    })
    .await
}

/// Copies `a` to `b` and `b` to `a` at once. When one side's reader ends, the other side's
/// writer is flushed and shut down; returns `(a to b, b to a)` byte counts once both
/// directions have ended.
///
/// # Errors
/// The first error of either direction (the other direction is abandoned).
pub async fn copy_bidirectional<A, B>(a: &mut A, b: &mut B) -> io::Result<(u64, u64)>
where
    A: AsyncRead + AsyncWrite + Unpin + ?Sized,
    B: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    let mut a_to_b = Direction::Copying(CopyBuffer::new());
    let mut b_to_a = Direction::Copying(CopyBuffer::new());
    poll_fn(|cx| {
        let a_to_b_done = a_to_b.poll(cx, a, b)?;
        let b_to_a_done = b_to_a.poll(cx, b, a)?;
        match (a_to_b_done, b_to_a_done) {
            (Poll::Ready(there), Poll::Ready(back)) => Poll::Ready(Ok((there, back))),
            _ => Poll::Pending,
        }
    })
    .await
}

enum Direction {
    Copying(CopyBuffer),
    ShuttingDown(u64),
    Done(u64),
}

impl Direction {
    fn poll<R, W>(
        &mut self,
        cx: &mut Context<'_>,
        reader: &mut R,
        writer: &mut W,
    ) -> Poll<io::Result<u64>>
    where
        R: AsyncRead + Unpin + ?Sized,
        W: AsyncWrite + Unpin + ?Sized,
    {
        loop {
            match self {
                Direction::Copying(buffer) => {
                    let amt = ready!(buffer.poll_copy(cx, reader, writer))?;
                    *self = Direction::ShuttingDown(amt);
                }
                Direction::ShuttingDown(amt) => {
                    let amt = *amt;
                    ready!(Pin::new(&mut *writer).poll_shutdown(cx))?;
                    *self = Direction::Done(amt);
                }
                Direction::Done(amt) => return Poll::Ready(Ok(*amt)),
            }
        }
    }
}
