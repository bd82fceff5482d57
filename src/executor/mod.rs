//! Executors: what decides which task runs next.
//!
//! - [`current_thread`](crate::runtime::Builder::new_current_thread): every task on the thread
//!   that calls `block_on`, FIFO, no locks on the local path.
//! - [`multi_thread`](crate::runtime::Builder::new_multi_thread): one worker thread per core,
//!   each with a local queue that idle peers steal half of, and a stealable LIFO slot.
//! - [`naive`]: a deliberately wake-unaware scheduler, kept as teaching material and as the
//!   negative control of the loom proofs: it polls every pending task in turn, as the
//!   article's interpreter switches among waiting threads.
//!
//! Every executor here polls a task only when a run-queue entry exists for it, and an entry
//! exists only because a wake (or the spawn) created it: the article's T1/T2/T3 waste cannot
//! happen. [`Metrics::wasted_polls`] counts violations, and the loom model
//! `loom_t1_t2_t3_only_the_ready_task_is_polled` proves there are none.

pub(crate) mod context;
pub(crate) mod current_thread;
mod inject;
pub(crate) mod lifecycle;
mod metrics;
pub(crate) mod multi_thread;
pub mod naive;
pub(crate) mod park;
mod runtime;
pub mod trace;

#[cfg(all(test, loom))]
mod loom_tests;

use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::thread::{self, ThreadId};

pub use context::EnterGuard;
pub use metrics::Metrics;
pub(crate) use metrics::WorkerCounters;
pub use runtime::{Builder, Handle, Runtime, TryCurrentError};
pub use trace::Trace;

use crate::task::JoinHandle;

/// Counts a branch poll no wake asked for in the current runtime's metrics (nothing outside a
/// runtime); see [`crate::macros::audit_polls`].
pub(crate) fn record_wasted_branch_poll() {
    context::with_current(|handle| {
        if let Some(handle) = handle {
            handle.record_wasted_branch_poll();
        }
    });
}

/// Runs `future` to completion on the current thread, on a fresh current-thread runtime.
/// Tasks spawned inside run on the same thread; those still pending when `future` finishes
/// are cancelled.
///
/// ```
/// let n = spindle::block_on(async { 40 + 2 });
/// assert_eq!(n, 42);
/// ```
///
/// # Panics
/// Inside a runtime (this thread is already blocked driving one): await the future instead.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let runtime = Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime with default settings always builds");
    runtime.block_on(future)
}

/// Spawns a task on the current runtime, like `tokio::spawn`.
///
/// ```
/// spindle::block_on(async {
///     let handle = spindle::spawn(async { "hello" });
///     assert_eq!(handle.await.unwrap(), "hello");
/// });
/// ```
///
/// # Panics
/// Outside a runtime (not inside `block_on`, a task, or a `Runtime::enter` guard).
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    // Borrowed, not cloned: a clone and its drop are six reference-count updates on lines
    // every worker shares, a large part of a spawn's cost on a multi-thread runtime.
    let site = std::panic::Location::caller();
    let (join, refused) = context::with_current(|handle| match handle {
        Some(handle) => handle.spawn_at(future, site),
        None => panic!(
            "spindle::spawn called outside a spindle runtime: call it inside \
             `Runtime::block_on` or a spawned task, or enter a runtime with `Runtime::enter`"
        ),
    });
    // A runtime that has shut down refuses the task: cancelling it drops the future, whose
    // destructor may use the context, so that happens only now, with the borrow released.
    drop(refused);
    join
}

/// Runs a blocking function on the current runtime's blocking thread pool, like
/// `tokio::task::spawn_blocking`; the returned handle is awaited like any task's.
///
/// ```
/// spindle::block_on(async {
///     let sum = spindle::spawn_blocking(|| (1..=10).sum::<u32>()).await.unwrap();
///     assert_eq!(sum, 55);
/// });
/// ```
///
/// A panic in `f` reaches the handle as a panic [`JoinError`](crate::task::JoinError). Queued
/// calls are cancelled when the runtime shuts down; running ones are waited for.
///
/// # Panics
/// Outside a runtime.
#[track_caller]
pub fn spawn_blocking<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match context::current() {
        Some(handle) => handle.spawn_blocking(f),
        None => panic!(
            "spindle::spawn_blocking called outside a spindle runtime: call it inside \
             `Runtime::block_on` or a spawned task"
        ),
    }
}

/// Spawns a `!Send` task on the current-thread runtime this thread is driving.
///
/// The task is polled and dropped only on this thread. If the runtime is later driven from
/// another thread, polling the task there panics (its handle gets a panic error) and its
/// future is leaked rather than dropped on the wrong thread.
///
/// ```
/// use std::rc::Rc;
/// spindle::block_on(async {
///     let shared = Rc::new(5);
///     let copy = shared.clone();
///     let handle = spindle::spawn_local(async move { *copy * 2 });
///     assert_eq!(handle.await.unwrap(), 10);
/// });
/// ```
///
/// # Panics
/// Outside a current-thread runtime, and on a thread that does not drive it (one that only
/// entered it with [`Runtime::enter`], or waits for another thread's `block_on`): refused at
/// the spawn, not at the first poll on the driving thread.
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let handle = context::current().expect(
        "spindle::spawn_local called outside a spindle runtime: call it inside \
         `Runtime::block_on` of a current-thread runtime",
    );
    match handle.spawn_local_unchecked(LocalOnly::new(future)) {
        Ok(join) => join,
        Err(refusal) => panic!("{refusal}"),
    }
}

/// Pins a `!Send` future to the thread that created it: polling it elsewhere panics, and
/// dropping it elsewhere leaks it (leaking is safe; dropping an `Rc` on two threads is not).
struct LocalOnly<F> {
    owner: ThreadId,
    future: ManuallyDrop<F>,
}

impl<F> LocalOnly<F> {
    fn new(future: F) -> LocalOnly<F> {
        LocalOnly {
            owner: thread::current().id(),
            future: ManuallyDrop::new(future),
        }
    }
}

// SAFETY: the inner future is only touched (polled or dropped) on the `owner` thread; on any
// other thread `poll` panics before touching it and `drop` leaks it. Moving the wrapper
// between threads moves only the bytes, which for a future that is never touched is sound.
unsafe impl<F> Send for LocalOnly<F> {}

impl<F: Future> Future for LocalOnly<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        assert_eq!(
            thread::current().id(),
            self.owner,
            "a spawn_local task was polled on a thread other than the one that spawned it"
        );
        // SAFETY: structural pinning: `future` is never moved out (it is only dropped in
        // place, in `Drop`), and `LocalOnly` has no `Unpin` impl of its own.
        unsafe { self.map_unchecked_mut(|this| &mut *this.future) }.poll(cx)
    }
}

impl<F> Drop for LocalOnly<F> {
    fn drop(&mut self) {
        if thread::current().id() == self.owner {
            // SAFETY: dropped once, here, on its own thread; never used again.
            unsafe { ManuallyDrop::drop(&mut self.future) }
        }
    }
}
