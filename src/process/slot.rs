//! [`ResultSlot`]: where the supervisor thread leaves one job's outcome, for a future or a
//! blocked thread to pick up.
//!
//! A mutex guards the value and the waker; a condvar wakes blocked threads. The supervisor
//! completes a slot once, then (outside the lock) wakes the stored waker and every thread in
//! `wait`. Whoever looks at the slot afterwards finds the value under the same lock, so no
//! completion is missed: a poller either sees the value or leaves its waker before the
//! completion takes it (loom model `loom_slot_completion_wakes_poller_or_is_seen`), and a
//! blocked waiter is notified or sees the value (`loom_slot_completion_wakes_blocked_waiter`,
//! with a negative control that forgets the notification and deadlocks).

use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::sys;
use crate::loom::sync::atomic::{AtomicBool, Ordering};
use crate::loom::sync::{Condvar, Mutex, MutexGuard};

#[derive(Debug)]
struct SlotState<T> {
    value: Option<T>,
    waker: Option<Waker>,
    /// The value was delivered and taken.
    taken: bool,
}

/// A one-shot slot, completed by one thread and taken by one consumer.
#[derive(Debug)]
pub(crate) struct ResultSlot<T> {
    state: Mutex<SlotState<T>>,
    completed: Condvar,
    /// Set (after the value is stored) by `complete`: a hint that lets a blocking waiter
    /// spin briefly without taking the lock; the value itself is only read under the lock.
    has_value: AtomicBool,
}

impl<T> ResultSlot<T> {
    pub(crate) fn new() -> ResultSlot<T> {
        ResultSlot {
            state: Mutex::new(SlotState {
                value: None,
                waker: None,
                taken: false,
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

    /// Stores the outcome and wakes whoever waits for it. Called once.
    pub(crate) fn complete(&self, value: T) {
        let waker = {
            let mut state = self.lock();
            debug_assert!(
                state.value.is_none() && !state.taken,
                "slot completed twice"
            );
            state.value = Some(value);
            state.waker.take()
        };
        self.has_value.store(true, Ordering::Release);
        self.completed.notify_all();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// A deliberately broken `complete` for the loom negative control: it never notifies.
    #[cfg(all(test, loom))]
    pub(crate) fn complete_without_notifying(&self, value: T) {
        self.lock().value = Some(value);
    }

    pub(crate) fn is_complete(&self) -> bool {
        let state = self.lock();
        state.value.is_some() || state.taken
    }

    fn take(state: &mut SlotState<T>) -> Option<T> {
        let value = state.value.take();
        if value.is_some() {
            state.taken = true;
        }
        value
    }

    /// The outcome if it is there; otherwise registers `cx`'s waker.
    ///
    /// # Panics
    /// If the outcome was already taken (a future polled after completion).
    pub(crate) fn poll_take(&self, cx: &mut Context<'_>) -> Poll<T> {
        let mut state = self.lock();
        assert!(!state.taken, "job result polled after it was taken");
        if let Some(value) = Self::take(&mut state) {
            return Poll::Ready(value);
        }
        let replaced = match &state.waker {
            Some(waker) if waker.will_wake(cx.waker()) => None,
            _ => state.waker.replace(cx.waker().clone()),
        };
        // The replaced waker's drop may run user code: not under the lock.
        drop(state);
        drop(replaced);
        Poll::Pending
    }

    /// Waits up to [`sys::SPIN`] for `complete` without sleeping: for a short job the
    /// supervisor answers within microseconds, and a waiter put to sleep costs it a slow
    /// wake-up. (For slots that are slow by nature, a worker's start-up, it only costs 50 µs.)
    fn spin_until_complete(&self) {
        #[cfg(not(loom))]
        {
            let start = Instant::now();
            while !self.has_value.load(Ordering::Acquire) && start.elapsed() < sys::SPIN {
                std::thread::yield_now();
            }
        }
    }

    /// Blocks until the outcome is there and takes it.
    pub(crate) fn wait_take(&self) -> T {
        self.spin_until_complete();
        let mut state = self.lock();
        loop {
            assert!(!state.taken, "job result waited for after it was taken");
            if let Some(value) = Self::take(&mut state) {
                return value;
            }
            state = self
                .completed
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    /// Like [`wait_take`](Self::wait_take), giving up after `timeout`.
    pub(crate) fn wait_take_timeout(&self, timeout: Duration) -> Option<T> {
        let deadline = Instant::now().checked_add(timeout);
        if timeout >= sys::SPIN {
            self.spin_until_complete();
        }
        let mut state = self.lock();
        loop {
            assert!(!state.taken, "job result waited for after it was taken");
            if let Some(value) = Self::take(&mut state) {
                return Some(value);
            }
            let left = match deadline {
                Some(deadline) => deadline.checked_duration_since(Instant::now())?,
                None => Duration::MAX,
            };
            state = self
                .completed
                .wait_timeout(state, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::ResultSlot;
    use crate::loom::sync::atomic::{AtomicUsize, Ordering};
    use crate::loom::sync::Arc;
    use crate::loom::thread;
    use std::task::{Context, Poll, Wake, Waker};

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
            assert_eq!(slot.wait_take(), 3);
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
            assert_eq!(slot.wait_take(), 3);
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
