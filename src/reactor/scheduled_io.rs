//! One registered source's readiness and its waiters (a list per direction, `waiters.rs`).
//!
//! # The readiness word
//! `readiness` packs three fields into one atomic so that each transition is one
//! read-modify-write:
//!
//! | bits   | field      | written by                                                    |
//! |--------|------------|---------------------------------------------------------------|
//! | 0..4   | [`Ready`]  | set by the driver on an event, cleared by a task on `WouldBlock` |
//! | 15     | `SHUTDOWN` | set once, when the driver shuts down                           |
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
//! The driver stores readiness, then takes the direction's waiters under the `waiters` lock.
//! A task that finds no readiness stores its waker under the same lock (in its future's list
//! entry, or in the `poll_*` slot) and then looks at the readiness again before returning
//! `Pending`. Whichever takes the lock second sees the other's write (loom model
//! `loom_readiness_racing_with_waker_registration_is_not_lost`, with a negative control that
//! skips the second look). An event takes *every* waker of its direction, and a readiness
//! future that is dropped removes its own ([`ReadinessWaiter`]; loom model
//! `loom_two_waiters_one_event_a_cancel_racing_the_wake`, with the single slot as its
//! negative control).
//!
//! # No waker dropped under the lock
//! Dropping a waker may drop the last reference to a task, and with it a runtime and its
//! driver, whose shutdown takes this source's `waiters` lock. So a waker replaced or removed
//! under the lock is moved out and dropped after the unlock, in every function here (test
//! `replaced_and_removed_wakers_are_dropped_after_the_lock`; the loom model's wakers take
//! the lock in their `Drop`).

use std::task::{Context, Poll, Waker};

use super::waiters::{DirectionWaiters, WaiterKey};
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

/// The driver was shut down: the source will never become ready again.
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
    read: DirectionWaiters,
    write: DirectionWaiters,
}

impl Waiters {
    fn of(&mut self, direction: Direction) -> &mut DirectionWaiters {
        match direction {
            Direction::Read => &mut self.read,
            Direction::Write => &mut self.write,
        }
    }
}

/// Where a poll that finds no readiness leaves its waker (see `waiters.rs`).
#[derive(Debug)]
pub(crate) enum WaiterRef<'a> {
    /// The direction's one slot for the `poll_*` API: replaces the previous poller's waker.
    Polled,
    /// A readiness future's own entry in the direction's list; `None` until it first waits.
    Entry(&'a mut Option<WaiterKey>),
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

    /// Driver side: adds `ready` and bumps the tick, then moves every waker of the directions
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
                waiters.of(direction).take_all(wakers);
            }
        }
    }

    /// Driver side, at shutdown: marks the source dead and moves every waker into `wakers`.
    pub(crate) fn shutdown(&self, wakers: &mut Vec<Waker>) {
        self.readiness.fetch_or(SHUTDOWN, AcqRel);
        let mut waiters = self.waiters.lock().unwrap();
        waiters.read.take_all(wakers);
        waiters.write.take_all(wakers);
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

    /// Task side: ready now, or `Pending` with the task's waker stored where `waiter` says.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        mut waiter: WaiterRef<'_>,
    ) -> Poll<Result<ReadyEvent, Shutdown>> {
        if let ready @ Poll::Ready(_) = self.current(direction) {
            return ready;
        }
        let mut waiters = self.waiters.lock().unwrap();
        let waiters_of = waiters.of(direction);
        let replaced = match &mut waiter {
            WaiterRef::Polled => crate::task::register_waker(&mut waiters_of.polled, cx.waker()),
            WaiterRef::Entry(key) => waiters_of.list.register(key, cx.waker()),
        };
        // Look again: the driver may have set readiness before we stored the waker, in which
        // case it found no waker to take.
        let second_look = self.current(direction);
        let withdrawn = if second_look.is_ready() {
            // Nobody needs waking for this readiness: do not leave a waker behind to be woken
            // spuriously by the next event (or to outlive its future).
            match waiter {
                WaiterRef::Polled => waiters_of.polled.take(),
                WaiterRef::Entry(key) => key.take().and_then(|key| waiters_of.list.remove(key)),
            }
        } else {
            None
        };
        // Wakers leave only after the lock: a waker's drop may free a runtime whose driver's
        // shutdown takes this lock.
        drop(waiters);
        drop(replaced);
        drop(withdrawn);
        second_look
    }

    /// Task side: the readiness future whose entry `key` names stops waiting (it completed or
    /// was dropped). Its waker, if still stored, is dropped after the lock is released.
    pub(crate) fn remove_waiter(&self, direction: Direction, key: WaiterKey) {
        let mut waiters = self.waiters.lock().unwrap();
        let removed = waiters.of(direction).list.remove(key);
        drop(waiters);
        drop(removed);
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
}

/// One readiness future's place among its source's waiters (see `waiters.rs`). Dropping it
/// (the future completed or was cancelled) removes its entry, so no stored waker outlives the
/// future.
#[derive(Debug)]
pub(crate) struct ReadinessWaiter<'a> {
    io: &'a ScheduledIo,
    direction: Direction,
    /// The entry, once the future has waited.
    key: Option<WaiterKey>,
}

impl<'a> ReadinessWaiter<'a> {
    pub(crate) fn new(io: &'a ScheduledIo, direction: Direction) -> ReadinessWaiter<'a> {
        ReadinessWaiter {
            io,
            direction,
            key: None,
        }
    }

    /// Ready now, or `Pending` with the task's waker in this waiter's entry.
    pub(crate) fn poll_ready(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<ReadyEvent, Shutdown>> {
        self.io
            .poll_ready(cx, self.direction, WaiterRef::Entry(&mut self.key))
    }
}

impl Drop for ReadinessWaiter<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.io.remove_waiter(self.direction, key);
        }
    }
}

/// For the tests and models: what is stored, and the old single slot's cancel.
#[cfg(test)]
impl ScheduledIo {
    /// Readiness futures waiting in `direction`.
    pub(crate) fn waiting_futures(&self, direction: Direction) -> usize {
        self.waiters.lock().unwrap().of(direction).list.len()
    }

    /// Drops the `poll_*` slot's waker (after the lock), as the single-slot design's
    /// `clear_waiter` did.
    #[allow(dead_code)] // the loom models only
    pub(crate) fn clear_polled_waiter(&self, direction: Direction) {
        let mut waiters = self.waiters.lock().unwrap();
        let cleared = waiters.of(direction).polled.take();
        drop(waiters);
        drop(cleared);
    }

    /// Takes and releases the waiter lock: a model's waker does this in its `Drop`, so a
    /// waker dropped under the lock deadlocks the model.
    #[allow(dead_code)] // the loom models only
    pub(crate) fn touch_waiter_lock(&self) {
        drop(self.waiters.lock().unwrap());
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
        let mut waiters = self.waiters.lock().unwrap();
        let replaced = waiters.of(direction).polled.replace(cx.waker().clone());
        drop(waiters);
        drop(replaced);
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
        assert!(io
            .poll_ready(&mut cx, Direction::Read, WaiterRef::Polled)
            .is_pending());
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
        let Poll::Ready(Ok(seen)) = io.poll_ready(&mut cx, Direction::Read, WaiterRef::Polled)
        else {
            panic!("readable was set");
        };
        io.set_readiness(Ready::READABLE, &mut wakers); // arrives before the clear
        io.clear_readiness(seen);
        assert!(io
            .poll_ready(&mut cx, Direction::Read, WaiterRef::Polled)
            .is_ready());
        let Poll::Ready(Ok(latest)) = io.poll_ready(&mut cx, Direction::Read, WaiterRef::Polled)
        else {
            unreachable!()
        };
        io.clear_readiness(latest);
        assert!(io
            .poll_ready(&mut cx, Direction::Read, WaiterRef::Polled)
            .is_pending());
    }

    #[test]
    fn closed_bits_survive_clear() {
        let io = ScheduledIo::new();
        let waker = Waker::from(StdArc::new(CountingWaker(StdAtomicUsize::new(0))));
        let mut cx = Context::from_waker(&waker);
        io.set_readiness(Ready::READABLE | Ready::READ_CLOSED, &mut Vec::new());
        let Poll::Ready(Ok(seen)) = io.poll_ready(&mut cx, Direction::Read, WaiterRef::Polled)
        else {
            panic!("readable was set");
        };
        io.clear_readiness(seen);
        assert!(io
            .poll_ready(&mut cx, Direction::Read, WaiterRef::Polled)
            .is_ready());
    }

    /// A waker that records, when dropped, whether its source's waiter lock was free.
    struct LockProbe {
        io: StdArc<ScheduledIo>,
        dropped_unlocked: StdArc<StdAtomicUsize>,
    }
    impl Wake for LockProbe {
        fn wake(self: StdArc<Self>) {}
    }
    impl Drop for LockProbe {
        fn drop(&mut self) {
            if self.io.waiters.try_lock().is_ok() {
                self.dropped_unlocked.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    fn lock_probe(io: &StdArc<ScheduledIo>) -> (Waker, StdArc<StdAtomicUsize>) {
        let dropped_unlocked = StdArc::new(StdAtomicUsize::new(0));
        let waker = Waker::from(StdArc::new(LockProbe {
            io: io.clone(),
            dropped_unlocked: dropped_unlocked.clone(),
        }));
        (waker, dropped_unlocked)
    }

    #[test]
    fn every_readiness_future_is_woken() {
        let io = ScheduledIo::new();
        let counter = StdArc::new(CountingWaker(StdAtomicUsize::new(0)));
        let wakers: Vec<Waker> = (0..3).map(|_| Waker::from(counter.clone())).collect();
        let mut keys = [None; 3];
        for (waker, key) in wakers.iter().zip(&mut keys) {
            let mut cx = Context::from_waker(waker);
            let entry = WaiterRef::Entry(key);
            assert!(io.poll_ready(&mut cx, Direction::Read, entry).is_pending());
        }
        assert_eq!(io.waiting_futures(Direction::Read), 3);
        let mut woken = Vec::new();
        io.set_readiness(Ready::READABLE, &mut woken);
        assert_eq!(
            woken.len(),
            3,
            "one event wakes every waiter of its direction"
        );
        woken.into_iter().for_each(Waker::wake);
        assert_eq!(counter.0.load(Ordering::SeqCst), 3);
        assert_eq!(io.waiting_futures(Direction::Read), 0);
    }

    #[test]
    fn a_removed_entry_is_not_woken() {
        let io = ScheduledIo::new();
        let waker = Waker::from(StdArc::new(CountingWaker(StdAtomicUsize::new(0))));
        let mut cx = Context::from_waker(&waker);
        let (mut kept, mut cancelled) = (None, None);
        let _ = io.poll_ready(&mut cx, Direction::Write, WaiterRef::Entry(&mut cancelled));
        let _ = io.poll_ready(&mut cx, Direction::Write, WaiterRef::Entry(&mut kept));
        io.remove_waiter(Direction::Write, cancelled.unwrap());
        let mut woken = Vec::new();
        io.set_readiness(Ready::WRITABLE, &mut woken);
        assert_eq!(woken.len(), 1);
    }

    /// Regression (issue 11): replacing a stored waker dropped the old one under the waiter
    /// lock; a waker whose drop frees a runtime, whose driver takes that lock, deadlocked.
    #[test]
    fn replaced_and_removed_wakers_are_dropped_after_the_lock() {
        let io = StdArc::new(ScheduledIo::new());
        let other = Waker::from(StdArc::new(CountingWaker(StdAtomicUsize::new(0))));
        let mut cx_other = Context::from_waker(&other);
        // The poll_* slot: a second poller replaces the first.
        let (first, unlocked) = lock_probe(&io);
        let _ = io.poll_ready(
            &mut Context::from_waker(&first),
            Direction::Read,
            WaiterRef::Polled,
        );
        drop(first);
        let _ = io.poll_ready(&mut cx_other, Direction::Read, WaiterRef::Polled);
        assert_eq!(unlocked.load(Ordering::SeqCst), 1, "replaced in the slot");
        // A future's entry: re-polled with another waker, then removed.
        let (first, unlocked) = lock_probe(&io);
        let mut key = None;
        let _ = io.poll_ready(
            &mut Context::from_waker(&first),
            Direction::Read,
            WaiterRef::Entry(&mut key),
        );
        drop(first);
        let _ = io.poll_ready(&mut cx_other, Direction::Read, WaiterRef::Entry(&mut key));
        assert_eq!(unlocked.load(Ordering::SeqCst), 1, "replaced in the entry");
        let (second, unlocked) = lock_probe(&io);
        let _ = io.poll_ready(
            &mut Context::from_waker(&second),
            Direction::Read,
            WaiterRef::Entry(&mut key),
        );
        drop(second);
        io.remove_waiter(Direction::Read, key.unwrap());
        assert_eq!(unlocked.load(Ordering::SeqCst), 1, "removed with its entry");
    }

    /// Dropping a readiness future's waiter (its future was cancelled) releases its waker at
    /// once, not at the next event.
    #[test]
    fn dropping_a_readiness_waiter_releases_its_waker() {
        let io = ScheduledIo::new();
        let counter = StdArc::new(CountingWaker(StdAtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let mut waiter = ReadinessWaiter::new(&io, Direction::Read);
        assert!(waiter
            .poll_ready(&mut Context::from_waker(&waker))
            .is_pending());
        drop(waker);
        assert_eq!(StdArc::strong_count(&counter), 2, "stored");
        drop(waiter);
        assert_eq!(
            StdArc::strong_count(&counter),
            1,
            "released with its future"
        );
        assert_eq!(io.waiting_futures(Direction::Read), 0);
    }
}
