//! Buffered readers and writers, and the line- and delimiter-reading futures of
//! [`AsyncBufReadExt`](super::AsyncBufReadExt).

use std::fmt;
use std::future::{poll_fn, Future};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use super::{AsyncBufRead, AsyncRead, AsyncWrite, ReadBuf};

const DEFAULT_CAPACITY: usize = 8 * 1024;

/// Adds a buffer to a reader, so that many small reads (a line at a time, a byte at a time)
/// cost one read of the inner reader per buffer-full. Reads at least as large as the buffer
/// skip it when it is empty.
///
/// Requires an `Unpin` reader (every spindle reader is); box a pinned one.
pub struct BufReader<R> {
    inner: R,
    buf: Box<[u8]>,
    pos: usize,
    cap: usize,
}

impl<R: AsyncRead> BufReader<R> {
    /// A reader with an 8 KiB buffer.
    pub fn new(inner: R) -> BufReader<R> {
        BufReader::with_capacity(DEFAULT_CAPACITY, inner)
    }

    /// A reader with a `capacity`-byte buffer.
    pub fn with_capacity(capacity: usize, inner: R) -> BufReader<R> {
        // Zeroed once here, never per read.
        BufReader {
            inner,
            buf: vec![0; capacity].into_boxed_slice(),
            pos: 0,
            cap: 0,
        }
    }
}

impl<R> BufReader<R> {
    /// The inner reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The inner reader, mutably (reading from it directly skips the buffered bytes).
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The inner reader, pinned.
    pub fn get_pin_mut(self: Pin<&mut Self>) -> Pin<&mut R>
    where
        R: Unpin,
    {
        Pin::new(&mut self.get_mut().inner)
    }

    /// The bytes buffered and not yet read.
    pub fn buffer(&self) -> &[u8] {
        &self.buf[self.pos..self.cap]
    }

    /// The inner reader; the buffered bytes are lost.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for BufReader<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.pos == this.cap && buf.remaining() >= this.buf.len() {
            // Nothing buffered and the caller's room is as large as ours: read straight in.
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        let available = ready!(Pin::new(&mut *this).poll_fill_buf(cx))?;
        let n = available.len().min(buf.remaining());
        buf.put_slice(&available[..n]);
        Pin::new(this).consume(n);
        Poll::Ready(Ok(()))
    }
}

impl<R: AsyncRead + Unpin> AsyncBufRead for BufReader<R> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        if this.pos >= this.cap {
            let mut buf = ReadBuf::new(&mut this.buf);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut buf))?;
            this.cap = buf.filled().len();
            this.pos = 0;
        }
        Poll::Ready(Ok(&this.buf[this.pos..this.cap]))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let this = self.get_mut();
        this.pos = (this.pos + amt).min(this.cap);
    }
}

/// Writing through a `BufReader` writes to the inner object, unbuffered.
impl<R: AsyncRead + AsyncWrite + Unpin> AsyncWrite for BufReader<R> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl<R: fmt::Debug> fmt::Debug for BufReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufReader")
            .field("inner", &self.inner)
            .field("buffered", &(self.cap - self.pos))
            .field("capacity", &self.buf.len())
            .finish()
    }
}

/// Adds a buffer to a writer, so that many small writes cost one write of the inner writer
/// per buffer-full. Writes at least as large as the buffer skip it; with a vectored inner
/// writer, such a write and the buffered bytes go out in one `writev`.
///
/// Nothing reaches the inner writer until the buffer fills, [`flush`] or [`shutdown`]
/// (`AsyncWriteExt`); dropping a `BufWriter` loses what is still buffered, as in tokio.
///
/// [`flush`]: super::AsyncWriteExt::flush
/// [`shutdown`]: super::AsyncWriteExt::shutdown
pub struct BufWriter<W> {
    inner: W,
    buf: Vec<u8>,
    /// How much of `buf` the inner writer has taken during a flush in progress.
    written: usize,
    capacity: usize,
}

impl<W: AsyncWrite> BufWriter<W> {
    /// A writer with an 8 KiB buffer.
    pub fn new(inner: W) -> BufWriter<W> {
        BufWriter::with_capacity(DEFAULT_CAPACITY, inner)
    }

    /// A writer with a `capacity`-byte buffer.
    pub fn with_capacity(capacity: usize, inner: W) -> BufWriter<W> {
        BufWriter {
            inner,
            buf: Vec::with_capacity(capacity),
            written: 0,
            capacity,
        }
    }
}

impl<W> BufWriter<W> {
    /// The inner writer.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// The inner writer, mutably (writing to it directly jumps the buffered bytes).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// The inner writer, pinned.
    pub fn get_pin_mut(self: Pin<&mut Self>) -> Pin<&mut W>
    where
        W: Unpin,
    {
        Pin::new(&mut self.get_mut().inner)
    }

    /// The bytes buffered and not yet written to the inner writer.
    pub fn buffer(&self) -> &[u8] {
        &self.buf[self.written..]
    }

    /// The inner writer; the buffered bytes are lost (flush first).
    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: AsyncWrite + Unpin> BufWriter<W> {
    /// Writes out the whole buffer.
    fn poll_flush_buf(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.buf.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.buf[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "failed to write the buffered data",
                )));
            }
            self.written += n;
        }
        self.buf.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }

    /// A write too large for the buffer, with buffered bytes ahead of it and a vectored
    /// inner writer: both in one `writev`. `Ready(Some(n))`: `n > 0` bytes of `data` were
    /// taken (and the buffer is empty). `Ready(None)`: the buffer is empty, none of `data`
    /// taken yet.
    fn poll_write_behind_buffer(
        &mut self,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<Option<usize>>> {
        while self.written < self.buf.len() {
            let pending = self.buf.len() - self.written;
            let bufs = [IoSlice::new(&self.buf[self.written..]), IoSlice::new(data)];
            let n = ready!(Pin::new(&mut self.inner).poll_write_vectored(cx, &bufs))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            if n > pending {
                self.buf.clear();
                self.written = 0;
                return Poll::Ready(Ok(Some(n - pending)));
            }
            self.written += n;
        }
        self.buf.clear();
        self.written = 0;
        Poll::Ready(Ok(None))
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for BufWriter<W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.buf.len() + buf.len() > this.capacity {
            if buf.len() >= this.capacity && this.inner.is_write_vectored() {
                if let Some(n) = ready!(this.poll_write_behind_buffer(cx, buf))? {
                    return Poll::Ready(Ok(n));
                }
            } else {
                ready!(this.poll_flush_buf(cx))?;
            }
        }
        if buf.len() >= this.capacity {
            Pin::new(&mut this.inner).poll_write(cx, buf)
        } else {
            this.buf.extend_from_slice(buf);
            Poll::Ready(Ok(buf.len()))
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let total = bufs
            .iter()
            .fold(0usize, |sum, buf| sum.saturating_add(buf.len()));
        if this.buf.len() + total > this.capacity {
            ready!(this.poll_flush_buf(cx))?;
        }
        if total >= this.capacity {
            Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
        } else {
            for buf in bufs {
                this.buf.extend_from_slice(buf);
            }
            Poll::Ready(Ok(total))
        }
    }

    /// Always: gathering into the buffer is what a `BufWriter` is for.
    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_flush_buf(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_flush_buf(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

/// Reading through a `BufWriter` reads the inner object.
impl<W: AsyncWrite + AsyncRead + Unpin> AsyncRead for BufWriter<W> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<W: fmt::Debug> fmt::Debug for BufWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufWriter")
            .field("inner", &self.inner)
            .field("buffered", &(self.buf.len() - self.written))
            .field("capacity", &self.capacity)
            .finish()
    }
}

/// Moves buffered bytes up to and including `delimiter` into `into`. `Ready(Ok(()))` once
/// the delimiter or end of stream is reached; `*read` counts the bytes moved meanwhile.
fn poll_read_until<R: AsyncBufRead + Unpin + ?Sized>(
    reader: &mut R,
    cx: &mut Context<'_>,
    delimiter: u8,
    into: &mut Vec<u8>,
    read: &mut usize,
) -> Poll<io::Result<()>> {
    loop {
        let available = ready!(Pin::new(&mut *reader).poll_fill_buf(cx))?;
        let (used, done) = match available.iter().position(|&byte| byte == delimiter) {
            Some(at) => (at + 1, true),
            None => (available.len(), available.is_empty()),
        };
        into.extend_from_slice(&available[..used]);
        Pin::new(&mut *reader).consume(used);
        *read += used;
        if done {
            return Poll::Ready(Ok(()));
        }
    }
}

fn invalid_utf8() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "stream did not contain valid UTF-8",
    )
}

/// Future of [`AsyncBufReadExt::read_until`](super::AsyncBufReadExt::read_until).
#[must_use = "futures do nothing unless awaited"]
pub struct ReadUntil<'a, R: ?Sized> {
    reader: &'a mut R,
    delimiter: u8,
    buf: &'a mut Vec<u8>,
    read: usize,
}

impl<R: ?Sized> fmt::Debug for ReadUntil<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadUntil").finish_non_exhaustive()
    }
}

impl<'a, R: ?Sized> ReadUntil<'a, R> {
    pub(super) fn new(reader: &'a mut R, delimiter: u8, buf: &'a mut Vec<u8>) -> Self {
        ReadUntil {
            reader,
            delimiter,
            buf,
            read: 0,
        }
    }
}

impl<R: AsyncBufRead + Unpin + ?Sized> Future for ReadUntil<'_, R> {
    type Output = io::Result<usize>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(poll_read_until(
            this.reader,
            cx,
            this.delimiter,
            this.buf,
            &mut this.read
        ))?;
        Poll::Ready(Ok(std::mem::take(&mut this.read)))
    }
}

/// Future of [`AsyncBufReadExt::read_line`](super::AsyncBufReadExt::read_line).
#[must_use = "futures do nothing unless awaited"]
pub struct ReadLine<'a, R: ?Sized> {
    reader: &'a mut R,
    buf: &'a mut String,
    bytes: Vec<u8>,
    read: usize,
}

impl<R: ?Sized> fmt::Debug for ReadLine<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadLine").finish_non_exhaustive()
    }
}

impl<'a, R: ?Sized> ReadLine<'a, R> {
    pub(super) fn new(reader: &'a mut R, buf: &'a mut String) -> Self {
        ReadLine {
            reader,
            buf,
            bytes: Vec::new(),
            read: 0,
        }
    }
}

impl<R: AsyncBufRead + Unpin + ?Sized> Future for ReadLine<'_, R> {
    type Output = io::Result<usize>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = ready!(poll_read_until(
            this.reader,
            cx,
            b'\n',
            &mut this.bytes,
            &mut this.read
        ));
        let bytes = std::mem::take(&mut this.bytes);
        // As tokio: after an I/O error, the bytes read so far are kept if they are UTF-8.
        let text = String::from_utf8(bytes);
        if let Ok(text) = &text {
            this.buf.push_str(text);
        }
        result?;
        text.map_err(|_| invalid_utf8())?;
        Poll::Ready(Ok(std::mem::take(&mut this.read)))
    }
}

/// Future of [`AsyncBufReadExt::fill_buf`](super::AsyncBufReadExt::fill_buf).
#[must_use = "futures do nothing unless awaited"]
pub struct FillBuf<'a, R: ?Sized> {
    reader: Option<&'a mut R>,
}

impl<R: ?Sized> fmt::Debug for FillBuf<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FillBuf").finish_non_exhaustive()
    }
}

impl<'a, R: ?Sized> FillBuf<'a, R> {
    pub(super) fn new(reader: &'a mut R) -> Self {
        FillBuf {
            reader: Some(reader),
        }
    }
}

impl<'a, R: AsyncBufRead + Unpin + ?Sized> Future for FillBuf<'a, R> {
    type Output = io::Result<&'a [u8]>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&'a [u8]>> {
        let this = self.get_mut();
        let reader = this.reader.take().expect("FillBuf polled after completion");
        let ptr: *mut R = reader;
        // SAFETY: `ptr` is the `&'a mut R` just taken out of the future, valid and unique for
        // `'a`. If the poll is `Pending`, nothing borrowed through `ptr` outlives this match
        // (a `Pending` holds no reference) and the reference goes back into the future; if
        // it is `Ready`, the future has given the reference up for good and the returned
        // slice is the one borrow of `*ptr` left, for `'a`. (The raw pointer only works
        // around the borrow checker's not seeing that the two arms borrow differently.)
        match Pin::new(unsafe { &mut *ptr }).poll_fill_buf(cx) {
            Poll::Pending => {
                this.reader = Some(reader);
                Poll::Pending
            }
            ready => ready,
        }
    }
}

/// The lines of an [`AsyncBufRead`], from [`AsyncBufReadExt::lines`](super::AsyncBufReadExt::lines).
#[derive(Debug)]
pub struct Lines<R> {
    reader: R,
    bytes: Vec<u8>,
    read: usize,
}

impl<R> Lines<R> {
    pub(super) fn new(reader: R) -> Self {
        Lines {
            reader,
            bytes: Vec::new(),
            read: 0,
        }
    }

    /// The reader, with whatever it still buffers.
    pub fn into_inner(self) -> R {
        self.reader
    }

    /// The reader.
    pub fn get_ref(&self) -> &R {
        &self.reader
    }

    /// The reader, mutably.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.reader
    }
}

impl<R: AsyncBufRead + Unpin> Lines<R> {
    /// The next line without its `\n` (or `\r\n`); `None` at end of stream. A last line with
    /// no `\n` is still a line. `InvalidData` if a line is not UTF-8 (it is consumed; the
    /// next call reads the line after it). Cancel-safe: a partly read line is kept for the
    /// next call.
    pub async fn next_line(&mut self) -> io::Result<Option<String>> {
        poll_fn(|cx| Pin::new(&mut *self).poll_next_line(cx)).await
    }

    /// The polling form of [`next_line`](Self::next_line).
    pub fn poll_next_line(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<Option<String>>> {
        let this = self.get_mut();
        ready!(poll_read_until(
            &mut this.reader,
            cx,
            b'\n',
            &mut this.bytes,
            &mut this.read
        ))?;
        if std::mem::take(&mut this.read) == 0 && this.bytes.is_empty() {
            return Poll::Ready(Ok(None));
        }
        let mut bytes = std::mem::take(&mut this.bytes);
        if bytes.last() == Some(&b'\n') {
            bytes.pop();
            if bytes.last() == Some(&b'\r') {
                bytes.pop();
            }
        }
        Poll::Ready(
            String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| invalid_utf8()),
        )
    }
}

/// The segments of an [`AsyncBufRead`] between delimiters, from
/// [`AsyncBufReadExt::split`](super::AsyncBufReadExt::split).
#[derive(Debug)]
pub struct Split<R> {
    reader: R,
    delimiter: u8,
    bytes: Vec<u8>,
    read: usize,
}

impl<R> Split<R> {
    pub(super) fn new(reader: R, delimiter: u8) -> Self {
        Split {
            reader,
            delimiter,
            bytes: Vec::new(),
            read: 0,
        }
    }
}

impl<R: AsyncBufRead + Unpin> Split<R> {
    /// The next segment without its delimiter; `None` at end of stream. A last segment with
    /// no delimiter after it is still a segment. Cancel-safe.
    pub async fn next_segment(&mut self) -> io::Result<Option<Vec<u8>>> {
        poll_fn(|cx| Pin::new(&mut *self).poll_next_segment(cx)).await
    }

    /// The polling form of [`next_segment`](Self::next_segment).
    pub fn poll_next_segment(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<Option<Vec<u8>>>> {
        let this = self.get_mut();
        ready!(poll_read_until(
            &mut this.reader,
            cx,
            this.delimiter,
            &mut this.bytes,
            &mut this.read
        ))?;
        if std::mem::take(&mut this.read) == 0 && this.bytes.is_empty() {
            return Poll::Ready(Ok(None));
        }
        let mut bytes = std::mem::take(&mut this.bytes);
        if bytes.last() == Some(&this.delimiter) {
            bytes.pop();
        }
        Poll::Ready(Ok(Some(bytes)))
    }
}
