//! Loom models of the thread pool: keep-alive expiry racing with a submit (with a negative
//! control), shutdown racing with submits, cancel racing with a worker, and completion waking
//! an awaiting task. Each uses one worker thread, so each finishes in seconds.
//!
//! Loom's `Condvar::wait_timeout` never times out, so the pool lets the model say when the
//! keep-alive runs out (`ThreadPool::expire_keep_alive`): a thread of the model calls it at
//! whatever point of the interleaving loom picks.

use super::{Builder, JobErrorKind, ThreadPool};
use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::loom::sync::Arc;
use crate::loom::thread;

fn one_thread_pool(builder: Builder) -> ThreadPool {
    builder.max_threads(1).min_threads(0).build().unwrap()
}

/// A pool whose only thread has run one job and is idle (or about to be).
fn pool_with_an_idle_thread(builder: Builder) -> ThreadPool {
    let pool = one_thread_pool(builder);
    pool.submit(|| ()).wait().unwrap();
    pool
}

/// A submit that finds the pool's thread idle claims it and must wake it: nothing else will
/// (no keep-alive expiry here, unlike the model below).
#[test]
fn loom_submit_to_an_idle_thread_wakes_it() {
    loom::model(|| {
        let pool = pool_with_an_idle_thread(Builder::new());
        let job = pool.submit(|| 5);
        assert_eq!(job.wait().unwrap(), 5);
        pool.shutdown();
    });
}

fn keep_alive_model(builder: fn() -> Builder) {
    loom::model(move || {
        let pool = Arc::new(pool_with_an_idle_thread(builder()));
        let clock = {
            let pool = pool.clone();
            thread::spawn(move || pool.expire_keep_alive())
        };
        let ran = Arc::new(AtomicUsize::new(0));
        let job = {
            let ran = ran.clone();
            pool.submit(move || ran.fetch_add(1, SeqCst))
        };
        // The job must run: on the idle thread (claimed before it retired) or on a new one.
        assert_eq!(job.wait().unwrap(), 0);
        assert_eq!(ran.load(SeqCst), 1);
        clock.join().unwrap();
        pool.shutdown();
    });
}

#[test]
fn loom_submit_racing_keep_alive_expiry_runs_the_job() {
    keep_alive_model(Builder::new);
}

/// Negative control: a worker that retires when its keep-alive runs out without checking
/// whether a submitter claimed it strands the job (loom reports the deadlock of `wait`).
#[test]
#[should_panic(expected = "deadlock")]
fn loom_retiring_despite_a_claim_loses_the_job() {
    keep_alive_model(|| {
        let mut builder = Builder::new();
        builder.retire_despite_claim = true;
        builder
    });
}

/// `outcome`: how the submitted job ended, checked against how often it ran.
fn check_exactly_once(
    result: Result<usize, super::JobError>,
    ran: usize,
    allowed: &[JobErrorKind],
) {
    match result {
        Ok(_) => assert_eq!(ran, 1, "a job that returned ran {ran} times"),
        Err(error) => {
            assert!(allowed.contains(&error.kind()), "unexpected {error:?}");
            assert_eq!(ran, 0, "a {:?} job ran", error.kind());
        }
    }
}

fn shutdown_model(now: bool) {
    loom::model(move || {
        let pool = Arc::new(one_thread_pool(Builder::new()));
        let ran = Arc::new(AtomicUsize::new(0));
        let submitter = {
            let (pool, ran) = (pool.clone(), ran.clone());
            thread::spawn(move || pool.submit(move || ran.fetch_add(1, SeqCst)).wait())
        };
        if now {
            pool.shutdown_now();
        } else {
            pool.shutdown();
        }
        let result = submitter.join().unwrap();
        // Threads are joined: nothing can run the job any more.
        let ran = ran.load(SeqCst);
        if now {
            check_exactly_once(
                result,
                ran,
                &[JobErrorKind::Cancelled, JobErrorKind::ShutDown],
            );
        } else {
            // A graceful shutdown runs whatever it accepted.
            check_exactly_once(result, ran, &[JobErrorKind::ShutDown]);
        }
    });
}

#[test]
fn loom_shutdown_now_racing_submit() {
    shutdown_model(true);
}

#[test]
fn loom_graceful_shutdown_racing_submit() {
    shutdown_model(false);
}

#[test]
fn loom_cancel_races_worker_take() {
    loom::model(|| {
        let pool = one_thread_pool(Builder::new());
        let ran = Arc::new(AtomicUsize::new(0));
        let job = {
            let ran = ran.clone();
            pool.submit(move || ran.fetch_add(1, SeqCst))
        };
        let cancelled = job.cancel();
        let result = job.wait();
        pool.shutdown();
        let ran = ran.load(SeqCst);
        // Exactly one winner: a successful cancel means the job never runs, and vice versa.
        assert_eq!(cancelled, ran == 0);
        check_exactly_once(result, ran, &[JobErrorKind::Cancelled]);
    });
}

#[test]
fn loom_completion_wakes_awaiting_task() {
    loom::model(|| {
        let pool = one_thread_pool(Builder::new());
        let job = pool.submit(|| 7);
        // spindle's own `block_on` parks its thread until a waker fires; loom reports a
        // deadlock if the completion never reaches the waker the handle registered.
        assert_eq!(crate::block_on(job).unwrap(), 7);
        pool.shutdown();
    });
}

/// `scope` erases a job's lifetime (`scope.rs`); what makes that sound is that `scope` does
/// not return before every scoped entry is released. The job writes to a cell on the
/// caller's stack without any synchronisation of its own; the caller reads it right after
/// `scope` returns. Loom reports a causality violation if that write is not ordered before
/// the return (the job still running, or its entry dropped after the scope's wait), and a
/// job dropped without running fails the assertion.
#[test]
fn loom_scope_returns_only_after_its_jobs_are_released() {
    loom::model(|| {
        let pool = one_thread_pool(Builder::new());
        let cell = StackCell(crate::loom::cell::UnsafeCell::new(0));
        let borrowed = &cell;
        pool.scope(|scope| {
            // SAFETY: the only access until `scope` returns; the write's ordering before the
            // read below is exactly what this model checks.
            scope.submit(move || borrowed.0.with_mut(|value| unsafe { *value += 1 }));
        });
        // SAFETY: no job of the scope is running any more (the property under test).
        cell.0.with(|value| assert_eq!(unsafe { *value }, 1));
        pool.shutdown();
    });
}

/// A cell on the model's stack that a scoped job borrows.
struct StackCell(crate::loom::cell::UnsafeCell<usize>);

// SAFETY: written by one scoped job, then read by the caller after `scope` returns; loom
// checks that these two accesses are ordered.
unsafe impl Sync for StackCell {}
