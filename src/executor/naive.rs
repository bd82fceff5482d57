//! A deliberately naive scheduler, for teaching and as the proofs' negative control.
//!
//! It knows *that* something happened, but not *to whom*: whenever any waker fires, it polls
//! every pending task in turn, in spawn order, exactly as the article's interpreter switches
//! to T1, then T2 (both still waiting on I/O), before it reaches T3, whose data arrived. Each
//! of those polls of a task that was not woken is a *wasted poll*, counted in
//! [`Metrics::wasted_polls`] by the same rule spindle's real schedulers use.
//!
//! ```
//! use spindle::executor::naive::NaiveExecutor;
//!
//! let mut executor = NaiveExecutor::new();
//! executor.spawn(async { /* ... */ });
//! executor.run();
//! assert_eq!(executor.metrics().polls, 1);
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Wake, Waker};

use super::metrics::{Metrics, WorkerCounters};
use super::park::{Park, ThreadParker, UnparkHandle};
use crate::loom::sync::atomic::{AtomicBool, Ordering::SeqCst};
use crate::task::RunReport;

type BoxFuture = Pin<Box<dyn Future<Output = ()>>>;

/// Runs `!Send` futures on the calling thread by polling all of them after every wake.
pub struct NaiveExecutor {
    tasks: Vec<NaiveTask>,
    parker: ThreadParker,
    counters: WorkerCounters,
}

struct NaiveTask {
    future: BoxFuture,
    /// Set by the task's waker; read (and cleared) only to count wasted polls.
    signal: std::sync::Arc<NaiveWaker>,
    waker: Waker,
}

struct NaiveWaker {
    woken: AtomicBool,
    unpark: UnparkHandle,
}

impl Wake for NaiveWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.woken.store(true, SeqCst);
        self.unpark.unpark();
    }
}

impl Default for NaiveExecutor {
    fn default() -> NaiveExecutor {
        NaiveExecutor::new()
    }
}

impl std::fmt::Debug for NaiveExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NaiveExecutor")
            .field("pending_tasks", &self.tasks.len())
            .finish_non_exhaustive()
    }
}

impl NaiveExecutor {
    /// An executor with no tasks.
    pub fn new() -> NaiveExecutor {
        NaiveExecutor {
            tasks: Vec::new(),
            parker: ThreadParker::new(),
            counters: WorkerCounters::default(),
        }
    }

    /// Adds a task; it is first polled by the next [`run`](Self::run).
    pub fn spawn(&mut self, future: impl Future<Output = ()> + 'static) {
        let signal = std::sync::Arc::new(NaiveWaker {
            // A new task counts as woken: its first poll is not wasted.
            woken: AtomicBool::new(true),
            unpark: self.parker.unparker(),
        });
        self.counters.record_spawn();
        self.tasks.push(NaiveTask {
            future: Box::pin(future),
            waker: Waker::from(signal.clone()),
            signal,
        });
    }

    /// Runs until every task has completed: poll all pending tasks in turn, then sleep until
    /// any waker fires, and again.
    pub fn run(&mut self) {
        self.run_until(|| false);
    }

    /// Like [`run`](Self::run), but also stops after a round at whose end `done()` holds.
    pub fn run_until(&mut self, mut done: impl FnMut() -> bool) {
        loop {
            self.run_round();
            if self.tasks.is_empty() || done() {
                return;
            }
            self.counters.record_park();
            self.parker.park(None);
        }
    }

    /// One pass over every pending task, in spawn order.
    pub fn run_round(&mut self) {
        let counters = &self.counters;
        self.tasks.retain_mut(|task| {
            let woken = task.signal.woken.swap(false, SeqCst);
            if woken {
                counters.record_wake();
            }
            counters.record_run(RunReport {
                polled: true,
                woken,
            });
            let mut cx = Context::from_waker(&task.waker);
            task.future.as_mut().poll(&mut cx).is_pending()
        });
    }

    /// Tasks not yet complete.
    pub fn pending_tasks(&self) -> usize {
        self.tasks.len()
    }

    /// The counters, with the same meaning as a runtime's.
    pub fn metrics(&self) -> Metrics {
        self.counters.snapshot()
    }
}
