//! Loom models of the readiness protocols of [`ScheduledIo`] and its waiter lists, each with
//! a negative control: the same check run on a deliberately broken variant must fail.

use std::task::{Context, Poll, Wake, Waker};

use super::scheduled_io::{Direction, ReadinessWaiter, Ready, ScheduledIo, WaiterRef};
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use crate::loom::sync::Arc;
use crate::loom::thread;

/// Counts wakes. `Waker::from` needs a `std` `Arc`; the counter inside is loom's.
struct CountingWaker(Arc<AtomicUsize>);

impl Wake for CountingWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn counting_waker() -> (Waker, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let waker = Waker::from(std::sync::Arc::new(CountingWaker(count.clone())));
    (waker, count)
}

/// The driver thread's part: an event arrives, readiness is set, waiters are woken.
fn spawn_event(io: &Arc<ScheduledIo>) -> thread::JoinHandle<()> {
    let io = io.clone();
    thread::spawn(move || {
        let mut wakers = Vec::new();
        io.set_readiness(Ready::READABLE, &mut wakers);
        wakers.into_iter().for_each(Waker::wake);
    })
}

/// A task polls for readability while the driver sets it: the task either sees readiness
/// or is woken. `broken` skips the second look after storing the waker.
fn readiness_vs_registration(broken: bool) {
    loom::model(move || {
        let io = Arc::new(ScheduledIo::new());
        let driver = spawn_event(&io);
        let (waker, wakes) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let polled = if broken {
            io.poll_ready_without_second_look(&mut cx, Direction::Read)
        } else {
            io.poll_ready(&mut cx, Direction::Read, WaiterRef::Polled)
        };
        driver.join().unwrap();
        assert!(
            polled.is_ready() || wakes.load(SeqCst) == 1,
            "the readiness event was lost: not seen and no wake-up"
        );
    });
}

#[test]
fn loom_readiness_racing_with_waker_registration_is_not_lost() {
    readiness_vs_registration(false);
}

#[test]
fn loom_readiness_racing_with_waker_registration_negative_control() {
    let outcome = std::panic::catch_unwind(|| readiness_vs_registration(true));
    assert!(outcome.is_err(), "loom must catch the missing second look");
}

/// A task saw readability, tried the operation and got `WouldBlock`; meanwhile a new event
/// arrives. After the clear, the task polls again: it must see the new readiness or be woken
/// by it. `broken` clears without comparing ticks.
fn event_vs_clear(broken: bool) {
    loom::model(move || {
        let io = Arc::new(ScheduledIo::new());
        io.set_readiness(Ready::READABLE, &mut Vec::new());
        let (waker, wakes) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let Poll::Ready(Ok(seen)) = io.poll_ready(&mut cx, Direction::Read, WaiterRef::Polled)
        else {
            panic!("readable was set before the model started");
        };
        let driver = spawn_event(&io); // races with the operation and the clear below
                                       // ... the operation returned WouldBlock ...
        if broken {
            io.clear_readiness_ignoring_tick(seen);
        } else {
            io.clear_readiness(seen);
        }
        let polled = io.poll_ready(&mut cx, Direction::Read, WaiterRef::Polled);
        driver.join().unwrap();
        assert!(
            polled.is_ready() || wakes.load(SeqCst) == 1,
            "the event between WouldBlock and the clear was lost"
        );
    });
}

#[test]
fn loom_event_between_would_block_and_clear_is_kept() {
    event_vs_clear(false);
}

#[test]
fn loom_event_between_would_block_and_clear_negative_control() {
    let outcome = std::panic::catch_unwind(|| event_vs_clear(true));
    assert!(outcome.is_err(), "loom must catch the tick-less clear");
}

/// A waker for the waiter-list model: counts its wakes, records its drop, and takes the
/// source's waiter lock when dropped, as a freed runtime's driver does at shutdown, so a
/// waker dropped under that lock deadlocks the model.
struct ModelWaker {
    wakes: Arc<AtomicUsize>,
    dropped: Arc<AtomicBool>,
    io: Arc<ScheduledIo>,
}

impl Wake for ModelWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.wakes.fetch_add(1, SeqCst);
    }
}

impl Drop for ModelWaker {
    fn drop(&mut self) {
        self.io.touch_waiter_lock();
        self.dropped.store(true, SeqCst);
    }
}

fn model_waker(io: &Arc<ScheduledIo>) -> (Waker, Arc<AtomicUsize>, Arc<AtomicBool>) {
    let wakes = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicBool::new(false));
    let waker = Waker::from(std::sync::Arc::new(ModelWaker {
        wakes: wakes.clone(),
        dropped: dropped.clone(),
        io: io.clone(),
    }));
    (waker, wakes, dropped)
}

/// How the model's two waiters wait: each with its own list entry (the design), or both in
/// the direction's one slot (the single-slot design before issue 11: the negative control).
#[derive(Clone, Copy, PartialEq, Eq)]
enum WaitIn {
    OwnEntries,
    OneSlot,
}

/// Two tasks wait for readability: `cancelled` first, then `kept`. One readable event
/// arrives on the driver thread while `cancelled`'s future is dropped on this one. Whatever
/// the interleaving: once dropped, `cancelled` has no entry left; `kept` is woken exactly
/// once; `cancelled`'s waker is released (woken or removed, never left stored); nothing is
/// left in the list; and no waker is dropped under the waiter lock (the wakers take it in
/// their `Drop`).
fn two_waiters_one_event_a_cancel_racing_the_wake(wait_in: WaitIn) {
    loom::model(move || {
        let io = Arc::new(ScheduledIo::new());
        let (cancelled_waker, _, cancelled_dropped) = model_waker(&io);
        let (kept_waker, kept_wakes, _) = model_waker(&io);
        let mut cancelled = ReadinessWaiter::new(&io, Direction::Read);
        let mut kept = ReadinessWaiter::new(&io, Direction::Read);
        for (waker, waiter) in [(&cancelled_waker, &mut cancelled), (&kept_waker, &mut kept)] {
            let mut cx = Context::from_waker(waker);
            let polled = match wait_in {
                WaitIn::OwnEntries => waiter.poll_ready(&mut cx),
                WaitIn::OneSlot => io.poll_ready(&mut cx, Direction::Read, WaiterRef::Polled),
            };
            assert!(polled.is_pending(), "nothing is ready before the event");
        }
        drop(cancelled_waker);

        let driver = spawn_event(&io);
        // The cancelled future is dropped, racing with the event.
        drop(cancelled);
        assert!(
            io.waiting_futures(Direction::Read) <= 1,
            "the cancelled future's entry is still stored"
        );
        if wait_in == WaitIn::OneSlot {
            io.clear_polled_waiter(Direction::Read); // the old design's `clear_waiter`
        }
        driver.join().unwrap();

        assert_eq!(
            kept_wakes.load(SeqCst),
            1,
            "the waiter that stayed was not woken"
        );
        assert!(
            cancelled_dropped.load(SeqCst),
            "the cancelled future's waker outlived it"
        );
        assert_eq!(io.waiting_futures(Direction::Read), 0);
        drop(kept); // completes: its entry went with the wake
    });
}

#[test]
fn loom_two_waiters_one_event_a_cancel_racing_the_wake() {
    two_waiters_one_event_a_cancel_racing_the_wake(WaitIn::OwnEntries);
}

#[test]
fn loom_two_waiters_one_event_negative_control_single_slot() {
    let outcome = std::panic::catch_unwind(|| {
        two_waiters_one_event_a_cancel_racing_the_wake(WaitIn::OneSlot)
    });
    assert!(
        outcome.is_err(),
        "loom must catch the single slot losing the first waiter"
    );
}
