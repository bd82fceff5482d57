//! One job: its closure on the queue, its one-shot result slot, and the handle that reads it.
//!
//! A submitted job is two allocations: the queue entry ([`Queued`], the closure plus a
//! reference to the slot) and the [`Slot`] shared with the [`JobHandle`]. The closure lives
//! only in the queue entry, so whoever pops the entry owns it: no `UnsafeCell` is needed.
//!
//! # The slot's claim word
//! | state       | meaning                                                  | set by            |
//! |-------------|----------------------------------------------------------|-------------------|
//! | `PENDING`   | queued; nobody has claimed the job                       | creation          |
//! | `RUNNING`   | a worker claimed it and runs (or ran) the closure        | worker, CAS       |
//! | `CANCELLED` | `cancel`, `shutdown_now` or a rejection claimed it       | canceller, CAS    |
//!
//! Leaving `PENDING` is one compare-and-swap, so exactly one of "a worker starts the job" and
//! "the job is cancelled" happens (loom model `loom_cancel_races_worker_take`). The claimer
//! then completes the slot's [`ResultSlot`], which wakes the registered waker (an awaiting
//! task) and any thread blocked in `wait` (`loom_completion_wakes_awaiting_task`, and the
//! slot's own models in `result_slot.rs`).

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::result_slot::{ResultSlot, Spin};
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::loom::sync::Arc;

const PENDING: usize = 0;
const RUNNING: usize = 1;
const CANCELLED: usize = 2;

/// A job's id: unique among the jobs submitted by this process.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(u64);

impl JobId {
    fn next() -> JobId {
        // Only uniqueness matters, so this std atomic is no part of any protocol loom checks.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        JobId(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }

    /// The id as a number (never zero).
    pub fn as_u64(self) -> u64 {
        self.0
    }

    pub(super) fn from_u64(id: u64) -> Option<JobId> {
        (id != 0).then_some(JobId(id))
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JobId({})", self.0)
    }
}

/// What kind of failure a [`JobError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JobErrorKind {
    /// The job's closure panicked; the thread survived and the panic reached only this job.
    Panicked,
    /// The job was cancelled before it started, by [`JobHandle::cancel`] or
    /// [`ThreadPool::shutdown_now`](super::ThreadPool::shutdown_now).
    Cancelled,
    /// The job was submitted after the pool began shutting down; it never ran.
    ShutDown,
    /// The pool had no thread to run the job and the operating system refused to create one.
    SpawnFailed,
}

/// Why a job produced no value.
///
/// ```
/// use spindle::thread_pool::{JobErrorKind, ThreadPool};
///
/// let pool = ThreadPool::new(1);
/// let handle = pool.submit(|| -> u32 { panic!("boom") });
/// let error = handle.wait().unwrap_err();
/// assert_eq!(error.kind(), JobErrorKind::Panicked);
/// assert_eq!(error.panic_message(), Some("boom"));
/// ```
pub struct JobError {
    repr: Repr,
}

enum Repr {
    Panicked {
        message: String,
        /// A `std` mutex (it guards no protocol) only so that `JobError` is `Sync` although
        /// a panic payload is merely `Send`; never locked, only unwrapped by `try_into_panic`.
        payload: std::sync::Mutex<Box<dyn Any + Send + 'static>>,
    },
    Cancelled,
    ShutDown,
    SpawnFailed(io::Error),
}

impl JobError {
    pub(super) fn panicked(payload: Box<dyn Any + Send + 'static>) -> JobError {
        let message = payload
            .downcast_ref::<&'static str>()
            .map(|message| message.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "Box<dyn Any>".to_string());
        JobError {
            repr: Repr::Panicked {
                message,
                payload: std::sync::Mutex::new(payload),
            },
        }
    }

    pub(super) fn cancelled() -> JobError {
        JobError {
            repr: Repr::Cancelled,
        }
    }

    pub(super) fn shut_down() -> JobError {
        JobError {
            repr: Repr::ShutDown,
        }
    }

    pub(super) fn spawn_failed(error: &io::Error) -> JobError {
        JobError {
            repr: Repr::SpawnFailed(io::Error::new(error.kind(), error.to_string())),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> JobErrorKind {
        match self.repr {
            Repr::Panicked { .. } => JobErrorKind::Panicked,
            Repr::Cancelled => JobErrorKind::Cancelled,
            Repr::ShutDown => JobErrorKind::ShutDown,
            Repr::SpawnFailed(_) => JobErrorKind::SpawnFailed,
        }
    }

    /// The panic message, if the job panicked with a `&str` or `String` payload
    /// (`"Box<dyn Any>"` for any other payload).
    pub fn panic_message(&self) -> Option<&str> {
        match &self.repr {
            Repr::Panicked { message, .. } => Some(message),
            _ => None,
        }
    }

    /// The panic payload, to re-raise with `std::panic::resume_unwind`; the error back if
    /// the job did not panic.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JobError> {
        match self.repr {
            Repr::Panicked { payload, .. } => Ok(payload
                .into_inner()
                .unwrap_or_else(|poisoned| poisoned.into_inner())),
            _ => Err(self),
        }
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Panicked { message, .. } => write!(f, "job panicked: {message}"),
            Repr::Cancelled => f.write_str("job was cancelled before it started"),
            Repr::ShutDown => f.write_str("job was submitted after the thread pool shut down"),
            Repr::SpawnFailed(error) => {
                write!(f, "no thread could be started to run the job: {error}")
            }
        }
    }
}

impl fmt::Debug for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Panicked { message, .. } => write!(f, "JobError::Panicked({message:?})"),
            Repr::Cancelled => f.write_str("JobError::Cancelled"),
            Repr::ShutDown => f.write_str("JobError::ShutDown"),
            Repr::SpawnFailed(error) => write!(f, "JobError::SpawnFailed({error:?})"),
        }
    }
}

impl std::error::Error for JobError {}

impl From<JobError> for io::Error {
    fn from(error: JobError) -> io::Error {
        io::Error::other(error.to_string())
    }
}

/// What a queued job and its handle share: who claimed the job, and where its result goes.
pub(super) struct Slot<T> {
    id: JobId,
    /// `PENDING`, `RUNNING` or `CANCELLED`.
    state: AtomicUsize,
    result: ResultSlot<Result<T, JobError>>,
}

impl<T> Slot<T> {
    fn new() -> Slot<T> {
        Slot {
            id: JobId::next(),
            state: AtomicUsize::new(PENDING),
            result: ResultSlot::new(),
        }
    }

    /// Claims the job for running. `false`: it was cancelled first.
    fn start(&self) -> bool {
        self.state
            .compare_exchange(PENDING, RUNNING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Claims the job for cancellation. `false`: a worker started it, or it was already
    /// cancelled.
    fn claim_for_cancel(&self) -> bool {
        self.state
            .compare_exchange(PENDING, CANCELLED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

/// Drops `value`, containing a panic from its destructor: user `Drop` code never unwinds
/// into the pool's loops, whose every later job must still run or resolve.
pub(super) fn drop_contained<T>(value: T) {
    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(move || drop(value))) {
        drop_payload(payload);
    }
}

/// Drops a caught panic's payload. If the payload's own destructor panics too, that second
/// payload is leaked rather than dropped: a third destructor could panic again, and leaking
/// a few bytes once per such pathological payload beats losing the thread.
pub(super) fn drop_payload(payload: Box<dyn Any + Send + 'static>) {
    if let Err(again) = panic::catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(again);
    }
}

/// A queue entry, type-erased: the pool only runs or rejects it.
pub(super) trait Job: Send {
    /// Runs the closure unless the job was cancelled first; a panic is caught and becomes
    /// the handle's error.
    fn run(self: Box<Self>);

    /// Completes the job with `error` without running it (unless a worker already claimed it).
    fn reject(self: Box<Self>, error: JobError);

    /// The job's id, for reporting which jobs are still running.
    fn id(&self) -> JobId;
}

/// The queue entry of one job.
pub(super) struct Queued<F, T> {
    func: F,
    slot: Arc<Slot<T>>,
}

impl<F, T> Queued<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    /// Runs the closure unless the job was cancelled first. Never unwinds: the closure's
    /// panic goes to the handle, and a panic from any destructor run here (the closure's, or
    /// the result's when the handle is gone) is contained.
    pub(super) fn run_now(self) {
        let Queued { func, slot } = self;
        if slot.start() {
            let result = panic::catch_unwind(AssertUnwindSafe(func)).map_err(JobError::panicked);
            slot.result.complete(result);
        } else {
            // Cancelled while queued: dropping `func` here is its only fate.
            drop_contained(func);
        }
        // The last reference when the handle was dropped: this drops the value or the
        // panic payload, user code.
        drop_contained(slot);
    }

    /// Completes the job with `error` unless a worker claimed it first. Never unwinds: the
    /// closure's destructor may panic, and the jobs rejected after this one must still
    /// resolve.
    pub(super) fn reject_now(self, error: JobError) {
        let Queued { func, slot } = self;
        let claimed = slot.claim_for_cancel();
        // Already cancelled or not, the closure goes now; its handle resolves either way.
        drop_contained(func);
        if claimed {
            slot.result.complete(Err(error));
        }
        drop_contained(slot);
    }

    pub(super) fn id(&self) -> JobId {
        self.slot.id
    }
}

impl<F, T> Job for Queued<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn run(self: Box<Self>) {
        self.run_now();
    }

    fn reject(self: Box<Self>, error: JobError) {
        self.reject_now(error);
    }

    fn id(&self) -> JobId {
        self.slot.id
    }
}

/// Creates a job's queue entry and its handle.
pub(super) fn new_job<F, T>(func: F) -> (Queued<F, T>, JobHandle<T>)
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    let slot = Arc::new(Slot::new());
    let handle = JobHandle { slot: slot.clone() };
    (Queued { func, slot }, handle)
}

/// The result of a submitted job: both a future and a blocking handle, like Python's
/// `concurrent.futures.Future`.
///
/// - `.await` it from a task: completion wakes the task through its waker, and no thread
///   blocks on the task's behalf.
/// - Or block: [`wait`](Self::wait), [`wait_timeout`](Self::wait_timeout).
///
/// Dropping the handle detaches the job: it still runs, and its value is dropped.
///
/// ```
/// use spindle::thread_pool::ThreadPool;
///
/// let pool = ThreadPool::new(2);
/// let blocking = pool.submit(|| 6 * 7);
/// assert_eq!(blocking.wait().unwrap(), 42);
///
/// let awaited = pool.submit(|| "hello");
/// assert_eq!(spindle::block_on(awaited).unwrap(), "hello");
/// ```
pub struct JobHandle<T> {
    slot: Arc<Slot<T>>,
}

impl<T> JobHandle<T> {
    /// Blocks this thread until the job has finished, and returns its value or why there is
    /// none. Do not call it from inside an async task: `.await` the handle instead.
    ///
    /// # Panics
    /// If the handle was already awaited (polled) to completion: it gave its result away
    /// then, and has none left to wait for. Like polling a future again after it returned
    /// `Ready`, that is a bug in the caller; the panic names the caller's line.
    #[track_caller]
    pub fn wait(self) -> Result<T, JobError> {
        self.slot.result.wait_take(Spin::Backoff)
    }

    /// Like [`wait`](Self::wait), but gives up after `timeout`: `Err(self)` hands the handle
    /// back so the caller can wait again, cancel, or drop it.
    ///
    /// # Panics
    /// As [`wait`](Self::wait): if the handle was already awaited to completion.
    #[track_caller]
    pub fn wait_timeout(self, timeout: Duration) -> Result<Result<T, JobError>, JobHandle<T>> {
        match self.slot.result.wait_take_timeout(timeout, Spin::Backoff) {
            Some(result) => Ok(result),
            None => Err(self),
        }
    }

    /// Whether the result is in: the job returned, panicked, was cancelled or was rejected.
    /// Once this is `true`, `wait` returns at once (it stays `true` after the handle was
    /// awaited to completion, when `wait` panics instead: the result was already returned).
    pub fn is_finished(&self) -> bool {
        self.slot.result.is_complete()
    }

    /// Cancels the job if no thread has started it, like Python's `Future.cancel`: returns
    /// `true` if it will never run (the handle then yields a
    /// [`Cancelled`](JobErrorKind::Cancelled) error), `false` if it started, finished, or was
    /// already cancelled. Exactly one of this and a worker taking the job wins.
    ///
    /// The cancelled entry stays in the queue until a worker discards it (it counts against
    /// [`queue_capacity`](super::Builder::queue_capacity) until then); its closure is dropped
    /// by that worker.
    pub fn cancel(&self) -> bool {
        if self.slot.claim_for_cancel() {
            self.slot.result.complete(Err(JobError::cancelled()));
            true
        } else {
            false
        }
    }

    /// The job's id (as reported by [`StillRunning`](super::StillRunning)).
    pub fn id(&self) -> JobId {
        self.slot.id
    }
}

impl<T> Unpin for JobHandle<T> {}

impl<T> Future for JobHandle<T> {
    type Output = Result<T, JobError>;

    /// # Panics
    /// If polled again after it returned `Ready`.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.slot.result.poll_take(cx)
    }
}

impl<T> fmt::Debug for JobHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobHandle")
            .field("id", &self.slot.id)
            .field("finished", &self.is_finished())
            .finish()
    }
}
