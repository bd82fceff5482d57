//! `spawn_blocking`: the runtime's own thread pool, awaited without blocking a worker.

use std::sync::mpsc;

use spindle::runtime::{Builder, Runtime};

fn runtimes() -> Vec<Runtime> {
    vec![
        Builder::new_current_thread().build().unwrap(),
        Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap(),
    ]
}

#[test]
fn blocking_calls_return_their_value_on_a_blocking_thread() {
    for rt in runtimes() {
        let (value, name) = rt.block_on(async {
            spindle::spawn_blocking(|| (21 * 2, std::thread::current().name().map(str::to_owned)))
                .await
                .unwrap()
        });
        assert_eq!(value, 42);
        assert!(name.unwrap().starts_with("spindle-blocking-"));
    }
}

#[test]
fn a_blocking_call_waiting_on_a_task_does_not_block_the_scheduler() {
    // The blocking call waits for a message that only a task sends: if awaiting it blocked the
    // (single) scheduler thread, the task could never run.
    for rt in runtimes() {
        let received = rt.block_on(async {
            let (tx, rx) = mpsc::channel::<u32>();
            let blocking = spindle::spawn_blocking(move || rx.recv().unwrap());
            spindle::spawn(async move { tx.send(7).unwrap() })
                .await
                .unwrap();
            blocking.await.unwrap()
        });
        assert_eq!(received, 7);
    }
}

#[test]
fn a_panicking_blocking_call_reaches_only_its_handle() {
    for rt in runtimes() {
        let error = rt
            .block_on(async { spindle::spawn_blocking(|| panic!("blocking boom")).await })
            .unwrap_err();
        assert!(error.is_panic());
        assert!(error.to_string().contains("blocking boom"));
        let after = rt.block_on(async { spindle::spawn_blocking(|| 1).await.unwrap() });
        assert_eq!(after, 1);
    }
}

#[test]
fn dropping_the_runtime_waits_for_a_running_blocking_call() {
    let rt = Builder::new_current_thread().build().unwrap();
    let (started_tx, started_rx) = mpsc::channel();
    let (finish_tx, finish_rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel();
    let _handle = rt.handle().spawn_blocking(move || {
        started_tx.send(()).unwrap();
        finish_rx.recv().unwrap();
        done_tx.send(()).unwrap();
    });
    started_rx.recv().unwrap();
    let dropper = std::thread::spawn(move || drop(rt));
    finish_tx.send(()).unwrap();
    dropper.join().unwrap();
    // The call ran to its end before the runtime finished dropping.
    assert!(done_rx.try_recv().is_ok());
}

#[test]
fn zero_blocking_threads_is_an_error() {
    let error = Builder::new_current_thread()
        .max_blocking_threads(0)
        .build()
        .unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
#[should_panic(expected = "outside a spindle runtime")]
fn spawn_blocking_outside_a_runtime_panics_clearly() {
    drop(spindle::spawn_blocking(|| ()));
}

#[test]
fn an_aborted_blocking_call_that_has_not_started_never_runs() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let one_thread = |mut builder: Builder| builder.max_blocking_threads(1).build().unwrap();
    for rt in [
        one_thread(Builder::new_current_thread()),
        one_thread({
            let mut builder = Builder::new_multi_thread();
            builder.worker_threads(2);
            builder
        }),
    ] {
        let ran = Arc::new(AtomicBool::new(false));
        let ran_in_call = ran.clone();
        rt.block_on(async move {
            // The only blocking thread is busy until `release`.
            let (started_tx, started) = mpsc::channel();
            let (release, release_rx) = mpsc::channel::<()>();
            let first = spindle::spawn_blocking(move || {
                started_tx.send(()).unwrap();
                release_rx.recv().unwrap();
            });
            started.recv().unwrap();
            let queued = spindle::spawn_blocking(move || ran_in_call.store(true, Ordering::SeqCst));
            queued.abort();
            assert!(queued.await.unwrap_err().is_cancelled());
            release.send(()).unwrap();
            first.await.unwrap();
            // The pool runs calls in order on its one thread: once this one has run, the
            // aborted one would have run too, had it not been cancelled.
            spindle::spawn_blocking(|| ()).await.unwrap();
        });
        assert!(!ran.load(Ordering::SeqCst), "the aborted call ran");
    }
}
