//! Driving one channel future to completion on a plain thread, for the `blocking_*` methods.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Wake, Waker};

use crate::loom::sync::{Condvar, Mutex};

/// Polls `future` on this thread, sleeping on a condition variable between wakes.
///
/// # Panics
/// On a thread that drives a spindle runtime (in a task, or inside `block_on`): blocking there
/// would stall every task of that runtime (and deadlock a current-thread one if the other end
/// is one of its tasks). A `spawn_blocking` call, or a thread that only entered a runtime, may
/// block, as in tokio (`tests/differential/blocking.rs`).
#[track_caller]
pub(crate) fn block_on<F: Future>(what: &str, future: F) -> F::Output {
    if crate::executor::context::is_driving() {
        panic!(
            "{what} called inside a spindle runtime: blocking here would stall the runtime's \
             tasks; use the async method (`.await`) instead"
        );
    }
    // One signal per thread, reused by every blocking call: no allocation per message. A
    // stale wake left over from an earlier call only costs one extra poll.
    let (signal, waker) = THREAD_SIGNAL.with(|(signal, waker)| (signal.clone(), waker.clone()));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        signal.wait();
    }
}

crate::loom::thread_local! {
    // `Waker::from` needs a `std::sync::Arc`. The signal's own mutex and condvar come from
    // `crate::loom`, so loom sees every wait and notify.
    static THREAD_SIGNAL: (std::sync::Arc<ThreadSignal>, Waker) = {
        let signal = std::sync::Arc::new(ThreadSignal {
            notified: Mutex::new(false),
            condvar: Condvar::new(),
        });
        (signal.clone(), Waker::from(signal))
    };
}

/// A wake flag: `wake` sets it, `wait` sleeps until it is set and clears it. A wake that comes
/// before `wait` is kept, so none is lost between a `Pending` poll and the sleep.
struct ThreadSignal {
    notified: Mutex<bool>,
    condvar: Condvar,
}

impl ThreadSignal {
    fn wait(&self) {
        let mut notified = self.notified.lock().unwrap();
        while !*notified {
            notified = self.condvar.wait(notified).unwrap();
        }
        *notified = false;
    }
}

impl Wake for ThreadSignal {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        *self.notified.lock().unwrap() = true;
        self.condvar.notify_one();
    }
}
