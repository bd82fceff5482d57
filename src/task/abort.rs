//! [`AbortHandle`]: cancels a task without owning its output.

use std::fmt;

use super::raw::RawTask;
use super::{Id, JoinHandle};

/// Cancels a spawned task, like `tokio::task::AbortHandle`; cloneable, and dropping it does
/// nothing to the task. Unlike a [`JoinHandle`] it cannot await the output.
///
/// ```
/// spindle::block_on(async {
///     let handle = spindle::spawn(std::future::pending::<()>());
///     let abort = handle.abort_handle();
///     abort.abort();
///     assert!(handle.await.unwrap_err().is_cancelled());
///     assert!(abort.is_finished());
/// });
/// ```
pub struct AbortHandle {
    /// Owns one reference to the task (the allocation outlives the task's completion).
    raw: RawTask,
}

impl AbortHandle {
    /// Takes a new reference to `raw`'s task.
    pub(super) fn new(raw: RawTask) -> AbortHandle {
        raw.header().state.ref_inc();
        AbortHandle { raw }
    }

    /// Cancels the task, as [`JoinHandle::abort`] does. A finished task keeps its output.
    pub fn abort(&self) {
        self.raw.remote_abort();
    }

    /// Whether the task has finished (completed, panicked or been cancelled).
    pub fn is_finished(&self) -> bool {
        self.raw.header().state.load().is_complete()
    }

    /// Whether the task was aborted (or its runtime shut down), finished or not. A blocking
    /// call checks its awaiting task's with this right before it starts: `abort` only
    /// schedules that task's drop, and a blocking thread may free up before the drop runs.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.raw.header().state.load().is_cancelled()
    }

    /// The task's id.
    pub fn id(&self) -> Id {
        self.raw.header().id
    }
}

impl Clone for AbortHandle {
    fn clone(&self) -> AbortHandle {
        AbortHandle::new(self.raw)
    }
}

impl Drop for AbortHandle {
    fn drop(&mut self) {
        self.raw.drop_reference();
    }
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortHandle")
            .field("id", &self.id())
            .finish()
    }
}

impl<T> JoinHandle<T> {
    /// A handle that can cancel this task but not await it.
    pub fn abort_handle(&self) -> AbortHandle {
        AbortHandle::new(self.raw())
    }
}
