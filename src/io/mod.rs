//! Asynchronous I/O, in tokio's names and shapes.
//!
//! - The traits: [`AsyncRead`] (fills a [`ReadBuf`], which may be uninitialised memory, so a
//!   caller never zeroes a buffer per read), [`AsyncWrite`] (with vectored writes),
//!   [`AsyncBufRead`], and their `async` methods [`AsyncReadExt`], [`AsyncWriteExt`],
//!   [`AsyncBufReadExt`].
//! - Buffering: [`BufReader`], [`BufWriter`]; lines and delimited segments
//!   ([`AsyncBufReadExt::lines`], [`AsyncBufReadExt::split`]).
//! - Plumbing: [`copy`], [`copy_buf`], [`copy_bidirectional`], [`duplex`] (an in-memory pipe
//!   with a bounded buffer), [`split()`] for any reader-writer, [`empty`], [`sink`], [`repeat`].
//! - [`AsyncFd`], which makes any nonblocking file descriptor awaitable.
//!
//! Stream sockets read straight into the unfilled part of the [`ReadBuf`], and a read that
//! comes back short clears the read readiness (DESIGN.md, "Short reads"), so a request costs
//! one `recv`, not two.
//!
//! With the `futures-io` feature (off by default), spindle's sockets also implement the
//! `futures-io` traits, so runtime-neutral code works on them; see "futures-util" below for
//! using both crates' extension traits.
//!
//! ```
//! use spindle::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
//! use spindle::net::{TcpListener, TcpStream};
//!
//! spindle::block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     let server = spindle::spawn(async move {
//!         let (socket, _) = listener.accept().await.unwrap();
//!         let (reader, mut writer) = socket.into_split();
//!         let mut lines = BufReader::new(reader).lines();
//!         while let Some(line) = lines.next_line().await.unwrap() {
//!             writer.write_all(line.to_uppercase().as_bytes()).await.unwrap();
//!             writer.write_all(b"\n").await.unwrap();
//!         }
//!     });
//!     let client = TcpStream::connect(addr).await.unwrap();
//!     let (reader, mut writer) = client.into_split();
//!     writer.write_all(b"hello\nworld\n").await.unwrap();
//!     drop(writer); // end of input: the server's `next_line` returns `None`
//!     let mut lines = BufReader::new(reader).lines();
//!     assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("HELLO"));
//!     assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("WORLD"));
//!     assert_eq!(lines.next_line().await.unwrap(), None);
//!     server.await.unwrap();
//! });
//! ```
//!
//! # futures-util
//!
//! spindle's sockets implement both spindle's traits and (feature `futures-io`) the
//! `futures-io` ones. So in a scope that imports both crates' `AsyncReadExt` (even as
//! `use futures_util::AsyncReadExt as _`, which still brings its methods into scope),
//! `stream.read(&mut buf)` is ambiguous (E0034); and there futures-util's
//! `AsyncReadExt::split`, which takes the stream by value, is picked over the inherent
//! `TcpStream::split(&mut self)` (method lookup tries by-value receivers first). The clean
//! way, checked by tests/futures_util.rs:
//!
//! - import spindle's extension traits by name, and futures-util's only in the code that
//!   uses them: runtime-neutral code generic over `futures_io::AsyncRead` in its own module
//!   is not ambiguous, and works on spindle's sockets;
//! - where both must be in one scope, call in the qualified form
//!   (`futures_util::AsyncReadExt::read_exact(&mut s, buf)`,
//!   `spindle::io::AsyncWriteExt::write_all(&mut s, buf)`), and reach the borrowed split as
//!   `TcpStream::split(&mut stream)` (or use [`into_split`](crate::net::TcpStream::into_split));
//! - futures-util's stream combinators (`StreamExt`, `SinkExt`) do not collide with anything.

mod async_fd;
mod buf;
#[cfg(feature = "futures-io")]
mod compat;
mod copy;
mod duplex;
mod misc;
mod read_buf;
mod seek;
mod split;
#[cfg(all(test, not(loom)))]
mod tests;
mod util;

use std::io;
use std::ops::DerefMut;
use std::pin::Pin;
use std::task::{Context, Poll};

pub use async_fd::{AsyncFd, AsyncFdReadyGuard, Interest, TryIoError};
pub use buf::{BufReader, BufWriter, FillBuf, Lines, ReadLine, ReadUntil, Split};
pub use copy::{copy, copy_bidirectional, copy_buf};
pub use duplex::{duplex, DuplexStream};
pub use misc::{empty, repeat, sink, Empty, Repeat, Sink};
pub use read_buf::ReadBuf;
pub use seek::{AsyncSeek, AsyncSeekExt, Seek};
pub use split::{split, ReadHalf, WriteHalf};
pub use util::{
    Flush, Read, ReadBufFuture, ReadExact, ReadNum, ReadToEnd, ReadToString, Shutdown, Write,
    WriteAll, WriteAllBuf, WriteNum, WriteVectored,
};

/// Reads bytes asynchronously: the async twin of [`std::io::Read`].
///
/// The buffer may be uninitialised memory (as hyper's read cursor is); a socket receives
/// straight into it:
///
/// ```
/// use std::future::poll_fn;
/// use std::mem::MaybeUninit;
/// use std::pin::Pin;
/// use spindle::io::{AsyncRead, AsyncWriteExt, ReadBuf};
///
/// spindle::block_on(async {
///     let (mut a, mut b) = spindle::net::UnixStream::pair().unwrap();
///     a.write_all(b"no zeroing").await.unwrap();
///     let mut storage = [MaybeUninit::<u8>::uninit(); 64];
///     let mut buf = ReadBuf::uninit(&mut storage);
///     poll_fn(|cx| Pin::new(&mut b).poll_read(cx, &mut buf)).await.unwrap();
///     assert_eq!(buf.filled(), b"no zeroing");
/// });
/// ```
pub trait AsyncRead {
    /// Reads into the unfilled part of `buf`, advancing its filled part by what it read.
    /// `Ready(Ok(()))` with nothing added means end of stream (or a `buf` with no room);
    /// `Pending` means no data yet, and the task is woken when there may be.
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>>;
}

/// Writes bytes asynchronously: the async twin of [`std::io::Write`].
pub trait AsyncWrite {
    /// Writes some of `buf`, returning how many bytes were written.
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>>;

    /// Flushes buffered data to the underlying object.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Flushes, then closes the writing side (for TCP: sends FIN).
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Writes from several buffers, in order, returning how many bytes were written. The
    /// default writes the first non-empty buffer with [`poll_write`](Self::poll_write); a
    /// writer that does better (one `writev`) says so in
    /// [`is_write_vectored`](Self::is_write_vectored).
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let buf = bufs
            .iter()
            .find(|buf| !buf.is_empty())
            .map_or(&[][..], |buf| &**buf);
        self.poll_write(cx, buf)
    }

    /// Whether [`poll_write_vectored`](Self::poll_write_vectored) writes more than the first
    /// buffer at a time (default `false`), so a caller knows whether gathering pays.
    fn is_write_vectored(&self) -> bool {
        false
    }
}

/// A reader with an internal buffer, read by borrowing it: the async twin of
/// [`std::io::BufRead`].
pub trait AsyncBufRead: AsyncRead {
    /// The buffered bytes, filling the buffer first if it is empty. An empty slice means end
    /// of stream.
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>>;

    /// Marks `amt` of the buffered bytes as used (at most what `poll_fill_buf` returned).
    fn consume(self: Pin<&mut Self>, amt: usize);
}

macro_rules! deref_async_read {
    () => {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Pin::new(&mut **self).poll_read(cx, buf)
        }
    };
}

macro_rules! deref_async_write {
    () => {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            Pin::new(&mut **self).poll_write(cx, buf)
        }
        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[io::IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            Pin::new(&mut **self).poll_write_vectored(cx, bufs)
        }
        fn is_write_vectored(&self) -> bool {
            (**self).is_write_vectored()
        }
        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut **self).poll_flush(cx)
        }
        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut **self).poll_shutdown(cx)
        }
    };
}

macro_rules! deref_async_buf_read {
    () => {
        fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
            Pin::new(&mut **self.get_mut()).poll_fill_buf(cx)
        }
        fn consume(mut self: Pin<&mut Self>, amt: usize) {
            Pin::new(&mut **self).consume(amt)
        }
    };
}

impl<T: ?Sized + AsyncRead + Unpin> AsyncRead for &mut T {
    deref_async_read!();
}

impl<T: ?Sized + AsyncRead + Unpin> AsyncRead for Box<T> {
    deref_async_read!();
}

impl<T: ?Sized + AsyncWrite + Unpin> AsyncWrite for &mut T {
    deref_async_write!();
}

impl<T: ?Sized + AsyncWrite + Unpin> AsyncWrite for Box<T> {
    deref_async_write!();
}

impl<T: ?Sized + AsyncBufRead + Unpin> AsyncBufRead for &mut T {
    deref_async_buf_read!();
}

impl<T: ?Sized + AsyncBufRead + Unpin> AsyncBufRead for Box<T> {
    deref_async_buf_read!();
}

impl<P> AsyncRead for Pin<P>
where
    P: DerefMut + Unpin,
    P::Target: AsyncRead,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.get_mut().as_mut().poll_read(cx, buf)
    }
}

impl<P> AsyncWrite for Pin<P>
where
    P: DerefMut + Unpin,
    P::Target: AsyncWrite,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().as_mut().poll_write(cx, buf)
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().as_mut().poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        (**self).is_write_vectored()
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().as_mut().poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().as_mut().poll_shutdown(cx)
    }
}

/// Reading from a byte slice consumes it, as `std::io::Read for &[u8]` does.
impl AsyncRead for &[u8] {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = self.len().min(buf.remaining());
        let (head, tail) = self.split_at(n);
        buf.put_slice(head);
        *self = tail;
        Poll::Ready(Ok(()))
    }
}

/// A byte slice is its own buffer.
impl AsyncBufRead for &[u8] {
    fn poll_fill_buf(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        Poll::Ready(Ok(*self.get_mut()))
    }
    fn consume(mut self: Pin<&mut Self>, amt: usize) {
        *self = &self[amt..];
    }
}

/// Writing to a vector appends to it; it never waits.
impl AsyncWrite for Vec<u8> {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(io::Write::write_vectored(self.get_mut(), bufs))
    }
    fn is_write_vectored(&self) -> bool {
        true
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// `read_$name`/`read_$name_le` methods for each number type.
macro_rules! read_num_methods {
    ($($ty:ident $be:ident $le:ident;)*) => {$(
        #[doc = concat!("Reads a big-endian `", stringify!($ty), "`; `UnexpectedEof` if the stream ends first.")]
        fn $be(&mut self) -> ReadNum<'_, Self, $ty>
        where
            Self: Unpin,
        {
            ReadNum::new(self, false)
        }

        #[doc = concat!("Reads a little-endian `", stringify!($ty), "`; `UnexpectedEof` if the stream ends first.")]
        fn $le(&mut self) -> ReadNum<'_, Self, $ty>
        where
            Self: Unpin,
        {
            ReadNum::new(self, true)
        }
    )*};
}

/// `write_$name`/`write_$name_le` methods for each number type.
macro_rules! write_num_methods {
    ($($ty:ident $be:ident $le:ident;)*) => {$(
        #[doc = concat!("Writes a big-endian `", stringify!($ty), "` (all of its bytes).")]
        fn $be(&mut self, n: $ty) -> WriteNum<'_, Self>
        where
            Self: Unpin,
        {
            WriteNum::new(self, &n.to_be_bytes())
        }

        #[doc = concat!("Writes a little-endian `", stringify!($ty), "` (all of its bytes).")]
        fn $le(&mut self, n: $ty) -> WriteNum<'_, Self>
        where
            Self: Unpin,
        {
            WriteNum::new(self, &n.to_le_bytes())
        }
    )*};
}

/// `async` methods for every [`AsyncRead`].
///
/// ```
/// use spindle::io::{AsyncReadExt, AsyncWriteExt};
/// spindle::block_on(async {
///     let (mut a, mut b) = spindle::io::duplex(64);
///     a.write_u32(0xdead_beef).await.unwrap();
///     a.write_u16_le(7).await.unwrap();
///     assert_eq!(b.read_u32().await.unwrap(), 0xdead_beef);
///     assert_eq!(b.read_u16_le().await.unwrap(), 7);
/// });
/// ```
pub trait AsyncReadExt: AsyncRead {
    /// Reads some bytes into `buf`; `Ok(0)` at end of stream.
    fn read<'a>(&'a mut self, buf: &'a mut [u8]) -> Read<'a, Self>
    where
        Self: Unpin,
    {
        Read::new(self, buf)
    }

    /// Reads some bytes into the spare capacity of `buf` (without zeroing it), appending them;
    /// reserves room first if there is none. Returns how many it read; `Ok(0)` at end of
    /// stream.
    fn read_buf<'a>(&'a mut self, buf: &'a mut Vec<u8>) -> ReadBufFuture<'a, Self>
    where
        Self: Unpin,
    {
        ReadBufFuture::new(self, buf)
    }

    /// Fills `buf` completely; `UnexpectedEof` if the stream ends first.
    fn read_exact<'a>(&'a mut self, buf: &'a mut [u8]) -> ReadExact<'a, Self>
    where
        Self: Unpin,
    {
        ReadExact::new(self, buf)
    }

    /// Appends everything up to end of stream to `buf`, returning how many bytes it read.
    fn read_to_end<'a>(&'a mut self, buf: &'a mut Vec<u8>) -> ReadToEnd<'a, Self>
    where
        Self: Unpin,
    {
        ReadToEnd::new(self, buf)
    }

    /// Appends everything up to end of stream to `buf`, returning how many bytes it read.
    /// `InvalidData` if they are not UTF-8 (then `buf` is left as it was).
    fn read_to_string<'a>(&'a mut self, buf: &'a mut String) -> ReadToString<'a, Self>
    where
        Self: Unpin,
    {
        ReadToString::new(self, buf)
    }

    read_num_methods! {
        u8 read_u8 read_u8_le;
        i8 read_i8 read_i8_le;
        u16 read_u16 read_u16_le;
        i16 read_i16 read_i16_le;
        u32 read_u32 read_u32_le;
        i32 read_i32 read_i32_le;
        u64 read_u64 read_u64_le;
        i64 read_i64 read_i64_le;
        u128 read_u128 read_u128_le;
        i128 read_i128 read_i128_le;
        f32 read_f32 read_f32_le;
        f64 read_f64 read_f64_le;
    }
}

impl<R: AsyncRead + ?Sized> AsyncReadExt for R {}

/// `async` methods for every [`AsyncWrite`].
pub trait AsyncWriteExt: AsyncWrite {
    /// Writes some of `buf`, returning how many bytes were written.
    fn write<'a>(&'a mut self, buf: &'a [u8]) -> Write<'a, Self>
    where
        Self: Unpin,
    {
        Write::new(self, buf)
    }

    /// Writes some of `bufs` (in order), returning how many bytes were written.
    fn write_vectored<'a, 'b>(
        &'a mut self,
        bufs: &'a [io::IoSlice<'b>],
    ) -> WriteVectored<'a, 'b, Self>
    where
        Self: Unpin,
    {
        WriteVectored::new(self, bufs)
    }

    /// Writes all of `buf`; `WriteZero` if the writer stops accepting bytes.
    fn write_all<'a>(&'a mut self, buf: &'a [u8]) -> WriteAll<'a, Self>
    where
        Self: Unpin,
    {
        WriteAll::new(self, buf)
    }

    /// Writes all of `src`, advancing it past each part written, so after an error `src`
    /// holds what was not written. `WriteZero` if the writer stops accepting bytes.
    ///
    /// ```
    /// use spindle::io::AsyncWriteExt;
    /// spindle::block_on(async {
    ///     let mut out = Vec::new();
    ///     let mut src: &[u8] = b"cursor";
    ///     out.write_all_buf(&mut src).await.unwrap();
    ///     assert!(src.is_empty());
    ///     assert_eq!(out, b"cursor");
    /// });
    /// ```
    fn write_all_buf<'a, 'b>(&'a mut self, src: &'a mut &'b [u8]) -> WriteAllBuf<'a, 'b, Self>
    where
        Self: Unpin,
    {
        WriteAllBuf::new(self, src)
    }

    write_num_methods! {
        u8 write_u8 write_u8_le;
        i8 write_i8 write_i8_le;
        u16 write_u16 write_u16_le;
        i16 write_i16 write_i16_le;
        u32 write_u32 write_u32_le;
        i32 write_i32 write_i32_le;
        u64 write_u64 write_u64_le;
        i64 write_i64 write_i64_le;
        u128 write_u128 write_u128_le;
        i128 write_i128 write_i128_le;
        f32 write_f32 write_f32_le;
        f64 write_f64 write_f64_le;
    }

    /// Flushes buffered data.
    fn flush(&mut self) -> Flush<'_, Self>
    where
        Self: Unpin,
    {
        Flush::new(self)
    }

    /// Closes the writing side (for TCP: the peer reads end of stream).
    fn shutdown(&mut self) -> Shutdown<'_, Self>
    where
        Self: Unpin,
    {
        Shutdown::new(self)
    }
}

impl<W: AsyncWrite + ?Sized> AsyncWriteExt for W {}

/// `async` methods for every [`AsyncBufRead`].
pub trait AsyncBufReadExt: AsyncBufRead {
    /// Reads up to and including `byte` (or to end of stream), appending to `buf`; returns how
    /// many bytes it appended, 0 at end of stream.
    fn read_until<'a>(&'a mut self, byte: u8, buf: &'a mut Vec<u8>) -> ReadUntil<'a, Self>
    where
        Self: Unpin,
    {
        ReadUntil::new(self, byte, buf)
    }

    /// Reads a line, including its `\n` (or to end of stream), appending to `buf`; returns how
    /// many bytes it appended, 0 at end of stream. `InvalidData` if the line is not UTF-8
    /// (then `buf` is left as it was; the bytes are consumed).
    fn read_line<'a>(&'a mut self, buf: &'a mut String) -> ReadLine<'a, Self>
    where
        Self: Unpin,
    {
        ReadLine::new(self, buf)
    }

    /// The lines of this reader, without their `\n` or `\r\n`
    /// ([`Lines::next_line`]).
    fn lines(self) -> Lines<Self>
    where
        Self: Sized,
    {
        Lines::new(self)
    }

    /// The segments of this reader between `byte`s, without the `byte`
    /// ([`Split::next_segment`]).
    fn split(self, byte: u8) -> Split<Self>
    where
        Self: Sized,
    {
        Split::new(self, byte)
    }

    /// The buffered bytes, filling the buffer first if it is empty (empty at end of stream).
    fn fill_buf(&mut self) -> FillBuf<'_, Self>
    where
        Self: Unpin,
    {
        FillBuf::new(self)
    }

    /// Marks `amt` buffered bytes as used.
    fn consume(&mut self, amt: usize)
    where
        Self: Unpin,
    {
        Pin::new(self).consume(amt)
    }
}

impl<R: AsyncBufRead + ?Sized> AsyncBufReadExt for R {}
