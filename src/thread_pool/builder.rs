//! `Builder`: a pool's configuration, checked once in `build`.

use std::fmt;
use std::io;
use std::sync::Arc as StdArc;
use std::time::Duration;

use super::ThreadPool;

/// The default [`Builder::max_threads`]: 512, as tokio's blocking pool.
///
/// A pool for *blocking* work spends its threads waiting (on files, sockets, child processes,
/// sleeps), not computing, so a CPU-sized cap (Python's `min(32, cpus + 4)`) turns a burst of
/// slow calls into a queue, and jobs that wait on each other into a deadlock. Threads are only
/// started when a job finds no idle one and retire after [`keep_alive`](Builder::keep_alive),
/// so a high cap costs nothing until the load needs it. For CPU-bound jobs, pass the core
/// count ([`ThreadPool::new`]).
pub const DEFAULT_MAX_THREADS: usize = 512;

/// The default [`Builder::keep_alive`]: ten seconds, as tokio's blocking pool.
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(10);

/// The default [`Builder::name_prefix`].
pub const DEFAULT_NAME_PREFIX: &str = "spindle-pool";

pub(super) type Hook = StdArc<dyn Fn() + Send + Sync + 'static>;

/// Configures a [`ThreadPool`], like `std::thread::Builder` for a whole pool.
///
/// ```
/// use std::time::Duration;
/// use spindle::thread_pool::ThreadPool;
///
/// let pool = ThreadPool::builder()
///     .max_threads(4)
///     .min_threads(1)
///     .keep_alive(Duration::from_secs(1))
///     .name_prefix("resize")
///     .queue_capacity(100)
///     .build()
///     .unwrap();
/// let name = pool.submit(|| std::thread::current().name().map(str::to_owned));
/// assert_eq!(name.wait().unwrap().as_deref(), Some("resize-1"));
/// ```
#[derive(Clone)]
pub struct Builder {
    pub(super) max_threads: usize,
    pub(super) min_threads: usize,
    pub(super) keep_alive: Duration,
    pub(super) name_prefix: String,
    pub(super) stack_size: Option<usize>,
    pub(super) on_thread_start: Option<Hook>,
    pub(super) on_thread_stop: Option<Hook>,
    pub(super) queue_capacity: Option<usize>,
    /// Unit tests: refuse to start thread number `n` and later, as an OS out of threads would.
    #[cfg(all(test, not(loom)))]
    pub(super) refuse_spawn_from: Option<usize>,
    /// Loom negative control: retire at keep-alive even when a submitter claimed this thread.
    #[cfg(loom)]
    pub(super) retire_despite_claim: bool,
}

impl Builder {
    /// The defaults: up to [`DEFAULT_MAX_THREADS`] threads, none kept when idle, a
    /// [`DEFAULT_KEEP_ALIVE`] keep-alive, threads named `spindle-pool-N`, the platform's
    /// default stack size, and an unbounded queue.
    pub fn new() -> Builder {
        Builder {
            max_threads: DEFAULT_MAX_THREADS,
            min_threads: 0,
            keep_alive: DEFAULT_KEEP_ALIVE,
            name_prefix: DEFAULT_NAME_PREFIX.to_string(),
            stack_size: None,
            on_thread_start: None,
            on_thread_stop: None,
            queue_capacity: None,
            #[cfg(all(test, not(loom)))]
            refuse_spawn_from: None,
            #[cfg(loom)]
            retire_despite_claim: false,
        }
    }

    /// The most threads the pool runs at once (at least 1; default [`DEFAULT_MAX_THREADS`]).
    /// A job submitted while all of them are busy waits in the queue.
    pub fn max_threads(mut self, n: usize) -> Builder {
        self.max_threads = n;
        self
    }

    /// Threads kept alive while idle (default 0), started by `build`. Threads above this
    /// number retire after [`keep_alive`](Self::keep_alive) without work.
    pub fn min_threads(mut self, n: usize) -> Builder {
        self.min_threads = n;
        self
    }

    /// How long a thread above [`min_threads`](Self::min_threads) waits for a job before it
    /// exits (default [`DEFAULT_KEEP_ALIVE`]).
    pub fn keep_alive(mut self, keep_alive: Duration) -> Builder {
        self.keep_alive = keep_alive;
        self
    }

    /// Threads are named `{prefix}-{n}`, `n` counting from 1 over the pool's life (default
    /// [`DEFAULT_NAME_PREFIX`]). The prefix may not contain a NUL byte.
    pub fn name_prefix(mut self, prefix: impl Into<String>) -> Builder {
        self.name_prefix = prefix.into();
        self
    }

    /// Each thread's stack size in bytes (default: the platform's, as `std::thread`).
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = Some(bytes);
        self
    }

    /// Runs on every new thread before it takes its first job. A panic in it is caught (the
    /// default panic hook reports it) and the thread carries on.
    pub fn on_thread_start(mut self, hook: impl Fn() + Send + Sync + 'static) -> Builder {
        self.on_thread_start = Some(StdArc::new(hook));
        self
    }

    /// Runs on every thread just before it exits (retiring or at shutdown). A panic in it is
    /// caught.
    pub fn on_thread_stop(mut self, hook: impl Fn() + Send + Sync + 'static) -> Builder {
        self.on_thread_stop = Some(StdArc::new(hook));
        self
    }

    /// Bounds the queue of jobs waiting for a thread (default: unbounded). When it is full,
    /// [`ThreadPool::submit`] blocks the submitting thread until a worker takes a job (or
    /// the pool shuts down), and [`ThreadPool::try_submit`] returns
    /// [`TrySubmitError::Full`](super::TrySubmitError::Full) at once. Jobs being run do not
    /// count; cancelled jobs count until a worker discards them.
    pub fn queue_capacity(mut self, jobs: usize) -> Builder {
        self.queue_capacity = Some(jobs);
        self
    }

    /// Checks the configuration, then starts [`min_threads`](Self::min_threads) threads.
    ///
    /// # Errors
    /// `InvalidInput` for `max_threads(0)`, `min_threads` above `max_threads`,
    /// `queue_capacity(0)`, `stack_size(0)`, or a name prefix containing a NUL byte; the
    /// operating system's error if it refuses to start the minimum threads.
    pub fn build(self) -> io::Result<ThreadPool> {
        self.validate()?;
        ThreadPool::from_builder(self)
    }

    fn validate(&self) -> io::Result<()> {
        let invalid = |message: String| Err(io::Error::new(io::ErrorKind::InvalidInput, message));
        if self.max_threads == 0 {
            return invalid("max_threads must be at least 1".into());
        }
        if self.min_threads > self.max_threads {
            return invalid(format!(
                "min_threads ({}) is above max_threads ({})",
                self.min_threads, self.max_threads
            ));
        }
        if self.queue_capacity == Some(0) {
            return invalid(
                "queue_capacity must be at least 1 (submit would block for ever)".into(),
            );
        }
        if self.stack_size == Some(0) {
            return invalid("stack_size must be above 0".into());
        }
        if self.name_prefix.contains('\0') {
            return invalid("name_prefix may not contain a NUL byte".into());
        }
        Ok(())
    }
}

impl Default for Builder {
    fn default() -> Builder {
        Builder::new()
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("max_threads", &self.max_threads)
            .field("min_threads", &self.min_threads)
            .field("keep_alive", &self.keep_alive)
            .field("name_prefix", &self.name_prefix)
            .field("stack_size", &self.stack_size)
            .field("on_thread_start", &self.on_thread_start.is_some())
            .field("on_thread_stop", &self.on_thread_stop.is_some())
            .field("queue_capacity", &self.queue_capacity)
            .finish()
    }
}
