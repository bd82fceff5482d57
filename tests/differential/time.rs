//! `Interval`'s missed-tick behaviours and `Instant` arithmetic (issue 14 §2), on spindle
//! and on tokio. Tokio's paused clock cannot drive spindle, so both run on the real clock:
//! the task stalls its thread past several deadlines (that is how a tick is missed), and
//! each assertion is a relation between instants the test observed (the stall's end, a tick's
//! return) and the instants the intervals returned, never a guess about how long something
//! took. Both runtimes must satisfy the same relations.

use std::time::{Duration, Instant};

const PERIOD: Duration = Duration::from_millis(20);
/// How long the task blocks its thread: several periods, so several ticks are missed.
const STALL: Duration = Duration::from_millis(110);

/// How late a tick may be polled before it counts as missed: 5 ms, in both runtimes.
const SLACK: Duration = Duration::from_millis(5);

/// What a scenario observed: the first tick (the grid's origin) and when it returned, the end
/// of the stall, and for the three ticks after it, each returned deadline and the time `tick`
/// returned.
#[derive(Debug)]
struct Observed {
    start: Instant,
    start_returned: Instant,
    stall_end: Instant,
    ticks: Vec<(Instant, Instant)>,
}

/// `start + k * PERIOD` for some whole `k`?
fn on_grid(start: Instant, at: Instant) -> bool {
    (at - start).as_nanos() % PERIOD.as_nanos() == 0
}

macro_rules! scenarios {
    ($side:ident, $rt:ident, $runtime:expr, $to_std:expr) => {
        mod $side {
            use super::*;
            use $rt::time::{interval, MissedTickBehavior};

            pub fn run(behavior: Option<MissedTickBehavior>) -> Observed {
                let to_std = $to_std;
                $runtime.block_on(async move {
                    let mut ticks = interval(PERIOD);
                    assert_eq!(ticks.missed_tick_behavior(), MissedTickBehavior::Burst);
                    assert_eq!(ticks.period(), PERIOD);
                    if let Some(behavior) = behavior {
                        ticks.set_missed_tick_behavior(behavior);
                        assert_eq!(ticks.missed_tick_behavior(), behavior);
                    }
                    let start = to_std(ticks.tick().await);
                    let start_returned = Instant::now();
                    std::thread::sleep(STALL); // the task is busy: ticks are missed
                    let stall_end = Instant::now();
                    let mut observed = Vec::new();
                    for _ in 0..3 {
                        let scheduled = to_std(ticks.tick().await);
                        observed.push((scheduled, Instant::now()));
                    }
                    Observed {
                        start,
                        start_returned,
                        stall_end,
                        ticks: observed,
                    }
                })
            }

            pub const BURST: Option<MissedTickBehavior> = Some(MissedTickBehavior::Burst);
            pub const DELAY: Option<MissedTickBehavior> = Some(MissedTickBehavior::Delay);
            pub const SKIP: Option<MissedTickBehavior> = Some(MissedTickBehavior::Skip);

            /// `reset` moves the next tick a period past the reset.
            pub fn reset() -> (bool, bool) {
                let to_std = $to_std;
                $runtime.block_on(async move {
                    let mut ticks = interval(PERIOD);
                    ticks.tick().await;
                    let before_reset = Instant::now();
                    ticks.reset();
                    let next = to_std(ticks.tick().await);
                    (next >= before_reset + PERIOD, Instant::now() >= next)
                })
            }
        }
    };
}

scenarios!(
    spindle_side,
    spindle,
    spindle::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap(),
    |instant: Instant| instant
);
scenarios!(
    tokio_side,
    tokio,
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap(),
    |instant: tokio::time::Instant| instant.into_std()
);

/// Burst: the missed ticks come back at once, one per call, each with its own deadline on
/// the grid, so the count of ticks catches up with the schedule.
fn check_burst(side: &str, o: &Observed) {
    for (k, &(scheduled, _)) in o.ticks.iter().enumerate() {
        assert_eq!(
            scheduled,
            o.start + PERIOD * (k as u32 + 1),
            "{side}: {o:?}"
        );
    }
    // The stall covered more than three periods: all three were due before it ended and
    // were returned without waiting for their deadlines (they had passed).
    assert!(o.start + PERIOD * 3 < o.stall_end, "{side}: {o:?}");
    assert!(
        o.ticks
            .iter()
            .all(|&(scheduled, _)| scheduled < o.stall_end),
        "{side}: {o:?}"
    );
}

/// The deadline of the first tick after `start`, for `Delay` and `Skip`: `start + PERIOD`,
/// unless the first tick itself was polled more than the slack late (a loaded machine can
/// deschedule the test's thread that long, and both runtimes then restart the schedule from
/// that poll already): then it lies between `start + PERIOD` and a period after the first
/// tick returned.
fn check_first_missed(side: &str, o: &Observed, late: Instant) {
    if o.start_returned - o.start <= SLACK {
        assert_eq!(late, o.start + PERIOD, "{side}: {o:?}");
    } else {
        assert!(late >= o.start + PERIOD, "{side}: {o:?}");
        assert!(late <= o.start_returned + PERIOD, "{side}: {o:?}");
    }
}

/// Delay: one late tick (the first missed deadline), then the schedule restarts a period
/// after the moment that late tick was taken.
fn check_delay(side: &str, o: &Observed) {
    let (late, late_returned) = o.ticks[0];
    check_first_missed(side, o, late);
    let (second, _) = o.ticks[1];
    assert!(second >= o.stall_end + PERIOD, "{side}: {o:?}");
    assert!(second <= late_returned + PERIOD, "{side}: {o:?}");
    let (third, _) = o.ticks[2];
    assert!(third >= second + PERIOD, "{side}: {o:?}");
}

/// Skip: one late tick, then the first deadline on the original grid after it was taken.
fn check_skip(side: &str, o: &Observed) {
    let (late, late_returned) = o.ticks[0];
    check_first_missed(side, o, late);
    let (second, _) = o.ticks[1];
    assert!(on_grid(o.start, second), "{side}: {o:?}");
    assert!(second > o.stall_end, "{side}: {o:?}");
    assert!(second - PERIOD <= late_returned, "{side}: {o:?}");
    let (third, _) = o.ticks[2];
    assert!(on_grid(o.start, third) && third > second, "{side}: {o:?}");
}

#[test]
fn burst_is_the_default_and_catches_up() {
    check_burst("spindle", &spindle_side::run(None));
    check_burst("tokio", &tokio_side::run(None));
    check_burst("spindle", &spindle_side::run(spindle_side::BURST));
    check_burst("tokio", &tokio_side::run(tokio_side::BURST));
}

#[test]
fn delay_restarts_the_schedule_from_the_late_tick() {
    check_delay("spindle", &spindle_side::run(spindle_side::DELAY));
    check_delay("tokio", &tokio_side::run(tokio_side::DELAY));
}

#[test]
fn skip_keeps_the_grid_and_drops_missed_ticks() {
    check_skip("spindle", &spindle_side::run(spindle_side::SKIP));
    check_skip("tokio", &tokio_side::run(tokio_side::SKIP));
}

#[test]
fn reset_moves_the_next_tick_a_period_on() {
    assert_eq!(spindle_side::reset(), tokio_side::reset());
    assert_eq!(spindle_side::reset(), (true, true));
}

/// `spindle::time::Instant` is std's; its arithmetic matches tokio's `Instant` on observed
/// instants, including the saturating and checked cases.
#[test]
fn instant_arithmetic_matches_tokio() {
    let earlier = spindle::time::Instant::now();
    std::thread::yield_now();
    let mut later = spindle::time::Instant::now();
    while later == earlier {
        later = spindle::time::Instant::now();
    }
    let (t_earlier, t_later) = (
        tokio::time::Instant::from_std(earlier),
        tokio::time::Instant::from_std(later),
    );
    let d = Duration::from_millis(7);
    assert_eq!(later - earlier, t_later - t_earlier);
    assert_eq!(earlier - later, t_earlier - t_later); // saturates at zero in both
    assert_eq!(earlier - later, Duration::ZERO);
    assert_eq!(
        earlier.duration_since(later),
        t_earlier.duration_since(t_later)
    );
    assert_eq!(
        earlier.checked_duration_since(later),
        t_earlier.checked_duration_since(t_later)
    );
    assert_eq!(
        later.checked_duration_since(earlier),
        t_later.checked_duration_since(t_earlier)
    );
    assert_eq!(
        earlier.saturating_duration_since(later),
        t_earlier.saturating_duration_since(t_later)
    );
    assert_eq!(
        (earlier + d).duration_since(earlier),
        (t_earlier + d) - t_earlier
    );
    assert_eq!((later - d) + d, later);
    assert_eq!(((t_later - d) + d).into_std(), later);
    assert_eq!(earlier.checked_add(Duration::MAX), None);
    assert_eq!(t_earlier.checked_add(Duration::MAX), None);
    assert_eq!(
        earlier.checked_add(d).map(|i| i - earlier),
        t_earlier.checked_add(d).map(|i| i - t_earlier)
    );
    let mut moved = earlier;
    let mut t_moved = t_earlier;
    moved += d;
    t_moved += d;
    moved -= d / 2;
    t_moved -= d / 2;
    assert_eq!(t_moved.into_std(), moved);
    assert!(earlier.elapsed() >= later - earlier);
}

/// How long each poll of the busy task below computes.
const BUSY_POLL: Duration = Duration::from_micros(50);
/// The sleep that must fire while the busy task keeps the only worker busy.
const SHORT_SLEEP: Duration = Duration::from_millis(1);

/// One worker, kept busy by a task that computes for `BUSY_POLL` and yields, over and over; a
/// sleep of `SHORT_SLEEP`, filed before the busy task starts. Returns how many polls the busy
/// task had finished when the sleep's task ran. The count, not a time: every poll takes at
/// least `BUSY_POLL` of wall time however loaded the machine is, so the deadline (at most
/// 2 ms after the sleep was filed, with the timer tick's rounding) has passed by poll 40.
macro_rules! busy_worker_scenario {
    ($name:ident, $rt:ident, $runtime:expr) => {
        fn $name() -> usize {
            use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
            use std::sync::{mpsc, Arc};
            let runtime = $runtime;
            let polls = Arc::new(AtomicUsize::new(0));
            let done = Arc::new(AtomicBool::new(false));
            let (filed_tx, filed_rx) = mpsc::channel();
            let sleeper = runtime.spawn({
                let (polls, done) = (polls.clone(), done.clone());
                async move {
                    let sleep = $rt::time::sleep(SHORT_SLEEP);
                    let mut sleep = std::pin::pin!(sleep);
                    // The first poll files the timer.
                    $rt::select! {
                        biased;
                        _ = &mut sleep => panic!("a 1 ms sleep completed at once"),
                        _ = std::future::ready(()) => {}
                    }
                    filed_tx.send(()).unwrap();
                    sleep.await;
                    let seen = polls.load(SeqCst);
                    done.store(true, SeqCst);
                    seen
                }
            });
            filed_rx.recv().unwrap();
            let busy = runtime.spawn(async move {
                while !done.load(SeqCst) {
                    let start = Instant::now();
                    while start.elapsed() < BUSY_POLL {}
                    polls.fetch_add(1, SeqCst);
                    $rt::task::yield_now().await;
                }
            });
            let seen = runtime.block_on(sleeper).unwrap();
            runtime.block_on(busy).unwrap();
            seen
        }
    };
}

busy_worker_scenario!(
    spindle_busy_worker,
    spindle,
    spindle::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
);
busy_worker_scenario!(
    tokio_busy_worker,
    tokio,
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
);

/// A timer is not kept waiting for the busy worker's periodic driver turn (every 61 polls,
/// here 3 ms): tokio looks at its driver whenever only yielded tasks are left, spindle checks
/// the next timer about every 100 µs (`worker::DriverTurns`). Without that check the sleep
/// fired after about 61 polls.
#[test]
fn a_timer_fires_while_the_only_worker_is_busy_with_long_polls() {
    // Deadline by poll 40, plus the check's granularity (a check every 100 µs, two polls).
    const BY: usize = 45;
    let spindle = spindle_busy_worker();
    let tokio = tokio_busy_worker();
    assert!(
        spindle <= BY,
        "spindle: the sleep fired after {spindle} polls"
    );
    assert!(tokio <= BY, "tokio: the sleep fired after {tokio} polls");
}
