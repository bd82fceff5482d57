//! A source's membership in the reactor, and the readiness loop every I/O type is built on.

use std::future::poll_fn;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::task::{ready, Context, Poll};

use mio::event::Source;

use super::scheduled_io::{
    Direction, ReadinessWaiter, ReadyEvent, ScheduledIo, Shutdown, WaiterRef,
};
use super::{Handle, SHUTDOWN_MESSAGE};
use crate::io::ReadBuf;
use crate::loom::sync::Arc;

/// A registered source's slot in the reactor. Dropping it frees the slot.
#[derive(Debug)]
pub(crate) struct Registration {
    handle: Handle,
    io: Arc<ScheduledIo>,
    token: mio::Token,
}

/// The error every I/O resource returns once its runtime's driver has shut down.
pub(crate) fn shutdown_error() -> io::Error {
    io::Error::other(SHUTDOWN_MESSAGE)
}

impl Registration {
    /// Registers `source` with the current runtime's reactor.
    pub(crate) fn new(source: &mut impl Source, interest: mio::Interest) -> io::Result<Self> {
        Registration::new_with_handle(Handle::current()?, source, interest)
    }

    pub(crate) fn new_with_handle(
        handle: Handle,
        source: &mut impl Source,
        interest: mio::Interest,
    ) -> io::Result<Registration> {
        let io = Arc::new(ScheduledIo::new());
        let token = {
            let mut sources = handle.sources();
            if sources.closed {
                return Err(shutdown_error());
            }
            sources.slab.insert(io.clone())?
        };
        if let Err(error) = handle.registry().register(source, token, interest) {
            // Bound to a name so that it drops after the lock (`io` holds another count).
            let removed = handle.sources().slab.remove(token);
            drop(removed);
            return Err(error);
        }
        Ok(Registration { handle, io, token })
    }

    /// Removes `source` from the OS poller. Call before the source is closed.
    pub(crate) fn deregister(&self, source: &mut impl Source) -> io::Result<()> {
        self.handle.registry().deregister(source)
    }

    /// Ready in `direction`, or `Pending` with the task's waker in the direction's `poll_*`
    /// slot (the last poller's waker is the one woken, as in tokio).
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<io::Result<ReadyEvent>> {
        self.io
            .poll_ready(cx, direction, WaiterRef::Polled)
            .map_err(|Shutdown| shutdown_error())
    }

    /// Forgets the readiness `event` saw (after a `WouldBlock`), unless newer events arrived.
    pub(crate) fn clear_readiness(&self, event: ReadyEvent) {
        self.io.clear_readiness(event);
    }

    /// A readiness future's waiter for `direction`: any number of them wait at once.
    pub(crate) fn waiter(&self, direction: Direction) -> ReadinessWaiter<'_> {
        ReadinessWaiter::new(&self.io, direction)
    }

    /// Waits until ready in `direction`.
    pub(crate) async fn readiness(&self, direction: Direction) -> io::Result<ReadyEvent> {
        let mut waiter = self.waiter(direction);
        poll_fn(|cx| poll_waiter(&mut waiter, cx)).await
    }

    /// Runs `operation` when the source is ready in `direction`, until it does not return
    /// `WouldBlock`. Its readiness is cleared on each `WouldBlock`. The waker goes to the
    /// direction's `poll_*` slot.
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        operation: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io_with(cx, |cx| self.poll_ready(cx, direction), operation)
    }

    /// The `async` form of [`poll_io`](Self::poll_io), with its own waiter entry.
    pub(crate) async fn async_io<R>(
        &self,
        direction: Direction,
        mut operation: impl FnMut() -> io::Result<R>,
    ) -> io::Result<R> {
        let mut waiter = self.waiter(direction);
        poll_fn(|cx| self.poll_io_with(cx, |cx| poll_waiter(&mut waiter, cx), &mut operation)).await
    }

    fn poll_io_with<R>(
        &self,
        cx: &mut Context<'_>,
        mut poll_ready: impl FnMut(&mut Context<'_>) -> Poll<io::Result<ReadyEvent>>,
        mut operation: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        loop {
            let event = ready!(poll_ready(cx))?;
            // A source that is always ready must not keep the task from yielding.
            ready!(crate::task::coop::poll_proceed(cx));
            match operation() {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.clear_readiness(event);
                }
                result => return Poll::Ready(result),
            }
        }
    }

    /// Runs `operation` once if the source looks ready, without waiting.
    pub(crate) fn try_io<R>(
        &self,
        direction: Direction,
        operation: impl FnOnce() -> io::Result<R>,
    ) -> io::Result<R> {
        let event = match self.io.current(direction) {
            Poll::Ready(Ok(event)) => event,
            Poll::Ready(Err(Shutdown)) => return Err(shutdown_error()),
            Poll::Pending => return Err(io::ErrorKind::WouldBlock.into()),
        };
        match operation() {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                self.clear_readiness(event);
                Err(error)
            }
            result => result,
        }
    }
}

/// [`ReadinessWaiter::poll_ready`] with the shutdown as an `io::Error`.
pub(crate) fn poll_waiter(
    waiter: &mut ReadinessWaiter<'_>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<ReadyEvent>> {
    waiter.poll_ready(cx).map_err(|Shutdown| shutdown_error())
}

impl Drop for Registration {
    fn drop(&mut self) {
        // Bound to a name so that it drops after the lock (`self.io` holds another count).
        let removed = self.handle.sources().slab.remove(self.token);
        drop(removed);
    }
}

/// A mio source together with its registration: the core of every spindle I/O type.
/// Dropping it deregisters the source, then closes it.
#[derive(Debug)]
pub(crate) struct PollEvented<S: Source> {
    source: Option<S>,
    registration: Registration,
}

impl<S: Source> PollEvented<S> {
    /// Registers `source` for reading and writing with the current runtime's reactor.
    pub(crate) fn new(source: S) -> io::Result<PollEvented<S>> {
        PollEvented::with_interest(source, mio::Interest::READABLE | mio::Interest::WRITABLE)
    }

    pub(crate) fn with_interest(
        mut source: S,
        interest: mio::Interest,
    ) -> io::Result<PollEvented<S>> {
        let registration = Registration::new(&mut source, interest)?;
        Ok(PollEvented {
            source: Some(source),
            registration,
        })
    }

    pub(crate) fn get_ref(&self) -> &S {
        self.source.as_ref().expect("present until drop")
    }

    pub(crate) fn registration(&self) -> &Registration {
        &self.registration
    }
}

/// Reading and writing a stream socket through its readiness: one implementation for every
/// socket type whose shared reference reads and writes (TCP, Unix).
impl<S: Source + AsRawFd> PollEvented<S>
where
    for<'a> &'a S: io::Read + io::Write,
{
    /// Receives into the unfilled part of `buf` (not zeroed first).
    ///
    /// The short-read rule: a read that returns fewer bytes than it had room for (and more
    /// than none) drained the socket's receive buffer at that moment, so the read readiness
    /// is cleared, unless an event arrived since it was seen (the tick check of
    /// `clear_readiness`). The next read then waits for the next edge instead of calling
    /// `recv` only to get `EAGAIN`. Edge-triggered epoll reports every arrival after the
    /// drain as a new event, which bumps the tick, so no data is left unannounced; a peer's
    /// FIN is the sticky `READ_CLOSED`, which clearing keeps. See DESIGN.md, "Short reads".
    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let event = ready!(self.registration.poll_ready(cx, Direction::Read))?;
            ready!(crate::task::coop::poll_proceed(cx));
            let room = buf.remaining();
            match recv_into(self.get_ref().as_raw_fd(), buf) {
                Ok(n) => {
                    if n > 0 && n < room {
                        self.registration.clear_readiness(event);
                    }
                    return Poll::Ready(Ok(()));
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.registration.clear_readiness(event);
                }
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
    }

    pub(crate) fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        use io::Write;
        self.registration
            .poll_io(cx, Direction::Write, || self.get_ref().write(buf))
    }

    /// Writes from several buffers in one `writev`.
    pub(crate) fn poll_write_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        use io::Write;
        self.registration
            .poll_io(cx, Direction::Write, || self.get_ref().write_vectored(bufs))
    }

    /// Reads without waiting: `WouldBlock` if nothing is buffered.
    pub(crate) fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        use io::Read;
        self.registration
            .try_io(Direction::Read, || self.get_ref().read(buf))
    }

    /// Writes without waiting: `WouldBlock` if the send buffer is full.
    pub(crate) fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        use io::Write;
        self.registration
            .try_io(Direction::Write, || self.get_ref().write(buf))
    }
}

/// One `recv(2)` into the unfilled part of `buf`, which it then counts as initialised and
/// filled by the bytes received. Returns that count.
fn recv_into(fd: RawFd, buf: &mut ReadBuf<'_>) -> io::Result<usize> {
    // SAFETY: `recv` writes only received bytes (initialised ones) into the slice.
    let unfilled = unsafe { buf.unfilled_mut() };
    let n = loop {
        // SAFETY: the pointer and length describe `unfilled`, memory we may write for the
        // call's duration; `recv` writes at most `len` bytes there and keeps no pointer.
        let received = unsafe { libc::recv(fd, unfilled.as_mut_ptr().cast(), unfilled.len(), 0) };
        if received >= 0 {
            break received as usize; // at most `unfilled.len()`
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    };
    // SAFETY: `recv` initialised the first `n` bytes of the unfilled part.
    unsafe { buf.assume_init(n) };
    buf.advance(n);
    Ok(n)
}

impl<S: Source> Drop for PollEvented<S> {
    fn drop(&mut self) {
        if let Some(mut source) = self.source.take() {
            // Deregister before the fd closes: a closed fd cannot be removed from the poller.
            let _ = self.registration.deregister(&mut source);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::future::poll_fn;
    use std::io::Write;

    use super::*;

    fn read_readiness(stream: &PollEvented<mio::net::UnixStream>) -> bool {
        stream.registration.io.current(Direction::Read).is_ready()
    }

    /// The short-read rule: a read that fills less than its buffer clears the read
    /// readiness (so the next read waits for an event instead of calling `recv` for an
    /// `EAGAIN`), yet data and a FIN that arrive later are still read. Fails on a
    /// `poll_read` that clears only on `WouldBlock` (the readiness stays set after the
    /// short read).
    #[test]
    fn a_short_read_clears_readiness_and_later_data_still_arrives() {
        crate::block_on(async {
            let (near, far) = mio::net::UnixStream::pair().unwrap();
            let near = PollEvented::new(near).unwrap();
            let mut far = far;
            far.write_all(b"abc").unwrap();
            let mut storage = [0u8; 16];
            let mut buf = ReadBuf::new(&mut storage);
            poll_fn(|cx| near.poll_read(cx, &mut buf)).await.unwrap();
            assert_eq!(buf.filled(), b"abc");
            assert!(!read_readiness(&near), "a short read must clear readiness");

            // New data is a new edge: the next read waits for it, then gets it.
            far.write_all(b"de").unwrap();
            poll_fn(|cx| near.poll_read(cx, &mut buf)).await.unwrap();
            assert_eq!(buf.filled(), b"abcde");

            // A full read (the buffer filled exactly) keeps readiness: more may be queued.
            far.write_all(&[7; 11]).unwrap();
            poll_fn(|cx| near.poll_read(cx, &mut buf)).await.unwrap();
            assert_eq!(buf.remaining(), 0);
            assert!(read_readiness(&near), "a full read must keep readiness");

            // The FIN after a short read: sticky, so the next read sees end of stream.
            buf.clear();
            far.write_all(b"z").unwrap();
            drop(far);
            let mut first = ReadBuf::new(&mut storage);
            poll_fn(|cx| near.poll_read(cx, &mut first)).await.unwrap();
            assert_eq!(first.filled(), b"z");
            let mut second = ReadBuf::new(&mut storage);
            poll_fn(|cx| near.poll_read(cx, &mut second)).await.unwrap();
            assert!(second.filled().is_empty(), "end of stream after the data");
        });
    }
}
