//! Channels between tasks and threads, shaped like tokio's.
//!
//! - [`oneshot`]: one value, one sender, one receiver. A single allocation: the value slot,
//!   two waker slots and one atomic state word whose bits say who owns which slot.
//! - [`mpsc`]: many senders, one receiver, FIFO; [`mpsc::channel`] is bounded (senders wait
//!   for space, in arrival order), [`mpsc::unbounded_channel`] never waits. A mutex around a
//!   ring buffer and the waiting senders' wakers; no allocation per message once the buffer
//!   has grown.
//!
//! Both work from async code (`.await`) and from plain threads (`blocking_*`), and every
//! synchronization primitive they use comes from `crate::loom`, so the loom models in
//! `src/sync/loom_tests.rs` check the very code that ships:
//!
//! | property | loom model |
//! |---|---|
//! | a oneshot value is delivered once or handed back, never lost or leaked | `loom_oneshot_send_races_receiver_poll`, `loom_oneshot_send_races_receiver_drop` |
//! | both oneshot halves dropping at once frees the channel once | `loom_oneshot_receiver_drop_races_sender_drop` |
//! | `Sender::closed` wakes when the receiver goes | `loom_oneshot_closed_wakes_sender` |
//! | mpsc: every message received once, FIFO per sender | `loom_mpsc_two_senders_one_receiver` |
//! | a sender waiting for space is woken by `recv` | `loom_mpsc_bounded_sender_waits_for_space` |
//! | a cancelled waiting `send` passes its slot on (negative control: a leaked one is caught) | `loom_mpsc_cancelled_send_passes_permit_on`, `loom_mpsc_cancel_races_grant`, `loom_mpsc_cancel_races_grant_negative_control` |
//! | the last sender's drop ends `recv` with `None` | `loom_mpsc_last_sender_drop_races_recv` |
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
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard, MAX_READS};
pub use semaphore::{
    AcquireError, OwnedSemaphorePermit, Semaphore, SemaphorePermit, TryAcquireError,
};

#[cfg(all(test, loom))]
mod loom_tests;
#[cfg(all(test, loom))]
mod loom_tests_sync;
