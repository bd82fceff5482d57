//! Loom models of the task state machine, against a minimal scheduler (a locked queue) so
//! that only the task protocol is under test.

use std::collections::VecDeque;

use super::{new_task, JoinHandle, Notified, OwnedTask, OwnedTasks, Schedule};
use crate::loom::gate::Gate;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::loom::sync::{Arc, Mutex};
use crate::loom::thread;

struct TestScheduler {
    queue: Mutex<VecDeque<Notified<Arc<TestScheduler>>>>,
    owned: OwnedTasks<Arc<TestScheduler>>,
    /// Queue entries created by wakes (not by spawn).
    wake_entries: AtomicUsize,
}

impl Schedule for Arc<TestScheduler> {
    fn schedule(&self, task: Notified<Self>) {
        self.wake_entries.fetch_add(1, SeqCst);
        self.queue.lock().unwrap().push_back(task);
    }

    fn release(&self, task: &OwnedTask<Self>) -> Option<OwnedTask<Self>> {
        self.owned.remove(task)
    }
}

impl TestScheduler {
    fn new() -> Arc<TestScheduler> {
        Arc::new(TestScheduler {
            queue: Mutex::new(VecDeque::new()),
            owned: OwnedTasks::new(1),
            wake_entries: AtomicUsize::new(0),
        })
    }

    fn spawn<F: std::future::Future + Send + 'static>(
        this: &Arc<Self>,
        future: F,
    ) -> JoinHandle<F::Output> {
        let (owned, notified, join) = new_task(future, this.clone());
        assert!(this.owned.insert(owned).is_ok());
        this.queue.lock().unwrap().push_back(notified);
        join
    }

    /// Runs queued tasks until the queue is empty.
    fn run_queued(&self) {
        loop {
            let next = self.queue.lock().unwrap().pop_front();
            match next {
                Some(task) => {
                    task.run(&Default::default());
                }
                None => return,
            }
        }
    }

    fn queued(&self) -> usize {
        self.queue.lock().unwrap().len()
    }

    /// Cancels everything and drops every entry, breaking the scheduler <-> task cycle.
    fn shutdown(&self) {
        for task in self.owned.close_and_take_all() {
            task.shutdown();
        }
        let drained: Vec<_> = self.queue.lock().unwrap().drain(..).collect();
        drop(drained);
    }
}

/// Counts drops of a value, to prove "exactly once".
struct DropCounter(Arc<AtomicUsize>);
impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn loom_no_double_scheduling() {
    loom::model(|| {
        let scheduler = TestScheduler::new();
        let gate = Gate::new();
        let handle = TestScheduler::spawn(&scheduler, gate.wait());
        scheduler.run_queued(); // first poll: pending, the gate holds the waker
        let waker_holder = gate.clone();
        // Two threads wake the same task before it runs again.
        let first = thread::spawn(move || waker_holder.fire());
        let second_gate = gate.clone();
        let second = thread::spawn(move || second_gate.fire());
        first.join().unwrap();
        second.join().unwrap();
        assert_eq!(scheduler.queued(), 1, "two wakes, one queue entry");
        assert_eq!(scheduler.wake_entries.load(SeqCst), 1);
        scheduler.run_queued();
        assert!(handle.is_finished());
        assert_eq!(gate.polls(), 2);
        drop(handle);
        scheduler.shutdown();
    });
}

#[test]
fn loom_wake_during_poll_is_not_lost() {
    loom::model(|| {
        let scheduler = TestScheduler::new();
        let gate = Gate::new();
        let handle = TestScheduler::spawn(&scheduler, gate.wait());
        let firer = {
            let gate = gate.clone();
            thread::spawn(move || gate.fire())
        };
        // The fire may land before, during or after this poll.
        scheduler.run_queued();
        firer.join().unwrap();
        scheduler.run_queued();
        assert!(handle.is_finished(), "the wake-up was lost");
        assert!(gate.polls() <= 2);
        drop(handle);
        scheduler.shutdown();
    });
}

#[test]
fn loom_join_handle_drop_races_completion() {
    loom::model(|| {
        let scheduler = TestScheduler::new();
        let drops = Arc::new(AtomicUsize::new(0));
        let output = DropCounter(drops.clone());
        let handle = TestScheduler::spawn(&scheduler, async move { output });
        let runner = {
            let scheduler = scheduler.clone();
            thread::spawn(move || scheduler.run_queued())
        };
        drop(handle); // detaches, racing with completion
        runner.join().unwrap();
        assert_eq!(drops.load(SeqCst), 1, "the output is dropped exactly once");
        scheduler.shutdown();
        // Loom fails the model if the task (which holds an `Arc` of the scheduler) leaked.
    });
}

#[test]
fn loom_join_handle_reads_output_exactly_once() {
    loom::model(|| {
        let scheduler = TestScheduler::new();
        let handle = TestScheduler::spawn(&scheduler, async { 7 });
        let runner = {
            let scheduler = scheduler.clone();
            thread::spawn(move || scheduler.run_queued())
        };
        // Awaiting registers the join waker, racing with completion.
        let output = crate::loom::gate::block_on(handle);
        assert_eq!(output.unwrap(), 7);
        runner.join().unwrap();
        scheduler.shutdown();
    });
}

#[test]
fn loom_abort_races_completion() {
    loom::model(|| {
        let scheduler = TestScheduler::new();
        let gate = Gate::new();
        let drops = Arc::new(AtomicUsize::new(0));
        let guard = DropCounter(drops.clone());
        let wait = gate.wait();
        let handle = TestScheduler::spawn(&scheduler, async move {
            let _guard = guard;
            wait.await;
        });
        scheduler.run_queued();
        let racer = {
            let scheduler = scheduler.clone();
            let gate = gate.clone();
            thread::spawn(move || {
                gate.fire();
                scheduler.run_queued();
            })
        };
        handle.abort();
        scheduler.run_queued();
        racer.join().unwrap();
        scheduler.run_queued();
        assert!(handle.is_finished());
        assert_eq!(drops.load(SeqCst), 1, "the future is dropped exactly once");
        // Either the gate won (output) or the abort did (cancelled); never anything else.
        match crate::loom::gate::block_on(handle) {
            Ok(()) => {}
            Err(error) => assert!(error.is_cancelled()),
        }
        scheduler.shutdown();
    });
}

#[test]
fn loom_join_handle_drop_races_shutdown() {
    loom::model(|| {
        let scheduler = TestScheduler::new();
        let gate = Gate::new();
        let drops = Arc::new(AtomicUsize::new(0));
        let guard = DropCounter(drops.clone());
        let wait = gate.wait();
        let handle = TestScheduler::spawn(&scheduler, async move {
            let _guard = guard;
            wait.await;
        });
        scheduler.run_queued();
        // The joiner goes away on another thread while the runtime shuts the task down.
        let dropper = thread::spawn(move || drop(handle));
        scheduler.shutdown();
        dropper.join().unwrap();
        assert_eq!(drops.load(SeqCst), 1, "the future is dropped exactly once");
        // Loom fails the model if the task was freed twice or never.
    });
}
