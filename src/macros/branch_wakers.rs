//! One waker per branch of a `join!`/`select!`: the protocol that lets a wake poll only the
//! branch it belongs to.
//!
//! The combinator's shared state is a ready mask (bit `i`: branch `i` was woken since the
//! combinator last looked) and the parent waker (the one the combinator was last polled
//! with). Branch `i` is polled with a waker whose wake sets bit `i` and then wakes the parent.
//! The combinator's poll stores the parent waker, *then* takes the mask with one swap, and
//! polls exactly the branches whose bits it took.
//!
//! Why no wake is lost: a wake sets its bit at `t1` and reads the parent waker at `t2 > t1`;
//! the combinator stores the parent at `r` and swaps at `s > r`. If `t1 < s` the swap sees the
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

use crate::loom::sync::atomic::{AtomicU64, Ordering::AcqRel};
use crate::loom::sync::Mutex;

/// The most branches one combinator can have: one bit each in the ready mask.
pub const MAX_BRANCHES: usize = 64;

/// The per-branch wakers of one `join!`, `try_join!` or `select!`, and their shared state.
#[doc(hidden)]
pub struct BranchWakers {
    shared: Arc<Shared>,
    wakers: Box<[Waker]>,
}

struct Shared {
    /// Bit `i`: branch `i` was woken (or never polled) since the combinator last took the mask.
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
    /// Wakers for `count` branches, every one of them marked ready (a branch's first poll is
    /// asked for by its creation).
    ///
    /// # Panics
    /// If `count` exceeds [`MAX_BRANCHES`] (the macros refuse that at compile time).
    pub fn new(count: usize) -> BranchWakers {
        assert!(
            count <= MAX_BRANCHES,
            "a spindle combinator has at most {MAX_BRANCHES} branches, not {count}"
        );
        let all = if count == MAX_BRANCHES {
            u64::MAX
        } else {
            (1u64 << count) - 1
        };
        let shared = Arc::new(Shared {
            ready: AtomicU64::new(all),
            parent: Mutex::new(None),
        });
        let wakers = (0..count)
            .map(|index| {
                Waker::from(Arc::new(BranchWaker {
                    shared: shared.clone(),
                    bit: 1 << index,
                }))
            })
            .collect();
        BranchWakers { shared, wakers }
    }

    /// Stores `cx`'s waker as the parent, then takes the set of branches woken since the last
    /// call: the caller polls exactly those.
    pub fn take_ready(&self, cx: &Context<'_>) -> u64 {
        let stale = {
            let mut parent = self
                .shared
                .parent
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match &*parent {
                Some(current) if current.will_wake(cx.waker()) => None,
                _ => parent.replace(cx.waker().clone()),
            }
        };
        // The replaced waker is dropped only now, with the lock released.
        drop(stale);
        self.shared.ready.swap(0, AcqRel)
    }

    /// The context to poll branch `index` with.
    pub fn context(&self, index: usize) -> Context<'_> {
        Context::from_waker(&self.wakers[index])
    }
}

impl std::fmt::Debug for BranchWakers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BranchWakers")
            .field("branches", &self.wakers.len())
            .finish_non_exhaustive()
    }
}

/// Where a fair `select!` starts looking: rotates per thread, so no branch is always first.
pub fn select_start(count: usize) -> usize {
    std::thread_local! {
        static NEXT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }
    NEXT.with(|next| {
        let start = next.get();
        next.set(start.wrapping_add(1));
        start % count.max(1)
    })
}
