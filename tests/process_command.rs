//! `spindle::process::Command`: async child processes with piped stdio, exit through a pidfd
//! registered with the reactor. Each test checks that no child is left unreaped and the fd
//! count is back where it started (so the tests run one at a time).

use std::time::{Duration, Instant};

use spindle::io::{AsyncReadExt, AsyncWriteExt};
use spindle::process::{Command, Stdio};

#[path = "common/children.rs"]
mod children;

use children::{clean, no_children, serial, until_exited_unreaped};

#[test]
fn output_captures_stdout_stderr_and_status() {
    clean(|| {
        spindle::block_on(async {
            let output = Command::new("echo").arg("hello").output().await.unwrap();
            assert!(output.status.success());
            assert_eq!(output.stdout, b"hello\n");
            assert!(output.stderr.is_empty());

            let output = Command::new("sh")
                .args(["-c", "echo out; echo err >&2; exit 3"])
                .output()
                .await
                .unwrap();
            assert_eq!(output.status.code(), Some(3));
            assert_eq!(output.stdout, b"out\n");
            assert_eq!(output.stderr, b"err\n");

            let status = Command::new("sh")
                .args(["-c", "exit \"$CODE\""])
                .env("CODE", "7")
                .status()
                .await
                .unwrap();
            assert_eq!(status.code(), Some(7));
        });
    });
}

#[test]
fn piped_stdin_and_stdout_stream() {
    clean(|| {
        spindle::block_on(async {
            let mut child = Command::new("cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            // More than a pipe buffer, written while nobody reads yet: the writer must wait
            // for the reader, through the reactor.
            let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
            let mut stdout = child.stdout.take().unwrap();
            let writer = {
                let data = data.clone();
                spindle::spawn(async move {
                    stdin.write_all(&data).await.unwrap();
                    drop(stdin); // end-of-file for cat
                })
            };
            let mut echoed = Vec::new();
            stdout.read_to_end(&mut echoed).await.unwrap();
            writer.await.unwrap();
            assert_eq!(echoed.len(), data.len());
            assert!(echoed == data);
            assert!(child.wait().await.unwrap().success());
        });
    });
}

#[test]
fn kill_reports_the_signal() {
    clean(|| {
        spindle::block_on(async {
            let mut child = Command::new("sleep").arg("600").spawn().unwrap();
            assert!(child.try_wait().unwrap().is_none());
            let status = child.kill().await.unwrap();
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(status.signal(), Some(libc::SIGKILL));
            // Waiting again returns the same status, without another waitpid.
            assert_eq!(child.wait().await.unwrap().signal(), Some(libc::SIGKILL));
        });
    });
}

/// A kill of a child that has exited, on both exit watches (the pidfd's signal goes through
/// `pidfd_send_signal`): `Ok` on the zombie, which it leaves as it was (the status is the exit
/// code), and `Ok` without a signal once the child is reaped, by `try_wait` or by `wait`.
/// (The waiting-thread watch has unit tests of its own, in `src/process/command.rs`.)
#[test]
fn a_kill_after_the_exit_is_ok_on_both_watches() {
    for pidfd in [true, false] {
        clean(|| {
            spindle::block_on(async {
                let spawn = |code: &str| {
                    let mut command = Command::new("sh");
                    command.args(["-c", &format!("exit {code}")]);
                    if !pidfd {
                        command.__without_pidfd();
                    }
                    command.spawn().unwrap()
                };
                let mut child = spawn("3");
                assert_eq!(
                    child.__exit_watch(),
                    if pidfd { "pidfd" } else { "sigchld" }
                );
                until_exited_unreaped(child.id().expect("not reaped yet"));
                child.start_kill().expect("a kill of a zombie");
                assert_eq!(child.wait().await.unwrap().code(), Some(3), "pidfd {pidfd}");
                child.start_kill().expect("a kill after the wait");
                assert_eq!(child.kill().await.unwrap().code(), Some(3));

                let mut child = spawn("4");
                until_exited_unreaped(child.id().expect("not reaped yet"));
                let status = child.try_wait().unwrap().expect("it has exited");
                assert_eq!(status.code(), Some(4), "pidfd {pidfd}");
                child.start_kill().expect("a kill after try_wait reaped it");
            });
        });
    }
}

#[test]
fn missing_programs_fail_clearly() {
    clean(|| {
        spindle::block_on(async {
            let err = Command::new("spindle-no-such-program").spawn().unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
            let err = Command::new("/nonexistent/program").spawn().unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
            assert!(err.to_string().contains("/nonexistent/program"), "{err}");
        });
    });
}

#[test]
fn a_dropped_running_child_is_still_reaped() {
    let _serial = serial();
    spindle::block_on(async {
        let mut child = Command::new("sleep").arg("600").spawn().unwrap();
        child.start_kill().unwrap();
        drop(child); // may still be running (dying): a reaper thread waits for it
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while !no_children() {
        assert!(
            Instant::now() < deadline,
            "the dropped child was never reaped"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// With the `futures-io` feature, a child's pipes implement the `futures-io` traits, so
/// runtime-neutral code (codecs, `futures::io::copy`) drives them: here through `cat`.
/// `poll_close` is `poll_shutdown`, which closes the pipe, so `cat` ends.
#[cfg(feature = "futures-io")]
#[test]
fn futures_io_traits_drive_a_childs_pipes() {
    use std::future::poll_fn;
    use std::pin::Pin;

    async fn write_and_close<W: futures_io::AsyncWrite + Unpin>(writer: &mut W, data: &[u8]) {
        let mut written = 0;
        while written < data.len() {
            written += poll_fn(|cx| Pin::new(&mut *writer).poll_write(cx, &data[written..]))
                .await
                .unwrap();
        }
        poll_fn(|cx| Pin::new(&mut *writer).poll_flush(cx))
            .await
            .unwrap();
        poll_fn(|cx| Pin::new(&mut *writer).poll_close(cx))
            .await
            .unwrap();
    }

    async fn read_all<R: futures_io::AsyncRead + Unpin>(reader: &mut R) -> Vec<u8> {
        let mut all = Vec::new();
        let mut buf = [0u8; 7];
        loop {
            let n = poll_fn(|cx| Pin::new(&mut *reader).poll_read(cx, &mut buf))
                .await
                .unwrap();
            if n == 0 {
                return all;
            }
            all.extend_from_slice(&buf[..n]);
        }
    }

    clean(|| {
        spindle::block_on(async {
            let mut child = Command::new("sh")
                .args(["-c", "cat; echo to-stderr >&2"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            write_and_close(&mut stdin, b"through futures-io").await;
            // `stdin` is still held: only the close ended `cat`.
            assert_eq!(
                read_all(child.stdout.as_mut().unwrap()).await,
                b"through futures-io"
            );
            assert_eq!(
                read_all(child.stderr.as_mut().unwrap()).await,
                b"to-stderr\n"
            );
            assert!(child.wait().await.unwrap().success());
            drop(stdin);
        });
    });
}

/// `kill_on_drop(true)` outside a runtime's reach: the child is killed at drop, and once the
/// runtime is gone a thread reaps it, so the process-wide "no child left" check passes.
#[test]
fn a_kill_on_drop_child_is_killed_and_reaped() {
    let _serial = serial();
    let pid = spindle::block_on(async {
        let child = Command::new("sleep")
            .arg("600")
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        child.id().expect("not reaped yet")
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while !no_children() {
        assert!(
            Instant::now() < deadline,
            "the dropped child {pid} was never killed and reaped"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// `ChildStdout::into_owned_fd`: the pipe leaves the reactor in blocking mode, and a
/// blocking read gets the child's output (a pipeline's middle, handed to blocking code).
#[test]
fn a_childs_stdout_handed_back_as_a_blocking_fd() {
    use std::io::Read;
    clean(|| {
        spindle::block_on(async {
            let mut child = Command::new("sh")
                .args(["-c", "echo one; echo two"])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let fd = child.stdout.take().unwrap().into_owned_fd().unwrap();
            // SAFETY: F_GETFL reads the flags of a live fd (`fd` is owned here).
            let flags = unsafe { libc::fcntl(std::os::fd::AsRawFd::as_raw_fd(&fd), libc::F_GETFL) };
            assert_eq!(flags & libc::O_NONBLOCK, 0, "back in blocking mode");
            let mut out = String::new();
            std::fs::File::from(fd).read_to_string(&mut out).unwrap();
            assert_eq!(out, "one\ntwo\n");
            assert!(child.wait().await.unwrap().success());
        });
    });
}

/// Waits, with a bound, until no child of ours is left.
fn until_no_children(what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !no_children() {
        assert!(
            Instant::now() < deadline,
            "{what}: a child was never reaped"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A `Child` belongs to the runtime that spawned it (its exit watch is registered with that
/// runtime's reactor), like every I/O resource; it may be awaited or dropped anywhere:
/// - awaited in another runtime while its own runs, it works (its runtime's driver wakes
///   the awaiting task);
/// - awaited after its runtime shut down: a child that has exited gives its status, one
///   still running fails with "the runtime owning this resource has shut down" rather than
///   hang; `try_wait` and `start_kill` still work (they need no reactor);
/// - dropped anywhere, even after its runtime shut down, it is still reaped once it exits.
///
/// Both exit watches: a pidfd, and the SIGCHLD pipe (`__without_pidfd`).
#[test]
fn a_child_awaited_or_dropped_outside_the_runtime_that_spawned_it() {
    for pidfd in [true, false] {
        let spawn = |command: &mut Command| {
            if !pidfd {
                command.__without_pidfd();
            }
            command.spawn().unwrap()
        };
        clean(|| {
            // Awaited in another runtime while its own (multi-thread) runtime runs.
            let owner = spindle::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            let mut child = {
                let _entered = owner.enter();
                spawn(Command::new("sh").args(["-c", "exit 4"]))
            };
            let status = spindle::block_on(child.wait()).unwrap();
            assert_eq!(status.code(), Some(4), "pidfd {pidfd}");
            drop(child);
            drop(owner);

            // Awaited after its runtime shut down: exited, then still running.
            let owner = spindle::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let (mut exited, mut running) = {
                let _entered = owner.enter();
                (
                    spawn(Command::new("sh").args(["-c", "exit 5"])),
                    spawn(Command::new("sleep").arg("600")),
                )
            };
            drop(owner);
            until_exited_unreaped(exited.id().expect("not reaped yet"));
            let status = spindle::block_on(exited.wait()).unwrap();
            assert_eq!(status.code(), Some(5), "pidfd {pidfd}");
            let error = spindle::block_on(running.wait()).unwrap_err();
            assert_eq!(
                error.to_string(),
                "the runtime owning this resource has shut down",
                "pidfd {pidfd}"
            );
            assert_eq!(running.try_wait().unwrap(), None);
            running.start_kill().unwrap();
            until_exited_unreaped(running.id().expect("not reaped yet"));
            let status = running.try_wait().unwrap().expect("it was killed");
            assert_eq!(
                std::os::unix::process::ExitStatusExt::signal(&status),
                Some(libc::SIGKILL)
            );

            // Dropped, still running, after its runtime shut down: inside another runtime,
            // and outside any. Each ends when its standard input closes, and is reaped then.
            for inside_another in [true, false] {
                let owner = spindle::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                let mut child = {
                    let _entered = owner.enter();
                    spawn(
                        Command::new("sh")
                            .args(["-c", "read line"])
                            .stdin(Stdio::piped()),
                    )
                };
                let stdin = child.stdin.take().unwrap();
                drop(owner);
                if inside_another {
                    spindle::block_on(async move { drop(child) });
                } else {
                    drop(child);
                }
                drop(stdin);
                until_no_children("a child dropped after its runtime");
            }
        });
    }
}
