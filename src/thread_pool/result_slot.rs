//! [`ResultSlot`]: one result, stored once by the thread that produced it and taken once by
//! whoever waits for it, a task (through its waker) or a blocked thread.
//!
//! It carries a [`JobHandle`](super::JobHandle)'s result from the pool thread that ran the job,
//! and each process-pool job's outcome (and a `Command` child's exit status, from the thread
//! blocked in `waitpid`) from the thread that received it.
//!
//! A mutex guards the value, the waker and the count of blocked threads; a condvar wakes
//! those threads. `complete` stores the value under the lock, then (outside it) notifies the
//! condvar if a thread sleeps on it and wakes the stored waker. Whoever looks at the slot
//! afterwards finds the value under the same lock, so no completion is missed: a poller either
//! sees the value or leaves its waker before the completion takes it (loom model
//! `loom_slot_completion_wakes_poller_or_is_seen`), and a blocked waiter is notified or sees
//! the value (`loom_slot_completion_wakes_blocked_waiter`, with a negative control that forgets
//! the notification and deadlocks).

use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::loom::sync::atomic::{AtomicBool, Ordering};
use crate::loom::sync::{Condvar, Mutex, MutexGuard};

#[derive(Debug)]
struct SlotState<T> {
    value: Option<T>,
    /// The task awaiting the value, woken on completion.
    waker: Option<Waker>,
    /// The value was delivered and taken.
    taken: bool,
    /// Threads blocked on the condvar: completion notifies it only when there are some.
    sleepers: usize,
}

/// The panic of a consumer that polls for the value after it took it. A misuse, as polling
/// any future after it returned `Ready` (tokio's `JoinHandle` panics too): there is no value
/// left to give.
const POLLED_AFTER_TAKEN: &str =
    "a JobHandle or ProcessJob polled after it already returned its result";

/// The panic of a consumer that blocks for the value after it took it (a handle awaited to
/// completion, then waited on): there is no value left, and none will come, so blocking
/// would be for ever.
const WAITED_AFTER_TAKEN: &str = "a JobHandle or ProcessJob waited on after it already \
     returned its result (it was awaited to completion): a handle yields its result once";

/// How a blocking waiter looks at the slot before it sleeps on the condvar. Waking a thread
/// that sleeps costs tens of microseconds; a short job is often done sooner than that.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Spin {
    /// crossbeam's `Backoff` until it advises blocking: a few spins and yields.
    Backoff,
    /// Yields for up to this long; skipped by a timed wait whose timeout is shorter.
    YieldFor(#[cfg_attr(loom, allow(dead_code))] Duration),
}

/// A one-shot result slot, completed by one thread and taken by one consumer.
#[derive(Debug)]
pub(crate) struct ResultSlot<T> {
    state: Mutex<SlotState<T>>,
    completed: Condvar,
    /// Set by `complete`, under the lock, with the value: lets `is_complete` and a spinning
    /// waiter look without taking the lock. The value itself is only read under the lock.
    has_value: AtomicBool,
}

impl<T> ResultSlot<T> {
    pub(crate) fn new() -> ResultSlot<T> {
        ResultSlot {
            state: Mutex::new(SlotState {
                value: None,
                waker: None,
                taken: false,
                sleepers: 0,
            }),
            completed: Condvar::new(),
            has_value: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, SlotState<T>> {
        // Nothing panics while holding this lock; recover the state if something did.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Stores the value and wakes whoever waits for it. Called once.
    pub(crate) fn complete(&self, value: T) {
        let mut state = self.lock();
        debug_assert!(
            state.value.is_none() && !state.taken,
            "slot completed twice"
        );
        state.value = Some(value);
        self.has_value.store(true, Ordering::Release);
        let waker = state.waker.take();
        let sleepers = state.sleepers > 0;
        drop(state);
        // Both after unlocking: a sleeper counted itself under the lock before it waited, so
        // it is inside `wait` now and this notification reaches it.
        if sleepers {
            self.completed.notify_all();
        }
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// A deliberately broken `complete` for the loom negative control: it never notifies.
    #[cfg(all(test, loom))]
    pub(crate) fn complete_without_notifying(&self, value: T) {
        self.lock().value = Some(value);
    }

    /// Whether the value was stored (and maybe taken since). Once this is `true`, a wait
    /// returns at once.
    pub(crate) fn is_complete(&self) -> bool {
        // Acquire: pairs with `complete`'s Release, so the value is there to take.
        self.has_value.load(Ordering::Acquire)
    }

    fn take(state: &mut SlotState<T>) -> Option<T> {
        let value = state.value.take();
        if value.is_some() {
            state.taken = true;
        }
        value
    }

    /// The value if it is there; otherwise registers `cx`'s waker.
    ///
    /// # Panics
    /// If the value was already taken (a future polled after completion).
    #[track_caller]
    pub(crate) fn poll_take(&self, cx: &mut Context<'_>) -> Poll<T> {
        let mut state = self.lock();
        assert!(!state.taken, "{POLLED_AFTER_TAKEN}");
        if let Some(value) = Self::take(&mut state) {
            return Poll::Ready(value);
        }
        let displaced = crate::task::register_waker(&mut state.waker, cx.waker());
        drop(state);
        drop(displaced);
        Poll::Pending
    }

    /// Blocks until the value is there and takes it.
    ///
    /// # Panics
    /// If the value was already taken, at the caller's line (its callers that are public
    /// `wait`s are `#[track_caller]` too, so the user's line is named).
    #[track_caller]
    pub(crate) fn wait_take(&self, spin: Spin) -> T {
        self.spin_until_complete(spin, None);
        self.wait_take_until(None)
            .expect("a wait without a deadline returns only with the value")
    }

    /// Like [`wait_take`](Self::wait_take), giving up after `timeout`.
    #[track_caller]
    pub(crate) fn wait_take_timeout(&self, timeout: Duration, spin: Spin) -> Option<T> {
        // No deadline (`None`) if `now + timeout` overflows: that wait is for ever.
        let deadline = Instant::now().checked_add(timeout);
        self.spin_until_complete(spin, Some(timeout));
        self.wait_take_until(deadline)
    }

    /// Looks at the slot without sleeping, as `spin` says, until the value is there.
    fn spin_until_complete(&self, spin: Spin, timeout: Option<Duration>) {
        // Loom explores interleavings, not timing: a spin would only multiply them.
        #[cfg(loom)]
        let _ = (spin, timeout);
        #[cfg(not(loom))]
        match spin {
            Spin::Backoff => {
                let backoff = crossbeam_utils::Backoff::new();
                while !self.is_complete() && !backoff.is_completed() {
                    backoff.snooze();
                }
            }
            Spin::YieldFor(limit) => {
                if timeout.is_some_and(|timeout| timeout < limit) {
                    return;
                }
                let start = Instant::now();
                while !self.is_complete() && start.elapsed() < limit {
                    std::thread::yield_now();
                }
            }
        }
    }

    /// Sleeps on the condvar until the value is there (and takes it) or `deadline` passes.
    #[track_caller]
    fn wait_take_until(&self, deadline: Option<Instant>) -> Option<T> {
        let mut state = self.lock();
        loop {
            assert!(!state.taken, "{WAITED_AFTER_TAKEN}");
            if let Some(value) = Self::take(&mut state) {
                return Some(value);
            }
            state.sleepers += 1;
            state = match deadline {
                None => self
                    .completed
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        state.sleepers -= 1;
                        return None;
                    }
                    self.completed
                        .wait_timeout(state, deadline - now)
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .0
                }
            };
            state.sleepers -= 1;
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::{ResultSlot, Spin};
    use crate::loom::sync::atomic::{AtomicUsize, Ordering};
    use crate::loom::sync::Arc;
    use crate::loom::thread;
    use std::task::{Context, Poll, Wake, Waker};
    use std::time::Duration;

    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn loom_slot_completion_wakes_poller_or_is_seen() {
        loom::model(|| {
            let slot = Arc::new(ResultSlot::new());
            let completer = {
                let slot = slot.clone();
                thread::spawn(move || slot.complete(7u32))
            };
            let counter = std::sync::Arc::new(CountingWaker(AtomicUsize::new(0)));
            let waker = Waker::from(counter.clone());
            let mut cx = Context::from_waker(&waker);
            let first = slot.poll_take(&mut cx);
            completer.join().unwrap();
            match first {
                Poll::Ready(value) => assert_eq!(value, 7),
                Poll::Pending => {
                    // Pending means the waker was stored before the completion took it.
                    assert_eq!(counter.0.load(Ordering::SeqCst), 1, "completion lost");
                    assert_eq!(slot.poll_take(&mut cx), Poll::Ready(7));
                }
            }
        });
    }

    #[test]
    fn loom_slot_completion_wakes_blocked_waiter() {
        loom::model(|| {
            let slot = Arc::new(ResultSlot::new());
            let completer = {
                let slot = slot.clone();
                thread::spawn(move || slot.complete(3u32))
            };
            assert_eq!(slot.wait_take(Spin::Backoff), 3);
            completer.join().unwrap();
        });
    }

    /// The timed wait (`JobHandle::wait_timeout`, `ProcessJob::wait_timeout`): one whose time
    /// has run out returns without the value (nothing completes the slot yet, so a wait here
    /// would never end: loom reports it as a deadlock), and one with time left is notified by
    /// the completion or sees the value (loom's condvar never times out, so the long wait ends
    /// only through the completion). Mutant `result_slot_timed_wait_gives_up_early`.
    #[test]
    fn loom_slot_completion_wakes_a_timed_waiter() {
        loom::model(|| {
            let slot = Arc::new(ResultSlot::new());
            assert!(
                slot.wait_take_timeout(Duration::ZERO, Spin::Backoff)
                    .is_none(),
                "no value yet"
            );
            let completer = {
                let slot = slot.clone();
                thread::spawn(move || slot.complete(5u32))
            };
            let value = slot
                .wait_take_timeout(Duration::from_secs(3600), Spin::Backoff)
                .expect("a timed wait with time left missed the completion");
            assert_eq!(value, 5);
            completer.join().unwrap();
        });
    }

    /// Negative control: without the notification, loom finds the interleaving where the
    /// waiter blocks first and never wakes.
    #[test]
    #[should_panic]
    fn loom_slot_negative_control_forgotten_notify_deadlocks() {
        loom::model(|| {
            let slot = Arc::new(ResultSlot::new());
            let completer = {
                let slot = slot.clone();
                thread::spawn(move || slot.complete_without_notifying(3u32))
            };
            assert_eq!(slot.wait_take(Spin::Backoff), 3);
            completer.join().unwrap();
        });
    }
}

#[cfg(all(test, not(loom)))]
mod waker_drop_tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;
    use std::task::Wake;

    /// A waker that records, when dropped, whether the slot's lock was free.
    struct LockProbe {
        slot: Arc<ResultSlot<u8>>,
        dropped_unlocked: Arc<AtomicUsize>,
    }
    impl Wake for LockProbe {
        fn wake(self: Arc<Self>) {}
    }
    impl Drop for LockProbe {
        fn drop(&mut self) {
            if self.slot.state.try_lock().is_ok() {
                self.dropped_unlocked.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    /// Covers both users: a `JobHandle` and a process-pool job poll this slot.
    #[test]
    fn a_replaced_waker_is_dropped_after_the_lock() {
        let slot = Arc::new(ResultSlot::<u8>::new());
        let dropped_unlocked = Arc::new(AtomicUsize::new(0));
        let first = Waker::from(Arc::new(LockProbe {
            slot: slot.clone(),
            dropped_unlocked: dropped_unlocked.clone(),
        }));
        assert!(slot
            .poll_take(&mut Context::from_waker(&first))
            .is_pending());
        drop(first);
        let second = Waker::from(Arc::new(LockProbe {
            slot: slot.clone(),
            dropped_unlocked: Arc::new(AtomicUsize::new(0)),
        }));
        assert!(slot
            .poll_take(&mut Context::from_waker(&second))
            .is_pending());
        assert_eq!(
            dropped_unlocked.load(Ordering::SeqCst),
            1,
            "the replaced waker was dropped under the slot's lock"
        );
        // Break the slot -> waker -> slot cycle.
        let stored = slot.lock().waker.take();
        drop(stored);
    }
}
