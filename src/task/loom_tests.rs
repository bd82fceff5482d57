//! Loom models of the task state machine, against a minimal scheduler (a locked queue) so
//! that only the task protocol is under test.

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll, Wake, Waker};

use super::{new_task, JoinError, JoinHandle, Notified, OwnedTask, OwnedTasks, Schedule};
use crate::loom::gate::Gate;
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
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

/// A waker that counts its wakes and tells whether every clone of it was dropped. The counts
/// are loom atomics (`Waker::from` needs std's `Arc` around them).
#[derive(Clone)]
struct Probe(Arc<ProbeCounts>);

struct ProbeCounts {
    wakes: AtomicUsize,
    released: AtomicBool,
}

struct ProbeWaker(Probe);

impl Wake for ProbeWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        (self.0).0.wakes.fetch_add(1, SeqCst);
    }
}

impl Drop for ProbeWaker {
    fn drop(&mut self) {
        (self.0).0.released.store(true, SeqCst);
    }
}

impl Probe {
    fn new() -> Probe {
        Probe(Arc::new(ProbeCounts {
            wakes: AtomicUsize::new(0),
            released: AtomicBool::new(false),
        }))
    }

    /// The one waker of this probe (clones of it share the probe's `Arc`).
    fn waker(&self) -> Waker {
        Waker::from(std::sync::Arc::new(ProbeWaker(self.clone())))
    }

    fn wakes(&self) -> usize {
        self.0.wakes.load(SeqCst)
    }

    fn released(&self) -> bool {
        self.0.released.load(SeqCst)
    }
}

fn poll_handle<T>(handle: &mut JoinHandle<T>, waker: &Waker) -> Poll<Result<T, JoinError>> {
    Pin::new(handle).poll(&mut Context::from_waker(waker))
}

/// A future that gives two clones of its waker to `wakers` on its first poll and is pending
/// until `ready` is set.
fn hand_out_two_wakers(
    wakers: Arc<Mutex<Vec<Waker>>>,
    ready: Arc<AtomicBool>,
) -> impl Future<Output = ()> + Send {
    let mut first = true;
    poll_fn(move |cx| {
        if std::mem::take(&mut first) {
            let mut wakers = wakers.lock().unwrap();
            wakers.push(cx.waker().clone());
            wakers.push(cx.waker().clone());
        }
        if ready.load(SeqCst) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
}

/// Two real wakes of one idle task, one consuming its waker (`wake`) and one by reference
/// (`wake_by_ref`), on two threads: whichever comes second finds the task queued and must not
/// queue it again. (`loom_no_double_scheduling` cannot make two wakes: its gate hands out
/// one waker.)
#[test]
fn loom_two_wakes_by_value_and_by_reference_queue_once() {
    loom::model(|| {
        let scheduler = TestScheduler::new();
        let wakers = Arc::new(Mutex::new(Vec::new()));
        let ready = Arc::new(AtomicBool::new(false));
        let handle = TestScheduler::spawn(
            &scheduler,
            hand_out_two_wakers(wakers.clone(), ready.clone()),
        );
        scheduler.run_queued(); // pending, two wakers handed out
        let (by_value, by_ref) = {
            let mut wakers = wakers.lock().unwrap();
            let by_ref = wakers.pop().unwrap();
            (wakers.pop().unwrap(), by_ref)
        };
        ready.store(true, SeqCst);
        let first = thread::spawn(move || by_value.wake());
        let second = thread::spawn(move || by_ref.wake_by_ref());
        first.join().unwrap();
        second.join().unwrap();
        assert_eq!(
            scheduler.queued(),
            1,
            "two wakes of an idle task, one queue entry"
        );
        assert_eq!(scheduler.wake_entries.load(SeqCst), 1);
        scheduler.run_queued();
        assert!(handle.is_finished());
        drop(handle);
        scheduler.shutdown();
    });
}

/// A `JoinHandle` polled again with a different waker (the awaiting task was moved, or a
/// `select!` re-polls it) while the task completes: either the handle takes the output, or the
/// new waker is the one woken. Taking the waker cell back after `COMPLETE` would write the
/// cell while the completing thread reads it, which loom reports.
#[test]
fn loom_join_handle_repolled_with_a_new_waker_races_completion() {
    loom::model(|| {
        let scheduler = TestScheduler::new();
        let gate = Gate::new();
        let mut handle = TestScheduler::spawn(&scheduler, gate.wait());
        scheduler.run_queued();
        let (old, new) = (Probe::new(), Probe::new());
        assert!(poll_handle(&mut handle, &old.waker()).is_pending());
        let runner = {
            let scheduler = scheduler.clone();
            thread::spawn(move || {
                gate.fire();
                scheduler.run_queued();
            })
        };
        let new_waker = new.waker();
        let polled = poll_handle(&mut handle, &new_waker);
        runner.join().unwrap();
        match polled {
            Poll::Ready(output) => output.unwrap(),
            Poll::Pending => {
                assert_eq!(new.wakes(), 1, "the handle's new waker was not woken");
                assert!(poll_handle(&mut handle, &new_waker).is_ready());
            }
        }
        drop(handle);
        // Replaced, or (if the task completed first) freed with the task.
        assert!(old.released(), "the replaced waker is still held");
        scheduler.shutdown();
    });
}

/// A `JoinHandle` dropped after its task completed owns the output and drops it there and
/// then, not when the last reference goes (here a waker the task kept, as one held by a
/// timer or a socket would be).
#[test]
fn loom_join_handle_dropped_after_completion_drops_the_output_then() {
    loom::model(|| {
        let scheduler = TestScheduler::new();
        let drops = Arc::new(AtomicUsize::new(0));
        let kept = Arc::new(Mutex::new(None::<Waker>));
        let mut output = Some(DropCounter(drops.clone()));
        let keep = kept.clone();
        let handle = TestScheduler::spawn(
            &scheduler,
            poll_fn(move |cx| {
                *keep.lock().unwrap() = Some(cx.waker().clone());
                Poll::Ready(output.take().expect("polled once"))
            }),
        );
        let runner = {
            let scheduler = scheduler.clone();
            thread::spawn(move || scheduler.run_queued())
        };
        drop(handle); // before or after completion
        runner.join().unwrap();
        assert_eq!(
            drops.load(SeqCst),
            1,
            "the output outlived its task and its handle (left for the last reference)"
        );
        drop(kept.lock().unwrap().take()); // the last reference: frees the task
        scheduler.shutdown();
    });
}

/// A `JoinHandle` that registered a waker and is then dropped (it lost a `select!` or a
/// `timeout`) while its task keeps running must release that waker at once: it may be all
/// that keeps the awaiting task, its runtime and its sockets alive (issue 11).
#[test]
fn loom_join_handle_drop_releases_its_waker() {
    loom::model(|| {
        let scheduler = TestScheduler::new();
        let (first, second) = (Gate::new(), Gate::new());
        let (first_wait, second_wait) = (first.wait(), second.wait());
        let mut handle = TestScheduler::spawn(&scheduler, async move {
            first_wait.await;
            second_wait.await;
        });
        scheduler.run_queued();
        let probe = Probe::new();
        assert!(poll_handle(&mut handle, &probe.waker()).is_pending());
        // The task is polled (and stays pending) while the handle goes away.
        let runner = {
            let scheduler = scheduler.clone();
            thread::spawn(move || {
                first.fire();
                scheduler.run_queued();
            })
        };
        drop(handle);
        assert!(
            probe.released(),
            "the dropped JoinHandle's waker is still held by the running task"
        );
        runner.join().unwrap();
        second.fire();
        scheduler.run_queued(); // completes with nobody interested
        assert_eq!(probe.wakes(), 0);
        scheduler.shutdown();
    });
}

/// Runtime shutdown while another thread is polling the task: shutdown only marks it
/// cancelled, and the poller, which owns the future until its poll returns, drops it.
#[test]
fn loom_shutdown_racing_a_poll_leaves_the_future_to_the_poller() {
    loom::model(|| {
        let scheduler = TestScheduler::new();
        let drops = Arc::new(AtomicUsize::new(0));
        let guard = DropCounter(drops.clone());
        let gate = Gate::new();
        let wait = gate.wait();
        let handle = TestScheduler::spawn(&scheduler, async move {
            let _guard = guard;
            wait.await;
        });
        let runner = {
            let scheduler = scheduler.clone();
            thread::spawn(move || scheduler.run_queued())
        };
        scheduler.shutdown(); // before, during or after that poll
        runner.join().unwrap();
        scheduler.run_queued();
        assert_eq!(drops.load(SeqCst), 1, "the future is dropped exactly once");
        assert!(handle.is_finished());
        drop(handle);
        drop(gate);
        scheduler.shutdown();
    });
}
