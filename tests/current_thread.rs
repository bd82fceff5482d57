//! The current-thread runtime: spawning, joining, panics, aborts, fairness, shutdown.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll};

mod common;

use common::{DropCounter, Event};
use spindle::runtime::{Builder, Runtime};
use spindle::task::yield_now;

fn runtime() -> Runtime {
    Builder::new_current_thread().build().unwrap()
}

#[test]
fn spawned_tasks_run_and_join() {
    let rt = runtime();
    let sum = rt.block_on(async {
        let handles: Vec<_> = (0..100u64)
            .map(|i| spindle::spawn(async move { i }))
            .collect();
        let mut sum = 0;
        for handle in handles {
            sum += handle.await.unwrap();
        }
        sum
    });
    assert_eq!(sum, 4950);
    let metrics = rt.metrics();
    assert_eq!(metrics.tasks_spawned, 100);
    assert_eq!(metrics.polls, 100);
    assert_eq!(metrics.wasted_polls, 0);
}

#[test]
fn a_panicking_task_delivers_its_panic_to_the_joiner_and_the_runtime_survives() {
    let rt = runtime();
    let error = rt
        .block_on(async { spindle::spawn(async { panic!("boom") }).await })
        .unwrap_err();
    assert!(error.is_panic());
    assert!(!error.is_cancelled());
    assert!(error.to_string().contains("boom"), "{error}");
    let payload = error.into_panic();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
    // Still usable.
    assert_eq!(
        rt.block_on(async { spindle::spawn(async { 7 }).await.unwrap() }),
        7
    );
}

#[test]
fn an_aborted_task_is_cancelled_and_its_future_dropped_once() {
    let rt = runtime();
    let drops = Arc::new(AtomicUsize::new(0));
    let event = Event::default();
    let result = rt.block_on({
        let drops = drops.clone();
        let event = event.clone();
        async move {
            let guard = DropCounter(drops);
            let handle = spindle::spawn(async move {
                let _guard = guard;
                event.wait().await;
            });
            yield_now().await; // let it start and park on the event
            handle.abort();
            handle.await
        }
    });
    assert!(result.unwrap_err().is_cancelled());
    assert_eq!(drops.load(SeqCst), 1);
    // A wake after abort is harmless.
    event.fire();
    drop(rt);
    assert_eq!(drops.load(SeqCst), 1);
}

#[test]
fn abort_after_completion_keeps_the_output() {
    let rt = runtime();
    let value = rt.block_on(async {
        let handle = spindle::spawn(async { 5 });
        while !handle.is_finished() {
            yield_now().await;
        }
        handle.abort();
        handle.await
    });
    assert_eq!(value.unwrap(), 5);
}

#[test]
fn dropping_the_runtime_cancels_pending_tasks_and_wakes_their_joiners() {
    let drops = Arc::new(AtomicUsize::new(0));
    let event = Event::default();
    let rt = runtime();
    let handles: Vec<_> = (0..10)
        .map(|_| {
            let guard = DropCounter(drops.clone());
            let wait = event.wait();
            rt.spawn(async move {
                let _guard = guard;
                wait.await;
            })
        })
        .collect();
    rt.block_on(yield_now()); // every task polled once, now waiting
    drop(rt);
    assert_eq!(drops.load(SeqCst), 10);
    // The joiners resolve without a runtime: the tasks are complete (cancelled).
    let joined = spindle::block_on(async move {
        let mut cancelled = 0;
        for handle in handles {
            cancelled += usize::from(handle.await.unwrap_err().is_cancelled());
        }
        cancelled
    });
    assert_eq!(joined, 10);
    // Wakers that outlived the runtime may still be woken.
    event.fire();
}

#[test]
fn a_waker_woken_from_another_thread_after_the_runtime_is_gone_is_harmless() {
    let rt = runtime();
    let event = Event::default();
    let _handle = rt.spawn(event.wait());
    rt.block_on(yield_now());
    drop(rt);
    std::thread::spawn(move || event.fire()).join().unwrap();
}

#[test]
fn a_wake_from_another_thread_reaches_the_parked_runtime() {
    let rt = runtime();
    let event = Event::default();
    let (started_tx, started_rx) = mpsc::channel();
    let firer = {
        let event = event.clone();
        std::thread::spawn(move || {
            started_rx.recv().unwrap();
            event.fire();
        })
    };
    rt.block_on(async move {
        let handle = spindle::spawn(event.wait());
        yield_now().await;
        started_tx.send(()).unwrap();
        handle.await.unwrap();
    });
    firer.join().unwrap();
    assert_eq!(rt.metrics().wasted_polls, 0);
}

#[test]
fn spawn_from_another_thread_runs_in_block_on() {
    let rt = runtime();
    let handle = rt.handle().clone();
    let join = std::thread::spawn(move || handle.spawn(async { 3 }))
        .join()
        .unwrap();
    assert_eq!(rt.block_on(join).unwrap(), 3);
}

#[test]
fn an_always_ready_task_cannot_starve_the_others_or_block_on() {
    let rt = runtime();
    let stop = Arc::new(AtomicUsize::new(0));
    rt.block_on({
        let stop = stop.clone();
        async move {
            let spinner = spindle::spawn({
                let stop = stop.clone();
                async move {
                    while stop.load(SeqCst) == 0 {
                        yield_now().await;
                    }
                }
            });
            // Both a second task and this block_on future make progress.
            spindle::spawn(async {}).await.unwrap();
            stop.store(1, SeqCst);
            spinner.await.unwrap();
        }
    });
}

#[test]
#[should_panic(expected = "outside a spindle runtime")]
fn spawn_outside_a_runtime_panics_with_a_clear_message() {
    drop(spindle::spawn(async {}));
}

#[test]
#[should_panic(expected = "cannot block_on inside a spindle runtime")]
fn nested_block_on_panics_instead_of_deadlocking() {
    let rt = runtime();
    rt.block_on(async {
        spindle::block_on(async {});
    });
}

#[test]
fn a_joinhandle_awaited_after_abort_of_a_never_run_task_is_cancelled() {
    let rt = runtime();
    let handle = rt.spawn(async { 1 });
    handle.abort();
    assert!(rt.block_on(handle).unwrap_err().is_cancelled());
}

#[test]
fn dropping_a_runtime_inside_a_task_of_another_runtime_cancels_its_tasks() {
    let outer = runtime();
    let drops = Arc::new(AtomicUsize::new(0));
    let inner = runtime();
    let guard = DropCounter(drops.clone());
    let pending = inner.spawn(async move {
        let _guard = guard;
        std::future::pending::<()>().await;
    });
    outer.block_on(async move {
        spindle::spawn(async move { drop(inner) }).await.unwrap();
    });
    assert_eq!(drops.load(SeqCst), 1);
    assert!(spindle::block_on(pending).unwrap_err().is_cancelled());
}

#[test]
fn spawn_local_runs_non_send_futures() {
    let rt = runtime();
    let value = rt.block_on(async {
        let shared = std::rc::Rc::new(std::cell::Cell::new(1));
        let copy = shared.clone();
        spindle::spawn_local(async move { copy.set(copy.get() + 1) })
            .await
            .unwrap();
        shared.get()
    });
    assert_eq!(value, 2);
}

#[test]
fn join_handles_can_be_awaited_from_another_task() {
    let rt = runtime();
    let value = rt.block_on(async {
        let first = spindle::spawn(async {
            yield_now().await;
            10
        });
        let second = spindle::spawn(async move { first.await.unwrap() + 1 });
        second.await.unwrap()
    });
    assert_eq!(value, 11);
}

#[test]
fn a_detached_task_still_runs_and_its_output_is_dropped() {
    let rt = runtime();
    let drops = Arc::new(AtomicUsize::new(0));
    rt.block_on({
        let drops = drops.clone();
        async move {
            drop(spindle::spawn(async move { DropCounter(drops) }));
            yield_now().await;
            yield_now().await;
        }
    });
    assert_eq!(drops.load(SeqCst), 1);
}

/// A future that counts how often it is polled and is never ready.
struct CountPolls(Arc<AtomicUsize>);
impl Future for CountPolls {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        self.0.fetch_add(1, SeqCst);
        Poll::Pending
    }
}

#[test]
fn a_task_that_is_never_woken_is_polled_once() {
    let rt = runtime();
    let polls = Arc::new(AtomicUsize::new(0));
    rt.block_on({
        let polls = polls.clone();
        async move {
            let _never = spindle::spawn(CountPolls(polls));
            for _ in 0..100 {
                yield_now().await;
            }
        }
    });
    assert_eq!(polls.load(SeqCst), 1);
    assert_eq!(rt.metrics().wasted_polls, 0);
}
