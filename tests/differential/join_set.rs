//! `JoinSet`, `AbortHandle`, task ids and `task_local!`: each scenario is written once, in
//! [`on_both!`], and the test asserts spindle agrees with tokio, and what both observed.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

/// Sends on its channel when dropped: a task's future holding one reports being dropped.
struct SendOnDrop<S: FnMut()>(S);
impl<S: FnMut()> Drop for SendOnDrop<S> {
    fn drop(&mut self) {
        (self.0)();
    }
}

on_both! {
    /// 100 tasks each wait for their own release; they are released in `order`, one at a
    /// time. Returns what `join_next` handed back after each release.
    async fn join_next_after_each_release(order: Vec<usize>) -> Vec<usize> {
        let mut set = rt::task::JoinSet::new();
        let mut senders = Vec::new();
        for i in 0..100 {
            let (tx, rx) = rt::sync::oneshot::channel::<()>();
            senders.push(Some(tx));
            set.spawn(async move {
                rx.await.unwrap();
                i
            });
        }
        assert_eq!(set.len(), 100);
        let mut got = Vec::new();
        for &i in &order {
            senders[i].take().unwrap().send(()).unwrap();
            got.push(set.join_next().await.unwrap().unwrap());
        }
        assert!(set.is_empty() && set.join_next().await.is_none());
        got
    }
}

/// 100 tasks released in a shuffled order: `join_next` must hand back exactly the task just
/// released.
#[test]
fn join_set_collects_100_tasks_in_the_order_they_finish() {
    let order: Vec<usize> = (0..100).map(|i| (i * 37) % 100).collect();
    let spindle = join_next_after_each_release::spindle(order.clone());
    assert_eq!(spindle, order);
    assert_eq!(spindle, join_next_after_each_release::tokio(order));
}

on_both! {
    /// 1000 tasks that yield once, on a two-worker multi-thread runtime. Returns the sum of
    /// their outputs.
    fn sum_on_the_multi_thread_runtime() -> u64 {
        let runtime = rt::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut set = rt::task::JoinSet::new();
            for i in 0..1000u64 {
                set.spawn(async move {
                    rt::task::yield_now().await;
                    i
                });
            }
            let mut sum = 0;
            while let Some(output) = set.join_next().await {
                sum += output.unwrap();
            }
            sum
        })
    }
}

#[test]
fn join_set_on_the_multi_thread_runtime_collects_every_output() {
    let spindle = sum_on_the_multi_thread_runtime::spindle();
    assert_eq!(spindle, 999 * 1000 / 2);
    assert_eq!(spindle, sum_on_the_multi_thread_runtime::tokio());
}

on_both! {
    /// Ten pending tasks, each holding a guard that reports its drop; then the set is
    /// dropped. Returns how many guards were dropped.
    async fn drop_a_set_of_pending_tasks() -> usize {
        let dropped = Arc::new(AtomicUsize::new(0));
        let (tx, mut rx) = rt::sync::mpsc::unbounded_channel::<()>();
        let mut set = rt::task::JoinSet::new();
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
        rt::task::yield_now().await; // let them start
        drop(set);
        for _ in 0..10 {
            rx.recv().await.unwrap();
        }
        dropped.load(SeqCst)
    }
}

/// Dropping the set aborts its tasks: each task's future is dropped (and says so).
#[test]
fn dropping_a_join_set_aborts_its_tasks() {
    let spindle = drop_a_set_of_pending_tasks::spindle();
    assert_eq!(spindle, 10);
    assert_eq!(spindle, drop_a_set_of_pending_tasks::tokio());
}

on_both! {
    /// Returns: whether `try_join_next` found nothing before any task finished; how many
    /// results `abort_all` left as cancelled; what a detached task sent; the length after
    /// `shutdown`.
    async fn abort_detach_and_shutdown() -> (bool, usize, u8, usize) {
        let mut set = rt::task::JoinSet::new();
        for _ in 0..3 {
            set.spawn(std::future::pending::<u8>());
        }
        let nothing_yet = set.try_join_next().is_none();
        set.abort_all();
        let mut cancelled = 0;
        while let Some(result) = set.join_next().await {
            cancelled += usize::from(result.unwrap_err().is_cancelled());
        }
        let (tx, rx) = rt::sync::oneshot::channel();
        set.spawn(async move {
            tx.send(5u8).unwrap();
            0
        });
        set.detach_all();
        let detached_ran = rx.await.unwrap();
        set.spawn(std::future::pending());
        set.shutdown().await;
        (nothing_yet, cancelled, detached_ran, set.len())
    }
}

/// `abort_all` leaves the tasks in the set as cancelled results; `try_join_next` does not
/// wait; `detach_all` lets tasks run on; `shutdown` empties the set.
#[test]
fn abort_all_try_join_next_detach_all_and_shutdown() {
    let spindle = abort_detach_and_shutdown::spindle();
    assert_eq!(spindle, (true, 3, 5, 0));
    assert_eq!(spindle, abort_detach_and_shutdown::tokio());
}

on_both! {
    /// Returns: whether the abort handle's id is the task's; `is_finished` before and after
    /// aborting a pending task; whether awaiting it said cancelled; the output of a task
    /// aborted only after it finished.
    async fn abort_a_pending_and_a_finished_task() -> (bool, bool, bool, bool, u8) {
        let pending = rt::spawn(std::future::pending::<u8>());
        let abort = pending.abort_handle();
        let same_id = abort.id() == pending.id();
        let before = abort.is_finished();
        abort.abort();
        let cancelled = pending.await.unwrap_err().is_cancelled();
        let after = abort.is_finished();
        let done = rt::spawn(async { 9u8 });
        let late = done.abort_handle();
        while !late.is_finished() {
            rt::task::yield_now().await;
        }
        late.abort();
        (same_id, before, cancelled, after, done.await.unwrap())
    }
}

/// An abort handle cancels a pending task, reports it finished, and leaves a finished task's
/// output alone.
#[test]
fn abort_handle_cancels_and_reports_finished() {
    let spindle = abort_a_pending_and_a_finished_task::spindle();
    assert_eq!(spindle, (true, false, true, true, 9));
    assert_eq!(spindle, abort_a_pending_and_a_finished_task::tokio());
}

on_both! {
    /// Returns: whether `task::id()` inside a task is its handle's id; whether `try_id` is
    /// set inside a task, and unset in `block_on`'s future.
    async fn task_ids() -> (bool, bool, bool) {
        let handle = rt::spawn(async { rt::task::id() });
        let id = handle.id();
        let inside = handle.await.unwrap() == id;
        let try_inside = rt::spawn(async { rt::task::try_id().is_some() })
            .await
            .unwrap();
        (inside, try_inside, rt::task::try_id().is_none())
    }
}

#[test]
fn task_id_inside_tasks_and_none_outside() {
    let spindle = task_ids::spindle();
    assert_eq!(spindle, (true, true, true));
    assert_eq!(spindle, task_ids::tokio());
}

on_both! {
    /// Nested scopes, a yield inside one, a spawned task, `sync_scope`, and (after the
    /// runtime) an access outside any scope. Returns what each saw.
    fn task_local_values() -> ((&'static str, &'static str, &'static str, bool, u32), bool) {
        rt::task_local! {
            static NAME: &'static str;
            static DEPTH: u32;
        }
        let inside = rt::current_thread().block_on(async {
            NAME.scope("outer", async {
                let outer = NAME.get();
                let inner = NAME
                    .scope("inner", async {
                        rt::task::yield_now().await;
                        NAME.get()
                    })
                    .await;
                let restored = NAME.get();
                let in_spawned = rt::spawn(async { NAME.try_with(|n| *n).is_ok() })
                    .await
                    .unwrap();
                let sync = DEPTH.sync_scope(3, || DEPTH.with(|d| *d + 1));
                (outer, inner, restored, in_spawned, sync)
            })
            .await
        });
        let outside_is_an_error = NAME.try_with(|n| *n).is_err();
        (inside, outside_is_an_error)
    }
}

/// Scopes nest and restore, a value survives a yield, a spawned task does not inherit it,
/// `sync_scope` sets it for a closure, and outside any scope access is an error.
#[test]
fn task_local_scopes() {
    let spindle = task_local_values::spindle();
    assert_eq!(spindle, (("outer", "inner", "outer", false, 4), true));
    assert_eq!(spindle, task_local_values::tokio());
}

/// spindle deliberately differs here: tokio's `block_in_place` on its multi-thread runtime
/// moves the worker's tasks away and blocks; spindle refuses with a panic on a thread that
/// drives a runtime (see the function's docs). Outside a runtime both just run the closure
/// (and on a `spawn_blocking` thread: `blocking.rs`).
#[test]
fn block_in_place_runs_outside_a_runtime_and_refuses_inside() {
    assert_eq!(spindle::task::block_in_place(|| 1), 1);
    assert_eq!(tokio::task::block_in_place(|| 1), 1);
    let refused = std::panic::catch_unwind(|| {
        crate::spindle_rt::current_thread().block_on(async { spindle::task::block_in_place(|| 2) })
    });
    let message = crate::panic_message(&*refused.unwrap_err());
    assert!(message.contains("spawn_blocking"), "{message}");
}

on_both! {
    /// Twenty tasks collected by `join_all`. Returns their outputs, sorted.
    async fn join_all_outputs() -> Vec<u32> {
        let mut set = rt::task::JoinSet::new();
        for i in 0..20u32 {
            set.spawn(async move { i });
        }
        let mut outputs = set.join_all().await;
        outputs.sort_unstable();
        outputs
    }
}

#[test]
fn join_all_returns_every_output() {
    let spindle = join_all_outputs::spindle();
    assert_eq!(spindle, (0..20).collect::<Vec<_>>());
    assert_eq!(spindle, join_all_outputs::tokio());
}
