//! Helpers shared by the runtime tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

/// An event a task can wait on, fired once from any thread.
#[derive(Clone, Default)]
pub struct Event(Arc<Mutex<(bool, Option<Waker>)>>);

impl Event {
    /// Marks the event as happened and wakes its waiter, if any.
    pub fn fire(&self) {
        let waker = {
            let mut state = self.0.lock().unwrap();
            state.0 = true;
            state.1.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// A future that completes once the event fired.
    pub fn wait(&self) -> impl Future<Output = ()> + Send + 'static {
        let event = self.clone();
        std::future::poll_fn(move |cx: &mut Context<'_>| {
            let mut state = event.0.lock().unwrap();
            if state.0 {
                Poll::Ready(())
            } else {
                state.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        })
    }
}

/// Counts its drops, to prove each future or output is dropped exactly once.
pub struct DropCounter(pub Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}
