//! Invalid configurations give errors from `build`, not panics (issue 8 §3): zero workers,
//! zero capacities, absurd durations, a worker program that does not exist. Durations too
//! large to add to `Instant::now()` (`Duration::MAX`) mean "no limit in practice", never an
//! overflow panic in a background thread.

use std::io::ErrorKind;
use std::time::Duration;

use spindle::process::{Jobs, ProcessError, ProcessPool};
use spindle::runtime::Builder;
use spindle::thread_pool::ThreadPool;

const DEMO: &str = env!("CARGO_BIN_EXE_spindle-worker-demo");

fn invalid_input<T: std::fmt::Debug>(result: std::io::Result<T>, what: &str) {
    match result {
        Err(err) => assert_eq!(err.kind(), ErrorKind::InvalidInput, "{what}: {err}"),
        Ok(value) => panic!("{what}: accepted: {value:?}"),
    }
}

#[test]
fn runtime_builder_refuses_zeros() {
    for (what, mut builder) in [
        ("current-thread", Builder::new_current_thread()),
        ("multi-thread", Builder::new_multi_thread()),
    ] {
        invalid_input(builder.clone().event_interval(0).build(), what);
        invalid_input(builder.clone().global_queue_interval(0).build(), what);
        invalid_input(builder.max_blocking_threads(0).build(), what);
    }
    invalid_input(
        Builder::new_multi_thread().worker_threads(0).build(),
        "worker_threads(0)",
    );
}

#[test]
fn runtime_builder_refuses_nul_thread_names_and_impossible_worker_counts() {
    for (what, mut builder) in [
        ("current-thread", Builder::new_current_thread()),
        ("multi-thread", Builder::new_multi_thread()),
    ] {
        invalid_input(builder.thread_name("a\0b").build(), what);
    }
    invalid_input(
        Builder::new_multi_thread()
            .worker_threads(usize::MAX)
            .build(),
        "worker_threads(usize::MAX)",
    );
    invalid_input(
        Builder::new_multi_thread().worker_threads(1 << 16).build(),
        "worker_threads(65536)",
    );
}

#[test]
fn runtime_with_absurd_durations_builds_and_runs() {
    let rt = Builder::new_multi_thread()
        .worker_threads(1)
        .thread_keep_alive(Duration::MAX)
        .build()
        .unwrap();
    let out = rt.block_on(async {
        // A blocking call's thread then waits "for ever" for the next one; the runtime's
        // drop must still end it.
        spindle::spawn_blocking(|| 7).await.unwrap()
    });
    assert_eq!(out, 7);
    drop(rt);
}

#[test]
fn timers_with_duration_max_do_not_panic() {
    let rt = Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        // A sleep of Duration::MAX is pending, not an overflow; dropping it cancels it.
        let far = spindle::time::timeout(Duration::MAX, async { 5 }).await;
        assert_eq!(far.unwrap(), 5);
        let never = spindle::time::timeout(
            Duration::from_millis(1),
            spindle::time::sleep(Duration::MAX),
        );
        assert!(
            never.await.is_err(),
            "a Duration::MAX sleep is still pending"
        );
        let mut interval = spindle::time::interval(Duration::MAX);
        interval.tick().await; // the first tick is immediate
        let deadline = spindle::time::Instant::now() + Duration::from_secs(1);
        let sleep = spindle::time::sleep_until(deadline);
        assert!(!sleep.is_elapsed());
    });
}

#[test]
fn thread_pool_builder_refuses_bad_sizes() {
    invalid_input(
        ThreadPool::builder().max_threads(0).build(),
        "max_threads(0)",
    );
    invalid_input(
        ThreadPool::builder().min_threads(3).max_threads(2).build(),
        "min > max",
    );
    invalid_input(
        ThreadPool::builder().queue_capacity(0).build(),
        "queue_capacity(0)",
    );
    invalid_input(ThreadPool::builder().stack_size(0).build(), "stack_size(0)");
    invalid_input(
        ThreadPool::builder().name_prefix("a\0b").build(),
        "NUL in name",
    );
}

#[test]
fn thread_pool_with_absurd_durations_works() {
    let pool = ThreadPool::builder()
        .max_threads(2)
        .keep_alive(Duration::MAX)
        .build()
        .unwrap();
    assert_eq!(pool.submit(|| 3).wait().unwrap(), 3);
    let handle = pool.submit(|| 4);
    assert_eq!(handle.wait_timeout(Duration::MAX).ok().unwrap().unwrap(), 4);
    pool.shutdown_now_timeout(Duration::MAX).unwrap();
    // Zero keep-alive: threads retire as soon as they are idle; jobs still run.
    let pool = ThreadPool::builder()
        .keep_alive(Duration::ZERO)
        .build()
        .unwrap();
    assert_eq!(pool.submit(|| 5).wait().unwrap(), 5);
}

fn demo() -> spindle::process::Builder {
    ProcessPool::builder(&Jobs::new()).worker_program(DEMO)
}

fn invalid_config(result: Result<ProcessPool, ProcessError>, what: &str) {
    match result {
        Err(ProcessError::InvalidConfig(message)) => assert!(!message.is_empty(), "{what}"),
        other => panic!("{what}: expected InvalidConfig, got {other:?}"),
    }
}

#[test]
fn process_pool_builder_refuses_bad_sizes() {
    invalid_config(demo().workers(0).build(), "workers(0)");
    invalid_config(
        demo().max_tasks_per_child(0).build(),
        "max_tasks_per_child(0)",
    );
    invalid_config(
        demo().max_frame_len(u32::MAX as usize + 1).build(),
        "max_frame_len over 4 GiB",
    );
}

#[test]
fn process_pool_with_a_missing_program_fails_to_build() {
    let missing =
        std::env::temp_dir().join(format!("spindle-no-such-program-{}", std::process::id()));
    match demo().worker_program(&missing).workers(1).build() {
        Err(ProcessError::Spawn(err)) => {
            assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        }
        other => panic!("expected Spawn(NotFound), got {other:?}"),
    }
}

#[test]
fn process_pool_zero_timeouts_are_invalid_config() {
    // One rule for both limits: no worker can say hello, and no job can finish, in no time,
    // so `build` refuses a zero for either before starting anything (it used to accept a
    // zero `job_timeout`, failing every job as a timeout).
    for (builder, what) in [
        (
            demo().workers(1).start_timeout(Duration::ZERO),
            "start_timeout",
        ),
        (demo().workers(1).job_timeout(Duration::ZERO), "job_timeout"),
    ] {
        match builder.build() {
            Err(ProcessError::InvalidConfig(message)) => {
                assert!(message.contains(what), "{message}")
            }
            other => panic!("{what}(0): expected InvalidConfig, got {other:?}"),
        }
    }
    // The smallest non-zero limits are valid.
    for builder in [
        demo().workers(1).start_timeout(Duration::from_nanos(1)),
        demo().workers(1).job_timeout(Duration::from_nanos(1)),
    ] {
        match builder.build() {
            Err(ProcessError::InvalidConfig(message)) => {
                panic!("a 1 ns limit is valid, got InvalidConfig({message})")
            }
            Ok(pool) => pool.shutdown(),
            Err(_) => {} // a worker that cannot say hello in 1 ns fails to start: fine
        }
    }
}

#[test]
fn process_pool_with_absurd_durations_works() {
    // Duration::MAX limits used to overflow `Instant + Duration` in the supervisor thread
    // (a panic there, and every job lost); they mean "no limit" in practice.
    let pool = demo()
        .workers(1)
        .start_timeout(Duration::MAX)
        .job_timeout(Duration::MAX)
        .build()
        .expect("Duration::MAX limits build");
    assert_eq!(pool.submit::<u64, u64>("square", 9).wait().unwrap(), 81);
    let mut job = pool.submit::<u64, u64>("square", 4);
    assert_eq!(job.wait_timeout(Duration::MAX).unwrap().unwrap(), 16);
    pool.shutdown();

    // The shortest job timeout fails each job as a timeout and replaces the worker; the pool
    // itself keeps working. The job must not be able to finish first (a reply already
    // waiting when the supervisor first looks is taken as the result), hence a long one.
    let limit = Duration::from_nanos(1);
    let pool = demo().workers(1).job_timeout(limit).build().unwrap();
    for _ in 0..2 {
        match pool.submit::<u64, u64>("sleep_ms", 60_000).wait() {
            Err(ProcessError::Timeout(reported)) => assert_eq!(reported, limit),
            other => panic!("expected Timeout, got {other:?}"),
        }
    }
    pool.shutdown();
}
