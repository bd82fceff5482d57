//! [`duplex`]: an in-memory, bidirectional byte pipe with a bounded buffer per direction.
//!
//! Each direction is a [`Pipe`] behind a mutex: a byte queue of at most `max` bytes, whether
//! it is closed, and the one waker of its reader and of its writer. A reader waits while the
//! queue is empty and open; a writer waits while it is full and open. Wakers are taken out
//! under the lock and woken after it is released (a wake can run arbitrary code). The mutex
//! and the `Arc`s come from `crate::loom`, so the same code can be model-checked.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll, Waker};

use super::{AsyncRead, AsyncWrite, ReadBuf};
use crate::loom::sync::{Arc, Mutex, MutexGuard};
use crate::task::register_waker;

/// One end of a [`duplex`] pipe: what it writes, the other end reads, and back.
///
/// Dropping an end closes both directions for the other end: it reads what is left, then
/// end of stream, and its writes fail with `BrokenPipe`. [`shutdown`] closes only this end's
/// writing direction (the other end reads end of stream after the data).
///
/// [`shutdown`]: super::AsyncWriteExt::shutdown
pub struct DuplexStream {
    read: Arc<Mutex<Pipe>>,
    write: Arc<Mutex<Pipe>>,
}

/// A connected pair of [`DuplexStream`]s, each direction buffering at most `max_buf_size`
/// bytes (a writer waits while its direction is full).
///
/// ```
/// use spindle::io::{AsyncReadExt, AsyncWriteExt};
/// spindle::block_on(async {
///     let (mut client, mut server) = spindle::io::duplex(64);
///     client.write_all(b"ping").await.unwrap();
///     let mut buf = [0u8; 4];
///     server.read_exact(&mut buf).await.unwrap();
///     assert_eq!(&buf, b"ping");
///     drop(client);
///     assert_eq!(server.read(&mut buf).await.unwrap(), 0, "end of stream once dropped");
/// });
/// ```
///
/// # Panics
/// If `max_buf_size` is 0 (no write could ever complete).
pub fn duplex(max_buf_size: usize) -> (DuplexStream, DuplexStream) {
    assert!(max_buf_size > 0, "duplex: max_buf_size must be at least 1");
    let one = Arc::new(Mutex::new(Pipe::new(max_buf_size)));
    let two = Arc::new(Mutex::new(Pipe::new(max_buf_size)));
    (
        DuplexStream {
            read: one.clone(),
            write: two.clone(),
        },
        DuplexStream {
            read: two,
            write: one,
        },
    )
}

/// One direction of a duplex pipe.
struct Pipe {
    buffer: VecDeque<u8>,
    max: usize,
    closed: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
    /// The loom model's negative control: a read that frees room does not wake the writer.
    #[cfg(all(test, loom))]
    broken_skip_writer_wake: bool,
}

impl Pipe {
    fn new(max: usize) -> Pipe {
        Pipe {
            buffer: VecDeque::new(),
            max,
            closed: false,
            reader: None,
            writer: None,
            #[cfg(all(test, loom))]
            broken_skip_writer_wake: false,
        }
    }

    /// After a read took bytes: the writer's waker, to wake once the lock is released.
    fn writer_to_wake(&mut self) -> Option<Waker> {
        #[cfg(all(test, loom))]
        if self.broken_skip_writer_wake {
            return None;
        }
        self.writer.take()
    }

    /// Closes the pipe; returns both wakers, to be woken after the lock is released.
    fn close(&mut self) -> [Option<Waker>; 2] {
        self.closed = true;
        [self.reader.take(), self.writer.take()]
    }
}

fn lock(pipe: &Mutex<Pipe>) -> MutexGuard<'_, Pipe> {
    // A panic under this lock leaves a consistent `Pipe` (every mutation is one step), so a
    // poisoned lock is still usable.
    pipe.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Wakes `waker` (if any); the caller has released the lock.
fn wake(waker: Option<Waker>) {
    if let Some(waker) = waker {
        waker.wake();
    }
}

impl AsyncRead for DuplexStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        ready!(crate::task::coop::poll_proceed(cx));
        let mut pipe = lock(&self.read);
        if pipe.buffer.is_empty() && buf.remaining() > 0 {
            if pipe.closed {
                return Poll::Ready(Ok(())); // end of stream
            }
            let old = register_waker(&mut pipe.reader, cx.waker());
            drop(pipe);
            drop(old);
            return Poll::Pending;
        }
        let n = pipe.buffer.len().min(buf.remaining());
        let (front, back) = pipe.buffer.as_slices();
        let from_front = n.min(front.len());
        buf.put_slice(&front[..from_front]);
        buf.put_slice(&back[..n - from_front]);
        pipe.buffer.drain(..n);
        let writer = if n > 0 { pipe.writer_to_wake() } else { None };
        drop(pipe);
        wake(writer);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for DuplexStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(crate::task::coop::poll_proceed(cx));
        let mut pipe = lock(&self.write);
        if pipe.closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let room = pipe.max - pipe.buffer.len();
        if room == 0 && !buf.is_empty() {
            let old = register_waker(&mut pipe.writer, cx.waker());
            drop(pipe);
            drop(old);
            return Poll::Pending;
        }
        let n = room.min(buf.len());
        pipe.buffer.extend(&buf[..n]);
        let reader = if n > 0 { pipe.reader.take() } else { None };
        drop(pipe);
        wake(reader);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Closes this end's writing direction: the other end reads the rest, then end of
    /// stream; later writes here fail with `BrokenPipe`.
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let wakers = lock(&self.write).close();
        wakers.into_iter().for_each(wake);
        Poll::Ready(Ok(()))
    }
}

impl Drop for DuplexStream {
    fn drop(&mut self) {
        let written = lock(&self.write).close();
        let read = lock(&self.read).close();
        written.into_iter().chain(read).for_each(wake);
    }
}

impl fmt::Debug for DuplexStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DuplexStream").finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::io::{AsyncReadExt, AsyncWriteExt};

    /// A writer waits while its direction holds `max` bytes, and a read wakes it.
    #[test]
    fn full_pipe_makes_the_writer_wait_until_a_read() {
        crate::block_on(async {
            let (mut a, mut b) = duplex(4);
            assert_eq!(a.write(b"abcdef").await.unwrap(), 4, "only max bytes fit");
            let writer = crate::spawn(async move {
                a.write_all(b"gh").await.unwrap();
                a
            });
            let mut buf = [0u8; 3];
            b.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"abc");
            let _a = writer.await.unwrap();
            let mut rest = [0u8; 3];
            b.read_exact(&mut rest).await.unwrap();
            assert_eq!(&rest, b"dgh");
        });
    }

    #[test]
    fn writes_after_the_peer_dropped_are_broken_pipe() {
        crate::block_on(async {
            let (mut a, b) = duplex(8);
            drop(b);
            let error = a.write(b"x").await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::BrokenPipe);
        });
    }

    #[test]
    fn shutdown_gives_the_peer_end_of_stream_after_the_data() {
        crate::block_on(async {
            let (mut a, mut b) = duplex(8);
            a.write_all(b"last").await.unwrap();
            a.shutdown().await.unwrap();
            let mut got = Vec::new();
            b.read_to_end(&mut got).await.unwrap();
            assert_eq!(got, b"last");
            // The other direction is still open.
            b.write_all(b"back").await.unwrap();
            let mut back = [0u8; 4];
            a.read_exact(&mut back).await.unwrap();
            assert_eq!(&back, b"back");
        });
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::io::{AsyncReadExt, AsyncWriteExt};
    use crate::loom::gate::block_on;
    use crate::loom::thread;
    use std::mem::ManuallyDrop;

    /// A writer sends two bytes through a one-byte pipe while the reader reads them: the
    /// writer must wait for room, and each side's progress must wake the other. A lost wake
    /// leaves both threads parked, which loom reports as a deadlock. `broken`: a read that
    /// frees room does not wake the writer.
    fn full_pipe_reader_and_writer(broken: bool) {
        loom::model(move || {
            // Not dropped while loom unwinds from a deadlock (the negative control): their
            // `Drop` would take a loom mutex of a finished execution, and abort.
            let (a, b) = duplex(1);
            let (mut a, mut b) = (ManuallyDrop::new(a), ManuallyDrop::new(b));
            lock(&b.read).broken_skip_writer_wake = broken;
            let writer = thread::spawn(move || {
                block_on(a.write_all(b"xy")).unwrap();
                ManuallyDrop::into_inner(a)
            });
            let mut buf = [0u8; 2];
            block_on(b.read_exact(&mut buf)).unwrap();
            assert_eq!(&buf, b"xy");
            drop(writer.join().unwrap());
            drop(ManuallyDrop::into_inner(b));
        });
    }

    #[test]
    fn loom_duplex_full_pipe_wakes_the_writer_and_the_reader() {
        full_pipe_reader_and_writer(false);
    }

    #[test]
    #[should_panic(expected = "deadlock")]
    fn loom_duplex_negative_control_read_without_waking_the_writer() {
        full_pipe_reader_and_writer(true);
    }
}
