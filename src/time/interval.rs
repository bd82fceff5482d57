//! [`Interval`]: ticks at a fixed period.

use std::future::poll_fn;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use super::sleep::Sleep;

/// Ticks every `period`, the first tick at once.
///
/// Missed ticks (the task was busy past a deadline) are delivered at once, one per call,
/// until the schedule has caught up: the average rate stays `1 / period` (tokio's default
/// "burst" behaviour).
///
/// ```
/// use std::time::Duration;
/// spindle::block_on(async {
///     let mut ticks = spindle::time::interval(Duration::from_millis(2));
///     let first = ticks.tick().await;
///     let second = ticks.tick().await;
///     assert!(second - first >= Duration::from_millis(2));
/// });
/// ```
///
/// # Panics
/// If `period` is zero, or outside a spindle runtime.
#[track_caller]
pub fn interval(period: Duration) -> Interval {
    interval_at(super::now(), period)
}

/// Ticks every `period`, the first tick at `start`.
///
/// # Panics
/// If `period` is zero, or outside a spindle runtime.
#[track_caller]
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(
        period > Duration::ZERO,
        "an interval's period must be non-zero"
    );
    Interval {
        sleep: Sleep::new(start),
        period,
    }
}

/// Returned by [`interval`].
#[derive(Debug)]
pub struct Interval {
    sleep: Sleep,
    period: Duration,
}

impl Interval {
    /// Waits for the next tick and returns its scheduled time.
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        ready!(Pin::new(&mut self.sleep).poll(cx));
        let scheduled = self.sleep.deadline();
        let next = scheduled
            .checked_add(self.period)
            .unwrap_or_else(|| super::far_future(scheduled));
        self.sleep.reset(next);
        Poll::Ready(scheduled)
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Restarts the schedule: the next tick is one period from now.
    pub fn reset(&mut self) {
        self.sleep.reset(super::deadline_after(self.period));
    }
}
