//! A barrier for `n` tasks: each `wait` blocks until `n` have arrived, then all go on and
//! exactly one of them is told it is the leader.
//!
//! A mutex guards the arrival count, a generation number and a `WaitQueue` of the waiting
//! tasks. The `n`-th arrival is the leader: it starts the next generation and unlinks every
//! waiter of its own; waiters that arrive meanwhile belong to the next generation and stay.
//!
//! Cancel safety (as in tokio): an arrival counts from the first poll of `wait`, and dropping
//! the future afterwards does not take it back.
//!
//! Loom model: `loom_barrier_one_leader_per_generation`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::wait_queue::{WaitQueue, WaiterKey, WakeList};
use crate::loom::sync::{Mutex, MutexGuard};

/// Lets `n` tasks meet, like `tokio::sync::Barrier`.
///
/// ```
/// use std::sync::Arc;
/// use spindle::sync::Barrier;
///
/// spindle::block_on(async {
///     let barrier = Arc::new(Barrier::new(3));
///     let handles: Vec<_> = (0..3)
///         .map(|_| {
///             let barrier = barrier.clone();
///             spindle::spawn(async move { barrier.wait().await.is_leader() })
///         })
///         .collect();
///     let mut leaders = 0;
///     for handle in handles {
///         leaders += handle.await.unwrap() as usize;
///     }
///     assert_eq!(leaders, 1);
/// });
/// ```
pub struct Barrier {
    state: Mutex<State>,
    n: usize,
}

struct State {
    arrived: usize,
    generation: u64,
    /// Each waiter's generation and waker.
    waiters: WaitQueue<(u64, Option<Waker>)>,
}

/// What [`Barrier::wait`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// Whether this task was the leader: exactly one per generation (the last to arrive).
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    /// A barrier for `n` tasks (`0` counts as `1`, as in tokio).
    pub fn new(n: usize) -> Barrier {
        Barrier {
            state: Mutex::new(State {
                arrived: 0,
                generation: 0,
                waiters: WaitQueue::new(),
            }),
            n: n.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No user code runs under the lock, so a poisoned lock still guards consistent state.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits until `n` tasks have called `wait` in this generation.
    pub async fn wait(&self) -> BarrierWaitResult {
        BarrierWait {
            barrier: self,
            key: None,
        }
        .await
    }
}

struct BarrierWait<'a> {
    barrier: &'a Barrier,
    key: Option<WaiterKey>,
}

impl Future for BarrierWait<'_> {
    type Output = BarrierWaitResult;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<BarrierWaitResult> {
        let this = self.get_mut();
        let mut state = this.barrier.lock();
        if let Some(key) = this.key {
            if state.waiters.is_linked(key) {
                let slot = &mut state.waiters.get_mut(key).1;
                let stale = crate::task::register_waker(slot, cx.waker());
                drop(state);
                drop(stale);
                return Poll::Pending;
            }
            let waker = state.waiters.remove(key);
            this.key = None;
            drop(state);
            drop(waker);
            return Poll::Ready(BarrierWaitResult(false));
        }
        state.arrived += 1;
        if state.arrived < this.barrier.n {
            let generation = state.generation;
            this.key = Some(
                state
                    .waiters
                    .push_back((generation, Some(cx.waker().clone()))),
            );
            return Poll::Pending;
        }
        // The leader: release this generation's waiters. Arrivals between our wake batches
        // belong to the next generation and stay queued behind them.
        let generation = state.generation;
        state.arrived = 0;
        state.generation += 1;
        let mut wakers = WakeList::new();
        loop {
            let mut done = true;
            while let Some(key) = state.waiters.front() {
                if state.waiters.get(key).0 != generation {
                    break;
                }
                if !wakers.has_room() {
                    done = false;
                    break;
                }
                state.waiters.unlink(key);
                wakers.push(state.waiters.get_mut(key).1.take());
            }
            drop(state);
            wakers.wake_all();
            if done {
                return Poll::Ready(BarrierWaitResult(true));
            }
            state = this.barrier.lock();
        }
    }
}

impl Drop for BarrierWait<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            // The arrival still counts (see the module docs); only the slot is freed.
            let waker = self.barrier.lock().waiters.remove(key);
            drop(waker);
        }
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("Barrier")
            .field("n", &self.n)
            .field("arrived", &state.arrived)
            .field("generation", &state.generation)
            .finish()
    }
}
