//! [`AsyncFd`]: await the readiness of any nonblocking file descriptor.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::task::{ready, Context, Poll};

use mio::unix::SourceFd;

use crate::reactor::registration::{poll_waiter, Registration};
use crate::reactor::scheduled_io::{Direction, ReadyEvent};

/// The readiness an [`AsyncFd`] is registered for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interest(u8);

impl Interest {
    /// Readable (for a pidfd: the process exited; for a pipe: data or end of stream).
    pub const READABLE: Interest = Interest(0b01);
    /// Writable.
    pub const WRITABLE: Interest = Interest(0b10);

    /// Both interests.
    #[must_use]
    pub const fn add(self, other: Interest) -> Interest {
        Interest(self.0 | other.0)
    }

    /// Whether `self` includes readability.
    pub const fn is_readable(self) -> bool {
        self.0 & Self::READABLE.0 != 0
    }

    /// Whether `self` includes writability.
    pub const fn is_writable(self) -> bool {
        self.0 & Self::WRITABLE.0 != 0
    }

    fn to_mio(self) -> mio::Interest {
        match (self.is_readable(), self.is_writable()) {
            (true, true) => mio::Interest::READABLE | mio::Interest::WRITABLE,
            (false, true) => mio::Interest::WRITABLE,
            _ => mio::Interest::READABLE,
        }
    }
}

impl std::ops::BitOr for Interest {
    type Output = Interest;
    fn bitor(self, other: Interest) -> Interest {
        self.add(other)
    }
}

/// A nonblocking file descriptor registered with the runtime's reactor, so a task can wait
/// until it is readable or writable: a pipe, a pidfd, an eventfd, a socket spindle has no type
/// for.
///
/// The fd must be in nonblocking mode (`O_NONBLOCK`): the reactor reports readiness edges, and
/// a blocking read would stall the whole scheduler thread. The usual loop: wait for readiness,
/// try the operation, and on `WouldBlock` clear the readiness and wait again; [`async_io`]
/// does exactly that.
///
/// ```
/// use std::io::{Read, Write};
/// use std::os::unix::net::UnixStream;
/// use spindle::io::{AsyncFd, Interest};
///
/// spindle::block_on(async {
///     let (mut writer, reader) = UnixStream::pair().unwrap();
///     reader.set_nonblocking(true).unwrap();
///     let reader = AsyncFd::with_interest(reader, Interest::READABLE).unwrap();
///     writer.write_all(b"ping").unwrap();
///     let mut buf = [0; 4];
///     let n = reader.async_io(Interest::READABLE, |mut r| r.read(&mut buf)).await.unwrap();
///     assert_eq!(&buf[..n], b"ping");
/// });
/// ```
///
/// [`async_io`]: AsyncFd::async_io
///
/// # Panics
/// Never; outside a runtime, [`new`](AsyncFd::new) returns an error.
pub struct AsyncFd<T: AsRawFd> {
    inner: Option<T>,
    registration: Registration,
}

impl<T: AsRawFd> AsyncFd<T> {
    /// Registers `inner` for both readability and writability.
    ///
    /// # Errors
    /// Outside a runtime, or if the OS refuses the registration (e.g. a regular file, which
    /// epoll does not support).
    pub fn new(inner: T) -> io::Result<AsyncFd<T>> {
        AsyncFd::with_interest(inner, Interest::READABLE | Interest::WRITABLE)
    }

    /// Registers `inner` for `interest` only.
    ///
    /// # Errors
    /// As [`new`](AsyncFd::new).
    pub fn with_interest(inner: T, interest: Interest) -> io::Result<AsyncFd<T>> {
        let fd = inner.as_raw_fd();
        let registration = Registration::new(&mut SourceFd(&fd), interest.to_mio())?;
        Ok(AsyncFd {
            inner: Some(inner),
            registration,
        })
    }

    /// The wrapped object.
    pub fn get_ref(&self) -> &T {
        self.inner.as_ref().expect("present until drop")
    }

    /// The wrapped object, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.as_mut().expect("present until drop")
    }

    /// Deregisters the fd and returns the wrapped object.
    pub fn into_inner(mut self) -> T {
        self.deregister();
        self.inner.take().expect("present until drop")
    }

    fn deregister(&mut self) {
        if let Some(inner) = &self.inner {
            let fd: RawFd = inner.as_raw_fd();
            // The fd may already have been closed behind our back; nothing more to do then.
            let _ = self.registration.deregister(&mut SourceFd(&fd));
        }
    }

    fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<io::Result<AsyncFdReadyGuard<'_, T>>> {
        let event = ready!(self.registration.poll_ready(cx, direction))?;
        Poll::Ready(Ok(AsyncFdReadyGuard {
            fd: self,
            event: Some(event),
        }))
    }

    /// Polls for readability. On `Ready`, the guard says the fd *may* be readable. On
    /// `Pending`, only the waker of the most recent `poll_read_ready` call is woken (use
    /// [`readable`](Self::readable) for several waiting tasks).
    pub fn poll_read_ready(
        &self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<AsyncFdReadyGuard<'_, T>>> {
        self.poll_ready(cx, Direction::Read)
    }

    /// Polls for writability.
    pub fn poll_write_ready(
        &self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<AsyncFdReadyGuard<'_, T>>> {
        self.poll_ready(cx, Direction::Write)
    }

    /// Waits until the fd may be readable. Any number of tasks may wait at once; each is
    /// woken when readiness arrives.
    ///
    /// # Errors
    /// If the runtime shut down.
    pub async fn readable(&self) -> io::Result<AsyncFdReadyGuard<'_, T>> {
        self.ready(Direction::Read).await
    }

    /// Waits until the fd may be writable. Any number of tasks may wait at once.
    ///
    /// # Errors
    /// If the runtime shut down.
    pub async fn writable(&self) -> io::Result<AsyncFdReadyGuard<'_, T>> {
        self.ready(Direction::Write).await
    }

    async fn ready(&self, direction: Direction) -> io::Result<AsyncFdReadyGuard<'_, T>> {
        let mut waiter = self.registration.waiter(direction);
        let event = poll_fn(|cx| poll_waiter(&mut waiter, cx)).await?;
        Ok(AsyncFdReadyGuard {
            fd: self,
            event: Some(event),
        })
    }

    /// Waits for `interest` (readable if it includes readable, else writable), then runs
    /// `operation` until it returns something other than `WouldBlock`.
    ///
    /// # Errors
    /// `operation`'s error, or a shutdown error.
    pub async fn async_io<R>(
        &self,
        interest: Interest,
        mut operation: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        let direction = if interest.is_readable() {
            Direction::Read
        } else {
            Direction::Write
        };
        let inner = self.get_ref();
        self.registration
            .async_io(direction, || operation(inner))
            .await
    }
}

impl<T: AsRawFd> AsRawFd for AsyncFd<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.get_ref().as_raw_fd()
    }
}

impl<T: AsRawFd> Drop for AsyncFd<T> {
    fn drop(&mut self) {
        // Deregister while the fd is still open; then `inner` drops (and closes it).
        self.deregister();
    }
}

impl<T: AsRawFd + fmt::Debug> fmt::Debug for AsyncFd<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncFd")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

/// The fd was found ready. Call [`clear_ready`](Self::clear_ready) after an operation returns
/// `WouldBlock` (or use [`try_io`](Self::try_io), which does it for you); otherwise the next
/// wait returns at once.
pub struct AsyncFdReadyGuard<'a, T: AsRawFd> {
    fd: &'a AsyncFd<T>,
    event: Option<ReadyEvent>,
}

impl<'a, T: AsRawFd> AsyncFdReadyGuard<'a, T> {
    /// Forgets the readiness this guard saw, unless a newer event arrived meanwhile.
    pub fn clear_ready(&mut self) {
        if let Some(event) = self.event.take() {
            self.fd.registration.clear_readiness(event);
        }
    }

    /// Keeps the readiness (the default when the guard drops).
    pub fn retain_ready(&mut self) {
        self.event = None;
    }

    /// Runs `operation`; if it returns `WouldBlock`, clears the readiness and returns
    /// `Err(TryIoError)` so the caller waits again.
    ///
    /// # Errors
    /// `Err(TryIoError)` when the operation would block.
    pub fn try_io<R>(
        &mut self,
        operation: impl FnOnce(&'a T) -> io::Result<R>,
    ) -> Result<io::Result<R>, TryIoError> {
        match operation(self.fd.get_ref()) {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                self.clear_ready();
                Err(TryIoError(()))
            }
            result => Ok(result),
        }
    }

    /// The `AsyncFd` this guard belongs to.
    pub fn get_ref(&self) -> &'a AsyncFd<T> {
        self.fd
    }

    /// The wrapped object.
    pub fn get_inner(&self) -> &'a T {
        self.fd.get_ref()
    }
}

impl<T: AsRawFd> fmt::Debug for AsyncFdReadyGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncFdReadyGuard")
            .field("fd", &self.fd.as_raw_fd())
            .finish_non_exhaustive()
    }
}

/// [`AsyncFdReadyGuard::try_io`]'s operation would have blocked: wait for readiness again.
#[derive(Debug)]
pub struct TryIoError(());

impl fmt::Display for TryIoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the operation would block")
    }
}

impl std::error::Error for TryIoError {}
