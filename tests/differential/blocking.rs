//! `spawn_blocking`: what aborting a queued call does, and the runtime a blocking call runs
//! in. Each scenario is written once, in [`on_both!`], and the test asserts spindle agrees
//! with tokio, and what both observed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

/// What the scenario observed: whether awaiting the aborted handle said "cancelled", and
/// whether the aborted call ever ran.
#[derive(Debug, PartialEq, Eq)]
struct Aborted {
    join_error_is_cancelled: bool,
    ran: bool,
}

/// What both runtimes must observe: the aborted call is cancelled and never runs.
const CANCELLED_UNRUN: Aborted = Aborted {
    join_error_is_cancelled: true,
    ran: false,
};

on_both! {
    /// One blocking thread, kept busy; a second call queued behind it and aborted; the
    /// runtime given a turn to act on the abort; the first released; a third call run after
    /// both (the pool is FIFO on its one thread, so the second would have run by then).
    fn abort_then_let_the_runtime_act() -> Aborted {
        let runtime = rt::runtime::Builder::new_current_thread()
            .max_blocking_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let ran = Arc::new(AtomicBool::new(false));
        let ran_in_call = ran.clone();
        let join_error_is_cancelled = runtime.block_on(async move {
            let (started_tx, started) = mpsc::channel();
            let (release, release_rx) = mpsc::channel::<()>();
            let first = rt::task::spawn_blocking(move || {
                started_tx.send(()).unwrap();
                release_rx.recv().unwrap();
            });
            started.recv().unwrap();
            let queued =
                rt::task::spawn_blocking(move || ran_in_call.store(true, Ordering::SeqCst));
            queued.abort();
            // Let the runtime act on the abort: a task spawned now runs after the cancelled
            // one on this one-thread runtime.
            rt::spawn(async {}).await.unwrap();
            // Released before the aborted handle is awaited: tokio resolves that handle only
            // when a blocking thread takes the cancelled call off its queue.
            release.send(()).unwrap();
            first.await.unwrap();
            let cancelled = queued.await.unwrap_err().is_cancelled();
            rt::task::spawn_blocking(|| ()).await.unwrap();
            cancelled
        });
        Aborted {
            join_error_is_cancelled,
            ran: ran.load(Ordering::SeqCst),
        }
    }
}

/// tokio never starts an aborted call that had not started. spindle's `JoinHandle` belongs
/// to a task that awaits the call; dropping that task cancels the call, and the call also
/// checks the task's cancellation right before it starts (the next test covers a thread
/// freed before the runtime acts on the abort).
#[test]
fn an_aborted_queued_spawn_blocking_never_runs() {
    let tokio = abort_then_let_the_runtime_act::tokio();
    assert_eq!(tokio, CANCELLED_UNRUN);
    assert_eq!(abort_then_let_the_runtime_act::spindle(), tokio);
}

on_both! {
    /// As above, but the busy thread is freed while the runtime's only thread is still
    /// inside the aborting task: it blocks until a third call, queued after the aborted one,
    /// has started, so it cannot drop the aborted task meanwhile.
    fn abort_then_free_the_thread_at_once() -> Aborted {
        let runtime = rt::runtime::Builder::new_current_thread()
            .max_blocking_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let ran = Arc::new(AtomicBool::new(false));
        let ran_in_call = ran.clone();
        let join_error_is_cancelled = runtime.block_on(async move {
            let (started_tx, started) = mpsc::channel();
            let (release, release_rx) = mpsc::channel::<()>();
            let first = rt::task::spawn_blocking(move || {
                started_tx.send(()).unwrap();
                release_rx.recv().unwrap();
            });
            started.recv().unwrap();
            let queued =
                rt::task::spawn_blocking(move || ran_in_call.store(true, Ordering::SeqCst));
            let (third_tx, third_started) = mpsc::channel();
            let third = rt::task::spawn_blocking(move || third_tx.send(()).unwrap());
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
    }
}

/// The window the scenario above steps around: `abort`, then the busy blocking thread is
/// freed while the runtime's only thread is still inside the aborting task (by the time the
/// third call starts, the one blocking thread has taken the aborted call off its FIFO queue,
/// and either skipped or run it). tokio marks the call itself, so it never runs; spindle's
/// call checks its awaiting task's cancellation right before it starts.
#[test]
fn an_aborted_queued_spawn_blocking_never_runs_even_if_a_thread_frees_before_the_runtime_acts() {
    let tokio = abort_then_free_the_thread_at_once::tokio();
    assert_eq!(tokio, CANCELLED_UNRUN);
    assert_eq!(abort_then_free_the_thread_at_once::spindle(), tokio);
}

on_both! {
    /// On a current-thread and on a one-worker multi-thread runtime, a blocking call finds
    /// its runtime's `Handle` and spawns onto it. Returns each spawned task's output.
    fn spawn_from_a_blocking_call() -> Vec<u32> {
        [
            rt::runtime::Builder::new_current_thread().enable_all().build(),
            rt::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build(),
        ]
        .into_iter()
        .map(|runtime| {
            runtime.unwrap().block_on(async {
                let spawned = rt::task::spawn_blocking(|| {
                    let _ = rt::runtime::Handle::current();
                    rt::spawn(async { 7u32 })
                })
                .await
                .unwrap();
                spawned.await.unwrap()
            })
        })
        .collect()
    }
}

/// A blocking call runs inside its runtime: it can spawn onto it and find its `Handle`, as
/// in tokio (a tokio user's `tokio::spawn` or `Handle::current()` inside `spawn_blocking`
/// panicked with "outside a spindle runtime" before). Both flavours.
#[test]
fn a_blocking_call_runs_inside_its_runtime() {
    let tokio = spawn_from_a_blocking_call::tokio();
    assert_eq!(tokio, vec![7, 7]);
    assert_eq!(spawn_from_a_blocking_call::spindle(), tokio);
}

on_both! {
    /// Where a thread may block: a `spawn_blocking` call may use `blocking_recv` and
    /// `block_in_place`, and so may a plain thread that only entered the runtime; inside
    /// `block_on` a `blocking_recv` panics. Returns the values received and whether the last
    /// one panicked.
    fn where_a_thread_may_block() -> (u32, u32, u32, bool) {
        let runtime = rt::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (tx, rx) = rt::sync::oneshot::channel::<u32>();
        let from_blocking_call = runtime.block_on(async move {
            let call = rt::task::spawn_blocking(move || rx.blocking_recv().unwrap());
            tx.send(1).unwrap();
            call.await.unwrap()
        });
        let in_place = runtime.block_on(async {
            rt::task::spawn_blocking(|| rt::task::block_in_place(|| 2))
                .await
                .unwrap()
        });
        let entered = runtime.enter();
        let (tx, rx) = rt::sync::oneshot::channel::<u32>();
        let sender = std::thread::spawn(move || tx.send(3).unwrap());
        let after_enter = rx.blocking_recv().unwrap();
        sender.join().unwrap();
        drop(entered);
        let inside_block_on = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            runtime.block_on(async {
                let (_tx, rx) = rt::sync::oneshot::channel::<u32>();
                let _ = rx.blocking_recv();
            })
        }))
        .is_err();
        (from_blocking_call, in_place, after_enter, inside_block_on)
    }
}

#[test]
fn a_blocking_call_and_an_entered_thread_may_block_block_on_may_not() {
    let spindle = where_a_thread_may_block::spindle();
    assert_eq!(spindle, (1, 2, 3, true));
    assert_eq!(spindle, where_a_thread_may_block::tokio());
}
