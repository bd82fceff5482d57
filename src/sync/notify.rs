//! A wake-up signal between tasks, with tokio's permit semantics.
//!
//! # Implementation notes
//!
//! A mutex guards the permit flag and a [`WaitQueue`] of waiters. `notify_waiters` also bumps
//! a call counter (an atomic, written under the lock); a `Notified` records the counter when
//! it is created and completes once it has moved, which is how an unpolled future still sees
//! a `notify_waiters` call. Waiters queued after the call record the new count and are not
//! woken by it.
//!
//! Loom models: `loom_notify_one_before_wait_is_kept` (with a negative control: no stored
//! permit loses the wake-up), `loom_notify_waiters_wakes_all_current`,
//! `loom_notify_cancelled_waiter_passes_it_on`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::wait_queue::{WaitQueue, WaiterKey, WakeList};
use crate::loom::sync::atomic::{
    AtomicUsize,
    Ordering::{Acquire, Relaxed, Release},
};
use crate::loom::sync::{Mutex, MutexGuard};

/// Notifies one task or all waiting tasks, like `tokio::sync::Notify`.
///
/// # Semantics
///
/// - [`notify_one`](Notify::notify_one) wakes the longest waiting [`Notified`] future; if
///   none waits, it stores a single *permit* (several calls still store one), which the next
///   `notified().await` consumes at once. So a notification sent just before the waiter
///   starts waiting is not lost.
/// - [`notify_waiters`](Notify::notify_waiters) wakes every `Notified` future that exists
///   when it is called (created, even if not yet polled) and stores no permit.
/// - A `Notified` future that was picked by `notify_one` and is dropped before it completes
///   passes the notification on (to the next waiter, or as the permit): none is lost.
///
/// ```
/// use std::sync::Arc;
/// use spindle::sync::Notify;
///
/// spindle::block_on(async {
///     let notify = Arc::new(Notify::new());
///     let waiter = notify.clone();
///     let handle = spindle::spawn(async move {
///         waiter.notified().await;
///         "woken"
///     });
///     // Whether or not the task is waiting yet, the permit keeps the wake-up.
///     notify.notify_one();
///     assert_eq!(handle.await.unwrap(), "woken");
/// });
/// ```
pub struct Notify {
    state: Mutex<State>,
    /// How many times `notify_waiters` was called; changed only under the lock.
    notify_waiters_calls: AtomicUsize,
}

struct State {
    permit: bool,
    waiters: WaitQueue<Waiter>,
}

struct Waiter {
    waker: Option<Waker>,
    /// The `notify_waiters` count when the waiter was queued; a call that moved it past
    /// this wakes the waiter.
    calls: usize,
    /// Why it was unlinked.
    notification: Option<Notification>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notification {
    One,
    All,
}

impl Notify {
    /// A `Notify` with no permit and no waiter.
    pub fn new() -> Notify {
        Notify {
            state: Mutex::new(State {
                permit: false,
                waiters: WaitQueue::new(),
            }),
            notify_waiters_calls: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No user code runs under the lock, so a poisoned lock still guards consistent state.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A future that completes when this `Notify` is notified; see [`Notify`].
    /// It already counts for `notify_waiters` before its first poll.
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            notify: self,
            // Acquire, pairing with the Release store in `notify_waiters`: a caller that sees
            // a call's count here also sees what the notifier did before that call (e.g. a
            // watch sender's close flag), so checking its condition after creating this
            // future and then awaiting it cannot miss a notification.
            stage: Stage::Init {
                calls: self.notify_waiters_calls.load(Acquire),
            },
        }
    }

    /// Wakes the longest waiting `Notified`, or stores the permit if none waits.
    pub fn notify_one(&self) {
        let mut state = self.lock();
        let waker = notify_locked(&mut state, false);
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Like [`notify_one`](Self::notify_one), but wakes the most recent waiter.
    pub fn notify_last(&self) {
        let mut state = self.lock();
        let waker = notify_locked(&mut state, true);
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Wakes every `Notified` that exists now; stores no permit.
    pub fn notify_waiters(&self) {
        let mut state = self.lock();
        // Only written under the lock, so the Relaxed load reads the latest count. Release:
        // see `notified`.
        let calls = self.notify_waiters_calls.load(Relaxed) + 1;
        self.notify_waiters_calls.store(calls, Release);
        if state.waiters.is_empty() {
            return;
        }
        let mut wakers = WakeList::new();
        loop {
            while wakers.has_room() {
                let Some(key) = state.waiters.front() else {
                    break;
                };
                if state.waiters.get(key).calls >= calls {
                    break; // queued after this call
                }
                state.waiters.unlink(key);
                let waiter = state.waiters.get_mut(key);
                waiter.notification = Some(Notification::All);
                wakers.push(waiter.waker.take());
            }
            let more = !wakers.has_room();
            drop(state);
            wakers.wake_all();
            if !more {
                return;
            }
            state = self.lock();
        }
    }
}

/// Picks the first (or last) waiter, or stores the permit; returns the waker to wake.
fn notify_locked(state: &mut State, last: bool) -> Option<Waker> {
    let key = if last {
        state.waiters.back()
    } else {
        state.waiters.front()
    };
    let Some(key) = key else {
        state.permit = true;
        return None;
    };
    state.waiters.unlink(key);
    let waiter = state.waiters.get_mut(key);
    waiter.notification = Some(Notification::One);
    waiter.waker.take()
}

impl Default for Notify {
    fn default() -> Notify {
        Notify::new()
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("Notify")
            .field("permit", &state.permit)
            .field("waiters", &state.waiters.len())
            .finish()
    }
}

/// The future of [`Notify::notified`].
#[must_use = "futures do nothing unless polled"]
pub struct Notified<'a> {
    notify: &'a Notify,
    stage: Stage,
}

#[derive(Debug, Clone, Copy)]
enum Stage {
    /// Not queued yet; `calls` is the `notify_waiters` count at creation.
    Init {
        calls: usize,
    },
    Waiting(WaiterKey),
    Done,
}

impl Notified<'_> {
    /// Queues this future as a waiter without polling it, so `notify_one` can pick it (and
    /// a permit is consumed now if one is stored). Returns whether it is already notified
    /// (then a poll returns `Ready`).
    pub fn enable(self: Pin<&mut Self>) -> bool {
        self.get_mut().poll_with(None)
    }

    /// Advances the stage; registers `waker` if given. Returns whether notified.
    fn poll_with(&mut self, waker: Option<&Waker>) -> bool {
        match self.stage {
            Stage::Done => true,
            Stage::Init { calls } => {
                let mut state = self.notify.lock();
                if self.notify.notify_waiters_calls.load(Relaxed) != calls {
                    self.stage = Stage::Done;
                    return true;
                }
                if state.permit {
                    state.permit = false;
                    self.stage = Stage::Done;
                    return true;
                }
                let key = state.waiters.push_back(Waiter {
                    waker: waker.cloned(),
                    calls,
                    notification: None,
                });
                self.stage = Stage::Waiting(key);
                false
            }
            Stage::Waiting(key) => {
                let mut state = self.notify.lock();
                if !state.waiters.is_linked(key) {
                    let waiter = state.waiters.remove(key);
                    drop(state);
                    drop(waiter);
                    self.stage = Stage::Done;
                    return true;
                }
                let Some(waker) = waker else {
                    return false;
                };
                let stale =
                    crate::task::register_waker(&mut state.waiters.get_mut(key).waker, waker);
                drop(state);
                drop(stale);
                false
            }
        }
    }
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.get_mut().poll_with(Some(cx.waker())) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        let Stage::Waiting(key) = self.stage else {
            return;
        };
        let mut state = self.notify.lock();
        let waiter = state.waiters.remove(key);
        // Picked by `notify_one` but never completed: pass the notification on.
        let forwarded = if waiter.notification == Some(Notification::One) {
            notify_locked(&mut state, false)
        } else {
            None
        };
        drop(state);
        drop(waiter);
        if let Some(waker) = forwarded {
            waker.wake();
        }
    }
}

impl fmt::Debug for Notified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notified")
            .field("stage", &self.stage)
            .finish_non_exhaustive()
    }
}
