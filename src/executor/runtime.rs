//! `Builder`, `Runtime` and `Handle`: the public face of the schedulers.

use std::fmt;
use std::future::Future;
use std::io;
use std::sync::OnceLock;
use std::time::Duration;

use super::context::{self, EnterGuard};
use super::current_thread::{self, CurrentThread};
use super::metrics::Metrics;
use super::multi_thread::{self, MultiThread};
use super::park::Park;
use super::trace::Trace;
use crate::loom::sync::Arc;
use crate::task::{AbortHandle, JoinHandle, RefusedTask};
use crate::thread_pool::blocking::BlockingPool;
use crate::thread_pool::JobErrorKind;

/// Default for [`Builder::max_blocking_threads`].
const DEFAULT_MAX_BLOCKING_THREADS: usize = 512;
/// Default for [`Builder::thread_keep_alive`].
const DEFAULT_THREAD_KEEP_ALIVE: Duration = Duration::from_secs(10);
/// The most worker threads a multi-thread runtime may have (the idle coordinator counts
/// them in 16 bits).
pub(crate) const MAX_WORKER_THREADS: usize = (1 << 16) - 1;

/// Configures and builds a [`Runtime`], like `tokio::runtime::Builder`.
///
/// ```
/// use spindle::runtime::Builder;
///
/// let rt = Builder::new_current_thread().build().unwrap();
/// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    kind: Kind,
    worker_threads: Option<usize>,
    event_interval: u32,
    global_queue_interval: u32,
    thread_name: String,
    thread_stack_size: Option<usize>,
    max_blocking_threads: usize,
    thread_keep_alive: Duration,
    trace: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    CurrentThread,
    MultiThread,
}

impl Builder {
    /// A runtime whose tasks all run on the thread that calls [`Runtime::block_on`].
    pub fn new_current_thread() -> Builder {
        Builder::new(Kind::CurrentThread)
    }

    /// A runtime with a pool of worker threads that steal work from each other, one per
    /// available core unless [`worker_threads`](Self::worker_threads) says otherwise.
    ///
    /// ```
    /// let rt = spindle::runtime::Builder::new_multi_thread()
    ///     .worker_threads(2)
    ///     .build()
    ///     .unwrap();
    /// let sum = rt.block_on(async {
    ///     let tasks: Vec<_> = (0..10u64).map(|i| spindle::spawn(async move { i })).collect();
    ///     let mut sum = 0;
    ///     for task in tasks {
    ///         sum += task.await.unwrap();
    ///     }
    ///     sum
    /// });
    /// assert_eq!(sum, 45);
    /// ```
    pub fn new_multi_thread() -> Builder {
        Builder::new(Kind::MultiThread)
    }

    fn new(kind: Kind) -> Builder {
        Builder {
            kind,
            worker_threads: None,
            event_interval: current_thread::DEFAULT_EVENT_INTERVAL,
            global_queue_interval: current_thread::DEFAULT_GLOBAL_QUEUE_INTERVAL,
            thread_name: "spindle-worker".to_owned(),
            thread_stack_size: None,
            max_blocking_threads: DEFAULT_MAX_BLOCKING_THREADS,
            thread_keep_alive: DEFAULT_THREAD_KEEP_ALIVE,
            trace: false,
        }
    }

    /// Records what the scheduler does, poll by poll (default off), for
    /// [`Runtime::take_trace`]: see [`trace`](crate::executor::trace). Off, it costs one
    /// predictable branch per scheduling event; on, two clock reads and an uncontended
    /// per-worker lock per event.
    pub fn trace(&mut self, enabled: bool) -> &mut Builder {
        self.trace = enabled;
        self
    }

    /// Most threads [`spawn_blocking`](crate::spawn_blocking) may use at once (default 512, as
    /// tokio: blocking calls mostly wait, and a low cap deadlocks calls that wait on each
    /// other). Threads start only when needed.
    pub fn max_blocking_threads(&mut self, count: usize) -> &mut Builder {
        self.max_blocking_threads = count;
        self
    }

    /// How long an idle blocking thread lingers before it exits (default 10 s).
    pub fn thread_keep_alive(&mut self, duration: Duration) -> &mut Builder {
        self.thread_keep_alive = duration;
        self
    }

    /// Accepted so tokio snippets compile; does nothing: every spindle runtime has its I/O
    /// reactor and its timers (they are one driver, always on).
    ///
    /// ```
    /// let rt = spindle::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// rt.block_on(async { spindle::time::sleep(std::time::Duration::from_millis(1)).await });
    /// ```
    pub fn enable_all(&mut self) -> &mut Builder {
        self
    }

    /// Accepted so tokio snippets compile; does nothing (the reactor is always on, see
    /// [`enable_all`](Builder::enable_all)).
    pub fn enable_io(&mut self) -> &mut Builder {
        self
    }

    /// Accepted so tokio snippets compile; does nothing (timers are always on, see
    /// [`enable_all`](Builder::enable_all)).
    pub fn enable_time(&mut self) -> &mut Builder {
        self
    }

    /// The parker the scheduler sleeps in: the reactor, except under loom, which cannot see
    /// a thread blocked in `epoll_wait` (the reactor has loom models of its own): there it
    /// is a plain parker plus the timer wheel on the model clock.
    fn driver(&self) -> io::Result<(Box<dyn Park>, Resources)> {
        #[cfg(not(loom))]
        {
            let driver = crate::reactor::Driver::new()?;
            let resources = Resources {
                driver: Some(driver.handle()),
                blocking: None,
            };
            Ok((Box::new(driver), resources))
        }
        #[cfg(loom)]
        {
            // The model clock: see `reactor::ModelDriver` and DESIGN.md, "Virtual time".
            let driver = crate::reactor::ModelDriver::new(self.kind == Kind::CurrentThread)?;
            let resources = Resources {
                driver: Some(driver.handle()),
                blocking: None,
            };
            Ok((Box::new(driver), resources))
        }
    }

    fn blocking_pool(&self) -> io::Result<Arc<BlockingPool>> {
        Ok(Arc::new(BlockingPool::new(
            self.max_blocking_threads,
            self.thread_keep_alive,
        )?))
    }

    /// Worker threads of a multi-thread runtime (default: the available cores), at most
    /// 65,535 (`build` refuses more). Ignored by the current-thread runtime.
    pub fn worker_threads(&mut self, count: usize) -> &mut Builder {
        self.worker_threads = Some(count);
        self
    }

    /// Worker threads are named `{name}-{index}` (default `spindle-worker`). A name with a
    /// NUL byte is refused by `build`.
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Builder {
        self.thread_name = name.into();
        self
    }

    /// Stack size of worker threads, in bytes (default: the platform's).
    pub fn thread_stack_size(&mut self, bytes: usize) -> &mut Builder {
        self.thread_stack_size = Some(bytes);
        self
    }

    /// Task polls between two checks of the `block_on` future and of I/O events (default 61).
    pub fn event_interval(&mut self, polls: u32) -> &mut Builder {
        self.event_interval = polls;
        self
    }

    /// Task polls between two checks of the injection queue ahead of the local one (default 31).
    pub fn global_queue_interval(&mut self, polls: u32) -> &mut Builder {
        self.global_queue_interval = polls;
        self
    }

    /// Builds the runtime.
    ///
    /// # Errors
    /// `InvalidInput` if an interval or the worker count is zero, the worker count is above
    /// 65,535, or the thread name holds a NUL byte; the OS's error if a worker thread cannot
    /// be started.
    pub fn build(&mut self) -> io::Result<Runtime> {
        if self.event_interval == 0 || self.global_queue_interval == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "event_interval and global_queue_interval must be at least 1",
            ));
        }
        if self.worker_threads == Some(0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "worker_threads must be at least 1",
            ));
        }
        if self
            .worker_threads
            .is_some_and(|count| count > MAX_WORKER_THREADS)
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("worker_threads must be at most {MAX_WORKER_THREADS}"),
            ));
        }
        if self.thread_name.contains('\0') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "thread_name must not contain a NUL byte",
            ));
        }
        match self.kind {
            Kind::CurrentThread => {
                let config = current_thread::Config {
                    event_interval: self.event_interval,
                    global_queue_interval: self.global_queue_interval,
                    trace: self.trace,
                };
                // Under loom the scheduler parks on the model-checked `ThreadParker`: loom cannot
                // see a thread blocked in epoll. The reactor has its own loom models.
                let (driver, mut resources) = self.driver()?;
                resources.blocking = Some(self.blocking_pool()?);
                let scheduler = CurrentThread::with_park(config, driver, resources);
                let handle = Handle::current_thread(scheduler.shared().clone());
                Ok(Runtime {
                    handle,
                    flavor: Some(Flavor::CurrentThread(scheduler)),
                })
            }
            Kind::MultiThread => {
                let workers = self.worker_threads.unwrap_or_else(|| {
                    std::thread::available_parallelism()
                        .map_or(1, |cores| cores.get().min(MAX_WORKER_THREADS))
                });
                let (driver, mut resources) = self.driver()?;
                resources.blocking = Some(self.blocking_pool()?);
                let scheduler = MultiThread::new(
                    multi_thread::Config {
                        workers,
                        event_interval: self.event_interval,
                        global_queue_interval: self.global_queue_interval,
                        thread_name: self.thread_name.clone(),
                        thread_stack_size: self.thread_stack_size,
                        trace: self.trace,
                    },
                    driver,
                    resources,
                )?;
                let handle = Handle::multi_thread(scheduler.shared().clone());
                Ok(Runtime {
                    handle,
                    flavor: Some(Flavor::MultiThread(scheduler)),
                })
            }
        }
    }
}

/// A spindle runtime: a scheduler, its tasks, its I/O and timer driver, its blocking pool.
///
/// Dropping it cancels every task it owns (each future is dropped exactly once, and each
/// [`JoinHandle`] resolves to a cancelled [`JoinError`](crate::task::JoinError)) and shuts
/// its driver down at once: whatever survives it (a [`Handle`], a `JoinHandle`, a waker),
/// its sockets then fail with "the runtime owning this resource has shut down" and its
/// timers panic when polled, rather than hang.
pub struct Runtime {
    handle: Handle,
    /// Taken (shut down and dropped) at shutdown; `Some` until then.
    flavor: Option<Flavor>,
}

enum Flavor {
    CurrentThread(CurrentThread),
    MultiThread(MultiThread),
}

impl Runtime {
    /// A multi-thread runtime with one worker per available core, like `tokio::runtime::Runtime::new`.
    ///
    /// # Errors
    /// The OS's error if a worker thread cannot be started.
    pub fn new() -> io::Result<Runtime> {
        Builder::new_multi_thread().build()
    }

    /// Runs `future` to completion on this thread, running the runtime's tasks meanwhile.
    ///
    /// # Panics
    /// If this thread is already driving a runtime (a `block_on` inside a task).
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        match self.flavor() {
            Flavor::CurrentThread(scheduler) => scheduler.block_on(&self.handle, future),
            Flavor::MultiThread(scheduler) => scheduler.block_on(&self.handle, future),
        }
    }

    /// Spawns a task on this runtime. See [`Handle::spawn`].
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// A handle that spawns onto this runtime from anywhere.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Makes this runtime the one `spindle::spawn` uses on this thread, until the guard drops.
    pub fn enter(&self) -> EnterGuard {
        context::enter(self.handle.clone())
    }

    /// A snapshot of the runtime's counters.
    pub fn metrics(&self) -> Metrics {
        self.handle.metrics()
    }

    /// The scheduler events recorded since the runtime was built or since the last call,
    /// leaving the buffers empty; `None` unless built with [`Builder::trace`].
    ///
    /// A worker records a poll when the poll returns, which may be just after the task's
    /// completion woke its joiner: a poll still being recorded lands in the next take. For
    /// a trace with nothing missing, use [`shutdown_and_take_trace`](Self::shutdown_and_take_trace).
    pub fn take_trace(&self) -> Option<Trace> {
        let tracer = match &self.handle.scheduler {
            Scheduler::CurrentThread(shared) => shared.tracer(),
            Scheduler::MultiThread(shared) => shared.tracer(),
        };
        tracer.map(|tracer| tracer.take())
    }
}

/// Under loom, for [`crate::model`].
#[cfg(loom)]
impl Runtime {
    /// Returns once every worker thread of a multi-thread runtime sleeps with nothing to do
    /// (at once for a current-thread runtime, which has none).
    pub(crate) fn wait_until_workers_sleep(&self) {
        if let Flavor::MultiThread(scheduler) = self.flavor() {
            scheduler.wait_until_workers_sleep();
        }
    }

    /// Whether dropping the runtime now could run user code (see
    /// `Lifecycle::shutdown_may_run_user_code`).
    pub(crate) fn shutdown_may_run_user_code(&self) -> bool {
        match self.flavor() {
            Flavor::CurrentThread(scheduler) => {
                scheduler.shared().lifecycle.shutdown_may_run_user_code()
            }
            Flavor::MultiThread(scheduler) => {
                scheduler.shared().lifecycle.shutdown_may_run_user_code()
            }
        }
    }
}

impl Runtime {
    /// Shuts the runtime down, waiting at most `timeout` for blocking calls still running
    /// (they are detached after that; queued ones are cancelled). Dropping the runtime waits
    /// for running blocking calls without a limit, as tokio does.
    pub fn shutdown_timeout(mut self, timeout: Duration) {
        self.shut_down(Some(timeout));
    }

    /// Shuts the runtime down as dropping it does (the workers have stopped when this
    /// returns), then returns every scheduler event not taken yet; `None` unless built with
    /// [`Builder::trace`].
    pub fn shutdown_and_take_trace(mut self) -> Option<Trace> {
        self.shut_down(None);
        self.take_trace()
    }

    fn shut_down(&mut self, blocking_timeout: Option<Duration>) {
        match self.flavor.take() {
            Some(Flavor::CurrentThread(scheduler)) => scheduler.shutdown(blocking_timeout),
            Some(Flavor::MultiThread(scheduler)) => scheduler.shutdown(blocking_timeout),
            None => {}
        }
    }

    fn flavor(&self) -> &Flavor {
        self.flavor
            .as_ref()
            .expect("a runtime has its scheduler until it is dropped")
    }
}

impl Drop for Runtime {
    /// Cancels every task (each future dropped once, each joiner gets a cancelled error),
    /// stops the workers, then cancels queued blocking calls and waits for running ones.
    fn drop(&mut self) {
        self.shut_down(None);
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flavor = match self.flavor {
            Some(Flavor::CurrentThread(_)) => "current_thread",
            Some(Flavor::MultiThread(_)) => "multi_thread",
            None => "shut down",
        };
        f.debug_struct("Runtime").field("flavor", &flavor).finish()
    }
}

/// A cheap, cloneable reference to a runtime, for spawning from other threads.
///
/// It does not keep the runtime running: once the [`Runtime`] is dropped, tasks spawned
/// through it are cancelled at once, and I/O resources and timers made under its
/// [`enter`](Self::enter) fail.
#[derive(Clone)]
pub struct Handle {
    scheduler: Scheduler,
}

/// What a runtime offers its tasks besides scheduling: the I/O and timer driver (`None`
/// under loom) and the blocking pool (`None` in loom models that build a scheduler alone).
/// Held by the runtime's lifecycle.
#[derive(Clone, Default, Debug)]
pub(crate) struct Resources {
    pub(crate) driver: Option<crate::reactor::Handle>,
    pub(crate) blocking: Option<Arc<BlockingPool>>,
}

#[derive(Clone)]
enum Scheduler {
    CurrentThread(Arc<current_thread::Shared>),
    MultiThread(Arc<multi_thread::Shared>),
}

impl Handle {
    pub(crate) fn current_thread(shared: Arc<current_thread::Shared>) -> Handle {
        Handle {
            scheduler: Scheduler::CurrentThread(shared),
        }
    }

    /// A handle to a multi-thread runtime.
    pub(crate) fn multi_thread(shared: Arc<multi_thread::Shared>) -> Handle {
        Handle {
            scheduler: Scheduler::MultiThread(shared),
        }
    }

    /// The reactor and blocking pool, from the runtime's lifecycle: every handle made for
    /// the runtime (by the builder, on workers, during shutdown) reaches the same ones.
    fn resources(&self) -> &Resources {
        match &self.scheduler {
            Scheduler::CurrentThread(shared) => shared.lifecycle.resources(),
            Scheduler::MultiThread(shared) => shared.resources(),
        }
    }

    /// The runtime's I/O and timer driver, if it has one.
    pub(crate) fn driver(&self) -> Option<&crate::reactor::Handle> {
        self.resources().driver.as_ref()
    }

    /// The runtime this thread is running in.
    ///
    /// # Panics
    /// Outside a runtime; see [`try_current`](Self::try_current).
    pub fn current() -> Handle {
        Handle::try_current().unwrap_or_else(|error| panic!("{error}"))
    }

    /// The runtime this thread is running in, if any.
    pub fn try_current() -> Result<Handle, TryCurrentError> {
        context::current().ok_or(TryCurrentError(()))
    }

    /// Spawns a task. It starts running when the runtime next runs tasks (inside `block_on`
    /// for a current-thread runtime). If the runtime has shut down, the task is cancelled at
    /// once and its handle resolves to a cancelled error.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (join, refused) = self.spawn_at(future, std::panic::Location::caller());
        drop(refused); // no context is borrowed here: a refused task is cancelled at once
        join
    }

    /// `spawn`, with the caller's location (for the trace) passed in rather than tracked.
    pub(crate) fn spawn_at<F>(
        &self,
        future: F,
        site: &'static std::panic::Location<'static>,
    ) -> (JoinHandle<F::Output>, Option<RefusedTask>)
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match &self.scheduler {
            Scheduler::CurrentThread(shared) => current_thread::Shared::spawn(shared, future, site),
            Scheduler::MultiThread(shared) => multi_thread::Shared::spawn(shared, future, site),
        }
    }

    /// Spawns a `!Send` task, which the caller guarantees only this thread will poll: it
    /// must be a current-thread runtime's, and this thread must be driving it (holding its
    /// core inside `block_on`), or the task would first be polled on another thread.
    /// The error says which condition failed.
    #[track_caller]
    pub(crate) fn spawn_local_unchecked<F>(
        &self,
        future: F,
    ) -> Result<JoinHandle<F::Output>, &'static str>
    where
        F: Future + 'static,
    {
        match &self.scheduler {
            Scheduler::CurrentThread(shared) if shared.is_driving_thread() => {
                let site = std::panic::Location::caller();
                let (join, refused) = current_thread::Shared::spawn(shared, future, site);
                drop(refused); // no context is borrowed here: a refused task is cancelled now
                Ok(join)
            }
            Scheduler::CurrentThread(_) => Err(
                "spindle::spawn_local called on a thread that does not drive the runtime \
                 (entered with `Runtime::enter`, or waiting for another thread's `block_on`): \
                 the task could only run on the thread that drives it; call spawn_local \
                 inside `Runtime::block_on` on this thread",
            ),
            Scheduler::MultiThread(_) => Err("spindle::spawn_local needs a current-thread runtime"),
        }
    }

    /// Makes this runtime the one `spindle::spawn` uses on this thread, until the guard drops.
    pub fn enter(&self) -> EnterGuard {
        context::enter(self.clone())
    }

    /// Runs `f` on the runtime's blocking pool; see [`spawn_blocking`](crate::spawn_blocking).
    #[track_caller]
    pub fn spawn_blocking<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let Some(blocking) = self.resources().blocking.as_ref() else {
            // Only the shutdown-time handle has no pool: the runtime is gone.
            return self.spawn(async { panic!("spawn_blocking: the runtime has shut down") });
        };
        // The awaiting task, once spawned: the call looks at its cancellation right before it
        // starts. `abort` only schedules the task's drop (which cancels the queued call), so a
        // blocking thread freed before the runtime acts would otherwise still start the call.
        // Set before the `JoinHandle` exists, so no abort can precede it.
        let waiter: Arc<OnceLock<AbortHandle>> = Arc::new(OnceLock::new());
        // Under loom the call holds the model clock from here until its awaiting task ends,
        // so a timeout around it waits for its result (`reactor/model_clock.rs`).
        #[cfg(loom)]
        let in_flight = self
            .driver()
            .map(crate::reactor::model_clock::AwakeWhileAlive::new);
        let job = blocking.spawn_blocking({
            let waiter = waiter.clone();
            let runtime = self.clone();
            move || {
                let aborted = waiter.get().is_some_and(AbortHandle::is_cancelled);
                // The task reference goes before the call, not after a long one.
                drop(waiter);
                // The call runs inside its runtime, as in tokio: `spindle::spawn`,
                // `Handle::current`, sockets and timers work in it.
                let _entered = context::enter(runtime);
                (!aborted).then(f)
            }
        });
        // A task that waits for the job: the joiner awaits a `JoinHandle` like any other, and
        // no thread blocks on its behalf (the job's completion wakes this task).
        let handle = self.spawn(async move {
            #[cfg(loom)]
            let _in_flight = in_flight;
            match job.await {
                Ok(Some(output)) => output,
                // Skipped because this task was aborted: it is being dropped.
                Ok(None) => std::future::pending().await,
                Err(error) => match error.kind() {
                    JobErrorKind::Panicked => match error.try_into_panic() {
                        Ok(payload) => std::panic::resume_unwind(payload),
                        Err(error) => panic!("{error}"),
                    },
                    // Cancelled or shut down: only at runtime shutdown, which cancels this
                    // task as well; wait for that rather than inventing an output.
                    JobErrorKind::Cancelled | JobErrorKind::ShutDown => {
                        std::future::pending().await
                    }
                    _ => panic!("spawn_blocking: {error}"),
                },
            }
        });
        // Cannot fail: the only `set`.
        let _ = waiter.set(handle.abort_handle());
        handle
    }

    /// Counts a combinator branch poll that no wake asked for (`Metrics::wasted_branch_polls`).
    pub(crate) fn record_wasted_branch_poll(&self) {
        match &self.scheduler {
            Scheduler::CurrentThread(shared) => shared.remote_counters.record_wasted_branch_poll(),
            Scheduler::MultiThread(shared) => shared.remote_counters.record_wasted_branch_poll(),
        }
    }

    /// A snapshot of the runtime's counters.
    pub fn metrics(&self) -> Metrics {
        match &self.scheduler {
            Scheduler::CurrentThread(shared) => shared.metrics(),
            Scheduler::MultiThread(shared) => shared.metrics(),
        }
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle").finish_non_exhaustive()
    }
}

/// Returned by [`Handle::try_current`] outside a runtime.
#[derive(Debug)]
pub struct TryCurrentError(());

impl fmt::Display for TryCurrentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "there is no spindle runtime on this thread: call this from inside \
             `Runtime::block_on`, a spawned task, or after `Runtime::enter`",
        )
    }
}

impl std::error::Error for TryCurrentError {}
