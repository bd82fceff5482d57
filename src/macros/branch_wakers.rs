//! One waker per branch of a `join!`/`select!`: the protocol that lets a wake poll only the
//! branch it belongs to.
//!
//! The combinator's shared state is a ready mask (bit `i`: branch `i` was woken since the
//! combinator last looked) and the parent waker (the one the combinator was last polled
//! with). Branch `i` is polled with a waker whose wake sets bit `i` and then wakes the parent.
//! The combinator's poll stores the parent waker, *then* takes the mask with one swap, and
//! polls exactly the branches whose bits it took. The first poll is different: it polls every
//! branch (the mask starts empty; a first poll is asked for by creation), and only if it must
//! return `Pending` stores the parent and takes the mask, polling whatever was woken in
//! between (those wakes found no parent to wake). So a combinator that completes on its first
//! poll touches neither the lock nor the mask.
//!
//! Why no wake is lost: a wake sets its bit at `t1` and reads the parent waker at `t2 > t1`;
//! the combinator stores the parent at `r` and swaps at `s > r` (on the first poll, the swap
//! in `finish`; every later poll stores before its swap). If `t1 < s` the swap sees the
//! bit. If `t1 > s`, then `t2 > t1 > s > r`: the wake reads the waker stored at `r` (the lock
//! orders the two accesses) and the combinator is polled again. A wake whose bit is already
//! set skips the parent: the wake that set it has not been consumed by a swap, so that wake's
//! own parent wake is still to come or already done after the latest registration.
//! Checked by the loom model `loom_only_the_woken_branch_is_polled_again` (and its negative
//! control, a combinator that polls every branch on every wake).
//!
//! The `Arc` around the shared state is `std`'s because `std::task::Wake` needs it; its count
//! only manages memory. The ready mask and the parent waker, which the protocol rests on, are
//! `crate::loom` primitives, so the model checks them.

use std::sync::{Arc, PoisonError};
use std::task::{Context, Wake, Waker};

use crate::loom::sync::atomic::{AtomicU64, Ordering::AcqRel, Ordering::Relaxed};
use crate::loom::sync::Mutex;

/// The most branches one combinator can have: one bit each in the ready mask.
pub const MAX_BRANCHES: usize = 64;

/// The per-branch wakers of one `join!`, `try_join!` or `select!`, and their shared state.
#[doc(hidden)]
pub struct BranchWakers {
    /// `None` only once dropped (taken to go back to the pool).
    inner: Option<Box<Inner>>,
}

struct Inner {
    shared: Arc<Shared>,
    /// The branch wakers' own `Arc`s, kept to see (by their counts) whether anyone else
    /// still holds one when the combinator ends.
    branches: Vec<Arc<BranchWaker>>,
    wakers: Vec<Waker>,
    /// Every branch's bit.
    all: u64,
    /// Whether a parent waker has been stored (by the first poll that returned `Pending`).
    /// Only the combinator's own poll touches it; atomic only to keep the type `Sync`.
    registered: std::sync::atomic::AtomicBool,
}

struct Shared {
    /// Bit `i`: branch `i` was woken since the combinator last took the mask.
    ready: AtomicU64,
    /// The waker of the task that polls the combinator, from its latest poll.
    parent: Mutex<Option<Waker>>,
}

struct BranchWaker {
    shared: Arc<Shared>,
    bit: u64,
}

impl Wake for BranchWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Mark the branch ready; if it already was, the wake that marked it wakes the parent.
        if self.shared.ready.fetch_or(self.bit, AcqRel) & self.bit != 0 {
            return;
        }
        // Clone the parent out and wake it with the lock released: the wake may run any code.
        let parent = self
            .shared
            .parent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(parent) = parent {
            parent.wake();
        }
    }
}

impl BranchWakers {
    /// Wakers for `count` branches, from this thread's pool if one of that size is free.
    ///
    /// # Panics
    /// If `count` exceeds [`MAX_BRANCHES`] (the macros refuse that at compile time).
    pub fn new(count: usize) -> BranchWakers {
        assert!(
            count <= MAX_BRANCHES,
            "a spindle combinator has at most {MAX_BRANCHES} branches, not {count}"
        );
        if let Some(inner) = pool::take(count) {
            // Nobody else holds these wakers (checked when pooled): no wake can race this.
            inner.shared.ready.store(0, Relaxed);
            return BranchWakers { inner: Some(inner) };
        }
        let shared = Arc::new(Shared {
            ready: AtomicU64::new(0),
            parent: Mutex::new(None),
        });
        let branches: Vec<_> = (0..count)
            .map(|index| {
                Arc::new(BranchWaker {
                    shared: shared.clone(),
                    bit: 1 << index,
                })
            })
            .collect();
        let wakers = branches
            .iter()
            .map(|branch| Waker::from(branch.clone()))
            .collect();
        let all = if count == MAX_BRANCHES {
            u64::MAX
        } else {
            (1u64 << count) - 1
        };
        BranchWakers {
            inner: Some(Box::new(Inner {
                shared,
                branches,
                wakers,
                all,
                registered: std::sync::atomic::AtomicBool::new(false),
            })),
        }
    }

    fn inner(&self) -> &Inner {
        self.inner
            .as_deref()
            .expect("BranchWakers is used only before it is dropped")
    }

    /// The start of a combinator poll: the set of branches to poll. The first poll polls
    /// every branch; later ones store `cx`'s waker as the parent (if it differs), then take
    /// the set of branches woken since the last take.
    pub fn begin(&self, cx: &Context<'_>) -> u64 {
        let inner = self.inner();
        if !inner.registered.load(Relaxed) {
            return inner.all;
        }
        inner.register(cx);
        inner.shared.ready.swap(0, AcqRel)
    }

    /// The end of a poll that found nothing ready. On the first poll, stores `cx`'s waker as
    /// the parent and returns the branches woken since `begin` (their wakes found no parent
    /// to wake), to be polled before returning `Pending`; otherwise (or if none was) `None`.
    pub fn finish(&self, cx: &Context<'_>) -> Option<u64> {
        let inner = self.inner();
        // A load and a store, not a swap: only the combinator's own poll touches the flag, and
        // a locked exchange on every `select!` was a quarter of a `select!` loop's time.
        if inner.registered.load(Relaxed) {
            return None;
        }
        inner.registered.store(true, Relaxed);
        inner.register(cx);
        match inner.shared.ready.swap(0, AcqRel) {
            0 => None,
            woken => Some(woken),
        }
    }

    /// The context to poll branch `index` with.
    pub fn context(&self, index: usize) -> Context<'_> {
        Context::from_waker(&self.inner().wakers[index])
    }
}

impl Inner {
    /// Stores `cx`'s waker as the parent (unless it is the same one).
    fn register(&self, cx: &Context<'_>) {
        let stale = {
            let mut parent = self
                .shared
                .parent
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            crate::task::register_waker(&mut parent, cx.waker())
        };
        // The replaced waker is dropped only now, with the lock released.
        drop(stale);
    }

    /// Whether this combinator's wakers are all back (no branch future, channel or timer holds
    /// a clone), so the allocation can serve the next combinator of the same size.
    fn unshared(&self) -> bool {
        let unshared = Arc::strong_count(&self.shared) == 1 + self.branches.len()
            && self
                .branches
                .iter()
                .all(|branch| Arc::strong_count(branch) == 2);
        // Whoever dropped the last outside clone released its uses of the state with that
        // drop's decrement; acquire them before the state is reset and reused.
        std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
        unshared
    }
}

impl Drop for BranchWakers {
    /// Gives the allocation back to this thread's pool if nothing else holds a waker: a
    /// `select!` in a loop then allocates its wakers once, not on every pass.
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        if !pool::enabled() || !inner.unshared() {
            return;
        }
        if inner.registered.load(Relaxed) {
            inner.registered.store(false, Relaxed);
            let stale = inner
                .shared
                .parent
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            drop(stale); // outside the lock
        }
        pool::put(inner);
    }
}

/// A few finished combinators' wakers per thread, by size. Off under loom: loom's primitives
/// must not outlive the model run that made them.
mod pool {
    use super::Inner;
    use std::cell::RefCell;

    /// Pooled combinators per thread (any sizes).
    const CAPACITY: usize = 8;

    std::thread_local! {
        // Boxed: a combinator holds its `Inner` by box, and taking or returning one moves a
        // pointer, not the struct.
        #[allow(clippy::vec_box)]
        static POOL: RefCell<Vec<Box<Inner>>> = const { RefCell::new(Vec::new()) };
    }

    pub(super) fn enabled() -> bool {
        !cfg!(loom)
    }

    pub(super) fn take(count: usize) -> Option<Box<Inner>> {
        if !enabled() {
            return None;
        }
        POOL.try_with(|pool| {
            let mut pool = pool.try_borrow_mut().ok()?;
            let index = pool
                .iter()
                .rposition(|pooled| pooled.wakers.len() == count)?;
            Some(pool.swap_remove(index))
        })
        .ok()
        .flatten()
    }

    pub(super) fn put(inner: Box<Inner>) {
        let mut inner = Some(inner);
        let _ = POOL.try_with(|pool| {
            if let Ok(mut pool) = pool.try_borrow_mut() {
                if pool.len() < CAPACITY {
                    pool.extend(inner.take());
                }
            }
        });
        // A full pool, or a thread being torn down: `inner` is dropped here, outside the
        // borrow.
        drop(inner);
    }
}

impl std::fmt::Debug for BranchWakers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BranchWakers")
            .field(
                "branches",
                &self.inner.as_ref().map_or(0, |inner| inner.wakers.len()),
            )
            .finish_non_exhaustive()
    }
}

/// Where a fair `select!` starts looking: rotates per thread, so no branch is always first.
///
/// Under loom the counter is a loom thread-local: it starts at 0 in every loom thread of
/// every interleaving, so a model replays the same branch order (std's would carry over
/// from one interleaving to the next and make the model nondeterministic).
pub fn select_start(count: usize) -> usize {
    crate::loom::thread_local! {
        static NEXT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }
    NEXT.with(|next| {
        let start = next.get();
        next.set(start.wrapping_add(1));
        start % count.max(1)
    })
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::{pool, BranchWakers};
    use std::task::{Context, Waker};

    /// A combinator goes back to the pool only if no clone of its wakers is left: a late wake
    /// through a clone must never reach the next combinator that reuses the allocation.
    #[test]
    fn only_a_combinator_whose_wakers_all_came_back_is_pooled() {
        // libtest runs each test on its own thread: this thread's pool starts empty.
        let wakers = BranchWakers::new(2);
        let leaked = wakers.context(1).waker().clone();
        drop(wakers);
        assert!(
            pool::take(2).is_none(),
            "pooled while a waker clone was alive"
        );
        drop(leaked);

        let wakers = BranchWakers::new(2);
        let cx = Context::from_waker(Waker::noop());
        assert_eq!(wakers.begin(&cx), 0b11, "a first poll polls every branch");
        assert_eq!(wakers.finish(&cx), None);
        wakers.context(0).waker().wake_by_ref();
        assert_eq!(wakers.begin(&cx), 0b01);
        wakers.context(1).waker().wake_by_ref(); // woken, never taken: must not outlive it
        drop(wakers);

        // Reused: fresh state, no stale bit, no parent.
        let reused = BranchWakers::new(2);
        assert!(
            pool::take(2).is_none(),
            "the only pooled one was handed out"
        );
        assert_eq!(reused.begin(&cx), 0b11);
        assert_eq!(reused.finish(&cx), None, "no stale wake carried over");
        assert_eq!(reused.begin(&cx), 0);
    }
}
