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
/// "burst" behaviour); see [`MissedTickBehavior`] for the others.
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
        missed_tick_behavior: MissedTickBehavior::Burst,
    }
}

/// What an [`Interval`] does when a tick is missed: the task got to `tick` later than the
/// tick's deadline (by more than 5 ms, tokio's slack for ordinary scheduling delay).
///
/// With a period of 10 ms, ticks due at 0, 10, 20, ..., and the task busy from 5 to 37 ms:
/// - `Burst` (the default): ticks at 37, 37, 37 (for 10, 20, 30), then 40, 50: the count of
///   ticks catches up with the schedule.
/// - `Delay`: a tick at 37, then 47, 57: the schedule restarts from the late tick.
/// - `Skip`: a tick at 37, then 40, 50: missed ticks are dropped, the grid is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Deliver every missed tick at once, one per call, until caught up.
    #[default]
    Burst,
    /// Deliver one tick now and schedule the next a full period after it.
    Delay,
    /// Deliver one tick now and schedule the next on the original grid, skipping the rest.
    Skip,
}

/// How late a tick may be before it counts as missed (as tokio's).
const MISSED_SLACK: Duration = Duration::from_millis(5);

impl MissedTickBehavior {
    /// The deadline after a tick due at `scheduled` that was observed at `now`, later than
    /// `scheduled + MISSED_SLACK`.
    fn next_deadline(self, scheduled: Instant, now: Instant, period: Duration) -> Option<Instant> {
        match self {
            MissedTickBehavior::Burst => scheduled.checked_add(period),
            MissedTickBehavior::Delay => now.checked_add(period),
            MissedTickBehavior::Skip => {
                // The first grid point `scheduled + k * period` after `now`.
                let late = now.duration_since(scheduled).as_nanos();
                let into_period = late % period.as_nanos();
                let to_next = period.as_nanos() - into_period;
                now.checked_add(Duration::from_nanos(u64::try_from(to_next).ok()?))
            }
        }
    }
}

/// Returned by [`interval`].
#[derive(Debug)]
pub struct Interval {
    sleep: Sleep,
    period: Duration,
    missed_tick_behavior: MissedTickBehavior,
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
        let now = super::now();
        let missed = now > scheduled + MISSED_SLACK;
        let next = if missed {
            self.missed_tick_behavior
                .next_deadline(scheduled, now, self.period)
        } else {
            scheduled.checked_add(self.period)
        };
        let next = next.unwrap_or_else(|| super::far_future(scheduled));
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

    /// Restarts the schedule with the next tick now.
    pub fn reset_immediately(&mut self) {
        self.sleep.reset(super::now());
    }

    /// Restarts the schedule with the next tick `after` from now.
    pub fn reset_after(&mut self, after: Duration) {
        self.sleep.reset(super::deadline_after(after));
    }

    /// Restarts the schedule with the next tick at `deadline`.
    pub fn reset_at(&mut self, deadline: Instant) {
        self.sleep.reset(deadline);
    }

    /// What happens when a tick is missed (default [`MissedTickBehavior::Burst`]).
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed_tick_behavior
    }

    /// Sets what happens when a tick is missed, from the next tick on.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed_tick_behavior = behavior;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_deadline_of_each_behaviour() {
        let period = Duration::from_millis(10);
        let scheduled = Instant::now();
        let now = scheduled + Duration::from_millis(32);
        let next = |behavior: MissedTickBehavior| {
            behavior.next_deadline(scheduled, now, period).unwrap() - scheduled
        };
        assert_eq!(next(MissedTickBehavior::Burst), Duration::from_millis(10));
        assert_eq!(next(MissedTickBehavior::Delay), Duration::from_millis(42));
        assert_eq!(next(MissedTickBehavior::Skip), Duration::from_millis(40));
        // Exactly on a grid point: the next one, never `now` itself.
        let on_point = scheduled + Duration::from_millis(30);
        let skip = MissedTickBehavior::Skip.next_deadline(scheduled, on_point, period);
        assert_eq!(skip.unwrap() - scheduled, Duration::from_millis(40));
        assert_eq!(MissedTickBehavior::default(), MissedTickBehavior::Burst);
    }
}
