//! How a worker sleeps: on the shared driver if nobody else holds it, else on its own
//! condition variable.
//!
//! The driver (the reactor, or a plain parker when there is none) is one per runtime; the
//! worker that parks first blocks in it (in `epoll_wait`, with the nearest timer as its
//! timeout) and the others wait on their condvars. `unpark` knows which of the two a worker is
//! in from its state word and wakes it the right way; an unpark before the park leaves a
//! token, so no wake-up is lost (loom model `loom_spawn_racing_with_the_last_searcher_parking`).
//!
//! The driver lives in the runtime's lifecycle (`executor/lifecycle.rs`), which empties its
//! slot at shutdown; a worker that finds the slot empty sleeps on its condvar.
//!
//! Every return to `EMPTY` is a swap, never a store: the swap reads the latest unpark's
//! write and so synchronises with it, making everything the unparker did before (such as
//! setting the shutdown flag) visible. A plain store could overwrite a second unpark's token
//! without seeing its writes, and the worker would sleep through shutdown (loom found this).

use crate::executor::lifecycle::SharedDriver;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};
use crate::loom::sync::{Condvar, Mutex};

const EMPTY: usize = 0;
const PARKED_CONDVAR: usize = 1;
const PARKED_DRIVER: usize = 2;
const NOTIFIED: usize = 3;

/// One worker's parker.
pub(crate) struct WorkerParker {
    state: AtomicUsize,
    lock: Mutex<()>,
    condvar: Condvar,
    /// Under loom: the runtime's reactor, whose model clock counts this worker asleep while
    /// it is parked (`reactor/model_clock.rs`); `None` for a scheduler built without one.
    #[cfg(loom)]
    clock: Option<crate::reactor::Handle>,
}

impl WorkerParker {
    pub(crate) fn new(
        #[cfg_attr(not(loom), allow(unused_variables))] clock: Option<&crate::reactor::Handle>,
    ) -> WorkerParker {
        WorkerParker {
            state: AtomicUsize::new(EMPTY),
            lock: Mutex::new(()),
            condvar: Condvar::new(),
            #[cfg(loom)]
            clock: clock.cloned(),
        }
    }

    /// Under loom, right after the compare-exchange to `parked`: `Some(advance)` if the park
    /// must return instead of blocking (see `Handle::model_after_commit`). `None` otherwise,
    /// and always outside loom.
    fn model_after_commit(&self, _parked: usize) -> Option<bool> {
        #[cfg(loom)]
        if let Some(clock) = &self.clock {
            return clock.model_after_commit(&self.state, EMPTY, _parked);
        }
        None
    }

    /// Under loom: the state was just moved from `previous`; out of a parked state means the
    /// model clock counts this worker awake again.
    fn model_left_parked(&self, _previous: usize) {
        #[cfg(loom)]
        if let (PARKED_CONDVAR | PARKED_DRIVER, Some(clock)) = (_previous, &self.clock) {
            clock.model_clock().woke();
        }
    }

    /// Under loom, after [`model_after_commit`](Self::model_after_commit) chose this worker to
    /// move the clock (its locks released).
    fn model_advance(&self) {
        #[cfg(loom)]
        if let Some(clock) = &self.clock {
            clock.advance_and_wake();
        }
    }

    /// Sleeps until `unpark` (or returns at once if a token waits). May return spuriously.
    /// Returns whether it slept in the driver (for the trace). `driver` is the runtime's.
    pub(crate) fn park(&self, driver: &SharedDriver) -> bool {
        if self
            .state
            .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
            .is_ok()
        {
            return false;
        }
        if let Some(mut guard) = driver.try_take().filter(|guard| guard.is_present()) {
            if self
                .state
                .compare_exchange(EMPTY, PARKED_DRIVER, SeqCst, SeqCst)
                .is_err()
            {
                self.state.swap(EMPTY, SeqCst); // a token arrived: take it
                return false;
            }
            if let Some(advance) = self.model_after_commit(PARKED_DRIVER) {
                drop(guard);
                if advance {
                    self.model_advance();
                }
                return false;
            }
            guard.park(None);
            // Woken by our unpark, a timer or I/O: either way, back to EMPTY.
            let previous = self.state.swap(EMPTY, SeqCst);
            self.model_left_parked(previous);
            return true;
        }
        let mut guard = self.lock.lock().unwrap();
        if self
            .state
            .compare_exchange(EMPTY, PARKED_CONDVAR, SeqCst, SeqCst)
            .is_err()
        {
            self.state.swap(EMPTY, SeqCst);
            return false;
        }
        if let Some(advance) = self.model_after_commit(PARKED_CONDVAR) {
            drop(guard);
            if advance {
                self.model_advance();
            }
            return false;
        }
        loop {
            guard = self.condvar.wait(guard).unwrap();
            if self
                .state
                .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
                .is_ok()
            {
                return false;
            }
        }
    }

    /// Wakes the worker; `driver` is the runtime's (the one `park` was given).
    pub(crate) fn unpark(&self, driver: &SharedDriver) {
        let previous = self.state.swap(NOTIFIED, SeqCst);
        self.model_left_parked(previous);
        match previous {
            EMPTY | NOTIFIED => {}
            PARKED_CONDVAR => {
                // Taking the lock orders the notify after the parker's `wait` began.
                drop(self.lock.lock().unwrap());
                self.condvar.notify_one();
            }
            PARKED_DRIVER => driver.unparker().unpark(),
            other => unreachable!("worker parker state {other}"),
        }
    }
}
