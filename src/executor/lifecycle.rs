//! One runtime's lifecycle, for both scheduler flavours: the tasks it owns, its injection
//! queue, its driver (reactor and timers) and its blocking pool, from the first spawn to the
//! shutdown that ends them all.
//!
//! The flavours differ only in policy: where a task they queue goes, who polls it, and how
//! their threads stop. The mechanism is written once, here:
//! - [`Lifecycle::bind`]: a new task joins the owned set, or is refused once the runtime has
//!   shut down (it is then cancelled before it ever runs).
//! - [`Lifecycle::release`]: a completed task leaves the owned set.
//! - [`Lifecycle::shutdown`], at runtime drop, in this order: mark the runtime shut down;
//!   stop the flavour's threads (its policy: a current-thread runtime takes its core off the
//!   shelf, a multi-thread one joins its workers); cancel every owned task on the dropping
//!   thread and close the owned set; close the injection queue; shut the driver down (every
//!   source fails with "the runtime owning this resource has shut down", every timer fires
//!   and later polls panic) and drop it; shut the blocking pool down.
//!
//! # Invariants
//! - Shutdown runs once, whoever calls it (the runtime's drop, `shutdown_timeout`, or a
//!   failed build), and it completes before the runtime's drop returns, whatever else still
//!   holds the shared state (a `Handle`, a `JoinHandle`, a `Waker`). So no resource of a
//!   dropped runtime can hang: it errors (test
//!   `differential::runtime::a_dropped_runtimes_sockets_and_sleeps_fail_whatever_survives`).
//! - No user code runs while a thread holds the driver: the wakers a driver turn collects are
//!   woken after the `DriverGuard` lets it go. So a waker whose drop drops this runtime, even
//!   on the thread inside the driver, finds the driver free for its shutdown (test
//!   `multi_thread::a_waker_that_drops_its_runtime_from_inside_the_driver_does_not_deadlock`).
//! - The driver itself (the `mio::Poll`, or the plain parker) is dropped at shutdown, never
//!   later from inside a waker's drop: freeing the last task of a dropped runtime frees no
//!   driver, so it can take no reactor lock (test
//!   `differential::runtime::a_stale_waker_of_a_dropped_runtime_does_not_deadlock_another`).
//! - After shutdown nothing can be queued or owned: `bind` refuses, the injection queue
//!   drops what is pushed, the driver slot is empty (a worker that looks for it sleeps on its
//!   own condition variable instead).

use std::cell::Cell;
use std::future::Future;
use std::task::Waker;
use std::time::Duration;

use super::context;
use super::inject::Inject;
use super::park::{Park, UnparkHandle};
use super::runtime::Resources;
use super::Handle;
use crate::loom::sync::atomic::{AtomicBool, Ordering::*};
use crate::loom::sync::{Mutex, MutexGuard};
use crate::task::{self, JoinHandle, Notified, OwnedTask, OwnedTasks, RefusedTask, Schedule};

/// See the module doc.
pub(crate) struct Lifecycle<S: 'static> {
    pub(crate) owned: OwnedTasks<S>,
    pub(crate) inject: Inject<S>,
    pub(crate) driver: SharedDriver,
    resources: Resources,
    is_shutdown: AtomicBool,
}

impl<S: Schedule> Lifecycle<S> {
    /// `owned_shards`: see [`OwnedTasks::new`].
    pub(crate) fn new(
        owned_shards: usize,
        driver: Box<dyn Park>,
        resources: Resources,
    ) -> Lifecycle<S> {
        Lifecycle {
            owned: OwnedTasks::new(owned_shards),
            inject: Inject::new(),
            driver: SharedDriver::new(driver),
            resources,
            is_shutdown: AtomicBool::new(false),
        }
    }

    /// The reactor and blocking pool, for the runtime's handles.
    pub(crate) fn resources(&self) -> &Resources {
        &self.resources
    }

    /// Whether shutdown has begun. Workers leave their loop once it has.
    pub(crate) fn is_shutdown(&self) -> bool {
        self.is_shutdown.load(Acquire)
    }

    /// Under loom, for [`crate::model`]: whether shutting down now could run user code: a
    /// task is still owned (its future may be mid-poll on a worker, or is dropped by the
    /// shutdown), or the blocking pool has threads (a blocking call may still run).
    #[cfg(loom)]
    pub(crate) fn shutdown_may_run_user_code(&self) -> bool {
        !self.owned.is_empty()
            || self
                .resources
                .blocking
                .as_ref()
                .is_some_and(|pool| pool.thread_count() > 0)
    }

    /// Allocates a task scheduled by `scheduler` and adds it to the owned set. `Ok` holds
    /// the entry to queue; `Err`, a runtime that shut down, holds the refusal whose drop
    /// cancels the task (the caller drops it once no runtime context is borrowed).
    /// `on_new` sees the task's id first (for the trace).
    pub(crate) fn bind<F>(
        &self,
        future: F,
        scheduler: S,
        on_new: impl FnOnce(task::Id),
    ) -> (JoinHandle<F::Output>, Result<Notified<S>, RefusedTask>)
    where
        F: Future + 'static,
    {
        let (owned, notified, join) = task::new_task(future, scheduler);
        on_new(notified.id());
        match self.owned.insert(owned) {
            Ok(()) => (join, Ok(notified)),
            // The entry is only a reference: dropping it runs no user code.
            Err(owned) => (join, Err(owned.refuse())),
        }
    }

    /// A task completed: the owned set's reference to it, unless shutdown took it already.
    pub(crate) fn release(&self, task: &OwnedTask<S>) -> Option<OwnedTask<S>> {
        self.owned.remove(task)
    }

    /// Ends the runtime (see the module doc for the order). `stop_threads` is the flavour's
    /// policy for stopping whatever runs its tasks; `handle` is made current while futures
    /// are dropped, since their destructors may spawn or wake; `blocking_timeout` bounds the
    /// wait for running blocking calls (`None`: no bound). Runs once; later calls return at
    /// once.
    pub(crate) fn shutdown(
        &self,
        handle: Handle,
        stop_threads: impl FnOnce(),
        blocking_timeout: Option<Duration>,
    ) {
        if self.is_shutdown.swap(true, AcqRel) {
            return;
        }
        stop_threads();
        {
            let _entered = context::enter(handle);
            for task in self.owned.close_and_take_all() {
                task.shutdown();
            }
            // Drop entries outside the queue's lock (they are only references).
            drop(self.inject.close());
        }
        // Fails the sources and fires the timers, waking their waiters (outside every lock),
        // then frees the driver, here rather than with the last task.
        if let Some(mut driver) = self.driver.take() {
            driver.shutdown();
            drop(driver);
        }
        if let Some(blocking) = &self.resources.blocking {
            blocking.shutdown(blocking_timeout);
        }
        debug_assert!(self.owned.is_empty());
    }
}

/// The runtime's driver (the reactor, or a plain parker when there is none), which whoever
/// parks first blocks in.
///
/// Whoever wins the `taken` flag owns the driver; the mutex only gives it safe access and is
/// never contended (a `try_lock` would do the same job, but loom models a `try_lock` that
/// races with a holder as blocking, which reports false deadlocks). The slot is emptied at
/// shutdown; from then on nobody can take it.
pub(crate) struct SharedDriver {
    taken: AtomicBool,
    driver: Mutex<Option<Box<dyn Park>>>,
    unpark: UnparkHandle,
}

/// Ownership of the driver until dropped.
///
/// The wakers a turn of the driver collects are woken when the guard drops, after the driver
/// is let go, never while it is held: a wake or a waker's drop is user code, and a waker may
/// own the last reference to this very runtime, whose shutdown takes the driver (it
/// deadlocked on the driver's lock when the driver woke inside its turn; test
/// `multi_thread::a_waker_that_drops_its_runtime_from_inside_the_driver_does_not_deadlock`).
pub(crate) struct DriverGuard<'a> {
    shared: &'a SharedDriver,
    driver: Option<MutexGuard<'a, Option<Box<dyn Park>>>>,
    /// What the driver's turns collected, woken at drop.
    woken: Vec<Waker>,
}

crate::loom::thread_local! {
    /// This thread's spare vector for a driver turn's wakers, handed back by each
    /// `DriverGuard` once it has woken them, so steady-state turns allocate nothing.
    static SPARE_WOKEN: Cell<Vec<Waker>> = const { Cell::new(Vec::new()) };
}

impl DriverGuard<'_> {
    /// Parks in the driver. Returns `false` (without parking) if shutdown took it.
    pub(crate) fn park(&mut self, timeout: Option<Duration>) -> bool {
        match self.driver.as_mut().and_then(|slot| slot.as_mut()) {
            Some(driver) => {
                driver.park(timeout);
                if self.woken.capacity() == 0 {
                    self.woken = SPARE_WOKEN.try_with(Cell::take).unwrap_or_default();
                }
                driver.take_woken(&mut self.woken);
                true
            }
            None => false,
        }
    }

    /// Whether the driver is still there (it is until shutdown).
    pub(crate) fn is_present(&self) -> bool {
        self.driver.as_ref().is_some_and(|slot| slot.is_some())
    }
}

impl Drop for DriverGuard<'_> {
    fn drop(&mut self) {
        self.driver.take();
        self.shared.taken.store(false, Release);
        // The driver is free: now wake what its turn found ready (see the type's doc).
        let mut woken = std::mem::take(&mut self.woken);
        for waker in woken.drain(..) {
            waker.wake();
        }
        let _ = SPARE_WOKEN.try_with(|spare| spare.set(woken));
    }
}

impl SharedDriver {
    fn new(driver: Box<dyn Park>) -> SharedDriver {
        let unpark = driver.unparker();
        SharedDriver {
            taken: AtomicBool::new(false),
            driver: Mutex::new(Some(driver)),
            unpark,
        }
    }

    /// The driver, if nobody else is in it.
    pub(crate) fn try_take(&self) -> Option<DriverGuard<'_>> {
        self.taken
            .compare_exchange(false, true, Acquire, Relaxed)
            .ok()?;
        Some(DriverGuard {
            shared: self,
            driver: Some(self.driver.lock().unwrap()),
            woken: Vec::new(),
        })
    }

    /// Wakes whoever blocks in the driver (or leaves it a token).
    pub(crate) fn unparker(&self) -> &UnparkHandle {
        &self.unpark
    }

    /// Lets the driver dispatch pending events without blocking, if nobody is in it.
    /// Returns whether it did (for the trace).
    pub(crate) fn poll_events(&self) -> bool {
        self.try_take()
            .is_some_and(|mut guard| guard.park(Some(Duration::ZERO)))
    }

    /// Empties the slot (at shutdown, once no thread can be in the driver).
    fn take(&self) -> Option<Box<dyn Park>> {
        self.driver.lock().unwrap().take()
    }
}
