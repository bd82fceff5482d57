//! Unix signals: [`signal`] returns a [`Signal`] listener for one [`SignalKind`].
//!
//! ```
//! use spindle::signal::unix::{signal, SignalKind};
//!
//! spindle::block_on(async {
//!     let mut user1 = signal(SignalKind::user_defined1()).unwrap();
//!     // SAFETY: `raise` takes a signal number and touches no memory of ours; it delivers
//!     // the signal to this thread before it returns.
//!     unsafe { libc::raise(libc::SIGUSR1) };
//!     assert_eq!(user1.recv().await, Some(()));
//! });
//! ```

use std::fmt;
use std::io;
use std::task::{ready, Context, Poll};

use super::registry::SignalSlot;
use crate::io::{AsyncFd, Interest};

/// A signal number, named the way tokio names them.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignalKind(libc::c_int);

impl SignalKind {
    /// Any signal number, e.g. a real-time one (`libc::SIGRTMIN() + 1`).
    pub const fn from_raw(signum: libc::c_int) -> SignalKind {
        SignalKind(signum)
    }

    /// The signal number.
    pub const fn as_raw_value(&self) -> libc::c_int {
        self.0
    }

    /// SIGALRM.
    pub const fn alarm() -> SignalKind {
        SignalKind(libc::SIGALRM)
    }

    /// SIGCHLD. Spindle installs it with `SA_NOCLDSTOP`, so a child stopping or continuing
    /// does not deliver it (only exits do; the process module relies on it).
    pub const fn child() -> SignalKind {
        SignalKind(libc::SIGCHLD)
    }

    /// SIGHUP.
    pub const fn hangup() -> SignalKind {
        SignalKind(libc::SIGHUP)
    }

    /// SIGINT (Ctrl-C).
    pub const fn interrupt() -> SignalKind {
        SignalKind(libc::SIGINT)
    }

    /// SIGPIPE.
    pub const fn pipe() -> SignalKind {
        SignalKind(libc::SIGPIPE)
    }

    /// SIGQUIT.
    pub const fn quit() -> SignalKind {
        SignalKind(libc::SIGQUIT)
    }

    /// SIGTERM.
    pub const fn terminate() -> SignalKind {
        SignalKind(libc::SIGTERM)
    }

    /// SIGUSR1.
    pub const fn user_defined1() -> SignalKind {
        SignalKind(libc::SIGUSR1)
    }

    /// SIGUSR2.
    pub const fn user_defined2() -> SignalKind {
        SignalKind(libc::SIGUSR2)
    }

    /// SIGWINCH.
    pub const fn window_change() -> SignalKind {
        SignalKind(libc::SIGWINCH)
    }
}

impl From<libc::c_int> for SignalKind {
    fn from(signum: libc::c_int) -> SignalKind {
        SignalKind(signum)
    }
}

impl From<SignalKind> for libc::c_int {
    fn from(kind: SignalKind) -> libc::c_int {
        kind.0
    }
}

impl fmt::Debug for SignalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SignalKind").field(&self.0).finish()
    }
}

/// Signals whose handler cannot or must not be replaced: SIGKILL and SIGSTOP cannot be
/// caught; returning from a handler for a synchronous fault (SIGSEGV, SIGILL, SIGFPE)
/// re-runs the faulting instruction forever. Tokio refuses the same set.
const FORBIDDEN: [libc::c_int; 5] = [
    libc::SIGILL,
    libc::SIGFPE,
    libc::SIGKILL,
    libc::SIGSEGV,
    libc::SIGSTOP,
];

/// Listens for `kind`: the returned [`Signal`] sees every delivery from now on.
///
/// # Errors
/// Outside a spindle runtime; `InvalidInput` for SIGKILL, SIGSTOP, SIGSEGV, SIGILL, SIGFPE
/// or a number outside `1..=64`; `WouldBlock` with 64 listeners for this signal
/// alive already; the OS's error if a socket pair cannot be created (`EMFILE`).
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    crate::reactor::refuse_under_loom()?;
    if FORBIDDEN.contains(&kind.0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("refusing to register signal {}", kind.0),
        ));
    }
    let slot = SignalSlot::register(kind.0)?;
    Ok(Signal {
        io: AsyncFd::with_interest(slot, Interest::READABLE)?,
        kind,
    })
}

/// A listener for one signal, from [`signal`]. Dropping it unregisters it (the handler stays
/// installed).
pub struct Signal {
    io: AsyncFd<SignalSlot>,
    kind: SignalKind,
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl Signal {
    /// Waits for the next delivery; deliveries since the last `recv` count as one.
    /// `None` once the runtime has shut down.
    pub async fn recv(&mut self) -> Option<()> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next delivery (see [`recv`](Signal::recv)); on `Pending` the task is
    /// woken at the next delivery.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        loop {
            // Drain before waiting, and again after each cleared readiness: a byte that
            // arrives after a drain raises a new readiness event, so none is lost.
            if self.io.get_ref().drain() {
                return Poll::Ready(Some(()));
            }
            match ready!(self.io.poll_read_ready(cx)) {
                Ok(mut guard) => guard.clear_ready(),
                Err(_) => return Poll::Ready(None),
            }
        }
    }
}
