//! hyper 1.x on spindle: [`Io`] (hyper's `Read`/`Write` over a spindle stream), [`Executor`]
//! (hyper's background tasks as spindle tasks) and [`Timer`] (hyper's timeouts as spindle
//! sleeps). Feature `hyper`, off by default.
//!
//! An HTTP/1 server (`examples/hello_http.rs` is the whole program):
//!
//! ```no_run
//! use std::convert::Infallible;
//! use std::time::Duration;
//! use spindle::compat::hyper::{Io, Timer};
//!
//! # async fn serve(listener: spindle::net::TcpListener) -> std::io::Result<()> {
//! loop {
//!     let (stream, _) = listener.accept().await?;
//!     spindle::spawn(async move {
//!         let service = hyper::service::service_fn(|_request| async {
//!             Ok::<_, Infallible>(hyper::Response::new(String::from("Hello, World!")))
//!         });
//!         let _ = hyper::server::conn::http1::Builder::new()
//!             .timer(Timer::new())
//!             .header_read_timeout(Duration::from_secs(5))
//!             .serve_connection(Io::new(stream), service)
//!             .await;
//!     });
//! }
//! # }
//! ```
//! (The example needs hyper's `server` and `http1` features in the program's own dependency
//! on hyper; spindle's `hyper` feature enables none.)

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::io::{AsyncRead, AsyncWrite, ReadBuf};
use crate::runtime::Handle;

/// A spindle stream (a `TcpStream`, `UnixStream`, `DuplexStream`, …) seen as hyper's
/// [`Read`](hyper::rt::Read) and [`Write`](hyper::rt::Write): what
/// `serve_connection` and `handshake` take. Reads go straight into hyper's uninitialised
/// buffer (no zeroing); vectored writes stay vectored (one `writev` on sockets).
///
/// It also implements spindle's [`AsyncRead`]/[`AsyncWrite`] again, so an upgraded
/// connection can be used as a spindle stream.
pub struct Io<T> {
    inner: T,
}

impl<T> Io<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Io<T> {
        Io { inner }
    }

    /// The wrapped stream.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// The wrapped stream, mutably.
    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwraps it.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: fmt::Debug> fmt::Debug for Io<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Io").field(&self.inner).finish()
    }
}

impl<T: AsyncRead + Unpin> hyper::rt::Read for Io<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut cursor: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let inner = &mut self.get_mut().inner;
        // SAFETY (of `as_mut`, whose caller must not de-initialise any byte): the slice is
        // only ever reached through a `spindle::io::ReadBuf`, whose safe methods write
        // initialised bytes only, and whose `unfilled_mut` obliges its own callers not to
        // write uninitialised ones.
        let unfilled = unsafe { cursor.as_mut() };
        let start = unfilled.as_ptr().cast::<u8>();
        let mut buf = ReadBuf::uninit(unfilled);
        match Pin::new(inner).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        // A reader may (in safe code) replace the `ReadBuf` it was lent with one over other,
        // longer-lived memory; then the bytes it filled are not in hyper's buffer.
        assert_eq!(
            buf.filled().as_ptr(),
            start,
            "poll_read swapped the ReadBuf it was lent for another"
        );
        let n = buf.filled().len();
        // SAFETY (of `advance`, whose caller promises the next `n` bytes are initialised):
        // `buf` is (checked just above) the `ReadBuf` over the cursor's unfilled memory,
        // starting at its first byte, and a `ReadBuf`'s filled part is initialised (its
        // invariant `filled <= initialized`, which only `assume_init`'s callers can raise, on
        // their promise). So the cursor's first `n` unfilled bytes are initialised.
        unsafe { cursor.advance(n) };
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> hyper::rt::Write for Io<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Io<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Io<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// hyper's [`Executor`](hyper::rt::Executor): spawns hyper's background futures (HTTP/2
/// connection tasks, for instance) as spindle tasks on the runtime it was made in.
#[derive(Clone, Debug)]
pub struct Executor {
    handle: Handle,
}

impl Executor {
    /// An executor for the current runtime.
    ///
    /// # Panics
    /// Outside a spindle runtime (as [`Handle::current`]).
    #[track_caller]
    pub fn new() -> Executor {
        Executor::with_handle(Handle::current())
    }

    /// An executor spawning onto `handle`'s runtime, from any thread.
    pub fn with_handle(handle: Handle) -> Executor {
        Executor { handle }
    }
}

impl Default for Executor {
    /// [`Executor::new`]: the current runtime.
    ///
    /// # Panics
    /// Outside a spindle runtime.
    #[track_caller]
    fn default() -> Executor {
        Executor::new()
    }
}

impl<F> hyper::rt::Executor<F> for Executor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        // Detached, as hyper expects: the task runs to its end on its own.
        drop(self.handle.spawn(future));
    }
}

/// hyper's [`Timer`](hyper::rt::Timer) on spindle's timer wheel: what
/// `header_read_timeout` and keep-alive timeouts need. Its sleeps are [`crate::time::Sleep`]s,
/// and [`reset`](hyper::rt::Timer::reset) moves the deadline of the same wheel entry (no new
/// allocation per request).
///
/// # Panics
/// hyper calls `sleep` from inside the connection's task; outside a spindle runtime it
/// panics, as [`crate::time::sleep`] does.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timer {
    _private: (),
}

impl Timer {
    /// A timer on the runtime polling the connection.
    pub fn new() -> Timer {
        Timer { _private: () }
    }
}

/// A spindle sleep as hyper's [`Sleep`](hyper::rt::Sleep).
struct HyperSleep(crate::time::Sleep);

impl Future for HyperSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.get_mut().0).poll(cx)
    }
}

impl hyper::rt::Sleep for HyperSleep {}

impl hyper::rt::Timer for Timer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HyperSleep(crate::time::sleep(duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HyperSleep(crate::time::sleep_until(deadline)))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<HyperSleep>() {
            // `HyperSleep` is `Unpin`, so the pin can be undone.
            Some(ours) => ours.get_mut().0.reset(new_deadline),
            // Another timer's sleep: replace it, as hyper's default `reset` does.
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::rt::Timer as _;

    use std::future::poll_fn;
    use std::mem::MaybeUninit;

    #[test]
    fn reads_into_hyper_uninitialised_buffer() {
        crate::block_on(async {
            let (a, b) = crate::io::duplex(64);
            let (mut a, mut b) = (Io::new(a), Io::new(b));
            let sent = poll_fn(|cx| hyper::rt::Write::poll_write(Pin::new(&mut a), cx, b"abc"));
            assert_eq!(sent.await.unwrap(), 3);
            let mut storage = [MaybeUninit::<u8>::uninit(); 8];
            let mut buf = hyper::rt::ReadBuf::uninit(&mut storage);
            poll_fn(|cx| hyper::rt::Read::poll_read(Pin::new(&mut b), cx, buf.unfilled()))
                .await
                .unwrap();
            assert_eq!(buf.filled(), b"abc");
        });
    }

    /// Safe code can hand back a different `ReadBuf` than the one lent; its bytes must not
    /// be counted as written into hyper's buffer.
    struct Swapper;

    impl AsyncRead for Swapper {
        fn poll_read(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let other: &'static mut [u8] = Box::leak(Box::new([7u8; 4]));
            *buf = ReadBuf::new(other);
            buf.advance(4);
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    #[should_panic(expected = "swapped the ReadBuf")]
    fn a_reader_that_swaps_the_buffer_panics_instead_of_exposing_uninit_bytes() {
        let mut io = Io::new(Swapper);
        let mut storage = [MaybeUninit::<u8>::uninit(); 8];
        let mut buf = hyper::rt::ReadBuf::uninit(&mut storage);
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let _ = hyper::rt::Read::poll_read(Pin::new(&mut io), &mut cx, buf.unfilled());
    }

    #[test]
    fn tcp_streams_stay_vectored() {
        crate::block_on(async {
            let listener = crate::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let client = crate::net::TcpStream::connect(addr).await.unwrap();
            let (server, _) = listener.accept().await.unwrap();
            let mut client = Io::new(client);
            assert!(hyper::rt::Write::is_write_vectored(&client));
            let bufs = [io::IoSlice::new(b"one "), io::IoSlice::new(b"two")];
            let n = poll_fn(|cx| {
                hyper::rt::Write::poll_write_vectored(Pin::new(&mut client), cx, &bufs)
            });
            // Both buffers in one call (a loopback socket takes 7 bytes at once).
            assert_eq!(n.await.unwrap(), 7);
            let mut got = [0u8; 7];
            let mut server = server;
            crate::io::AsyncReadExt::read_exact(&mut server, &mut got)
                .await
                .unwrap();
            assert_eq!(&got[..], b"one two");
        });
    }

    #[test]
    fn reset_moves_the_same_sleep() {
        let rt = crate::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let timer = Timer::new();
            let mut sleep = timer.sleep(Duration::from_secs(3600));
            let start = Instant::now();
            timer.reset(&mut sleep, start);
            // Still our sleep (downcast worked, not replaced), now due at `start`.
            assert!(sleep.is::<HyperSleep>());
            let ours = sleep.as_mut().downcast_mut_pin::<HyperSleep>().unwrap();
            assert_eq!(ours.0.deadline(), start);
            sleep.await;
        });
    }
}
