//! Loom models of the readiness protocols of [`ScheduledIo`], each with a negative control:
//! the same check run on a deliberately broken variant must fail.

use std::task::{Context, Poll, Wake, Waker};

use super::scheduled_io::{Direction, Ready, ScheduledIo};
use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
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
            io.poll_ready(&mut cx, Direction::Read)
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
        let Poll::Ready(Ok(seen)) = io.poll_ready(&mut cx, Direction::Read) else {
            panic!("readable was set before the model started");
        };
        let driver = spawn_event(&io); // races with the operation and the clear below
                                       // ... the operation returned WouldBlock ...
        if broken {
            io.clear_readiness_ignoring_tick(seen);
        } else {
            io.clear_readiness(seen);
        }
        let polled = io.poll_ready(&mut cx, Direction::Read);
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
