//! Per-thread runtime context: which runtime `spindle::spawn` targets, and whether this thread
//! is already driving a scheduler (so a nested `block_on` can be refused instead of
//! deadlocking).
//!
//! Every access goes through `try_with`: code running in a thread-local destructor (a waker
//! woken or a runtime dropped there) may find these thread-locals already gone, and a panic
//! there aborts the process. Gone reads as "no runtime here".

use std::cell::{Cell, RefCell};

use super::Handle;

crate::loom::thread_local! {
    static CURRENT: RefCell<Option<Handle>> = const { RefCell::new(None) };
    static DRIVING: Cell<bool> = const { Cell::new(false) };
}

/// Makes `handle` the target of `spindle::spawn` on this thread until dropped.
#[must_use = "the runtime is current only while the guard lives"]
pub struct EnterGuard {
    previous: Option<Handle>,
    /// `false` if this thread's context was already destroyed (nothing to restore).
    entered: bool,
}

impl std::fmt::Debug for EnterGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnterGuard").finish_non_exhaustive()
    }
}

pub(crate) fn enter(handle: Handle) -> EnterGuard {
    match CURRENT.try_with(|current| current.borrow_mut().replace(handle)) {
        Ok(previous) => EnterGuard {
            previous,
            entered: true,
        },
        Err(_) => EnterGuard {
            previous: None,
            entered: false,
        },
    }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        if !self.entered {
            return;
        }
        let previous = self.previous.take();
        // Swap out, then drop the old handle outside the borrow: dropping a handle may drop a
        // runtime, whose tasks' destructors may look at the context again.
        let _entered = CURRENT
            .try_with(|current| std::mem::replace(&mut *current.borrow_mut(), previous))
            .ok();
    }
}

/// The runtime `spindle::spawn` would use here, if any.
pub(crate) fn current() -> Option<Handle> {
    with_current(|handle| handle.cloned())
}

/// Runs `f` with a borrow of the current runtime's handle, saving the clone (three reference
/// counts) where only a part of it is needed.
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Handle>) -> R) -> R {
    let mut f = Some(f);
    let result = CURRENT.try_with(|current| {
        let f = f.take().expect("called once");
        match current.try_borrow() {
            Ok(current) => f(current.as_ref()),
            // Borrowed mutably only inside `enter`/`drop` above, which call no user code.
            Err(_) => f(None),
        }
    });
    match result {
        Ok(result) => result,
        Err(_) => (f.take().expect("not called: the context is gone"))(None),
    }
}

/// Whether this thread drives a scheduler now (a worker, or inside `block_on`): where
/// blocking would stall tasks. A thread that only entered a runtime (`Runtime::enter`, a
/// `spawn_blocking` call) does not: it may block, as in tokio.
pub(crate) fn is_driving() -> bool {
    DRIVING.try_with(Cell::get).unwrap_or(false)
}

/// Marks this thread as driving a scheduler until the guard drops.
pub(crate) struct DrivingGuard(());

/// Claims this thread for a scheduler.
///
/// # Panics
/// If the thread already drives one: blocking it again from inside a task would stop every
/// task of the outer runtime (a current-thread runtime would deadlock outright).
pub(crate) fn start_driving() -> DrivingGuard {
    if matches!(DRIVING.try_with(|driving| driving.replace(true)), Ok(true)) {
        panic!(
            "cannot block_on inside a spindle runtime: this thread is already driving one. \
             Await the future instead, or run the blocking code with spawn_blocking."
        );
    }
    DrivingGuard(())
}

impl Drop for DrivingGuard {
    fn drop(&mut self) {
        let _ = DRIVING.try_with(|driving| driving.set(false));
    }
}
