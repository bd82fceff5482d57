//! `ThreadPool::scope`: jobs that borrow from the caller's stack.
//!
//! The queue holds `Box<dyn Job>` (`'static`), so a scoped job's lifetime is erased when it
//! is queued. What makes that sound is one counter: every scoped queue entry carries a
//! [`Release`] that decrements the scope's count when the entry is dropped, which happens
//! only after the job's closure and the entry's reference to the result slot are gone
//! (whether the job ran, was cancelled, or was rejected). `run` does not return, nor unwind,
//! until the count is zero, so nothing borrowed from `'env` is touched after it.

use std::fmt;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};

use super::job::{new_job, Job, JobError, JobId, Queued};
use super::{JobHandle, ThreadPool};
use crate::loom::sync::{Arc, Condvar, Mutex};

/// A scope to submit jobs that borrow from outside it; see [`ThreadPool::scope`].
pub struct Scope<'scope, 'env: 'scope> {
    pool: &'env ThreadPool,
    jobs: Arc<ScopeJobs>,
    // Invariant in both lifetimes, as `std::thread::Scope`: a job may neither outlive
    // 'scope nor shrink it.
    _scope: PhantomData<&'scope mut &'scope ()>,
    _env: PhantomData<&'env mut &'env ()>,
}

/// The scope's count of queue entries not yet dropped.
struct ScopeJobs {
    pending: Mutex<usize>,
    all_released: Condvar,
}

impl ScopeJobs {
    fn wait_all_released(&self) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        while *pending > 0 {
            pending = self
                .all_released
                .wait(pending)
                .unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// Decrements the scope's count when dropped: the last field of a scoped entry.
struct Release(Arc<ScopeJobs>);

impl Drop for Release {
    fn drop(&mut self) {
        let mut pending = self.0.pending.lock().unwrap_or_else(|p| p.into_inner());
        *pending -= 1;
        if *pending == 0 {
            self.0.all_released.notify_all();
        }
    }
}

/// A scoped queue entry. Field order matters: `job` (the closure and the slot reference) is
/// dropped before `release`.
struct Scoped<F, T> {
    job: Queued<F, T>,
    release: Release,
}

impl<F, T> Job for Scoped<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn run(self: Box<Self>) {
        let Scoped { job, release } = *self;
        job.run_now();
        drop(release); // also dropped, last, if `run_now` unwinds
    }

    fn reject(self: Box<Self>, error: JobError) {
        let Scoped { job, release } = *self;
        job.reject_now(error);
        drop(release);
    }

    fn id(&self) -> JobId {
        self.job.id()
    }
}

impl<'scope, 'env> Scope<'scope, 'env> {
    /// Submits a job that may borrow anything that outlives the scope. The scope waits for it
    /// before returning, whether or not its handle is waited on.
    pub fn submit<F, T>(&'scope self, job: F) -> JobHandle<T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        *self.jobs.pending.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        let (queued, handle) = new_job(job);
        let entry: Box<dyn Job + 'scope> = Box::new(Scoped {
            job: queued,
            release: Release(self.jobs.clone()),
        });
        // SAFETY: only the lifetime bound of the trait object changes (same layout). The
        // entry borrows from 'scope, and 'scope outlives the call to `run` below, which does
        // not return or unwind before the entry has been dropped (its `Release`, dropped after
        // everything else in it, brings the count to zero). The pool never keeps an entry
        // past running, rejecting or dropping it, and every path consumes it (worker, reject
        // at shutdown or spawn failure, refusal at submit), so the erased borrow is never
        // used once 'scope has ended. The handle returned here keeps the type `JobHandle<T>`
        // with `T: 'scope`, so the borrow checker bounds its use as usual.
        let entry: Box<dyn Job + 'static> =
            unsafe { std::mem::transmute::<Box<dyn Job + 'scope>, Box<dyn Job + 'static>>(entry) };
        self.pool.submit_boxed(entry);
        handle
    }

    /// The pool the scope's jobs run on.
    pub fn pool(&self) -> &'env ThreadPool {
        self.pool
    }
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pending = *self.jobs.pending.lock().unwrap_or_else(|p| p.into_inner());
        f.debug_struct("Scope")
            .field("pending", &pending)
            .finish_non_exhaustive()
    }
}

pub(super) fn run<'env, F, R>(pool: &'env ThreadPool, f: F) -> R
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
{
    let scope = Scope {
        pool,
        jobs: Arc::new(ScopeJobs {
            pending: Mutex::new(0),
            all_released: Condvar::new(),
        }),
        _scope: PhantomData,
        _env: PhantomData,
    };
    let result = panic::catch_unwind(AssertUnwindSafe(|| f(&scope)));
    scope.jobs.wait_all_released();
    match result {
        Ok(value) => value,
        Err(payload) => panic::resume_unwind(payload),
    }
}
