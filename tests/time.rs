//! Timers: deadline order, never early, past and far deadlines, timeouts, intervals, and
//! cancellation by drop. No test depends on how late a timer is (that is measured in the
//! benches), only on the order of deadlines and on never firing early.

use std::future::poll_fn;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Wake, Waker};

use spindle::runtime::{Builder, Runtime};
use spindle::time::{
    interval, interval_at, sleep, sleep_until, timeout, Duration, Elapsed, Instant,
};

fn runtime() -> Runtime {
    Builder::new_current_thread().build().unwrap()
}

#[test]
fn timers_fire_in_deadline_order_never_early() {
    let rt = runtime();
    let log = Arc::new(Mutex::new(Vec::new()));
    rt.block_on(async {
        let start = Instant::now();
        // Deadlines 1..=40 ms, spawned in a scrambled order.
        let order: Vec<u64> = (1..=40u64).map(|i| (i * 17) % 41).collect();
        let handles: Vec<_> = order
            .iter()
            .map(|&ms| {
                let log = log.clone();
                let deadline = start + Duration::from_millis(ms);
                spindle::spawn(async move {
                    sleep_until(deadline).await;
                    let now = Instant::now();
                    log.lock().unwrap().push((ms, now >= deadline));
                })
            })
            .collect();
        for handle in handles {
            handle.await.unwrap();
        }
    });
    let log = log.lock().unwrap();
    let fired: Vec<u64> = log.iter().map(|&(ms, _)| ms).collect();
    assert_eq!(fired, (1..=40).collect::<Vec<_>>(), "deadline order");
    assert!(
        log.iter().all(|&(_, on_time)| on_time),
        "a timer fired early"
    );
    assert_eq!(rt.metrics().wasted_polls, 0);
}

#[test]
fn sleep_in_the_past_or_zero_completes_at_once() {
    let rt = runtime();
    rt.block_on(async {
        let past = Instant::now()
            .checked_sub(Duration::from_secs(3600))
            .unwrap_or_else(Instant::now);
        let sleep_past = sleep_until(past);
        assert!(!sleep_past.is_elapsed());
        let mut sleep_past = sleep_past;
        // Completes on its first poll.
        let first = poll_fn(|cx| Poll::Ready(Pin::new(&mut sleep_past).poll(cx))).await;
        assert!(first.is_ready());
        assert!(sleep_past.is_elapsed());
        sleep(Duration::ZERO).await;
    });
}

#[test]
fn timeout_returns_elapsed_and_passes_ready_output_through() {
    let rt = runtime();
    rt.block_on(async {
        assert_eq!(timeout(Duration::from_secs(1), async { 5 }).await, Ok(5));
        let start = Instant::now();
        let result = timeout(Duration::from_millis(10), sleep(Duration::from_secs(3600))).await;
        assert!(matches!(result, Err(Elapsed { .. })));
        assert!(start.elapsed() >= Duration::from_millis(10), "never early");
        assert_eq!(
            std::io::Error::from(result.unwrap_err()).kind(),
            std::io::ErrorKind::TimedOut
        );
    });
}

#[test]
fn far_deadlines_do_not_panic_or_overflow() {
    let rt = runtime();
    rt.block_on(async {
        let years = Duration::from_secs(86_400 * 365 * 5);
        for far in [years, Duration::MAX, Duration::from_secs(u64::MAX)] {
            let result = timeout(Duration::from_millis(2), sleep(far)).await;
            assert!(result.is_err());
        }
        // A timeout that is effectively "never" around a quick future.
        assert_eq!(timeout(Duration::MAX, async { 1 }).await, Ok(1));
        assert_eq!(
            timeout(Duration::MAX, sleep(Duration::from_millis(1))).await,
            Ok(())
        );
    });
}

struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn dropping_a_sleep_cancels_its_timer() {
    let rt = runtime();
    rt.block_on(async {
        let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let mut cx = std::task::Context::from_waker(&waker);
        let mut cancelled = sleep(Duration::from_millis(2));
        assert!(Pin::new(&mut cancelled).poll(&mut cx).is_pending()); // now in the wheel
        drop(cancelled);
        // A later deadline: by the time it fires, the dropped one's tick has been processed.
        sleep(Duration::from_millis(10)).await;
        assert_eq!(counter.0.load(SeqCst), 0, "a dropped sleep woke its waker");
    });
}

#[test]
fn reset_moves_a_sleep() {
    let rt = runtime();
    rt.block_on(async {
        let start = Instant::now();
        let mut slow = sleep(Duration::from_secs(3600));
        // Register it, then move it earlier.
        assert!(timeout(Duration::from_millis(1), &mut slow).await.is_err());
        slow.reset(start + Duration::from_millis(5));
        slow.await;
        assert!(start.elapsed() >= Duration::from_millis(5));
    });
}

#[test]
fn interval_ticks_on_schedule_and_bursts_to_catch_up() {
    let rt = runtime();
    rt.block_on(async {
        let period = Duration::from_millis(3);
        let mut ticks = interval(period);
        let first = ticks.tick().await;
        let second = ticks.tick().await;
        let third = ticks.tick().await;
        assert_eq!(second - first, period);
        assert_eq!(third - second, period);
        assert!(Instant::now() >= third, "never early");

        // Started in the past: the missed ticks come at once, on their schedule.
        let start = Instant::now()
            .checked_sub(Duration::from_millis(30))
            .expect("the clock is past 30 ms");
        let mut behind = interval_at(start, Duration::from_millis(10));
        for k in 0..3 {
            assert_eq!(behind.tick().await, start + Duration::from_millis(10 * k));
        }
    });
}

#[test]
#[should_panic(expected = "no spindle runtime")]
fn sleep_outside_a_runtime_panics_with_a_clear_message() {
    drop(sleep(Duration::from_millis(1)));
}

#[test]
fn many_timers_all_fire_and_leave_nothing_behind() {
    let rt = runtime();
    let fired = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let start = Instant::now();
        let handles: Vec<_> = (0..2_000u64)
            .map(|i| {
                let fired = fired.clone();
                spindle::spawn(async move {
                    sleep_until(start + Duration::from_micros(i * 13)).await;
                    fired.fetch_add(1, SeqCst);
                })
            })
            .collect();
        for handle in handles {
            handle.await.unwrap();
        }
    });
    assert_eq!(fired.load(SeqCst), 2_000);
    assert_eq!(rt.metrics().wasted_polls, 0);
}
