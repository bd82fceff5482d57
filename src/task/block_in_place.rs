//! [`block_in_place`]: a documented refusal inside a runtime.

/// Runs a blocking function, like `tokio::task::block_in_place`, **outside a runtime only**.
///
/// tokio's version, on its multi-thread runtime, hands the calling worker's queued tasks to
/// a new worker thread and then blocks. spindle's workers cannot hand their core over yet, and
/// blocking one without that would stall every task queued behind the call (a deadlock if one
/// of them is what the blocking code waits for). So inside a spindle runtime this panics with
/// a message naming the replacement, [`spawn_blocking`](crate::spawn_blocking), rather than
/// block a worker. On a thread that drives no runtime it just calls `f`, as tokio does: a
/// plain thread, one that only entered a runtime (`Runtime::enter`), a `spawn_blocking` call.
///
/// ```
/// let n = spindle::task::block_in_place(|| 6 * 7); // on a plain thread: runs `f`
/// assert_eq!(n, 42);
/// ```
///
/// # Panics
/// On a thread that drives a spindle runtime (in a task, or inside `block_on`), on both the
/// current-thread and the multi-thread runtime.
#[track_caller]
pub fn block_in_place<F, R>(f: F) -> R
where
    F: FnOnce() -> R,
{
    if crate::executor::context::is_driving() {
        panic!(
            "spindle::task::block_in_place is not supported inside a spindle runtime (its \
             workers cannot hand their queued tasks to another thread yet): run the blocking \
             code with spindle::spawn_blocking(f).await instead"
        );
    }
    f()
}
