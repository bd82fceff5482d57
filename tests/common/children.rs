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
