//! Under loom: the model clock, and the rule that decides when it moves.
//!
//! A model's timers (`sleep`, `timeout`, `interval`) run on a virtual clock that starts at the
//! runtime's creation and moves only when no runtime thread can make progress without it:
//! then it jumps to the earliest deadline and fires what is due there, like tokio's paused
//! clock. "No runtime thread can make progress" means every worker and every thread inside
//! `block_on` is parked with no token, and no `spawn_blocking` call is in flight.
//!
//! # Deciding that the runtime is idle
//! The decision must be one step with the last thread's going to sleep: checked before it, two
//! threads parking at once can each see the other awake, and both sleep with a timer due
//! (the first design did exactly that). So the count of awake runtime threads is a plain
//! `std` atomic, not a loom one. loom runs one thread at a time on one OS thread and switches
//! only at its own operations, so `std` reads and writes placed right after a loom operation,
//! before the next one, are exact and belong to that operation's step, and they add no branch
//! to the model. (They carry no synchronisation: only the parkers' own loom atomics do.)
//!
//! The rules (checked by the loom models in `reactor/loom_tests.rs` and their mutants):
//! - A parked thread counts as asleep from the step of the compare-exchange that commits it to
//!   sleep, and as awake again from the step that takes it out of its parked state, whoever
//!   does that: the unparker (its swap to `NOTIFIED`) or the thread itself (a spurious
//!   wake-up, the undo below). See [`Handle::model_commit_sleep`].
//! - A thread that commits while it is the only awake one and a timer waits stays counted,
//!   undoes its commit and, if it is still alone, advances the clock and delivers the wakes
//!   while counted awake; then its park returns and the woken tasks run. The next time the
//!   runtime goes idle, the last sleeper decides again. Only one thread can be alone at a
//!   time, so one idle period advances the clock once.
//! - A `spawn_blocking` call counts as awake from its submission until the task awaiting it
//!   finishes or is dropped, so a timeout around it waits for its result (tokio's paused clock
//!   does not auto-advance during a blocking call either).
//! - Which timers wait is mirrored into a `std` counter whenever the wheel's lock is let go
//!   ([`TimersGuard`]), so the decision reads it in the same step.
//!
//! Threads outside the runtime (a user's `loom::thread::spawn`) are not counted: time may pass
//! while they run, as it may in reality.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::task::Waker;

use super::{Handle, Timers};
use crate::loom::sync::atomic::{AtomicUsize as AtomicUsizeLoom, Ordering::SeqCst};
use crate::loom::sync::MutexGuard;

/// The counters behind the rule (in the reactor's `Inner`).
#[derive(Default)]
pub(crate) struct ModelClock {
    /// Runtime threads that can run now, plus blocking calls in flight.
    awake: AtomicUsize,
    /// Timers in the wheel not yet fired, as of the last release of its lock.
    waiting_timers: AtomicUsize,
    /// Threads inside `block_on` on this runtime (awake or parked).
    in_block_on: AtomicUsize,
}

impl ModelClock {
    /// A parked runtime thread was taken out of its parked state: by its unparker, or by
    /// itself (a spurious wake-up, a timeout). Call it in the step of the operation that did.
    pub(crate) fn woke(&self) {
        self.awake.fetch_add(1, Relaxed);
    }

    /// A runtime thread committed to sleep (or a counted thing ended) without deciding about
    /// the clock: used where its caller cannot be the last awake thread, or runs no tasks.
    pub(crate) fn fell_asleep(&self) {
        self.awake.fetch_sub(1, Relaxed);
    }
}

/// What a parker does after [`Handle::model_commit_sleep`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AfterCommit {
    /// Block as usual (a token, if one arrived, makes the park return at once).
    Block,
    /// The commit was undone and a token, if any, taken: return from the park.
    Return,
    /// The commit was undone and this thread is the runtime's only awake one: release the
    /// parker's locks, call [`Handle::advance_model_clock`], wake what it collected, return.
    Advance,
}

/// The timers' lock; under loom, letting it go also mirrors how many timers wait.
pub(crate) struct TimersGuard<'a> {
    pub(super) guard: MutexGuard<'a, Timers>,
    pub(super) clock: &'a ModelClock,
}

impl Deref for TimersGuard<'_> {
    type Target = Timers;
    fn deref(&self) -> &Timers {
        &self.guard
    }
}

impl DerefMut for TimersGuard<'_> {
    fn deref_mut(&mut self) -> &mut Timers {
        &mut self.guard
    }
}

impl Drop for TimersGuard<'_> {
    fn drop(&mut self) {
        let waiting = if self.guard.closed {
            0
        } else {
            self.guard.wheel.waiting()
        };
        self.clock.waiting_timers.store(waiting, Relaxed);
    }
}

impl Handle {
    pub(crate) fn model_clock(&self) -> &ModelClock {
        &self.inner.model_clock
    }

    /// The counters, for an [`AwakeWhileAlive`] (a `std` `Arc`: cloning it is no loom
    /// operation, so holding a count adds no branch to a model).
    pub(crate) fn model_clock_counters(&self) -> std::sync::Arc<ModelClock> {
        self.inner.model_clock.clone()
    }

    /// `count` more runtime threads (or blocking calls) can run.
    pub(crate) fn model_awake_add(&self, count: usize) {
        self.model_clock().awake.fetch_add(count, Relaxed);
    }

    /// Called by a runtime thread's parker right after the compare-exchange that committed it
    /// to sleep, with no loom operation in between. `undo` takes the parker back out of its
    /// parked state (taking a token if one arrived first) and returns whether it found it
    /// still parked.
    pub(crate) fn model_commit_sleep(&self, undo: impl FnOnce() -> bool) -> AfterCommit {
        let clock = self.model_clock();
        if clock.awake.load(Relaxed) != 1 || clock.waiting_timers.load(Relaxed) == 0 {
            // Somebody else is awake and will decide, or no timer waits.
            clock.awake.fetch_sub(1, Relaxed);
            return AfterCommit::Block;
        }
        // The runtime is idle but for this thread, and a timer waits: this thread moves the
        // clock, still counted awake (so nobody else decides meanwhile).
        if !undo() {
            // An unpark got there first and counted this thread awake a second time.
            clock.awake.fetch_sub(1, Relaxed);
            return AfterCommit::Return;
        }
        if clock.awake.load(Relaxed) != 1 {
            // A thread outside the runtime woke a worker meanwhile: let it run first.
            return AfterCommit::Return;
        }
        AfterCommit::Advance
    }

    /// [`model_commit_sleep`](Self::model_commit_sleep) for a parker whose loom atomic
    /// `state` has just been moved from `empty` to `parked`: `None` means block as usual,
    /// `Some(advance)` means return from the park (state back to `empty`, any token taken),
    /// after releasing the parker's locks and, if `advance`, calling
    /// [`advance_and_wake`](Self::advance_and_wake).
    pub(crate) fn model_after_commit(
        &self,
        state: &AtomicUsizeLoom,
        empty: usize,
        parked: usize,
    ) -> Option<bool> {
        let undo = || {
            let undone = state
                .compare_exchange(parked, empty, SeqCst, SeqCst)
                .is_ok();
            if !undone {
                state.swap(empty, SeqCst); // an unpark's token: take it
            }
            undone
        };
        let verdict = self.model_commit_sleep(undo);
        match verdict {
            AfterCommit::Block => None,
            AfterCommit::Return => Some(false),
            AfterCommit::Advance => Some(true),
        }
    }

    /// [`advance_model_clock`](Self::advance_model_clock), then wakes what it fired. The
    /// caller holds no lock.
    pub(crate) fn advance_and_wake(&self) {
        let mut woken = Vec::new();
        self.advance_model_clock(&mut woken);
        woken.into_iter().for_each(Waker::wake);
    }

    /// A thread inside `block_on` on a multi-thread runtime leaves it. If that leaves the
    /// runtime idle with a timer waiting, the clock moves first (the workers would otherwise
    /// sleep through the deadline with nobody to move it).
    fn model_leave_block_on(&self) {
        let clock = self.model_clock();
        while clock.awake.load(Relaxed) == 1 && clock.waiting_timers.load(Relaxed) > 0 {
            self.advance_and_wake();
        }
        clock.awake.fetch_sub(1, Relaxed);
    }

    /// Moves the model clock to the earliest waiting deadline and fires the timers due then;
    /// their wakers go to `woken`, for the caller to wake once it holds no lock. Returns
    /// whether a timer waited. Called only by the thread [`model_commit_sleep`] chose.
    ///
    /// [`model_commit_sleep`]: Handle::model_commit_sleep
    pub(crate) fn advance_model_clock(&self, woken: &mut Vec<Waker>) -> bool {
        // Time passing comes last: every other runnable thread (one outside the runtime, one
        // dropping it after its `block_on` returned) runs first. Without this, a task that
        // sleeps in a loop keeps the last worker moving the clock and running it, never
        // blocking, and loom never gets back to the other thread (a livelock).
        crate::loom::thread::yield_now();
        if self.model_clock().awake.load(Relaxed) != 1 {
            return false; // one of them woke a runtime thread: it runs before time moves
        }
        let mut timers = self.timers();
        if timers.closed {
            return false;
        }
        let Some(next) = timers.wheel.earliest_deadline() else {
            return false;
        };
        timers.model_now = timers.model_now.max(next);
        let now = timers.model_now;
        timers.wheel.advance(now, woken);
        true
    }
}

/// Holds one awake count until dropped: a `spawn_blocking` call's.
pub(crate) struct AwakeWhileAlive(std::sync::Arc<ModelClock>);

impl AwakeWhileAlive {
    pub(crate) fn new(handle: &Handle) -> AwakeWhileAlive {
        handle.model_awake_add(1);
        AwakeWhileAlive(handle.model_clock_counters())
    }
}

impl Drop for AwakeWhileAlive {
    fn drop(&mut self) {
        self.0.fell_asleep();
    }
}

/// A thread inside a runtime's `block_on`: counted awake from `enter` until the guard drops
/// (a thread waiting there for a current-thread runtime's core counts too: it polls its own
/// future).
pub(crate) struct InBlockOn<'a> {
    clock: &'a Handle,
    /// Multi-thread: leaving may move the clock ([`Handle::model_leave_block_on`]): the
    /// workers go on running tasks. Current-thread: only while another thread is still in
    /// `block_on`; with none, nobody runs its tasks, so time stands still until the next
    /// `block_on`, as with tokio's paused clock.
    moves_clock_on_exit: bool,
}

impl InBlockOn<'_> {
    pub(crate) fn enter(clock: &Handle, moves_clock_on_exit: bool) -> InBlockOn<'_> {
        clock.model_clock().in_block_on.fetch_add(1, Relaxed);
        clock.model_awake_add(1);
        InBlockOn {
            clock,
            moves_clock_on_exit,
        }
    }
}

impl Drop for InBlockOn<'_> {
    fn drop(&mut self) {
        let counters = self.clock.model_clock();
        let others_inside = counters.in_block_on.fetch_sub(1, Relaxed) > 1;
        if std::thread::panicking() {
            // No loom operation while unwinding (see `model::Builder::check`).
            counters.fell_asleep();
        } else if self.moves_clock_on_exit || others_inside {
            // Another `block_on` thread (a current-thread core holder) may be parked waiting
            // for a deadline that only this thread, the last awake one, can now reach.
            self.clock.model_leave_block_on();
        } else {
            counters.fell_asleep();
        }
    }
}

/// The rule's models: each fails on a clock that breaks one of the rules above (mutants
/// `model_clock_*` in `ci/mutants/`).
#[cfg(test)]
mod loom_tests {
    use std::time::Duration;

    use crate::model::Builder;
    use crate::sync::oneshot;
    use crate::time::{sleep, timeout};

    fn two_workers() -> Builder {
        let mut builder = Builder::new_multi_thread();
        builder.worker_threads(2).preemption_bound(2);
        builder
    }

    /// A task that is ready on a worker holds the clock, and so does the `block_on` thread
    /// while it runs: the timeout around the message and the work after it never fires,
    /// although the `block_on` thread parks first and the worker last.
    #[test]
    fn loom_model_clock_waits_for_a_ready_task_on_a_worker() {
        two_workers().check(|| async {
            let (tx, rx) = oneshot::channel();
            crate::spawn(async move {
                crate::task::yield_now().await;
                let _ = tx.send(7);
            });
            let received = timeout(Duration::from_millis(1), async {
                let value = rx.await;
                crate::task::yield_now().await;
                value
            });
            assert_eq!(received.await, Ok(Ok(7)));
        });
    }

    /// With no timer of its own in `block_on`, the last worker to sleep moves the clock; and
    /// it does so again in a second idle period (the count is right after the first).
    #[test]
    fn loom_model_clock_moves_when_the_last_worker_sleeps() {
        two_workers().check(|| async {
            let (tx, rx) = oneshot::channel();
            crate::spawn(async move {
                sleep(Duration::from_millis(1)).await;
                let _ = tx.send(());
            });
            rx.await.unwrap();
            crate::spawn(sleep(Duration::from_millis(1))).await.unwrap();
        });
    }

    /// A `spawn_blocking` call holds the clock until its task has the result.
    #[test]
    fn loom_model_clock_waits_for_a_blocking_call() {
        crate::model::check(|| async {
            let call = crate::spawn_blocking(|| 5);
            let output = timeout(Duration::from_millis(1), call).await;
            assert_eq!(output.map(Result::unwrap), Ok(5));
        });
    }

    /// A task that sleeps in an endless loop, still alive when `block_on` returns: time
    /// passing comes last, so the thread that goes on to drop the runtime gets to run (without
    /// the yield before each move of the clock, the last worker would move it for the ticker
    /// for ever, never blocking).
    #[test]
    fn loom_model_clock_a_ticker_left_running_does_not_livelock_the_model() {
        let mut builder = Builder::new_multi_thread();
        builder.worker_threads(2).preemption_bound(1);
        builder.check(|| async {
            crate::spawn(async {
                loop {
                    sleep(Duration::from_millis(1)).await;
                }
            });
            sleep(Duration::from_millis(2)).await;
        });
    }

    /// Beside a ticker, a thread outside a current-thread runtime sends what `block_on`
    /// waits for: the wake reaches the `block_on` loop (the flag is set with a swap, see
    /// `BlockOnSignal`), although the clock keeps moving for the ticker meanwhile.
    #[test]
    fn loom_model_clock_an_outside_wake_beside_a_ticker_is_seen() {
        let mut builder = Builder::new_current_thread();
        builder.preemption_bound(1);
        builder.check(|| async {
            crate::spawn(async {
                loop {
                    sleep(Duration::from_millis(1)).await;
                }
            });
            let (tx, rx) = oneshot::channel();
            let outside = loom::thread::spawn(move || {
                let _ = tx.send(());
            });
            rx.await.unwrap();
            outside.join().unwrap();
        });
    }

    /// Two threads in `block_on` on one current-thread runtime: one holds the core, the other
    /// waits for it (and counts: its future polls). The waiter's deadline comes first; when
    /// it leaves, the holder's deadline must still be reached (the leaver, the last awake
    /// thread, moves the clock for it).
    #[test]
    fn loom_model_clock_two_block_on_threads_on_one_current_thread_runtime() {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(1);
        builder.check(|| {
            let runtime = std::sync::Arc::new(
                crate::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap(),
            );
            let other = {
                let runtime = runtime.clone();
                loom::thread::spawn(move || {
                    runtime.block_on(async { sleep(Duration::from_millis(5)).await });
                })
            };
            runtime.block_on(async {
                let mut ticks = crate::time::interval(Duration::from_millis(10));
                let first = ticks.tick().await;
                let second = ticks.tick().await;
                assert_eq!(second - first, Duration::from_millis(10));
            });
            other.join().unwrap();
        });
    }

    /// A thread outside the runtime unparks it while it decides about the clock: either
    /// outcome of the race is allowed (time may pass while an outside thread runs), but the
    /// count stays right, so a later sleep still ends.
    #[test]
    fn loom_model_clock_survives_an_unpark_racing_the_last_sleeper() {
        crate::model::check(|| async {
            let (tx, rx) = oneshot::channel();
            let outside = loom::thread::spawn(move || {
                let _ = tx.send(());
            });
            let _ = timeout(Duration::from_millis(1), rx).await;
            sleep(Duration::from_millis(1)).await;
            outside.join().unwrap();
        });
    }
}
