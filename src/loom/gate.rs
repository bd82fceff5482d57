//! Test support for the loom models: an event source a task can wait on, fired from any
//! thread, that counts how often its waiter was polled.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::loom::sync::{Arc, Mutex};

/// One event: `fire` it once; `wait()` completes after it fired.
#[derive(Clone)]
pub(crate) struct Gate {
    inner: Arc<GateInner>,
}

struct GateInner {
    state: Mutex<(bool, Option<Waker>)>,
    polls: AtomicUsize,
}

impl Gate {
    pub(crate) fn new() -> Gate {
        Gate {
            inner: Arc::new(GateInner {
                state: Mutex::new((false, None)),
                polls: AtomicUsize::new(0),
            }),
        }
    }

    /// Marks the event as happened and wakes the waiter, if one registered.
    pub(crate) fn fire(&self) {
        let waker = {
            let mut state = self.inner.state.lock().unwrap();
            state.0 = true;
            state.1.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// How many times the waiting future was polled.
    pub(crate) fn polls(&self) -> usize {
        self.inner.polls.load(SeqCst)
    }

    /// A future that completes once the gate fired.
    pub(crate) fn wait(&self) -> Wait {
        Wait { gate: self.clone() }
    }
}

pub(crate) struct Wait {
    gate: Gate,
}

impl Future for Wait {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let inner = &self.gate.inner;
        inner.polls.fetch_add(1, SeqCst);
        let mut state = inner.state.lock().unwrap();
        if state.0 {
            Poll::Ready(())
        } else {
            let replaced = state.1.replace(cx.waker().clone());
            // As everywhere in the crate: no waker dropped under a lock.
            drop(state);
            drop(replaced);
            Poll::Pending
        }
    }
}

/// Runs a future to completion on the current loom thread, parking between polls.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    struct Unparker(loom::thread::Thread);
    impl std::task::Wake for Unparker {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(std::sync::Arc::new(Unparker(loom::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        loom::thread::park();
    }
}
