//! One registered source's readiness and its two waiters.
//!
//! # The readiness word
//! `readiness` packs three fields into one atomic so that each transition is one
//! read-modify-write:
//!
//! | bits   | field      | written by                                                    |
//! |--------|------------|---------------------------------------------------------------|
//! | 0..4   | [`Ready`]  | set by the driver on an event, cleared by a task on `WouldBlock` |
//! | 15     | `SHUTDOWN` | set once, when the driver is dropped                           |
//! | 16..32 | tick       | incremented by the driver on every event for this source       |
//!
//! # Not losing an event (edge-triggered readiness)
//! epoll and kqueue report an edge once. A task reads the readiness (with its tick), tries the
//! operation, and on `WouldBlock` clears the bits it saw, but only if the tick is unchanged:
//! an event that arrived between the operation and the clear bumped the tick, so the clear
//! is skipped and the next poll sees the new readiness (loom model
//! `loom_event_between_would_block_and_clear_is_kept`).
//!
//! # Not losing a wake-up
//! The driver stores readiness, then takes the waiter under the `waiters` lock. A task that
//! finds no readiness stores its waker under the same lock and then looks at the readiness
//! again before returning `Pending`. Whichever takes the lock second sees the other's write
//! (loom model `loom_readiness_racing_with_waker_registration_is_not_lost`, with a negative
//! control that skips the second look).

use std::task::{Context, Poll, Waker};

use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};
use crate::loom::sync::Mutex;

/// A set of readiness bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Ready(usize);

impl Ready {
    pub(crate) const EMPTY: Ready = Ready(0);
    pub(crate) const READABLE: Ready = Ready(0b0001);
    pub(crate) const WRITABLE: Ready = Ready(0b0010);
    /// The peer closed its write side (or the source hung up): reads return 0 or an error.
    pub(crate) const READ_CLOSED: Ready = Ready(0b0100);
    /// Our write side is closed: writes fail.
    pub(crate) const WRITE_CLOSED: Ready = Ready(0b1000);
    const MASK: usize = 0b1111;
    /// Bits that stay set once seen: a closed side does not reopen.
    const STICKY: Ready = Ready(0b1100);

    /// Readiness reported by one mio event. An error makes both directions ready: the next
    /// operation in either direction surfaces it.
    pub(crate) fn from_event(event: &mio::event::Event) -> Ready {
        let mut ready = Ready::EMPTY;
        if event.is_readable() || event.is_error() {
            ready = ready | Ready::READABLE;
        }
        if event.is_writable() || event.is_error() {
            ready = ready | Ready::WRITABLE;
        }
        if event.is_read_closed() {
            ready = ready | Ready::READ_CLOSED;
        }
        if event.is_write_closed() {
            ready = ready | Ready::WRITE_CLOSED;
        }
        ready
    }

    pub(crate) fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub(crate) fn intersects(self, other: Ready) -> bool {
        self.0 & other.0 != 0
    }

    fn without(self, other: Ready) -> Ready {
        Ready(self.0 & !other.0)
    }
}

impl std::ops::BitOr for Ready {
    type Output = Ready;
    fn bitor(self, other: Ready) -> Ready {
        Ready(self.0 | other.0)
    }
}

impl std::ops::BitAnd for Ready {
    type Output = Ready;
    fn bitand(self, other: Ready) -> Ready {
        Ready(self.0 & other.0)
    }
}

/// Which way a task waits: each direction has its own waiter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

impl Direction {
    /// The readiness bits that let an operation in this direction make progress.
    pub(crate) fn mask(self) -> Ready {
        match self {
            Direction::Read => Ready::READABLE | Ready::READ_CLOSED,
            Direction::Write => Ready::WRITABLE | Ready::WRITE_CLOSED,
        }
    }
}

/// What a task saw when it found its source ready: pass it back to
/// [`ScheduledIo::clear_readiness`] after a `WouldBlock`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ReadyEvent {
    pub(crate) tick: usize,
    pub(crate) ready: Ready,
}

/// The driver was dropped: the source will never become ready again.
#[derive(Debug)]
pub(crate) struct Shutdown;

const SHUTDOWN: usize = 1 << 15;
const TICK_SHIFT: usize = 16;
const TICK_MASK: usize = 0xFFFF;

/// Readiness and waiters of one registered source.
#[derive(Debug)]
pub(crate) struct ScheduledIo {
    readiness: AtomicUsize,
    waiters: Mutex<Waiters>,
}

#[derive(Debug, Default)]
struct Waiters {
    reader: Option<Waker>,
    writer: Option<Waker>,
}

impl Waiters {
    fn slot(&mut self, direction: Direction) -> &mut Option<Waker> {
        match direction {
            Direction::Read => &mut self.reader,
            Direction::Write => &mut self.writer,
        }
    }
}

fn tick_of(word: usize) -> usize {
    (word >> TICK_SHIFT) & TICK_MASK
}

fn ready_of(word: usize) -> Ready {
    Ready(word & Ready::MASK)
}

impl ScheduledIo {
    pub(crate) fn new() -> ScheduledIo {
        ScheduledIo {
            readiness: AtomicUsize::new(0),
            waiters: Mutex::new(Waiters::default()),
        }
    }

    /// Driver side: adds `ready` and bumps the tick, then moves the wakers of the directions
    /// that became ready into `wakers` (woken by the caller once its locks are released).
    pub(crate) fn set_readiness(&self, ready: Ready, wakers: &mut Vec<Waker>) {
        // Add the bits and bump the tick in one step.
        let _ = self.readiness.fetch_update(AcqRel, Acquire, |word| {
            let tick = (tick_of(word) + 1) & TICK_MASK;
            Some((tick << TICK_SHIFT) | (word & SHUTDOWN) | (ready_of(word) | ready).0)
        });
        let mut waiters = self.waiters.lock().unwrap();
        for direction in [Direction::Read, Direction::Write] {
            if ready.intersects(direction.mask()) {
                if let Some(waker) = waiters.slot(direction).take() {
                    wakers.push(waker);
                }
            }
        }
    }

    /// Driver side, at shutdown: marks the source dead and wakes both waiters.
    pub(crate) fn shutdown(&self, wakers: &mut Vec<Waker>) {
        self.readiness.fetch_or(SHUTDOWN, AcqRel);
        let mut waiters = self.waiters.lock().unwrap();
        wakers.extend(waiters.reader.take());
        wakers.extend(waiters.writer.take());
    }

    /// The readiness for `direction` now, if any; stores no waker.
    pub(crate) fn current(&self, direction: Direction) -> Poll<Result<ReadyEvent, Shutdown>> {
        let word = self.readiness.load(Acquire);
        if word & SHUTDOWN != 0 {
            return Poll::Ready(Err(Shutdown));
        }
        let ready = ready_of(word) & direction.mask();
        if ready.is_empty() {
            Poll::Pending
        } else {
            Poll::Ready(Ok(ReadyEvent {
                tick: tick_of(word),
                ready,
            }))
        }
    }

    /// Task side: ready now, or `Pending` with the task's waker stored for `direction`.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<Result<ReadyEvent, Shutdown>> {
        if let ready @ Poll::Ready(_) = self.current(direction) {
            return ready;
        }
        let mut waiters = self.waiters.lock().unwrap();
        let slot = waiters.slot(direction);
        match slot {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => *slot = Some(cx.waker().clone()),
        }
        // Look again: the driver may have set readiness before we stored the waker, in which
        // case it found no waker to take.
        let second_look = self.current(direction);
        if second_look.is_ready() {
            // Nobody needs waking for this readiness: do not leave a waker behind to be woken
            // spuriously by the next event.
            *waiters.slot(direction) = None;
        }
        second_look
    }

    /// Task side, after an operation returned `WouldBlock`: clears what `event` saw, unless
    /// an event arrived since (the tick moved on). Closed bits are never cleared.
    pub(crate) fn clear_readiness(&self, event: ReadyEvent) {
        let clear = event.ready.without(Ready::STICKY);
        let _ = self.readiness.fetch_update(AcqRel, Acquire, |word| {
            if tick_of(word) != event.tick {
                return None; // a newer event: keep its readiness
            }
            Some(word & !clear.0)
        });
    }

    /// Drops a stored waker (the waiting future went away).
    #[allow(dead_code)] // used by the loom models and kept for futures that stop waiting
    pub(crate) fn clear_waiter(&self, direction: Direction) {
        *self.waiters.lock().unwrap().slot(direction) = None;
    }
}

/// Deliberately broken variants, for the negative controls of the loom models.
#[cfg(all(test, loom))]
impl ScheduledIo {
    /// `poll_ready` without the second look after storing the waker.
    pub(crate) fn poll_ready_without_second_look(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<Result<ReadyEvent, Shutdown>> {
        if let ready @ Poll::Ready(_) = self.current(direction) {
            return ready;
        }
        *self.waiters.lock().unwrap().slot(direction) = Some(cx.waker().clone());
        Poll::Pending
    }

    /// `clear_readiness` that ignores the tick.
    pub(crate) fn clear_readiness_ignoring_tick(&self, event: ReadyEvent) {
        self.readiness
            .fetch_and(!event.ready.without(Ready::STICKY).0, AcqRel);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering};
    use std::sync::Arc as StdArc;
    use std::task::Wake;

    struct CountingWaker(StdAtomicUsize);
    impl Wake for CountingWaker {
        fn wake(self: StdArc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn readiness_set_while_waiting_wakes_only_that_direction() {
        let io = ScheduledIo::new();
        let counter = StdArc::new(CountingWaker(StdAtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(io.poll_ready(&mut cx, Direction::Read).is_pending());
        let mut wakers = Vec::new();
        io.set_readiness(Ready::WRITABLE, &mut wakers);
        assert!(
            wakers.is_empty(),
            "a writable event must not wake the reader"
        );
        io.set_readiness(Ready::READABLE, &mut wakers);
        assert_eq!(wakers.len(), 1);
        wakers.drain(..).for_each(Waker::wake);
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn clear_with_a_stale_tick_keeps_the_new_event() {
        let io = ScheduledIo::new();
        let waker = Waker::from(StdArc::new(CountingWaker(StdAtomicUsize::new(0))));
        let mut cx = Context::from_waker(&waker);
        let mut wakers = Vec::new();
        io.set_readiness(Ready::READABLE, &mut wakers);
        let Poll::Ready(Ok(seen)) = io.poll_ready(&mut cx, Direction::Read) else {
            panic!("readable was set");
        };
        io.set_readiness(Ready::READABLE, &mut wakers); // arrives before the clear
        io.clear_readiness(seen);
        assert!(io.poll_ready(&mut cx, Direction::Read).is_ready());
        let Poll::Ready(Ok(latest)) = io.poll_ready(&mut cx, Direction::Read) else {
            unreachable!()
        };
        io.clear_readiness(latest);
        assert!(io.poll_ready(&mut cx, Direction::Read).is_pending());
    }

    #[test]
    fn closed_bits_survive_clear() {
        let io = ScheduledIo::new();
        let waker = Waker::from(StdArc::new(CountingWaker(StdAtomicUsize::new(0))));
        let mut cx = Context::from_waker(&waker);
        io.set_readiness(Ready::READABLE | Ready::READ_CLOSED, &mut Vec::new());
        let Poll::Ready(Ok(seen)) = io.poll_ready(&mut cx, Direction::Read) else {
            panic!("readable was set");
        };
        io.clear_readiness(seen);
        assert!(io.poll_ready(&mut cx, Direction::Read).is_ready());
    }
}
