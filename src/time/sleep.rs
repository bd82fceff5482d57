//! [`Sleep`]: a future that completes at a deadline.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::wheel::{TimerKey, TimerState};
use crate::reactor;

/// Waits until `duration` has passed. `Duration::MAX` (or anything past what `Instant` can
/// hold) means "about 30 years", which in practice is never.
///
/// ```
/// use std::time::Duration;
/// spindle::block_on(async {
///     spindle::time::sleep(Duration::from_millis(1)).await;
/// });
/// ```
///
/// # Panics
/// Outside a spindle runtime.
#[track_caller]
pub fn sleep(duration: Duration) -> Sleep {
    Sleep::new(super::deadline_after(duration))
}

/// Waits until `deadline`. A deadline in the past completes at the first poll.
///
/// # Panics
/// Outside a spindle runtime.
#[track_caller]
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep::new(deadline)
}

/// Future returned by [`sleep`] and [`sleep_until`]. Dropping it cancels its timer.
///
/// # Panics
/// Polling it after the runtime it was made in has shut down panics with "the runtime owning
/// this resource has shut down" (tokio's `Sleep` panics likewise): the timer can never fire.
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    handle: reactor::Handle,
    /// The wheel entry, once registered.
    key: Option<TimerKey>,
    elapsed: bool,
}

impl Sleep {
    #[track_caller]
    pub(crate) fn new(deadline: Instant) -> Sleep {
        Sleep {
            deadline,
            handle: reactor::Handle::current_or_panic("spindle::time needs a runtime with a timer"),
            key: None,
            elapsed: false,
        }
    }

    /// When this sleep completes.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has been observed as reached.
    pub fn is_elapsed(&self) -> bool {
        self.elapsed
    }

    /// Moves the deadline (earlier or later), whether or not it had passed. A task waiting
    /// on this sleep stays registered: it is woken at the new deadline (at once if that has
    /// passed), as in tokio.
    pub fn reset(&mut self, deadline: Instant) {
        self.deadline = deadline;
        self.elapsed = false;
        let Some(key) = self.key else {
            return; // not registered yet: the next poll files the new deadline
        };
        let mut timers = self.handle.timers();
        if timers.closed {
            return; // the next poll reports the shutdown
        }
        let due = if self.handle.now(&timers) >= deadline {
            // Passed: the next poll completes without an entry; wake the task to make it.
            self.key = None;
            timers.wheel.remove(key)
        } else {
            let tick = self.handle.deadline_to_tick(deadline);
            let due = timers.wheel.reset(key, tick);
            self.handle.timer_inserted(&mut timers, tick);
            due
        };
        drop(timers);
        if let Some(waker) = due {
            waker.wake();
        }
    }

    fn cancel(&mut self) {
        if let Some(key) = self.key.take() {
            let mut timers = self.handle.timers();
            let removed = timers.wheel.remove(key);
            drop(timers);
            drop(removed);
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if this.elapsed {
            return Poll::Ready(());
        }
        let mut timers = this.handle.timers();
        if timers.closed {
            drop(timers);
            panic!("{}", reactor::SHUTDOWN_MESSAGE);
        }
        let (state, replaced) = match this.key {
            Some(key) => timers.wheel.poll(key, cx.waker()),
            None => {
                if this.handle.now(&timers) >= this.deadline {
                    (TimerState::Fired, None) // in the past: no entry at all
                } else {
                    let tick = this.handle.deadline_to_tick(this.deadline);
                    let key = timers.wheel.insert(tick, cx.waker());
                    this.key = Some(key);
                    this.handle.timer_inserted(&mut timers, tick);
                    timers.wheel.poll(key, cx.waker())
                }
            }
        };
        let removed = match state {
            TimerState::Pending => None,
            TimerState::Fired => this.key.take().and_then(|key| timers.wheel.remove(key)),
        };
        // Wakers leave only after the lock: a waker's drop may free a runtime whose driver's
        // shutdown takes this lock.
        drop(timers);
        drop(replaced);
        drop(removed);
        match state {
            TimerState::Pending => Poll::Pending,
            TimerState::Fired => {
                this.elapsed = true;
                Poll::Ready(())
            }
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.cancel();
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("elapsed", &self.elapsed)
            .finish_non_exhaustive()
    }
}
