//! `JoinSet`, `AbortHandle`, task ids and `task_local!`: the same scenarios on spindle and on
//! tokio, asserting they agree.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

fn spindle_rt() -> spindle::runtime::Runtime {
    spindle::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Sends on its channel when dropped: a task's future holding one reports being dropped.
struct SendOnDrop<S: FnMut()>(S);
impl<S: FnMut()> Drop for SendOnDrop<S> {
    fn drop(&mut self) {
        (self.0)();
    }
}

/// 100 tasks each wait for their own release; they are released in a shuffled order, one at
/// a time, and `join_next` must hand back exactly the task just released.
#[test]
fn join_set_collects_100_tasks_in_the_order_they_finish() {
    let order: Vec<usize> = (0..100).map(|i| (i * 37) % 100).collect();
    let expected = order.clone();
    let release = order.clone();
    let spindle = spindle_rt().block_on(async move {
        let mut set = spindle::task::JoinSet::new();
        let mut senders = Vec::new();
        for i in 0..100 {
            let (tx, rx) = spindle::sync::oneshot::channel::<()>();
            senders.push(Some(tx));
            set.spawn(async move {
                rx.await.unwrap();
                i
            });
        }
        assert_eq!(set.len(), 100);
        let mut got = Vec::new();
        for &i in &release {
            senders[i].take().unwrap().send(()).unwrap();
            got.push(set.join_next().await.unwrap().unwrap());
        }
        assert!(set.is_empty() && set.join_next().await.is_none());
        got
    });
    let tokio = tokio_rt().block_on(async move {
        let mut set = tokio::task::JoinSet::new();
        let mut senders = Vec::new();
        for i in 0..100 {
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            senders.push(Some(tx));
            set.spawn(async move {
                rx.await.unwrap();
                i
            });
        }
        let mut got = Vec::new();
        for &i in &order {
            senders[i].take().unwrap().send(()).unwrap();
            got.push(set.join_next().await.unwrap().unwrap());
        }
        assert!(set.is_empty() && set.join_next().await.is_none());
        got
    });
    assert_eq!(spindle, expected);
    assert_eq!(spindle, tokio);
}

#[test]
fn join_set_on_the_multi_thread_runtime_collects_every_output() {
    let rt = spindle::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let sum = rt.block_on(async {
        let mut set = spindle::task::JoinSet::new();
        for i in 0..1000u64 {
            set.spawn(async move {
                spindle::task::yield_now().await;
                i
            });
        }
        let mut sum = 0;
        while let Some(output) = set.join_next().await {
            sum += output.unwrap();
        }
        sum
    });
    assert_eq!(sum, 999 * 1000 / 2);
}

/// Dropping the set aborts its tasks: each task's future is dropped (and says so).
#[test]
fn dropping_a_join_set_aborts_its_tasks() {
    let spindle = spindle_rt().block_on(async {
        let dropped = Arc::new(AtomicUsize::new(0));
        let (tx, mut rx) = spindle::sync::mpsc::unbounded_channel::<()>();
        let mut set = spindle::task::JoinSet::new();
        for _ in 0..10 {
            let guard = {
                let tx = tx.clone();
                let dropped = dropped.clone();
                SendOnDrop(move || {
                    dropped.fetch_add(1, SeqCst);
                    let _ = tx.send(());
                })
            };
            set.spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await
            });
        }
        spindle::task::yield_now().await; // let them start
        drop(set);
        for _ in 0..10 {
            rx.recv().await.unwrap();
        }
        dropped.load(SeqCst)
    });
    let tokio = tokio_rt().block_on(async {
        let dropped = Arc::new(AtomicUsize::new(0));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..10 {
            let guard = {
                let tx = tx.clone();
                let dropped = dropped.clone();
                SendOnDrop(move || {
                    dropped.fetch_add(1, SeqCst);
                    let _ = tx.send(());
                })
            };
            set.spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await
            });
        }
        tokio::task::yield_now().await;
        drop(set);
        for _ in 0..10 {
            rx.recv().await.unwrap();
        }
        dropped.load(SeqCst)
    });
    assert_eq!(spindle, 10);
    assert_eq!(spindle, tokio);
}

/// `abort_all` leaves the tasks in the set as cancelled results; `try_join_next` does not
/// wait; `detach_all` lets tasks run on; `shutdown` empties the set.
#[test]
fn abort_all_try_join_next_detach_all_and_shutdown() {
    let spindle = spindle_rt().block_on(async {
        let mut set = spindle::task::JoinSet::new();
        for _ in 0..3 {
            set.spawn(std::future::pending::<u8>());
        }
        let nothing_yet = set.try_join_next().is_none();
        set.abort_all();
        let mut cancelled = 0;
        while let Some(result) = set.join_next().await {
            cancelled += usize::from(result.unwrap_err().is_cancelled());
        }
        let (tx, rx) = spindle::sync::oneshot::channel();
        set.spawn(async move {
            tx.send(5u8).unwrap();
            0
        });
        set.detach_all();
        let detached_ran = rx.await.unwrap();
        set.spawn(std::future::pending());
        set.shutdown().await;
        (nothing_yet, cancelled, detached_ran, set.len())
    });
    let tokio = tokio_rt().block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..3 {
            set.spawn(std::future::pending::<u8>());
        }
        let nothing_yet = set.try_join_next().is_none();
        set.abort_all();
        let mut cancelled = 0;
        while let Some(result) = set.join_next().await {
            cancelled += usize::from(result.unwrap_err().is_cancelled());
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        set.spawn(async move {
            tx.send(5u8).unwrap();
            0
        });
        set.detach_all();
        let detached_ran = rx.await.unwrap();
        set.spawn(std::future::pending());
        set.shutdown().await;
        (nothing_yet, cancelled, detached_ran, set.len())
    });
    assert_eq!(spindle, (true, 3, 5, 0));
    assert_eq!(spindle, tokio);
}

/// An abort handle cancels a pending task, reports it finished, and leaves a finished task's
/// output alone.
#[test]
fn abort_handle_cancels_and_reports_finished() {
    let spindle = spindle_rt().block_on(async {
        let pending = spindle::spawn(std::future::pending::<u8>());
        let abort = pending.abort_handle();
        let same_id = abort.id() == pending.id();
        let before = abort.is_finished();
        abort.abort();
        let cancelled = pending.await.unwrap_err().is_cancelled();
        let after = abort.is_finished();
        let done = spindle::spawn(async { 9u8 });
        let late = done.abort_handle();
        while !late.is_finished() {
            spindle::task::yield_now().await;
        }
        late.abort();
        (same_id, before, cancelled, after, done.await.unwrap())
    });
    let tokio = tokio_rt().block_on(async {
        let pending = tokio::spawn(std::future::pending::<u8>());
        let abort = pending.abort_handle();
        let same_id = abort.id() == pending.id();
        let before = abort.is_finished();
        abort.abort();
        let cancelled = pending.await.unwrap_err().is_cancelled();
        let after = abort.is_finished();
        let done = tokio::spawn(async { 9u8 });
        let late = done.abort_handle();
        while !late.is_finished() {
            tokio::task::yield_now().await;
        }
        late.abort();
        (same_id, before, cancelled, after, done.await.unwrap())
    });
    assert_eq!(spindle, (true, false, true, true, 9));
    assert_eq!(spindle, tokio);
}

#[test]
fn task_id_inside_tasks_and_none_outside() {
    let spindle = spindle_rt().block_on(async {
        let handle = spindle::spawn(async { spindle::task::id() });
        let id = handle.id();
        let inside = handle.await.unwrap() == id;
        let try_inside = spindle::spawn(async { spindle::task::try_id().is_some() })
            .await
            .unwrap();
        (inside, try_inside, spindle::task::try_id().is_none())
    });
    let tokio = tokio_rt().block_on(async {
        let handle = tokio::spawn(async { tokio::task::id() });
        let id = handle.id();
        let inside = handle.await.unwrap() == id;
        let try_inside = tokio::spawn(async { tokio::task::try_id().is_some() })
            .await
            .unwrap();
        (inside, try_inside, tokio::task::try_id().is_none())
    });
    assert_eq!(spindle, (true, true, true));
    assert_eq!(spindle, tokio);
}

spindle::task_local! {
    static SPINDLE_NAME: &'static str;
    static SPINDLE_DEPTH: u32;
}

tokio::task_local! {
    static TOKIO_NAME: &'static str;
    static TOKIO_DEPTH: u32;
}

/// Scopes nest and restore, a value survives a yield, a spawned task does not inherit it,
/// `sync_scope` sets it for a closure, and outside any scope access is an error.
#[test]
fn task_local_scopes() {
    let spindle = spindle_rt().block_on(async {
        SPINDLE_NAME
            .scope("outer", async {
                let outer = SPINDLE_NAME.get();
                let inner = SPINDLE_NAME
                    .scope("inner", async {
                        spindle::task::yield_now().await;
                        SPINDLE_NAME.get()
                    })
                    .await;
                let restored = SPINDLE_NAME.get();
                let in_spawned = spindle::spawn(async { SPINDLE_NAME.try_with(|n| *n).is_ok() })
                    .await
                    .unwrap();
                let sync = SPINDLE_DEPTH.sync_scope(3, || SPINDLE_DEPTH.with(|d| *d + 1));
                (outer, inner, restored, in_spawned, sync)
            })
            .await
    });
    let spindle_outside = SPINDLE_NAME.try_with(|n| *n).is_err();
    let tokio = tokio_rt().block_on(async {
        TOKIO_NAME
            .scope("outer", async {
                let outer = TOKIO_NAME.get();
                let inner = TOKIO_NAME
                    .scope("inner", async {
                        tokio::task::yield_now().await;
                        TOKIO_NAME.get()
                    })
                    .await;
                let restored = TOKIO_NAME.get();
                let in_spawned = tokio::spawn(async { TOKIO_NAME.try_with(|n| *n).is_ok() })
                    .await
                    .unwrap();
                let sync = TOKIO_DEPTH.sync_scope(3, || TOKIO_DEPTH.with(|d| *d + 1));
                (outer, inner, restored, in_spawned, sync)
            })
            .await
    });
    let tokio_outside = TOKIO_NAME.try_with(|n| *n).is_err();
    assert_eq!(spindle, ("outer", "inner", "outer", false, 4));
    assert_eq!(spindle, tokio);
    assert!(spindle_outside && tokio_outside);
}

/// spindle deliberately differs here: tokio's `block_in_place` on its multi-thread runtime
/// moves the worker's tasks away and blocks; spindle refuses with a panic inside any runtime
/// (see the function's docs). Outside a runtime both just run the closure.
#[test]
fn block_in_place_runs_outside_a_runtime_and_refuses_inside() {
    assert_eq!(spindle::task::block_in_place(|| 1), 1);
    assert_eq!(tokio::task::block_in_place(|| 1), 1);
    let refused = std::panic::catch_unwind(|| {
        spindle_rt().block_on(async { spindle::task::block_in_place(|| 2) })
    });
    let message = refused.unwrap_err();
    let message = message.downcast_ref::<&str>().copied().unwrap_or_default();
    assert!(message.contains("spawn_blocking"), "{message}");
}

#[test]
fn join_all_returns_every_output() {
    let mut spindle = spindle_rt().block_on(async {
        let mut set = spindle::task::JoinSet::new();
        for i in 0..20u32 {
            set.spawn(async move { i });
        }
        set.join_all().await
    });
    let mut tokio = tokio_rt().block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..20u32 {
            set.spawn(async move { i });
        }
        set.join_all().await
    });
    spindle.sort_unstable();
    tokio.sort_unstable();
    assert_eq!(spindle, (0..20).collect::<Vec<_>>());
    assert_eq!(spindle, tokio);
}
