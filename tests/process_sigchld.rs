//! `Command`'s SIGCHLD self-pipe, the path used where pidfds are missing (other Unixes, old
//! Linux), forced here with the hidden `Command::__without_pidfd`. A test binary of its own:
//! the SIGCHLD handler it installs is process-wide. Each test checks that no child is left
//! unreaped and that the fd count is back where it started (so the tests run one at a time).

use std::time::{Duration, Instant};

use spindle::process::Command;
use spindle::runtime::Builder;

#[path = "common/children.rs"]
mod children;

use children::clean;

/// A missed SIGCHLD would make a wait hang: fail the test instead.
const DEADLINE: Duration = Duration::from_secs(10);

/// Waits for `child`, failing if its exit was not noticed through the pipe: not at all, or
/// only when the deadline's timer happened to poll the wait again.
async fn wait_bounded(child: &mut spindle::process::Child) -> std::process::ExitStatus {
    let start = Instant::now();
    let status = spindle::time::timeout(DEADLINE, child.wait())
        .await
        .expect("the child's exit was never noticed")
        .unwrap();
    assert!(
        start.elapsed() < DEADLINE,
        "the exit was noticed only when the deadline's timer polled the wait"
    );
    status
}

fn without_pidfd(program: &str, args: &[&str]) -> Command {
    let mut command = Command::new(program);
    command.args(args).__without_pidfd();
    command
}

#[test]
fn exit_codes_and_signals_arrive_through_the_pipe() {
    clean(|| {
        spindle::block_on(async {
            let mut child = without_pidfd("sh", &["-c", "exit 3"]).spawn().unwrap();
            assert_eq!(child.__exit_watch(), "sigchld");
            assert_eq!(wait_bounded(&mut child).await.code(), Some(3));

            let mut child = without_pidfd("sleep", &["600"]).spawn().unwrap();
            assert_eq!(child.__exit_watch(), "sigchld");
            let status = child.kill().await.unwrap();
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(status.signal(), Some(libc::SIGKILL));
        });
    });
}

#[test]
fn many_children_waited_at_once_each_get_their_own_status() {
    // Every SIGCHLD wakes every waiter; each must re-check and keep waiting for its own.
    clean(|| {
        let rt = Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let codes = rt.block_on(async {
            let waiters: Vec<_> = (0..20)
                .map(|code| {
                    spindle::spawn(async move {
                        let script = format!("exit {code}");
                        let mut child = without_pidfd("sh", &["-c", &script]).spawn().unwrap();
                        assert_eq!(child.__exit_watch(), "sigchld");
                        wait_bounded(&mut child).await.code()
                    })
                })
                .collect();
            let mut codes = Vec::new();
            for waiter in waiters {
                codes.push(waiter.await.unwrap());
            }
            codes
        });
        let expected: Vec<_> = (0..20).map(Some).collect();
        assert_eq!(codes, expected);
    });
}

/// The child's state letter in `/proc/<pid>/stat` (`Z` once it has ended, unreaped).
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The state follows the command name, which is in parentheses.
    stat.rsplit_once(") ")?.1.chars().next()
}

#[test]
fn a_child_that_ended_before_the_first_wait_is_still_seen() {
    // Its SIGCHLD came before anyone waited: the byte it left in the pipe (or `wait`'s first
    // look at the child) must still end the wait.
    clean(|| {
        spindle::block_on(async {
            let mut child = without_pidfd("true", &[]).spawn().unwrap();
            let deadline = Instant::now() + DEADLINE;
            while proc_state(child.id().expect("not reaped yet")) != Some('Z') {
                assert!(Instant::now() < deadline, "`true` never ended");
                std::thread::yield_now();
            }
            assert!(wait_bounded(&mut child).await.success());
        });
    });
}

#[test]
fn past_the_pipe_slots_children_are_waited_for_by_a_thread() {
    clean(|| {
        spindle::block_on(async {
            let mut children: Vec<_> = (0..70)
                .map(|_| without_pidfd("sleep", &["600"]).spawn().unwrap())
                .collect();
            let kinds: Vec<_> = children.iter().map(|child| child.__exit_watch()).collect();
            let by_pipe = kinds.iter().filter(|&&kind| kind == "sigchld").count();
            let by_thread = kinds.iter().filter(|&&kind| kind == "thread").count();
            assert_eq!((by_pipe, by_thread), (64, 6), "{kinds:?}");
            for child in &mut children {
                child.kill().await.unwrap();
            }
        });
    });
}

/// The process pool's twin of `tests/process_pool.rs`'s forking-job test, with its workers
/// watched through the SIGCHLD pipe instead of pidfds: a worker whose grandchild holds its
/// socket dies, and the pool learns it from the exit.
#[test]
fn a_process_pool_notices_a_dead_worker_through_the_pipe() {
    use spindle::process::{ExitReason, Jobs, ProcessError, ProcessPool};
    const DEMO: &str = env!("CARGO_BIN_EXE_spindle-worker-demo");
    clean(|| {
        let pool = ProcessPool::builder(&Jobs::new())
            .worker_program(DEMO)
            .__without_pidfd()
            .workers(1)
            .build()
            .unwrap();
        let grandchild = pool
            .submit::<u8, u32>("fork_holding_socket", 0)
            .wait()
            .unwrap() as libc::pid_t;
        let kill_grandchild = || {
            // SAFETY: kill(2) with integers touches no memory.
            unsafe { libc::kill(grandchild, libc::SIGKILL) };
        };
        let mut died = pool.submit::<u8, u8>("abort", 0);
        let result = died.wait_timeout(DEADLINE);
        if result.is_none() {
            kill_grandchild();
            panic!("the SIGCHLD pipe did not report the worker's death");
        }
        match result.unwrap() {
            Err(ProcessError::WorkerDied { reason, .. }) => {
                assert_eq!(reason, ExitReason::Signal(libc::SIGABRT))
            }
            other => panic!("expected WorkerDied, got {other:?}"),
        }
        assert_eq!(pool.submit::<u64, u64>("square", 5).wait().unwrap(), 25);
        pool.shutdown();
        drop(pool);
        kill_grandchild();
    });
}

/// `kill_on_drop` on the SIGCHLD path: the dropped child is killed, and its orphan task,
/// waiting on the child's own pipe slot, reaps it while the runtime runs (no zombie, the
/// slot's pipe closed: the fd count is back).
#[test]
fn a_kill_on_drop_child_is_reaped_through_the_pipe() {
    clean(|| {
        let rt = Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let child = without_pidfd("sleep", &["1000"])
                .kill_on_drop(true)
                .spawn()
                .unwrap();
            assert_eq!(child.__exit_watch(), "sigchld");
            let pid = child.id().expect("not reaped yet") as libc::pid_t;
            drop(child);
            let start = Instant::now();
            // `kill(pid, 0)` fails with ESRCH only once the child is reaped (a zombie
            // still exists); the pid is not reused while this test holds no other child.
            // SAFETY: signal 0 only checks that the process exists.
            while unsafe { libc::kill(pid, 0) } == 0 {
                assert!(
                    start.elapsed() < DEADLINE,
                    "the dropped child was never reaped"
                );
                spindle::time::sleep(Duration::from_millis(1)).await;
            }
        });
    });
}
