//! Child processes (issue 14, section 2): a child's pipes read and written on spindle and on
//! tokio, writes to a child that has gone, and `kill_on_drop`.
//!
//! Each scenario is written once, in [`on_both!`], and runs (under [`within`]) on a
//! current-thread runtime of each; the test asserts that both observed the same thing and
//! what that thing is. Where spindle deliberately differs (the `SIGPIPE` disposition,
//! `shutdown` on a child's stdin, a child outliving its runtime) the test says so and
//! asserts each side.
//!
//! Children are checked one pid at a time (`waitid(WNOWAIT)`, which looks without reaping):
//! other modules of this binary run children of their own at the same time, so nothing here
//! may `waitpid(-1)`.

use crate::{children, within, HANG};
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

/// What `waitid(WNOWAIT)` says about our child `pid`, without reaping it.
#[derive(Debug, PartialEq, Eq)]
enum ChildState {
    Running,
    /// Ended but not reaped: a zombie.
    Zombie,
    /// Reaped (or never ours).
    Gone,
}

fn child_state(pid: u32) -> ChildState {
    // SAFETY: siginfo_t is plain old data, for which all zeroes is a valid value.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is a live, writable siginfo_t, the only memory waitid writes.
    let ret = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    if ret == -1 {
        let err = std::io::Error::last_os_error();
        assert_eq!(err.raw_os_error(), Some(libc::ECHILD), "{err}");
        return ChildState::Gone;
    }
    // SAFETY: waitid succeeded, so `info` holds a (possibly all-zero) child record.
    if unsafe { info.si_pid() } == 0 {
        ChildState::Running
    } else {
        ChildState::Zombie
    }
}

on_both! {
    async fn stdout_line_by_line() -> (Vec<String>, Option<i32>) {
        use rt::io::{AsyncBufReadExt, BufReader};
        use rt::process::{Command, Stdio};
        let mut child = Command::new("sh")
            .args(["-c", r#"printf "a\nb\nc\n""#])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut collected = Vec::new();
        while let Some(line) = lines.next_line().await.unwrap() {
            collected.push(line);
        }
        (collected, child.wait().await.unwrap().code())
    }
}

on_both! {
    async fn id_until_reaped() -> (bool, bool, Option<i32>, Option<u32>) {
        use rt::process::Command;
        let mut child = Command::new("sh").args(["-c", "exit 3"]).spawn().unwrap();
        let pid = child.id();
        let is_ours = pid.is_some_and(|pid| child_state(pid) != ChildState::Gone);
        let code = child.wait().await.unwrap().code();
        (pid.is_some(), is_ours, code, child.id())
    }
}

/// `Child::id` is the pid until the child is reaped, then `None` (the pid may be reused).
#[test]
fn a_childs_id_is_none_once_it_is_reaped() {
    let on_spindle = within("spindle", id_until_reaped::spindle);
    assert_eq!(on_spindle, within("tokio", id_until_reaped::tokio));
    assert_eq!(on_spindle, (true, true, Some(3), None));
}

on_both! {
    /// `start_kill` and `kill` on a child that has exited: while it is a zombie (exited,
    /// not yet waited for), then after `wait` reaped it (its pid may name another process
    /// by then, so nothing may be sent).
    async fn kill_after_the_exit() -> (bool, Option<i32>, bool, bool) {
        use rt::process::Command;
        let mut child = Command::new("sh").args(["-c", "exit 3"]).spawn().unwrap();
        children::until_exited_unreaped(rt::pid(&child));
        let on_the_zombie = child.start_kill().is_ok();
        let code = child.wait().await.unwrap().code();
        let after_the_wait = child.start_kill().is_ok();
        let kill_after_the_wait = child.kill().await.is_ok();
        (on_the_zombie, code, after_the_wait, kill_after_the_wait)
    }
}

/// A kill of a child that has exited is `Ok` and changes nothing: on the zombie the signal
/// is harmless (the status stays the child's own exit code), and once reaped `start_kill`
/// and `kill` return `Ok` without signalling (tokio's `start_kill` returns `Ok(())` for a
/// reaped child; spindle's `kill` returns the status where tokio's returns `()`).
#[test]
fn a_kill_after_the_exit_is_ok_and_changes_nothing() {
    let on_spindle = within("spindle", kill_after_the_exit::spindle);
    assert_eq!(on_spindle, within("tokio", kill_after_the_exit::tokio));
    assert_eq!(on_spindle, (true, Some(3), true, true));
}

/// A child's stdout read line by line (`BufReader::lines`).
#[test]
fn a_childs_stdout_read_line_by_line() {
    let on_spindle = within("spindle", stdout_line_by_line::spindle);
    assert_eq!(on_spindle, within("tokio", stdout_line_by_line::tokio));
    assert_eq!(
        on_spindle,
        (vec!["a".into(), "b".into(), "c".into()], Some(0))
    );
}

on_both! {
    async fn stdout_to_the_end() -> (Vec<String>, Option<i32>) {
        use rt::io::AsyncReadExt;
        use rt::process::{Command, Stdio};
        let mut child = Command::new("sh")
            .args(["-c", r#"printf "a\nb\nc\n""#])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = Vec::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_end(&mut out)
            .await
            .unwrap();
        (lines(&out), child.wait().await.unwrap().code())
    }
}

/// A child's stdout read to the end and split into lines.
#[test]
fn a_childs_stdout_read_to_the_end() {
    let on_spindle = within("spindle", stdout_to_the_end::spindle);
    assert_eq!(on_spindle, within("tokio", stdout_to_the_end::tokio));
    assert_eq!(
        on_spindle,
        (vec!["a".into(), "b".into(), "c".into()], Some(0))
    );
}

fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8(bytes.to_vec())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// `sh -c $script` with stdin, stdout and stderr piped, spawned with the `rt` in scope (an
/// `on_both!` body's).
macro_rules! sh_all_piped {
    ($script:expr) => {
        rt::process::Command::new("sh")
            .args(["-c", $script])
            .stdin(rt::process::Stdio::piped())
            .stdout(rt::process::Stdio::piped())
            .stderr(rt::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
}

/// What [`cat_with_stderr_apart`] writes to the child.
const CAT_INPUT: &[u8] = b"hello\nworld\n";

on_both! {
    /// Returns the child's stdout, stderr and exit code.
    async fn cat_with_stderr_apart() -> (Vec<u8>, Vec<u8>, Option<i32>) {
        use rt::io::{AsyncReadExt, AsyncWriteExt};
        let mut child = sh_all_piped!("cat; echo done >&2; exit 4");
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(CAT_INPUT).await.unwrap();
        drop(stdin);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        child
            .stdout
            .take()
            .unwrap()
            .read_to_end(&mut out)
            .await
            .unwrap();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_end(&mut err)
            .await
            .unwrap();
        (out, err, child.wait().await.unwrap().code())
    }
}

/// Written to `cat` through stdin, closed by dropping it, echoed on stdout; the script's
/// stderr arrives separately.
#[test]
fn stdin_echoed_by_cat_with_stderr_apart() {
    let on_spindle = within("spindle", cat_with_stderr_apart::spindle);
    assert_eq!(on_spindle, within("tokio", cat_with_stderr_apart::tokio));
    assert_eq!(
        on_spindle,
        (CAT_INPUT.to_vec(), b"done\n".to_vec(), Some(4))
    );
}

on_both! {
    /// Returns what `wait_with_output` collected: stdout, stderr, exit code.
    async fn output_after_writing_stdin() -> (Vec<u8>, Vec<u8>, Option<i32>) {
        use rt::io::AsyncWriteExt;
        let mut child = sh_all_piped!("tr a-z A-Z; echo e >&2");
        child
            .stdin
            .as_mut()
            .unwrap()
            .write_all(b"abc")
            .await
            .unwrap();
        let output = child.wait_with_output().await.unwrap();
        (output.stdout, output.stderr, output.status.code())
    }
}

/// `wait_with_output` on a child whose stdin we wrote: both runtimes collect the same.
#[test]
fn wait_with_output_after_writing_stdin() {
    let on_spindle = within("spindle", output_after_writing_stdin::spindle);
    assert_eq!(
        on_spindle,
        within("tokio", output_after_writing_stdin::tokio)
    );
    assert_eq!(on_spindle, (b"ABC".to_vec(), b"e\n".to_vec(), Some(0)));
}

on_both! {
    /// The scenario of the `BrokenPipe` tests: `true` exits at once, closing its stdin; then
    /// we write to it. Returns the write's error kind.
    async fn write_to_a_gone_child() -> std::io::ErrorKind {
        use rt::io::AsyncWriteExt;
        use rt::process::{Command, Stdio};
        let mut child = Command::new("true").stdin(Stdio::piped()).spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        assert!(child.wait().await.unwrap().success());
        // Until every copy of the read end is closed the write succeeds: another test's
        // child forked at the wrong instant holds one until its exec. So write until the
        // error (the pipe never fills for good: that copy goes at the sibling's exec).
        loop {
            if let Err(err) = stdin.write_all(b"anyone there?").await {
                break err.kind();
            }
        }
    }
}

/// In a Rust test binary `SIGPIPE` is ignored (std's runtime does that before `main`), so
/// both runtimes see `EPIPE` as `BrokenPipe`.
#[test]
fn a_write_to_a_childs_closed_stdin_is_broken_pipe() {
    assert_eq!(
        sigpipe_disposition(),
        libc::SIG_IGN,
        "std ignores SIGPIPE in Rust binaries"
    );
    let on_spindle = within("spindle", write_to_a_gone_child::spindle);
    assert_eq!(on_spindle, within("tokio", write_to_a_gone_child::tokio));
    assert_eq!(on_spindle, std::io::ErrorKind::BrokenPipe);
}

fn sigpipe_disposition() -> libc::sighandler_t {
    // SAFETY: sigaction is plain old data, for which all zeroes is a valid value.
    let mut current: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: a null new action only reads the disposition into `current`, a live sigaction.
    let ret = unsafe { libc::sigaction(libc::SIGPIPE, std::ptr::null(), &mut current) };
    assert_eq!(ret, 0);
    current.sa_sigaction
}

/// With `SIGPIPE` at its default disposition (a C host, `-Zon-broken-pipe=kill`, or a
/// program that reset it), the same write. Spindle deliberately differs from tokio here:
/// tokio relies on std having ignored `SIGPIPE`, and the write kills the process; spindle's
/// pipe write blocks `SIGPIPE` on the writing thread and returns `BrokenPipe`. Each side
/// runs in a child process (this binary re-run on `sigpipe_default_child`), since the
/// disposition is process-wide and the tokio side dies of it.
#[test]
fn a_write_to_a_closed_stdin_is_broken_pipe_even_with_sigpipe_at_its_default() {
    let run = |role: &str| {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--ignored", "--exact", "process::sigpipe_default_child"])
            .args(["--test-threads=1", "--nocapture"])
            .env("SPINDLE_SIGPIPE_CHILD", role)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        within(role, move || child.wait().unwrap())
    };
    let on_spindle = run("spindle");
    assert!(on_spindle.success(), "spindle's child: {on_spindle:?}");
    let on_tokio = run("tokio");
    assert_eq!(
        on_tokio.signal(),
        Some(libc::SIGPIPE),
        "tokio's child: {on_tokio:?}"
    );
}

/// Child side of the test above: sets `SIGPIPE` to its default, then writes to a child's
/// closed stdin, and fails unless that gave `BrokenPipe` (dying of `SIGPIPE` fails too).
#[test]
#[ignore = "run by its parent test in a child process (it resets SIGPIPE)"]
fn sigpipe_default_child() {
    let role = std::env::var("SPINDLE_SIGPIPE_CHILD").expect("run by its parent test only");
    // SAFETY: SIG_DFL is a valid disposition for SIGPIPE; nothing else in this process
    // depends on SIGPIPE being ignored (it runs this one test).
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    assert_eq!(sigpipe_disposition(), libc::SIG_DFL);
    let kind = match role.as_str() {
        "spindle" => write_to_a_gone_child::spindle(),
        _ => write_to_a_gone_child::tokio(),
    };
    assert_eq!(kind, std::io::ErrorKind::BrokenPipe);
    // Still alive, so no SIGPIPE was left pending and unblocked; the disposition and this
    // thread's mask (the current-thread runtime wrote from it) are as they were.
    assert_eq!(
        sigpipe_disposition(),
        libc::SIG_DFL,
        "the disposition is left alone"
    );
    if role == "spindle" {
        // SAFETY: a null new set only reads this thread's mask into `mask`, a live sigset_t.
        let mut mask: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut mask) };
        // SAFETY: `mask` is an initialised sigset_t.
        assert_eq!(unsafe { libc::sigismember(&mask, libc::SIGPIPE) }, 0);
    }
}

on_both! {
    /// Returns whether a child's `/proc/self/status` says it ignores `SIGPIPE`.
    async fn sigpipe_ignored_in_a_child() -> bool {
        let output = rt::process::Command::new("cat")
            .arg("/proc/self/status")
            .output()
            .await
            .unwrap();
        sigpipe_ignored_in(&output.stdout)
    }
}

/// A child starts with `SIGPIPE` at its default on both (std and spindle reset it between
/// fork and exec, whatever the parent's), so a child writing into a closed pipe dies as a
/// shell pipeline expects. Read from the child's own `/proc/self/status` (`SigIgn`, the mask
/// of ignored signals).
#[test]
fn a_child_starts_with_sigpipe_at_its_default() {
    let on_spindle = within("spindle", sigpipe_ignored_in_a_child::spindle);
    assert_eq!(
        on_spindle,
        within("tokio", sigpipe_ignored_in_a_child::tokio)
    );
    assert!(!on_spindle);
    // This process does ignore it (so the reset is what the children see).
    let ours = std::fs::read("/proc/self/status").unwrap();
    assert!(sigpipe_ignored_in(&ours));
}

/// Whether a `/proc/<pid>/status` text says `SIGPIPE` is ignored.
fn sigpipe_ignored_in(status: &[u8]) -> bool {
    let status = String::from_utf8(status.to_vec()).unwrap();
    let mask = status
        .lines()
        .find_map(|line| line.strip_prefix("SigIgn:"))
        .expect("a SigIgn line");
    let mask = u64::from_str_radix(mask.trim(), 16).unwrap();
    mask & (1 << (libc::SIGPIPE - 1)) != 0
}

on_both! {
    /// A `kill_on_drop(true)` child of `sleep 1000` dropped, then a default one dropped and
    /// killed by hand. Returns whether the first was reaped, whether the second was still
    /// running after its drop, and whether it was reaped once killed.
    async fn drop_a_killed_and_a_kept_child() -> (bool, bool, bool) {
        /// Waits (on the runtime's own timer, so its reactor keeps running) until `pid` is
        /// reaped, failing after [`HANG`]; returns whether it ever was. A zombie does not
        /// count.
        async fn reaped(pid: u32) -> bool {
            let deadline = Instant::now() + HANG;
            loop {
                if child_state(pid) == ChildState::Gone {
                    break true;
                }
                if Instant::now() > deadline {
                    break false;
                }
                rt::time::sleep(Duration::from_millis(1)).await;
            }
        }
        use rt::process::Command;
        let killed = Command::new("sleep")
            .arg("1000")
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let killed_pid = rt::pid(&killed);
        drop(killed);
        let killed_reaped = reaped(killed_pid).await;

        let kept = Command::new("sleep").arg("1000").spawn().unwrap();
        let kept_pid = rt::pid(&kept);
        drop(kept);
        let kept_running = child_state(kept_pid) == ChildState::Running;
        // SAFETY: kill only sends a signal; the pid is our unreaped child (Running).
        unsafe { libc::kill(kept_pid as libc::pid_t, libc::SIGKILL) };
        let kept_reaped = reaped(kept_pid).await;
        (killed_reaped, kept_running, kept_reaped)
    }
}

/// `kill_on_drop(true)`: dropping the `Child` of a `sleep 1000` kills it, and it is reaped
/// in the background (no zombie). `kill_on_drop(false)` (the default): the dropped child
/// keeps running, and is still reaped once it ends (here: once we kill it by hand).
#[test]
fn kill_on_drop_kills_and_reaps_the_child() {
    let on_spindle = within("spindle", drop_a_killed_and_a_kept_child::spindle);
    assert_eq!(
        on_spindle,
        within("tokio", drop_a_killed_and_a_kept_child::tokio)
    );
    assert_eq!(on_spindle, (true, true, true));
}

/// A `kill_on_drop` child owned by a task that is still waiting when the runtime is dropped:
/// the child is killed and reaped all the same (spindle only: the runtime is gone, so its
/// background task hands the child to a thread in `waitpid`). Both flavours.
#[test]
fn a_kill_on_drop_child_is_reaped_when_its_runtime_drops() {
    for multi_thread in [false, true] {
        let pid = within("spindle", move || {
            let runtime = if multi_thread {
                spindle::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .build()
            } else {
                spindle::runtime::Builder::new_current_thread().build()
            }
            .unwrap();
            let (pid_tx, pid_rx) = spindle::sync::oneshot::channel();
            let pid = runtime.block_on(async move {
                spindle::spawn(async move {
                    let mut child = spindle::process::Command::new("sleep")
                        .arg("1000")
                        .kill_on_drop(true)
                        .spawn()
                        .unwrap();
                    let _ = pid_tx.send(child.id().expect("not reaped yet"));
                    let _ = child.wait().await; // never returns: dropped with the runtime
                });
                pid_rx.await.unwrap()
            });
            drop(runtime);
            pid
        });
        let deadline = Instant::now() + HANG;
        while child_state(pid) != ChildState::Gone {
            assert!(Instant::now() < deadline, "child {pid} was never reaped");
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// `shutdown` on a child's stdin: spindle closes the pipe (the child reads end-of-file while
/// we still hold the `ChildStdin`, and a later write is `BrokenPipe`); tokio's returns `Ok`
/// and leaves the pipe open until the `ChildStdin` drops. Deliberate: a caller who shuts a
/// writer down means "no more data", as for a socket. The scenarios differ in order (spindle's
/// child reaches end-of-file with our `ChildStdin` still held; tokio's only once we drop it),
/// so each side is written out and asserted on its own.
#[test]
fn shutdown_closes_a_childs_stdin_on_spindle_only() {
    let on_spindle = within("spindle", || {
        crate::spindle_rt::current_thread().block_on(async {
            use spindle::io::{AsyncReadExt, AsyncWriteExt};
            use spindle::process::{Command, Stdio};
            let mut child = Command::new("cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(b"abc").await.unwrap();
            stdin.shutdown().await.unwrap();
            let mut out = Vec::new();
            child
                .stdout
                .take()
                .unwrap()
                .read_to_end(&mut out)
                .await
                .unwrap();
            let after = stdin.write(b"d").await.unwrap_err().kind();
            (out, after, child.wait().await.unwrap().code())
        })
    });
    assert_eq!(
        on_spindle,
        (b"abc".to_vec(), std::io::ErrorKind::BrokenPipe, Some(0))
    );
    let on_tokio = within("tokio", || {
        crate::tokio_rt::current_thread().block_on(async {
            use std::process::Stdio;
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            use tokio::process::Command;
            let mut child = Command::new("cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(b"abc").await.unwrap();
            stdin.shutdown().await.unwrap();
            let after = stdin.write(b"d").await.map_err(|e| e.kind());
            drop(stdin);
            let mut out = Vec::new();
            child
                .stdout
                .take()
                .unwrap()
                .read_to_end(&mut out)
                .await
                .unwrap();
            (out, after, child.wait().await.unwrap().code())
        })
    });
    assert_eq!(on_tokio, (b"abcd".to_vec(), Ok(1), Some(0)));
}
