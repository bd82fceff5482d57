//! The id of the task being polled on this thread: [`id`] and [`try_id`].

use std::cell::Cell;

use super::Id;

crate::loom::thread_local! {
    static CURRENT: Cell<Option<Id>> = const { Cell::new(None) };
}

/// Restores the previously current id (polls nest when a runtime runs inside a task).
pub(super) struct CurrentGuard(Option<Id>);

/// Makes `id` the current task's until the guard drops.
pub(super) fn enter(id: Id) -> CurrentGuard {
    CurrentGuard(CURRENT.with(|current| current.replace(Some(id))))
}

impl Drop for CurrentGuard {
    fn drop(&mut self) {
        let previous = self.0;
        let _ = CURRENT.try_with(|current| current.set(previous));
    }
}

/// The id of the task this code runs in, like `tokio::task::id`.
///
/// ```
/// spindle::block_on(async {
///     let handle = spindle::spawn(async { spindle::task::id() });
///     let id = handle.id();
///     assert_eq!(handle.await.unwrap(), id);
/// });
/// ```
///
/// # Panics
/// Outside a task (on a plain thread, or in `block_on`'s own future, which is not a task);
/// see [`try_id`].
#[track_caller]
pub fn id() -> Id {
    try_id().expect(
        "spindle::task::id called outside a task: only a spawned task's poll has an id \
         (block_on's own future is not a task); use try_id to check",
    )
}

/// The id of the task this code runs in, or `None` outside a task, like
/// `tokio::task::try_id`.
pub fn try_id() -> Option<Id> {
    CURRENT.try_with(Cell::get).ok().flatten()
}
