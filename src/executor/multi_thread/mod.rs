//! The multi-thread, work-stealing scheduler.
//!
//! # Structure
//! `N` worker threads, each with:
//! - a [`queue::Local`] ring of 256 entries that only it pushes to and pops from, and that
//!   idle peers steal half of;
//! - a [`queue::LifoSlot`] for the task the running task just woke, run next for latency,
//!   and, unlike tokio's, stealable;
//! - a [`park::WorkerParker`].
//!
//! Shared by all: the [`idle::Idle`] coordinator and the runtime's [`Lifecycle`] (the
//! injection queue for spawns and wakes from outside the workers and overflow, the
//! owned-tasks set, the driver, the blocking pool), the same lifecycle as the current-thread
//! flavour's.
//!
//! # Scheduling rules (the numbers are [`Config`]'s defaults)
//! - A worker takes, in order: the LIFO slot (at most 3 times in a row, then the slot's task
//!   goes to the back of the local queue so a ping-pong pair cannot starve the queue), its
//!   local queue, a batch from the injection queue, then steals.
//! - Every 31 ticks it looks at the injection queue first, taking a batch (its fair share,
//!   at most half a local queue) so a burst of remote spawns drains even while local tasks
//!   keep yielding; every 61 (sooner when a timer is due: `worker::DriverTurns`) it lets the
//!   driver dispatch I/O and timers without blocking.
//! - A task that is always ready is cut off by the cooperative budget (128 units per poll,
//!   `task::coop`) and a self-wake goes to the back of the local queue, never the LIFO slot.
//! - Wakes that a driver turn on a worker delivers (I/O, timers) notify no peer one by one;
//!   when the turn ends the worker wakes one, if more than one task is queued on it
//!   (`worker::end_driver_turn`).
//! - See [`idle`] for who sleeps, who searches and whom new work wakes.
//!
//! # Shutdown
//! Dropping the runtime runs [`Lifecycle::shutdown`] with this flavour's thread policy: the
//! lifecycle's shutdown flag is set first, then every worker is unparked and joined (each
//! leaves its loop, dropping the entries in its queues, which are only references). Then the
//! lifecycle cancels every task left in the owned set, dropping each future exactly once on
//! the dropping thread (loom model `loom_shutdown_racing_with_a_steal`), and shuts the
//! driver and timers down at once, whatever still holds the shared state.

mod idle;
mod park;
pub(crate) mod queue;
mod worker;

#[cfg(all(test, loom))]
mod loom_tests;

use std::future::Future;
use std::task::{Context, Poll, Waker};

use crossbeam_utils::CachePadded;

use super::context;
use super::lifecycle::Lifecycle;
use super::metrics::{Metrics, RemoteCounters, WorkerCounters};
use super::park::{Park, ThreadParker};
use super::runtime::Resources;
use super::trace::Tracer;
use super::Handle;
use crate::loom::sync::{Arc, Mutex};
use crate::loom::thread::JoinHandle as ThreadHandle;
use crate::task::{JoinHandle, Notified, OwnedTask, RefusedTask, Schedule};
use idle::Idle;
use park::WorkerParker;
use queue::{LifoSlot, Steal};

type Task = Notified<Arc<Shared>>;

/// Tuning knobs, with the defaults the builder uses.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) workers: usize,
    pub(crate) event_interval: u32,
    pub(crate) global_queue_interval: u32,
    pub(crate) thread_name: String,
    pub(crate) thread_stack_size: Option<usize>,
    /// Record a scheduler trace (`Builder::trace`).
    pub(crate) trace: bool,
}

/// Consecutive runs from the LIFO slot before its task goes to the back of the queue.
const MAX_LIFO_POLLS_PER_TICK: u32 = 3;

/// What every task, handle and worker shares.
pub(crate) struct Shared {
    /// One entry per worker, padded so one worker's hot fields do not share a cache line with
    /// its neighbour's.
    remotes: Box<[CachePadded<Remote>]>,
    pub(crate) lifecycle: Lifecycle<Arc<Shared>>,
    idle: Idle,
    counters: Box<[CachePadded<WorkerCounters>]>,
    pub(crate) remote_counters: RemoteCounters,
    /// `Some` only when built with `Builder::trace(true)`.
    trace: Option<Box<Tracer>>,
    config: Config,
}

/// What peers may touch of a worker.
struct Remote {
    steal: Steal<Arc<Shared>>,
    lifo: LifoSlot<Arc<Shared>>,
    parker: WorkerParker,
}

/// The runtime-owned part: dropping it shuts the workers down.
pub(crate) struct MultiThread {
    shared: Arc<Shared>,
    threads: Mutex<Vec<ThreadHandle<()>>>,
}

impl MultiThread {
    /// Starts the workers, which park in `driver`; tasks are offered `resources`.
    pub(crate) fn new(
        config: Config,
        driver: Box<dyn Park>,
        resources: Resources,
    ) -> std::io::Result<MultiThread> {
        let workers = config.workers.max(1);
        let mut remotes = Vec::with_capacity(workers);
        let mut locals = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (steal, local) = queue::local();
            remotes.push(CachePadded::new(Remote {
                steal,
                lifo: LifoSlot::new(),
                parker: WorkerParker::new(resources.driver.as_ref()),
            }));
            locals.push(local);
        }
        // Under loom every worker starts out awake for the model clock.
        #[cfg(loom)]
        if let Some(clock) = &resources.driver {
            clock.model_awake_add(workers);
        }
        let shared = Arc::new(Shared {
            remotes: remotes.into_boxed_slice(),
            lifecycle: Lifecycle::new(4 * workers, driver, resources),
            idle: Idle::new(workers),
            counters: (0..workers)
                .map(|_| CachePadded::new(WorkerCounters::default()))
                .collect(),
            remote_counters: RemoteCounters::default(),
            trace: config.trace.then(|| {
                let names = (0..workers)
                    .map(|index| format!("{}-{index}", config.thread_name))
                    .collect();
                Box::new(Tracer::new(names))
            }),
            config,
        });
        let scheduler = MultiThread {
            shared: shared.clone(),
            threads: Mutex::new(Vec::with_capacity(workers)),
        };
        for (index, local) in locals.into_iter().enumerate() {
            // On failure `scheduler` drops, which shuts down the workers already started.
            let thread = worker::spawn(shared.clone(), index, local)?;
            scheduler.threads.lock().unwrap().push(thread);
        }
        Ok(scheduler)
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Blocks this (non-worker) thread on `future`; the workers run the tasks.
    pub(crate) fn block_on<F: Future>(&self, handle: &Handle, future: F) -> F::Output {
        let _driving = context::start_driving();
        let _entered = context::enter(handle.clone());
        // Under loom this thread counts for the model clock while it is in here.
        #[cfg(loom)]
        let clock = handle.driver();
        #[cfg(loom)]
        let _in_block_on =
            clock.map(|clock| crate::reactor::model_clock::InBlockOn::enter(clock, true));
        #[cfg(loom)]
        let mut parker = clock.map_or_else(ThreadParker::new, ThreadParker::on_model_clock);
        #[cfg(not(loom))]
        let mut parker = ThreadParker::new();
        let waker = Waker::from(std::sync::Arc::new(UnparkWaker(parker.unparker())));
        let mut cx = Context::from_waker(&waker);
        let mut future = std::pin::pin!(future);
        loop {
            // A budget, as for a task: this thread runs no tasks, but a loop in the future
            // over an always-ready resource then yields to the workers' I/O turns as in tokio.
            if let Poll::Ready(output) =
                crate::task::coop::with_budget(|| future.as_mut().poll(&mut cx))
            {
                return output;
            }
            #[cfg(loom)]
            if let Some(clock) = clock {
                parker.park_and_wake_on_model_clock(clock);
                continue;
            }
            parker.park(None);
        }
    }
}

#[cfg(loom)]
impl MultiThread {
    /// Under loom: yields until every worker sleeps. A yield lets the other loom threads run
    /// until they block, so once the idle word counts no awake worker after a yield, each is
    /// blocked in its parker (see `model::Builder::check`).
    pub(crate) fn wait_until_workers_sleep(&self) {
        loop {
            crate::loom::thread::yield_now();
            if self.shared.idle.all_asleep() {
                return;
            }
        }
    }
}

/// Wakes a `block_on` caller.
struct UnparkWaker(super::park::UnparkHandle);

impl std::task::Wake for UnparkWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.0.unpark();
    }
}

impl MultiThread {
    /// Ends the runtime through its [`Lifecycle`]; this flavour's thread policy: wake every
    /// worker (the lifecycle has set the shutdown flag they check) and join them.
    pub(crate) fn shutdown(&self, blocking_timeout: Option<std::time::Duration>) {
        let shared = &self.shared;
        let stop_workers = || {
            for remote in shared.remotes.iter() {
                remote.parker.unpark(&shared.lifecycle.driver);
            }
            // A worker dropping its own runtime (the last `Arc<Runtime>` went away inside a
            // task) cannot join itself; it leaves its loop when that task's poll returns.
            let this_worker = worker::current_index(shared);
            let threads = std::mem::take(&mut *self.threads.lock().unwrap());
            for (index, thread) in threads.into_iter().enumerate() {
                if Some(index) != this_worker {
                    let _ = thread.join();
                }
            }
        };
        shared.lifecycle.shutdown(
            Handle::multi_thread(shared.clone()),
            stop_workers,
            blocking_timeout,
        );
    }
}

impl Drop for MultiThread {
    /// Shuts down (if `Runtime::shutdown_timeout` did not already).
    fn drop(&mut self) {
        self.shutdown(None);
    }
}

impl Shared {
    /// Spawns a task; `site` is the user's call site, for the trace.
    pub(crate) fn spawn<F>(
        this: &Arc<Shared>,
        future: F,
        site: &'static std::panic::Location<'static>,
    ) -> (JoinHandle<F::Output>, Option<RefusedTask>)
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (join, bound) = this.lifecycle.bind(future, this.clone(), |id| {
            if let Some(trace) = &this.trace {
                trace.spawn(worker::current_index(this), id.as_u64(), site);
            }
        });
        let notified = match bound {
            Ok(notified) => notified,
            // The runtime shut down: the task is cancelled before it ever runs, once the
            // caller drops the refusal (see `RefusedTask`).
            Err(refused) => return (join, Some(refused)),
        };
        let pushed = worker::with_current(this, notified, |core, notified| {
            this.counters[core.index].record_spawn();
            core.push_local(this, notified);
        });
        if let Err(notified) = pushed {
            this.remote_counters.record_spawn();
            this.push_remote(notified);
        }
        (join, None)
    }

    fn push_remote(&self, task: Task) {
        if self.lifecycle.inject.push(task) {
            self.notify_parked();
        }
    }

    /// Wakes a sleeping worker if the idle rules say one should look for work.
    fn notify_parked(&self) {
        if let Some(index) = self.idle.worker_to_notify() {
            self.remotes[index].parker.unpark(&self.lifecycle.driver);
        }
    }

    /// Whether any queue holds work (used by a worker before it sleeps). Worker `parking`'s
    /// own queues are skipped: only that worker pushes to them, and it found them empty.
    fn has_work_anywhere(&self, parking: usize) -> bool {
        !self.lifecycle.inject.is_empty()
            || self.remotes.iter().enumerate().any(|(index, remote)| {
                index != parking && (!remote.steal.is_empty() || !remote.lifo.is_empty())
            })
    }

    pub(crate) fn resources(&self) -> &Resources {
        self.lifecycle.resources()
    }

    pub(crate) fn tracer(&self) -> Option<&Tracer> {
        self.trace.as_deref()
    }

    pub(crate) fn metrics(&self) -> Metrics {
        let mut metrics = self.remote_counters.snapshot();
        for counters in self.counters.iter() {
            metrics.merge(&counters.snapshot());
        }
        metrics
    }
}

impl Schedule for Arc<Shared> {
    fn schedule(&self, task: Task) {
        schedule_task(self, task, false);
    }

    fn yield_now(&self, task: Task) {
        schedule_task(self, task, true);
    }

    fn release(&self, task: &OwnedTask<Self>) -> Option<OwnedTask<Self>> {
        self.lifecycle.release(task)
    }
}

/// A wake: on one of our workers, the task goes to that worker's LIFO slot (or, for a
/// self-wake, the back of its queue); anywhere else, to the injection queue.
fn schedule_task(shared: &Arc<Shared>, task: Task, is_yield: bool) {
    if let Some(trace) = &shared.trace {
        trace.wake(worker::current_index(shared), task.id().as_u64());
    }
    let pushed = worker::with_current(shared, task, |core, task| {
        shared.counters[core.index].record_wake();
        if is_yield {
            core.push_local(shared, task);
        } else {
            core.push_lifo(shared, task);
        }
    });
    if let Err(task) = pushed {
        shared.remote_counters.record_wake();
        shared.push_remote(task);
    }
}
