//! A channel for one value: one [`Sender`], one [`Receiver`].
//!
//! ```
//! use spindle::sync::oneshot;
//!
//! spindle::block_on(async {
//!     let (tx, rx) = oneshot::channel();
//!     spindle::spawn(async move {
//!         tx.send("done").unwrap();
//!     });
//!     assert_eq!(rx.await, Ok("done"));
//! });
//! ```
//!
//! # Implementation notes
//!
//! One allocation (an `Arc`) holds three cells and one atomic state word:
//!
//! | cell | written by | while |
//! |---|---|---|
//! | `value` | the sender | `COMPLETE` is clear; after that only the receiver touches it |
//! | `rx_waker` | the receiver | `RX_WAKER_SET` is clear; while set, both may read it |
//! | `tx_waker` | the sender | `TX_WAKER_SET` is clear; while set, both may read it |
//!
//! - `COMPLETE`: the sender is done, by `send` (the value is in its cell) or by being dropped
//!   (the cell is empty). Set at most once, never after `CLOSED`.
//! - `CLOSED`: the receiver closed the channel or was dropped. Set at most once in effect;
//!   a sender that sees it takes its value back.
//! - `RX_WAKER_SET` / `TX_WAKER_SET`: a waker is stored for the sender to wake on
//!   `COMPLETE` / for the receiver to wake on `CLOSED`.
//!
//! A side writes its waker cell only after clearing its bit with a read-modify-write that did
//! not see the other side's terminal bit; the other side reads the cell only if its terminal
//! read-modify-write saw the bit set. All of these are RMWs of one word, hence totally ordered:
//! either the clear comes first (and the terminal RMW sees the bit clear, or sees it set again
//! by a `Release` that published the new waker), or the terminal RMW comes first (and the clear
//! sees the terminal bit and leaves the cell alone). Each ordering is explained where it is used.
//! The receiver's close (by `close()` or its drop) takes its own waker back out of the cell
//! when its RMW saw no `COMPLETE` (the sender will never read it), so a receiver that went
//! away does not keep its task's waker, and whatever that pins, alive while the sender lives.
//! If `COMPLETE` came first, the sender may be waking that waker and is about to release the
//! channel; the waker, the sender's, and a value nobody took go with the allocation.
//!
//! Loom models: `loom_oneshot_send_races_receiver_poll`, `loom_oneshot_send_races_receiver_drop`,
//! `loom_oneshot_receiver_drop_races_sender_drop`, `loom_oneshot_closed_wakes_sender`,
//! `loom_oneshot_dropped_receiver_releases_its_waker` (and `_sender_drop`).

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{
    AtomicUsize,
    Ordering::{AcqRel, Acquire, Relaxed},
};
use crate::loom::sync::Arc;

use self::error::{RecvError, TryRecvError};

/// Errors of the oneshot channel.
pub mod error {
    use std::fmt;

    /// The sender was dropped without sending a value (or the receiver closed the channel
    /// before one arrived).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct RecvError(pub(super) ());

    impl fmt::Display for RecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("channel closed")
        }
    }

    impl std::error::Error for RecvError {}

    /// Why [`Receiver::try_recv`](super::Receiver::try_recv) returned no value.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum TryRecvError {
        /// No value yet; the sender may still send one.
        Empty,
        /// No value will come: the sender was dropped, the channel was closed, or the value
        /// was already received.
        Closed,
    }

    impl fmt::Display for TryRecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                TryRecvError::Empty => f.write_str("channel empty"),
                TryRecvError::Closed => f.write_str("channel closed"),
            }
        }
    }

    impl std::error::Error for TryRecvError {}
}

const RX_WAKER_SET: usize = 0b0001;
const TX_WAKER_SET: usize = 0b0010;
const COMPLETE: usize = 0b0100;
const CLOSED: usize = 0b1000;

/// Creates a oneshot channel.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Arc::new(Inner {
        state: AtomicUsize::new(0),
        value: UnsafeCell::new(None),
        rx_waker: UnsafeCell::new(None),
        tx_waker: UnsafeCell::new(None),
    });
    (
        Sender {
            inner: Some(inner.clone()),
        },
        Receiver { inner: Some(inner) },
    )
}

/// Sends the value. Dropping it without sending makes the receiver get [`RecvError`].
pub struct Sender<T> {
    /// `None` once `send` has run.
    inner: Option<Arc<Inner<T>>>,
}

/// Receives the value: `.await` it, or call [`try_recv`](Receiver::try_recv) or
/// [`blocking_recv`](Receiver::blocking_recv).
pub struct Receiver<T> {
    /// `None` once the outcome has been returned (or after drop).
    inner: Option<Arc<Inner<T>>>,
}

struct Inner<T> {
    state: AtomicUsize,
    value: UnsafeCell<Option<T>>,
    rx_waker: UnsafeCell<Option<Waker>>,
    tx_waker: UnsafeCell<Option<Waker>>,
}

// SAFETY: the cells are only accessed under the ownership protocol of the module docs, so
// no cell is written while another thread reads or writes it. A `T` moves from the sending
// thread to the receiving one (hence `T: Send`) and is never shared by reference across
// threads (so `T: Sync` is not needed). `Waker` is `Send + Sync`.
unsafe impl<T: Send> Send for Inner<T> {}
// SAFETY: as above; `&Inner` only gives access through the protocol.
unsafe impl<T: Send> Sync for Inner<T> {}

impl<T> Inner<T> {
    /// Marks the sender done and wakes the receiver. Returns `false`, changing nothing, if the
    /// receiver has closed the channel.
    fn complete(&self) -> bool {
        // Relaxed: the CAS below validates whatever we read.
        let mut state = self.state.load(Relaxed);
        loop {
            if state & CLOSED != 0 {
                // Nothing of the receiver's is read on this path, so no Acquire is needed.
                return false;
            }
            // Release: publishes the value written into its cell to the receiver, which reads
            // COMPLETE with Acquire. Acquire: if RX_WAKER_SET is set, the receiver's waker
            // write (published by its Release fetch_or) happens before our read of the cell.
            match self
                .state
                .compare_exchange_weak(state, state | COMPLETE, AcqRel, Relaxed)
            {
                Ok(_) => break,
                Err(actual) => state = actual,
            }
        }
        if state & RX_WAKER_SET != 0 {
            self.rx_waker.with(|waker| {
                // SAFETY: our RMW saw RX_WAKER_SET: the receiver will not write the cell again
                // (its next clear sees COMPLETE and backs off), so shared access is sound.
                let waker = unsafe { &*waker };
                waker
                    .as_ref()
                    .expect("RX_WAKER_SET with no waker")
                    .wake_by_ref();
            });
        }
        true
    }

    /// The receiver's close (by `close()` or by being dropped): sets CLOSED, wakes a sender
    /// waiting in `closed()` and releases the receiver's stored waker. Returns the previous
    /// state.
    fn close(&self) -> usize {
        // Acquire: if TX_WAKER_SET is set, makes the sender's waker write visible before we
        // read it; if COMPLETE is set, makes the value visible (the receiver's drop takes it).
        // Release: nothing of the receiver's is read by the sender after CLOSED, but the RMW
        // is AcqRel anyway so the state word has one simple rule.
        let previous = self.state.fetch_or(CLOSED, AcqRel);
        if previous & (TX_WAKER_SET | COMPLETE) == TX_WAKER_SET {
            self.tx_waker.with(|waker| {
                // SAFETY: our RMW saw TX_WAKER_SET (and no COMPLETE): the sender will not write
                // the cell again (its next clear sees CLOSED and backs off).
                let waker = unsafe { &*waker };
                waker
                    .as_ref()
                    .expect("TX_WAKER_SET with no waker")
                    .wake_by_ref();
            });
        }
        if previous & (RX_WAKER_SET | COMPLETE) == RX_WAKER_SET {
            // Nobody will wake this waker now (the sender stops at CLOSED), and kept in the
            // cell it would pin its task (and whatever that holds) for as long as the sender
            // lives. Relaxed: only the receiver reads RX_WAKER_SET after CLOSED.
            self.state.fetch_and(!RX_WAKER_SET, Relaxed);
            // SAFETY: our RMW saw no COMPLETE, so the sender never reads the cell again (its
            // `complete` sees CLOSED and backs off) and the receiver (us) is its only user.
            let waker = self.rx_waker.with_mut(|waker| unsafe { (*waker).take() });
            // Dropped here, holding nothing: its destructor may run user code, even drop the
            // sender of this channel.
            drop(waker);
        }
        previous
    }

    /// Stores `waker` in `cell` (guarded by `bit`) unless `done` appears in the state first.
    /// Returns `true` if `done` was seen; then the cell was left alone.
    fn register(
        &self,
        cell: &UnsafeCell<Option<Waker>>,
        bit: usize,
        done: usize,
        waker: &Waker,
    ) -> bool {
        // Acquire: if `done` is COMPLETE, the caller reads the value next.
        let state = self.state.load(Acquire);
        if state & done != 0 {
            return true;
        }
        if state & bit != 0 {
            let same = cell.with(|stored| {
                // SAFETY: while `bit` is set, the other side only reads the cell; so do we.
                let stored = unsafe { &*stored };
                stored
                    .as_ref()
                    .is_some_and(|stored| stored.will_wake(waker))
            });
            if same {
                return false;
            }
            // Take the cell back. AcqRel: Acquire for the value if `done` is COMPLETE; Release
            // is not needed for the clear itself but keeps every RMW here AcqRel.
            let state = self.state.fetch_and(!bit, AcqRel);
            if state & done != 0 {
                // The other side saw our bit and may be reading the cell: leave it alone.
                return true;
            }
        }
        cell.with_mut(|stored| {
            // SAFETY: `bit` is clear and the other side's terminal RMW has not happened (we
            // saw no `done`), so when it happens it sees the bit clear unless our Release below
            // set it again, and that Release orders this write before the other side's read.
            unsafe { *stored = Some(waker.clone()) }
        });
        // Release: publishes the waker write. Acquire: for the value if COMPLETE arrived.
        let state = self.state.fetch_or(bit, AcqRel);
        // The other side finished between our check and now; it saw `bit` clear and will not
        // wake us, so report readiness ourselves.
        state & done != 0
    }
}

impl<T> Sender<T> {
    /// Sends `value`. Fails, handing the value back, if the receiver was dropped or closed the
    /// channel. Never waits.
    pub fn send(mut self, value: T) -> Result<(), T> {
        let inner = self.inner.take().expect("send consumes the sender");
        // SAFETY: COMPLETE is clear (only this sender sets it, and `send` runs once), so the
        // sender owns the value cell; the receiver reads it only after seeing COMPLETE.
        inner.value.with_mut(|cell| unsafe { *cell = Some(value) });
        if inner.complete() {
            Ok(())
        } else {
            // SAFETY: `complete` failed, so COMPLETE is still clear: the cell is still ours.
            let value = inner.value.with_mut(|cell| unsafe { (*cell).take() });
            Err(value.expect("the value was just stored"))
        }
    }

    /// Whether the receiver was dropped or closed the channel (a later `send` would fail).
    pub fn is_closed(&self) -> bool {
        // Relaxed: a hint; nothing is read on the strength of it.
        self.inner()
            .is_some_and(|inner| inner.state.load(Relaxed) & CLOSED != 0)
    }

    /// Waits until the receiver is dropped or closes the channel, e.g. to stop computing a
    /// value nobody wants.
    pub async fn closed(&mut self) {
        poll_fn(|cx| self.poll_closed(cx)).await
    }

    /// Polls for the receiver closing; the poll form of [`closed`](Self::closed).
    pub fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let inner = self.inner.as_ref().expect("the sender is alive until send");
        if inner.register(&inner.tx_waker, TX_WAKER_SET, CLOSED, cx.waker()) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    fn inner(&self) -> Option<&Inner<T>> {
        self.inner.as_deref()
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            // Complete with an empty value cell: the receiver gets `RecvError`.
            inner.complete();
        }
    }
}

impl<T> Receiver<T> {
    /// Takes the value if it has arrived, without waiting.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let Some(inner) = self.inner.as_ref() else {
            return Err(TryRecvError::Closed);
        };
        // Acquire: pairs with the sender's Release setting COMPLETE, for the value.
        let state = inner.state.load(Acquire);
        if state & COMPLETE != 0 {
            self.take_outcome().map_err(|_| TryRecvError::Closed)
        } else if state & CLOSED != 0 {
            self.inner = None;
            Err(TryRecvError::Closed)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// Closes the channel without dropping the receiver: a later `send` fails, but a value
    /// sent before the close can still be received.
    pub fn close(&mut self) {
        if let Some(inner) = &self.inner {
            inner.close();
        }
    }

    /// Blocks the current thread until the value arrives or the sender is dropped.
    ///
    /// # Panics
    /// Inside a spindle runtime (it would stall its tasks); `.await` the receiver there.
    #[track_caller]
    pub fn blocking_recv(self) -> Result<T, RecvError> {
        super::blocking::block_on("oneshot::Receiver::blocking_recv", self)
    }

    /// The outcome once COMPLETE has been seen with Acquire. Releases the channel.
    fn take_outcome(&mut self) -> Result<T, RecvError> {
        let inner = self.inner.take().expect("the outcome is taken once");
        // SAFETY: COMPLETE was seen with Acquire, so the sender's write (if any) happened
        // before; the sender never touches the cell after COMPLETE, and this receiver is the
        // only other party.
        let value = inner.value.with_mut(|cell| unsafe { (*cell).take() });
        value.ok_or(RecvError(()))
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        std::task::ready!(crate::task::coop::poll_proceed(cx));
        let this = self.get_mut();
        let inner = this
            .inner
            .as_ref()
            .expect("oneshot::Receiver polled after it returned Ready");
        // Acquire: pairs with the sender's Release setting COMPLETE, for the value.
        let state = inner.state.load(Acquire);
        if state & COMPLETE != 0 {
            return Poll::Ready(this.take_outcome());
        }
        if state & CLOSED != 0 {
            // Closed by `close()`; COMPLETE cannot follow CLOSED, so no value will come.
            this.inner = None;
            return Poll::Ready(Err(RecvError(())));
        }
        if inner.register(&inner.rx_waker, RX_WAKER_SET, COMPLETE, cx.waker()) {
            return Poll::Ready(this.take_outcome());
        }
        Poll::Pending
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            if inner.close() & COMPLETE != 0 {
                // SAFETY: COMPLETE was seen by `close`'s Acquire RMW: the cell is ours. Drop a
                // value nobody will receive now rather than when the allocation goes.
                drop(inner.value.with_mut(|cell| unsafe { (*cell).take() }));
            }
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("oneshot::Sender")
            .field("is_closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("oneshot::Receiver").finish_non_exhaustive()
    }
}
