//! `spindle::process::Command`: async child processes with piped stdio, exit through a pidfd
//! registered with the reactor. Each test checks that no child is left unreaped and the fd
//! count is back where it started (so the tests run one at a time).

use std::time::{Duration, Instant};

use spindle::io::{AsyncReadExt, AsyncWriteExt};
use spindle::process::{Command, Stdio};

#[path = "common/children.rs"]
mod children;

use children::{clean, no_children, serial};

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
        child.id()
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
