//! A pool of OS threads for blocking work: the analogue of Python's
//! `concurrent.futures.ThreadPoolExecutor`, and the engine behind the runtime's
//! `spawn_blocking`.
//!
//! "We send our tasks to the pool, and it runs them in an available thread; a Future is
//! returned, which can be used to query and retrieve the result." Here the future is a
//! [`JobHandle`]: `.await` it from a task, or block on it with [`JobHandle::wait`].
//!
//! ```
//! use spindle::thread_pool::ThreadPool;
//!
//! let pool = ThreadPool::new(3);
//! let handles: Vec<_> = (1..=3u64).map(|n| pool.submit(move || n * n)).collect();
//! let squares: Vec<u64> = handles.into_iter().map(|h| h.wait().unwrap()).collect();
//! assert_eq!(squares, [1, 4, 9]);
//!
//! let lengths: Vec<usize> = pool
//!     .map(|word: &str| word.len(), ["one", "three", "five"])
//!     .map(Result::unwrap)
//!     .collect();
//! assert_eq!(lengths, [3, 5, 4]);
//! ```
//!
//! # How it works
//! One mutex guards the queue (a `VecDeque` of boxed jobs) and the counts; idle threads wait
//! on a condition variable with the keep-alive as timeout. A thread that finds the queue empty
//! first polls it for a few microseconds (spinning), so back-to-back short jobs need no
//! wake-up. A submit leaves the job to a spinning thread if there is one, else hands it to an
//! idle thread (claiming it, so two submits never count on the same thread), else leaves it
//! to a thread just started and not yet at its first look at the queue, else starts a
//! thread if the pool is below its maximum, else leaves it queued for the next thread to
//! finish. Each job's result travels through a one-shot slot (an
//! atomic claim word, then a `ResultSlot`: a waker, a mutex and condvar for blocking
//! waits, shared with the process pool): see `job.rs` and `result_slot.rs`.
//!
//! # Invariants, and what checks them
//! - A job submitted while an idle thread's keep-alive runs out is never lost: a claimed
//!   thread never retires, and the queue is never left non-empty with no thread
//!   (loom `loom_submit_racing_keep_alive_expiry_runs_the_job`, with the negative control
//!   `loom_retiring_despite_a_claim_loses_the_job`).
//! - Shutdown racing with submits: every job runs exactly once or its handle says
//!   `Cancelled`/`ShutDown` (loom `loom_shutdown_now_racing_submit`,
//!   `loom_graceful_shutdown_racing_submit`).
//! - `cancel` racing with a worker: exactly one wins (loom `loom_cancel_races_worker_take`).
//! - Completion wakes an awaiting task (loom `loom_completion_wakes_awaiting_task`).
//! - A panicking job does not shrink the pool; the panic reaches only its handle; spawn
//!   failure loses nothing; growth to the maximum and shrinking after keep-alive
//!   (`tests/thread_pool.rs`, and the unit tests in `tests.rs`).
//!
//! # Shutting down
//! [`shutdown`](ThreadPool::shutdown) finishes the queued jobs, then joins the threads;
//! dropping the pool does the same. [`shutdown_now`](ThreadPool::shutdown_now) cancels the
//! queued jobs and joins the threads once their current job returns. A thread cannot be
//! stopped in the middle of a job, so a job that never returns makes both wait for ever;
//! [`shutdown_now_timeout`](ThreadPool::shutdown_now_timeout) gives up at a deadline and says
//! which jobs are still running.

mod as_completed;
mod builder;
mod job;
mod map;
mod pool;
mod result_slot;
mod scope;

pub(crate) mod blocking;

#[cfg(all(test, loom))]
mod loom_tests;
#[cfg(all(test, not(loom)))]
mod tests;

use std::fmt;
use std::io;
use std::time::{Duration, Instant};

use crate::loom::sync::Arc;

pub use as_completed::{as_completed, AsCompleted};
pub use builder::{Builder, DEFAULT_KEEP_ALIVE, DEFAULT_MAX_THREADS, DEFAULT_NAME_PREFIX};
pub use job::{JobError, JobErrorKind, JobHandle, JobId};
pub use map::Map;
pub use pool::StillRunning;
pub use scope::Scope;

pub(crate) use result_slot::{ResultSlot, Spin};

use job::{new_job, Job};
use pool::{Refused, Shared, WhenFull};

/// A pool of OS threads that runs submitted closures, like Python's `ThreadPoolExecutor`.
///
/// Threads start on demand, up to [`max_threads`](Builder::max_threads), and retire after
/// [`keep_alive`](Builder::keep_alive) without work. Dropping the pool shuts it down
/// gracefully: queued jobs still run, and the drop waits for them.
pub struct ThreadPool {
    shared: Arc<Shared>,
}

/// Returned by [`ThreadPool::try_submit`]; gives the closure back.
pub enum TrySubmitError<F> {
    /// The queue is at its [`queue_capacity`](Builder::queue_capacity).
    Full(F),
    /// The pool is shutting down or shut down.
    ShutDown(F),
}

impl<F> TrySubmitError<F> {
    /// The closure that was not submitted.
    pub fn into_inner(self) -> F {
        match self {
            TrySubmitError::Full(f) | TrySubmitError::ShutDown(f) => f,
        }
    }
}

impl<F> fmt::Debug for TrySubmitError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySubmitError::Full(_) => f.write_str("Full(..)"),
            TrySubmitError::ShutDown(_) => f.write_str("ShutDown(..)"),
        }
    }
}

impl<F> fmt::Display for TrySubmitError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySubmitError::Full(_) => f.write_str("the thread pool's queue is full"),
            TrySubmitError::ShutDown(_) => f.write_str("the thread pool is shut down"),
        }
    }
}

impl<F> std::error::Error for TrySubmitError<F> {}

impl ThreadPool {
    /// A pool of at most `max_threads` threads, started on demand, with the other defaults of
    /// [`Builder::new`]. `ThreadPool::new(3)` is Python's `ThreadPoolExecutor(3)`.
    ///
    /// # Panics
    /// If `max_threads` is 0; use [`builder`](Self::builder) to get an error instead.
    pub fn new(max_threads: usize) -> ThreadPool {
        match Builder::new().max_threads(max_threads).build() {
            Ok(pool) => pool,
            Err(error) => panic!("ThreadPool::new({max_threads}): {error}"),
        }
    }

    /// A [`Builder`] with the defaults.
    pub fn builder() -> Builder {
        Builder::new()
    }

    pub(super) fn from_builder(builder: Builder) -> io::Result<ThreadPool> {
        let pool = ThreadPool {
            shared: Arc::new(Shared::new(builder)),
        };
        // On failure, dropping `pool` joins the threads that did start.
        Shared::start_min_threads(&pool.shared)?;
        Ok(pool)
    }

    /// Runs `job` on a pool thread and returns its handle at once.
    ///
    /// If the queue is at its [`queue_capacity`](Builder::queue_capacity), blocks this thread
    /// until there is room (see [`try_submit`](Self::try_submit)). After shutdown, the job
    /// is not run and the handle resolves to a [`ShutDown`](JobErrorKind::ShutDown) error.
    pub fn submit<F, T>(&self, job: F) -> JobHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (queued, handle) = new_job(job);
        self.submit_boxed(Box::new(queued));
        handle
    }

    /// Queues an already-boxed job; a job refused at shutdown is completed with `ShutDown`.
    fn submit_boxed(&self, job: Box<dyn Job>) {
        let mut job = Some(job);
        let admitted = Shared::enqueue(&self.shared, WhenFull::Block, 1, || {
            job.take().expect("one job, made once")
        });
        if let (Err(_), Some(job)) = (admitted, job) {
            job.reject(JobError::shut_down());
        }
    }

    /// Like [`submit`](Self::submit), but never blocks: a full queue or a shut-down pool
    /// hands the closure back.
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use spindle::thread_pool::{ThreadPool, TrySubmitError};
    ///
    /// let pool = ThreadPool::builder().max_threads(1).queue_capacity(1).build().unwrap();
    /// let (release, blocked) = mpsc::channel::<()>();
    /// let (started_tx, started) = mpsc::channel();
    /// let running = pool.submit(move || { started_tx.send(()).unwrap(); blocked.recv().unwrap() });
    /// started.recv().unwrap(); // the only thread is busy
    /// let queued = pool.try_submit(|| ()).unwrap(); // fills the queue
    /// assert!(matches!(pool.try_submit(|| ()), Err(TrySubmitError::Full(_))));
    /// release.send(()).unwrap();
    /// running.wait().unwrap();
    /// queued.wait().unwrap();
    /// ```
    pub fn try_submit<F, T>(&self, job: F) -> Result<JobHandle<T>, TrySubmitError<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let mut job = Some(job);
        let mut handle = None;
        let admitted = Shared::enqueue(&self.shared, WhenFull::Refuse, 1, || {
            let (queued, job_handle) = new_job(job.take().expect("one job, made once"));
            handle = Some(job_handle);
            Box::new(queued)
        });
        match (admitted, handle, job) {
            (Ok(()), Some(handle), _) => Ok(handle),
            (Err(Refused::Full), _, Some(job)) => Err(TrySubmitError::Full(job)),
            (Err(Refused::ShutDown), _, Some(job)) => Err(TrySubmitError::ShutDown(job)),
            _ => unreachable!("the job is made exactly when it is admitted"),
        }
    }

    /// Applies `f` to each input on the pool; yields the results in input order, lazily,
    /// with at most [`Map::max_in_flight`] jobs submitted ahead of the consumer (default:
    /// twice `max_threads`, kept within 64..=1024: enough queued work that threads do not
    /// go idle between results). Nothing is submitted until the first `next`.
    /// Dropping the iterator cancels the jobs that have not started.
    ///
    /// ```
    /// use spindle::thread_pool::ThreadPool;
    ///
    /// let pool = ThreadPool::new(4);
    /// let doubled: Vec<u32> = pool.map(|n| n * 2, 1..=5).map(Result::unwrap).collect();
    /// assert_eq!(doubled, [2, 4, 6, 8, 10]);
    /// ```
    pub fn map<F, I, T>(&self, f: F, inputs: I) -> Map<'_, I::IntoIter, F, T>
    where
        F: Fn(I::Item) -> T + Send + Sync + 'static,
        I: IntoIterator,
        I::Item: Send + 'static,
        T: Send + 'static,
    {
        let default_in_flight = self.shared.max_threads().saturating_mul(2).clamp(64, 1024);
        Map::new(self, f, inputs.into_iter(), default_in_flight)
    }

    /// Runs `f` with a [`Scope`] whose jobs may borrow from the caller's stack; returns once
    /// every job submitted in it has finished, like `std::thread::scope`.
    ///
    /// A job's panic reaches its handle only (as with any job); a panic in `f` itself is
    /// re-raised after the jobs finish.
    ///
    /// ```
    /// use spindle::thread_pool::ThreadPool;
    ///
    /// let pool = ThreadPool::new(2);
    /// let numbers = vec![1, 2, 3, 4];
    /// let (left, right) = numbers.split_at(2);
    /// let total = pool.scope(|s| {
    ///     let a = s.submit(|| left.iter().sum::<i32>());
    ///     let b = s.submit(|| right.iter().sum::<i32>());
    ///     a.wait().unwrap() + b.wait().unwrap()
    /// });
    /// assert_eq!(total, 10);
    /// ```
    ///
    /// Calling it from one of this pool's own threads while every other thread is busy
    /// waits for ever: the scoped jobs have nowhere to run.
    pub fn scope<'env, F, R>(&'env self, f: F) -> R
    where
        F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
    {
        scope::run(self, f)
    }

    /// Stops accepting jobs, lets the queued ones run, and joins every thread. Jobs
    /// submitted afterwards resolve to [`ShutDown`](JobErrorKind::ShutDown). Idempotent;
    /// dropping the pool calls it. Waits for ever if a job never returns.
    pub fn shutdown(&self) {
        // Without a deadline it only returns when every thread has exited.
        let _ = self.shared.shutdown(false, None);
    }

    /// Stops accepting jobs, cancels the queued ones (their handles resolve to
    /// [`Cancelled`](JobErrorKind::Cancelled)), and joins every thread once its current job
    /// returns. Waits for ever if a job never returns: see
    /// [`shutdown_now_timeout`](Self::shutdown_now_timeout).
    pub fn shutdown_now(&self) {
        let _ = self.shared.shutdown(true, None);
    }

    /// [`shutdown_now`](Self::shutdown_now), giving up on running jobs after `timeout`.
    ///
    /// # Errors
    /// [`StillRunning`] names the jobs (and threads) still running at the deadline. Their
    /// threads are detached: they finish their job and exit on their own, and the pool (and
    /// its drop) no longer waits for them. A thread in no job that has not exited by the
    /// deadline (on a busy machine, an idle thread not yet run since the shutdown woke it) is
    /// detached too but not named: it runs nothing more and exits on its own. So `Ok(())`
    /// means no job is still running, not that every thread has exited (an `on_thread_stop`
    /// hook may still be to run).
    pub fn shutdown_now_timeout(&self, timeout: Duration) -> Result<(), StillRunning> {
        let deadline = Instant::now()
            .checked_add(timeout)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365));
        self.shared.shutdown(true, Some(deadline))
    }

    /// Live threads: busy, idle, or starting.
    pub fn thread_count(&self) -> usize {
        self.shared.thread_count()
    }

    /// Threads waiting for a job.
    pub fn idle_thread_count(&self) -> usize {
        self.shared.idle_count()
    }

    /// Jobs waiting for a thread (including cancelled ones not yet discarded).
    pub fn queued_count(&self) -> usize {
        self.shared.queued_count()
    }

    /// The most threads this pool runs at once.
    pub fn max_threads(&self) -> usize {
        self.shared.max_threads()
    }

    /// Whether a shutdown has begun.
    pub fn is_shut_down(&self) -> bool {
        self.shared.is_shut_down()
    }

    /// Loom models only: the keep-alive of the idle threads runs out now.
    #[cfg(all(test, loom))]
    pub(crate) fn expire_keep_alive(&self) {
        self.shared.expire_keep_alive();
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPool")
            .field("max_threads", &self.max_threads())
            .field("threads", &self.thread_count())
            .field("queued", &self.queued_count())
            .finish()
    }
}
