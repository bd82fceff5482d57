//! The runtime's blocking pool: what `spawn_blocking` runs on.
//!
//! The runtime builder creates one [`BlockingPool`] from its `max_blocking_threads` and
//! `thread_keep_alive` settings; `spawn_blocking` submits to it and gets a [`JobHandle`],
//! which a task can `.await` (completion wakes the task; no thread blocks for it).

use std::io;
use std::time::Duration;

use super::{JobHandle, ThreadPool};

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

    /// Runs `f` on a blocking thread. After shutdown the handle resolves to a `ShutDown`
    /// error.
    pub(crate) fn spawn_blocking<F, T>(&self, f: F) -> JobHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.pool.submit(f)
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
