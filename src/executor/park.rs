//! The park seam: how a scheduler thread sleeps when it has nothing to run, and how any
//! thread wakes it.
//!
//! Schedulers only see the two traits. [`ThreadParker`] (a mutex and condvar) is the plain
//! implementation; the reactor's driver implements the same traits by blocking in
//! `epoll_wait`/`kevent` and waking through `mio::Waker`, without the schedulers changing.
//!
//! The contract that makes wake-ups impossible to lose: `unpark` leaves a token if nobody is
//! parked, and the next `park` consumes it and returns at once. So "check for work, then
//! park" can race with "add work, then unpark" in any order (loom model
//! `loom_wake_racing_with_park_is_not_lost`). Going back to `EMPTY` is always a swap, which
//! synchronises with the unpark that set the token; a store would not.

use std::fmt;
use std::time::Duration;

use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::loom::sync::{Condvar, Mutex};

/// Blocks the thread that drives a scheduler.
pub(crate) trait Park: Send + 'static {
    /// Blocks until [`Unpark::unpark`] is called (or returns at once if a token is waiting).
    /// With a timeout, returns after at most that long; `Duration::ZERO` only takes a waiting
    /// token and polls for events. May also return spuriously.
    fn park(&mut self, timeout: Option<Duration>);

    /// Moves the wakers of what became ready during `park` (I/O readiness, due timers) onto
    /// `woken`, unwoken. The runtime wakes them once it has let go of the driver: a wake, or
    /// a waker's drop, is user code, and may even drop this runtime, whose shutdown takes
    /// the driver (see `executor/lifecycle.rs`, `SharedDriver`). A plain parker collects
    /// nothing; the loom `ModelDriver` hands back the timers its model clock fired.
    fn take_woken(&mut self, _woken: &mut Vec<std::task::Waker>) {}

    /// A handle that wakes this parker from any thread.
    fn unparker(&self) -> UnparkHandle;

    /// The runtime is shutting down: release whatever waits on this driver (the reactor
    /// fails its sources and fires its timers). Called once, by the runtime's lifecycle,
    /// before the driver is dropped. A plain parker has nothing to release.
    fn shutdown(&mut self) {}
}

/// A shared [`Unpark`]. A `std` `Arc` even under loom: loom's `Arc` cannot hold a trait
/// object, and the handle's count is no part of any protocol (what it points at is).
pub(crate) type UnparkHandle = std::sync::Arc<dyn Unpark>;

/// Wakes a [`Park`] from any thread.
pub(crate) trait Unpark: Send + Sync + 'static {
    fn unpark(&self);
}

const EMPTY: usize = 0;
const PARKED: usize = 1;
const NOTIFIED: usize = 2;

/// A parker built on a mutex and a condition variable.
pub(crate) struct ThreadParker {
    inner: std::sync::Arc<ParkerInner>,
}

struct ParkerInner {
    state: AtomicUsize,
    lock: Mutex<()>,
    condvar: Condvar,
    /// Under loom: the model clock that counts this parker's thread asleep while it is
    /// `PARKED` (a runtime thread's parker), or `None`.
    #[cfg(loom)]
    counted: Option<std::sync::Arc<crate::reactor::model_clock::ModelClock>>,
}

impl ThreadParker {
    pub(crate) fn new() -> ThreadParker {
        ThreadParker {
            inner: std::sync::Arc::new(ParkerInner {
                state: AtomicUsize::new(EMPTY),
                lock: Mutex::new(()),
                condvar: Condvar::new(),
                #[cfg(loom)]
                counted: None,
            }),
        }
    }
}

#[cfg(loom)]
impl ThreadParker {
    /// Under loom: the parker of a runtime thread, which the model clock of `clock` counts
    /// asleep while it is parked (see `reactor/model_clock.rs`). Park it with
    /// [`park_on_model_clock`](Self::park_on_model_clock).
    pub(crate) fn on_model_clock(clock: &crate::reactor::Handle) -> ThreadParker {
        ThreadParker {
            inner: std::sync::Arc::new(ParkerInner {
                state: AtomicUsize::new(EMPTY),
                lock: Mutex::new(()),
                condvar: Condvar::new(),
                counted: Some(clock.model_clock_counters()),
            }),
        }
    }

    /// Parks until unparked; if this thread is the runtime's last awake one and a timer
    /// waits, advances the model clock instead of sleeping and leaves the due timers' wakers
    /// in `woken`, for the caller to wake once it holds no lock.
    pub(crate) fn park_on_model_clock(
        &self,
        clock: &crate::reactor::Handle,
        woken: &mut Vec<std::task::Waker>,
    ) {
        debug_assert!(self.inner.counted.is_some(), "not a model-clock parker");
        self.inner.park(None, Some(ModelSleep { clock, woken }));
    }

    /// [`park_on_model_clock`](Self::park_on_model_clock) for a thread that holds no lock:
    /// wakes what a move of the clock fired before returning.
    pub(crate) fn park_and_wake_on_model_clock(&self, clock: &crate::reactor::Handle) {
        let mut woken = Vec::new();
        self.park_on_model_clock(clock, &mut woken);
        woken.into_iter().for_each(std::task::Waker::wake);
    }
}

/// Under loom: the model clock a park counts for, and where an advance leaves its wakers.
#[cfg(loom)]
struct ModelSleep<'a> {
    clock: &'a crate::reactor::Handle,
    woken: &'a mut Vec<std::task::Waker>,
}

impl Default for ThreadParker {
    fn default() -> ThreadParker {
        ThreadParker::new()
    }
}

impl fmt::Debug for ThreadParker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadParker").finish_non_exhaustive()
    }
}

impl Park for ThreadParker {
    fn park(&mut self, timeout: Option<Duration>) {
        self.inner.park(
            timeout,
            #[cfg(loom)]
            None,
        )
    }

    fn unparker(&self) -> UnparkHandle {
        self.inner.clone()
    }
}

impl ParkerInner {
    fn park(&self, timeout: Option<Duration>, #[cfg(loom)] model: Option<ModelSleep<'_>>) {
        // A waiting token: take it and return without locking.
        if self
            .state
            .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
            .is_ok()
        {
            return;
        }
        if timeout == Some(Duration::ZERO) {
            return;
        }
        let mut guard = self.lock.lock().unwrap();
        match self.state.compare_exchange(EMPTY, PARKED, SeqCst, SeqCst) {
            Ok(_) => {}
            Err(NOTIFIED) => {
                // Unparked between the first check and taking the lock.
                self.state.swap(EMPTY, SeqCst);
                return;
            }
            Err(other) => unreachable!("a parker has one owner; state {other}"),
        }
        // Committed: a model-clock parker now counts as asleep, in this very step.
        #[cfg(loom)]
        if let (None, Some(counted)) = (&model, &self.counted) {
            counted.fell_asleep();
        }
        #[cfg(loom)]
        if let Some(ModelSleep { clock, woken }) = model {
            if let Some(advance) = clock.model_after_commit(&self.state, EMPTY, PARKED) {
                drop(guard);
                if advance {
                    clock.advance_model_clock(woken);
                }
                return;
            }
        }
        match timeout {
            None => loop {
                guard = self.condvar.wait(guard).unwrap();
                if self
                    .state
                    .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
                    .is_ok()
                {
                    return; // a real unpark, not a spurious wake-up
                }
            },
            Some(timeout) => {
                let (_guard, _) = self.condvar.wait_timeout(guard, timeout).unwrap();
                // Timed out or unparked: either way the state goes back to EMPTY, taking any
                // token that arrived.
                let _previous = self.state.swap(EMPTY, SeqCst);
                #[cfg(loom)]
                self.model_left_parked(_previous);
            }
        }
    }
}

#[cfg(loom)]
impl ParkerInner {
    /// Under loom: the state was just moved from `previous`; out of `PARKED` means the model
    /// clock counts this parker's thread awake again.
    fn model_left_parked(&self, previous: usize) {
        if let (PARKED, Some(clock)) = (previous, &self.counted) {
            clock.woke();
        }
    }
}

impl Unpark for ParkerInner {
    fn unpark(&self) {
        let previous = self.state.swap(NOTIFIED, SeqCst);
        #[cfg(loom)]
        self.model_left_parked(previous);
        match previous {
            EMPTY | NOTIFIED => {} // the token waits for the next park
            PARKED => {
                // Taking the lock orders this notify after the parker's wait began: the
                // parker set PARKED while holding the lock and only releases it in `wait`.
                drop(self.lock.lock().unwrap());
                self.condvar.notify_one();
            }
            other => unreachable!("parker state {other}"),
        }
    }
}
