//! The runtime's blocking pool: what `spawn_blocking` runs on.
//!
//! The runtime builder creates one [`BlockingPool`] from its `max_blocking_threads` and
//! `thread_keep_alive` settings; `spawn_blocking` submits to it and gets a [`BlockingJob`],
//! which a task can `.await` (completion wakes the task; no thread blocks for it).
//!
//! The task awaiting a [`BlockingJob`] is what the user's `JoinHandle` controls: aborting
//! it (or the runtime shutting down) drops the `BlockingJob`, which cancels the call if no
//! thread has started it, so an aborted call that was still queued never runs (as in
//! tokio, `tests/differential/blocking.rs`). Once started, a call runs to its end; only its
//! result is dropped. `abort` schedules the task's drop rather than doing it, so the call
//! (built in `Handle::spawn_blocking`) also checks, right before it starts, whether its
//! awaiting task was cancelled, and skips itself if so: a thread freed between `abort` and
//! the drop does not start it (test
//! `an_aborted_queued_spawn_blocking_never_runs_even_if_a_thread_frees_before_the_runtime_acts`).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::{JobError, JobHandle, ThreadPool};

/// The blocking pool's thread names: `spindle-blocking-N`.
pub(crate) const BLOCKING_NAME_PREFIX: &str = "spindle-blocking";

/// A runtime's pool for blocking calls.
#[derive(Debug)]
pub(crate) struct BlockingPool {
    pool: ThreadPool,
}

impl BlockingPool {
    /// A pool of at most `max_blocking_threads` threads (none started up front) that retire
    /// after `thread_keep_alive` idle.
    ///
    /// # Errors
    /// `InvalidInput` if `max_blocking_threads` is 0.
    pub(crate) fn new(
        max_blocking_threads: usize,
        thread_keep_alive: Duration,
    ) -> io::Result<BlockingPool> {
        let pool = ThreadPool::builder()
            .max_threads(max_blocking_threads)
            .keep_alive(thread_keep_alive)
            .name_prefix(BLOCKING_NAME_PREFIX)
            .build()?;
        Ok(BlockingPool { pool })
    }

    /// Runs `f` on a blocking thread. After shutdown the job resolves to a `ShutDown`
    /// error. Dropping the returned job before a thread has started `f` cancels it.
    pub(crate) fn spawn_blocking<F, T>(&self, f: F) -> BlockingJob<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        BlockingJob {
            handle: self.pool.submit(f),
        }
    }

    /// Threads the pool runs now (for `spindle::model`, which explores a shutdown that a
    /// blocking call may still be running in).
    #[cfg(loom)]
    pub(crate) fn thread_count(&self) -> usize {
        self.pool.thread_count()
    }

    /// The runtime is shutting down: cancel queued calls and wait up to `timeout` for running
    /// ones (`None`: wait for them all). Calls still running at the deadline are detached.
    pub(crate) fn shutdown(&self, timeout: Option<Duration>) {
        match timeout {
            None => self.pool.shutdown_now(),
            Some(timeout) => {
                let _ = self.pool.shutdown_now_timeout(timeout);
            }
        }
    }
}

/// A queued or running blocking call, awaited by the task behind a `spawn_blocking`
/// `JoinHandle`. Dropping it cancels the call unless a thread has already started it
/// (exactly one of the two wins: see [`JobHandle::cancel`]).
#[derive(Debug)]
pub(crate) struct BlockingJob<T> {
    handle: JobHandle<T>,
}

impl<T> Future for BlockingJob<T> {
    type Output = Result<T, JobError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.handle).poll(cx)
    }
}

impl<T> Drop for BlockingJob<T> {
    fn drop(&mut self) {
        // A no-op once the call started, finished or was cancelled already.
        self.handle.cancel();
    }
}
