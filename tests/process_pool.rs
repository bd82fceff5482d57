//! The process pool against a real worker program (`src/bin/spindle-worker-demo.rs`):
//! results, ordering, and every fault of issue 6 §3. Each test ends by checking that no
//! child is left unreaped and the fd count is back where it started, so the tests run one
//! at a time (those counts are per process).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use spindle::process::{Builder, ExitReason, Jobs, ProcessError, ProcessPool};

const DEMO: &str = env!("CARGO_BIN_EXE_spindle-worker-demo");

#[path = "common/panic_message.rs"]
mod panic_message;
use panic_message::panic_message;

#[path = "common/children.rs"]
mod children;

use children::clean;

fn demo() -> Builder {
    ProcessPool::builder(&Jobs::new()).worker_program(DEMO)
}

fn pool(workers: usize) -> ProcessPool {
    demo().workers(workers).build().expect("demo pool starts")
}

fn worker_pid(pool: &ProcessPool) -> u32 {
    pool.submit::<u8, u32>("pid", 0).wait().unwrap()
}

/// A temporary path for `gate` jobs, removed on drop.
struct Gate(PathBuf);

impl Gate {
    fn new(name: &str) -> Gate {
        let path = std::env::temp_dir().join(format!("spindle-gate-{}-{name}", std::process::id()));
        let gate = Gate(path);
        gate.cleanup();
        gate
    }

    fn path(&self) -> String {
        self.0.display().to_string()
    }

    /// Waits until the gate job has started (it creates `<path>.started`).
    fn wait_started(&self) {
        let started = PathBuf::from(format!("{}.started", self.path()));
        wait_until("the gate job to start", || started.exists());
    }

    fn open(&self) {
        std::fs::write(&self.0, b"").unwrap();
    }

    fn cleanup(&self) {
        let _ = std::fs::remove_file(&self.0);
        let _ = std::fs::remove_file(format!("{}.started", self.path()));
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// Polls `condition` until it holds; fails after a generous bound (a hang, not a timing
/// assumption: the condition is expected within milliseconds).
fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn submit_wait_and_await() {
    clean(|| {
        let pool = pool(2);
        assert_eq!(pool.workers(), 2);
        assert_eq!(pool.submit::<u64, u64>("square", 7).wait().unwrap(), 49);

        let mut job = pool.submit::<Vec<u8>, Vec<u8>>("echo", b"bytes".to_vec());
        let echoed = job.wait_timeout(Duration::from_secs(60)).expect("finished");
        assert_eq!(echoed.unwrap(), b"bytes");

        // Awaited from a spindle task: the supervisor thread's wake completes it.
        let total = spindle::block_on(async {
            let jobs: Vec<_> = (1..=4u64)
                .map(|x| pool.submit::<u64, u64>("square", x))
                .collect();
            let mut total = 0;
            for job in jobs {
                total += job.await.unwrap();
            }
            total
        });
        assert_eq!(total, 1 + 4 + 9 + 16);

        // A job still running: wait_timeout gives up, the job stays waitable.
        let gate = Gate::new("wait-timeout");
        let mut job = pool.submit::<String, u8>("gate", gate.path());
        gate.wait_started();
        assert!(!job.is_finished());
        assert!(job.wait_timeout(Duration::from_millis(1)).is_none());
        gate.open();
        assert_eq!(job.wait().unwrap(), 1);
        pool.shutdown();
    });
}

#[test]
fn map_is_ordered_lazy_and_unordered_covers_all() {
    clean(|| {
        let pool = pool(2);
        let expected: Vec<u64> = (0..1000u64).map(|x| x * x).collect();
        for chunksize in [None, Some(1), Some(7), Some(5000)] {
            let squares: Vec<u64> = pool
                .map("square", 0..1000u64, chunksize)
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(squares, expected, "chunksize {chunksize:?}");
        }
        assert_eq!(
            pool.map::<u64, u64, _>("square", Vec::new(), None).count(),
            0
        );

        // Lazy and bounded: the first result pulls at most window (2 per worker) chunks.
        let pulled = std::cell::Cell::new(0usize);
        let inputs = (0..10_000u64).inspect(|_| pulled.set(pulled.get() + 1));
        let mut results = pool.map::<u64, u64, _>("square", inputs, 10);
        assert_eq!(results.next().unwrap().unwrap(), 0);
        assert!(
            pulled.get() <= 4 * 10,
            "pulled {} inputs for one result",
            pulled.get()
        );
        assert_eq!(results.count(), 9_999);

        let mut seen: Vec<(usize, u64)> = pool
            .imap_unordered::<u64, u64, _>("square", 0..500u64, 9)
            .map(|(index, result)| (index, result.unwrap()))
            .collect();
        seen.sort_unstable();
        let expected: Vec<(usize, u64)> = (0..500u64).map(|x| (x as usize, x * x)).collect();
        assert_eq!(seen, expected);
        pool.shutdown();
    });
}

#[test]
fn worker_crashes_fail_only_their_job() {
    clean(|| {
        let pool = pool(2);
        let before: Vec<_> = (0..20u64)
            .map(|x| pool.submit::<u64, u64>("square", x))
            .collect();
        let aborted = pool.submit::<u8, u8>("abort", 0);
        let exited = pool.submit::<i32, u8>("exit", 3);
        let killed = pool.submit::<u8, u8>("sigkill_self", 0);
        let after: Vec<_> = (0..20u64)
            .map(|x| pool.submit::<u64, u64>("square", x))
            .collect();

        let reason = |result: Result<u8, ProcessError>| match result {
            Err(ProcessError::WorkerDied { pid, reason }) => {
                assert!(pid > 0);
                reason
            }
            other => panic!("expected WorkerDied, got {other:?}"),
        };
        assert_eq!(reason(aborted.wait()), ExitReason::Signal(libc::SIGABRT));
        assert_eq!(reason(exited.wait()), ExitReason::Code(3));
        assert_eq!(reason(killed.wait()), ExitReason::Signal(libc::SIGKILL));
        for (x, job) in (0..20u64).cycle().zip(before.into_iter().chain(after)) {
            assert_eq!(job.wait().unwrap(), x * x);
        }
        // Replaced: the pool is back to full strength and serves a map across both workers.
        let sum: u64 = pool
            .map::<u64, u64, _>("square", 0..100u64, 3)
            .map(Result::unwrap)
            .sum();
        assert_eq!(sum, (0..100u64).map(|x| x * x).sum());

        let message = ProcessError::WorkerDied {
            pid: 1,
            reason: ExitReason::Signal(libc::SIGABRT),
        }
        .to_string();
        assert!(message.contains("SIGABRT"), "{message}");
        pool.shutdown();
    });
}

#[test]
fn panics_fail_the_job_and_the_worker_survives() {
    clean(|| {
        let pool = pool(1);
        let pid = worker_pid(&pool);
        match pool.submit::<String, u8>("panic", "it broke".into()).wait() {
            Err(ProcessError::Panicked(message)) => {
                assert!(message.contains("it broke"), "{message}");
                assert!(
                    message.contains("spindle-worker-demo.rs"),
                    "no location: {message}"
                );
            }
            other => panic!("expected Panicked, got {other:?}"),
        }
        assert_eq!(worker_pid(&pool), pid, "the worker was replaced");

        // In a map, a panicking item fails alone.
        let results: Vec<Result<u8, ProcessError>> = pool
            .map("panic", ["a".to_string(), "b".to_string()], None)
            .collect();
        assert!(results
            .iter()
            .all(|r| matches!(r, Err(ProcessError::Panicked(_)))));
        assert_eq!(worker_pid(&pool), pid);
        pool.shutdown();
    });
}

#[test]
fn protocol_violations_replace_the_worker() {
    clean(|| {
        let pool = pool(1);
        let first = worker_pid(&pool);
        match pool.submit::<u8, u8>("oversized_frame", 0).wait() {
            Err(ProcessError::Protocol(message)) => {
                assert!(message.contains("4294967295 bytes exceeds"), "{message}")
            }
            other => panic!("expected Protocol, got {other:?}"),
        }
        let second = worker_pid(&pool);
        assert_ne!(second, first, "a lying worker must be replaced");

        match pool.submit::<u8, u8>("malformed_frame", 0).wait() {
            Err(ProcessError::Protocol(message)) => {
                assert!(message.contains("kind 77"), "{message}")
            }
            other => panic!("expected Protocol, got {other:?}"),
        }
        assert_ne!(worker_pid(&pool), second);
        assert_eq!(pool.submit::<u64, u64>("square", 5).wait().unwrap(), 25);
        pool.shutdown();

        // A request over the maximum frame length is refused before it is sent.
        let pool = demo().workers(1).max_frame_len(1024).build().unwrap();
        match pool
            .submit::<Vec<u8>, Vec<u8>>("echo", vec![0; 2048])
            .wait()
        {
            Err(ProcessError::Protocol(message)) => {
                assert!(message.contains("exceeds"), "{message}")
            }
            other => panic!("expected Protocol, got {other:?}"),
        }
        assert_eq!(
            pool.submit::<Vec<u8>, Vec<u8>>("echo", vec![1; 100])
                .wait()
                .unwrap(),
            vec![1; 100]
        );
        pool.shutdown();
    });
}

#[test]
fn unknown_jobs_and_bad_inputs_fail_alone() {
    clean(|| {
        let pool = pool(1);
        let pid = worker_pid(&pool);
        match pool.submit::<u8, u8>("no_such_job", 0).wait() {
            Err(ProcessError::UnknownJob(name)) => assert_eq!(name, "no_such_job"),
            other => panic!("expected UnknownJob, got {other:?}"),
        }
        match pool.submit::<String, u64>("square", "seven".into()).wait() {
            Err(ProcessError::Decode(message)) => {
                assert!(message.contains("input is not a u64"), "{message}")
            }
            other => panic!("expected Decode, got {other:?}"),
        }
        match pool.submit::<u64, String>("square", 3).wait() {
            Err(ProcessError::Decode(message)) => {
                assert!(
                    message.contains("output is not a alloc::string::String"),
                    "{message}"
                )
            }
            other => panic!("expected Decode, got {other:?}"),
        }
        assert_eq!(
            worker_pid(&pool),
            pid,
            "bad requests must not cost the worker"
        );
        pool.shutdown();

        // With the jobs registered on the pool side too, mismatched types never leave.
        let jobs = Jobs::new().register("square", |x: u64| x * x);
        let pool = ProcessPool::builder(&jobs)
            .worker_program(DEMO)
            .workers(1)
            .build()
            .unwrap();
        match pool.submit::<u32, u64>("square", 3).wait() {
            Err(ProcessError::TypeMismatch(message)) => {
                assert!(message.contains("registered as u64 -> u64"), "{message}")
            }
            other => panic!("expected TypeMismatch, got {other:?}"),
        }
        assert_eq!(pool.submit::<u64, u64>("square", 3).wait().unwrap(), 9);
        pool.shutdown();
    });
}

#[test]
fn timeouts_kill_and_replace_the_worker() {
    clean(|| {
        let pool = demo()
            .workers(1)
            // Long enough that the quick `pid` jobs below never reach it on a loaded machine.
            .job_timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let pid = worker_pid(&pool);
        // A minute against a 2 s limit (a broken timeout fails the test after it, not hangs).
        match pool.submit::<u64, u64>("sleep_ms", 60_000).wait() {
            Err(ProcessError::Timeout(limit)) => assert_eq!(limit, Duration::from_secs(2)),
            other => panic!("expected Timeout, got {other:?}"),
        }
        assert_ne!(
            worker_pid(&pool),
            pid,
            "a timed-out worker must be replaced"
        );
        pool.shutdown();
    });
}

#[test]
fn max_tasks_per_child_recycles_workers() {
    clean(|| {
        let pool = demo().workers(1).max_tasks_per_child(2).build().unwrap();
        let pids: Vec<u32> = (0..6).map(|_| worker_pid(&pool)).collect();
        assert_eq!(pids[0], pids[1]);
        assert_eq!(pids[2], pids[3]);
        assert_eq!(pids[4], pids[5]);
        assert_ne!(pids[0], pids[2]);
        assert_ne!(pids[2], pids[4]);
        pool.shutdown();
    });
}

#[test]
fn build_fails_clearly() {
    clean(|| {
        match demo().workers(0).build() {
            Err(ProcessError::InvalidConfig(message)) => assert!(message.contains("at least one")),
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
        match demo()
            .worker_program("/nonexistent/worker")
            .workers(2)
            .build()
        {
            Err(ProcessError::Spawn(err)) => {
                assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
                assert!(err.to_string().contains("/nonexistent/worker"), "{err}");
            }
            other => panic!("expected Spawn, got {other:?}"),
        }
        // A program that runs but never becomes a worker.
        let not_a_worker = ["/bin/true", "/usr/bin/true"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("a `true` program");
        match demo().worker_program(not_a_worker).workers(2).build() {
            Err(ProcessError::Spawn(err)) => {
                let message = err.to_string();
                assert!(
                    message.contains("exited with status 0 before it was ready"),
                    "{message}"
                );
                assert!(message.contains("run_worker_if_child"), "{message}");
            }
            other => panic!("expected Spawn, got {other:?}"),
        }
    });
}

#[test]
fn shutdown_finishes_queued_jobs() {
    clean(|| {
        let pool = pool(2);
        let jobs: Vec<_> = (0..50u64)
            .map(|x| pool.submit::<u64, u64>("square", x))
            .collect();
        pool.shutdown();
        for (x, job) in (0..50u64).zip(jobs) {
            assert_eq!(job.wait().unwrap(), x * x);
        }
        assert!(matches!(
            pool.submit::<u64, u64>("square", 1).wait(),
            Err(ProcessError::ShutDown)
        ));
    });
}

#[test]
fn shutdown_now_cancels_queued_jobs_and_finishes_running_ones() {
    clean(|| {
        let pool = pool(1);
        let gate = Gate::new("shutdown-now");
        let running = pool.submit::<String, u8>("gate", gate.path());
        gate.wait_started();
        let queued: Vec<_> = (0..5u64)
            .map(|x| pool.submit::<u64, u64>("square", x))
            .collect();
        std::thread::scope(|scope| {
            let stopper = scope.spawn(|| pool.shutdown_now());
            // Queued jobs are cancelled while the running one still blocks shutdown_now.
            for job in queued {
                assert!(matches!(job.wait(), Err(ProcessError::ShutDown)));
            }
            gate.open();
            stopper.join().unwrap();
        });
        assert_eq!(running.wait().unwrap(), 1);
    });
}

#[test]
fn kill_and_drop_fail_unfinished_jobs() {
    clean(|| {
        let pool = pool(1);
        let gate = Gate::new("kill"); // never opened
        let running = pool.submit::<String, u8>("gate", gate.path());
        gate.wait_started();
        let queued = pool.submit::<u64, u64>("square", 2);
        pool.kill();
        assert!(matches!(running.wait(), Err(ProcessError::ShutDown)));
        assert!(matches!(queued.wait(), Err(ProcessError::ShutDown)));

        let pool = pool_of_one_busy(&gate);
        let queued = pool.submit::<u64, u64>("square", 2);
        drop(pool);
        assert!(matches!(queued.wait(), Err(ProcessError::ShutDown)));
    });
}

fn pool_of_one_busy(gate: &Gate) -> ProcessPool {
    gate.cleanup();
    let pool = pool(1);
    let running = pool.submit::<String, u8>("gate", gate.path());
    gate.wait_started();
    drop(running); // dropping the handle does not cancel the job
    pool
}

#[test]
fn workers_die_with_their_parent() {
    clean(|| {
        let mut parent = Command::new(DEMO)
            .arg("--pool-parent")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(parent.stdout.take().unwrap());
        let mut workers = Vec::new();
        for line in stdout.lines() {
            let line = line.unwrap();
            if line == "ready" {
                break;
            }
            workers.push(line.parse::<u32>().unwrap());
        }
        assert_eq!(workers.len(), 2, "the parent reports its two workers");
        parent.kill().unwrap();
        parent.wait().unwrap();
        // Orphaned workers die (SIGKILL from PR_SET_PDEATHSIG); their new parent reaps them.
        for pid in workers {
            wait_until(
                "an orphaned worker to die",
                || match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
                    Err(_) => true,
                    Ok(stat) => stat
                        .rsplit_once(')')
                        .and_then(|(_, rest)| rest.split_whitespace().next())
                        .is_some_and(|state| state == "Z" || state == "X"),
                },
            );
        }
    });
}

/// Processes the test must kill at its end (grandchildren of the test: not ours to reap).
struct KillOnDrop(Vec<u32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for &pid in &self.0 {
            // SAFETY: kill(2) with integers touches no memory.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        }
    }
}

/// How long a bounded wait below may take before the test calls it a hang. The outcomes
/// come within milliseconds; before the fix they came only when the grandchild exited
/// (an hour) or never.
const HANG: Duration = Duration::from_secs(20);

/// The scenario of a job that forks, for pools with each exit watch (pidfd here, SIGCHLD in
/// `tests/process_sigchld.rs` has its twin).
fn a_forking_job_scenario(builder: Builder) {
    let pool = builder.workers(1).build().expect("demo pool starts");
    let mut grandchildren = KillOnDrop(Vec::new());
    grandchildren.0.push(
        pool.submit::<u8, u32>("fork_holding_socket", 0)
            .wait()
            .unwrap(),
    );
    // The worker dies while its grandchild holds the socket open: no end-of-file comes,
    // the process's exit is what tells.
    let mut died = pool.submit::<u8, u8>("abort", 0);
    match died.wait_timeout(HANG) {
        Some(Err(ProcessError::WorkerDied { reason, .. })) => {
            assert_eq!(reason, ExitReason::Signal(libc::SIGABRT))
        }
        None => panic!("the job of a dead worker whose grandchild holds its socket never resolved"),
        Some(other) => panic!("expected WorkerDied, got {other:?}"),
    }
    // The replacement serves, and its own forking job leaves a grandchild too.
    assert_eq!(pool.submit::<u64, u64>("square", 3).wait().unwrap(), 9);
    grandchildren.0.push(
        pool.submit::<u8, u32>("fork_holding_socket", 0)
            .wait()
            .unwrap(),
    );
    // Retiring it: it exits on end-of-file; its grandchild keeps the socket open.
    let (done_tx, done) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        pool.shutdown();
        drop(pool); // its fds go before the test counts them
        let _ = done_tx.send(());
    });
    done.recv_timeout(HANG)
        .expect("shutdown waited on a grandchild of a worker that had exited");
    // Each grandchild is still alive: the pool ignored it rather than waited it out.
    for &pid in &grandchildren.0 {
        // SAFETY: signal 0 only checks that the process exists.
        assert_eq!(unsafe { libc::kill(pid as libc::pid_t, 0) }, 0);
    }
}

#[test]
fn a_job_that_forks_does_not_hold_up_its_dead_worker_or_the_shutdown() {
    clean(|| a_forking_job_scenario(demo()));
}

#[test]
fn a_worker_that_hangs_on_its_way_out_is_killed_at_the_retire_deadline() {
    clean(|| {
        let pool = pool(1);
        // The worker closes its socket before it hangs in `exit`, but its grandchild keeps
        // the socket open: neither end-of-file nor an exit comes, only the deadline helps.
        let _grandchild = KillOnDrop(vec![pool
            .submit::<u8, u32>("fork_holding_socket", 0)
            .wait()
            .unwrap()]);
        assert_eq!(pool.submit::<u8, u8>("hang_at_exit", 0).wait().unwrap(), 0);
        let (done_tx, done) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            pool.shutdown();
            drop(pool); // its fds go before the test counts them
            let _ = done_tx.send(());
        });
        done.recv_timeout(HANG)
            .expect("shutdown waited for ever on a worker that does not exit");
    });
}

/// Misuse: a job awaited to completion has given its result away; waiting on it again says
/// so (it does not block for ever) and names the caller's line.
#[test]
fn waiting_on_a_job_already_awaited_to_completion_panics_clearly() {
    clean(|| {
        let pool = pool(1);
        let mut job = pool.submit::<u64, u64>("square", 3);
        assert_eq!(spindle::block_on(&mut job).unwrap(), 9);
        assert!(job.is_finished());
        let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.wait()));
        let payload = panic.expect_err("wait on an awaited job must panic");
        let message = panic_message(&*payload);
        assert!(
            message.contains("ProcessJob") && message.contains("already returned its result"),
            "unclear panic: {message:?}"
        );
        pool.shutdown();
    });
}
