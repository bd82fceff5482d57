//! `spawn_blocking`: what aborting a queued call does.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

/// What the scenario observed: whether awaiting the aborted handle said "cancelled", and
/// whether the aborted call ever ran.
#[derive(Debug, PartialEq, Eq)]
struct Aborted {
    join_error_is_cancelled: bool,
    ran: bool,
}

/// One blocking thread, kept busy; a second call queued behind it and aborted; the first
/// released; a third call run after both (the pool is FIFO on its one thread, so the second
/// would have run by then). tokio never starts an aborted call that had not started.
///
/// spindle's `JoinHandle` belongs to a task that awaits the call; dropping that task cancels
/// the call, and the call also checks the task's cancellation right before it starts (the
/// next test covers a thread freed before the runtime acts on the abort).
#[test]
fn an_aborted_queued_spawn_blocking_never_runs() {
    let spindle = {
        let rt = spindle::runtime::Builder::new_current_thread()
            .max_blocking_threads(1)
            .build()
            .unwrap();
        let ran = Arc::new(AtomicBool::new(false));
        let ran_in_call = ran.clone();
        let join_error_is_cancelled = rt.block_on(async move {
            let (started_tx, started) = mpsc::channel();
            let (release, release_rx) = mpsc::channel::<()>();
            let first = spindle::spawn_blocking(move || {
                started_tx.send(()).unwrap();
                release_rx.recv().unwrap();
            });
            started.recv().unwrap();
            let queued = spindle::spawn_blocking(move || ran_in_call.store(true, Ordering::SeqCst));
            queued.abort();
            // Let the runtime act on the abort: a task spawned now runs after the cancelled
            // one on this one-thread runtime.
            spindle::spawn(async {}).await.unwrap();
            // Released before the aborted handle is awaited: tokio resolves that handle only
            // when a blocking thread takes the cancelled call off its queue.
            release.send(()).unwrap();
            first.await.unwrap();
            let cancelled = queued.await.unwrap_err().is_cancelled();
            spindle::spawn_blocking(|| ()).await.unwrap();
            cancelled
        });
        Aborted {
            join_error_is_cancelled,
            ran: ran.load(Ordering::SeqCst),
        }
    };
    let tokio = {
        let rt = tokio::runtime::Builder::new_current_thread()
            .max_blocking_threads(1)
            .build()
            .unwrap();
        let ran = Arc::new(AtomicBool::new(false));
        let ran_in_call = ran.clone();
        let join_error_is_cancelled = rt.block_on(async move {
            let (started_tx, started) = mpsc::channel();
            let (release, release_rx) = mpsc::channel::<()>();
            let first = tokio::task::spawn_blocking(move || {
                started_tx.send(()).unwrap();
                release_rx.recv().unwrap();
            });
            started.recv().unwrap();
            let queued =
                tokio::task::spawn_blocking(move || ran_in_call.store(true, Ordering::SeqCst));
            queued.abort();
            // Let the runtime act on the abort: a task spawned now runs after the cancelled
            // one on this one-thread runtime.
            tokio::spawn(async {}).await.unwrap();
            // Released before the aborted handle is awaited: tokio resolves that handle only
            // when a blocking thread takes the cancelled call off its queue.
            release.send(()).unwrap();
            first.await.unwrap();
            let cancelled = queued.await.unwrap_err().is_cancelled();
            tokio::task::spawn_blocking(|| ()).await.unwrap();
            cancelled
        });
        Aborted {
            join_error_is_cancelled,
            ran: ran.load(Ordering::SeqCst),
        }
    };
    assert_eq!(
        tokio,
        Aborted {
            join_error_is_cancelled: true,
            ran: false
        }
    );
    assert_eq!(spindle, tokio);
}

/// The window the scenario above steps around: `abort`, then the busy blocking thread is
/// freed while the runtime's only thread is still inside the aborting task (it blocks until a
/// third call, queued after the aborted one, has started: by then the one blocking thread
/// has taken the aborted call off its FIFO queue, and either skipped or run it). tokio marks
/// the call itself, so it never runs; spindle's call checks its awaiting task's cancellation
/// right before it starts.
#[test]
fn an_aborted_queued_spawn_blocking_never_runs_even_if_a_thread_frees_before_the_runtime_acts() {
    let spindle = {
        let rt = spindle::runtime::Builder::new_current_thread()
            .max_blocking_threads(1)
            .build()
            .unwrap();
        let ran = Arc::new(AtomicBool::new(false));
        let ran_in_call = ran.clone();
        let join_error_is_cancelled = rt.block_on(async move {
            let (started_tx, started) = mpsc::channel();
            let (release, release_rx) = mpsc::channel::<()>();
            let first = spindle::spawn_blocking(move || {
                started_tx.send(()).unwrap();
                release_rx.recv().unwrap();
            });
            started.recv().unwrap();
            let queued = spindle::spawn_blocking(move || ran_in_call.store(true, Ordering::SeqCst));
            let (third_tx, third_started) = mpsc::channel();
            let third = spindle::spawn_blocking(move || third_tx.send(()).unwrap());
            queued.abort();
            release.send(()).unwrap();
            // The runtime thread blocks here: it cannot drop the aborted task meanwhile.
            third_started.recv().unwrap();
            first.await.unwrap();
            third.await.unwrap();
            queued.await.unwrap_err().is_cancelled()
        });
        Aborted {
            join_error_is_cancelled,
            ran: ran.load(Ordering::SeqCst),
        }
    };
    let tokio = {
        let rt = tokio::runtime::Builder::new_current_thread()
            .max_blocking_threads(1)
            .build()
            .unwrap();
        let ran = Arc::new(AtomicBool::new(false));
        let ran_in_call = ran.clone();
        let join_error_is_cancelled = rt.block_on(async move {
            let (started_tx, started) = mpsc::channel();
            let (release, release_rx) = mpsc::channel::<()>();
            let first = tokio::task::spawn_blocking(move || {
                started_tx.send(()).unwrap();
                release_rx.recv().unwrap();
            });
            started.recv().unwrap();
            let queued =
                tokio::task::spawn_blocking(move || ran_in_call.store(true, Ordering::SeqCst));
            let (third_tx, third_started) = mpsc::channel();
            let third = tokio::task::spawn_blocking(move || third_tx.send(()).unwrap());
            queued.abort();
            release.send(()).unwrap();
            third_started.recv().unwrap();
            first.await.unwrap();
            third.await.unwrap();
            queued.await.unwrap_err().is_cancelled()
        });
        Aborted {
            join_error_is_cancelled,
            ran: ran.load(Ordering::SeqCst),
        }
    };
    assert_eq!(
        tokio,
        Aborted {
            join_error_is_cancelled: true,
            ran: false
        }
    );
    assert_eq!(spindle, tokio);
}

/// A blocking call runs inside its runtime: it can spawn onto it and find its `Handle`, as
/// in tokio (a tokio user's `tokio::spawn` or `Handle::current()` inside `spawn_blocking`
/// panicked with "outside a spindle runtime" before). Both flavours.
#[test]
fn a_blocking_call_runs_inside_its_runtime() {
    let spindle: Vec<u32> = [
        spindle::runtime::Builder::new_current_thread().build(),
        spindle::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build(),
    ]
    .into_iter()
    .map(|rt| {
        let rt = rt.unwrap();
        rt.block_on(async {
            let spawned = spindle::spawn_blocking(|| {
                let _ = spindle::runtime::Handle::current();
                spindle::spawn(async { 7u32 })
            })
            .await
            .unwrap();
            spawned.await.unwrap()
        })
    })
    .collect();
    let tokio: Vec<u32> = [
        tokio::runtime::Builder::new_current_thread().build(),
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build(),
    ]
    .into_iter()
    .map(|rt| {
        let rt = rt.unwrap();
        rt.block_on(async {
            let spawned = tokio::task::spawn_blocking(|| {
                let _ = tokio::runtime::Handle::current();
                tokio::spawn(async { 7u32 })
            })
            .await
            .unwrap();
            spawned.await.unwrap()
        })
    })
    .collect();
    assert_eq!(tokio, vec![7, 7]);
    assert_eq!(spindle, tokio);
}
