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

/// Records, when dropped, the id `task::try_id()` answered then.
struct RecordsTryId<I: Send + 'static> {
    seen: Arc<std::sync::Mutex<Vec<Option<I>>>>,
    try_id: fn() -> Option<I>,
}

impl<I: Send + 'static> Drop for RecordsTryId<I> {
    fn drop(&mut self) {
        self.seen.lock().unwrap().push((self.try_id)());
    }
}

/// Four ways a task's future (or its output) is dropped without being polled to the end, on
/// one runtime: each logs whether `try_id()` inside that `Drop` named the task it belongs to.
/// `$krate` is `spindle` or `tokio` (both spell these APIs alike); `$runtime` builds a runtime.
macro_rules! drop_sees_its_task_id {
    ($krate:ident, $runtime:expr) => {{
        use $krate::sync::oneshot;
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let recorder = || RecordsTryId {
            seen: seen.clone(),
            try_id: $krate::task::try_id,
        };
        let mut log = Vec::new();
        let mut check = |what: &str, id| {
            let seen = std::mem::take(&mut *seen.lock().unwrap());
            log.push(format!(
                "{what}: {:?}",
                seen.iter().map(|s| *s == Some(id)).collect::<Vec<_>>()
            ));
        };

        // A task holding a recorder that waits for ever, once it has been polled.
        let spawn_polled = |rt: &$krate::runtime::Runtime| {
            let (started_tx, started_rx) = oneshot::channel::<()>();
            let guard = recorder();
            let handle = rt.spawn(async move {
                let _guard = guard;
                started_tx.send(()).unwrap();
                std::future::pending::<()>().await
            });
            rt.block_on(started_rx).unwrap();
            handle
        };

        // Aborted while it waits (it was polled).
        let rt = $runtime;
        let handle = spawn_polled(&rt);
        let id = handle.id();
        handle.abort();
        assert!(rt.block_on(handle).unwrap_err().is_cancelled());
        check("aborted after a poll", id);

        // Aborted before its first poll (on a current-thread runtime; a multi-thread one's
        // worker may poll it first).
        let guard = recorder();
        let handle = rt.spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await
        });
        let id = handle.id();
        handle.abort();
        assert!(rt.block_on(handle).unwrap_err().is_cancelled());
        check("aborted before its first poll", id);

        // Its output, dropped with the JoinHandle outside any runtime.
        let guard = recorder();
        let handle = rt.spawn(async move { guard });
        let id = handle.id();
        rt.block_on(async {
            while !handle.is_finished() {
                $krate::task::yield_now().await;
            }
        });
        drop(handle);
        check("output dropped with its handle", id);

        // Dropped by the runtime's shutdown.
        let id = spawn_polled(&rt).id();
        drop(rt);
        check("dropped by the runtime's shutdown", id);
        log
    }};
}

/// A task's future dropped without finishing (aborted, or dropped by the runtime's
/// shutdown) and a task's output dropped with its `JoinHandle` run their destructors with
/// `task::try_id()` naming that task, as during a poll, on both of spindle's flavours as on
/// tokio's.
#[test]
fn a_dropped_future_or_output_sees_its_own_task_id() {
    let tokio = drop_sees_its_task_id!(
        tokio,
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    );
    assert_eq!(tokio.len(), 4, "{tokio:?}");
    let current_thread = drop_sees_its_task_id!(
        spindle,
        spindle::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    );
    assert_eq!(current_thread, tokio, "current_thread");
    let multi_thread = drop_sees_its_task_id!(spindle, {
        let mut builder = spindle::runtime::Builder::new_multi_thread();
        builder.worker_threads(1);
        builder.build().unwrap()
    });
    assert_eq!(multi_thread, tokio, "multi_thread");
}
