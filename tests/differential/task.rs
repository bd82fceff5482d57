//! Tasks: what a `JoinHandle` keeps alive.

use crate::Inert;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Waker};

/// Polls `handle` once with a fresh waker (as a `select!` or a `timeout` does with the
/// awaiting task's waker), checks it is pending, drops it, and returns a `Weak` of that
/// waker: dead if nothing kept the waker.
fn poll_once_then_drop<H: Future + Unpin>(mut handle: H) -> Weak<Inert> {
    let watched = Arc::new(Inert);
    let weak = Arc::downgrade(&watched);
    let waker = Waker::from(watched);
    let polled = Pin::new(&mut handle).poll(&mut Context::from_waker(&waker));
    assert!(
        polled.is_pending(),
        "the task cannot have finished: it waits for us"
    );
    drop(waker);
    drop(handle);
    weak
}

on_both! {
    /// A task (on a current-thread or a one-worker multi-thread runtime) that waits for us;
    /// its `JoinHandle` polled once and dropped. Returns whether the handle's waker was
    /// released at once; then lets the detached task run on to the end.
    fn join_handle_waker_released(multi_thread: bool) -> bool {
        let mut builder = if multi_thread {
            rt::runtime::Builder::new_multi_thread()
        } else {
            rt::runtime::Builder::new_current_thread()
        };
        if multi_thread {
            builder.worker_threads(1);
        }
        let runtime = builder.enable_all().build().unwrap();
        let (tx, rx) = rt::sync::oneshot::channel::<()>();
        let (done_tx, done_rx) = rt::sync::oneshot::channel::<()>();
        let handle = runtime.spawn(async move {
            let _ = rx.await;
            done_tx.send(()).unwrap();
        });
        let released = poll_once_then_drop(handle).upgrade().is_none();
        tx.send(()).unwrap();
        runtime.block_on(done_rx).unwrap(); // the detached task ran on to the end
        released
    }
}

/// A `JoinHandle` that registered a waker and was then dropped while its task still runs
/// releases the waker at once; the task keeps running. Keeping it would pin the awaiting task,
/// and through it that task's runtime, reactor and sockets, for as long as the task runs
/// (issue 11). Same on both flavours, on spindle and on tokio.
#[test]
fn a_dropped_join_handle_releases_its_waker_while_the_task_runs() {
    for multi_thread in [false, true] {
        assert!(
            join_handle_waker_released::tokio(multi_thread),
            "multi_thread {multi_thread}: tokio keeps the waker (the oracle changed)"
        );
        assert!(
            join_handle_waker_released::spindle(multi_thread),
            "multi_thread {multi_thread}: the dropped JoinHandle's waker is still held by the \
             running task"
        );
    }
}
