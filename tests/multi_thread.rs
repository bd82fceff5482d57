//! The multi-thread runtime: spawning from everywhere, stealing, parking, shutdown.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Barrier};

mod common;

use common::{DropCounter, Event};
use spindle::runtime::{Builder, Runtime};
use spindle::task::yield_now;

fn runtime(workers: usize) -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(workers)
        .build()
        .unwrap()
}

#[test]
fn many_tasks_spawned_from_inside_and_outside_all_complete() {
    let rt = runtime(2);
    let outside: Vec<_> = (0..1_000u64).map(|i| rt.spawn(async move { i })).collect();
    let total = rt.block_on(async move {
        let inside: Vec<_> = (0..1_000u64)
            .map(|i| spindle::spawn(async move { i * 2 }))
            .collect();
        let mut total = 0;
        for handle in outside.into_iter().chain(inside) {
            total += handle.await.unwrap();
        }
        total
    });
    assert_eq!(total, 499_500 + 999_000);
    let metrics = rt.metrics();
    assert_eq!(metrics.workers, 2);
    assert_eq!(metrics.tasks_spawned, 2_000);
    assert_eq!(metrics.wasted_polls, 0);
}

#[test]
fn tasks_spawned_on_one_worker_are_stolen_by_the_other() {
    let rt = runtime(2);
    // One task spawns many that block their worker briefly on a barrier pair: they can only
    // all finish if both workers run them, so the second worker must steal.
    let barrier = Arc::new(Barrier::new(2));
    rt.block_on({
        let barrier = barrier.clone();
        async move {
            spindle::spawn(async move {
                let handles: Vec<_> = (0..2)
                    .map(|_| {
                        let barrier = barrier.clone();
                        spindle::spawn(async move {
                            barrier.wait();
                        })
                    })
                    .collect();
                for handle in handles {
                    handle.await.unwrap();
                }
            })
            .await
            .unwrap();
        }
    });
    assert!(rt.metrics().steals >= 1, "{:?}", rt.metrics());
}

#[test]
fn wakes_from_plain_threads_reach_parked_workers() {
    let rt = runtime(2);
    let events: Vec<Event> = (0..8).map(|_| Event::default()).collect();
    let handles: Vec<_> = events.iter().map(|event| rt.spawn(event.wait())).collect();
    let (tx, rx) = mpsc::channel::<()>();
    let firer = {
        let events = events.clone();
        std::thread::spawn(move || {
            rx.recv().unwrap();
            for event in events.iter().rev() {
                event.fire();
            }
        })
    };
    tx.send(()).unwrap();
    rt.block_on(async move {
        for handle in handles {
            handle.await.unwrap();
        }
    });
    firer.join().unwrap();
    let metrics = rt.metrics();
    assert_eq!(metrics.wasted_polls, 0);
    assert_eq!(metrics.polls, 8 + metrics.wakes);
}

#[test]
fn yield_heavy_tasks_all_finish() {
    let rt = runtime(2);
    let done = rt.block_on(async {
        let handles: Vec<_> = (0..50)
            .map(|_| {
                spindle::spawn(async {
                    for _ in 0..100 {
                        yield_now().await;
                    }
                })
            })
            .collect();
        let mut done = 0;
        for handle in handles {
            handle.await.unwrap();
            done += 1;
        }
        done
    });
    assert_eq!(done, 50);
}

#[test]
fn a_panicking_task_does_not_take_down_its_worker() {
    let rt = runtime(2);
    let error = rt
        .block_on(async { spindle::spawn(async { panic!("worker boom") }).await })
        .unwrap_err();
    assert!(error.is_panic());
    let sum = rt.block_on(async {
        let handles: Vec<_> = (0..100u32)
            .map(|i| spindle::spawn(async move { i }))
            .collect();
        let mut sum = 0;
        for handle in handles {
            sum += handle.await.unwrap();
        }
        sum
    });
    assert_eq!(sum, 4950);
}

#[test]
fn dropping_the_runtime_cancels_every_task_exactly_once_and_joins_workers() {
    let drops = Arc::new(AtomicUsize::new(0));
    let rt = runtime(2);
    let started = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..100)
        .map(|_| {
            let guard = DropCounter(drops.clone());
            let started = started.clone();
            rt.spawn(async move {
                let _guard = guard;
                started.fetch_add(1, SeqCst);
                std::future::pending::<()>().await;
            })
        })
        .collect();
    // Some tasks may still be queued and some running: either way each is dropped once.
    drop(rt);
    assert_eq!(drops.load(SeqCst), 100);
    let cancelled = spindle::block_on(async move {
        let mut cancelled = 0;
        for handle in handles {
            cancelled += usize::from(handle.await.unwrap_err().is_cancelled());
        }
        cancelled
    });
    assert_eq!(cancelled, 100);
}

#[test]
fn a_runtime_dropped_from_inside_its_own_task_does_not_deadlock() {
    let rt = Arc::new(runtime(2));
    let (tx, rx) = mpsc::channel();
    let rt_in_task = rt.clone();
    let handle = rt.spawn(async move {
        // Wait until the test thread gave up its reference: this drop is the last one.
        let rt_in_task = rt_in_task;
        yield_now().await;
        while Arc::strong_count(&rt_in_task) > 1 {
            yield_now().await;
        }
        drop(rt_in_task);
        tx.send(()).unwrap();
    });
    drop(handle);
    drop(rt);
    rx.recv().unwrap();
}

#[test]
fn a_spawn_refused_after_shutdown_drops_its_future_outside_the_runtime_context() {
    /// A future whose destructor enters another runtime (which needs the thread's runtime
    /// context mutably) and records that it ran.
    struct EntersOnDrop {
        other: Arc<Runtime>,
        dropped: mpsc::Sender<()>,
    }
    impl std::future::Future for EntersOnDrop {
        type Output = ();
        fn poll(
            self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<()> {
            std::task::Poll::Ready(())
        }
    }
    impl Drop for EntersOnDrop {
        fn drop(&mut self) {
            let _entered = self.other.enter();
            self.dropped.send(()).unwrap();
        }
    }

    let rt = runtime(1);
    let handle = rt.handle().clone();
    drop(rt); // shut down: spawns onto `handle` are refused from now on
    let other = Arc::new(runtime(1));
    let (dropped, was_dropped) = mpsc::channel();
    let _entered = handle.enter();
    let join = spindle::spawn(EntersOnDrop { other, dropped });
    was_dropped
        .try_recv()
        .expect("the refused future was dropped at once");
    let error = Runtime::new()
        .unwrap()
        .block_on(join)
        .expect_err("a refused task resolves to an error");
    assert!(error.is_cancelled());
}

#[test]
#[should_panic(expected = "current-thread runtime")]
fn spawn_local_on_a_multi_thread_runtime_panics_clearly() {
    let rt = runtime(1);
    rt.block_on(async {
        drop(spindle::spawn_local(async {}));
    });
}

#[test]
fn zero_workers_is_an_error_not_a_panic() {
    let error = Builder::new_multi_thread()
        .worker_threads(0)
        .build()
        .unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn worker_threads_are_named() {
    let rt = Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("custom")
        .build()
        .unwrap();
    let name = rt.block_on(async {
        spindle::spawn(async { std::thread::current().name().map(str::to_owned) })
            .await
            .unwrap()
    });
    assert_eq!(name.as_deref(), Some("custom-0"));
}

#[test]
fn ping_pong_pairs_exchange_messages() {
    let rt = runtime(2);
    let rounds = rt.block_on(async {
        let pairs: Vec<_> = (0..100)
            .map(|_| {
                spindle::spawn(async {
                    let (ping, pong) = (Event::default(), Event::default());
                    let replier = {
                        let (ping, pong) = (ping.clone(), pong.clone());
                        spindle::spawn(async move {
                            ping.wait().await;
                            pong.fire();
                        })
                    };
                    ping.fire();
                    pong.wait().await;
                    replier.await.unwrap();
                    1
                })
            })
            .collect();
        let mut rounds = 0;
        for pair in pairs {
            rounds += pair.await.unwrap();
        }
        rounds
    });
    assert_eq!(rounds, 100);
    assert_eq!(rt.metrics().wasted_polls, 0);
}

/// A waker that owns the last reference to a runtime, woken (and so dropped) by that very
/// runtime's driver on its worker thread: the runtime's drop runs while this thread is
/// inside the driver. Its shutdown must not wait for the driver this thread holds (it
/// deadlocked on the driver's lock); the drop completes. The drop runs on the worker and the
/// test waits for it with a bound, so a regression fails instead of hanging the suite.
#[test]
fn a_waker_that_drops_its_runtime_from_inside_the_driver_does_not_deadlock() {
    use std::future::Future;
    use std::sync::Mutex;
    use std::task::{Context, Wake, Waker};
    use std::time::Duration;

    struct OwnsTheRuntime {
        runtime: Mutex<Option<Arc<Runtime>>>,
        dropped: Mutex<mpsc::Sender<()>>,
    }
    impl Wake for OwnsTheRuntime {
        fn wake(self: Arc<Self>) {}
    }
    impl Drop for OwnsTheRuntime {
        fn drop(&mut self) {
            drop(self.runtime.lock().unwrap().take());
            let _ = self.dropped.lock().unwrap().send(());
        }
    }

    let (dropped_tx, dropped_rx) = mpsc::channel();
    let runtime = Arc::new(
        Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap(),
    );
    let mut sleep = {
        let _entered = runtime.enter();
        Box::pin(spindle::time::sleep(Duration::from_millis(10)))
    };
    let waker = Waker::from(Arc::new(OwnsTheRuntime {
        runtime: Mutex::new(Some(runtime)),
        dropped: Mutex::new(dropped_tx),
    }));
    assert!(sleep
        .as_mut()
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    // Now only the timer holds the waker, and only the waker holds the runtime: the worker,
    // parked in the driver until the deadline, fires the timer and drops both.
    drop(waker);
    dropped_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the runtime's drop, run from a waker its own driver woke, never finished");
    // The runtime is gone: the timer's later drop has nothing to deregister from.
    drop(sleep);
}

/// A busy worker whose polls are long, with no timer waiting, turns the driver every
/// `event_interval` polls and no more often: extra turns find new I/O every time, so a worker
/// serving many short I/O polls never ran dry or slept (the hyper p99 tail, README). With the
/// earlier rule (a turn every 100 µs) these 305 polls of 20 µs made about 60 turns.
#[test]
fn a_busy_worker_turns_the_driver_every_event_interval_polls_when_no_timer_is_due() {
    const POLLS: usize = 5 * 61;
    let rt = Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .trace(true)
        .build()
        .unwrap();
    let busy = rt.spawn(async {
        for _ in 0..POLLS {
            let start = std::time::Instant::now();
            while start.elapsed() < std::time::Duration::from_micros(20) {}
            yield_now().await;
        }
    });
    rt.block_on(busy).unwrap();
    let trace = rt.shutdown_and_take_trace().unwrap();
    let turns = trace.reactor_turns();
    assert!(
        turns <= POLLS / 61 + 2,
        "{turns} driver turns in {POLLS} polls"
    );
    assert!(
        turns >= POLLS / 61 - 1,
        "{turns} driver turns in {POLLS} polls"
    );
}
