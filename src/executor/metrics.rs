//! Runtime counters: cheap enough to stay on in release builds.
//!
//! Each scheduler thread (a worker, or whoever holds the current-thread core) owns one
//! [`WorkerCounters`] and is its only writer, so an increment is a plain load and store, no
//! locked instruction. Events that happen on arbitrary threads (a spawn or wake from outside
//! the runtime) go to [`RemoteCounters`] with `fetch_add`. [`Metrics`] is their sum.
//!
//! The counters are `std` atomics even under loom: they are statistics that no protocol
//! reads, and as loom atomics each poll, spawn, wake and park cost a user's model (see
//! `spindle::model`) two more scheduling points, and remote spawns a contended
//! read-modify-write for loom to interleave. loom runs a model's threads one at a time on
//! one OS thread, so a `std` counter still reads the same in every replay.

use crate::task::RunReport;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A snapshot of a runtime's counters, from [`Runtime::metrics`](crate::runtime::Runtime::metrics).
///
/// A **wasted poll** is a poll of a task that had not been woken (or newly spawned) since its
/// previous poll: the article's interpreter switching to T1 and T2 while only T3's I/O is
/// ready. spindle polls a task only from a run-queue entry that a wake created, so the
/// counter stays 0; [`executor::naive`](crate::executor::naive) shows it climbing.
///
/// ```
/// let rt = spindle::runtime::Builder::new_current_thread().build().unwrap();
/// rt.block_on(async {
///     spindle::spawn(async {}).await.unwrap();
/// });
/// let metrics = rt.metrics();
/// assert_eq!(metrics.tasks_spawned, 1);
/// assert_eq!(metrics.wasted_polls, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Scheduler threads: 1 for a current-thread runtime.
    pub workers: u64,
    /// Tasks spawned.
    pub tasks_spawned: u64,
    /// Times a task's future was polled (the `block_on` future is not a task).
    pub polls: u64,
    /// Wakes that made a task runnable. A wake of a task that is already queued is merged
    /// into the queued entry and not counted.
    pub wakes: u64,
    /// Polls of a task that had not been woken since its previous poll.
    pub wasted_polls: u64,
    /// Tasks taken from another worker's queue.
    pub steals: u64,
    /// Times a scheduler thread went to sleep for lack of work.
    pub parks: u64,
    /// Polls of a combinator branch (a `join!`/`select!` arm, a `JoinSet` entry) that no wake
    /// of that branch asked for: the T1/T2/T3 waste inside one task. Counted by the branches
    /// wrapped in [`audit_polls`](crate::macros::audit_polls); 0 for spindle's combinators,
    /// which poll a branch only when its own waker fired.
    pub wasted_branch_polls: u64,
}

impl Metrics {
    /// Adds another snapshot's counts to this one's (`workers` included).
    pub fn merge(&mut self, other: &Metrics) {
        self.workers += other.workers;
        self.tasks_spawned += other.tasks_spawned;
        self.polls += other.polls;
        self.wakes += other.wakes;
        self.wasted_polls += other.wasted_polls;
        self.steals += other.steals;
        self.parks += other.parks;
        self.wasted_branch_polls += other.wasted_branch_polls;
    }
}

/// Counters written by one scheduler thread at a time.
#[derive(Default)]
pub(crate) struct WorkerCounters {
    tasks_spawned: AtomicU64,
    polls: AtomicU64,
    wakes: AtomicU64,
    wasted_polls: AtomicU64,
    steals: AtomicU64,
    parks: AtomicU64,
}

/// Increments a counter that only the calling thread writes.
#[inline(always)]
fn bump(counter: &AtomicU64, by: u64) {
    counter.store(counter.load(Relaxed) + by, Relaxed);
}

impl WorkerCounters {
    pub(crate) fn record_run(&self, report: RunReport) {
        if report.polled {
            bump(&self.polls, 1);
            if !report.woken {
                bump(&self.wasted_polls, 1);
            }
        }
    }
    pub(crate) fn record_spawn(&self) {
        bump(&self.tasks_spawned, 1);
    }
    pub(crate) fn record_wake(&self) {
        bump(&self.wakes, 1);
    }
    pub(crate) fn record_steals(&self, count: u64) {
        bump(&self.steals, count);
    }
    pub(crate) fn record_park(&self) {
        bump(&self.parks, 1);
    }

    pub(crate) fn snapshot(&self) -> Metrics {
        Metrics {
            workers: 1,
            tasks_spawned: self.tasks_spawned.load(Relaxed),
            polls: self.polls.load(Relaxed),
            wakes: self.wakes.load(Relaxed),
            wasted_polls: self.wasted_polls.load(Relaxed),
            steals: self.steals.load(Relaxed),
            parks: self.parks.load(Relaxed),
            wasted_branch_polls: 0,
        }
    }
}

/// Counters any thread may write.
#[derive(Default)]
pub(crate) struct RemoteCounters {
    tasks_spawned: AtomicU64,
    wakes: AtomicU64,
    /// Written by task polls on any worker, hence here rather than per worker.
    wasted_branch_polls: AtomicU64,
}

impl RemoteCounters {
    pub(crate) fn record_spawn(&self) {
        self.tasks_spawned.fetch_add(1, Relaxed);
    }
    pub(crate) fn record_wake(&self) {
        self.wakes.fetch_add(1, Relaxed);
    }
    pub(crate) fn record_wasted_branch_poll(&self) {
        self.wasted_branch_polls.fetch_add(1, Relaxed);
    }
    pub(crate) fn snapshot(&self) -> Metrics {
        Metrics {
            tasks_spawned: self.tasks_spawned.load(Relaxed),
            wakes: self.wakes.load(Relaxed),
            wasted_branch_polls: self.wasted_branch_polls.load(Relaxed),
            ..Metrics::default()
        }
    }
}
