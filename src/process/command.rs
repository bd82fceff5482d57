//! [`Command`]: an async child process, the analogue of asyncio's `create_subprocess_exec`.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::File;
use std::future::poll_fn;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{ExitStatus, Output};
use std::task::{ready, Context, Poll};

use libc::pid_t;

use super::reap_lock::ReapLock;
use super::sys::{self, WaitStatus};
use crate::io::{AsyncFd, AsyncRead, AsyncWrite, Interest, ReadBuf};
use crate::loom::sync::Arc;
use crate::thread_pool::ResultSlot;

/// What a child's standard stream is connected to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stdio(StdioKind);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StdioKind {
    Inherit,
    Piped,
    Null,
}

impl Stdio {
    /// The parent's own stream.
    pub fn inherit() -> Stdio {
        Stdio(StdioKind::Inherit)
    }

    /// A new pipe, available as [`Child::stdin`] / [`Child::stdout`] / [`Child::stderr`].
    pub fn piped() -> Stdio {
        Stdio(StdioKind::Piped)
    }

    /// `/dev/null`.
    pub fn null() -> Stdio {
        Stdio(StdioKind::Null)
    }
}

/// Builds and starts a child process whose pipes and exit are awaited through the reactor.
///
/// Must be used inside a spindle runtime (the pipes and the exit notification register with
/// its reactor).
///
/// ```
/// use spindle::process::{Command, Stdio};
///
/// spindle::block_on(async {
///     let output = Command::new("echo").arg("hello").output().await.unwrap();
///     assert!(output.status.success());
///     assert_eq!(output.stdout, b"hello\n");
/// });
/// ```
///
/// # Implementation notes
/// Started with the same fork + exec path as the pool's workers (no `PR_SET_PDEATHSIG`
/// here: like `std::process::Command`, a child may outlive its parent). On Linux the exit is
/// awaited through a pidfd registered with the reactor. Where `pidfd_open` is missing (other
/// Unixes, Linux before 5.3), a SIGCHLD handler writes to a pipe that the reactor watches and
/// the task re-checks its child with `waitpid(WNOHANG)` after each SIGCHLD; the handler is
/// installed on first use and calls any handler installed before it. Beyond 64 children
/// waiting that way at once, a thread waits for the exit instead (and reaps the child).
#[derive(Debug, Clone)]
pub struct Command {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    stdin: Option<Stdio>,
    stdout: Option<Stdio>,
    stderr: Option<Stdio>,
    kill_on_drop: bool,
    /// Tests only: skip the pidfd, to exercise the SIGCHLD path on Linux.
    use_pidfd: bool,
    /// Unit tests only: wait on a thread (the fallback path), calling the hook at each stage.
    #[cfg(test)]
    by_thread: Option<tests::Hook>,
}

impl Command {
    /// A command running `program` (looked up in `PATH` if it has no `/`).
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            stdin: None,
            stdout: None,
            stderr: None,
            kill_on_drop: false,
            use_pidfd: true,
            #[cfg(test)]
            by_thread: None,
        }
    }

    /// Whether dropping the [`Child`] before it has exited kills it with `SIGKILL` (default:
    /// `false`, the child keeps running). Either way a dropped child is reaped in the
    /// background when it ends, so it never stays a zombie.
    ///
    /// ```
    /// use spindle::process::Command;
    ///
    /// spindle::block_on(async {
    ///     let child = Command::new("sleep").arg("1000").kill_on_drop(true).spawn().unwrap();
    ///     drop(child); // SIGKILL now; reaped by a background task
    /// });
    /// ```
    pub fn kill_on_drop(&mut self, kill_on_drop: bool) -> &mut Command {
        self.kill_on_drop = kill_on_drop;
        self
    }

    /// Not part of the API: waits for the exit through the SIGCHLD pipe even where pidfds
    /// exist (for the tests of that path).
    #[doc(hidden)]
    pub fn __without_pidfd(&mut self) -> &mut Command {
        self.use_pidfd = false;
        self
    }

    /// Adds an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments.
    pub fn args(&mut self, args: impl IntoIterator<Item = impl AsRef<OsStr>>) -> &mut Command {
        self.args
            .extend(args.into_iter().map(|arg| arg.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable (the rest of this process's environment is inherited).
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Command {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// The child's standard input (default: inherited; `output` uses `/dev/null`).
    pub fn stdin(&mut self, stdio: Stdio) -> &mut Command {
        self.stdin = Some(stdio);
        self
    }

    /// The child's standard output (default: inherited; `output` captures it).
    pub fn stdout(&mut self, stdio: Stdio) -> &mut Command {
        self.stdout = Some(stdio);
        self
    }

    /// The child's standard error (default: inherited; `output` captures it).
    pub fn stderr(&mut self, stdio: Stdio) -> &mut Command {
        self.stderr = Some(stdio);
        self
    }

    /// Starts the child.
    ///
    /// # Errors
    /// If the program cannot be found or executed (the `exec` errno comes back exactly), or
    /// outside a runtime.
    pub fn spawn(&mut self) -> io::Result<Child> {
        self.spawn_with(Stdio::inherit(), Stdio::inherit(), Stdio::inherit())
    }

    fn spawn_with(&self, stdin: Stdio, stdout: Stdio, stderr: Stdio) -> io::Result<Child> {
        crate::reactor::refuse_under_loom()?;
        let program = resolve_program(&self.program)?;
        let plan = super::pool::exec_plan(&program, &self.args, &self.env, None)
            .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err.to_string()))?;

        // Each stream: the fd the child gets, and (for pipes) the end we keep.
        let mut child_fds: Vec<(OwnedFd, i32)> = Vec::new();
        let mut ours: [Option<OwnedFd>; 3] = [None, None, None];
        let streams = [
            (self.stdin.unwrap_or(stdin), 0),
            (self.stdout.unwrap_or(stdout), 1),
            (self.stderr.unwrap_or(stderr), 2),
        ];
        for (stdio, target) in streams {
            match stdio.0 {
                StdioKind::Inherit => {}
                StdioKind::Null => {
                    let null = File::options().read(true).write(true).open("/dev/null")?;
                    child_fds.push((null.into(), target));
                }
                StdioKind::Piped => {
                    let (read_end, write_end) = sys::pipe()?;
                    let (theirs, mine) = if target == 0 {
                        (read_end, write_end)
                    } else {
                        (write_end, read_end)
                    };
                    sys::set_nonblocking(mine.as_fd())?;
                    child_fds.push((theirs, target));
                    ours[target as usize] = Some(mine);
                }
            }
        }
        let mapping: Vec<_> = child_fds
            .iter()
            .map(|(fd, target)| (fd.as_fd(), *target))
            .collect();
        let pid = sys::spawn(&plan, &mapping, false)
            .map_err(|err| io::Error::new(err.kind(), format!("{}: {err}", program.display())))?;
        drop(mapping);
        drop(child_fds); // the child's ends live in the child only

        let exit = match ExitWatch::new(pid, self) {
            Ok(exit) => exit,
            Err(err) => {
                // Outside a runtime, say: do not leave the child running or unreaped.
                let _ = sys::kill(pid);
                let _ = sys::wait(pid);
                return Err(err);
            }
        };
        // From here on, `Child`'s drop reaps the child whatever fails.
        let mut child = Child {
            pid,
            exit: Some(exit),
            status: None,
            stdin: None,
            stdout: None,
            stderr: None,
            kill_on_drop: self.kill_on_drop,
        };
        let [stdin, stdout, stderr] = ours;
        if let Some(fd) = stdin {
            child.stdin = Some(ChildStdin {
                fd: Some(AsyncFd::with_interest(File::from(fd), Interest::WRITABLE)?),
            });
        }
        if let Some(fd) = stdout {
            child.stdout = Some(ChildStdout {
                fd: AsyncFd::with_interest(File::from(fd), Interest::READABLE)?,
            });
        }
        if let Some(fd) = stderr {
            child.stderr = Some(ChildStderr {
                fd: AsyncFd::with_interest(File::from(fd), Interest::READABLE)?,
            });
        }
        Ok(child)
    }

    /// Runs the child to completion with inherited streams and returns its exit status.
    ///
    /// # Errors
    /// As [`spawn`](Command::spawn).
    pub async fn status(&mut self) -> io::Result<ExitStatus> {
        self.spawn()?.wait().await
    }

    /// Runs the child to completion, capturing its standard output and error (standard
    /// input is `/dev/null` unless set).
    ///
    /// # Errors
    /// As [`spawn`](Command::spawn), or a read error on the pipes.
    pub async fn output(&mut self) -> io::Result<Output> {
        self.spawn_with(Stdio::null(), Stdio::piped(), Stdio::piped())?
            .wait_with_output()
            .await
    }
}

/// `program` as a path to execute: as given if it contains a `/`, else the first executable
/// file of that name in `PATH`.
fn resolve_program(program: &OsStr) -> io::Result<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::PermissionsExt;
    if program.as_bytes().contains(&b'/') {
        return Ok(PathBuf::from(program));
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| {
            candidate
                .metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{}: not found in PATH", Path::new(program).display()),
            )
        })
}

fn exit_status(status: WaitStatus) -> ExitStatus {
    match status {
        WaitStatus::Exited(code) => ExitStatus::from_raw((code & 0xff) << 8),
        WaitStatus::Signaled(signal) => ExitStatus::from_raw(signal & 0x7f),
    }
}

/// How the child's exit is noticed.
enum ExitWatch {
    /// Readable when the child exits.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    PidFd(AsyncFd<OwnedFd>),
    /// Readable after every SIGCHLD (no pidfd available): re-check the child.
    Sigchld(AsyncFd<sys::SigchldSlot>),
    /// A thread waiting for the exit (no pidfd, every SIGCHLD slot taken); it reaps the child.
    Thread(Arc<ThreadWatch>),
}

/// What the waiting thread of [`ExitWatch::Thread`] shares with the `Child`.
struct ThreadWatch {
    /// Held by the thread while it reaps, and by a kill while it signals: a kill never
    /// reaches a pid the thread has reaped (`reap_lock.rs`).
    reap: ReapLock,
    /// The status, once reaped.
    slot: ResultSlot<io::Result<WaitStatus>>,
    /// Set when the slot's result, taken once, was an error (the child was reaped by
    /// someone outside spindle): every later wait or `try_wait` fails the same way instead
    /// of looking at the emptied slot.
    failed: std::sync::OnceLock<io::ErrorKind>,
}

impl ThreadWatch {
    /// The error an earlier wait ended with, again.
    fn earlier_failure(&self) -> Option<io::Error> {
        let kind = *self.failed.get()?;
        Some(io::Error::new(
            kind,
            "waiting for the child failed earlier (was it reaped outside spindle?)",
        ))
    }

    /// The slot's result, just taken; an error is remembered for later waits.
    fn taken(&self, result: io::Result<WaitStatus>) -> io::Result<WaitStatus> {
        if let Err(error) = &result {
            let _ = self.failed.set(error.kind());
        }
        result
    }
}

/// Where the waiting thread of [`ExitWatch::Thread`] is, for the unit tests' hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ThreadStage {
    /// `waitid(WNOWAIT)` saw the exit: the child is a zombie, not reaped yet.
    Exited,
    /// Reaped (its pid may name another process now), the status not yet in the slot.
    Reaped,
}

impl ExitWatch {
    /// Polls for the exit of `pid` (the child this watch was made for), reaping it.
    fn poll_exit(&self, pid: pid_t, cx: &mut Context<'_>) -> Poll<io::Result<WaitStatus>> {
        let status = match self {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            ExitWatch::PidFd(pidfd) => loop {
                let mut ready = match ready!(pidfd.poll_read_ready(cx)) {
                    Ok(ready) => ready,
                    // The runtime owning the pidfd shut down. A child that has exited still
                    // gives its status (`waitpid` needs no reactor), as on the SIGCHLD path,
                    // which looks before it waits; one still running fails.
                    Err(error) => break sys::try_wait(pid)?.ok_or(error)?,
                };
                match sys::try_wait(pid)? {
                    Some(status) => break status,
                    None => ready.clear_ready(),
                }
            },
            ExitWatch::Sigchld(pipe) => loop {
                // Look first: the child may have ended before the pipe was registered.
                pipe.get_ref().drain();
                if let Some(status) = sys::try_wait(pid)? {
                    break status;
                }
                let mut ready = ready!(pipe.poll_read_ready(cx))?;
                ready.clear_ready();
            },
            ExitWatch::Thread(watch) => match watch.earlier_failure() {
                Some(error) => return Poll::Ready(Err(error)),
                None => watch.taken(ready!(watch.slot.poll_take(cx)))?,
            },
        };
        Poll::Ready(Ok(status))
    }

    /// Sends `SIGKILL` to `pid`, this watch's child, which the caller has just seen
    /// unreaped (`try_wait` said `None`), and never to the pid once it is reaped:
    /// - pidfd: through the pidfd, which names the process, not the pid;
    /// - SIGCHLD pipe: only the `Child` reaps its child (its `Orphan` only once the `Child`
    ///   is gone), and the caller holds the `Child` by `&mut`, so no reap can come between
    ///   its `try_wait` and this `kill`;
    /// - thread: under the [`ReapLock`] the thread reaps under; if it has reaped, nothing is
    ///   sent and the answer is `Ok(())`.
    fn kill(&self, pid: pid_t) -> io::Result<()> {
        match self {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            ExitWatch::PidFd(pidfd) => match sys::pidfd_kill(pidfd.get_ref().as_fd()) {
                // A seccomp filter that allows `pidfd_open` but not this: as the SIGCHLD
                // path, which the `&mut` borrow makes safe here too.
                Err(err) if err.raw_os_error() == Some(libc::ENOSYS) => sys::kill(pid),
                result => result,
            },
            ExitWatch::Sigchld(_) => sys::kill(pid),
            ExitWatch::Thread(watch) => watch.reap.signal(|| sys::kill(pid)),
        }
    }

    fn new(pid: pid_t, command: &Command) -> io::Result<ExitWatch> {
        #[cfg(test)]
        if let Some(hook) = &command.by_thread {
            let hook = hook.clone();
            return ExitWatch::by_thread(pid, move |stage| hook.at(stage));
        }
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if command.use_pidfd {
            if let Ok(pidfd) = sys::pidfd_open(pid) {
                return Ok(ExitWatch::PidFd(AsyncFd::with_interest(
                    pidfd,
                    Interest::READABLE,
                )?));
            }
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let _ = command;
        // Registered before anyone looks at the child, so no SIGCHLD after this is missed
        // (one before it is covered: `poll_wait` checks the child before it waits).
        if let Ok(slot) = sys::SigchldSlot::register() {
            return Ok(ExitWatch::Sigchld(AsyncFd::with_interest(
                slot,
                Interest::READABLE,
            )?));
        }
        ExitWatch::by_thread(pid, |_| {})
    }

    /// A thread that waits for `pid` to exit, reaps it and completes the slot (`hook` is
    /// the unit tests' look at each stage).
    fn by_thread(pid: pid_t, hook: impl Fn(ThreadStage) + Send + 'static) -> io::Result<ExitWatch> {
        let watch = Arc::new(ThreadWatch {
            reap: ReapLock::new(),
            slot: ResultSlot::new(),
            failed: std::sync::OnceLock::new(),
        });
        let theirs = watch.clone();
        crate::loom::thread::Builder::new()
            .name("spindle-child-wait".to_owned())
            .spawn(move || {
                // The exit, without reaping: until the reap below the child is a zombie
                // whose pid nobody else can be given, so a kill meanwhile reaches it.
                let exited = sys::wait_exited(pid);
                hook(ThreadStage::Exited);
                // After a failed wait (ECHILD: something else reaped it) the pid is not
                // ours either: `reap` records it all the same.
                let status = theirs.reap.reap(|| exited.and_then(|()| sys::wait(pid)));
                hook(ThreadStage::Reaped);
                theirs.slot.complete(status);
            })?;
        Ok(ExitWatch::Thread(watch))
    }
}

/// A running (or finished) child process from [`Command::spawn`].
///
/// Dropping a `Child` does not kill the process (as with `std::process::Child`) unless
/// [`Command::kill_on_drop`] was set, but either way it is reaped in the background when it
/// exits: no zombie is left behind.
///
/// # Outside the runtime that spawned it
/// A `Child` belongs to the runtime it was spawned in (its exit watch and pipes are
/// registered with that runtime's reactor), but may be awaited or dropped anywhere. Awaited
/// in another runtime while its own runs, it works (a current-thread owner must be running a
/// `block_on` to turn its driver). Once its own runtime has shut down, [`wait`](Child::wait)
/// still returns the status of a child that has exited, and fails for one still running with
/// the error "the runtime owning this resource has shut down" instead of hanging;
/// [`try_wait`](Child::try_wait) and [`start_kill`](Child::start_kill) keep working, and a
/// dropped `Child` is still reaped when it exits. Its pipes fail with the same error.
pub struct Child {
    pid: pid_t,
    exit: Option<ExitWatch>,
    status: Option<ExitStatus>,
    /// The child's standard input, if [piped](Stdio::piped). Drop it to close the pipe.
    pub stdin: Option<ChildStdin>,
    /// The child's standard output, if piped.
    pub stdout: Option<ChildStdout>,
    /// The child's standard error, if piped.
    pub stderr: Option<ChildStderr>,
    kill_on_drop: bool,
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("pid", &self.pid)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl Child {
    /// The child's process id, or `None` once the child has been reaped (its exit status
    /// was returned by [`wait`](Child::wait) or [`try_wait`](Child::try_wait)): the pid may
    /// then belong to another process. Same shape as tokio's `Child::id`.
    pub fn id(&self) -> Option<u32> {
        match self.status {
            None => Some(self.pid as u32),
            Some(_) => None,
        }
    }

    /// Polls for the child's exit, reaping it when it has.
    pub fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<ExitStatus>> {
        if let Some(status) = self.status {
            return Poll::Ready(Ok(status));
        }
        let exit = self.exit.as_ref().expect("set at spawn");
        let status = exit_status(ready!(exit.poll_exit(self.pid, cx))?);
        self.status = Some(status);
        Poll::Ready(Ok(status))
    }

    /// Waits for the child to exit (closing its standard input first, so a child reading
    /// it is not left waiting for us).
    ///
    /// # Errors
    /// If the runtime shut down, or `waitpid` fails.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        self.stdin = None;
        poll_fn(|cx| self.poll_wait(cx)).await
    }

    /// The exit status if the child has exited (reaping it), without waiting.
    ///
    /// # Errors
    /// If `waitpid` fails.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            let status = match self.exit.as_ref().expect("set at spawn") {
                #[cfg(any(target_os = "linux", target_os = "android"))]
                ExitWatch::PidFd(_) => sys::try_wait(self.pid)?,
                ExitWatch::Sigchld(_) => sys::try_wait(self.pid)?,
                ExitWatch::Thread(watch) => {
                    if let Some(error) = watch.earlier_failure() {
                        return Err(error);
                    }
                    if watch.slot.is_complete() {
                        Some(watch.taken(watch.slot.wait_take(sys::SLOT_SPIN))?)
                    } else {
                        None
                    }
                }
            };
            self.status = status.map(exit_status);
        }
        Ok(self.status)
    }

    /// Sends `SIGKILL` (nothing if the child has already been reaped), then waits for it.
    ///
    /// # Errors
    /// As [`wait`](Child::wait).
    pub async fn kill(&mut self) -> io::Result<ExitStatus> {
        self.start_kill()?;
        self.wait().await
    }

    /// Sends `SIGKILL` without waiting. A child that has exited is not an error (as on
    /// tokio): `Ok(())`, and nothing is sent once it has been reaped, since its pid may
    /// name another process by then. Never signals a stranger: through a pidfd the signal
    /// names the process itself; otherwise it is sent only while the child is not reaped,
    /// also where a thread of its own reaps it (see DESIGN.md, "`Command`").
    ///
    /// # Errors
    /// If `waitpid` or `kill` fails.
    pub fn start_kill(&mut self) -> io::Result<()> {
        if self.try_wait()?.is_some() {
            return Ok(());
        }
        self.exit.as_ref().expect("set at spawn").kill(self.pid)
    }

    /// Waits for the child while reading all of its piped standard output and error.
    ///
    /// # Errors
    /// As [`wait`](Child::wait), or a read error on the pipes.
    pub async fn wait_with_output(mut self) -> io::Result<Output> {
        self.stdin = None;
        let mut stdout_pipe = self.stdout.take();
        let mut stderr_pipe = self.stderr.take();
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let mut status = None;
        poll_fn(|cx| {
            let out = drain(&mut stdout_pipe, &mut stdout, cx)?;
            let err = drain(&mut stderr_pipe, &mut stderr, cx)?;
            if status.is_none() {
                if let Poll::Ready(done) = self.poll_wait(cx) {
                    status = Some(done?);
                }
            }
            if out.is_ready() && err.is_ready() && status.is_some() {
                Poll::Ready(Ok::<(), io::Error>(()))
            } else {
                Poll::Pending
            }
        })
        .await?;
        Ok(Output {
            status: status.expect("ready only with a status"),
            stdout,
            stderr,
        })
    }
}

/// Reads `pipe` into `into` until end-of-file (then drops the pipe) or `Pending`.
fn drain(
    pipe: &mut Option<impl AsyncRead + Unpin>,
    into: &mut Vec<u8>,
    cx: &mut Context<'_>,
) -> io::Result<Poll<()>> {
    let mut buf = [0u8; 8192];
    while let Some(reader) = pipe {
        let mut read = ReadBuf::new(&mut buf);
        match Pin::new(reader).poll_read(cx, &mut read) {
            Poll::Ready(Ok(())) if read.filled().is_empty() => *pipe = None,
            Poll::Ready(Ok(())) => into.extend_from_slice(read.filled()),
            Poll::Ready(Err(err)) => return Err(err),
            Poll::Pending => return Ok(Poll::Pending),
        }
    }
    Ok(Poll::Ready(()))
}

impl Drop for Child {
    fn drop(&mut self) {
        match self.try_wait() {
            Ok(None) => {}
            // Reaped now; or `waitpid` failed, which for a pid of ours means ECHILD
            // (something else reaped it): either way the pid is no longer ours to signal or
            // to wait for.
            Ok(Some(_)) | Err(_) => return,
        }
        let Some(exit) = self.exit.take() else {
            return;
        };
        if self.kill_on_drop {
            // Not reaped yet (try_wait said so); `kill` keeps it so until the signal is sent.
            let _ = exit.kill(self.pid);
        }
        Orphan {
            pid: self.pid,
            exit: Some(exit),
        }
        .reap_in_background();
    }
}

/// A dropped child that had not exited yet, reaped when it ends by the same exit watch
/// its `Child` used, so no zombie is left and nothing blocks the dropping thread.
struct Orphan {
    pid: pid_t,
    /// `None` once reaped.
    exit: Option<ExitWatch>,
}

impl Orphan {
    /// Inside a runtime: a task awaits the exit through the reactor (the pidfd or SIGCHLD
    /// slot). If there is no runtime, or it shuts down first, [`Drop`] hands the child to a
    /// thread blocked in `waitpid`.
    fn reap_in_background(self) {
        if matches!(self.exit, Some(ExitWatch::Thread(_))) {
            return; // its waiting thread reaps it
        }
        match crate::runtime::Handle::try_current() {
            Ok(handle) => drop(handle.spawn(self)),
            Err(_) => drop(self),
        }
    }
}

impl std::future::Future for Orphan {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let pid = self.pid;
        if let Some(exit) = &self.exit {
            match ready!(exit.poll_exit(pid, cx)) {
                Ok(_) => self.exit = None,
                // Something else reaped it: its pid is not ours to wait for (a thread in
                // `waitpid` could reap another child of ours that was given it).
                Err(err) if err.raw_os_error() == Some(libc::ECHILD) => self.exit = None,
                // The runtime shutting down: the child is left to `Drop`'s thread.
                Err(_) => {}
            }
        }
        Poll::Ready(())
    }
}

impl Drop for Orphan {
    fn drop(&mut self) {
        match self.exit.take() {
            // The waiting thread reaps it.
            Some(ExitWatch::Thread(_)) | None => {}
            Some(_) => {
                let pid = self.pid;
                let _ = std::thread::Builder::new()
                    .name("spindle-child-reaper".to_owned())
                    .spawn(move || sys::wait(pid));
            }
        }
    }
}

impl Child {
    /// Not part of the API: how this child's exit is noticed (`"pidfd"`, `"sigchld"` or
    /// `"thread"`), for the tests of each path.
    #[doc(hidden)]
    pub fn __exit_watch(&self) -> &'static str {
        match self.exit {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Some(ExitWatch::PidFd(_)) => "pidfd",
            Some(ExitWatch::Sigchld(_)) => "sigchld",
            Some(ExitWatch::Thread(_)) => "thread",
            None => "none",
        }
    }
}

fn poll_read_fd(
    fd: &AsyncFd<File>,
    cx: &mut Context<'_>,
    buf: &mut ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    loop {
        let mut ready = ready!(fd.poll_read_ready(cx))?;
        // Zeroes only the part never initialised before (once per buffer, not per read).
        let unfilled = buf.initialize_unfilled();
        let wanted = unfilled.len();
        if let Ok(result) = ready.try_io(|mut file| file.read(unfilled)) {
            if matches!(result, Ok(n) if n > 0 && n < wanted) {
                // A short read emptied the pipe: the next read waits for a new edge instead
                // of costing a read that returns EAGAIN (as for sockets).
                ready.clear_ready();
            }
            return Poll::Ready(result.map(|n| buf.advance(n)));
        }
    }
}

/// The write end of a child's standard input.
///
/// A write after the child closed its end fails with `BrokenPipe` and never raises
/// `SIGPIPE`, whatever the process's `SIGPIPE` disposition (see DESIGN.md, "`Command`").
/// [`shutdown`](crate::io::AsyncWriteExt::shutdown) closes the pipe (the child reads
/// end-of-file), as dropping it does; later writes fail with `BrokenPipe`.
#[derive(Debug)]
pub struct ChildStdin {
    /// `None` once shut down.
    fd: Option<AsyncFd<File>>,
}

/// The error of a write to a [`ChildStdin`] that was shut down.
fn closed_stdin() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "the child's standard input was shut down",
    )
}

/// The read end of a child's standard output.
#[derive(Debug)]
pub struct ChildStdout {
    fd: AsyncFd<File>,
}

/// The read end of a child's standard error.
#[derive(Debug)]
pub struct ChildStderr {
    fd: AsyncFd<File>,
}

impl AsyncRead for ChildStdout {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        poll_read_fd(&self.fd, cx, buf)
    }
}

impl AsyncRead for ChildStderr {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        poll_read_fd(&self.fd, cx, buf)
    }
}

impl AsyncWrite for ChildStdin {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let Some(fd) = &self.fd else {
            return Poll::Ready(Err(closed_stdin()));
        };
        loop {
            let mut ready = ready!(fd.poll_write_ready(cx))?;
            if let Ok(result) = ready.try_io(|file| sys::write_pipe(file.as_fd(), buf)) {
                return Poll::Ready(result);
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(())) // a pipe has no buffer of ours
    }

    /// Closes the pipe: the child reads end-of-file. (tokio's returns `Ok` and leaves the
    /// pipe open until the `ChildStdin` is dropped.)
    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.fd = None;
        Poll::Ready(Ok(()))
    }
}

/// Deregisters a pipe from the reactor and hands it back in blocking mode.
fn into_blocking_fd(fd: AsyncFd<File>) -> io::Result<OwnedFd> {
    let file = fd.into_inner();
    sys::set_blocking(file.as_fd())?;
    Ok(file.into())
}

impl ChildStdin {
    /// The pipe as a blocking [`OwnedFd`], deregistered from the reactor (for example to
    /// give to a `std::process::Command` or a blocking thread).
    ///
    /// # Errors
    /// `BrokenPipe` if it was shut down; the OS's if the mode cannot be changed.
    pub fn into_owned_fd(mut self) -> io::Result<OwnedFd> {
        into_blocking_fd(self.fd.take().ok_or_else(closed_stdin)?)
    }
}

impl ChildStdout {
    /// The pipe as a blocking [`OwnedFd`], deregistered from the reactor (for example to
    /// make it another child's standard input through `std::process::Stdio::from`).
    ///
    /// # Errors
    /// The OS's, if the mode cannot be changed.
    pub fn into_owned_fd(self) -> io::Result<OwnedFd> {
        into_blocking_fd(self.fd)
    }
}

impl ChildStderr {
    /// The pipe as a blocking [`OwnedFd`], deregistered from the reactor.
    ///
    /// # Errors
    /// The OS's, if the mode cannot be changed.
    pub fn into_owned_fd(self) -> io::Result<OwnedFd> {
        into_blocking_fd(self.fd)
    }
}

impl AsFd for ChildStdout {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.get_ref().as_fd()
    }
}

impl AsFd for ChildStderr {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.get_ref().as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::ThreadStage;

    /// The unit tests' look at the waiting thread of the fallback path: a `Command` given
    /// one is waited for by a thread (whatever pidfds and SIGCHLD slots there are), which
    /// calls the hook at each [`ThreadStage`].
    #[derive(Clone)]
    pub(super) struct Hook(std::sync::Arc<dyn Fn(ThreadStage) + Send + Sync>);

    impl std::fmt::Debug for Hook {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Hook")
        }
    }

    impl Hook {
        pub(super) fn at(&self, stage: ThreadStage) {
            (self.0)(stage)
        }
    }

    #[cfg(not(loom))]
    mod by_thread {
        use super::super::{sys, Command, ThreadStage};
        use super::Hook;
        use std::os::unix::process::ExitStatusExt;
        use std::sync::mpsc::{channel, Receiver, Sender};
        use std::sync::{Arc, Mutex};
        use std::time::Duration;

        /// A hang guard: a correct run never gets near it.
        const HANG: Duration = Duration::from_secs(30);

        impl Command {
            fn by_thread(&mut self, hook: Hook) -> &mut Command {
                self.by_thread = Some(hook);
                self
            }
        }

        /// A waiting thread held at one stage until the test lets it go on.
        struct Pause {
            reached: Receiver<()>,
            /// Dropped (the thread goes on) by `release`, or if the test fails first.
            release: Option<Sender<()>>,
        }

        impl Pause {
            fn reached(&self) {
                self.reached
                    .recv_timeout(HANG)
                    .expect("the waiting thread never reached its stage");
            }

            fn release(&mut self) {
                self.release = None;
            }
        }

        /// A hook that holds the waiting thread at `stage`, and the test's end of it.
        fn paused_at(stage: ThreadStage) -> (Hook, Pause) {
            let (reached_tx, reached) = channel();
            let (release, release_rx) = channel::<()>();
            let release_rx = Mutex::new(release_rx);
            let hook = Hook(Arc::new(move |at| {
                if at == stage {
                    let _ = reached_tx.send(());
                    // Returns once the test drops its sender.
                    let _ = release_rx.lock().unwrap().recv();
                }
            }));
            let pause = Pause {
                reached,
                release: Some(release),
            };
            (hook, pause)
        }

        /// A `kill_on_drop` child (`true`) that has exited, its waiting thread held before the
        /// reap: the child is a zombie. Returns it, its pid, and the thread's pause.
        fn held_zombie_to_kill_on_drop() -> (super::super::Child, libc::pid_t, Pause) {
            let (hook, pause) = paused_at(ThreadStage::Exited);
            let child = Command::new("true")
                .kill_on_drop(true)
                .by_thread(hook)
                .spawn()
                .unwrap();
            let pid = pid(&child);
            pause.reached();
            (child, pid, pause)
        }

        fn pid(child: &super::super::Child) -> libc::pid_t {
            child.id().expect("not reaped yet") as libc::pid_t
        }

        /// The window this path used to have: the thread has reaped the child (its pid is
        /// free, and could be given to any new process) but not yet delivered the status.
        /// A kill then must send nothing and succeed, as a kill of an exited child does on
        /// tokio. The thread used to `waitpid` and then complete the slot that `start_kill`
        /// looked at, so `start_kill` here called `kill(pid)` on the freed pid: `ESRCH`
        /// (checked: this test fails on that code), or a stranger killed if the pid had
        /// been given again.
        #[test]
        fn a_kill_after_the_threads_reap_before_its_status_sends_nothing() {
            crate::block_on(async {
                let (hook, mut pause) = paused_at(ThreadStage::Reaped);
                let mut child = Command::new("true").by_thread(hook).spawn().unwrap();
                assert_eq!(child.__exit_watch(), "thread");
                let pid = pid(&child);
                pause.reached();
                let gone = sys::has_exited(pid).expect_err("reaped, so not our child any more");
                assert_eq!(gone.raw_os_error(), Some(libc::ECHILD), "{gone}");
                assert_eq!(child.try_wait().unwrap(), None, "the status is not in yet");
                child
                    .start_kill()
                    .expect("a kill of a reaped child is Ok(()) and sends nothing");
                pause.release();
                assert_eq!(child.wait().await.unwrap().code(), Some(0));
                child.start_kill().expect("a kill after the wait is Ok(())");
            });
        }

        /// Someone outside spindle reaps the child while the waiting thread holds it as a
        /// zombie: the thread's reap fails (`ECHILD`), and so does every wait after it, each
        /// with the same error: the first one used to take the slot's error and every later
        /// `try_wait` (or the drop of a `kill_on_drop` child) then panicked on the empty slot.
        #[test]
        fn a_child_reaped_outside_spindle_fails_every_wait_without_a_panic() {
            crate::block_on(async {
                let (mut child, pid, mut pause) = held_zombie_to_kill_on_drop();
                // SAFETY: `waitpid` on our own child's pid, with a valid status pointer.
                let reaped = unsafe { libc::waitpid(pid, &mut 0, 0) };
                assert_eq!(reaped, pid, "the test reaps the zombie itself");
                pause.release();
                let first = child.wait().await.expect_err("the thread's reap failed");
                assert_eq!(first.raw_os_error(), Some(libc::ECHILD), "{first}");
                for _ in 0..2 {
                    let again = child.try_wait().expect_err("still failed");
                    assert_eq!(again.kind(), first.kind(), "{again}");
                }
                let again = child.wait().await.expect_err("still failed");
                assert_eq!(again.kind(), first.kind());
                child
                    .start_kill()
                    .expect_err("the wait failed, so the kill does too");
                drop(child); // kill_on_drop: must not panic
            });
        }

        /// Before the reap the child is a zombie (the thread saw the exit with
        /// `waitid(WNOWAIT)`): a kill then reaches the zombie, succeeds and changes nothing,
        /// and the status is the child's own.
        #[test]
        fn a_kill_between_the_exit_and_the_threads_reap_reaches_the_zombie() {
            crate::block_on(async {
                let (hook, mut pause) = paused_at(ThreadStage::Exited);
                let mut child = Command::new("sh")
                    .args(["-c", "exit 3"])
                    .by_thread(hook)
                    .spawn()
                    .unwrap();
                let pid = pid(&child);
                pause.reached();
                assert!(sys::has_exited(pid).unwrap(), "a zombie, not reaped yet");
                child.start_kill().expect("a kill of a zombie is Ok(())");
                pause.release();
                assert_eq!(child.wait().await.unwrap().code(), Some(3));
            });
        }

        /// A running child on this path is killed (the lock does not swallow the signal),
        /// and a `kill_on_drop` child dropped while the thread is held before its reap is
        /// reaped by that thread all the same.
        #[test]
        fn a_running_child_waited_for_by_a_thread_is_killed() {
            crate::block_on(async {
                let mut child = Command::new("sleep")
                    .arg("600")
                    .by_thread(Hook(Arc::new(|_| {})))
                    .spawn()
                    .unwrap();
                assert_eq!(child.__exit_watch(), "thread");
                let status = child.kill().await.unwrap();
                assert_eq!(status.signal(), Some(libc::SIGKILL));

                let (child, pid, mut pause) = held_zombie_to_kill_on_drop();
                drop(child); // kills the zombie: harmless
                pause.release();
                // The thread reaps it: look until it is gone, within the hang guard.
                let start = std::time::Instant::now();
                while sys::has_exited(pid).is_ok() {
                    assert!(start.elapsed() < HANG, "the dropped child was never reaped");
                    std::thread::yield_now();
                }
            });
        }
    }
}
