//! Loom models of the work-stealing scheduler: the queue, parking, T1/T2/T3 on two workers,
//! and shutdown racing with a steal.

use std::collections::HashSet;

use super::queue::{self, LifoSlot, Local, CAPACITY};
use crate::executor::inject::Inject;
use crate::executor::Builder;
use crate::loom::gate::Gate;
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use crate::loom::sync::Arc;
use crate::loom::thread;
use crate::task::{new_task, Id, Notified, OwnedTask, Schedule};

/// A scheduler that never runs anything: the queue models only move entries around.
struct Inert;

impl Schedule for Inert {
    fn schedule(&self, task: Notified<Self>) {
        drop(task);
    }
    fn release(&self, _: &OwnedTask<Self>) -> Option<OwnedTask<Self>> {
        None
    }
}

/// A queue entry for a task that is never polled; dropping the entry frees the task.
fn entry() -> Notified<Inert> {
    let (owned, notified, join) = new_task(async {}, Inert);
    drop(owned);
    drop(join);
    notified
}

/// Takes every entry out of a local queue, recording ids.
fn drain(local: &mut Local<Inert>, seen: &mut Vec<Id>) {
    while let Some(task) = local.pop() {
        seen.push(task.id());
    }
}

fn assert_each_exactly_once(pushed: &[Id], seen: &[Id]) {
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(
        unique.len(),
        seen.len(),
        "an entry came out twice: {seen:?}"
    );
    assert_eq!(
        seen.len(),
        pushed.len(),
        "an entry was lost: {pushed:?} vs {seen:?}"
    );
}

#[test]
fn loom_queue_push_pop_racing_two_stealers() {
    loom::model(|| {
        let inject = Arc::new(Inject::new());
        let (steal, mut local) = queue::local::<Inert>();
        let steal = Arc::new(steal);
        let mut pushed = Vec::new();
        for _ in 0..3 {
            let task = entry();
            pushed.push(task.id());
            local.push_back(task, &inject);
        }
        let thieves: Vec<_> = (0..2)
            .map(|_| {
                let steal = steal.clone();
                thread::spawn(move || {
                    let (_, mut mine) = queue::local::<Inert>();
                    let mut seen = Vec::new();
                    if let Some((task, _)) = steal.steal_into(&mut mine) {
                        seen.push(task.id());
                    }
                    drain(&mut mine, &mut seen);
                    seen
                })
            })
            .collect();
        let mut seen = Vec::new();
        if let Some(task) = local.pop() {
            seen.push(task.id());
        }
        let task = entry();
        pushed.push(task.id());
        local.push_back(task, &inject);
        for thief in thieves {
            seen.extend(thief.join().unwrap());
        }
        drain(&mut local, &mut seen);
        while let Some(task) = inject.pop() {
            seen.push(task.id());
        }
        assert_each_exactly_once(&pushed, &seen);
    });
}

#[test]
fn loom_queue_overflow_to_injector() {
    loom::model(|| {
        let inject = Arc::new(Inject::new());
        let (steal, mut local) = queue::local::<Inert>();
        let mut pushed = Vec::new();
        for _ in 0..CAPACITY {
            let task = entry();
            pushed.push(task.id());
            local.push_back(task, &inject);
        }
        let thief = thread::spawn(move || {
            let (_, mut mine) = queue::local::<Inert>();
            let mut seen = Vec::new();
            if let Some((task, _)) = steal.steal_into(&mut mine) {
                seen.push(task.id());
            }
            drain(&mut mine, &mut seen);
            seen
        });
        // The ring is full (unless the thief got there first): this push overflows half of it.
        let task = entry();
        pushed.push(task.id());
        local.push_back(task, &inject);
        let mut seen = thief.join().unwrap();
        drain(&mut local, &mut seen);
        while let Some(task) = inject.pop() {
            seen.push(task.id());
        }
        assert_each_exactly_once(&pushed, &seen);
    });
}

/// The LIFO slot hands an entry from the worker that filled it to a thief that runs it. The
/// entry is made after the thief started, so only the slot's swaps can order its making
/// before the thief's run; the task's hand-off cell makes loom check that they do. (In the
/// runtime the thief is usually woken by the pusher's notify, which orders it anyway; this
/// model is the case of a thief that was already awake.)
#[test]
fn loom_lifo_slot_publishes_its_entry_to_a_thief() {
    loom::model(|| {
        let slot = Arc::new(LifoSlot::<Inert>::new());
        let thief = {
            let slot = slot.clone();
            thread::spawn(move || match slot.take() {
                Some(task) => {
                    task.run(&Default::default());
                    true
                }
                None => false,
            })
        };
        assert!(slot.replace(entry()).is_none());
        if !thief.join().unwrap() {
            // The thief looked too early: the owner takes it back.
            slot.take()
                .expect("the entry is still there")
                .run(&Default::default());
        }
    });
}

fn two_workers() -> crate::executor::Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

#[test]
fn loom_spawn_racing_with_the_last_searcher_parking() {
    bounded(2).check(|| {
        let rt = Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        // The worker may be searching, about to park, or parked when this spawn lands.
        let handle = rt.spawn(async { 5 });
        assert_eq!(rt.block_on(handle).unwrap(), 5);
    });
}

#[test]
fn loom_remote_wake_racing_with_two_workers_parking() {
    bounded(1).check(|| {
        let rt = two_workers();
        let gate = Gate::new();
        let handle = rt.spawn(gate.wait());
        let firer = {
            let gate = gate.clone();
            thread::spawn(move || gate.fire())
        };
        rt.block_on(handle).unwrap();
        firer.join().unwrap();
    });
}

/// A worker's own push (a spawn from a task, into its local queue) racing with its peer
/// going to sleep. The spawning task then stays in its poll until the child has run, so only
/// the peer can run the child: either the spawner's notify sees the peer asleep and wakes it,
/// or the peer's last look before sleeping sees the child. This is the fence pair of
/// `idle.rs`; without the fence in `Idle::park` both sides can miss and the model spins
/// forever (mutation-checked).
#[test]
fn loom_local_spawn_racing_with_the_peer_parking_is_seen() {
    bounded(2).check(|| spawn_children_then_wait_in_the_poll_for_the_last(1));
}

/// Two local spawns racing with the peer parking: the parent stays in its poll until the
/// second child has run, so only the peer can run it. Every push checks for a sleeper to wake;
/// a tempting shortcut, skipping that check when the queue already held work (it made
/// `yield_many` 16 % faster), fails this model: the second child is never run.
#[test]
fn loom_second_local_spawn_skipping_the_notify_is_still_run() {
    bounded(1).check(|| spawn_children_then_wait_in_the_poll_for_the_last(2));
}

/// On two workers, a task spawns `children` tasks onto its own worker's queue, then stays in
/// its poll until the last one has run: only the peer worker can run it.
fn spawn_children_then_wait_in_the_poll_for_the_last(children: usize) {
    let rt = two_workers();
    let last_ran = Arc::new(AtomicBool::new(false));
    let parent = rt.spawn({
        let last_ran = last_ran.clone();
        async move {
            for _ in 1..children {
                drop(crate::spawn(async {}));
            }
            let flag = last_ran.clone();
            drop(crate::spawn(async move { flag.store(true, SeqCst) }));
            while !last_ran.load(SeqCst) {
                thread::yield_now();
            }
        }
    });
    rt.block_on(parent).unwrap();
}

/// The LIFO slot is stealable (tokio issue 4941): task W wakes task C, which goes to W's
/// worker's LIFO slot, and W then stays in its poll until C has run. Only the peer can run C,
/// and only by taking it out of that slot: a stealer that skips its victims' LIFO slots, a
/// push to the slot that notifies nobody, or a slot swapped with `Relaxed` (the task's
/// hand-off cell makes loom see it) fails this model.
#[test]
fn loom_lifo_slot_of_a_worker_stuck_in_its_poll_is_stolen() {
    bounded(0).check(|| {
        let rt = two_workers();
        let (event, started) = (Gate::new(), Gate::new());
        let ran = Arc::new(AtomicBool::new(false));
        let child = rt.spawn({
            let (wait, started, ran) = (event.wait(), started.clone(), ran.clone());
            async move {
                started.fire();
                wait.await;
                ran.store(true, SeqCst);
            }
        });
        rt.block_on(started.wait()); // C has been polled (it may still be in that poll)
        let waker = rt.spawn(async move {
            event.fire(); // on a worker: C goes to this worker's LIFO slot
            while !ran.load(SeqCst) {
                thread::yield_now();
            }
        });
        rt.block_on(waker).unwrap();
        rt.block_on(child).unwrap();
    });
}

/// The foundation's T1/T2/T3 property on two workers, reduced to one idle task (T1) and the
/// ready one (T3) so that the model stays small: the idle task is never polled again.
#[test]
fn loom_t1_t3_on_two_workers() {
    bounded(1).check(|| {
        let rt = two_workers();
        let [t1, t3] = [Gate::new(), Gate::new()];
        let _t1 = rt.spawn(t1.wait());
        let waiting_on_t3 = rt.spawn(t3.wait());
        t3.fire();
        rt.block_on(waiting_on_t3).unwrap();
        assert_eq!(rt.metrics().wasted_polls, 0);
        assert!(t1.polls() <= 1, "T1 was polled again");
        assert!((1..=2).contains(&t3.polls()));
    });
}

/// A model with its own preemption bound. The two-worker models explore far more
/// interleavings per preemption than the others, so CI runs them at a lower bound than
/// `LOOM_MAX_PREEMPTIONS` (DESIGN.md, "Loom").
fn bounded(preemptions: usize) -> loom::model::Builder {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(preemptions);
    builder
}

#[test]
fn loom_shutdown_racing_with_a_steal() {
    bounded(1).check(|| {
        let rt = two_workers();
        let drops = Arc::new(AtomicUsize::new(0));
        for _ in 0..2 {
            let guard = Dropped(drops.clone());
            drop(rt.spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await;
            }));
        }
        drop(rt); // workers may be stealing these very tasks
        assert_eq!(
            drops.load(SeqCst),
            2,
            "every future is dropped exactly once"
        );
    });
}

struct Dropped(Arc<AtomicUsize>);
impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}
