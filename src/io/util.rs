//! The futures returned by [`AsyncReadExt`](super::AsyncReadExt) and
//! [`AsyncWriteExt`](super::AsyncWriteExt).

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use super::{AsyncRead, AsyncWrite, ReadBuf};

macro_rules! debug_without_fields {
    ($name:ident) => {
        impl<T: ?Sized> fmt::Debug for $name<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name)).finish_non_exhaustive()
            }
        }
    };
}

/// Future of [`AsyncReadExt::read`](super::AsyncReadExt::read).
#[must_use = "futures do nothing unless awaited"]
pub struct Read<'a, R: ?Sized> {
    reader: &'a mut R,
    buf: &'a mut [u8],
}
debug_without_fields!(Read);

impl<'a, R: ?Sized> Read<'a, R> {
    pub(super) fn new(reader: &'a mut R, buf: &'a mut [u8]) -> Self {
        Read { reader, buf }
    }
}

impl<R: AsyncRead + Unpin + ?Sized> Future for Read<'_, R> {
    type Output = io::Result<usize>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let mut buf = ReadBuf::new(this.buf);
        ready!(Pin::new(&mut *this.reader).poll_read(cx, &mut buf))?;
        Poll::Ready(Ok(buf.filled().len()))
    }
}

/// Future of [`AsyncReadExt::read_exact`](super::AsyncReadExt::read_exact).
#[must_use = "futures do nothing unless awaited"]
pub struct ReadExact<'a, R: ?Sized> {
    reader: &'a mut R,
    buf: &'a mut [u8],
    filled: usize,
}
debug_without_fields!(ReadExact);

impl<'a, R: ?Sized> ReadExact<'a, R> {
    pub(super) fn new(reader: &'a mut R, buf: &'a mut [u8]) -> Self {
        ReadExact {
            reader,
            buf,
            filled: 0,
        }
    }
}

impl<R: AsyncRead + Unpin + ?Sized> Future for ReadExact<'_, R> {
    type Output = io::Result<usize>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        while this.filled < this.buf.len() {
            let mut buf = ReadBuf::new(&mut this.buf[this.filled..]);
            ready!(Pin::new(&mut *this.reader).poll_read(cx, &mut buf))?;
            let n = buf.filled().len();
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
            }
            this.filled += n;
        }
        Poll::Ready(Ok(this.filled))
    }
}

/// Future of [`AsyncReadExt::read_to_end`](super::AsyncReadExt::read_to_end).
#[must_use = "futures do nothing unless awaited"]
pub struct ReadToEnd<'a, R: ?Sized> {
    reader: &'a mut R,
    buf: &'a mut Vec<u8>,
    read: usize,
}
debug_without_fields!(ReadToEnd);

impl<'a, R: ?Sized> ReadToEnd<'a, R> {
    pub(super) fn new(reader: &'a mut R, buf: &'a mut Vec<u8>) -> Self {
        ReadToEnd {
            reader,
            buf,
            read: 0,
        }
    }
}

impl<R: AsyncRead + Unpin + ?Sized> Future for ReadToEnd<'_, R> {
    type Output = io::Result<usize>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            let n = ready!(poll_read_vec(&mut *this.reader, cx, this.buf, 4096))?;
            if n == 0 {
                return Poll::Ready(Ok(this.read));
            }
            this.read += n;
        }
    }
}

/// One read into the spare capacity of `vec` (reserving `reserve` bytes if it has none),
/// appending what it read; returns how much. The spare capacity is not zeroed.
pub(crate) fn poll_read_vec<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    cx: &mut Context<'_>,
    vec: &mut Vec<u8>,
    reserve: usize,
) -> Poll<io::Result<usize>> {
    if vec.capacity() == vec.len() {
        vec.reserve(reserve);
    }
    let spare = vec.spare_capacity_mut();
    let start = spare.as_ptr().cast::<u8>();
    let mut buf = ReadBuf::uninit(spare);
    ready!(Pin::new(reader).poll_read(cx, &mut buf))?;
    // A reader can replace the `ReadBuf` it was lent with one over other memory (safe code:
    // the lifetime allows a longer-lived buffer); then its filled bytes are not ours.
    assert_eq!(
        buf.filled().as_ptr(),
        start,
        "poll_read swapped the ReadBuf it was lent for another"
    );
    let n = buf.filled().len();
    let len = vec.len() + n;
    // SAFETY: the `ReadBuf` is (checked just above) the one over `vec`'s spare capacity, and
    // its first `n` bytes are filled, hence initialised, so `vec`'s first `len` bytes are
    // initialised; `n <= spare capacity`, so `len <= capacity`.
    unsafe { vec.set_len(len) };
    Poll::Ready(Ok(n))
}

/// Future of [`AsyncReadExt::read_buf`](super::AsyncReadExt::read_buf).
#[must_use = "futures do nothing unless awaited"]
pub struct ReadBufFuture<'a, R: ?Sized> {
    reader: &'a mut R,
    buf: &'a mut Vec<u8>,
}
debug_without_fields!(ReadBufFuture);

impl<'a, R: ?Sized> ReadBufFuture<'a, R> {
    pub(super) fn new(reader: &'a mut R, buf: &'a mut Vec<u8>) -> Self {
        ReadBufFuture { reader, buf }
    }
}

impl<R: AsyncRead + Unpin + ?Sized> Future for ReadBufFuture<'_, R> {
    type Output = io::Result<usize>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        poll_read_vec(&mut *this.reader, cx, this.buf, 64)
    }
}

/// Future of [`AsyncReadExt::read_to_string`](super::AsyncReadExt::read_to_string).
#[must_use = "futures do nothing unless awaited"]
pub struct ReadToString<'a, R: ?Sized> {
    reader: &'a mut R,
    buf: &'a mut String,
    bytes: Vec<u8>,
}
debug_without_fields!(ReadToString);

impl<'a, R: ?Sized> ReadToString<'a, R> {
    pub(super) fn new(reader: &'a mut R, buf: &'a mut String) -> Self {
        ReadToString {
            reader,
            buf,
            bytes: Vec::new(),
        }
    }
}

impl<R: AsyncRead + Unpin + ?Sized> Future for ReadToString<'_, R> {
    type Output = io::Result<usize>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            let n = ready!(poll_read_vec(&mut *this.reader, cx, &mut this.bytes, 4096))?;
            if n == 0 {
                let bytes = std::mem::take(&mut this.bytes);
                return Poll::Ready(match String::from_utf8(bytes) {
                    Ok(text) => {
                        this.buf.push_str(&text);
                        Ok(text.len())
                    }
                    Err(_) => Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "stream did not contain valid UTF-8",
                    )),
                });
            }
        }
    }
}

/// A number type `read_*`/`write_*` handle. Sealed: implemented for the primitive numbers.
pub trait Num: Sized + sealed::Sealed {
    #[doc(hidden)]
    const LEN: usize;
    #[doc(hidden)]
    fn from_bytes(bytes: &[u8], little_endian: bool) -> Self;
}

mod sealed {
    pub trait Sealed {}
}

macro_rules! num {
    ($($ty:ty),*) => {$(
        impl sealed::Sealed for $ty {}
        impl Num for $ty {
            const LEN: usize = std::mem::size_of::<$ty>();
            fn from_bytes(bytes: &[u8], little_endian: bool) -> $ty {
                let array = bytes.try_into().expect("LEN bytes");
                if little_endian {
                    <$ty>::from_le_bytes(array)
                } else {
                    <$ty>::from_be_bytes(array)
                }
            }
        }
    )*};
}
num!(u8, i8, u16, i16, u32, i32, u64, i64, u128, i128, f32, f64);

/// Future of `AsyncReadExt::read_u32` and the other number readers.
#[must_use = "futures do nothing unless awaited"]
pub struct ReadNum<'a, R: ?Sized, T> {
    reader: &'a mut R,
    bytes: [u8; 16],
    filled: usize,
    little_endian: bool,
    _num: std::marker::PhantomData<fn() -> T>,
}

impl<R: ?Sized, T> fmt::Debug for ReadNum<'_, R, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadNum").finish_non_exhaustive()
    }
}

impl<'a, R: ?Sized, T> ReadNum<'a, R, T> {
    pub(super) fn new(reader: &'a mut R, little_endian: bool) -> Self {
        ReadNum {
            reader,
            bytes: [0; 16],
            filled: 0,
            little_endian,
            _num: std::marker::PhantomData,
        }
    }
}

impl<R: AsyncRead + Unpin + ?Sized, T: Num> Future for ReadNum<'_, R, T> {
    type Output = io::Result<T>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let this = self.get_mut();
        while this.filled < T::LEN {
            let mut buf = ReadBuf::new(&mut this.bytes[this.filled..T::LEN]);
            ready!(Pin::new(&mut *this.reader).poll_read(cx, &mut buf))?;
            let n = buf.filled().len();
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
            }
            this.filled += n;
        }
        Poll::Ready(Ok(T::from_bytes(&this.bytes[..T::LEN], this.little_endian)))
    }
}

/// Future of `AsyncWriteExt::write_u32` and the other number writers.
#[must_use = "futures do nothing unless awaited"]
pub struct WriteNum<'a, W: ?Sized> {
    writer: &'a mut W,
    bytes: [u8; 16],
    written: usize,
    len: usize,
}
debug_without_fields!(WriteNum);

impl<'a, W: ?Sized> WriteNum<'a, W> {
    pub(super) fn new(writer: &'a mut W, bytes: &[u8]) -> Self {
        let mut array = [0; 16];
        array[..bytes.len()].copy_from_slice(bytes);
        WriteNum {
            writer,
            bytes: array,
            written: 0,
            len: bytes.len(),
        }
    }
}

impl<W: AsyncWrite + Unpin + ?Sized> Future for WriteNum<'_, W> {
    type Output = io::Result<()>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        while this.written < this.len {
            let n = ready!(
                Pin::new(&mut *this.writer).poll_write(cx, &this.bytes[this.written..this.len])
            )?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            this.written += n;
        }
        Poll::Ready(Ok(()))
    }
}

/// Future of [`AsyncWriteExt::write_vectored`](super::AsyncWriteExt::write_vectored).
#[must_use = "futures do nothing unless awaited"]
pub struct WriteVectored<'a, 'b, W: ?Sized> {
    writer: &'a mut W,
    bufs: &'a [io::IoSlice<'b>],
}

impl<W: ?Sized> fmt::Debug for WriteVectored<'_, '_, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteVectored").finish_non_exhaustive()
    }
}

impl<'a, 'b, W: ?Sized> WriteVectored<'a, 'b, W> {
    pub(super) fn new(writer: &'a mut W, bufs: &'a [io::IoSlice<'b>]) -> Self {
        WriteVectored { writer, bufs }
    }
}

impl<W: AsyncWrite + Unpin + ?Sized> Future for WriteVectored<'_, '_, W> {
    type Output = io::Result<usize>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        Pin::new(&mut *this.writer).poll_write_vectored(cx, this.bufs)
    }
}

/// Future of [`AsyncWriteExt::write_all_buf`](super::AsyncWriteExt::write_all_buf).
#[must_use = "futures do nothing unless awaited"]
pub struct WriteAllBuf<'a, 'b, W: ?Sized> {
    writer: &'a mut W,
    src: &'a mut &'b [u8],
}

impl<W: ?Sized> fmt::Debug for WriteAllBuf<'_, '_, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteAllBuf").finish_non_exhaustive()
    }
}

impl<'a, 'b, W: ?Sized> WriteAllBuf<'a, 'b, W> {
    pub(super) fn new(writer: &'a mut W, src: &'a mut &'b [u8]) -> Self {
        WriteAllBuf { writer, src }
    }
}

impl<W: AsyncWrite + Unpin + ?Sized> Future for WriteAllBuf<'_, '_, W> {
    type Output = io::Result<()>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        while !this.src.is_empty() {
            let n = ready!(Pin::new(&mut *this.writer).poll_write(cx, this.src))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *this.src = &this.src[n..];
        }
        Poll::Ready(Ok(()))
    }
}

/// Future of [`AsyncWriteExt::write`](super::AsyncWriteExt::write).
#[must_use = "futures do nothing unless awaited"]
pub struct Write<'a, W: ?Sized> {
    writer: &'a mut W,
    buf: &'a [u8],
}
debug_without_fields!(Write);

impl<'a, W: ?Sized> Write<'a, W> {
    pub(super) fn new(writer: &'a mut W, buf: &'a [u8]) -> Self {
        Write { writer, buf }
    }
}

impl<W: AsyncWrite + Unpin + ?Sized> Future for Write<'_, W> {
    type Output = io::Result<usize>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        Pin::new(&mut *this.writer).poll_write(cx, this.buf)
    }
}

/// Future of [`AsyncWriteExt::write_all`](super::AsyncWriteExt::write_all).
#[must_use = "futures do nothing unless awaited"]
pub struct WriteAll<'a, W: ?Sized> {
    writer: &'a mut W,
    buf: &'a [u8],
}
debug_without_fields!(WriteAll);

impl<'a, W: ?Sized> WriteAll<'a, W> {
    pub(super) fn new(writer: &'a mut W, buf: &'a [u8]) -> Self {
        WriteAll { writer, buf }
    }
}

impl<W: AsyncWrite + Unpin + ?Sized> Future for WriteAll<'_, W> {
    type Output = io::Result<()>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        while !this.buf.is_empty() {
            let n = ready!(Pin::new(&mut *this.writer).poll_write(cx, this.buf))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            this.buf = &this.buf[n..];
        }
        Poll::Ready(Ok(()))
    }
}

/// Future of [`AsyncWriteExt::flush`](super::AsyncWriteExt::flush).
#[must_use = "futures do nothing unless awaited"]
pub struct Flush<'a, W: ?Sized> {
    writer: &'a mut W,
}
debug_without_fields!(Flush);

impl<'a, W: ?Sized> Flush<'a, W> {
    pub(super) fn new(writer: &'a mut W) -> Self {
        Flush { writer }
    }
}

impl<W: AsyncWrite + Unpin + ?Sized> Future for Flush<'_, W> {
    type Output = io::Result<()>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.get_mut().writer).poll_flush(cx)
    }
}

/// Future of [`AsyncWriteExt::shutdown`](super::AsyncWriteExt::shutdown).
#[must_use = "futures do nothing unless awaited"]
pub struct Shutdown<'a, W: ?Sized> {
    writer: &'a mut W,
}
debug_without_fields!(Shutdown);

impl<'a, W: ?Sized> Shutdown<'a, W> {
    pub(super) fn new(writer: &'a mut W) -> Self {
        Shutdown { writer }
    }
}

impl<W: AsyncWrite + Unpin + ?Sized> Future for Shutdown<'_, W> {
    type Output = io::Result<()>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.get_mut().writer).poll_shutdown(cx)
    }
}
