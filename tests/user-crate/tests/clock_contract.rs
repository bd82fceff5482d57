//! The model clock's contract, model by model: time moves only when every runtime thread is
//! parked with nothing to run and no blocking call is in flight, and then straight to the
//! earliest deadline; so each of these must pass in every interleaving (each under 1 s).
//! Written as attacks on the first multi-thread clock: the ones that failed then (a thread
//! waiting for a current-thread core not counted; a sleeping loop livelocking the model
//! after `block_on` returned or beside a thread outside the runtime; loom's 1,000-branch
//! default) pass now. The contract's one deadlock (a blocking call that waits for a sleeping
//! task holds the clock, as in tokio) is asserted to deadlock.
#![cfg(loom)]

mod common;

use std::time::Duration;

use spindle::time::{interval, sleep, timeout, Instant};

/// The model clock's "now": a zero sleep's deadline.
fn now() -> Instant {
    sleep(Duration::ZERO).deadline()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn mt(bound: usize) -> spindle::model::Builder {
    let mut builder = spindle::model::Builder::new_multi_thread();
    builder.worker_threads(2).preemption_bound(bound);
    builder
}

fn ct(bound: usize) -> spindle::model::Builder {
    let mut builder = spindle::model::Builder::new_current_thread();
    builder.preemption_bound(bound);
    builder
}

/// `ATTACK=part` runs only the models whose name contains `part`.
fn which() -> Option<String> {
    std::env::var("ATTACK").ok()
}

fn run(
    name: &str,
    builder: spindle::model::Builder,
    f: fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
) {
    if let Some(only) = which() {
        if !name.contains(&only) {
            return;
        }
    }
    common::assert_model_passes(name, || builder.check(move || f()));
}

/// An interval ticking in a task on two workers: exact periods.
fn interval_in_task() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async {
        let ticks = spindle::spawn(async {
            let mut ticks = interval(ms(10));
            let first = ticks.tick().await;
            ticks.tick().await;
            let third = ticks.tick().await;
            third - first
        });
        assert_eq!(ticks.await.unwrap(), ms(20));
    })
}

/// Nested timeouts around a pending future: the inner (shorter) fires; and the outer when
/// it is shorter.
fn nested_timeouts() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async {
        let start = now();
        let inner_first = timeout(ms(10), timeout(ms(5), std::future::pending::<()>())).await;
        assert!(matches!(inner_first, Ok(Err(_))));
        assert_eq!(now() - start, ms(5));
        let outer_first = timeout(ms(5), timeout(ms(10), std::future::pending::<()>())).await;
        assert!(outer_first.is_err());
        assert_eq!(now() - start, ms(10));
    })
}

/// block_on awaits the JoinHandle of a sleeping task.
fn join_a_sleeper() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async {
        let start = now();
        let slept = spindle::spawn(async move {
            sleep(ms(30)).await;
            now()
        });
        assert_eq!(slept.await.unwrap() - start, ms(30));
        assert_eq!(now() - start, ms(30));
    })
}

/// JoinSet of sleepers with different deadlines: they complete in deadline order.
fn joinset_order() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async {
        let mut set = spindle::task::JoinSet::new();
        for n in [3u64, 1, 2] {
            set.spawn(async move {
                sleep(ms(n * 10)).await;
                n
            });
        }
        let mut order = Vec::new();
        while let Some(n) = set.join_next().await {
            order.push(n.unwrap());
        }
        assert_eq!(order, [1, 2, 3]);
    })
}

/// select! between a long sleep and a channel fed by another task: the channel wins.
fn select_sleep_vs_channel() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async {
        let (tx, mut rx) = spindle::sync::mpsc::channel(1);
        spindle::spawn(async move {
            spindle::task::yield_now().await;
            tx.send(5).await.unwrap();
        });
        let got = spindle::select! {
            _ = sleep(ms(1)) => None,
            v = rx.recv() => v,
        };
        assert_eq!(got, Some(5));
    })
}

/// A task that spawns a sleeper then ends; block_on sleeps longer; the sleeper's message
/// arrives first.
fn spawn_sleeper_then_end() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async {
        let (tx, rx) = spindle::sync::oneshot::channel();
        spindle::spawn(async move {
            spindle::spawn(async move {
                sleep(ms(10)).await;
                let _ = tx.send(now());
            });
        })
        .await
        .unwrap();
        let start = now();
        let got = timeout(ms(20), rx).await;
        let at = got.expect("sleeper's message within 20 ms").unwrap();
        assert!(at - start <= ms(10));
    })
}

/// Notify + timeout: a task that needs no time notifies; the timeout never fires.
fn notify_timeout() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async {
        let notify = std::sync::Arc::new(spindle::sync::Notify::new());
        let n2 = notify.clone();
        spindle::spawn(async move {
            spindle::task::yield_now().await;
            n2.notify_one();
        });
        assert!(timeout(ms(1), notify.notified()).await.is_ok());
    })
}

/// Sleep::reset to later and to earlier.
fn sleep_reset() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async {
        let start = now();
        let mut s = std::pin::pin!(sleep(ms(10)));
        // register it
        assert!(timeout(ms(1), s.as_mut()).await.is_err());
        assert_eq!(now() - start, ms(1));
        s.as_mut().reset(start + ms(50));
        assert!(timeout(ms(20), s.as_mut()).await.is_err());
        assert_eq!(now() - start, ms(21));
        s.as_mut().reset(start + ms(30));
        s.as_mut().await;
        assert_eq!(now() - start, ms(30));
    })
}

/// A sleep reset inside a task on a worker while block_on waits for it.
fn sleep_reset_in_task() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async {
        let start = now();
        let t = spindle::spawn(async move {
            let mut s = std::pin::pin!(sleep(ms(100)));
            let _ = timeout(ms(1), s.as_mut()).await;
            s.as_mut().reset(start + ms(5));
            s.await;
            now()
        });
        assert_eq!(t.await.unwrap() - start, ms(5));
    })
}

/// block_on returns while a background task still sleeps (once).
fn return_while_background_sleeps(
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async {
        spindle::spawn(sleep(Duration::from_secs(3600)));
        spindle::task::yield_now().await;
    })
}

/// block_on returns while a background task ticks forever.
fn return_while_background_ticks() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
{
    Box::pin(async {
        spindle::spawn(async {
            loop {
                sleep(ms(1)).await;
            }
        });
        sleep(ms(2)).await;
    })
}

/// spawn_blocking whose closure sleeps in a fresh runtime's block_on (no Handle::block_on).
fn blocking_sleeps() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async {
        let got = spindle::spawn_blocking(move || {
            spindle::block_on(async {
                sleep(ms(5)).await;
                3
            })
        })
        .await
        .unwrap();
        assert_eq!(got, 3);
    })
}

/// Two sleepers on two workers with the same deadline, block_on joins both.
fn two_sleepers_same_deadline() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async {
        let start = now();
        let a = spindle::spawn(async move {
            sleep(ms(7)).await;
            now()
        });
        let b = spindle::spawn(async move {
            sleep(ms(7)).await;
            now()
        });
        assert_eq!(a.await.unwrap() - start, ms(7));
        assert_eq!(b.await.unwrap() - start, ms(7));
    })
}

/// A timeout around a task chain that needs no time: ping-pong between two tasks.
fn ping_pong_timeout() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async {
        let (tx1, rx1) = spindle::sync::oneshot::channel::<u32>();
        let (tx2, rx2) = spindle::sync::oneshot::channel::<u32>();
        spindle::spawn(async move {
            let v = rx1.await.unwrap();
            let _ = tx2.send(v + 1);
        });
        let _sleeper = spindle::spawn(sleep(ms(1)));
        let r = timeout(ms(1), async move {
            let _ = tx1.send(1);
            rx2.await.unwrap()
        })
        .await;
        assert_eq!(r, Ok(2));
    })
}

macro_rules! model {
    ($(#[$attr:meta])* $test:ident, $builder:expr, $f:ident) => {
        #[test]
        $(#[$attr])*
        fn $test() {
            run(stringify!($test), $builder, $f);
        }
    };
}

model!(mt1_interval_in_task, mt(1), interval_in_task);
model!(mt2_interval_in_task, mt(2), interval_in_task);
model!(ct2_interval_in_task, ct(2), interval_in_task);
model!(mt1_nested_timeouts, mt(1), nested_timeouts);
model!(ct2_nested_timeouts, ct(2), nested_timeouts);
model!(mt1_join_a_sleeper, mt(1), join_a_sleeper);
model!(mt2_join_a_sleeper, mt(2), join_a_sleeper);
model!(ct2_join_a_sleeper, ct(2), join_a_sleeper);
model!(ct1_joinset_order, ct(1), joinset_order);
model!(mt1_select_sleep_vs_channel, mt(1), select_sleep_vs_channel);
model!(mt2_select_sleep_vs_channel, mt(2), select_sleep_vs_channel);
model!(ct2_select_sleep_vs_channel, ct(2), select_sleep_vs_channel);
model!(mt1_spawn_sleeper_then_end, mt(1), spawn_sleeper_then_end);
model!(ct2_spawn_sleeper_then_end, ct(2), spawn_sleeper_then_end);
model!(mt1_notify_timeout, mt(1), notify_timeout);
model!(mt2_notify_timeout, mt(2), notify_timeout);
model!(ct2_notify_timeout, ct(2), notify_timeout);
model!(ct1_sleep_reset, ct(1), sleep_reset);
model!(mt1_sleep_reset, mt(1), sleep_reset);
model!(mt1_sleep_reset_in_task, mt(1), sleep_reset_in_task);
model!(
    mt1_return_while_background_sleeps,
    mt(1),
    return_while_background_sleeps
);
model!(
    mt2_return_while_background_sleeps,
    mt(2),
    return_while_background_sleeps
);
model!(
    ct1_return_while_background_sleeps,
    ct(1),
    return_while_background_sleeps
);
model!(
    mt1_return_while_background_ticks,
    mt(1),
    return_while_background_ticks
);
model!(
    ct1_return_while_background_ticks,
    ct(1),
    return_while_background_ticks
);
model!(ct1_blocking_sleeps, ct(1), blocking_sleeps);
model!(
    mt1_two_sleepers_same_deadline,
    mt(1),
    two_sleepers_same_deadline
);
model!(mt1_ping_pong_timeout, mt(1), ping_pong_timeout);
model!(ct2_ping_pong_timeout, ct(2), ping_pong_timeout);

fn joinset_two() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async {
        let mut set = spindle::task::JoinSet::new();
        for n in [2u64, 1] {
            set.spawn(async move {
                sleep(ms(n * 10)).await;
                n
            });
        }
        assert_eq!(set.join_next().await.unwrap().unwrap(), 1);
        assert_eq!(set.join_next().await.unwrap().unwrap(), 2);
    })
}

fn joinset_one() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async {
        let mut set = spindle::task::JoinSet::new();
        set.spawn(async move {
            sleep(ms(10)).await;
        });
        set.join_next().await.unwrap().unwrap();
    })
}

/// Three sleepers awaited by JoinHandle, not JoinSet.
fn three_handles() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async {
        let hs: Vec<_> = [3u64, 1, 2]
            .into_iter()
            .map(|n| {
                spindle::spawn(async move {
                    sleep(ms(n * 10)).await;
                    now()
                })
            })
            .collect();
        let start = now();
        let mut at = Vec::new();
        for h in hs {
            at.push(h.await.unwrap() - start);
        }
        assert_eq!(at, [ms(30), ms(10), ms(20)]);
    })
}

fn mtb(bound: usize, branches: usize) -> spindle::model::Builder {
    let mut b = mt(bound);
    b.max_branches(branches);
    b
}

model!(mt1_joinset_two, mt(1), joinset_two);
model!(mt1_joinset_one, mt(1), joinset_one);
model!(mt1_three_handles, mt(1), three_handles);

/// A heartbeat ticks in the background while block_on waits for a thread outside the
/// runtime (not counted: time may pass while it runs).
fn ticker_while_outside_thread() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
{
    Box::pin(async {
        spindle::spawn(async {
            loop {
                sleep(ms(1)).await;
            }
        });
        let (tx, rx) = spindle::sync::oneshot::channel();
        let outside = loom::thread::spawn(move || {
            let _ = tx.send(());
        });
        rx.await.unwrap();
        outside.join().unwrap();
    })
}

/// A blocking call waits for a task that sleeps: the call holds the clock, so the sleep never
/// ends (per the stated contract; tokio's paused clock does the same).
fn blocking_waits_for_a_sleeper() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
{
    Box::pin(async {
        let (tx, rx) = spindle::sync::oneshot::channel();
        spindle::spawn(async move {
            sleep(ms(1)).await;
            let _ = tx.send(4);
        });
        // (`rx.blocking_recv()` panics here: spindle counts a spawn_blocking thread as inside the
        // runtime; a fresh runtime's block_on stands in for it.)
        let got = spindle::spawn_blocking(move || spindle::block_on(rx).unwrap())
            .await
            .unwrap();
        assert_eq!(got, 4);
    })
}

/// Heartbeat interval in the background, block_on returns after some work (the usual shape).
fn heartbeat_then_return() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async {
        spindle::spawn(async {
            let mut beat = interval(Duration::from_secs(1));
            loop {
                beat.tick().await;
            }
        });
        let v = spindle::spawn(async { 1 + 1 }).await.unwrap();
        assert_eq!(v, 2);
    })
}

model!(
    ct1_ticker_while_outside_thread,
    ct(1),
    ticker_while_outside_thread
);
model!(
    mt1_ticker_while_outside_thread,
    mt(1),
    ticker_while_outside_thread
);
/// The contract's one deadlock, asserted: a blocking call that waits for a sleeping task
/// holds the clock, so the sleep never ends and loom reports the deadlock (tokio's paused
/// clock does not auto-advance during a blocking call either).
#[test]
fn ct1_blocking_waits_for_a_sleeper() {
    common::assert_model_fails("ct1_blocking_waits_for_a_sleeper", "deadlock", || {
        ct(1).check(blocking_waits_for_a_sleeper);
    });
}

/// As [`ct1_blocking_waits_for_a_sleeper`], on two workers.
#[test]
fn mt1_blocking_waits_for_a_sleeper() {
    common::assert_model_fails("mt1_blocking_waits_for_a_sleeper", "deadlock", || {
        mt(1).check(blocking_waits_for_a_sleeper);
    });
}
model!(mt1_heartbeat_then_return, mt(1), heartbeat_then_return);
model!(ct1_heartbeat_then_return, ct(1), heartbeat_then_return);

/// A timer wakes a task that then needs no time; a later timeout around its message must not
/// fire.
fn timer_then_no_time() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async {
        let (tx, rx) = spindle::sync::oneshot::channel();
        spindle::spawn(async move {
            sleep(ms(1)).await;
            spindle::task::yield_now().await;
            let _ = tx.send(1);
        });
        assert_eq!(timeout(ms(2), rx).await, Ok(Ok(1)));
    })
}

/// The same with sub-millisecond deadlines (1 ms sleep, 1.5 ms timeout).
fn timer_then_no_time_sub_ms() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async {
        let (tx, rx) = spindle::sync::oneshot::channel();
        spindle::spawn(async move {
            sleep(ms(1)).await;
            let _ = tx.send(1);
        });
        assert_eq!(timeout(Duration::from_micros(1500), rx).await, Ok(Ok(1)));
    })
}

/// timeout(0) around a ready future, and sleep(0), and a deadline in the past.
fn zero_durations() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async {
        let start = now();
        assert_eq!(timeout(Duration::ZERO, async { 1 }).await, Ok(1));
        sleep(Duration::ZERO).await;
        spindle::time::sleep_until(start).await;
        assert!(timeout(Duration::ZERO, std::future::pending::<()>())
            .await
            .is_err());
        assert_eq!(now(), start);
    })
}

model!(mt1_timer_then_no_time, mt(1), timer_then_no_time);
model!(mt2_timer_then_no_time, mt(2), timer_then_no_time);
model!(ct1_timer_then_no_time, ct(1), timer_then_no_time);
model!(
    mt1_timer_then_no_time_sub_ms,
    mt(1),
    timer_then_no_time_sub_ms
);
model!(
    ct1_timer_then_no_time_sub_ms,
    ct(1),
    timer_then_no_time_sub_ms
);
model!(mt1_zero_durations, mt(1), zero_durations);
model!(ct1_zero_durations, ct(1), zero_durations);

/// Two intervals in two tasks on two workers: the log of ticks, by virtual time, never goes
/// backwards (a tick at 6 ms cannot be logged before the runnable tick at 5 ms).
fn two_intervals_in_order() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async {
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let start = now();
        let mut tasks = Vec::new();
        for period in [3u64, 5] {
            let log = log.clone();
            tasks.push(spindle::spawn(async move {
                let mut ticks = interval(ms(period));
                for _ in 0..3 {
                    let at = ticks.tick().await;
                    let seen = now();
                    log.lock().unwrap().push((at - start, seen - start));
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let log = log.lock().unwrap().clone();
        for pair in log.windows(2) {
            assert!(pair[0].1 <= pair[1].1, "time went backwards: {log:?}");
        }
        for (at, seen) in &log {
            assert_eq!(at, seen, "a tick seen late: {log:?}");
        }
    })
}

model!(ct1_two_intervals_in_order, ct(1), two_intervals_in_order);

/// Two threads in block_on of one current-thread runtime (built by hand inside loom): the one
/// waiting for the core sleeps 5 ms, the core holder 10 ms.
#[test]
fn ct_two_block_on_threads() {
    if which().is_some_and(|w| !"ct_two_block_on_threads".contains(&w)) {
        return;
    }
    let start = std::time::Instant::now();
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(1);
    b.check(|| {
        let rt = std::sync::Arc::new(
            spindle::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        );
        let rt2 = rt.clone();
        let other = loom::thread::spawn(move || {
            rt2.block_on(async {
                let s = now();
                sleep(ms(5)).await;
                assert_eq!(now() - s, ms(5));
            })
        });
        rt.block_on(async {
            let s = now();
            sleep(ms(10)).await;
            assert_eq!(now() - s, ms(10));
        });
        other.join().unwrap();
    });
    eprintln!(
        "ct_two_block_on_threads passed in {:.2} s",
        start.elapsed().as_secs_f64()
    );
}
model!(
    mt1_two_intervals_in_order_100k,
    mtb(1, 100_000),
    two_intervals_in_order
);
model!(
    mt1_joinset_order,
    mt(1),
    joinset_order
);
model!(mt1_two_intervals_in_order, mt(1), two_intervals_in_order);
