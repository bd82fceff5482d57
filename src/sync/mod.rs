//! Channels and synchronisation primitives for tasks (and threads), shaped like
//! `tokio::sync`: a tokio program using these names ports by changing `tokio::` to
//! `spindle::`.
//!
//! Channels:
//! - [`oneshot`]: one value, one sender, one receiver. A single allocation: the value slot,
//!   two waker slots and one atomic state word whose bits say who owns which slot.
//! - [`mpsc`]: many senders, one receiver, FIFO; [`mpsc::channel`] is bounded (senders wait
//!   for space, in arrival order; `reserve` holds a slot), [`mpsc::unbounded_channel`] never
//!   waits. A mutex around a ring buffer and the waiting senders' wakers.
//! - [`watch`]: the latest value, many receivers told of changes.
//! - [`broadcast`]: every receiver sees every value; a bounded ring, slow receivers are told
//!   how many values they missed (`Lagged(n)`).
//!
//! Waiting primitives (all FIFO, all cancellation-safe: a dropped future passes on whatever
//! it had been given):
//! - [`Semaphore`] (with [`SemaphorePermit`], [`OwnedSemaphorePermit`]): permits served in
//!   arrival order; a large `acquire_many` at the head is not starved by small ones.
//! - [`Mutex`] and [`RwLock`] (write-preferring): a semaphore with 1 and [`MAX_READS`]
//!   permits around the value.
//! - [`Notify`]: `notify_one` (keeps one permit if nobody waits), `notify_waiters`.
//! - [`Barrier`], [`OnceCell`].
//!
//! Not here yet (tokio has them): `broadcast::Sender::closed` and weak broadcast senders,
//! `watch::Receiver::wait_for`, mapped `RwLock` guards, `Mutex`/`RwLock` of unsized values,
//! `Semaphore::const_new`, `mpsc::Receiver::poll_recv_many`.
//!
//! Waiters of the waiting primitives sit in one shared building block, a slot-keyed FIFO
//! under each primitive's mutex (`wait_queue.rs`): a cancelled waiter frees its own slot, and
//! wakers are taken out under the lock and woken (or dropped) only after it is released.
//! Every synchronization primitive used comes from `crate::loom`, so the loom models in
//! `src/sync/loom_tests.rs` and `src/sync/loom_tests_sync.rs` check the very code that ships:
//!
//! | property | loom model |
//! |---|---|
//! | a oneshot value is delivered once or handed back, never lost or leaked | `loom_oneshot_send_races_receiver_poll`, `loom_oneshot_send_races_receiver_drop` |
//! | both oneshot halves dropping at once frees the channel once | `loom_oneshot_receiver_drop_races_sender_drop` |
//! | `Sender::closed` wakes when the receiver goes | `loom_oneshot_closed_wakes_sender` |
//! | mpsc: every message received once, FIFO per sender | `loom_mpsc_two_senders_one_receiver` |
//! | a sender waiting for space is woken by `recv` | `loom_mpsc_bounded_sender_waits_for_space` |
//! | a cancelled waiting `send` passes its slot on (negative control: a leaked one is caught) | `loom_mpsc_cancelled_send_passes_permit_on`, `loom_mpsc_cancel_races_grant`, `loom_mpsc_cancel_races_grant_negative_control` |
//! | a dropped mpsc `Permit` passes its slot on (+ negative control) | `loom_mpsc_dropped_permit_passes_slot_on` |
//! | the last sender's drop ends `recv` with `None` | `loom_mpsc_last_sender_drop_races_recv` |
//! | a `WeakSender` never reopens a closed channel | `loom_mpsc_weak_upgrade_races_last_sender_drop` |
//! | one semaphore permit, one holder | `loom_semaphore_two_acquirers_exclusive`, `loom_mutex_two_lockers_exclusive` |
//! | a cancelled acquire gives its permits to the next waiter (+ negative control) | `loom_semaphore_cancel_races_release` |
//! | `close` fails a partly served waiter and returns its permits | `loom_semaphore_close_races_acquire` |
//! | an RwLock reader never sees a half-done write | `loom_rwlock_reader_races_writer` |
//! | `notify_one` before the wait is kept as a permit (+ negative control) | `loom_notify_one_before_wait_is_kept` |
//! | `notify_waiters` wakes the futures that exist, stores nothing | `loom_notify_waiters_wakes_all_current` |
//! | a notified-then-cancelled waiter passes it on (+ negative control) | `loom_notify_cancelled_waiter_passes_it_on` |
//! | a barrier releases everyone with one leader (+ negative control) | `loom_barrier_one_leader_per_generation` |
//! | a OnceCell runs one init; a cancelled init lets the next run (+ negative control) | `loom_once_cell_one_initialiser`, `loom_once_cell_cancelled_init_passes_on` |
//! | a watch receiver never sleeps through a send or the close | `loom_watch_send_races_changed` |
//! | broadcast lag is counted, every value is dropped once | `loom_broadcast_send_races_recv_and_lag` |
//!
//! ```
//! use spindle::sync::{mpsc, oneshot};
//!
//! spindle::block_on(async {
//!     let (tx, mut rx) = mpsc::channel(8);
//!     let (done_tx, done_rx) = oneshot::channel();
//!     spindle::spawn(async move {
//!         let mut sum = 0;
//!         while let Some(n) = rx.recv().await {
//!             sum += n;
//!         }
//!         done_tx.send(sum).unwrap();
//!     });
//!     for n in 1..=4 {
//!         tx.send(n).await.unwrap();
//!     }
//!     drop(tx); // the last sender gone: `recv` returns `None` once the buffer is empty
//!     assert_eq!(done_rx.await, Ok(10));
//! });
//! ```

mod barrier;
mod blocking;
pub mod broadcast;
pub mod mpsc;
mod mutex;
mod notify;
mod once_cell;
pub mod oneshot;
mod rwlock;
mod semaphore;
mod wait_queue;
pub mod watch;

pub use barrier::{Barrier, BarrierWaitResult};
pub use mutex::{MappedMutexGuard, Mutex, MutexGuard, OwnedMutexGuard, TryLockError};
pub use notify::{Notified, Notify};
pub use once_cell::{OnceCell, SetError};
pub use rwlock::{
    OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock, RwLockReadGuard, RwLockWriteGuard,
    MAX_READS,
};
pub use semaphore::{
    AcquireError, OwnedSemaphorePermit, Semaphore, SemaphorePermit, TryAcquireError,
};

#[cfg(all(test, loom))]
mod loom_tests;
#[cfg(all(test, loom))]
mod loom_tests_sync;
