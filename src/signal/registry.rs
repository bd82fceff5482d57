//! The one place spindle installs signal handlers: a handler per signal number, installed
//! once, that writes one byte to every pipe registered for that signal. Used by
//! [`signal::unix::signal`](super::unix::signal) (one pipe per listener) and by the process
//! module's SIGCHLD path (one pipe per waiting child, where pidfds are missing).
//!
//! A signal handler may not lock or allocate: the table is fixed-size arrays of atomics, and
//! the handler only loads atomics and calls `write(2)` (both async-signal-safe). It saves and
//! restores `errno`, then calls the handler that was installed before ours (if any), so a
//! program's own handling keeps working.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering::SeqCst};
use std::sync::OnceLock;

use libc::c_int;

// The handler's state is plain `std` atomics, not `crate::loom`'s: a signal handler reads it,
// so it must be `static` with a `const` initialiser, and loom cannot model a signal
// interrupting a thread anyway. The protocol is small and documented at `SignalSlot::drop`.

/// Signal numbers `1..SIGNALS` can be registered (Linux's real-time signals end at 64).
pub(crate) const SIGNALS: usize = 65;

/// How many pipes one signal can feed at once.
pub(crate) const SLOTS_PER_SIGNAL: usize = 64;

/// Write ends the handler writes to, per signal; `-1` is a free slot.
static FDS: [[AtomicI32; SLOTS_PER_SIGNAL]; SIGNALS] =
    [const { [const { AtomicI32::new(-1) }; SLOTS_PER_SIGNAL] }; SIGNALS];

/// Handlers running now (on any thread, for any signal), so that a slot's fd is closed only
/// once no handler can still be about to write to that fd number.
static HANDLERS_RUNNING: AtomicUsize = AtomicUsize::new(0);

/// Per signal: the handler installed before ours, called after ours.
static PREVIOUS: [OnceLock<libc::sigaction>; SIGNALS] = [const { OnceLock::new() }; SIGNALS];

/// Per signal: whether installing our handler worked (the errno if not).
static INSTALLED: [OnceLock<Result<(), i32>>; SIGNALS] = [const { OnceLock::new() }; SIGNALS];

#[cfg(any(target_os = "linux", target_os = "android"))]
fn errno_location() -> *mut c_int {
    // SAFETY: returns the calling thread's errno address; no arguments, no preconditions.
    unsafe { libc::__errno_location() }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn errno_location() -> *mut c_int {
    // SAFETY: as above (`__error` is errno's address on the BSDs and macOS).
    unsafe { libc::__error() }
}

extern "C" fn on_signal(signal: c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // `write` may set errno; the interrupted code may be about to read its own.
    let errno = errno_location();
    // SAFETY: `errno` is this thread's errno, valid for the thread's whole life.
    let saved_errno = unsafe { *errno };
    let Some(index) = usize::try_from(signal).ok().filter(|&s| s < SIGNALS) else {
        return; // never installed for such a number
    };
    HANDLERS_RUNNING.fetch_add(1, SeqCst);
    for slot in &FDS[index] {
        let fd = slot.load(SeqCst);
        if fd >= 0 {
            // SAFETY: a one-byte buffer that lives across the call. `fd` is a registered
            // socket's write end: `SignalSlot::drop` unregisters it, then waits until no
            // handler runs, then closes it, so it is open here. A full buffer (EAGAIN, it is
            // nonblocking) already holds a wake-up.
            unsafe { libc::write(fd, [1u8].as_ptr().cast(), 1) };
        }
    }
    HANDLERS_RUNNING.fetch_sub(1, SeqCst);
    if let Some(previous) = PREVIOUS[index].get() {
        let handler = previous.sa_sigaction;
        if handler != libc::SIG_DFL && handler != libc::SIG_IGN {
            if previous.sa_flags & libc::SA_SIGINFO != 0 {
                // SAFETY: with SA_SIGINFO, `sa_sigaction` is a three-argument handler, called
                // with the arguments the kernel gave us.
                let handler: extern "C" fn(c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    unsafe { std::mem::transmute(handler) };
                handler(signal, info, context);
            } else {
                // SAFETY: without SA_SIGINFO, `sa_sigaction` holds a one-argument handler.
                let handler: extern "C" fn(c_int) = unsafe { std::mem::transmute(handler) };
                handler(signal);
            }
        }
    }
    // SAFETY: as above.
    unsafe { *errno = saved_errno };
}

/// Installs our handler for `signal`, once per process. The previous action is kept and
/// chained to; our handler stays installed for the life of the process (as tokio's does).
fn install(signal: c_int, index: usize) -> io::Result<()> {
    let result = INSTALLED[index].get_or_init(|| {
        // SAFETY: a zeroed sigaction is a valid value (empty mask, no flags) that we fill in.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        let handler: extern "C" fn(c_int, *mut libc::siginfo_t, *mut libc::c_void) = on_signal;
        action.sa_sigaction = handler as libc::sighandler_t;
        // SA_RESTART: interrupted calls elsewhere in the program resume. For SIGCHLD,
        // SA_NOCLDSTOP: only exits (not stops) matter to spindle's users of it.
        action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
        if signal == libc::SIGCHLD {
            action.sa_flags |= libc::SA_NOCLDSTOP;
        }
        // SAFETY: `action.sa_mask` is a live sigset_t.
        unsafe { libc::sigemptyset(&mut action.sa_mask) };
        // SAFETY: as above.
        let mut previous: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers are to live sigaction structs; sigaction reads the first and
        // writes the second. The previous action is stored before the handler can need it
        // only if no signal arrives in between; one that does is still written to our
        // pipes, and only the chained call is skipped for it.
        let ret = unsafe { libc::sigaction(signal, &action, &mut previous) };
        if ret == -1 {
            return Err(io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EINVAL));
        }
        let _ = PREVIOUS[index].set(previous);
        Ok(())
    });
    result.map_err(io::Error::from_raw_os_error)
}

/// One nonblocking socket pair registered with a signal's handler: its read end turns
/// readable after every delivery of that signal from the moment it is registered.
/// Unregistered when dropped.
#[derive(Debug)]
pub(crate) struct SignalSlot {
    signal: usize,
    index: usize,
    read: UnixStream,
    // Closed (dropped) only after the slot is free and no handler runs: see `Drop`.
    write: Option<UnixStream>,
}

impl SignalSlot {
    /// Installs the handler for `signal` if needed and registers a new pipe.
    ///
    /// # Errors
    /// `InvalidInput` for a signal number outside `1..65`; the OS's error if `sigaction`
    /// refuses (e.g. SIGKILL); `WouldBlock` if [`SLOTS_PER_SIGNAL`] pipes are registered for
    /// this signal already; `EMFILE` and friends from creating the pipe.
    pub(crate) fn register(signal: c_int) -> io::Result<SignalSlot> {
        let index = usize::try_from(signal)
            .ok()
            .filter(|&s| (1..SIGNALS).contains(&s))
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("signal number {signal} is out of range"),
                )
            })?;
        install(signal, index)?;
        let (read, write) = UnixStream::pair()?;
        read.set_nonblocking(true)?;
        write.set_nonblocking(true)?;
        for (slot_index, slot) in FDS[index].iter().enumerate() {
            if slot
                .compare_exchange(-1, write.as_raw_fd(), SeqCst, SeqCst)
                .is_ok()
            {
                return Ok(SignalSlot {
                    signal: index,
                    index: slot_index,
                    read,
                    write: Some(write),
                });
            }
        }
        Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            format!("all {SLOTS_PER_SIGNAL} pipes for signal {signal} are taken"),
        ))
    }

    /// Empties the pipe; whether it held anything (each byte is one delivery, and all of
    /// them since the last drain count as one: deliveries coalesce).
    pub(crate) fn drain(&self) -> bool {
        let mut sink = [0u8; 64];
        let mut any = false;
        while let Ok(n @ 1..) = io::Read::read(&mut &self.read, &mut sink) {
            any |= n > 0;
        }
        any
    }
}

/// The read end, which the reactor watches.
impl AsRawFd for SignalSlot {
    fn as_raw_fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }
}

impl Drop for SignalSlot {
    fn drop(&mut self) {
        FDS[self.signal][self.index].store(-1, SeqCst);
        // A handler that loaded our fd before the store is counted as running: wait for it,
        // so the fd number is not closed (and reused for another file) under its `write`.
        // A handler that starts after the store sees the slot free.
        while HANDLERS_RUNNING.load(SeqCst) != 0 {
            std::hint::spin_loop();
        }
        drop(self.write.take());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_signal_numbers_are_invalid_input() {
        for signal in [0, -1, SIGNALS as c_int, 1000] {
            let error = SignalSlot::register(signal).unwrap_err();
            assert_eq!(
                error.kind(),
                io::ErrorKind::InvalidInput,
                "{signal}: {error}"
            );
        }
    }

    #[test]
    fn a_signal_the_os_refuses_is_its_error_and_leaves_no_slot() {
        // SIGKILL cannot be caught: `sigaction` fails with EINVAL, and nothing is registered.
        let error = SignalSlot::register(libc::SIGKILL).unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::EINVAL));
        let index = libc::SIGKILL as usize;
        assert!(FDS[index].iter().all(|slot| slot.load(SeqCst) == -1));
    }

    #[test]
    fn a_slot_is_freed_when_dropped() {
        let signal = libc::SIGRTMIN() + 5;
        let index = signal as usize;
        let slot = SignalSlot::register(signal).unwrap();
        let taken = FDS[index].iter().filter(|s| s.load(SeqCst) != -1).count();
        assert_eq!(taken, 1);
        // SAFETY: `raise` takes a signal number only; our handler is installed for it.
        assert_eq!(unsafe { libc::raise(signal) }, 0);
        assert!(slot.drain(), "the handler wrote to the slot");
        assert!(!slot.drain(), "drained to empty");
        drop(slot);
        assert!(FDS[index].iter().all(|s| s.load(SeqCst) == -1));
    }
}
