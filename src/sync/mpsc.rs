//! A multi-producer, single-consumer FIFO channel: bounded ([`channel`]) or unbounded
//! ([`unbounded_channel`]).
//!
//! ```
//! use spindle::sync::mpsc;
//!
//! spindle::block_on(async {
//!     let (tx, mut rx) = mpsc::channel(1);
//!     for id in 0..3 {
//!         let tx = tx.clone();
//!         spindle::spawn(async move {
//!             // With capacity 1, every sender but one waits here for space.
//!             tx.send(id).await.unwrap();
//!         });
//!     }
//!     drop(tx);
//!     let mut got = Vec::new();
//!     while let Some(id) = rx.recv().await {
//!         got.push(id);
//!     }
//!     got.sort();
//!     assert_eq!(got, [0, 1, 2]);
//! });
//! ```
//!
//! # Semantics
//!
//! - Messages are received in the order their sends took effect; messages of one sender keep
//!   that sender's order.
//! - `recv` returns `None` once every sender is dropped (or the receiver called `close`) and
//!   the buffer is empty; messages sent before that are still received.
//! - When the receiver is dropped or closes the channel, every send fails and hands the value
//!   back; values still buffered when the receiver is dropped are dropped with it.
//! - A bounded channel holds at most `capacity` messages. Senders that find it full wait in
//!   arrival order; each slot that `recv` frees is granted to the longest waiting sender, so a
//!   later `try_send` cannot take it. A waiting `send` future that is dropped gives its
//!   granted slot (if it had one) to the next waiter: no slot and no wake-up is lost.
//!
//! # Implementation notes
//!
//! One `Arc` holds a mutex around a ring buffer (`VecDeque`), the receiver's waker, the
//! waiting senders and two closed flags; a sender count lives beside it in an atomic. Wakers
//! are taken out under the lock and woken after it is released, and user values are never
//! dropped under the lock (their destructors may use the channel). Once the ring buffer has
//! grown to the working size, a message costs no allocation. The receiver's waker is taken by
//! the first send that finds it, so a burst of sends wakes the receiver once.
//!
//! Loom models: `loom_mpsc_two_senders_one_receiver`, `loom_mpsc_bounded_sender_waits_for_space`,
//! `loom_mpsc_cancelled_send_passes_permit_on`, `loom_mpsc_cancel_races_grant` (with a negative
//! control), `loom_mpsc_last_sender_drop_races_recv`.

use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::wait_queue::{WaitQueue, WaiterKey, WakeList};
use crate::loom::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use crate::loom::sync::{Arc, Mutex, MutexGuard};
use crate::task::register_waker;

use self::error::{SendError, TryRecvError, TrySendError};

/// Errors of the mpsc channels.
pub mod error {
    use std::fmt;

    /// The receiver was dropped or closed the channel; holds the value that was not sent.
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

    /// Why [`Sender::try_send`](super::Sender::try_send) failed; holds the value.
    #[derive(PartialEq, Eq, Clone, Copy)]
    pub enum TrySendError<T> {
        /// The channel holds `capacity` messages already (or waiting senders were granted
        /// the free slots).
        Full(T),
        /// The receiver was dropped or closed the channel.
        Closed(T),
    }

    impl<T> TrySendError<T> {
        /// The value that was not sent.
        pub fn into_inner(self) -> T {
            match self {
                TrySendError::Full(value) | TrySendError::Closed(value) => value,
            }
        }
    }

    impl<T> fmt::Debug for TrySendError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                TrySendError::Full(_) => f.write_str("Full(..)"),
                TrySendError::Closed(_) => f.write_str("Closed(..)"),
            }
        }
    }

    impl<T> fmt::Display for TrySendError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                TrySendError::Full(_) => f.write_str("no available capacity"),
                TrySendError::Closed(_) => f.write_str("channel closed"),
            }
        }
    }

    impl<T> std::error::Error for TrySendError<T> {}

    impl<T> From<SendError<T>> for TrySendError<T> {
        fn from(error: SendError<T>) -> TrySendError<T> {
            TrySendError::Closed(error.0)
        }
    }

    /// Why `try_recv` returned no message.
    #[derive(Debug, PartialEq, Eq, Clone, Copy)]
    pub enum TryRecvError {
        /// The buffer is empty; senders may still send.
        Empty,
        /// The buffer is empty and no message will come: every sender is gone or the
        /// receiver closed the channel.
        Disconnected,
    }

    impl fmt::Display for TryRecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                TryRecvError::Empty => f.write_str("receiving on an empty channel"),
                TryRecvError::Disconnected => f.write_str("receiving on a closed channel"),
            }
        }
    }

    impl std::error::Error for TryRecvError {}
}

/// Creates a bounded channel that buffers at most `capacity` messages; `send` waits for space
/// beyond that.
///
/// # Panics
/// If `capacity` is 0: a bounded channel needs room for at least one message (there is no
/// rendezvous mode).
#[track_caller]
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(
        capacity > 0,
        "mpsc bounded channel requires capacity > 0 (got 0)"
    );
    let chan = Chan::new(capacity);
    (Sender { chan: chan.clone() }, Receiver { chan })
}

/// Creates an unbounded channel: `send` never waits, the buffer grows as needed.
pub fn unbounded_channel<T>() -> (UnboundedSender<T>, UnboundedReceiver<T>) {
    // `usize::MAX` messages cannot exist in memory, so the bound is never reached.
    let chan = Chan::new(usize::MAX);
    (
        UnboundedSender { chan: chan.clone() },
        UnboundedReceiver { chan },
    )
}

/// The sending half of a bounded channel; clone it for more senders.
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

/// The receiving half of a bounded channel.
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
}

/// The sending half of an unbounded channel; clone it for more senders.
pub struct UnboundedSender<T> {
    chan: Arc<Chan<T>>,
}

/// The receiving half of an unbounded channel.
pub struct UnboundedReceiver<T> {
    chan: Arc<Chan<T>>,
}

struct Chan<T> {
    state: Mutex<State<T>>,
    /// Maximum buffered messages; `usize::MAX` for unbounded channels.
    capacity: usize,
    /// Live senders. It carries no data (everything else is under the lock), so Relaxed
    /// suffices: the RMWs are totally ordered and exactly one drop sees the count reach 0.
    senders: AtomicUsize,
}

struct State<T> {
    buffer: VecDeque<T>,
    /// Set by the receiver when it waits; taken (and woken) by the next send or last sender.
    rx_waker: Option<Waker>,
    /// The receiver closed the channel or was dropped: sends fail.
    rx_closed: bool,
    /// Every sender is dropped: `recv` ends once the buffer is empty.
    tx_closed: bool,
    /// Senders waiting for space, oldest first; ids increase front to back. The first
    /// `granted` entries hold a slot reserved for them by `recv` and only need to run.
    ///
    /// Invariants: `buffer.len() + granted + reserved <= capacity`; and while an entry
    /// beyond the first `granted` exists and the receiver is open, the channel is full
    /// (`buffer.len() + granted + reserved == capacity`), since every freed slot is granted
    /// at once.
    waiters: VecDeque<Waiter>,
    granted: usize,
    next_waiter_id: u64,
    /// Slots held by a [`Permit`] (from `reserve`) that has not sent yet; they count
    /// against the capacity like buffered messages.
    reserved: usize,
    /// Tasks in `Sender::closed`, woken when the receiver closes the channel.
    closed_waiters: WaitQueue<Option<Waker>>,
}

struct Waiter {
    id: u64,
    /// `None` once taken to wake it (granted, or the channel closed).
    waker: Option<Waker>,
}

impl<T> Chan<T> {
    fn new(capacity: usize) -> Arc<Chan<T>> {
        Arc::new(Chan {
            state: Mutex::new(State {
                buffer: VecDeque::new(),
                rx_waker: None,
                rx_closed: false,
                tx_closed: false,
                waiters: VecDeque::new(),
                granted: 0,
                next_waiter_id: 0,
                reserved: 0,
                closed_waiters: WaitQueue::new(),
            }),
            capacity,
            senders: AtomicUsize::new(1),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // No user code runs under the lock (values are moved, never dropped, inside it), so a
        // poisoned lock still guards consistent state.
        match self.state.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Buffers `value` and wakes the receiver, after the caller checked the receiver is open
    /// and the slot is the caller's.
    fn push(&self, mut state: MutexGuard<'_, State<T>>, value: T) {
        state.buffer.push_back(value);
        let waker = state.rx_waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let state = self.lock();
        if state.rx_closed {
            return Err(TrySendError::Closed(value));
        }
        if !state.has_space(self.capacity) {
            return Err(TrySendError::Full(value));
        }
        self.push(state, value);
        Ok(())
    }

    fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        // A receiver on a busy channel is ready again and again: spend the task's budget.
        std::task::ready!(crate::task::coop::poll_proceed(cx));
        let mut state = self.lock();
        if let Some(value) = state.buffer.pop_front() {
            let waker = state.grant_next();
            drop(state);
            if let Some(waker) = waker {
                waker.wake();
            }
            return Poll::Ready(Some(value));
        }
        if state.tx_closed || state.rx_closed {
            return Poll::Ready(None);
        }
        // A replaced waker is dropped after unlocking (its drop may run arbitrary code).
        let stale = register_waker(&mut state.rx_waker, cx.waker());
        drop(state);
        drop(stale);
        Poll::Pending
    }

    fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut state = self.lock();
        if let Some(value) = state.buffer.pop_front() {
            let waker = state.grant_next();
            drop(state);
            if let Some(waker) = waker {
                waker.wake();
            }
            return Ok(value);
        }
        if state.tx_closed || state.rx_closed {
            Err(TryRecvError::Disconnected)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// Makes every later send fail and wakes the waiting senders so they fail too.
    fn close(&self) {
        let mut state = self.lock();
        state.rx_closed = true;
        // Closing is rare; collecting the wakers lets them be woken outside the lock.
        let mut wakers: Vec<Waker> = state
            .waiters
            .iter_mut()
            .filter_map(|waiter| waiter.waker.take())
            .collect();
        while let Some((_, waker)) = state.closed_waiters.pop_front() {
            wakers.extend(waker.take());
        }
        drop(state);
        wakers.into_iter().for_each(Waker::wake);
    }

    fn is_closed(&self) -> bool {
        self.lock().rx_closed
    }

    fn len(&self) -> usize {
        self.lock().buffer.len()
    }

    fn add_sender(&self) {
        // Relaxed: see `senders`; a sender exists (the one being cloned), so the count is > 0.
        self.senders.fetch_add(1, Relaxed);
    }

    /// Counts one more sender unless the count already reached 0 (the channel is closed to
    /// senders for good then).
    fn try_add_sender(&self) -> bool {
        // Relaxed: see `senders`.
        let mut count = self.senders.load(Relaxed);
        loop {
            if count == 0 {
                return false;
            }
            match self
                .senders
                .compare_exchange_weak(count, count + 1, Relaxed, Relaxed)
            {
                Ok(_) => return true,
                Err(actual) => count = actual,
            }
        }
    }

    fn drop_sender(&self) {
        if self.senders.fetch_sub(1, Relaxed) != 1 {
            return;
        }
        let mut state = self.lock();
        state.tx_closed = true;
        let waker = state.rx_waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn drop_receiver(&self) {
        self.close();
        // Take the buffered values and the receiver's stored waker out and drop them after
        // unlocking: their destructors may use this channel (e.g. drop one of its senders).
        // The waker goes now, not with the channel: it would pin its task (and anything the
        // task holds, such as a sender of this very channel) as long as a sender lives.
        let (buffered, waker) = {
            let mut state = self.lock();
            (std::mem::take(&mut state.buffer), state.rx_waker.take())
        };
        drop(buffered);
        drop(waker);
    }
}

impl<T> State<T> {
    fn has_space(&self, capacity: usize) -> bool {
        self.buffer.len() + self.granted + self.reserved < capacity
    }

    /// A slot was freed: reserves it for the oldest ungranted waiter, if any, and returns its
    /// waker to wake once the lock is released.
    fn grant_next(&mut self) -> Option<Waker> {
        let waiter = self.waiters.get_mut(self.granted)?;
        self.granted += 1;
        waiter.waker.take()
    }

    fn waiter_index(&self, id: u64) -> usize {
        self.waiters
            .binary_search_by_key(&id, |waiter| waiter.id)
            .expect("a waiting sender's entry is removed only by that sender")
    }

    /// Removes the entry of waiter `id`; returns whether it held a granted slot (now free),
    /// and its stored waker, for the caller to drop after unlocking.
    #[must_use = "drop the removed waker after releasing the lock"]
    fn remove_waiter(&mut self, id: u64) -> (bool, Option<Waker>) {
        let index = self.waiter_index(id);
        let removed = self.waiters.remove(index);
        let was_granted = index < self.granted;
        if was_granted {
            self.granted -= 1;
        }
        (was_granted, removed.and_then(|waiter| waiter.waker))
    }
}

/// The future of [`Sender::send`]: the value, and the sender's place in the wait queue once
/// it has one.
struct SendFuture<'a, T> {
    chan: &'a Chan<T>,
    value: Option<T>,
    waiter: Option<u64>,
}

// The value is never pinned (it is moved into the buffer), so the future is `Unpin` whatever
// `T` is.
impl<T> Unpin for SendFuture<'_, T> {}

impl<T> Chan<T> {
    /// One step of waiting for a slot, shared by `send` and `reserve`. On `Ready(true)` the
    /// caller owns a free slot (under the still-held lock) and must fill or reserve it before
    /// unlocking; `Ready(false)` means the receiver closed the channel. A replaced waker is
    /// put in `stale`, for the caller to drop after unlocking.
    fn poll_slot(
        &self,
        state: &mut State<T>,
        waiter: &mut Option<u64>,
        cx: &mut Context<'_>,
        stale: &mut Option<Waker>,
    ) -> Poll<bool> {
        if state.rx_closed {
            if let Some(id) = waiter.take() {
                // A granted slot is not passed on: every sender fails now.
                *stale = state.remove_waiter(id).1;
            }
            return Poll::Ready(false);
        }
        match *waiter {
            None if state.has_space(self.capacity) => Poll::Ready(true),
            None => {
                // Full: queue up. Nothing can be granted to us until a `recv` frees a slot,
                // which wakes us through this waker.
                let id = state.next_waiter_id;
                state.next_waiter_id += 1;
                state.waiters.push_back(Waiter {
                    id,
                    waker: Some(cx.waker().clone()),
                });
                *waiter = Some(id);
                Poll::Pending
            }
            Some(id) => {
                let index = state.waiter_index(id);
                if index >= state.granted {
                    // Not our turn yet (a spurious poll): keep the newest waker.
                    *stale = register_waker(&mut state.waiters[index].waker, cx.waker());
                    return Poll::Pending;
                }
                // Our slot was reserved: it is the caller's now (its waker was taken when
                // the slot was granted; any left goes after the lock).
                *stale = state.waiters.remove(index).and_then(|waiter| waiter.waker);
                state.granted -= 1;
                *waiter = None;
                Poll::Ready(true)
            }
        }
    }
}

impl<T> Future for SendFuture<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut state = this.chan.lock();
        let mut stale = None;
        let slot = this
            .chan
            .poll_slot(&mut state, &mut this.waiter, cx, &mut stale);
        let take_value =
            |value: &mut Option<T>| value.take().expect("SendFuture polled after completion");
        match slot {
            Poll::Pending => {
                drop(state);
                drop(stale);
                Poll::Pending
            }
            Poll::Ready(false) => {
                drop(state);
                Poll::Ready(Err(SendError(take_value(&mut this.value))))
            }
            Poll::Ready(true) => {
                this.chan.push(state, take_value(&mut this.value));
                Poll::Ready(Ok(()))
            }
        }
    }
}

/// The future of [`Sender::reserve`]: a place in the same wait queue as `send`.
struct ReserveFuture<'a, T> {
    chan: &'a Chan<T>,
    waiter: Option<u64>,
}

impl<T> Future for ReserveFuture<'_, T> {
    type Output = Result<(), SendError<()>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut state = this.chan.lock();
        let mut stale = None;
        let slot = this
            .chan
            .poll_slot(&mut state, &mut this.waiter, cx, &mut stale);
        if slot == Poll::Ready(true) {
            state.reserved += 1;
        }
        drop(state);
        drop(stale);
        slot.map(|got| if got { Ok(()) } else { Err(SendError(())) })
    }
}

impl<T> Drop for ReserveFuture<'_, T> {
    fn drop(&mut self) {
        if let Some(id) = self.waiter.take() {
            self.chan.cancel_waiter(id);
        }
    }
}

impl<T> Drop for SendFuture<'_, T> {
    fn drop(&mut self) {
        if let Some(id) = self.waiter.take() {
            self.chan.cancel_waiter(id);
        }
        // `self.value` is dropped after this, outside the lock.
    }
}

impl<T> Chan<T> {
    /// A waiting `send` or `reserve` was cancelled: leave the queue, and if a slot had been
    /// granted to it, grant it to the next waiter so its wake-up is not lost.
    fn cancel_waiter(&self, id: u64) {
        let mut state = self.lock();
        let (was_granted, removed) = state.remove_waiter(id);
        let waker = if was_granted {
            state.grant_next()
        } else {
            None
        };
        drop(state);
        drop(removed);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// A reserved slot is given back unused (a dropped `Permit`): the next waiter gets it.
    fn release_reserved(&self) {
        let mut state = self.lock();
        state.reserved -= 1;
        let waker = state.grant_next();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Sends through a reserved slot. If the receiver closed meanwhile the value is dropped
    /// (outside the lock), as in tokio.
    fn send_reserved(&self, value: T) {
        let mut state = self.lock();
        state.reserved -= 1;
        if state.rx_closed {
            drop(state);
            drop(value);
            return;
        }
        self.push(state, value);
    }

    fn poll_closed(&self, key: &mut Option<WaiterKey>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.lock();
        let stale = match *key {
            _ if state.rx_closed => {
                let old = key.take().and_then(|key| state.closed_waiters.remove(key));
                drop(state);
                drop(old);
                return Poll::Ready(());
            }
            Some(existing) if state.closed_waiters.is_linked(existing) => {
                register_waker(state.closed_waiters.get_mut(existing), cx.waker())
            }
            Some(existing) => {
                let old = state.closed_waiters.remove(existing);
                *key = Some(state.closed_waiters.push_back(Some(cx.waker().clone())));
                old
            }
            None => {
                *key = Some(state.closed_waiters.push_back(Some(cx.waker().clone())));
                None
            }
        };
        drop(state);
        drop(stale);
        Poll::Pending
    }

    fn recv_many(&self, buffer: &mut Vec<T>, limit: usize, cx: &mut Context<'_>) -> Poll<usize> {
        if limit == 0 {
            return Poll::Ready(0);
        }
        std::task::ready!(crate::task::coop::poll_proceed(cx));
        let mut state = self.lock();
        if state.buffer.is_empty() {
            if state.tx_closed || state.rx_closed {
                return Poll::Ready(0);
            }
            let stale = register_waker(&mut state.rx_waker, cx.waker());
            drop(state);
            drop(stale);
            return Poll::Pending;
        }
        // Each freed slot goes to a waiting sender; stop when the wake list is full (the
        // rest is returned by the next call).
        let mut wakers = WakeList::new();
        let mut taken = 0;
        while taken < limit && wakers.has_room() {
            let Some(value) = state.buffer.pop_front() else {
                break;
            };
            buffer.push(value);
            taken += 1;
            wakers.push(state.grant_next());
        }
        drop(state);
        wakers.wake_all();
        Poll::Ready(taken)
    }
}

/// The future of `Sender::closed`; `key` is its waker's slot.
struct ClosedFuture<'a, T> {
    chan: &'a Chan<T>,
    key: Option<WaiterKey>,
}

impl<T> Future for ClosedFuture<'_, T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        this.chan.poll_closed(&mut this.key, cx)
    }
}

impl<T> Drop for ClosedFuture<'_, T> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let waker = self.chan.lock().closed_waiters.remove(key);
            drop(waker);
        }
    }
}

/// A slot reserved in a bounded channel by [`Sender::reserve`]: [`send`](Permit::send)
/// fills it without waiting; dropping the permit gives the slot to the next waiting sender.
pub struct Permit<'a, T> {
    chan: &'a Chan<T>,
}

impl<T> Permit<'_, T> {
    /// Sends `value` into the reserved slot. Never waits and never fails: if the receiver
    /// closed the channel meanwhile, the value is dropped.
    pub fn send(self, value: T) {
        let chan = self.chan;
        std::mem::forget(self);
        chan.send_reserved(value);
    }
}

impl<T> Drop for Permit<'_, T> {
    fn drop(&mut self) {
        self.chan.release_reserved();
    }
}

impl<T> fmt::Debug for Permit<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mpsc::Permit").finish_non_exhaustive()
    }
}

/// A [`Permit`] that owns its [`Sender`], from [`Sender::reserve_owned`].
pub struct OwnedPermit<T> {
    /// `None` once sent or released.
    sender: Option<Sender<T>>,
}

impl<T> OwnedPermit<T> {
    /// Sends `value` into the reserved slot and hands the sender back.
    pub fn send(mut self, value: T) -> Sender<T> {
        let sender = self.sender.take().expect("the permit is used once");
        sender.chan.send_reserved(value);
        sender
    }

    /// Gives the slot back unused and hands the sender back.
    pub fn release(mut self) -> Sender<T> {
        let sender = self.sender.take().expect("the permit is used once");
        sender.chan.release_reserved();
        sender
    }
}

impl<T> Drop for OwnedPermit<T> {
    fn drop(&mut self) {
        if let Some(sender) = self.sender.take() {
            sender.chan.release_reserved();
        }
    }
}

impl<T> fmt::Debug for OwnedPermit<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mpsc::OwnedPermit").finish_non_exhaustive()
    }
}

/// A sender that does not keep the channel open, from [`Sender::downgrade`];
/// [`upgrade`](WeakSender::upgrade) it to send.
pub struct WeakSender<T> {
    chan: Arc<Chan<T>>,
}

impl<T> WeakSender<T> {
    /// A sender again, if some sender still exists (else the channel is closed for good).
    pub fn upgrade(&self) -> Option<Sender<T>> {
        self.chan.try_add_sender().then(|| Sender {
            chan: self.chan.clone(),
        })
    }
}

impl<T> Clone for WeakSender<T> {
    fn clone(&self) -> WeakSender<T> {
        WeakSender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> fmt::Debug for WeakSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mpsc::WeakSender").finish_non_exhaustive()
    }
}

/// An [`UnboundedSender`] that does not keep the channel open.
pub struct WeakUnboundedSender<T> {
    chan: Arc<Chan<T>>,
}

impl<T> WeakUnboundedSender<T> {
    /// A sender again, if some sender still exists.
    pub fn upgrade(&self) -> Option<UnboundedSender<T>> {
        self.chan.try_add_sender().then(|| UnboundedSender {
            chan: self.chan.clone(),
        })
    }
}

impl<T> Clone for WeakUnboundedSender<T> {
    fn clone(&self) -> WeakUnboundedSender<T> {
        WeakUnboundedSender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> fmt::Debug for WeakUnboundedSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mpsc::WeakUnboundedSender")
            .finish_non_exhaustive()
    }
}

impl<T> Sender<T> {
    /// Sends `value`, waiting for space if the channel is full. Fails, handing the value back,
    /// if the receiver is dropped or closes the channel (also while waiting).
    ///
    /// Cancel safety: dropping the future before it completes drops the value unsent and
    /// gives any slot reserved for it to the next waiting sender.
    pub async fn send(&self, value: T) -> Result<(), SendError<T>> {
        SendFuture {
            chan: &self.chan,
            value: Some(value),
            waiter: None,
        }
        .await
    }

    /// Sends `value` if there is space now.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.chan.try_send(value)
    }

    /// Waits for a slot (in the same FIFO as `send`) and reserves it: the [`Permit`] sends
    /// without waiting. Fails if the receiver is dropped or closes the channel.
    ///
    /// Cancel safety: dropping the future gives up its place (and a slot granted to it).
    pub async fn reserve(&self) -> Result<Permit<'_, T>, SendError<()>> {
        ReserveFuture {
            chan: &self.chan,
            waiter: None,
        }
        .await?;
        Ok(Permit { chan: &self.chan })
    }

    /// [`reserve`](Self::reserve) that owns the sender, so the permit can move into another
    /// task; the sender comes back from [`OwnedPermit::send`] or [`OwnedPermit::release`].
    pub async fn reserve_owned(self) -> Result<OwnedPermit<T>, SendError<()>> {
        ReserveFuture {
            chan: &self.chan,
            waiter: None,
        }
        .await?;
        Ok(OwnedPermit { sender: Some(self) })
    }

    /// Waits until the receiver is dropped or closes the channel.
    pub async fn closed(&self) {
        ClosedFuture {
            chan: &self.chan,
            key: None,
        }
        .await
    }

    /// A [`WeakSender`]: it does not keep the channel open.
    pub fn downgrade(&self) -> WeakSender<T> {
        WeakSender {
            chan: self.chan.clone(),
        }
    }

    /// Sends `value` from a plain thread, blocking it while the channel is full.
    ///
    /// # Panics
    /// Inside a spindle runtime (it would stall its tasks); use [`send`](Self::send) there.
    #[track_caller]
    pub fn blocking_send(&self, value: T) -> Result<(), SendError<T>> {
        super::blocking::block_on("mpsc::Sender::blocking_send", self.send(value))
    }

    /// Whether the receiver was dropped or closed the channel.
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// How many messages could be sent now without waiting.
    pub fn capacity(&self) -> usize {
        let state = self.chan.lock();
        self.chan.capacity - state.buffer.len() - state.granted - state.reserved
    }

    /// The capacity the channel was created with.
    pub fn max_capacity(&self) -> usize {
        self.chan.capacity
    }

    /// Whether both senders belong to the same channel.
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }
}

impl<T> UnboundedSender<T> {
    /// Sends `value` at once. Fails, handing the value back, if the receiver is dropped or
    /// closed the channel.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.chan.try_send(value).map_err(|error| match error {
            TrySendError::Closed(value) => SendError(value),
            TrySendError::Full(_) => unreachable!("an unbounded channel is never full"),
        })
    }

    /// Whether the receiver was dropped or closed the channel.
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// Whether both senders belong to the same channel.
    pub fn same_channel(&self, other: &UnboundedSender<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }

    /// Waits until the receiver is dropped or closes the channel.
    pub async fn closed(&self) {
        ClosedFuture {
            chan: &self.chan,
            key: None,
        }
        .await
    }

    /// A [`WeakUnboundedSender`]: it does not keep the channel open.
    pub fn downgrade(&self) -> WeakUnboundedSender<T> {
        WeakUnboundedSender {
            chan: self.chan.clone(),
        }
    }
}

macro_rules! receiver_methods {
    ($name:literal) => {
        /// Receives the next message, waiting for one. Returns `None` once the buffer is
        /// empty and every sender is dropped (or [`close`](Self::close) was called).
        ///
        /// Cancel safety: dropping the future loses no message.
        pub async fn recv(&mut self) -> Option<T> {
            poll_fn(|cx| self.chan.poll_recv(cx)).await
        }

        /// The poll form of [`recv`](Self::recv), for hand-written futures.
        pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
            self.chan.poll_recv(cx)
        }

        /// Waits for at least one message, then moves up to `limit` buffered messages into
        /// `buffer` (appending) and returns how many. Returns 0 only when `limit` is 0 or the
        /// channel is closed and empty. It may return fewer than are buffered (at most 32 per
        /// call hand freed slots to waiting senders).
        ///
        /// Cancel safety: dropping the future loses no message.
        pub async fn recv_many(&mut self, buffer: &mut Vec<T>, limit: usize) -> usize {
            poll_fn(|cx| self.chan.recv_many(buffer, limit, cx)).await
        }

        /// Takes the next message if one is buffered, without waiting.
        pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
            self.chan.try_recv()
        }

        /// Receives the next message from a plain thread, blocking it while the buffer is
        /// empty.
        ///
        /// # Panics
        /// Inside a spindle runtime (it would stall its tasks); use [`recv`](Self::recv)
        /// there.
        #[track_caller]
        pub fn blocking_recv(&mut self) -> Option<T> {
            super::blocking::block_on(
                concat!("mpsc::", $name, "::blocking_recv"),
                poll_fn(|cx| self.chan.poll_recv(cx)),
            )
        }

        /// Closes the channel: later sends fail (waiting ones too), while messages already
        /// buffered can still be received.
        pub fn close(&mut self) {
            self.chan.close();
        }

        /// How many messages are buffered.
        pub fn len(&self) -> usize {
            self.chan.len()
        }

        /// Whether no message is buffered.
        pub fn is_empty(&self) -> bool {
            self.len() == 0
        }
    };
}

impl<T> Receiver<T> {
    receiver_methods!("Receiver");
}

impl<T> UnboundedReceiver<T> {
    receiver_methods!("UnboundedReceiver");
}

macro_rules! sender_impls {
    ($sender:ident, $receiver:ident) => {
        impl<T> Clone for $sender<T> {
            fn clone(&self) -> $sender<T> {
                self.chan.add_sender();
                $sender {
                    chan: self.chan.clone(),
                }
            }
        }

        impl<T> Drop for $sender<T> {
            fn drop(&mut self) {
                self.chan.drop_sender();
            }
        }

        impl<T> Drop for $receiver<T> {
            fn drop(&mut self) {
                self.chan.drop_receiver();
            }
        }

        impl<T> fmt::Debug for $sender<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(concat!("mpsc::", stringify!($sender)))
                    .finish_non_exhaustive()
            }
        }

        impl<T> fmt::Debug for $receiver<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(concat!("mpsc::", stringify!($receiver)))
                    .finish_non_exhaustive()
            }
        }
    };
}

sender_impls!(Sender, Receiver);
sender_impls!(UnboundedSender, UnboundedReceiver);
