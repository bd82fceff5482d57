//! [`ProcessError`]: everything that can go wrong with a pool or one of its jobs.

use std::fmt;
use std::io;
use std::time::Duration;

/// How a worker process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitReason {
    /// It exited with this status code.
    Code(i32),
    /// A signal killed it.
    Signal(i32),
}

impl ExitReason {
    pub(crate) fn from_wait(status: super::sys::WaitStatus) -> ExitReason {
        match status {
            super::sys::WaitStatus::Exited(code) => ExitReason::Code(code),
            super::sys::WaitStatus::Signaled(signal) => ExitReason::Signal(signal),
        }
    }
}

fn signal_name(signal: i32) -> Option<&'static str> {
    Some(match signal {
        libc::SIGABRT => "SIGABRT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGILL => "SIGILL",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGHUP => "SIGHUP",
        _ => return None,
    })
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ExitReason::Code(code) => write!(f, "exited with status {code}"),
            ExitReason::Signal(signal) => match signal_name(signal) {
                Some(name) => write!(f, "killed by signal {signal} ({name})"),
                None => write!(f, "killed by signal {signal}"),
            },
        }
    }
}

/// Why a pool could not start or a job has no result.
///
/// Every job error concerns that job only: the pool goes on serving the others.
#[derive(Debug)]
#[non_exhaustive]
pub enum ProcessError {
    /// The worker running the job ended before replying (it exited, aborted or was killed).
    /// The worker was reaped and replaced.
    WorkerDied {
        /// The worker's process id.
        pid: u32,
        /// How it ended.
        reason: ExitReason,
    },
    /// The job panicked in the worker; the message (and location) of the panic. The worker
    /// lives on.
    Panicked(String),
    /// The worker broke the wire protocol (a malformed or oversized frame), or a request
    /// would exceed the maximum frame length. A misbehaving worker is killed and replaced.
    Protocol(String),
    /// The worker program has no job of this name.
    UnknownJob(String),
    /// The job's registered input/output types differ from the ones it was submitted with.
    TypeMismatch(String),
    /// The input could not be decoded in the worker, or the output in the pool.
    Decode(String),
    /// The job ran longer than the pool's `job_timeout`; its worker was killed, reaped and
    /// replaced.
    Timeout(Duration),
    /// The pool was shut down before the job ran.
    ShutDown,
    /// A worker process could not be started.
    Spawn(io::Error),
    /// The builder's settings make no pool (for example zero workers).
    InvalidConfig(String),
}

impl Clone for ProcessError {
    /// `io::Error` is not `Clone`: a cloned `Spawn` keeps its kind and message.
    fn clone(&self) -> ProcessError {
        match self {
            ProcessError::WorkerDied { pid, reason } => ProcessError::WorkerDied {
                pid: *pid,
                reason: *reason,
            },
            ProcessError::Panicked(m) => ProcessError::Panicked(m.clone()),
            ProcessError::Protocol(m) => ProcessError::Protocol(m.clone()),
            ProcessError::UnknownJob(m) => ProcessError::UnknownJob(m.clone()),
            ProcessError::TypeMismatch(m) => ProcessError::TypeMismatch(m.clone()),
            ProcessError::Decode(m) => ProcessError::Decode(m.clone()),
            ProcessError::Timeout(d) => ProcessError::Timeout(*d),
            ProcessError::ShutDown => ProcessError::ShutDown,
            ProcessError::Spawn(e) => ProcessError::Spawn(io::Error::new(e.kind(), e.to_string())),
            ProcessError::InvalidConfig(m) => ProcessError::InvalidConfig(m.clone()),
        }
    }
}

impl fmt::Display for ProcessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProcessError::WorkerDied { pid, reason } => {
                write!(f, "worker process {pid} {reason} while running the job")
            }
            ProcessError::Panicked(message) => write!(f, "job panicked: {message}"),
            ProcessError::Protocol(message) => write!(f, "worker protocol error: {message}"),
            ProcessError::UnknownJob(name) => {
                write!(f, "the worker program has no job named {name:?}")
            }
            ProcessError::TypeMismatch(message) => write!(f, "job types differ: {message}"),
            ProcessError::Decode(message) => write!(f, "cannot decode: {message}"),
            ProcessError::Timeout(limit) => {
                write!(
                    f,
                    "job ran past its {limit:?} timeout; its worker was killed"
                )
            }
            ProcessError::ShutDown => f.write_str("the process pool was shut down"),
            ProcessError::Spawn(err) => write!(f, "cannot start a worker process: {err}"),
            ProcessError::InvalidConfig(message) => write!(f, "invalid pool settings: {message}"),
        }
    }
}

impl std::error::Error for ProcessError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProcessError::Spawn(err) => Some(err),
            _ => None,
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_happened() {
        let died = ProcessError::WorkerDied {
            pid: 12,
            reason: ExitReason::Signal(libc::SIGKILL),
        };
        assert_eq!(
            died.to_string(),
            "worker process 12 killed by signal 9 (SIGKILL) while running the job"
        );
        assert_eq!(ExitReason::Code(3).to_string(), "exited with status 3");
        let spawn = ProcessError::Spawn(io::Error::from(io::ErrorKind::NotFound));
        let copy = spawn.clone();
        assert!(matches!(&copy, ProcessError::Spawn(e) if e.kind() == io::ErrorKind::NotFound));
        assert!(std::error::Error::source(&copy).is_some());
    }
}
