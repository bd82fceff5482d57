//! Every libc call of the process pool, and with them every `unsafe` block of `src/process/`.
//!
//! Each function is a safe wrapper that returns `io::Result`. The [`syscall!`] macro covers
//! calls whose arguments are plain integers (fds, pids, flags, signal numbers): such a call
//! cannot break memory safety whatever the values, so its one `unsafe` is justified once,
//! inside the macro. Calls that take pointers are written out with their own `// SAFETY:`.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use libc::{c_char, c_int, pid_t};

use crate::thread_pool::Spin;

/// Calls a libc function whose arguments are all plain integers and turns `-1` into the
/// `errno` error.
macro_rules! syscall {
    ($name:ident ( $($arg:expr),* $(,)? )) => {{
        // SAFETY: the macro is only used for calls whose arguments are integers (fds, pids,
        // flags, signals), never pointers; with such arguments the function reads and writes
        // no memory of ours, so no value can make the call unsound (at worst it fails with
        // an errno, which we return).
        let ret = unsafe { libc::$name($($arg),*) };
        if ret == -1 {
            Err(io::Error::last_os_error())
        } else {
            Ok(ret)
        }
    }};
}

/// The fd number a worker finds its socket at.
pub(crate) const WORKER_FD: RawFd = 3;

/// `fcntl(F_DUPFD_CLOEXEC)`: a close-on-exec duplicate of `fd` numbered `min` or above.
pub(crate) fn dup_cloexec_at_least(fd: BorrowedFd<'_>, min: RawFd) -> io::Result<OwnedFd> {
    let new = syscall!(fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, min))?;
    // SAFETY: fcntl just created `new`; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// Sets close-on-exec on `fd`.
pub(crate) fn set_cloexec(fd: BorrowedFd<'_>) -> io::Result<()> {
    let flags = syscall!(fcntl(fd.as_raw_fd(), libc::F_GETFD))?;
    syscall!(fcntl(
        fd.as_raw_fd(),
        libc::F_SETFD,
        flags | libc::FD_CLOEXEC
    ))?;
    Ok(())
}

/// Sets `O_NONBLOCK` on `fd` (for pipes handed to the reactor).
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    let flags = syscall!(fcntl(fd.as_raw_fd(), libc::F_GETFL))?;
    syscall!(fcntl(
        fd.as_raw_fd(),
        libc::F_SETFL,
        flags | libc::O_NONBLOCK
    ))?;
    Ok(())
}

/// Clears `O_NONBLOCK`: the fd blocks again (for a pipe handed back to blocking code).
pub(crate) fn set_blocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    let flags = syscall!(fcntl(fd.as_raw_fd(), libc::F_GETFL))?;
    syscall!(fcntl(
        fd.as_raw_fd(),
        libc::F_SETFL,
        flags & !libc::O_NONBLOCK
    ))?;
    Ok(())
}

/// `pidfd_open(pid, 0)`: an fd that becomes readable when the child exits (Linux 5.3+).
/// It is close-on-exec by definition.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn pidfd_open(pid: pid_t) -> io::Result<OwnedFd> {
    let fd = syscall!(syscall(libc::SYS_pidfd_open, pid, 0))?;
    // SAFETY: the kernel just created this fd; nothing else owns it. (A syscall returns a
    // c_long; fds fit in a c_int.)
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// A pipe, both ends close-on-exec.
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as c_int; 2];
    // SAFETY: `fds` is a writable array of two c_ints, as pipe2 requires.
    let ret = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    if ret == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 just created both fds; nothing else owns them.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Takes ownership of `fd`, an fd this process inherited from its parent by the worker
/// protocol (the parent `dup2`'d the worker's socket there before `exec`). Fails if `fd` is
/// not open, so a program started with the marker but without the fd gets an error, not UB.
pub(crate) fn adopt_inherited_fd(fd: RawFd) -> io::Result<OwnedFd> {
    syscall!(fcntl(fd, libc::F_GETFD))?;
    // SAFETY: the fd is open (F_GETFD succeeded), and by the worker protocol nothing else in
    // this process owns it: the parent placed it at this number for `run_worker_if_child`,
    // which is the only code that adopts it, once (the environment marker it checks is
    // removed before this call).
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `send(MSG_NOSIGNAL)`: writing to a worker that died gives `EPIPE`, never `SIGPIPE`.
pub(crate) fn send(fd: BorrowedFd<'_>, bytes: &[u8]) -> io::Result<usize> {
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    let flags = libc::MSG_NOSIGNAL;
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    // Elsewhere Rust programs ignore SIGPIPE from the start.
    let flags = 0;
    // SAFETY: `bytes` is a live slice; send reads at most `bytes.len()` bytes from it.
    let ret = unsafe { libc::send(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len(), flags) };
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as usize)
    }
}

/// `shutdown(SHUT_WR)`: the worker reads end-of-file and exits.
pub(crate) fn shutdown_write(fd: BorrowedFd<'_>) -> io::Result<()> {
    syscall!(shutdown(fd.as_raw_fd(), libc::SHUT_WR)).map(drop)
}

/// `poll(2)` over `fds`, retrying on `EINTR`. `None` waits forever.
pub(crate) fn poll(fds: &mut [libc::pollfd], timeout: Option<Duration>) -> io::Result<usize> {
    let timeout_ms = match timeout {
        None => -1,
        // Round up so a deadline is never reported early.
        Some(d) => d.as_nanos().div_ceil(1_000_000).min(c_int::MAX as u128) as c_int,
    };
    loop {
        // SAFETY: `fds` is a live, writable slice of `fds.len()` pollfd structs, which is
        // exactly the array poll reads and writes.
        let ret = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if ret >= 0 {
            return Ok(ret as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// How long a process-pool thread keeps looking for its next event before it sleeps.
///
/// Every job crosses four threads (submitter, supervisor, worker, supervisor, submitter),
/// and waking one that sleeps on an idle core costs tens of microseconds on a VM, more than
/// the whole round trip otherwise takes. A thread that has just handed something on expects
/// the answer soon, so it polls for this long first: back-to-back jobs then never sleep,
/// and an idle pool stops spinning after this long.
pub(crate) const SPIN: Duration = Duration::from_micros(50);

/// How a thread blocked on a result slot (a job's outcome, a worker's start) looks first.
pub(crate) const SLOT_SPIN: Spin = Spin::YieldFor(SPIN);

/// [`poll`], but first polling without blocking (yielding the CPU between tries) for up to
/// `spin`, or until `timeout` if that is sooner: a timeout shorter than `spin` is spent
/// spinning in full, then one last poll that does not block. Never returns before
/// `timeout` unless something is ready.
pub(crate) fn poll_spinning(
    fds: &mut [libc::pollfd],
    timeout: Option<Duration>,
    spin: Duration,
) -> io::Result<usize> {
    let spin = timeout.map_or(spin, |timeout| timeout.min(spin));
    let start = std::time::Instant::now();
    while start.elapsed() < spin {
        let ready = poll(fds, Some(Duration::ZERO))?;
        if ready > 0 {
            return Ok(ready);
        }
        // On a machine with fewer cores than busy threads, let the one we wait for run.
        std::thread::yield_now();
    }
    poll(
        fds,
        timeout.map(|timeout| timeout.saturating_sub(start.elapsed())),
    )
}

/// How a child ended, decoded from a `waitpid` status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WaitStatus {
    Exited(i32),
    Signaled(i32),
}

fn decode_status(status: c_int) -> WaitStatus {
    if libc::WIFSIGNALED(status) {
        WaitStatus::Signaled(libc::WTERMSIG(status))
    } else {
        WaitStatus::Exited(libc::WEXITSTATUS(status))
    }
}

/// `waitpid(pid, WNOHANG)`: `Some` if the child has ended (and is now reaped).
pub(crate) fn try_wait(pid: pid_t) -> io::Result<Option<WaitStatus>> {
    wait_inner(pid, libc::WNOHANG)
}

/// `waitpid(pid, 0)`, retrying on `EINTR`: reaps the child, blocking until it ends.
pub(crate) fn wait(pid: pid_t) -> io::Result<WaitStatus> {
    loop {
        if let Some(status) = wait_inner(pid, 0)? {
            return Ok(status);
        }
    }
}

fn wait_inner(pid: pid_t, flags: c_int) -> io::Result<Option<WaitStatus>> {
    loop {
        let mut status: c_int = 0;
        // SAFETY: `status` is a live, writable c_int, the only pointer waitpid writes.
        let ret = unsafe { libc::waitpid(pid, &mut status, flags) };
        match ret {
            -1 => {
                let err = io::Error::last_os_error();
                if err.kind() != io::ErrorKind::Interrupted {
                    return Err(err);
                }
            }
            0 => return Ok(None),
            _ => return Ok(Some(decode_status(status))),
        }
    }
}

/// `waitid(P_PID, pid, WEXITED | WNOWAIT | flags)`, retrying on `EINTR`: looks at the
/// child's end **without reaping it**. Returns the pid of the child it reports (0 if
/// `WNOHANG` found it still running).
fn waitid_without_reaping(pid: pid_t, flags: libc::c_int) -> io::Result<pid_t> {
    loop {
        // SAFETY: siginfo_t is plain old data, for which all zeroes is a valid value.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a live, writable siginfo_t, the only memory waitid writes.
        let ret = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT | flags,
            )
        };
        if ret == 0 {
            // SAFETY: waitid succeeded, so `info` holds a child record (all zeroes if
            // `WNOHANG` found none ended).
            return Ok(unsafe { info.si_pid() });
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Blocks until child `pid` has ended, **without reaping it**: the child stays a zombie, so
/// its pid cannot be given to another process until someone reaps it (see `reap_lock.rs`).
pub(crate) fn wait_exited(pid: pid_t) -> io::Result<()> {
    waitid_without_reaping(pid, 0).map(drop)
}

/// Tests only: whether child `pid` has ended, without reaping it: `Ok(true)` for a zombie,
/// `Ok(false)` while it runs, `ECHILD` once reaped.
#[cfg(all(test, not(loom)))]
pub(crate) fn has_exited(pid: pid_t) -> io::Result<bool> {
    Ok(waitid_without_reaping(pid, libc::WNOHANG)? != 0)
}

/// `kill(pid, SIGKILL)`. A child already ended but not yet reaped is not an error.
///
/// The caller must know that `pid` is not reaped yet (and cannot be reaped before the call
/// returns): a reaped pid may name another process.
pub(crate) fn kill(pid: pid_t) -> io::Result<()> {
    syscall!(kill(pid, libc::SIGKILL)).map(drop)
}

/// `pidfd_send_signal(pidfd, SIGKILL, NULL, 0)` (Linux 5.1, so wherever `pidfd_open`
/// works): signals the process `pidfd` was opened for, never another that has its pid by
/// now. A process ended but not yet reaped is not an error (as for [`kill`]); a reaped one
/// is `ESRCH`.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn pidfd_kill(pidfd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: the siginfo pointer is null, which pidfd_send_signal accepts (the kernel then
    // fills in the siginfo as `kill` would); every other argument is an integer. The call
    // reads and writes no memory of ours.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Everything a worker's `exec` needs, prepared before `fork` so the child allocates nothing.
#[derive(Debug)]
pub(crate) struct ExecPlan {
    pub(crate) program: CString,
    pub(crate) argv: Vec<CString>,
    pub(crate) envp: Vec<CString>,
}

/// Null-terminated pointer array over `strings`, for `execve`. The pointers borrow `strings`.
fn pointer_array(strings: &[CString]) -> Vec<*const c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// Fds handed to a child are first moved to this number or above, so no `dup2` onto a
/// target (0..=3) can clobber another source.
const FD_FLOOR: RawFd = 10;

/// Starts `plan.program` with `fds` mapped into it (`(fd here, fd number in the child)`),
/// and returns its pid once `exec` has succeeded (or the `exec` error).
///
/// `fork` is followed at once by `exec`: between the two the child only calls
/// async-signal-safe functions (`sigprocmask`, `signal`, `dup2`, `prctl`, `getppid`,
/// `execve`, `write`, `_exit`) on data prepared here before the fork. Every other fd of the
/// parent is close-on-exec (std opens all its fds that way, and so does this module), so the
/// child holds nothing but the mapped fds and whatever standard streams it inherits.
///
/// With `die_with_parent` (Linux), the child asks for `SIGKILL` when the thread that forked
/// it ends (`PR_SET_PDEATHSIG`); the pool forks from its supervisor thread, which lives as
/// long as the pool.
pub(crate) fn spawn(
    plan: &ExecPlan,
    fds: &[(BorrowedFd<'_>, RawFd)],
    die_with_parent: bool,
) -> io::Result<pid_t> {
    let argv = pointer_array(&plan.argv);
    let envp = pointer_array(&plan.envp);
    let program: &CStr = &plan.program;

    // Sources below the floor get a high duplicate (closed again when this returns).
    let mut lifted = Vec::new();
    let mut mapping: Vec<(RawFd, RawFd)> = Vec::with_capacity(fds.len());
    for &(fd, target) in fds {
        let source = if fd.as_raw_fd() < FD_FLOOR {
            let high = dup_cloexec_at_least(fd, FD_FLOOR)?;
            let raw = high.as_raw_fd();
            lifted.push(high);
            raw
        } else {
            fd.as_raw_fd()
        };
        mapping.push((source, target));
    }

    // The exec-error pipe: the child writes its errno here if exec fails; a successful exec
    // closes it (close-on-exec), so the parent reads end-of-file.
    let (err_read, err_write) = pipe()?;
    // Moved, not shadowed: the low original must be closed here, or our own read below
    // would never see end-of-file.
    let err_write = lift_above_floor(err_write)?;

    let err_fd = err_write.as_raw_fd();
    let parent_pid = std::process::id() as pid_t;
    // SAFETY: sigset_t is plain data; sigemptyset initialises it fully.
    let mut empty_mask: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `empty_mask` is a live, writable sigset_t.
    unsafe { libc::sigemptyset(&mut empty_mask) };
    let child = ChildSetup {
        program,
        argv: &argv,
        envp: &envp,
        mapping: &mapping,
        err_fd,
        parent_pid: die_with_parent.then_some(parent_pid),
        empty_mask: &empty_mask,
    };

    // SAFETY: fork itself is sound to call; what makes a fork in a multi-threaded process
    // dangerous is the child running non-async-signal-safe code (other threads may have
    // held locks, e.g. the allocator's). The child branch below calls `child_exec`, which
    // only makes async-signal-safe calls on memory prepared above and never returns.
    let pid = unsafe { libc::fork() };
    if pid == -1 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: we are the child of a fork; `child` points into this (copied) address
        // space: `program`, `argv` and `envp` are live null-terminated arrays of C strings
        // built before the fork, `mapping` and `empty_mask` are initialised.
        unsafe { child_exec(&child) }
    }

    drop(err_write);
    drop(lifted);
    let mut errno_bytes = [0u8; 4];
    let mut got = 0;
    while got < errno_bytes.len() {
        // SAFETY: the destination is the live tail of `errno_bytes`, of the length given.
        let n = unsafe {
            libc::read(
                err_read.as_raw_fd(),
                errno_bytes[got..].as_mut_ptr().cast(),
                errno_bytes.len() - got,
            )
        };
        match n {
            -1 if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => continue,
            -1 => {
                let err = io::Error::last_os_error();
                let _ = kill(pid);
                let _ = wait(pid);
                return Err(err);
            }
            0 => break,
            n => got += n as usize,
        }
    }
    if got == 0 {
        return Ok(pid); // end-of-file: exec succeeded
    }
    // exec failed (or the child died before writing all four bytes): reap it, report.
    let _ = wait(pid);
    if got == errno_bytes.len() {
        Err(io::Error::from_raw_os_error(i32::from_ne_bytes(
            errno_bytes,
        )))
    } else {
        Err(io::Error::other("child died between fork and exec"))
    }
}

/// `fd` itself if it is at [`FD_FLOOR`] or above, else a high duplicate (closing `fd`).
fn lift_above_floor(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() >= FD_FLOOR {
        return Ok(fd);
    }
    dup_cloexec_at_least(fd.as_fd(), FD_FLOOR)
}

/// What the child of [`spawn`] needs, all prepared before the fork.
struct ChildSetup<'a> {
    program: &'a CStr,
    argv: &'a [*const c_char],
    envp: &'a [*const c_char],
    mapping: &'a [(RawFd, RawFd)],
    err_fd: RawFd,
    /// `Some`: ask to die with the forking thread, and check this is still our parent.
    parent_pid: Option<pid_t>,
    empty_mask: &'a libc::sigset_t,
}

/// The child's side of [`spawn`]: map the fds and `exec`. Never returns.
///
/// # Safety
/// Must be called only in the child of `fork`, with `setup`'s strings and arrays valid
/// (null-terminated C strings, null-terminated pointer arrays).
unsafe fn child_exec(setup: &ChildSetup<'_>) -> ! {
    // Only async-signal-safe calls from here on, and no allocation, no panics.
    // SAFETY (whole function): every call below is async-signal-safe, every pointer passed
    // is either null or points to live memory prepared by the parent before the fork.
    unsafe {
        // Signal mask and SIGPIPE disposition survive exec: hand the child clean ones.
        libc::sigprocmask(libc::SIG_SETMASK, setup.empty_mask, std::ptr::null_mut());
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);

        // Sources are all >= FD_FLOOR and targets below it, so no dup2 clobbers a later
        // source; dup2 clears close-on-exec on the target.
        let mut fds_ok = true;
        for &(source, target) in setup.mapping {
            if libc::dup2(source, target) == -1 {
                fds_ok = false;
                break;
            }
        }

        if fds_ok {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            if let Some(parent_pid) = setup.parent_pid {
                // Die with the parent. If the parent already died before this call, the
                // signal will never come: check and leave.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
                if libc::getppid() != parent_pid {
                    libc::_exit(1);
                }
            }
            libc::execve(
                setup.program.as_ptr(),
                setup.argv.as_ptr(),
                setup.envp.as_ptr(),
            );
        }

        // dup2 or exec failed: report errno to the parent, then exit.
        let errno = io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(0)
            .to_ne_bytes();
        libc::write(setup.err_fd, errno.as_ptr().cast(), errno.len());
        libc::_exit(127)
    }
}

// ---------------------------------------------------------------------------------------
// SIGCHLD self-pipe (where pidfds are missing): the handler writes one byte to the pipe of
// every waiting `Child`, which re-checks its child with `waitpid(WNOHANG)` when its pipe turns
// readable. The handler and its table are `crate::signal::registry`'s, shared with
// `spindle::signal`: one handler per signal, however many users. Up to
// `SLOTS_PER_SIGNAL` (64) children wait this way at once; more fall back to a thread.

/// One pipe registered with the SIGCHLD handler: its read end turns readable after every
/// SIGCHLD from the moment it is registered. Unregistered when dropped.
#[derive(Debug)]
pub(crate) struct SigchldSlot(crate::signal::registry::SignalSlot);

impl SigchldSlot {
    /// Installs the handler if needed and registers a new nonblocking pipe. `WouldBlock` if
    /// every slot is taken.
    pub(crate) fn register() -> io::Result<SigchldSlot> {
        crate::signal::registry::SignalSlot::register(libc::SIGCHLD).map(SigchldSlot)
    }

    /// Empties the pipe: every byte means "some child changed state".
    pub(crate) fn drain(&self) {
        self.0.drain();
    }
}

/// The read end, which the reactor watches.
impl AsRawFd for SigchldSlot {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// `write` to a pipe that never raises `SIGPIPE`: the pipe twin of [`send`]'s `MSG_NOSIGNAL`.
/// A write to a pipe whose read end is closed fails with `EPIPE` (`BrokenPipe`) whatever the
/// process's `SIGPIPE` disposition, and the process-wide disposition is left alone.
///
/// How: `SIGPIPE` is blocked on this thread for the duration of the `write` (the kernel sends
/// the signal to the writing thread, where it stays pending while blocked); on `EPIPE` the
/// pending `SIGPIPE` is taken back with a zero-timeout `sigtimedwait`, then the thread's mask
/// is restored. If the caller had already blocked `SIGPIPE` on this thread, it is left
/// pending for them, as a plain `write` would. Cost: two `pthread_sigmask` calls per write.
/// A `SIGPIPE` sent to the whole process by `kill` at the instant of a failed write may be
/// taken along with ours (signals of one number do not queue anyway).
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
pub(crate) fn write_pipe(fd: BorrowedFd<'_>, bytes: &[u8]) -> io::Result<usize> {
    let mut sigpipe = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    let mut previous = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: `sigemptyset` initialises the set it is given (a live, writable sigset_t), and
    // `sigaddset` adds a valid signal number to that initialised set.
    let sigpipe = unsafe {
        libc::sigemptyset(sigpipe.as_mut_ptr());
        libc::sigaddset(sigpipe.as_mut_ptr(), libc::SIGPIPE);
        sigpipe.assume_init()
    };
    // SAFETY: both pointers are to live sigset_t values; `previous` is written by the call
    // (which cannot fail with SIG_BLOCK and a valid set) before it is read below.
    let previous = unsafe {
        libc::pthread_sigmask(libc::SIG_BLOCK, &sigpipe, previous.as_mut_ptr());
        previous.assume_init()
    };
    // SAFETY: `previous` is an initialised sigset_t.
    let was_blocked = unsafe { libc::sigismember(&previous, libc::SIGPIPE) } == 1;
    // SAFETY: `bytes` is a live slice; write reads at most `bytes.len()` bytes from it.
    let ret = unsafe { libc::write(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
    let result = if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as usize)
    };
    if !was_blocked {
        if matches!(&result, Err(err) if err.raw_os_error() == Some(libc::EPIPE)) {
            let no_wait = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            loop {
                // SAFETY: `sigpipe` is an initialised set, the info pointer may be null, and
                // `no_wait` is a live timespec; the call only reads them.
                let taken = unsafe { libc::sigtimedwait(&sigpipe, std::ptr::null_mut(), &no_wait) };
                if taken != -1 || io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                    break;
                }
            }
        }
        // SAFETY: `sigpipe` is an initialised set; the old-mask pointer may be null.
        unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &sigpipe, std::ptr::null_mut()) };
    }
    result
}

/// `write` to a pipe. Elsewhere Rust programs ignore SIGPIPE from the start (see the Linux
/// version for the mechanism that does not rely on it).
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
pub(crate) fn write_pipe(fd: BorrowedFd<'_>, bytes: &[u8]) -> io::Result<usize> {
    // SAFETY: `bytes` is a live slice; write reads at most `bytes.len()` bytes from it.
    let ret = unsafe { libc::write(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as usize)
    }
}
