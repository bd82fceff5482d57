//! Shared by the benchmark binaries: a runtime-neutral countdown both spindle and tokio
//! tasks can await, so each workload signals completion the same way on both runtimes.
#![allow(dead_code)] // each bench binary uses what it needs

use std::future::{poll_fn, Future};
use std::sync::atomic::{
    AtomicUsize,
    Ordering::{AcqRel, Acquire},
};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

/// Completes when `done_one` has been called `n` times, from any task or thread.
pub struct Countdown {
    remaining: AtomicUsize,
    waiter: Mutex<Option<Waker>>,
}

impl Countdown {
    pub fn new(n: usize) -> Arc<Countdown> {
        Arc::new(Countdown {
            remaining: AtomicUsize::new(n),
            waiter: Mutex::new(None),
        })
    }

    pub fn done_one(&self) {
        if self.remaining.fetch_sub(1, AcqRel) == 1 {
            if let Some(waker) = self.waiter.lock().unwrap().take() {
                waker.wake();
            }
        }
    }

    pub fn wait(&self) -> impl Future<Output = ()> + '_ {
        poll_fn(|cx| {
            if self.remaining.load(Acquire) == 0 {
                return Poll::Ready(());
            }
            *self.waiter.lock().unwrap() = Some(cx.waker().clone());
            // The last `done_one` takes the lock after its decrement: either it finds this
            // waker, or this load sees zero.
            if self.remaining.load(Acquire) == 0 {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
    }
}
