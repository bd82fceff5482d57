//! A counting semaphore with FIFO waiters; the base of [`Mutex`](super::Mutex) and
//! [`RwLock`](super::RwLock).
//!
//! # Implementation notes
//!
//! A mutex (from `crate::loom`) guards the free permit count, the closed flag and a
//! [`WaitQueue`] of acquirers. Invariant: while the queue is non-empty there are no free
//! permits (every released permit goes to the head waiter first), which is what makes the
//! queue FIFO and stops `try_acquire` from barging. Wakers are collected under the lock in a
//! [`WakeList`] and woken after it is released; a replaced or removed waker is dropped after
//! the release too.
//!
//! Loom models: `loom_semaphore_two_acquirers_exclusive`,
//! `loom_semaphore_cancel_races_release` (with a negative control),
//! `loom_semaphore_close_races_acquire`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::wait_queue::{WaitQueue, WaiterKey, WakeList};
use crate::loom::sync::{Mutex, MutexGuard};

/// A counting semaphore: [`acquire`](Semaphore::acquire) waits for a permit, dropping the
/// returned [`SemaphorePermit`] gives it back.
///
/// # Semantics (as tokio documents them)
///
/// - Waiters are served strictly in arrival order. A waiter asking for more permits than are
///   free takes the free ones now and waits for the rest *at the head of the queue*: later
///   waiters, even ones asking for a single permit, wait behind it, and `try_acquire` fails
///   while anyone waits. So a large `acquire_many` is never starved by small ones.
/// - Cancel safety: dropping an `acquire` future gives back the permits already assigned to
///   it, to the next waiter in line (and a future that was fully served but dropped before it
///   was polled again gives back all of them). Its place in the queue is simply removed: no
///   permit and no wake-up is lost.
/// - `close` fails every waiting and later acquire with [`AcquireError`]; permits already held
///   stay valid and are returned on drop as usual.
///
/// Limit concurrency to 2:
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
/// use spindle::sync::Semaphore;
///
/// spindle::block_on(async {
///     let semaphore = Arc::new(Semaphore::new(2));
///     let running = Arc::new(AtomicUsize::new(0));
///     let mut handles = Vec::new();
///     for _ in 0..6 {
///         let (semaphore, running) = (semaphore.clone(), running.clone());
///         handles.push(spindle::spawn(async move {
///             let _permit = semaphore.acquire().await.unwrap();
///             assert!(running.fetch_add(1, SeqCst) < 2);
///             spindle::task::yield_now().await;
///             running.fetch_sub(1, SeqCst);
///         }));
///     }
///     for handle in handles {
///         handle.await.unwrap();
///     }
///     assert_eq!(semaphore.available_permits(), 2);
/// });
/// ```
pub struct Semaphore {
    state: Mutex<State>,
}

struct State {
    /// Free permits. Zero while `waiters` is non-empty.
    permits: usize,
    closed: bool,
    waiters: WaitQueue<Acquirer>,
}

/// One waiting acquire.
struct Acquirer {
    needed: usize,
    /// Permits already given to it; `== needed` once it is served.
    assigned: usize,
    /// Unlinked because the semaphore closed (its assigned permits were returned then).
    closed: bool,
    waker: Option<Waker>,
}

/// The semaphore was closed: no permit will be granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcquireError(());

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("semaphore closed")
    }
}

impl std::error::Error for AcquireError {}

/// Why a `try_acquire` returned no permit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryAcquireError {
    /// The semaphore was closed.
    Closed,
    /// Not enough free permits (or others are waiting ahead).
    NoPermits,
}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryAcquireError::Closed => f.write_str("semaphore closed"),
            TryAcquireError::NoPermits => f.write_str("no permits available"),
        }
    }
}

impl std::error::Error for TryAcquireError {}

impl Semaphore {
    /// The most permits a semaphore can hold; more panics in [`new`](Self::new) and
    /// [`add_permits`](Self::add_permits).
    pub const MAX_PERMITS: usize = usize::MAX >> 3;

    /// A semaphore with `permits` free permits.
    ///
    /// # Panics
    /// If `permits` exceeds [`MAX_PERMITS`](Self::MAX_PERMITS).
    #[track_caller]
    pub fn new(permits: usize) -> Semaphore {
        assert!(
            permits <= Self::MAX_PERMITS,
            "a semaphore holds at most {} permits (got {permits})",
            Self::MAX_PERMITS
        );
        Semaphore {
            state: Mutex::new(State {
                permits,
                closed: false,
                waiters: WaitQueue::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No user code runs under the lock, so a poisoned lock still guards consistent state.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Free permits right now (permits already assigned to a waiting `acquire_many` do not
    /// count).
    pub fn available_permits(&self) -> usize {
        self.lock().permits
    }

    /// Adds `n` permits, serving waiters in order.
    ///
    /// # Panics
    /// If the total would exceed [`MAX_PERMITS`](Self::MAX_PERMITS).
    #[track_caller]
    pub fn add_permits(&self, n: usize) {
        let state = self.lock();
        let total = state.permits.saturating_add(n);
        if total > Self::MAX_PERMITS {
            drop(state);
            panic!(
                "a semaphore holds at most {} permits (adding {n})",
                Self::MAX_PERMITS
            );
        }
        self.release_locked(state, n);
    }

    /// Removes up to `n` free permits for good; returns how many were removed.
    pub fn forget_permits(&self, n: usize) -> usize {
        let mut state = self.lock();
        let forgotten = state.permits.min(n);
        state.permits -= forgotten;
        forgotten
    }

    /// Closes the semaphore: waiting and later acquires fail with [`AcquireError`]. Permits
    /// already held stay valid.
    pub fn close(&self) {
        let mut wakers = WakeList::new();
        loop {
            let mut state = self.lock();
            state.closed = true;
            while wakers.has_room() {
                let Some((_, waiter)) = state.waiters.pop_front() else {
                    drop(state);
                    return wakers.wake_all();
                };
                waiter.closed = true;
                let returned = std::mem::take(&mut waiter.assigned);
                let waker = waiter.waker.take();
                state.permits += returned;
                wakers.push(waker);
            }
            drop(state);
            wakers.wake_all();
        }
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Waits for one permit.
    ///
    /// Cancel safety: dropping the future loses nothing; see [`Semaphore`].
    pub async fn acquire(&self) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.acquire_many_usize(1).await
    }

    /// Waits for `n` permits, served in FIFO order among all waiters.
    pub async fn acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.acquire_many_usize(n as usize).await
    }

    async fn acquire_many_usize(&self, n: usize) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.acquire_permits(n).await?;
        Ok(SemaphorePermit {
            semaphore: self,
            permits: n,
        })
    }

    /// One permit if one is free and nobody waits ahead.
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// `n` permits if they are free and nobody waits ahead.
    pub fn try_acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_permits(n as usize)?;
        Ok(SemaphorePermit {
            semaphore: self,
            permits: n as usize,
        })
    }

    /// [`acquire`](Self::acquire) for a semaphore in an `Arc`: the permit owns a reference,
    /// so it can move into a spawned task.
    pub async fn acquire_owned(
        self: std::sync::Arc<Self>,
    ) -> Result<OwnedSemaphorePermit, AcquireError> {
        self.acquire_many_owned(1).await
    }

    /// [`acquire_many`](Self::acquire_many) with an owned permit.
    pub async fn acquire_many_owned(
        self: std::sync::Arc<Self>,
        n: u32,
    ) -> Result<OwnedSemaphorePermit, AcquireError> {
        self.acquire_permits(n as usize).await?;
        Ok(OwnedSemaphorePermit {
            semaphore: self,
            permits: n as usize,
        })
    }

    /// [`try_acquire`](Self::try_acquire) with an owned permit.
    pub fn try_acquire_owned(
        self: std::sync::Arc<Self>,
    ) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_acquire_many_owned(1)
    }

    /// [`try_acquire_many`](Self::try_acquire_many) with an owned permit.
    pub fn try_acquire_many_owned(
        self: std::sync::Arc<Self>,
        n: u32,
    ) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_acquire_permits(n as usize)?;
        Ok(OwnedSemaphorePermit {
            semaphore: self,
            permits: n as usize,
        })
    }

    /// The raw acquire: a future that takes `n` permits (the caller returns them with
    /// [`release`](Self::release)).
    pub(crate) fn acquire_permits(&self, n: usize) -> Acquire<'_> {
        Acquire {
            semaphore: self,
            needed: n,
            key: None,
        }
    }

    pub(crate) fn try_acquire_permits(&self, n: usize) -> Result<(), TryAcquireError> {
        let mut state = self.lock();
        if state.closed {
            Err(TryAcquireError::Closed)
        } else if state.waiters.is_empty() && state.permits >= n {
            state.permits -= n;
            Ok(())
        } else {
            Err(TryAcquireError::NoPermits)
        }
    }

    /// Gives `n` permits back.
    pub(crate) fn release(&self, n: usize) {
        if n > 0 {
            self.release_locked(self.lock(), n);
        }
    }

    /// Adds `n` free permits and serves the head waiters with them, waking the served ones
    /// after unlocking.
    fn release_locked<'a>(&'a self, mut state: MutexGuard<'a, State>, n: usize) {
        state.permits += n;
        if state.waiters.is_empty() {
            return; // the common case: nobody to serve, no wake list to set up
        }
        let mut wakers = WakeList::new();
        loop {
            while wakers.has_room() && state.permits > 0 {
                let Some(key) = state.waiters.front() else {
                    break;
                };
                let available = state.permits;
                let waiter = state.waiters.get_mut(key);
                let given = available.min(waiter.needed - waiter.assigned);
                waiter.assigned += given;
                let served = waiter.assigned == waiter.needed;
                let waker = if served { waiter.waker.take() } else { None };
                state.permits -= given;
                if !served {
                    break;
                }
                state.waiters.unlink(key);
                wakers.push(waker);
            }
            let more = state.permits > 0 && !state.waiters.is_empty();
            drop(state);
            wakers.wake_all();
            if !more {
                return;
            }
            state = self.lock();
        }
    }
}

/// The future of a raw acquire of `needed` permits; `key` is its place in the queue once it
/// waits.
pub(crate) struct Acquire<'a> {
    semaphore: &'a Semaphore,
    needed: usize,
    key: Option<WaiterKey>,
}

impl Future for Acquire<'_> {
    type Output = Result<(), AcquireError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut state = this.semaphore.lock();
        let Some(key) = this.key else {
            if state.closed {
                return Poll::Ready(Err(AcquireError(())));
            }
            if this.needed == 0 || (state.waiters.is_empty() && state.permits >= this.needed) {
                state.permits -= this.needed;
                return Poll::Ready(Ok(()));
            }
            // Wait. At the head (nobody waiting), take the free permits now so later small
            // acquires cannot take them. Behind others, take none: the free permits (if a
            // `release` is between two batches of wakes) belong to the head.
            let assigned = if state.waiters.is_empty() {
                std::mem::take(&mut state.permits)
            } else {
                0
            };
            this.key = Some(state.waiters.push_back(Acquirer {
                needed: this.needed,
                assigned,
                closed: false,
                waker: Some(cx.waker().clone()),
            }));
            return Poll::Pending;
        };
        if state.waiters.is_linked(key) {
            let stale =
                crate::task::register_waker(&mut state.waiters.get_mut(key).waker, cx.waker());
            drop(state);
            drop(stale);
            return Poll::Pending;
        }
        let waiter = state.waiters.remove(key);
        this.key = None;
        drop(state);
        if waiter.closed {
            Poll::Ready(Err(AcquireError(())))
        } else {
            Poll::Ready(Ok(()))
        }
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else {
            return;
        };
        // Cancelled: leave the queue and give back what we were given (everything, if we
        // were served but never looked), so the next waiter gets it.
        let mut state = self.semaphore.lock();
        let waiter = state.waiters.remove(key);
        if waiter.assigned > 0 {
            self.semaphore.release_locked(state, waiter.assigned);
        } else {
            drop(state);
        }
        drop(waiter); // its waker, outside the lock
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("Semaphore")
            .field("permits", &state.permits)
            .field("waiters", &state.waiters.len())
            .field("closed", &state.closed)
            .finish()
    }
}

/// Permits borrowed from a [`Semaphore`]; dropping it gives them back.
#[must_use = "dropping the permit releases it at once"]
pub struct SemaphorePermit<'a> {
    semaphore: &'a Semaphore,
    permits: usize,
}

impl SemaphorePermit<'_> {
    /// Keeps the permits out of the semaphore for good (it has that many fewer).
    pub fn forget(mut self) {
        self.permits = 0;
    }

    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.permits
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.semaphore.release(self.permits);
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.permits)
            .finish()
    }
}

/// Permits of a [`Semaphore`] held through an `Arc`; dropping it gives them back.
#[must_use = "dropping the permit releases it at once"]
pub struct OwnedSemaphorePermit {
    semaphore: std::sync::Arc<Semaphore>,
    permits: usize,
}

impl OwnedSemaphorePermit {
    /// Keeps the permits out of the semaphore for good.
    pub fn forget(mut self) {
        self.permits = 0;
    }

    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// The semaphore these permits belong to.
    pub fn semaphore(&self) -> &std::sync::Arc<Semaphore> {
        &self.semaphore
    }
}

impl Drop for OwnedSemaphorePermit {
    fn drop(&mut self) {
        self.semaphore.release(self.permits);
    }
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedSemaphorePermit")
            .field("permits", &self.permits)
            .finish()
    }
}
