//! Model-check your own async code: a spindle runtime inside [loom](https://docs.rs/loom).
//!
//! This module exists only when the crate is built with `RUSTFLAGS="--cfg loom"` (and in the
//! documentation). Under that flag every primitive spindle's own protocols rest on (atomics,
//! `Arc`, `Mutex`, `Condvar`, threads, thread-locals) is loom's instrumented copy, so the
//! runtime's worker threads, wakers, channels and `spindle::sync` primitives are part of the
//! model: loom runs your future under every interleaving its preemption bound allows and
//! reports the first one that panics, deadlocks or leaks.
//!
//! A model is three lines:
//!
//! ```ignore
//! #[test]
//! fn two_tasks_do_not_lose_an_update() {
//!     spindle::model::check(|| async {
//!         // spawn tasks, await them, assert
//!     });
//! }
//! ```
//!
//! [`check`] runs the future on a current-thread runtime; [`Builder`] picks the flavour, the
//! worker count and loom's bounds. Each iteration builds a fresh runtime inside
//! `loom::model`, runs the future with `block_on`, and drops the runtime (which cancels the
//! tasks still alive and joins the workers), so nothing leaks from one interleaving into
//! the next.
//!
//! # What works in a model
//! - tasks (`spawn`, `JoinHandle`, `JoinSet`, `abort`), both runtime flavours, `join!` and
//!   `select!`, every `spindle::sync` primitive, `spawn_blocking` and the thread pool (their
//!   threads are loom threads);
//! - time: `sleep`, `sleep_until`, `timeout` and `interval` run on a virtual clock that
//!   jumps to the next deadline when every runtime thread is idle, so a model with timeouts
//!   is deterministic and takes no wall time (see [`crate::time`]);
//! - in-memory I/O (`io::duplex` where the crate has it).
//!
//! Real sockets, files and child processes have no model: their constructors return an
//! `io::ErrorKind::Unsupported` error "not available under loom: use io::duplex".
//!
//! # What loom explores
//! Your future's run, in every interleaving. The runtime's start (its build, and its workers'
//! first search for work, which finds none) runs in one interleaving before your future
//! starts, and so does the shutdown after it returns unless user code may still run in it
//! (a task still alive, a blocking call): see [`Builder::explore_runtime`].
//!
//! # Bounds
//! `LOOM_MAX_PREEMPTIONS`, `LOOM_MAX_BRANCHES` and the other `LOOM_*` variables apply as in
//! `loom::model`; a bound set on the [`Builder`] overrides them. Two preemptions find most
//! races between two tasks; see README.md, "What works under loom", for measured times.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The most branches per interleaving a model may take when neither
/// [`Builder::max_branches`] nor `LOOM_MAX_BRANCHES` says otherwise. A model that spins
/// without ever blocking still fails, after this many.
pub const DEFAULT_MAX_BRANCHES: usize = 20_000;

/// Runs `model` on a current-thread runtime under every interleaving loom explores
/// (bounded by `LOOM_MAX_PREEMPTIONS`), panicking with loom's report on the first failing
/// one. See [`Builder`] for two workers or other bounds.
///
/// # Panics
/// When an interleaving panics, deadlocks or leaks, as `loom::model` does.
pub fn check<F, Fut>(model: F) -> Report
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()>,
{
    Builder::new_current_thread().check(model)
}

/// What a finished [`check`] explored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// Interleavings run (loom's iterations).
    pub iterations: usize,
}

/// Which runtime a model runs on, and loom's bounds.
///
/// ```ignore
/// spindle::model::Builder::new_multi_thread()
///     .worker_threads(2)
///     .preemption_bound(2)
///     .check(|| async { /* ... */ });
/// ```
#[derive(Clone)]
pub struct Builder {
    multi_thread: bool,
    worker_threads: usize,
    preemption_bound: Option<usize>,
    max_branches: Option<usize>,
    max_permutations: Option<usize>,
    explore_runtime: bool,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("model::Builder")
            .field("multi_thread", &self.multi_thread)
            .field("worker_threads", &self.worker_threads)
            .field("preemption_bound", &self.preemption_bound)
            .field("max_branches", &self.max_branches)
            .field("explore_runtime", &self.explore_runtime)
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// Models on a current-thread runtime: the tasks run on the thread that runs the model
    /// (other loom threads may still wake them).
    pub fn new_current_thread() -> Builder {
        Builder {
            multi_thread: false,
            worker_threads: 1,
            preemption_bound: None,
            max_branches: None,
            max_permutations: None,
            explore_runtime: false,
        }
    }

    /// Models on a work-stealing runtime with [`worker_threads`](Self::worker_threads)
    /// workers (default 2): tasks really run in parallel, and loom interleaves them.
    pub fn new_multi_thread() -> Builder {
        Builder {
            multi_thread: true,
            worker_threads: 2,
            ..Builder::new_current_thread()
        }
    }

    /// Worker threads of a multi-thread model (default 2; ignored by current-thread).
    /// Every worker multiplies the interleavings: keep it at 2.
    pub fn worker_threads(&mut self, count: usize) -> &mut Builder {
        self.worker_threads = count;
        self
    }

    /// Most preemptions per interleaving (overrides `LOOM_MAX_PREEMPTIONS`).
    pub fn preemption_bound(&mut self, bound: usize) -> &mut Builder {
        self.preemption_bound = Some(bound);
        self
    }

    /// Most branches (loom's scheduling decisions) per interleaving before loom gives up on
    /// the model as too large (overrides `LOOM_MAX_BRANCHES`). Without either, spindle's
    /// default is [`DEFAULT_MAX_BRANCHES`], not loom's 1,000: every user operation costs the
    /// runtime's own branches too (a task's wake, a worker's park), and a model of three
    /// sleepers on two workers already needs about 2,000.
    pub fn max_branches(&mut self, branches: usize) -> &mut Builder {
        self.max_branches = Some(branches);
        self
    }

    /// Stop after this many interleavings (overrides `LOOM_MAX_PERMUTATIONS`): a smoke test,
    /// not a proof.
    pub fn max_permutations(&mut self, count: usize) -> &mut Builder {
        self.max_permutations = Some(count);
        self
    }

    /// Also explore the runtime's own start and shutdown (default `false`).
    ///
    /// By default loom explores one interleaving of building the runtime and of its
    /// workers' first search for work (they find none and sleep; your future starts only
    /// then), and one of the shutdown after your future returned, unless user code may
    /// still run in it (a task is still alive, or a blocking call may be running): those
    /// phases run no code of yours, and spindle's own models check them. `true` explores
    /// them like the rest, at many times the interleavings.
    ///
    /// A `loom::thread` your model spawns and does not join before the future returns is
    /// explored only up to that point when the shutdown is not: join your threads inside
    /// the future, or set this.
    pub fn explore_runtime(&mut self, explore: bool) -> &mut Builder {
        self.explore_runtime = explore;
        self
    }

    /// Runs `model` on a fresh runtime in each interleaving; see [`check`].
    ///
    /// # Panics
    /// When an interleaving panics, deadlocks or leaks (loom's report is printed first), or
    /// when the runtime cannot be built (a worker count of zero).
    pub fn check<F, Fut>(&self, model: F) -> Report
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()>,
    {
        let iterations = Arc::new(AtomicUsize::new(0));
        #[cfg(loom)]
        {
            let mut loom_builder = loom::model::Builder::new();
            if let Some(bound) = self.preemption_bound {
                loom_builder.preemption_bound = Some(bound);
            }
            if let Some(branches) = self.max_branches {
                loom_builder.max_branches = branches;
            } else if std::env::var_os("LOOM_MAX_BRANCHES").is_none() {
                loom_builder.max_branches = DEFAULT_MAX_BRANCHES;
            }
            if let Some(count) = self.max_permutations {
                loom_builder.max_permutations = Some(count);
            }
            let multi_thread = self.multi_thread;
            let workers = self.worker_threads;
            let explore_runtime = self.explore_runtime;
            let counter = iterations.clone();
            loom_builder.check(move || {
                counter.fetch_add(1, Ordering::Relaxed);
                let mut builder = if multi_thread {
                    let mut builder = crate::runtime::Builder::new_multi_thread();
                    builder.worker_threads(workers);
                    builder
                } else {
                    crate::runtime::Builder::new_current_thread()
                };
                // Building the runtime and its workers' first search for work (they find
                // none and go to sleep) run before any user code, in one interleaving:
                // racing them with nothing teaches the user nothing, and spindle's own
                // models check the scheduler's start (DESIGN.md, "spindle::model").
                if !explore_runtime {
                    loom::stop_exploring();
                }
                let runtime = builder.build().unwrap_or_else(|error| {
                    panic!("spindle::model: building the runtime: {error}")
                });
                if !explore_runtime {
                    runtime.wait_until_workers_sleep();
                    loom::explore();
                }
                // A failing interleaving must reach loom as the model's panic and nothing
                // else, so on a panic the runtime is leaked, not dropped: dropping it would
                // run loom operations while unwinding (loom's threads share one OS thread and
                // its panic count, so a worker releasing a lock would poison it), and after
                // loom's own deadlock panic every further loom operation panics again, which
                // would abort the test process instead of reporting the interleaving.
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    runtime.block_on(model());
                }));
                match outcome {
                    Ok(()) => {
                        // Without user code left to run, the shutdown is the runtime's own
                        // business, in one interleaving too (the look itself is part of it).
                        if !explore_runtime {
                            loom::stop_exploring();
                            if runtime.shutdown_may_run_user_code() {
                                loom::explore();
                            }
                        }
                        drop(runtime);
                    }
                    Err(payload) => {
                        std::mem::forget(runtime);
                        // Before loom's own report: how far the search got, a figure that
                        // depends only on the model and the runtime, never on the machine.
                        eprintln!(
                            "spindle::model: interleaving {} failed",
                            counter.load(Ordering::Relaxed)
                        );
                        std::panic::resume_unwind(payload);
                    }
                }
            });
        }
        #[cfg(not(loom))]
        {
            let _ = model;
            unreachable!("spindle::model runs only in a build with RUSTFLAGS=\"--cfg loom\"");
        }
        #[allow(unreachable_code)]
        Report {
            iterations: iterations.load(Ordering::Relaxed),
        }
    }
}
