//! A single-value channel: one [`Sender`] publishes the latest value, many [`Receiver`]s
//! see it and wait for changes, like `tokio::sync::watch`.
//!
//! ```
//! use spindle::sync::watch;
//!
//! spindle::block_on(async {
//!     let (tx, mut rx) = watch::channel("starting");
//!     let handle = spindle::spawn(async move {
//!         rx.changed().await.unwrap();
//!         *rx.borrow_and_update()
//!     });
//!     tx.send("running").unwrap();
//!     assert_eq!(handle.await.unwrap(), "running");
//! });
//! ```
//!
//! # Semantics
//!
//! - Every send bumps a version. A receiver remembers the version it last *saw*
//!   ([`borrow_and_update`](Receiver::borrow_and_update), [`changed`](Receiver::changed), or
//!   its creation); [`changed`](Receiver::changed) completes at once if the current version is
//!   newer, else waits for the next send. Intermediate values may be skipped: only the latest
//!   is kept.
//! - When the last sender is dropped, `changed` still reports a value the receiver has not seen,
//!   then fails with [`RecvError`].
//! - `send` fails (handing the value back) when no receiver exists; `send_replace` and
//!   `send_modify` always store the value.
//! - A [`Ref`] from `borrow` holds a read lock: keep it short, and do not hold it across an
//!   `.await` (the sender waits for it to write).
//!
//! # Implementation notes
//!
//! The value and its version sit under a readers-writer lock (from `crate::loom`); old values
//! are dropped after the lock is released. Receivers wait on a `Notify` with
//! `notify_waiters`: a receiver creates its `Notified` before it checks the version and the
//! closed flag, so a send or close between the check and the wait still wakes it (the
//! `Notified` counts from its creation). The sender's `closed()` waits on a second `Notify`
//! the same way, for the receiver count reaching zero.
//!
//! Loom model: `loom_watch_send_races_changed`.

use std::fmt;
use std::ops::Deref;

use super::Notify;
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use crate::loom::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use self::error::{RecvError, SendError};

/// Errors of the watch channel.
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

    /// The sender was dropped (and the receiver has seen the last value).
    #[derive(Debug, PartialEq, Eq, Clone, Copy)]
    pub struct RecvError(pub(super) ());

    impl fmt::Display for RecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("channel closed")
        }
    }

    impl std::error::Error for RecvError {}
}

/// Creates a watch channel holding `init`; the receiver counts `init` as seen.
pub fn channel<T>(init: T) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        value: RwLock::new(Versioned {
            value: init,
            version: 0,
        }),
        closed: AtomicBool::new(false),
        senders: AtomicUsize::new(1),
        receivers: AtomicUsize::new(1),
        value_changed: Notify::new(),
        receivers_gone: Notify::new(),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared, seen: 0 },
    )
}

struct Shared<T> {
    value: RwLock<Versioned<T>>,
    /// Every sender is gone. SeqCst, like `receivers`: each is checked by a waiter after it
    /// created its `Notified`, and set before the matching `notify_waiters`.
    closed: AtomicBool,
    /// Live senders; the last one's drop sets `closed`.
    senders: AtomicUsize,
    receivers: AtomicUsize,
    /// `notify_waiters` on every send and on the sender's drop.
    value_changed: Notify,
    /// `notify_waiters` when the last receiver goes.
    receivers_gone: Notify,
}

struct Versioned<T> {
    value: T,
    version: u64,
}

impl<T> Shared<T> {
    fn read(&self) -> RwLockReadGuard<'_, Versioned<T>> {
        // A panic in user code under the lock (a `send_modify` closure, a `Ref` holder)
        // leaves a value and version that are still a value and a version.
        self.value
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Versioned<T>> {
        self.value
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The publishing half of a watch channel; clone it for more senders (the channel closes
/// when the last one is dropped).
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// A receiving half; clone it for more (a clone has seen what the original has seen).
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// The version this receiver saw last.
    seen: u64,
}

/// A borrowed view of the current value; holds the channel's read lock.
pub struct Ref<'a, T> {
    guard: RwLockReadGuard<'a, Versioned<T>>,
    has_changed: bool,
}

impl<T> Ref<'_, T> {
    /// Whether this value is newer than what the receiver had seen when it borrowed.
    pub fn has_changed(&self) -> bool {
        self.has_changed
    }
}

impl<T> Deref for Ref<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.guard.value
    }
}

impl<T: fmt::Debug> fmt::Debug for Ref<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T> Sender<T> {
    /// A sender with no receiver yet ([`subscribe`](Self::subscribe) makes some).
    pub fn new(init: T) -> Sender<T> {
        channel(init).0
    }

    /// How many senders exist.
    pub fn sender_count(&self) -> usize {
        self.shared.senders.load(SeqCst)
    }

    /// Whether both senders belong to the same channel.
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Publishes `value` if at least one receiver exists; else hands it back.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        if self.shared.receivers.load(SeqCst) == 0 {
            return Err(SendError(value));
        }
        drop(self.send_replace(value));
        Ok(())
    }

    /// Publishes `value` even if no receiver exists; returns the previous value.
    pub fn send_replace(&self, value: T) -> T {
        let mut slot = self.shared.write();
        let old = std::mem::replace(&mut slot.value, value);
        slot.version += 1;
        drop(slot);
        self.shared.value_changed.notify_waiters();
        old
    }

    /// Changes the value in place with `modify` and notifies the receivers.
    pub fn send_modify<F: FnOnce(&mut T)>(&self, modify: F) {
        self.send_if_modified(|value| {
            modify(value);
            true
        });
    }

    /// Changes the value in place; notifies the receivers only if `modify` returns `true`.
    pub fn send_if_modified<F: FnOnce(&mut T) -> bool>(&self, modify: F) -> bool {
        let mut slot = self.shared.write();
        if !modify(&mut slot.value) {
            return false;
        }
        slot.version += 1;
        drop(slot);
        self.shared.value_changed.notify_waiters();
        true
    }

    /// The current value (`has_changed` is always `false` on the sender's side).
    pub fn borrow(&self) -> Ref<'_, T> {
        Ref {
            guard: self.shared.read(),
            has_changed: false,
        }
    }

    /// A new receiver that has seen the current value.
    pub fn subscribe(&self) -> Receiver<T> {
        let seen = self.shared.read().version;
        self.shared.receivers.fetch_add(1, SeqCst);
        Receiver {
            shared: self.shared.clone(),
            seen,
        }
    }

    /// How many receivers exist.
    pub fn receiver_count(&self) -> usize {
        self.shared.receivers.load(SeqCst)
    }

    /// Whether every receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.receiver_count() == 0
    }

    /// Waits until every receiver is gone.
    pub async fn closed(&self) {
        loop {
            // Created before the check: a last receiver dropping after it still wakes us.
            let gone = self.shared.receivers_gone.notified();
            if self.is_closed() {
                return;
            }
            gone.await;
        }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        self.shared.senders.fetch_add(1, SeqCst);
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, SeqCst) == 1 {
            self.shared.closed.store(true, SeqCst);
            self.shared.value_changed.notify_waiters();
        }
    }
}

impl<T> Receiver<T> {
    /// The current value, without marking it seen.
    pub fn borrow(&self) -> Ref<'_, T> {
        let guard = self.shared.read();
        let has_changed = guard.version != self.seen;
        Ref { guard, has_changed }
    }

    /// The current value, marking it seen.
    pub fn borrow_and_update(&mut self) -> Ref<'_, T> {
        let guard = self.shared.read();
        let has_changed = guard.version != self.seen;
        self.seen = guard.version;
        Ref { guard, has_changed }
    }

    /// Whether a value this receiver has not seen is in the channel; an error once the
    /// sender is gone.
    pub fn has_changed(&self) -> Result<bool, RecvError> {
        if self.shared.closed.load(SeqCst) {
            return Err(RecvError(()));
        }
        Ok(self.shared.read().version != self.seen)
    }

    /// Marks the current value as seen.
    pub fn mark_unchanged(&mut self) {
        self.seen = self.shared.read().version;
    }

    /// Marks the current value as not seen, so `changed` completes at once.
    pub fn mark_changed(&mut self) {
        self.seen = self.shared.read().version.wrapping_sub(1);
    }

    /// Waits for a value this receiver has not seen, and marks it seen. Fails once the
    /// sender is gone and the last value was seen.
    ///
    /// Cancel safety: dropping the future loses nothing (the version is marked seen only
    /// when it returns).
    pub async fn changed(&mut self) -> Result<(), RecvError> {
        loop {
            // Created before the checks, so a send or close after them still wakes us.
            let notified = self.shared.value_changed.notified();
            let version = self.shared.read().version;
            if version != self.seen {
                self.seen = version;
                return Ok(());
            }
            if self.shared.closed.load(SeqCst) {
                return Err(RecvError(()));
            }
            notified.await;
        }
    }

    /// Whether both receivers belong to the same channel.
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Receiver<T> {
        self.shared.receivers.fetch_add(1, SeqCst);
        Receiver {
            shared: self.shared.clone(),
            seen: self.seen,
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if self.shared.receivers.fetch_sub(1, SeqCst) == 1 {
            self.shared.receivers_gone.notify_waiters();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("watch::Sender")
            .field("receivers", &self.receiver_count())
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("watch::Receiver")
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}
