//! Tasks: what a `JoinHandle` keeps alive.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Wake, Waker};

/// A waker that does nothing; the test only watches whether anything still holds it.
struct Watched;

impl Wake for Watched {
    fn wake(self: Arc<Self>) {}
}

/// Polls `handle` once with a fresh waker (as a `select!` or a `timeout` does with the
/// awaiting task's waker), checks it is pending, drops it, and returns a `Weak` of that
/// waker: dead if nothing kept the waker.
fn poll_once_then_drop<H: Future + Unpin>(mut handle: H) -> Weak<Watched> {
    let watched = Arc::new(Watched);
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

/// A `JoinHandle` that registered a waker and was then dropped while its task still runs
/// releases the waker at once; the task keeps running. Keeping it would pin the awaiting task,
/// and through it that task's runtime, reactor and sockets, for as long as the task runs
/// (issue 11). Same on both of spindle's flavours and on tokio.
#[test]
fn a_dropped_join_handle_releases_its_waker_while_the_task_runs() {
    let tokio_released = {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let handle = rt.spawn(async move {
            let _ = rx.await;
            done_tx.send(()).unwrap();
        });
        let weak = poll_once_then_drop(handle);
        let released = weak.upgrade().is_none();
        tx.send(()).unwrap();
        done_rx.recv().unwrap(); // the detached task ran on to the end
        released
    };
    assert!(tokio_released, "tokio keeps the waker (the oracle changed)");

    for flavour in ["current_thread", "multi_thread"] {
        let rt = match flavour {
            "current_thread" => spindle::runtime::Builder::new_current_thread(),
            _ => {
                let mut builder = spindle::runtime::Builder::new_multi_thread();
                builder.worker_threads(1);
                builder
            }
        }
        .build()
        .unwrap();
        let (tx, rx) = spindle::sync::oneshot::channel::<()>();
        let (done_tx, done_rx) = spindle::sync::oneshot::channel::<()>();
        let handle = rt.spawn(async move {
            let _ = rx.await;
            done_tx.send(()).unwrap();
        });
        let weak = poll_once_then_drop(handle);
        assert!(
            weak.upgrade().is_none(),
            "{flavour}: the dropped JoinHandle's waker is still held by the running task"
        );
        tx.send(()).unwrap();
        rt.block_on(done_rx).unwrap(); // the detached task ran on to the end
    }
}
