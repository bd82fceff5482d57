//! The pool's shared state, its worker loop, and the submit and shutdown paths.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::mem;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use super::builder::{Builder, Hook};
use super::job::{drop_payload, Job, JobError, JobId};
use crate::loom::sync::{Arc, Condvar, Mutex, MutexGuard};
use crate::loom::thread::{self, JoinHandle};

/// Where the pool is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lifecycle {
    Running,
    /// `shutdown`: no new jobs; workers drain the queue, then exit.
    Draining,
    /// `shutdown_now`: no new jobs; the queue was emptied; workers exit after their job.
    Stopping,
}

pub(super) struct Shared {
    state: Mutex<State>,
    /// `state.queue.len()`, written under the lock, read without it by spinning workers.
    /// A hint only: the queue itself is always checked under the lock.
    queued_hint: std::sync::atomic::AtomicUsize,
    /// Idle workers wait here for a job (or for keep-alive to run out).
    work_available: Condvar,
    /// Submitters blocked on a full queue wait here.
    space_available: Condvar,
    /// `shutdown` waits here for workers to exit.
    worker_exited: Condvar,
    config: Config,
}

struct Config {
    max_threads: usize,
    min_threads: usize,
    #[cfg_attr(loom, allow(dead_code))] // loom's clock is `expire_keep_alive`
    keep_alive: Duration,
    name_prefix: String,
    stack_size: Option<usize>,
    on_thread_start: Option<Hook>,
    on_thread_stop: Option<Hook>,
    queue_capacity: Option<usize>,
    #[cfg(all(test, not(loom)))]
    refuse_spawn_from: Option<usize>,
    #[cfg(loom)]
    retire_despite_claim: bool,
}

/// Everything behind the pool's one lock. The counting invariants (each holds whenever the
/// lock is free; a thread that is starting or in its short spinning phase counts in
/// `starting` or `spinning` instead):
/// - threads waiting in `wait_for_work` = `idle + notified`: a submitter that hands a job to
///   a waiting thread moves one from `idle` to `notified`, and whichever waiter wakes first
///   takes that token (so a thread is never claimed twice, and a claimed thread never retires);
/// - `queue` non-empty ⇒ `threads > 0`: a thread idles or retires only with the queue empty,
///   under the lock; a submit that finds no thread to claim starts one, and if the OS
///   refuses when there is no thread at all, the queued jobs are rejected, not stranded.
struct State {
    queue: VecDeque<Box<dyn Job>>,
    /// Live workers, counted from spawn until the worker decides to exit.
    threads: usize,
    idle: usize,
    notified: usize,
    /// Threads that found the queue empty and poll it briefly before they sleep: each
    /// re-checks the queue under the lock before sleeping, so a job pushed meanwhile is
    /// theirs within microseconds, without a wake-up or a new thread.
    spinning: usize,
    /// Threads started but not yet at their first look at the queue (which comes after the
    /// `on_thread_start` hook, user code of any length). A job they will take needs no new
    /// thread, but an idle thread, if there is one, takes it sooner.
    starting: usize,
    blocked_submitters: usize,
    lifecycle: Lifecycle,
    /// Number of the next thread (its name's suffix).
    next_thread: usize,
    workers: Vec<WorkerRecord>,
    /// Threads that `shutdown_now_timeout` gave up on: still counted in `threads` until they
    /// exit, but no shutdown waits for them again.
    detached: usize,
    /// Handles of threads that retired at keep-alive: joined at shutdown, or dropped
    /// (detached) the next time a thread starts, so they do not pile up.
    retired: Vec<JoinHandle<()>>,
    /// Loom stands in for the clock: `expire_keep_alive` makes the next idle wait time out.
    #[cfg(loom)]
    keep_alive_expired: bool,
}

struct WorkerRecord {
    number: usize,
    handle: JoinHandle<()>,
    /// The job this thread is running (0: none), for `shutdown_now_timeout`'s report. Set
    /// under the pool's lock when the job is taken from the queue, so a shutdown holding the
    /// lock never mistakes a thread that has its job for an idle one; cleared once the job
    /// has returned. Read only there, so a std atomic outside loom's view.
    current_job: std::sync::Arc<AtomicU64>,
    exited: bool,
}

/// What `submit` does when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WhenFull {
    Block,
    Refuse,
}

/// Why `enqueue` did not take the job (it never called `make_job`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refused {
    Full,
    ShutDown,
}

/// Returned by [`ThreadPool::shutdown_now_timeout`](super::ThreadPool::shutdown_now_timeout)
/// when some jobs were still running at the deadline.
///
/// Their threads are detached: each finishes its job (the job's handle still gets the value),
/// then exits. The pool never waits for them again, so dropping it does not hang.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StillRunning {
    jobs: Vec<JobId>,
    threads: Vec<String>,
}

impl StillRunning {
    /// The ids of the jobs still running (compare with [`JobHandle::id`](super::JobHandle::id)).
    pub fn jobs(&self) -> &[JobId] {
        &self.jobs
    }

    /// The names of the threads running them.
    pub fn threads(&self) -> &[String] {
        &self.threads
    }
}

impl fmt::Display for StillRunning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} job(s) still running at the shutdown deadline: {:?} on {:?}",
            self.jobs.len(),
            self.jobs,
            self.threads
        )
    }
}

impl std::error::Error for StillRunning {}

impl Shared {
    pub(super) fn new(builder: Builder) -> Shared {
        Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                threads: 0,
                idle: 0,
                notified: 0,
                spinning: 0,
                starting: 0,
                blocked_submitters: 0,
                lifecycle: Lifecycle::Running,
                next_thread: 1,
                workers: Vec::new(),
                detached: 0,
                retired: Vec::new(),
                #[cfg(loom)]
                keep_alive_expired: false,
            }),
            queued_hint: std::sync::atomic::AtomicUsize::new(0),
            work_available: Condvar::new(),
            space_available: Condvar::new(),
            worker_exited: Condvar::new(),
            config: Config {
                max_threads: builder.max_threads,
                min_threads: builder.min_threads,
                keep_alive: builder.keep_alive,
                name_prefix: builder.name_prefix,
                stack_size: builder.stack_size,
                on_thread_start: builder.on_thread_start,
                on_thread_stop: builder.on_thread_stop,
                queue_capacity: builder.queue_capacity,
                #[cfg(all(test, not(loom)))]
                refuse_spawn_from: builder.refuse_spawn_from,
                #[cfg(loom)]
                retire_despite_claim: builder.retire_despite_claim,
            },
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Jobs and hooks run outside the lock, and nothing under it panics, so poisoning can
        // only come from a bug here; carry on with the data rather than cascade.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts `min_threads` threads.
    pub(super) fn start_min_threads(shared: &Arc<Shared>) -> io::Result<()> {
        let mut state = shared.lock();
        for _ in 0..shared.config.min_threads {
            Shared::spawn_worker(shared, &mut state)?;
        }
        Ok(())
    }

    /// Queues `count` jobs made by `make_job`, handing each to a starting, spinning or idle thread or
    /// starting a new one. `make_job` is called under the lock once its job has been admitted
    /// (the pool runs and the queue has room), so a refused job is never built.
    /// `Err`: stopped after admitting fewer than `count`.
    pub(super) fn enqueue(
        shared: &Arc<Shared>,
        when_full: WhenFull,
        count: usize,
        mut make_job: impl FnMut() -> Box<dyn Job>,
    ) -> Result<(), Refused> {
        let mut state = shared.lock();
        let mut claimed = 0;
        let mut stranded = Vec::new();
        let mut spawn_error = None;
        let mut admitted = 0;
        let outcome = loop {
            if admitted == count {
                break Ok(());
            }
            if state.lifecycle != Lifecycle::Running {
                break Err(Refused::ShutDown);
            }
            let full = shared
                .config
                .queue_capacity
                .is_some_and(|capacity| state.queue.len() >= capacity);
            if full {
                if when_full == WhenFull::Refuse {
                    break Err(Refused::Full);
                }
                // Wake the threads claimed so far before sleeping: they make the room.
                for _ in 0..mem::take(&mut claimed) {
                    shared.work_available.notify_one();
                }
                state.blocked_submitters += 1;
                state = shared
                    .space_available
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                state.blocked_submitters -= 1;
                continue;
            }
            state.queue.push_back(make_job());
            shared.update_queued_hint(&state);
            admitted += 1;

            if state.queue.len() <= state.spinning {
                // A spinning thread takes it (it checks the queue again before it sleeps),
                // sparing a sleeping one the wake-up.
            } else if state.idle > 0 {
                // Claim a waiting thread for this job (see `State`).
                state.idle -= 1;
                state.notified += 1;
                claimed += 1;
            } else if state.queue.len() <= state.spinning + state.starting {
                // A thread on its way takes it: no need for another.
            } else if state.threads < shared.config.max_threads {
                if let Err(error) = Shared::spawn_worker(shared, &mut state) {
                    if state.threads == 0 {
                        // No thread exists to run what is queued, and none can be started:
                        // every queued job gets the error rather than waiting for ever.
                        stranded.extend(state.queue.drain(..));
                        shared.update_queued_hint(&state);
                        spawn_error = Some(error);
                    }
                    // Otherwise the job stays queued: a busy thread takes it when it finishes.
                }
            }
            // else: every thread is busy and the pool is at its maximum; the job waits.
        };
        let wake_submitters = !stranded.is_empty() && state.blocked_submitters > 0;
        drop(state);
        // Wake-ups after unlocking: the woken thread's first act is to take the lock.
        for _ in 0..claimed {
            shared.work_available.notify_one();
        }
        if wake_submitters {
            shared.space_available.notify_all();
        }
        if let Some(error) = spawn_error {
            // Outside the lock: completing a job wakes its waker, which is foreign code.
            for job in stranded {
                job.reject(JobError::spawn_failed(&error));
            }
        }
        outcome
    }

    /// Starts one worker thread. Called with the lock held, so that the count, the record and
    /// the thread appear together.
    fn spawn_worker(shared: &Arc<Shared>, state: &mut State) -> io::Result<()> {
        let number = state.next_thread;
        #[cfg(all(test, not(loom)))]
        if shared.config.refuse_spawn_from.is_some_and(|n| number >= n) {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "test: the OS refuses new threads",
            ));
        }
        let name = format!("{}-{}", shared.config.name_prefix, number);
        let mut builder = thread::Builder::new().name(name);
        if let Some(bytes) = shared.config.stack_size {
            builder = builder.stack_size(bytes);
        }
        let current_job = std::sync::Arc::new(AtomicU64::new(0));
        let worker = Worker {
            shared: shared.clone(),
            number,
            current_job: current_job.clone(),
        };
        let handle = builder.spawn(move || worker.run())?;
        state.next_thread += 1;
        state.threads += 1;
        // Until its first look at the queue (see `Worker::run`).
        state.starting += 1;
        state.workers.push(WorkerRecord {
            number,
            handle,
            current_job,
            exited: false,
        });
        // Retired threads have nothing left to do; let them go.
        state.retired.clear();
        Ok(())
    }

    fn update_queued_hint(&self, state: &State) {
        self.queued_hint
            .store(state.queue.len(), std::sync::atomic::Ordering::Relaxed);
    }

    /// Polls the queue hint for a few microseconds (spinning, then yielding), so a thread
    /// that just finished a job picks up the next one without sleeping and being woken:
    /// for short jobs that halves a round trip. Loom checks the protocol around it (the
    /// unlocked window) with no polling.
    fn spin_for_work(&self) {
        #[cfg(not(loom))]
        {
            let backoff = crossbeam_utils::Backoff::new();
            while !backoff.is_completed() {
                if self.queued_hint.load(std::sync::atomic::Ordering::Relaxed) > 0 {
                    return;
                }
                backoff.snooze();
            }
        }
    }

    /// Waits for a job or for keep-alive to run out; `true` if it ran out.
    #[cfg(not(loom))]
    fn wait_for_work<'a>(&self, state: MutexGuard<'a, State>) -> (MutexGuard<'a, State>, bool) {
        let (state, result) = self
            .work_available
            .wait_timeout(state, self.config.keep_alive)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        (state, result.timed_out())
    }

    /// Loom's `wait_timeout` never times out, so the model decides when keep-alive runs out
    /// (`expire_keep_alive`), at any point of the interleaving.
    #[cfg(loom)]
    fn wait_for_work<'a>(&self, mut state: MutexGuard<'a, State>) -> (MutexGuard<'a, State>, bool) {
        if !mem::take(&mut state.keep_alive_expired) {
            state = self.work_available.wait(state).unwrap();
        }
        let expired = mem::take(&mut state.keep_alive_expired);
        (state, expired)
    }

    /// Loom models only: the keep-alive of the idle threads runs out now.
    #[cfg(all(test, loom))]
    pub(super) fn expire_keep_alive(&self) {
        self.lock().keep_alive_expired = true;
        self.work_available.notify_all();
    }

    /// Stops accepting jobs and waits for the workers to exit (until `deadline`, if any).
    pub(super) fn shutdown(
        &self,
        cancel_queued: bool,
        deadline: Option<Instant>,
    ) -> Result<(), StillRunning> {
        let mut state = self.lock();
        let cancelled: Vec<_> = if cancel_queued {
            state.lifecycle = Lifecycle::Stopping;
            let cancelled = state.queue.drain(..).collect();
            self.update_queued_hint(&state);
            cancelled
        } else {
            if state.lifecycle == Lifecycle::Running {
                state.lifecycle = Lifecycle::Draining;
            }
            Vec::new()
        };
        drop(state);
        self.work_available.notify_all();
        self.space_available.notify_all();
        // Outside the lock: completing a job wakes its waker, which is foreign code.
        for job in cancelled {
            job.reject(JobError::cancelled());
        }

        // A job that shuts its own pool down (or drops its last handle) cannot wait for its
        // own thread.
        let me = thread::current().id();
        let mut state = self.lock();
        let own = state
            .workers
            .iter()
            .filter(|worker| !worker.exited && worker.handle.thread().id() == me)
            .count();
        while state.threads > own + state.detached {
            state = match deadline {
                None => self
                    .worker_exited
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        break;
                    }
                    self.worker_exited
                        .wait_timeout(state, deadline - now)
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .0
                }
            };
        }

        let mut to_join = mem::take(&mut state.retired);
        let mut still_running = StillRunning {
            jobs: Vec::new(),
            threads: Vec::new(),
        };
        let mut kept = Vec::new();
        for worker in mem::take(&mut state.workers) {
            if worker.exited {
                to_join.push(worker.handle);
            } else if worker.handle.thread().id() == me {
                kept.push(worker); // exits by itself when its job returns
            } else {
                // Past the deadline and not exited: detach it (dropping its handle).
                state.detached += 1;
                let job = worker
                    .current_job
                    .load(std::sync::atomic::Ordering::Relaxed);
                // Only a thread in a job is still running one. One without (idle but not yet
                // scheduled to see the shutdown on a loaded machine, or still in its start
                // hook) runs no job and exits on its own: reporting it made the report, and
                // whether there was one at all, depend on how fast the OS ran that thread.
                if let Some(job) = JobId::from_u64(job) {
                    still_running.jobs.push(job);
                    still_running
                        .threads
                        .push(format!("{}-{}", self.config.name_prefix, worker.number));
                }
            }
        }
        state.workers = kept;
        drop(state);
        for handle in to_join {
            // A worker catches every panic, so an `Err` here means a hook's panic escaped;
            // the thread is gone either way.
            let _ = handle.join();
        }
        if still_running.threads.is_empty() {
            Ok(())
        } else {
            Err(still_running)
        }
    }

    pub(super) fn thread_count(&self) -> usize {
        self.lock().threads
    }

    pub(super) fn idle_count(&self) -> usize {
        let state = self.lock();
        state.idle + state.notified
    }

    pub(super) fn queued_count(&self) -> usize {
        self.lock().queue.len()
    }

    pub(super) fn max_threads(&self) -> usize {
        self.config.max_threads
    }

    pub(super) fn is_shut_down(&self) -> bool {
        self.lock().lifecycle != Lifecycle::Running
    }
}

/// One worker thread's loop.
struct Worker {
    shared: Arc<Shared>,
    number: usize,
    current_job: std::sync::Arc<AtomicU64>,
}

impl Worker {
    fn run(self) {
        let shared = &*self.shared;
        run_hook(&shared.config.on_thread_start);
        let mut state = shared.lock();
        // Started: from here on this thread is counted where it is (see `spawn_worker`).
        state.starting -= 1;
        let retiring = 'work: loop {
            while let Some(job) = state.queue.pop_front() {
                shared.update_queued_hint(&state);
                // Under the lock: see `WorkerRecord::current_job`.
                self.current_job
                    .store(job.id().as_u64(), std::sync::atomic::Ordering::Relaxed);
                let wake_submitter = state.blocked_submitters > 0;
                drop(state);
                if wake_submitter {
                    shared.space_available.notify_one();
                }
                self.run_job(job);
                state = shared.lock();
            }
            if state.lifecycle != Lifecycle::Running {
                break 'work false;
            }
            // Poll briefly before sleeping; submits meanwhile count on this thread.
            state.spinning += 1;
            drop(state);
            shared.spin_for_work();
            state = shared.lock();
            state.spinning -= 1;
            if !state.queue.is_empty() {
                continue 'work;
            }
            if state.lifecycle != Lifecycle::Running {
                break 'work false;
            }
            state.idle += 1;
            loop {
                let (guard, timed_out) = shared.wait_for_work(state);
                state = guard;
                #[cfg(loom)]
                if timed_out
                    && shared.config.retire_despite_claim
                    && state.threads > shared.config.min_threads
                {
                    // The bug the loom model must catch: retiring without checking for a
                    // claim. Keep the counts sane so the model fails on the lost job itself.
                    if state.notified > 0 {
                        state.notified -= 1;
                    } else {
                        state.idle -= 1;
                    }
                    break 'work true;
                }
                if state.notified > 0 {
                    // A submitter handed a job to a waiting thread; this one takes it.
                    state.notified -= 1;
                    continue 'work;
                }
                if state.lifecycle != Lifecycle::Running {
                    state.idle -= 1;
                    break 'work false;
                }
                if timed_out && state.threads > shared.config.min_threads {
                    state.idle -= 1;
                    break 'work true;
                }
                // A spurious wake-up, or a minimum thread whose keep-alive ran out: wait on.
            }
        };

        state.threads -= 1;
        match state.workers.iter().position(|w| w.number == self.number) {
            Some(position) if retiring => {
                let record = state.workers.swap_remove(position);
                state.retired.push(record.handle);
            }
            Some(position) => state.workers[position].exited = true,
            // `shutdown_now_timeout` detached this thread.
            None => state.detached -= 1,
        }
        drop(state);
        shared.worker_exited.notify_all();
        run_hook(&shared.config.on_thread_stop);
    }

    /// Runs a job taken from the queue (its id already in `current_job`).
    fn run_job(&self, job: Box<dyn Job>) {
        // `run` contains every panic itself (the closure's goes to its handle, a destructor's
        // is dropped there); this is the backstop, and its payload is dropped as carefully:
        // a payload whose own `Drop` panics must not unwind out of the worker loop, which
        // would kill the thread with `threads` still counting it (the next job would never
        // run and shutdown would wait for ever).
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| job.run())) {
            drop_payload(payload);
        }
        self.current_job
            .store(0, std::sync::atomic::Ordering::Relaxed);
    }
}

fn run_hook(hook: &Option<Hook>) {
    if let Some(hook) = hook {
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| hook())) {
            drop_payload(payload);
        }
    }
}
