//! Loom models of the schedulers: the T1/T2/T3 property (with the naive scheduler as its
//! negative control), and wake-ups racing with parking and with shutdown.

use std::future::poll_fn;
use std::sync::atomic::AtomicBool;
use std::task::{Poll, Waker};

use super::naive::NaiveExecutor;
use super::Builder;
use crate::loom::gate::Gate;
use crate::loom::sync::atomic::{AtomicBool as LoomBool, Ordering::SeqCst};
use crate::loom::sync::{Arc, Mutex};
use crate::loom::thread;

/// The article's property, for three tasks of which only T3's event fired: T1 and T2 were
/// polled once (when they started) and never again, and no poll was wasted.
fn t1_t2_t3_property(t1: &Gate, t2: &Gate, wasted_polls: u64) -> Result<(), String> {
    if t1.polls() != 1 || t2.polls() != 1 || wasted_polls != 0 {
        return Err(format!(
            "T1 polled {} times, T2 {} times, {wasted_polls} wasted polls",
            t1.polls(),
            t2.polls()
        ));
    }
    Ok(())
}

#[test]
fn loom_t1_t2_t3_only_the_ready_task_is_polled() {
    loom::model(|| {
        let rt = Builder::new_current_thread().build().unwrap();
        let [t1, t2, t3] = [Gate::new(), Gate::new(), Gate::new()];
        let firer = {
            let t3 = t3.clone();
            thread::spawn(move || t3.fire())
        };
        rt.block_on(async {
            let _t1 = crate::spawn(t1.wait());
            let _t2 = crate::spawn(t2.wait());
            crate::spawn(t3.wait()).await.unwrap();
        });
        firer.join().unwrap();
        let metrics = rt.metrics();
        t1_t2_t3_property(&t1, &t2, metrics.wasted_polls).unwrap();
        // T3 is polled once more only if its event came after its first poll.
        assert!((1..=2).contains(&t3.polls()));
        assert_eq!(metrics.polls as usize, 2 + t3.polls());
    });
}

/// The negative control: the same scenario and the same check on the naive scheduler. The
/// check must catch it in at least one interleaving, or it proves nothing.
#[test]
fn loom_t1_t2_t3_negative_control_catches_the_naive_scheduler() {
    static CAUGHT: AtomicBool = AtomicBool::new(false);
    loom::model(|| {
        let mut executor = NaiveExecutor::new();
        let [t1, t2, t3] = [Gate::new(), Gate::new(), Gate::new()];
        let t3_done = Arc::new(LoomBool::new(false));
        executor.spawn(t1.wait());
        executor.spawn(t2.wait());
        {
            let wait = t3.wait();
            let t3_done = t3_done.clone();
            executor.spawn(async move {
                wait.await;
                t3_done.store(true, SeqCst);
            });
        }
        let firer = {
            let t3 = t3.clone();
            thread::spawn(move || t3.fire())
        };
        executor.run_until(|| t3_done.load(SeqCst));
        firer.join().unwrap();
        if t1_t2_t3_property(&t1, &t2, executor.metrics().wasted_polls).is_err() {
            CAUGHT.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    });
    assert!(
        CAUGHT.load(std::sync::atomic::Ordering::SeqCst),
        "the T1/T2/T3 check never caught the naive scheduler"
    );
}

#[test]
fn loom_wake_racing_with_park_is_not_lost() {
    loom::model(|| {
        let rt = Builder::new_current_thread().build().unwrap();
        let gate = Gate::new();
        let firer = {
            let gate = gate.clone();
            thread::spawn(move || gate.fire())
        };
        // The block_on future itself waits: its wake races with the thread parking. A lost
        // wake-up would leave every thread blocked, which loom reports as a deadlock.
        rt.block_on(gate.wait());
        firer.join().unwrap();
    });
}

#[test]
fn loom_remote_wake_of_a_task_racing_with_park_is_not_lost() {
    loom::model(|| {
        let rt = Builder::new_current_thread().build().unwrap();
        let gate = Gate::new();
        let firer = {
            let gate = gate.clone();
            thread::spawn(move || gate.fire())
        };
        rt.block_on(async { crate::spawn(gate.wait()).await.unwrap() });
        firer.join().unwrap();
        assert_eq!(rt.metrics().wasted_polls, 0);
    });
}

#[test]
fn loom_shutdown_racing_with_a_remote_wake_frees_everything_once() {
    loom::model(|| {
        let rt = Builder::new_current_thread().build().unwrap();
        let gate = Gate::new();
        let handle = rt.spawn(gate.wait());
        rt.block_on(crate::task::yield_now()); // the task is now waiting on the gate
        let firer = {
            let gate = gate.clone();
            thread::spawn(move || gate.fire())
        };
        drop(rt); // cancels the task while the wake may be in flight
        firer.join().unwrap();
        assert!(handle.is_finished());
        // Loom fails the model if a task or the scheduler leaked.
    });
}

/// The metric behind the T1/T2/T3 claim, exercised where it can go wrong: two wakes (one by
/// value, one by reference, on two threads) of an idle task must make one run-queue entry.
/// A second entry would poll the task again with nobody having woken it, and `wasted_polls`
/// counts exactly that, so a broken one-entry rule makes it non-zero (mutation-checked:
/// `ci/mutants/task_wake_by_*_requeues_a_queued_task`).
#[test]
fn loom_two_wakes_of_an_idle_task_poll_it_once() {
    loom::model(|| {
        let rt = Builder::new_current_thread().build().unwrap();
        let wakers = Arc::new(Mutex::new(Vec::<Waker>::new()));
        let handle = {
            let wakers = wakers.clone();
            let mut first = true;
            rt.spawn(poll_fn(move |cx| {
                if std::mem::take(&mut first) {
                    let mut wakers = wakers.lock().unwrap();
                    wakers.push(cx.waker().clone());
                    wakers.push(cx.waker().clone());
                }
                Poll::<()>::Pending
            }))
        };
        rt.block_on(crate::task::yield_now()); // the first poll hands out the two wakers
        let (by_value, by_ref) = {
            let mut wakers = wakers.lock().unwrap();
            let by_ref = wakers.pop().unwrap();
            (wakers.pop().unwrap(), by_ref)
        };
        let first = thread::spawn(move || by_value.wake());
        let second = thread::spawn(move || by_ref.wake_by_ref());
        first.join().unwrap();
        second.join().unwrap();
        rt.block_on(crate::task::yield_now()); // runs whatever the wakes queued
        let metrics = rt.metrics();
        assert_eq!(
            metrics.wasted_polls, 0,
            "a task nobody woke was polled: two run-queue entries for one task"
        );
        assert_eq!(metrics.polls, 2);
        drop(handle);
        drop(rt);
    });
}
