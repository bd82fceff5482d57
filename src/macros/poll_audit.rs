//! [`audit_polls`]: counts the polls of a future that no wake asked for, so any combinator's
//! waste (tokio's `join!`, futures-util's, spindle's) shows in [`Metrics`].
//!
//! [`Metrics`]: crate::runtime::Metrics

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

/// Wraps `future` so that every poll of it that no wake asked for is counted in the current
/// runtime's [`Metrics::wasted_branch_polls`](crate::runtime::Metrics::wasted_branch_polls).
///
/// The wrapper hands the future a waker of its own that notes each wake before passing it on.
/// A poll is *asked for* if it is the first, or if that waker fired since the previous poll.
/// Put branches of a combinator in it to see how often the combinator polls a branch because
/// some *other* branch woke: spindle's [`join!`](crate::join!) and [`select!`](crate::select!)
/// never do; combinators that poll every branch on any wake do it on nearly every wake.
///
/// ```
/// let rt = spindle::runtime::Builder::new_current_thread().build().unwrap();
/// rt.block_on(async {
///     let slow = spindle::macros::audit_polls(async {
///         for _ in 0..3 {
///             spindle::task::yield_now().await;
///         }
///     });
///     let quick = spindle::macros::audit_polls(async {});
///     spindle::join!(slow, quick);
/// });
/// assert_eq!(rt.metrics().wasted_branch_polls, 0);
/// ```
pub fn audit_polls<F: Future>(future: F) -> AuditPolls<F> {
    AuditPolls {
        // Boxed so the wrapper is `Unpin` and needs no unsafe pin projection; it is a
        // measuring tool, and one allocation per audited future does not change what it counts.
        future: Box::pin(future),
        audit: None,
    }
}

/// The future returned by [`audit_polls`].
pub struct AuditPolls<F> {
    future: Pin<Box<F>>,
    /// Made at the first poll.
    audit: Option<(Arc<AuditWaker>, Waker)>,
}

#[derive(Debug)]
struct AuditWaker {
    woken: AtomicBool,
    /// The waker of the latest poll, to pass wakes on to.
    parent: Mutex<Option<Waker>>,
}

impl Wake for AuditWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        let parent = self
            .parent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(parent) = parent {
            parent.wake();
        }
    }
}

impl<F: Future> Future for AuditPolls<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let (state, waker) = this.audit.get_or_insert_with(|| {
            let state = Arc::new(AuditWaker {
                // The first poll is asked for by the future's creation.
                woken: AtomicBool::new(true),
                parent: Mutex::new(None),
            });
            let waker = Waker::from(state.clone());
            (state, waker)
        });
        let stale = {
            let mut parent = state.parent.lock().unwrap_or_else(PoisonError::into_inner);
            crate::task::register_waker(&mut parent, cx.waker())
        };
        drop(stale); // outside the lock
        if !state.woken.swap(false, Ordering::AcqRel) {
            crate::executor::record_wasted_branch_poll();
        }
        this.future.as_mut().poll(&mut Context::from_waker(waker))
    }
}

impl<F> std::fmt::Debug for AuditPolls<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditPolls").finish_non_exhaustive()
    }
}
