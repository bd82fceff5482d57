//! Unit tests of the io utilities' mechanisms that the differential tests cannot see (which
//! calls reach the inner writer, a reader that swaps its `ReadBuf`).

use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use super::*;

/// A writer that records each call: `("write", bytes)` or `("writev", bytes gathered)`,
/// accepting everything, and gathering or not as configured.
#[derive(Default)]
struct Recorder {
    vectored: bool,
    calls: Vec<(&'static str, Vec<u8>)>,
}

impl AsyncWrite for Recorder {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().calls.push(("write", buf.to_vec()));
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if !self.vectored {
            let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| b);
            return self.poll_write(cx, first);
        }
        let gathered: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
        let n = gathered.len();
        self.get_mut().calls.push(("writev", gathered));
        Poll::Ready(Ok(n))
    }
    fn is_write_vectored(&self) -> bool {
        self.vectored
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A large write behind buffered bytes goes out with them in one `writev` when the inner
/// writer gathers, and as a flush then a write when it does not.
#[test]
fn buf_writer_gathers_buffered_bytes_and_a_large_write() {
    crate::block_on(async {
        for vectored in [true, false] {
            let inner = Recorder {
                vectored,
                ..Recorder::default()
            };
            let mut writer = BufWriter::with_capacity(4, inner);
            writer.write_all(b"ab").await.unwrap();
            writer.write_all(b"0123456789").await.unwrap();
            let calls = &writer.get_ref().calls;
            if vectored {
                assert_eq!(calls, &[("writev", b"ab0123456789".to_vec())]);
            } else {
                assert_eq!(
                    calls,
                    &[("write", b"ab".to_vec()), ("write", b"0123456789".to_vec())]
                );
            }
        }
    });
}

/// A reader that hands back a fixed sequence of chunks, then end of stream.
struct Chunks(Vec<&'static [u8]>);

impl AsyncRead for Chunks {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.0.is_empty() {
            let chunk = this.0.remove(0);
            buf.put_slice(chunk);
        }
        Poll::Ready(Ok(()))
    }
}

/// A writer that is not ready on its first call, so `copy` reads ahead into its ring.
struct SlowStart {
    inner: Recorder,
    refused: bool,
}

impl AsyncWrite for SlowStart {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if !self.refused {
            self.refused = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.vectored
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// `copy` keeps reading while the writer waits, and copies every byte in order whatever
/// the writer does.
#[test]
fn copy_reads_ahead_while_the_writer_waits() {
    crate::block_on(async {
        let mut reader = Chunks(vec![b"one ", b"two ", b"three"]);
        let mut writer = SlowStart {
            inner: Recorder::default(),
            refused: false,
        };
        let n = copy(&mut reader, &mut writer).await.unwrap();
        assert_eq!(n, 13);
        let written: Vec<u8> = writer
            .inner
            .calls
            .iter()
            .flat_map(|c| c.1.clone())
            .collect();
        assert_eq!(written, b"one two three");
        // All three chunks were read while the first write waited: one write took them all.
        assert_eq!(writer.inner.calls.len(), 1, "{:?}", writer.inner.calls);
    });
}

/// A reader that swaps the `ReadBuf` it was lent for one over its own memory (safe code).
/// `read_to_end` must not then count that memory's bytes as the `Vec`'s: it panics.
#[test]
#[should_panic(expected = "swapped the ReadBuf")]
fn a_reader_that_swaps_its_read_buf_is_caught() {
    struct Swapper;
    impl AsyncRead for Swapper {
        fn poll_read(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            // Memory that outlives any lent buffer, as a swap needs: leaked on purpose, and
            // kept reachable from a static so LeakSanitizer (ci/asan.sh) does not report it.
            use std::sync::atomic::{AtomicPtr, Ordering};
            static LEAKED: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
            let own: &'static mut [u8] = Box::leak(vec![1u8; 8].into_boxed_slice());
            LEAKED.store(own.as_mut_ptr(), Ordering::Relaxed);
            let mut other = ReadBuf::new(own);
            other.advance(8);
            *buf = other;
            Poll::Ready(Ok(()))
        }
    }
    crate::block_on(async {
        let mut out = Vec::new();
        let _ = Swapper.read_to_end(&mut out).await;
    });
}

/// `read_buf` appends into spare capacity, reserving only when there is none.
#[test]
fn read_buf_appends_into_spare_capacity() {
    crate::block_on(async {
        let mut reader: &[u8] = b"abcdef";
        let mut buf = Vec::with_capacity(4);
        buf.push(b'>');
        assert_eq!(reader.read_buf(&mut buf).await.unwrap(), 3);
        assert_eq!(buf, b">abc");
        assert_eq!(reader.read_buf(&mut buf).await.unwrap(), 3, "reserved more");
        assert_eq!(buf, b">abcdef");
        assert_eq!(reader.read_buf(&mut buf).await.unwrap(), 0);
    });
}

/// `fill_buf` and `consume` through the extension trait.
#[test]
fn fill_buf_then_consume() {
    crate::block_on(async {
        let mut reader = BufReader::with_capacity(3, &b"hello"[..]);
        assert_eq!(reader.fill_buf().await.unwrap(), b"hel");
        AsyncBufReadExt::consume(&mut reader, 2);
        assert_eq!(reader.fill_buf().await.unwrap(), b"l");
        AsyncBufReadExt::consume(&mut reader, 1);
        assert_eq!(reader.fill_buf().await.unwrap(), b"lo");
        let mut rest = String::new();
        reader.read_to_string(&mut rest).await.unwrap();
        assert_eq!(rest, "lo");
        assert!(reader.fill_buf().await.unwrap().is_empty());
    });
}

/// TCP streams and both kinds of halves gather: one `writev` takes both buffers.
#[test]
fn tcp_streams_and_halves_write_vectored() {
    crate::block_on(async {
        let listener = crate::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connect = crate::spawn(async move { crate::net::TcpStream::connect(addr).await });
        let (mut server, _) = listener.accept().await.unwrap();
        let mut client = connect.await.unwrap().unwrap();
        let bufs = [IoSlice::new(b"ab"), IoSlice::new(b"cd")];
        assert!(client.is_write_vectored());
        assert_eq!(client.write_vectored(&bufs).await.unwrap(), 4);
        {
            let (_, mut half) = client.split();
            assert!(half.is_write_vectored());
            assert_eq!(half.write_vectored(&bufs).await.unwrap(), 4);
        }
        let (_, mut owned) = client.into_split();
        assert!(owned.is_write_vectored());
        assert_eq!(owned.write_vectored(&bufs).await.unwrap(), 4);
        drop(owned);
        let mut got = Vec::new();
        server.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"abcdabcdabcd");
        // The default for a writer that does not gather: the first non-empty buffer only.
        let mut sink = Recorder::default();
        let empty_first = [IoSlice::new(b""), IoSlice::new(b"xy"), IoSlice::new(b"z")];
        let n = poll_fn(|cx| Pin::new(&mut sink).poll_write_vectored(cx, &empty_first)).await;
        assert_eq!(n.unwrap(), 2);
    });
}
