//! A source's membership in the reactor, and the readiness loop every I/O type is built on.

use std::future::poll_fn;
use std::io;
use std::task::{ready, Context, Poll};

use mio::event::Source;

use super::scheduled_io::{
    Direction, ReadinessWaiter, ReadyEvent, ScheduledIo, Shutdown, WaiterRef,
};
use super::{Handle, SHUTDOWN_MESSAGE};
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
impl<S: Source> PollEvented<S>
where
    for<'a> &'a S: io::Read + io::Write,
{
    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        use io::Read;
        self.registration
            .poll_io(cx, Direction::Read, || self.get_ref().read(buf))
    }

    pub(crate) fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        use io::Write;
        self.registration
            .poll_io(cx, Direction::Write, || self.get_ref().write(buf))
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

impl<S: Source> Drop for PollEvented<S> {
    fn drop(&mut self) {
        if let Some(mut source) = self.source.take() {
            // Deregister before the fd closes: a closed fd cannot be removed from the poller.
            let _ = self.registration.deregister(&mut source);
        }
    }
}
