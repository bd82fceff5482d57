//! Time: [`sleep`], [`sleep_until`], [`timeout`] and [`interval`], driven by the reactor's
//! timer wheel.
//!
//! # How a timer works
//! A [`Sleep`] registers nothing until it is first polled and its deadline has not passed
//! yet; then it files an entry in the runtime's hierarchical timer wheel (`wheel.rs`) (6 levels ×
//! 64 slots, 1 ms resolution: O(1) insertion and cancellation). The driver's park timeout is
//! the wheel's next deadline, so an idle runtime sleeps in `epoll_wait` exactly until the
//! next timer. When it wakes it fires the due entries, in deadline order, waking only their
//! tasks. Dropping a `Sleep` cancels and frees its entry.
//!
//! # Guarantees
//! - Never early: a deadline is rounded *up* to the next millisecond tick and fires only once
//!   the clock has passed that tick (`tests/time.rs`, `timers_fire_in_deadline_order_never_early`).
//! - Late by at most one tick (1 ms) plus the time the scheduler takes to get to the task;
//!   the `timers` bench measures it.
//! - A deadline in the past completes at the first poll without touching the wheel; one
//!   years away or at `Duration::MAX` is capped and re-filed, never overflowing.
//! - [`Sleep::reset`] moves the entry and keeps the waiting task's waker: the task is woken at
//!   the new deadline (wheel test `reset_keeps_the_waker`, `tests/differential/io.rs`).
//! - No waker is dropped under the wheel's lock: `poll`, `remove` and `reset` hand a replaced
//!   or removed waker back, and the caller drops (or wakes) it after the unlock.
//! - Once the runtime's driver has shut down, polling a `Sleep`, `Interval` or `Timeout` made
//!   in it panics with "the runtime owning this resource has shut down", as tokio's do.
//!
//! ```
//! use std::time::Duration;
//! use spindle::time::{sleep, timeout, Instant};
//!
//! spindle::block_on(async {
//!     let start = Instant::now();
//!     sleep(Duration::from_millis(5)).await;
//!     assert!(start.elapsed() >= Duration::from_millis(5));
//!
//!     let slow = sleep(Duration::from_secs(60));
//!     assert!(timeout(Duration::from_millis(1), slow).await.is_err());
//! });
//! ```

mod interval;
mod sleep;
mod timeout;
pub(crate) mod wheel;

pub use interval::{interval, interval_at, Interval, MissedTickBehavior};
pub use sleep::{sleep, sleep_until, Sleep};
pub use std::time::Duration;
/// A point in time: `std::time::Instant` itself (re-exported, so spindle's timers and std's
/// clock are one type). Its arithmetic is tokio's `Instant`'s: `later - earlier` and
/// `duration_since` saturate at zero, `checked_add`/`checked_sub`/`checked_duration_since`
/// return `None` instead of overflowing, `+`/`-` with a `Duration` panic on overflow.
/// Tokio's `Instant::from_std`/`into_std` have no counterpart: there is nothing to convert.
pub use std::time::Instant;
pub use timeout::{timeout, timeout_at, Elapsed, Timeout};

/// `now + duration`, or a deadline about 30 years away if that overflows `Instant`: far
/// enough to never fire, near enough for every platform's `Instant` to represent.
pub(crate) fn deadline_after(duration: Duration) -> Instant {
    let now = now();
    now.checked_add(duration).unwrap_or_else(|| far_future(now))
}

/// The timers' "now": `Instant::now()`, except under loom inside a runtime, where it is the
/// runtime's model clock (which starts at the runtime's creation and moves only when every
/// runtime thread is idle, to the next deadline).
pub(crate) fn now() -> Instant {
    #[cfg(loom)]
    if let Ok(handle) = crate::reactor::Handle::current_driver() {
        let timers = handle.timers();
        return handle.now(&timers);
    }
    Instant::now()
}

pub(crate) fn far_future(now: Instant) -> Instant {
    const THIRTY_YEARS: Duration = Duration::from_secs(86_400 * 365 * 30);
    now.checked_add(THIRTY_YEARS).unwrap_or(now)
}
