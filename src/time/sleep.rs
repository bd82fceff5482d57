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

    /// Moves the deadline (earlier or later), whether or not it had passed. The new deadline
    /// takes effect at the next poll.
    pub fn reset(&mut self, deadline: Instant) {
        self.cancel();
        self.deadline = deadline;
        self.elapsed = false;
    }

    fn cancel(&mut self) {
        if let Some(key) = self.key.take() {
            self.handle.timers().wheel.remove(key);
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
            panic!("a spindle timer was polled after its runtime shut down");
        }
        let state = match this.key {
            Some(key) => timers.wheel.poll(key, cx.waker()),
            None => {
                if Instant::now() >= this.deadline {
                    TimerState::Fired // in the past: no entry at all
                } else {
                    let tick = this.handle.deadline_to_tick(this.deadline);
                    let key = timers.wheel.insert(tick, cx.waker().clone());
                    this.key = Some(key);
                    this.handle.timer_inserted(&mut timers, tick);
                    timers.wheel.poll(key, cx.waker())
                }
            }
        };
        match state {
            TimerState::Pending => Poll::Pending,
            TimerState::Fired => {
                if let Some(key) = this.key.take() {
                    timers.wheel.remove(key);
                }
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
