//! Tasks: one allocation per spawned future, and the handles that share it.
//!
//! # The allocation
//! `spawn` boxes a single `Cell` holding a `Header` (the state word, the vtable, the id), the
//! scheduler the task belongs to, the future (later its output) and the join handle's waker.
//! Wakers are the header pointer plus a reference: no second allocation (`waker.rs`).
//!
//! # The references
//! | handle                    | held by                      | count while it exists |
//! |---------------------------|------------------------------|-----------------------|
//! | `Notified`                | a run queue (`SCHEDULED`)    | 1                     |
//! | the poll                  | the thread polling it        | 1 (the entry's, moved)|
//! | `OwnedTask`               | the runtime's `OwnedTasks`   | 1, until completion   |
//! | [`JoinHandle`]            | the spawner                  | 1                     |
//! | `Waker`                   | whoever the future gave it to| 1 each                |
//!
//! # The state machine
//! Documented bit by bit in `state.rs`; every transition is one atomic read-modify-write
//! returning a `#[must_use]` action. The invariants (DESIGN.md, "Tasks") and what checks them:
//! - at most one run-queue entry per task: `loom_no_double_scheduling`,
//!   `loom_two_wakes_by_value_and_by_reference_queue_once`;
//! - no lost wake-up while running: `loom_wake_during_poll_is_not_lost`;
//! - a complete task is never polled again and its future is dropped once:
//!   `loom_abort_races_completion`, `tests/task.rs`;
//! - the output reaches the join handle once, the memory is freed once:
//!   `loom_join_handle_drop_races_completion` (loom fails a model that leaks its `Arc`s);
//! - a dropped join handle keeps no waker and no output alive:
//!   `loom_join_handle_drop_releases_its_waker`,
//!   `loom_join_handle_dropped_after_completion_drops_the_output_then`.

mod abort;
mod block_in_place;
pub(crate) mod coop;
mod current;
mod join;
mod join_set;
mod owned;
pub(crate) mod raw;
mod state;
mod task_local;
mod waker;
mod waker_slot;
mod yield_now;

#[cfg(all(test, loom))]
mod loom_tests;

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;

pub use abort::AbortHandle;
pub use block_in_place::block_in_place;
pub use current::{id, try_id};
pub use join::{JoinError, JoinHandle};
pub use join_set::JoinSet;
pub use task_local::{AccessError, LocalKey, TaskLocalFuture};
pub use yield_now::yield_now;

pub use crate::executor::{spawn, spawn_blocking, spawn_local};

pub(crate) use owned::OwnedTasks;
pub(crate) use waker_slot::register_waker;

use raw::RawTask;
pub(crate) use raw::RunReport;

/// A task's id: unique among the tasks spawned by this process.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(u64);

impl Id {
    fn next() -> Id {
        // A process-wide counter; only uniqueness matters, so this std atomic is no part of
        // any protocol loom needs to see.
        #[cfg(not(loom))]
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        // Under loom the count restarts with every execution of a model (loom's lazy statics
        // are per execution): the owned set picks a task's shard, and so which mutex it locks,
        // from the id, and loom can replay a schedule only if every execution makes the same
        // choices. A process-wide count made them depend on the models run before, which
        // once tripped loom's own consistency assertion.
        #[cfg(loom)]
        loom::lazy_static! {
            static ref NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        }
        Id(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }

    /// The id as a number.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.0)
    }
}

/// What a task needs from the runtime it belongs to.
pub(crate) trait Schedule: Sized + Send + Sync + 'static {
    /// A wake made the task runnable: put it in a run queue.
    fn schedule(&self, task: Notified<Self>);

    /// The task woke itself while it was being polled (a `yield_now`): queue it behind the
    /// others, never in a LIFO slot, so it cannot starve them.
    fn yield_now(&self, task: Notified<Self>) {
        self.schedule(task);
    }

    /// The task completed: take it out of the owned-tasks list, returning the list's
    /// reference (`None` if shutdown already took it).
    fn release(&self, task: &OwnedTask<Self>) -> Option<OwnedTask<Self>>;
}

/// A run-queue entry: the right to poll the task once. Owns one reference.
pub(crate) struct Notified<S: 'static> {
    raw: RawTask,
    _scheduler: PhantomData<S>,
}

impl<S: 'static> Notified<S> {
    /// # Safety
    /// The caller hands over a reference that was counted for a queue entry.
    pub(super) unsafe fn from_raw(raw: RawTask) -> Notified<S> {
        Notified {
            raw,
            _scheduler: PhantomData,
        }
    }

    /// Polls the task (or finishes cancelling it), counting the poll in `counters`.
    /// Consumes the entry.
    pub(crate) fn run(self, counters: &crate::executor::WorkerCounters) {
        let raw = ManuallyDrop::new(self).raw;
        raw.run(counters)
    }

    pub(crate) fn id(&self) -> Id {
        self.raw.header().id
    }

    /// Gives up the entry as a bare pointer (for a slot that stores it in an `AtomicPtr`).
    pub(crate) fn into_raw(self) -> NonNull<raw::Header> {
        ManuallyDrop::new(self).raw.header_ptr()
    }

    /// # Safety
    /// `ptr` must come from [`Notified::into_raw`] of a `Notified<S>`, used once.
    pub(crate) unsafe fn from_raw_ptr(ptr: NonNull<raw::Header>) -> Notified<S> {
        // SAFETY: the caller passes back a pointer, and its reference, from `into_raw`.
        unsafe { Notified::from_raw(RawTask::from_raw(ptr)) }
    }
}

impl<S: 'static> Drop for Notified<S> {
    /// An entry dropped without running (its queue was torn down at shutdown).
    fn drop(&mut self) {
        self.raw.drop_reference();
    }
}

impl<S: 'static> fmt::Debug for Notified<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Notified({})", self.id())
    }
}

/// The owned-tasks list's reference to a task.
pub(crate) struct OwnedTask<S: 'static> {
    raw: RawTask,
    _scheduler: PhantomData<S>,
}

impl<S: 'static> OwnedTask<S> {
    /// # Safety
    /// The caller hands over the owned-list reference.
    pub(super) unsafe fn from_raw(raw: RawTask) -> OwnedTask<S> {
        OwnedTask {
            raw,
            _scheduler: PhantomData,
        }
    }

    /// Cancels the task if no thread is polling it; otherwise the poller will see the
    /// cancellation when its poll returns. Call on the runtime's own thread.
    pub(crate) fn shutdown(&self) {
        self.raw.shutdown();
    }

    pub(crate) fn id(&self) -> Id {
        self.raw.header().id
    }

    /// The task's runtime refused it (the runtime had shut down): hand it back to be
    /// cancelled when the returned value drops.
    pub(crate) fn refuse(self) -> RefusedTask {
        let raw = self.raw;
        // The owned-list reference moves into the `RefusedTask`.
        std::mem::forget(self);
        RefusedTask { raw }
    }
}

impl<S: 'static> Drop for OwnedTask<S> {
    fn drop(&mut self) {
        self.raw.drop_reference();
    }
}

/// A task spawned onto a runtime that had shut down. Dropping it cancels the task, which
/// drops its future. Spawns return it rather than cancelling on the spot so that
/// `spindle::spawn`, which borrows the thread's runtime context while it spawns, can let go
/// of that borrow first: the future's destructor may enter or drop a runtime itself.
#[must_use = "dropping it cancels the task; drop it once no runtime context is borrowed"]
pub(crate) struct RefusedTask {
    raw: RawTask,
}

impl Drop for RefusedTask {
    fn drop(&mut self) {
        self.raw.shutdown();
        self.raw.drop_reference();
    }
}

/// Allocates a task. The caller inserts the `OwnedTask` into its owned set, then queues the
/// `Notified` (or, if the set is closed, shuts the task down and drops the entry).
///
/// The caller is responsible for `Send`: `F` must be `Send` unless the scheduler only ever
/// polls and drops it on one thread (`spawn_local`).
pub(crate) fn new_task<F, S>(
    future: F,
    scheduler: S,
) -> (OwnedTask<S>, Notified<S>, JoinHandle<F::Output>)
where
    F: Future + 'static,
    S: Schedule,
{
    let raw = RawTask::new(future, scheduler, Id::next());
    // SAFETY: `RawTask::new` counted three references: one for each of these handles, and the
    // join handle's output type is `F::Output`.
    unsafe {
        (
            OwnedTask::from_raw(raw),
            Notified::from_raw(raw),
            JoinHandle::new(raw),
        )
    }
}
