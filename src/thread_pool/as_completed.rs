//! `as_completed`: handles in the order their jobs finish, like Python's
//! `concurrent.futures.as_completed`.
//!
//! No thread is spent per handle: each handle is polled once with a waker that records its
//! index in a ready list, and completion (which wakes that waker) is what puts it there.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc as StdArc;
use std::task::{Context, Poll, Wake, Waker};

use super::{JobError, JobHandle};
use crate::loom::sync::{Condvar, Mutex};

/// Yields `(index, result)` for each handle as its job finishes, `index` being the handle's
/// position in the input. Blocks the calling thread between results.
///
/// ```
/// use spindle::thread_pool::{as_completed, ThreadPool};
///
/// let pool = ThreadPool::new(2);
/// let handles: Vec<_> = (0..4u32).map(|n| pool.submit(move || n * 10)).collect();
/// let mut seen: Vec<(usize, u32)> = as_completed(handles)
///     .map(|(index, result)| (index, result.unwrap()))
///     .collect();
/// seen.sort();
/// assert_eq!(seen, [(0, 0), (1, 10), (2, 20), (3, 30)]);
/// ```
pub fn as_completed<T, I>(handles: I) -> AsCompleted<T>
where
    I: IntoIterator<Item = JobHandle<T>>,
{
    let handles: Vec<Option<JobHandle<T>>> = handles.into_iter().map(Some).collect();
    let ready = StdArc::new(ReadyList {
        // Every handle starts out "ready to poll": the first poll registers its waker.
        indices: Mutex::new((0..handles.len()).rev().collect()),
        changed: Condvar::new(),
    });
    let wakers = (0..handles.len())
        .map(|index| {
            Waker::from(StdArc::new(IndexWaker {
                index,
                ready: ready.clone(),
            }))
        })
        .collect();
    AsCompleted {
        remaining: handles.len(),
        handles,
        wakers,
        ready,
    }
}

/// The iterator returned by [`as_completed`].
pub struct AsCompleted<T> {
    handles: Vec<Option<JobHandle<T>>>,
    wakers: Vec<Waker>,
    ready: StdArc<ReadyList>,
    remaining: usize,
}

/// Indices of handles whose waker fired (or that were never polled).
struct ReadyList {
    indices: Mutex<Vec<usize>>,
    changed: Condvar,
}

// `Wake` needs std's `Arc`; the list inside uses the loom shim's mutex and condvar.
struct IndexWaker {
    index: usize,
    ready: StdArc<ReadyList>,
}

impl Wake for IndexWaker {
    fn wake(self: StdArc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &StdArc<Self>) {
        self.ready
            .indices
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(self.index);
        self.ready.changed.notify_one();
    }
}

impl<T> Iterator for AsCompleted<T> {
    type Item = (usize, Result<T, JobError>);

    fn next(&mut self) -> Option<Self::Item> {
        while self.remaining > 0 {
            let index = {
                let mut indices = self.ready.indices.lock().unwrap_or_else(|p| p.into_inner());
                loop {
                    if let Some(index) = indices.pop() {
                        break index;
                    }
                    indices = self
                        .ready
                        .changed
                        .wait(indices)
                        .unwrap_or_else(|p| p.into_inner());
                }
            };
            let Some(handle) = self.handles[index].as_mut() else {
                continue; // a stale wake for a handle already yielded
            };
            let mut cx = Context::from_waker(&self.wakers[index]);
            if let Poll::Ready(result) = Pin::new(handle).poll(&mut cx) {
                self.handles[index] = None;
                self.remaining -= 1;
                return Some((index, result));
            }
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<T> fmt::Debug for AsCompleted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted")
            .field("remaining", &self.remaining)
            .finish()
    }
}
