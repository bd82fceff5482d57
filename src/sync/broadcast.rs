//! A bounded multi-producer, multi-consumer channel where every receiver sees every value,
//! like `tokio::sync::broadcast`.
//!
//! ```
//! use spindle::sync::broadcast;
//!
//! spindle::block_on(async {
//!     let (tx, mut rx1) = broadcast::channel(16);
//!     let mut rx2 = tx.subscribe();
//!     tx.send(10).unwrap();
//!     tx.send(20).unwrap();
//!     assert_eq!(rx1.recv().await, Ok(10));
//!     assert_eq!(rx1.recv().await, Ok(20));
//!     assert_eq!(rx2.recv().await, Ok(10));
//!     assert_eq!(rx2.recv().await, Ok(20));
//! });
//! ```
//!
//! # Semantics
//!
//! - The channel keeps the last `capacity` values (rounded up to a power of two, as tokio
//!   does), never more: memory is bounded whatever the receivers do. A send never waits; when
//!   the ring is full it overwrites the oldest value.
//! - A receiver that fell more than `capacity` values behind gets
//!   [`RecvError::Lagged(n)`](RecvError::Lagged), `n` being how many values it missed,
//!   and then continues from the oldest value still kept.
//! - Values are cloned for each receiver but the last one, which gets the value moved out.
//!   A value is dropped once every receiver that existed at the send has seen it (or when it
//!   is overwritten).
//! - `recv` fails with [`RecvError::Closed`] once every sender is
//!   gone and the receiver has seen everything; `send` fails when no receiver exists.
//!
//! # Implementation notes
//!
//! One mutex (from `crate::loom`) guards the ring (`Vec` of slots, each with the position it
//! holds and how many receivers still have to read it), the next write position, the
//! receiver count and a `WaitQueue` of waiting receivers. Positions only grow, so
//! `position % capacity` is a value's slot and a slot whose position is not the one a
//! receiver expects was overwritten. A value is cloned under the lock (a user `Clone` must
//! not use the same channel); values are dropped and wakers woken only after it is released.
//!
//! Loom model: `loom_broadcast_send_races_recv_and_lag`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::wait_queue::{WaitQueue, WaiterKey, WakeList};
use crate::loom::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use crate::loom::sync::{Arc, Mutex, MutexGuard};

use self::error::{RecvError, SendError, TryRecvError};

/// Errors of the broadcast channel.
pub mod error {
    use std::fmt;

    /// No receiver exists; holds the value that was not sent.
    #[derive(PartialEq, Eq, Clone, Copy)]
    pub struct SendError<T>(pub T);

    impl<T> fmt::Debug for SendError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("SendError").finish_non_exhaustive()
        }
    }

    impl<T> fmt::Display for SendError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("channel closed")
        }
    }

    impl<T> std::error::Error for SendError<T> {}

    /// Why `recv` returned no value.
    #[derive(Debug, PartialEq, Eq, Clone, Copy)]
    pub enum RecvError {
        /// Every sender is gone and every value was received.
        Closed,
        /// The receiver fell behind: this many values were overwritten before it read them.
        /// The next `recv` returns the oldest value still kept.
        Lagged(u64),
    }

    impl fmt::Display for RecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                RecvError::Closed => f.write_str("channel closed"),
                RecvError::Lagged(n) => write!(f, "channel lagged by {n}"),
            }
        }
    }

    impl std::error::Error for RecvError {}

    /// Why `try_recv` returned no value.
    #[derive(Debug, PartialEq, Eq, Clone, Copy)]
    pub enum TryRecvError {
        /// No new value yet.
        Empty,
        /// Every sender is gone and every value was received.
        Closed,
        /// The receiver fell behind by this many values (see [`RecvError::Lagged`]).
        Lagged(u64),
    }

    impl fmt::Display for TryRecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                TryRecvError::Empty => f.write_str("channel empty"),
                TryRecvError::Closed => f.write_str("channel closed"),
                TryRecvError::Lagged(n) => write!(f, "channel lagged by {n}"),
            }
        }
    }

    impl std::error::Error for TryRecvError {}
}

/// Creates a broadcast channel keeping the last `capacity` values (rounded up to a power
/// of two).
///
/// # Panics
/// If `capacity` is 0, or larger than `usize::MAX / 2`.
#[track_caller]
pub fn channel<T: Clone>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(capacity > 0, "broadcast channel capacity cannot be zero");
    assert!(
        capacity <= usize::MAX >> 1,
        "broadcast channel capacity exceeded `usize::MAX / 2`"
    );
    let capacity = capacity.next_power_of_two();
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            ring: (0..capacity).map(|_| Slot::empty()).collect(),
            tail: 0,
            receivers: 1,
            closed: false,
            waiters: WaitQueue::new(),
        }),
        senders: AtomicUsize::new(1),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared, next: 0 },
    )
}

struct Shared<T> {
    state: Mutex<State<T>>,
    /// Live senders. Relaxed: it carries no data; the last drop takes the lock to close.
    senders: AtomicUsize,
}

struct State<T> {
    ring: Box<[Slot<T>]>,
    /// The position the next value is written at (values written so far).
    tail: u64,
    receivers: usize,
    /// Every sender is gone.
    closed: bool,
    waiters: WaitQueue<Option<Waker>>,
}

struct Slot<T> {
    /// The position whose value this slot holds (meaningful once written).
    position: u64,
    /// Receivers that still have to read it.
    remaining: usize,
    value: Option<T>,
}

impl<T> Slot<T> {
    fn empty() -> Slot<T> {
        Slot {
            position: u64::MAX,
            remaining: 0,
            value: None,
        }
    }
}

impl<T> State<T> {
    fn capacity(&self) -> u64 {
        self.ring.len() as u64
    }

    fn slot_mut(&mut self, position: u64) -> &mut Slot<T> {
        let index = (position % self.capacity()) as usize;
        &mut self.ring[index]
    }

    /// The oldest position still kept.
    fn head(&self) -> u64 {
        self.tail.saturating_sub(self.capacity())
    }

    /// This receiver will not read `position`: drops its claim; returns the value if it was
    /// the last claim (to drop outside the lock).
    fn release_claim(&mut self, position: u64) -> Option<T> {
        let slot = self.slot_mut(position);
        if slot.position != position || slot.remaining == 0 {
            return None;
        }
        slot.remaining -= 1;
        if slot.remaining == 0 {
            slot.value.take()
        } else {
            None
        }
    }
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // No user code but `Clone` runs under the lock, and a panicking clone leaves the
        // ring consistent (the slot is unchanged).
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The sending half; clone it for more senders.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// A receiving half; it sees every value sent after it was created.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// The position of the next value to read.
    next: u64,
}

impl<T> Sender<T> {
    /// Sends `value` to every receiver; returns how many there are. Fails, handing the
    /// value back, if there is none. Never waits: a full ring drops its oldest value.
    pub fn send(&self, value: T) -> Result<usize, SendError<T>> {
        let mut state = self.shared.lock();
        if state.receivers == 0 {
            return Err(SendError(value));
        }
        let receivers = state.receivers;
        let position = state.tail;
        state.tail += 1;
        let slot = state.slot_mut(position);
        slot.position = position;
        slot.remaining = receivers;
        let overwritten = slot.value.replace(value);
        if state.waiters.is_empty() {
            drop(state);
            drop(overwritten);
            return Ok(receivers);
        }
        let mut wakers = WakeList::new();
        loop {
            while wakers.has_room() {
                let Some((_, waker)) = state.waiters.pop_front() else {
                    break;
                };
                let waker = waker.take();
                wakers.push(waker);
            }
            let more = !state.waiters.is_empty();
            drop(state);
            wakers.wake_all();
            if !more {
                break;
            }
            state = self.shared.lock();
        }
        drop(overwritten);
        Ok(receivers)
    }

    /// A new receiver that sees the values sent from now on.
    pub fn subscribe(&self) -> Receiver<T> {
        subscribe(&self.shared)
    }

    /// How many receivers exist.
    pub fn receiver_count(&self) -> usize {
        self.shared.lock().receivers
    }

    /// How many values some receiver has yet to read (at most the capacity).
    pub fn len(&self) -> usize {
        let state = self.shared.lock();
        (state.head()..state.tail)
            .filter(|&position| {
                let index = (position % state.capacity()) as usize;
                let slot = &state.ring[index];
                slot.position == position && slot.remaining > 0
            })
            .count()
    }

    /// Whether every receiver has read every kept value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether both senders belong to the same channel.
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

fn subscribe<T>(shared: &Arc<Shared<T>>) -> Receiver<T> {
    let mut state = shared.lock();
    state.receivers += 1;
    let next = state.tail;
    drop(state);
    Receiver {
        shared: shared.clone(),
        next,
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        // Relaxed: see `senders`; a sender exists (this one), so the count is > 0.
        self.shared.senders.fetch_add(1, Relaxed);
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Relaxed) != 1 {
            return;
        }
        let mut wakers = WakeList::new();
        loop {
            let mut state = self.shared.lock();
            state.closed = true;
            while wakers.has_room() {
                let Some((_, waker)) = state.waiters.pop_front() else {
                    break;
                };
                let waker = waker.take();
                wakers.push(waker);
            }
            let more = !state.waiters.is_empty();
            drop(state);
            wakers.wake_all();
            if !more {
                return;
            }
        }
    }
}

/// What one read attempt found.
enum Read<T> {
    Value(T),
    Lagged(u64),
    Empty,
    Closed,
}

/// Reads the value at `*next` under the lock and advances `next`; the caller handles
/// `Empty`. (A free function over the receiver's position, so callers need not clone the
/// channel's `Arc` to hold its lock while updating the receiver: that clone would bounce
/// the reference count's cache line between all receivers.)
fn read<T: Clone>(next: &mut u64, state: &mut State<T>) -> Read<T> {
    let head = state.head();
    if *next < head {
        // Overwritten before we read them: skip to the oldest kept value. The claims we
        // held on the lost values died with them.
        let missed = head - *next;
        *next = head;
        return Read::Lagged(missed);
    }
    if *next == state.tail {
        return if state.closed {
            Read::Closed
        } else {
            Read::Empty
        };
    }
    let position = *next;
    let slot = state.slot_mut(position);
    debug_assert_eq!(slot.position, position);
    *next += 1;
    // Every receiver reading `position` existed at its send (new ones start at the
    // tail), so it holds one of the claims counted then.
    slot.remaining -= 1;
    let value = if slot.remaining == 0 {
        slot.value.take()
    } else {
        slot.value.clone()
    };
    Read::Value(value.expect("a slot with readers left holds its value"))
}

impl<T: Clone> Receiver<T> {
    /// Receives the next value, waiting for one.
    ///
    /// Cancel safety: dropping the future loses no value.
    pub async fn recv(&mut self) -> Result<T, RecvError> {
        Recv {
            receiver: self,
            key: None,
        }
        .await
    }

    /// Takes the next value if one is there, without waiting.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let mut state = self.shared.lock();
        match read(&mut self.next, &mut state) {
            Read::Value(value) => Ok(value),
            Read::Lagged(missed) => Err(TryRecvError::Lagged(missed)),
            Read::Empty => Err(TryRecvError::Empty),
            Read::Closed => Err(TryRecvError::Closed),
        }
    }

    /// Receives from a plain thread, blocking it while no value is there.
    ///
    /// # Panics
    /// Inside a spindle runtime (it would stall its tasks); use [`recv`](Self::recv) there.
    #[track_caller]
    pub fn blocking_recv(&mut self) -> Result<T, RecvError> {
        super::blocking::block_on("broadcast::Receiver::blocking_recv", self.recv())
    }
}

impl<T> Receiver<T> {
    /// A new receiver on the same channel that starts at the newest position (it sees the
    /// values sent from now on, not the ones this receiver has yet to read).
    pub fn resubscribe(&self) -> Receiver<T> {
        subscribe(&self.shared)
    }

    /// How many values were sent that this receiver has not read yet, counting the ones
    /// already overwritten (which it will be told about as `Lagged`), as tokio does.
    pub fn len(&self) -> usize {
        let state = self.shared.lock();
        (state.tail - self.next) as usize
    }

    /// Whether this receiver has read everything.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether both receivers belong to the same channel.
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.receivers -= 1;
        // Give up our claims on the values we did not read; the last claim drops a value.
        let start = self.next.max(state.head());
        let unread: Vec<T> = (start..state.tail)
            .filter_map(|position| state.release_claim(position))
            .collect();
        drop(state);
        drop(unread);
    }
}

/// The future of [`Receiver::recv`]; `key` is its waker's slot while it waits.
struct Recv<'a, T> {
    receiver: &'a mut Receiver<T>,
    key: Option<WaiterKey>,
}

impl<T: Clone> Future for Recv<'_, T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        std::task::ready!(crate::task::coop::poll_proceed(cx));
        let this = self.get_mut();
        let receiver = &mut *this.receiver;
        let mut state = receiver.shared.lock();
        let outcome = match read(&mut receiver.next, &mut state) {
            Read::Value(value) => Ok(value),
            Read::Lagged(missed) => Err(RecvError::Lagged(missed)),
            Read::Closed => Err(RecvError::Closed),
            Read::Empty => {
                let stale = match this.key {
                    Some(key) if state.waiters.is_linked(key) => {
                        crate::task::register_waker(state.waiters.get_mut(key), cx.waker())
                    }
                    Some(key) => {
                        // Woken by a send we then did not find (another poll raced); queue
                        // again.
                        let old = state.waiters.remove(key);
                        this.key = Some(state.waiters.push_back(Some(cx.waker().clone())));
                        old
                    }
                    None => {
                        this.key = Some(state.waiters.push_back(Some(cx.waker().clone())));
                        None
                    }
                };
                drop(state);
                drop(stale);
                return Poll::Pending;
            }
        };
        let old = this.key.take().and_then(|key| state.waiters.remove(key));
        drop(state);
        drop(old);
        Poll::Ready(outcome)
    }
}

impl<T> Drop for Recv<'_, T> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let waker = self.receiver.shared.lock().waiters.remove(key);
            drop(waker);
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("broadcast::Sender").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("broadcast::Receiver")
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}
