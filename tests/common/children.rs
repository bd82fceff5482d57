//! Process-wide leak checks for the tests that start child processes: open fds and children
//! left unreaped. Included with `#[path = "common/children.rs"] mod children;`.
#![allow(dead_code)] // each test binary uses a different subset

/// How many fds this process has open.
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// `true` once no child of ours exists, running or unreaped.
pub fn no_children() -> bool {
    let mut status = 0;
    // SAFETY: `status` is a live c_int, the only memory waitpid writes.
    let ret = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
    ret == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD)
}

/// Fails if any child process of ours exists, running or unreaped.
pub fn assert_no_children() {
    let mut status = 0;
    // SAFETY: `status` is a live c_int, the only memory waitpid writes.
    let ret = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
    let err = std::io::Error::last_os_error();
    assert_eq!(ret, -1, "a child is left: waitpid(-1) returned {ret}");
    assert_eq!(err.raw_os_error(), Some(libc::ECHILD), "{err}");
}

/// One test at a time: fd counts and "no child left" are process-wide.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs `test` alone (see [`serial`]), then checks it left no child and no fd behind.
pub fn clean(test: impl FnOnce()) {
    let _serial = serial();
    let fds = fd_count();
    test();
    assert_no_children();
    assert_eq!(fd_count(), fds, "fds leaked");
}

/// Blocks until child `pid` has exited, without reaping it (`waitid` with `WNOWAIT`): it
/// stays for its owner's `wait` to reap.
pub fn until_exited_unreaped(pid: u32) {
    // SAFETY: `info` is a live, zeroed siginfo_t, the only memory waitid writes.
    let ret = unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOWAIT,
        )
    };
    assert_eq!(ret, 0, "waitid: {}", std::io::Error::last_os_error());
}
