//! The task's state word: six flag bits and a reference count in one `AtomicUsize`.
//!
//! Every transition is a single read-modify-write that returns what the caller must do
//! next, so no caller re-derives the state by hand. The bits:
//!
//! | bit             | set when                                     | cleared when                      |
//! |-----------------|----------------------------------------------|-----------------------------------|
//! | `SCHEDULED`     | spawn, or a wake of an idle/running task      | the scheduler starts polling it   |
//! | `RUNNING`       | a thread polls or cancels the future          | the poll returns, or on complete  |
//! | `COMPLETE`      | the future is gone and the output stored      | never                             |
//! | `CANCELLED`     | `abort()` or runtime shutdown                 | never                             |
//! | `JOIN_INTEREST` | spawn (the `JoinHandle` exists)               | the `JoinHandle` is dropped       |
//! | `JOIN_WAKER`    | the `JoinHandle` stored a waker               | the handle swaps or drops it      |
//!
//! Rules the bits enforce (DESIGN.md, "Tasks"):
//! - `SCHEDULED` is set by at most one wake at a time, and only the wake that sets it
//!   creates a run-queue entry: a task is in a run queue at most once.
//! - A wake while `RUNNING` only sets `SCHEDULED`; [`State::transition_to_idle`] sees it and
//!   asks the caller to re-queue the task: no wake-up is lost.
//! - `RUNNING` is the lock on the future: whoever sets it owns the future until it clears it.
//!   After `COMPLETE`, the output belongs to the join handle if `JOIN_INTEREST` was set at
//!   completion, otherwise to the completing thread; exactly one of them drops it.
//! - The join-waker cell is written only by the join handle and only while `JOIN_WAKER` is
//!   clear; it is read by the runtime only once both `COMPLETE` and `JOIN_WAKER` are set.
//! - The reference count counts: the run-queue entry (while `SCHEDULED`), the running poll,
//!   the owned-tasks list, the join handle, and every waker. The memory is freed by whoever
//!   drops the last one.
//!
//! Every access to the word is `SeqCst` (`Acquire`/`AcqRel` would do for the protocol). It
//! costs nothing on x86, where every read-modify-write is a locked instruction and every load
//! a plain `mov` whichever the ordering, and it rules out the stale reads a weaker load may
//! return: loom explores each of those (a CAS that fails and retries, a join handle that looks
//! once more), and in a two-worker model they were 77 % of all interleavings (DESIGN.md,
//! "Loom", "SeqCst words"). The word starts with [`seq_cst_usize`] for the same reason.

use crate::loom::sync::atomic::{seq_cst_usize, AtomicUsize, Ordering::*};

const SCHEDULED: usize = 1 << 0;
const RUNNING: usize = 1 << 1;
const COMPLETE: usize = 1 << 2;
const CANCELLED: usize = 1 << 3;
const JOIN_INTEREST: usize = 1 << 4;
const JOIN_WAKER: usize = 1 << 5;

const REF_SHIFT: usize = 6;
const REF_ONE: usize = 1 << REF_SHIFT;

/// A new task: queued once, owned by the owned-tasks list, the run queue and the join handle.
const INITIAL: usize = SCHEDULED | JOIN_INTEREST | (3 * REF_ONE);

pub(super) struct State {
    word: AtomicUsize,
}

/// A copy of the state word, read at one instant.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct Snapshot(usize);

impl Snapshot {
    pub(super) fn is_scheduled(self) -> bool {
        self.0 & SCHEDULED != 0
    }
    pub(super) fn is_running(self) -> bool {
        self.0 & RUNNING != 0
    }
    pub(super) fn is_complete(self) -> bool {
        self.0 & COMPLETE != 0
    }
    pub(super) fn is_cancelled(self) -> bool {
        self.0 & CANCELLED != 0
    }
    pub(super) fn has_join_interest(self) -> bool {
        self.0 & JOIN_INTEREST != 0
    }
    pub(super) fn has_join_waker(self) -> bool {
        self.0 & JOIN_WAKER != 0
    }
    pub(super) fn ref_count(self) -> usize {
        self.0 >> REF_SHIFT
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("scheduled", &self.is_scheduled())
            .field("running", &self.is_running())
            .field("complete", &self.is_complete())
            .field("cancelled", &self.is_cancelled())
            .field("join_interest", &self.has_join_interest())
            .field("join_waker", &self.has_join_waker())
            .field("refs", &self.ref_count())
            .finish()
    }
}

/// What the scheduler must do with a task it popped from a run queue.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(super) enum TransitionToRunning {
    /// Poll the future. `woken` says whether a wake (or the spawn) asked for this poll.
    Poll { woken: bool },
    /// The task was aborted: drop the future and complete with a cancelled error.
    Cancel,
    /// Another thread already owns or finished the future (shutdown got there first); the
    /// queue entry's reference was dropped. `last_ref` asks the caller to free the task.
    Skip { last_ref: bool },
}

/// What the poller must do after the future returned `Pending`.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(super) enum TransitionToIdle {
    /// The task waits for a wake; the poll's reference was dropped.
    Idle,
    /// It was woken during the poll: re-queue it, reusing the poll's reference.
    Requeue,
    /// It was aborted during the poll: drop the future, keeping `RUNNING`.
    Cancel,
}

/// What the join handle's drop must do after clearing its interest.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(super) enum DropJoinHandle {
    /// Nothing more: the handle's reference was dropped too. `last_ref` asks the caller to
    /// free the task.
    Done { last_ref: bool },
    /// The task is still running and the handle's stored waker is the handle's again: drop
    /// it, then the handle's reference.
    DropWaker,
    /// The task completed first, so the handle owns the output: drop it, then the reference.
    DropOutput,
}

/// What a waker must do after marking the task woken.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(super) enum WakeAction {
    /// Nothing: the task is already queued, running (it will be re-queued), or complete.
    Nothing,
    /// Put the task in a run queue; the state holds a reference for that entry.
    Schedule,
    /// The waker's reference was the last one: free the task.
    Dealloc,
}

impl State {
    pub(super) fn new() -> State {
        State {
            word: seq_cst_usize(INITIAL),
        }
    }

    pub(super) fn load(&self) -> Snapshot {
        Snapshot(self.word.load(SeqCst))
    }

    /// Runs `f` on the current value until the compare-exchange succeeds. `f` returns the
    /// next value (or `None` to leave the word as it is) and the caller's result.
    fn update<R>(&self, mut f: impl FnMut(Snapshot) -> (Option<usize>, R)) -> R {
        let mut current = self.word.load(SeqCst);
        loop {
            let (next, result) = f(Snapshot(current));
            let Some(next) = next else { return result };
            match self
                .word
                .compare_exchange_weak(current, next, SeqCst, SeqCst)
            {
                Ok(_) => return result,
                Err(actual) => current = actual,
            }
        }
    }

    /// The scheduler popped a run-queue entry and wants to poll the task.
    pub(super) fn transition_to_running(&self) -> TransitionToRunning {
        self.update(|s| {
            if s.is_running() || s.is_complete() {
                // Shutdown took the future while the entry sat in a queue: drop the entry.
                let next = s.0 - REF_ONE;
                let last_ref = Snapshot(next).ref_count() == 0;
                return (Some(next), TransitionToRunning::Skip { last_ref });
            }
            // The queue entry's reference becomes the poll's reference.
            let next = (s.0 & !SCHEDULED) | RUNNING;
            let action = if s.is_cancelled() {
                TransitionToRunning::Cancel
            } else {
                TransitionToRunning::Poll {
                    woken: s.is_scheduled(),
                }
            };
            (Some(next), action)
        })
    }

    /// The future returned `Pending`.
    pub(super) fn transition_to_idle(&self) -> TransitionToIdle {
        self.update(|s| {
            debug_assert!(s.is_running());
            if s.is_cancelled() {
                return (None, TransitionToIdle::Cancel);
            }
            let next = s.0 & !RUNNING;
            if s.is_scheduled() {
                // Woken mid-poll: the poll's reference moves to the new queue entry.
                (Some(next), TransitionToIdle::Requeue)
            } else {
                // The owned-tasks list still holds a reference, so this is never the last.
                debug_assert!(s.ref_count() >= 2);
                (Some(next - REF_ONE), TransitionToIdle::Idle)
            }
        })
    }

    /// The output is stored: clear `RUNNING`, set `COMPLETE`. Returns the state before.
    pub(super) fn transition_to_complete(&self) -> Snapshot {
        let prev = Snapshot(self.word.fetch_xor(RUNNING | COMPLETE, SeqCst));
        debug_assert!(prev.is_running() && !prev.is_complete());
        prev
    }

    /// A waker is consumed by `wake`: its reference either becomes the queue entry's or is
    /// dropped.
    pub(super) fn transition_to_notified_by_val(&self) -> WakeAction {
        self.update(|s| {
            if s.is_running() {
                // The poller re-queues it when the poll returns; drop the waker's reference
                // (the poll holds another, so it is not the last).
                (Some((s.0 | SCHEDULED) - REF_ONE), WakeAction::Nothing)
            } else if s.is_complete() || s.is_scheduled() {
                let next = s.0 - REF_ONE;
                let action = if Snapshot(next).ref_count() == 0 {
                    WakeAction::Dealloc
                } else {
                    WakeAction::Nothing
                };
                (Some(next), action)
            } else {
                (Some(s.0 | SCHEDULED), WakeAction::Schedule)
            }
        })
    }

    /// A waker is used by reference: a queue entry needs a reference of its own.
    pub(super) fn transition_to_notified_by_ref(&self) -> WakeAction {
        self.update(|s| {
            if s.is_running() {
                (Some(s.0 | SCHEDULED), WakeAction::Nothing)
            } else if s.is_complete() || s.is_scheduled() {
                (None, WakeAction::Nothing)
            } else {
                (Some((s.0 | SCHEDULED) + REF_ONE), WakeAction::Schedule)
            }
        })
    }

    /// `JoinHandle::abort`: ask for cancellation. The future is dropped by the thread that
    /// polls the task (so a `!Send` future never leaves its thread), which is why an idle task
    /// is scheduled rather than cancelled here.
    pub(super) fn transition_to_cancelled_remote(&self) -> WakeAction {
        self.update(|s| {
            if s.is_complete() || s.is_cancelled() {
                (None, WakeAction::Nothing)
            } else if s.is_running() || s.is_scheduled() {
                (Some(s.0 | CANCELLED), WakeAction::Nothing)
            } else {
                (
                    Some((s.0 | CANCELLED | SCHEDULED) + REF_ONE),
                    WakeAction::Schedule,
                )
            }
        })
    }

    /// Runtime shutdown: mark the task cancelled and, if no thread owns the future, take it.
    /// Returns `true` when the caller now holds `RUNNING` and must cancel the future.
    pub(super) fn transition_to_shutdown(&self) -> bool {
        self.update(|s| {
            if s.is_running() || s.is_complete() {
                (Some(s.0 | CANCELLED), false)
            } else {
                (Some(s.0 | CANCELLED | RUNNING), true)
            }
        })
    }

    /// The join handle is dropped: clear its interest. If it stored a waker that the task,
    /// still running, has not used, clear `JOIN_WAKER` too, which hands the waker cell back to
    /// the handle: the runtime reads that cell only once `COMPLETE` and `JOIN_WAKER` are both
    /// set, so the handle may then drop the waker (which may be all that keeps the awaiting
    /// task, its runtime and its sockets alive) instead of leaving it for the last reference.
    pub(super) fn drop_join_handle(&self) -> DropJoinHandle {
        self.update(|s| {
            debug_assert!(s.has_join_interest());
            if s.is_complete() {
                return (None, DropJoinHandle::DropOutput);
            }
            if s.has_join_waker() {
                let next = s.0 & !(JOIN_INTEREST | JOIN_WAKER);
                return (Some(next), DropJoinHandle::DropWaker);
            }
            let next = (s.0 & !JOIN_INTEREST) - REF_ONE;
            let last_ref = Snapshot(next).ref_count() == 0;
            (Some(next), DropJoinHandle::Done { last_ref })
        })
    }

    /// Publishes the join waker the handle just wrote. Fails if the task completed meanwhile
    /// (the runtime did not see the waker, so the handle still owns the cell).
    pub(super) fn set_join_waker(&self) -> Result<(), Snapshot> {
        self.update(|s| {
            debug_assert!(s.has_join_interest() && !s.has_join_waker());
            if s.is_complete() {
                (None, Err(s))
            } else {
                (Some(s.0 | JOIN_WAKER), Ok(()))
            }
        })
    }

    /// Takes the join-waker cell back so the handle can replace the waker. Fails if the task
    /// completed (the runtime may be reading the cell).
    pub(super) fn unset_join_waker(&self) -> Result<(), Snapshot> {
        self.update(|s| {
            debug_assert!(s.has_join_interest() && s.has_join_waker());
            if s.is_complete() {
                (None, Err(s))
            } else {
                (Some(s.0 & !JOIN_WAKER), Ok(()))
            }
        })
    }

    pub(super) fn ref_inc(&self) {
        // Relaxed would be enough (a new reference is only made from an existing one, which
        // keeps the task alive; the decrement that frees is the one that synchronises), but
        // a non-`SeqCst` write would let `SeqCst` loads read past it (see the module doc).
        let prev = self.word.fetch_add(REF_ONE, SeqCst);
        if prev > isize::MAX as usize {
            // Overflow is possible only by leaking wakers in a loop; abort like `Arc` does.
            std::process::abort();
        }
    }

    /// Drops `count` references. Returns `true` if they were the last ones.
    pub(super) fn ref_dec_by(&self, count: usize) -> bool {
        let prev = Snapshot(self.word.fetch_sub(count * REF_ONE, SeqCst));
        debug_assert!(prev.ref_count() >= count, "{prev:?} - {count}");
        prev.ref_count() == count
    }

    pub(super) fn ref_dec(&self) -> bool {
        self.ref_dec_by(1)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_second_wake_of_a_queued_task_does_not_queue_it_again() {
        let state = State::new();
        // Spawned: already scheduled, so a wake by reference changes nothing.
        assert_eq!(state.transition_to_notified_by_ref(), WakeAction::Nothing);
        assert_eq!(
            state.transition_to_running(),
            TransitionToRunning::Poll { woken: true }
        );
        assert_eq!(state.transition_to_idle(), TransitionToIdle::Idle);
        assert_eq!(state.transition_to_notified_by_ref(), WakeAction::Schedule);
        assert_eq!(state.transition_to_notified_by_ref(), WakeAction::Nothing);
        assert_eq!(state.load().ref_count(), 3);
    }

    #[test]
    fn a_wake_during_the_poll_requeues_the_task() {
        let state = State::new();
        assert!(matches!(
            state.transition_to_running(),
            TransitionToRunning::Poll { .. }
        ));
        assert_eq!(state.transition_to_notified_by_ref(), WakeAction::Nothing);
        assert_eq!(state.transition_to_idle(), TransitionToIdle::Requeue);
        assert!(state.load().is_scheduled());
    }

    #[test]
    fn abort_of_an_idle_task_schedules_it_for_cancellation() {
        let state = State::new();
        let _ = state.transition_to_running();
        assert_eq!(state.transition_to_idle(), TransitionToIdle::Idle);
        assert_eq!(state.transition_to_cancelled_remote(), WakeAction::Schedule);
        assert_eq!(state.transition_to_running(), TransitionToRunning::Cancel);
    }

    #[test]
    fn shutdown_of_a_queued_task_makes_its_queue_entry_a_skip() {
        let state = State::new();
        assert!(state.transition_to_shutdown());
        let _ = state.transition_to_complete();
        assert_eq!(
            state.transition_to_running(),
            TransitionToRunning::Skip { last_ref: false }
        );
    }

    #[test]
    fn the_join_handle_cannot_drop_interest_after_completion() {
        let state = State::new();
        let _ = state.transition_to_running();
        let before = state.transition_to_complete();
        assert!(before.has_join_interest());
        assert_eq!(state.drop_join_handle(), DropJoinHandle::DropOutput);
        assert!(state.set_join_waker().is_err());
    }
}
