//! Cooperative budget: a task that is always ready must still give the others a turn.
//!
//! Each poll of a task starts with a budget of [`BUDGET`] (128) units. Leaf futures that can
//! be ready again and again (channel receives, join handles, socket reads) spend one unit per
//! ready result through [`poll_proceed`]; once the budget is spent they return `Pending` after
//! waking the task, so it goes to the back of the run queue. Outside a task (in `block_on`'s
//! own future, or on a plain thread) there is no budget and nothing is ever refused.

use std::cell::Cell;
use std::task::{Context, Poll};

/// Units of work a task may do in one poll before leaf futures make it yield.
pub(crate) const BUDGET: u8 = 128;

crate::loom::thread_local! {
    static REMAINING: Cell<Option<u8>> = const { Cell::new(None) };
}

/// Runs one task poll with a fresh budget, restoring the previous one afterwards (polls can
/// nest when a scheduler runs inside another's task, such as `block_on` on a plain thread).
pub(crate) fn with_budget<R>(poll: impl FnOnce() -> R) -> R {
    struct Restore(Option<u8>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0;
            let _ = REMAINING.try_with(|remaining| remaining.set(previous));
        }
    }
    let _restore = Restore(REMAINING.with(|remaining| remaining.replace(Some(BUDGET))));
    poll()
}

/// Spends one unit, or, if the budget is gone, wakes the task and returns `Pending`.
pub(crate) fn poll_proceed(cx: &mut Context<'_>) -> Poll<()> {
    let allowed = REMAINING
        .try_with(|remaining| match remaining.get() {
            None => true,
            Some(0) => false,
            Some(units) => {
                remaining.set(Some(units - 1));
                true
            }
        })
        .unwrap_or(true);
    if allowed {
        Poll::Ready(())
    } else {
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Whether the current task has spent its budget (never, outside a task): a combinator over
/// many leaves checks it to stop early instead of collecting a refusal from each.
pub(crate) fn budget_spent() -> bool {
    REMAINING
        .try_with(|remaining| remaining.get() == Some(0))
        .unwrap_or(false)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::task::Waker;

    #[test]
    fn the_budget_runs_out_inside_a_task_and_never_outside() {
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..1_000 {
            assert!(poll_proceed(&mut cx).is_ready(), "no budget outside a task");
        }
        with_budget(|| {
            for _ in 0..BUDGET {
                assert!(poll_proceed(&mut cx).is_ready());
            }
            assert!(poll_proceed(&mut cx).is_pending());
        });
        assert!(
            poll_proceed(&mut cx).is_ready(),
            "restored after the task's poll"
        );
    }
}
