//! How a worker sleeps: on the shared driver if nobody else holds it, else on its own
//! condition variable.
//!
//! The driver (the reactor, or a plain parker when there is none) is one per runtime; the
//! worker that parks first blocks in it (in `epoll_wait`, with the nearest timer as its
//! timeout) and the others wait on their condvars. `unpark` knows which of the two a worker is
//! in from its state word and wakes it the right way; an unpark before the park leaves a
//! token, so no wake-up is lost (loom model `loom_spawn_racing_with_the_last_searcher_parking`).
//!
//! Every return to `EMPTY` is a swap, never a store: the swap reads the latest unpark's
//! write and so synchronises with it, making everything the unparker did before (such as
//! setting the shutdown flag) visible. A plain store could overwrite a second unpark's token
//! without seeing its writes, and the worker would sleep through shutdown (loom found this).

use std::time::Duration;

use crate::executor::park::{Park, UnparkHandle};
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use crate::loom::sync::{Arc, Condvar, Mutex, MutexGuard};

const EMPTY: usize = 0;
const PARKED_CONDVAR: usize = 1;
const PARKED_DRIVER: usize = 2;
const NOTIFIED: usize = 3;

/// The runtime's driver, shared by its workers.
///
/// Whoever wins the `taken` flag owns the driver; the mutex only gives it safe access and is
/// never contended. (A `try_lock` would do the same job, but loom models a `try_lock` that
/// races with a holder as blocking, which reports false deadlocks.)
pub(crate) struct SharedDriver {
    taken: AtomicBool,
    driver: Mutex<Box<dyn Park>>,
    unpark: UnparkHandle,
}

/// Ownership of the driver until dropped.
struct DriverGuard<'a> {
    shared: &'a SharedDriver,
    driver: Option<MutexGuard<'a, Box<dyn Park>>>,
}

impl Drop for DriverGuard<'_> {
    fn drop(&mut self) {
        self.driver.take();
        self.shared.taken.store(false, Release);
    }
}

impl SharedDriver {
    pub(crate) fn new(driver: Box<dyn Park>) -> SharedDriver {
        let unpark = driver.unparker();
        SharedDriver {
            taken: AtomicBool::new(false),
            driver: Mutex::new(driver),
            unpark,
        }
    }

    fn try_take(&self) -> Option<DriverGuard<'_>> {
        self.taken
            .compare_exchange(false, true, Acquire, Relaxed)
            .ok()?;
        Some(DriverGuard {
            shared: self,
            driver: Some(self.driver.lock().unwrap()),
        })
    }

    /// Lets the driver dispatch pending events without blocking, if no worker is in it.
    /// Returns whether it did (for the trace).
    pub(crate) fn poll_events(&self) -> bool {
        if let Some(mut guard) = self.try_take() {
            if let Some(driver) = guard.driver.as_mut() {
                driver.park(Some(Duration::ZERO));
                return true;
            }
        }
        false
    }
}

/// One worker's parker.
pub(crate) struct WorkerParker {
    state: AtomicUsize,
    lock: Mutex<()>,
    condvar: Condvar,
    driver: Arc<SharedDriver>,
}

impl WorkerParker {
    pub(crate) fn new(driver: Arc<SharedDriver>) -> WorkerParker {
        WorkerParker {
            state: AtomicUsize::new(EMPTY),
            lock: Mutex::new(()),
            condvar: Condvar::new(),
            driver,
        }
    }

    /// Sleeps until `unpark` (or returns at once if a token waits). May return spuriously.
    /// Returns whether it slept in the driver (for the trace).
    pub(crate) fn park(&self) -> bool {
        if self
            .state
            .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
            .is_ok()
        {
            return false;
        }
        if let Some(mut guard) = self.driver.try_take() {
            let driver = guard.driver.as_mut().expect("held until the guard drops");
            if self
                .state
                .compare_exchange(EMPTY, PARKED_DRIVER, SeqCst, SeqCst)
                .is_err()
            {
                self.state.swap(EMPTY, SeqCst); // a token arrived: take it
                return false;
            }
            driver.park(None);
            // Woken by our unpark, a timer or I/O: either way, back to EMPTY.
            self.state.swap(EMPTY, SeqCst);
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

    pub(crate) fn unpark(&self) {
        match self.state.swap(NOTIFIED, SeqCst) {
            EMPTY | NOTIFIED => {}
            PARKED_CONDVAR => {
                // Taking the lock orders the notify after the parker's `wait` began.
                drop(self.lock.lock().unwrap());
                self.condvar.notify_one();
            }
            PARKED_DRIVER => self.driver.unpark.unpark(),
            other => unreachable!("worker parker state {other}"),
        }
    }
}
