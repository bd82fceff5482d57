//! Unit tests that need the pool's internals: the OS refusing a thread after the first N
//! (`Builder::refuse_spawn_from`), which a real OS only does at limits a test cannot set
//! without disturbing the whole process. (`tests/thread_pool.rs` covers a real refusal, with
//! no thread at all.)

use std::sync::mpsc;

use super::{Builder, JobErrorKind};

#[test]
fn refused_spawn_leaves_the_job_queued_for_an_existing_thread() {
    let mut builder = Builder::new().max_threads(4);
    builder.refuse_spawn_from = Some(2); // thread 1 starts; thread 2 and later are refused
    let pool = builder.build().unwrap();

    let (release, blocked) = mpsc::channel::<()>();
    let (started_tx, started) = mpsc::channel();
    let first = pool.submit(move || {
        started_tx.send(()).unwrap();
        blocked.recv().unwrap();
        1
    });
    started.recv().unwrap();
    // The only thread is busy and no other can start: the job waits in the queue.
    let second = pool.submit(|| 2);
    assert_eq!(pool.thread_count(), 1);
    assert_eq!(pool.queued_count(), 1);
    assert!(!second.is_finished());

    release.send(()).unwrap();
    assert_eq!(first.wait().unwrap(), 1);
    assert_eq!(second.wait().unwrap(), 2);
}

#[test]
fn refused_spawn_with_no_thread_fails_every_queued_job() {
    let mut builder = Builder::new().max_threads(2);
    builder.refuse_spawn_from = Some(1); // no thread can ever start
    let pool = builder.build().unwrap();
    let error = pool.submit(|| ()).wait().unwrap_err();
    assert_eq!(error.kind(), JobErrorKind::SpawnFailed);
    assert!(error.to_string().contains("refuses new threads"), "{error}");
    assert_eq!(pool.thread_count(), 0);
    assert_eq!(pool.queued_count(), 0);
}

#[test]
fn refused_min_threads_fail_build() {
    let mut builder = Builder::new().max_threads(2).min_threads(2);
    builder.refuse_spawn_from = Some(2);
    let error = builder.build().unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::WouldBlock);
}
