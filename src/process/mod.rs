//! Worker processes: a pool that runs registered jobs on every core, the analogue of
//! Python's `multiprocessing.Pool` and `concurrent.futures.ProcessPoolExecutor`, built on
//! `libc` (fork + exec, socketpairs, `poll`, `waitpid`).
//!
//! ```no_run
//! use spindle::process::{Jobs, ProcessPool};
//!
//! fn jobs() -> Jobs {
//!     Jobs::new().register("square", |x: u64| x * x)
//! }
//!
//! fn main() {
//!     // In a worker (this same program, started again by the pool) this serves jobs and
//!     // exits; in the parent it returns at once.
//!     spindle::process::run_worker_if_child(&jobs());
//!
//!     let pool = ProcessPool::builder(&jobs()).workers(2).build().unwrap();
//!     let job = pool.submit::<u64, u64>("square", 9);
//!     assert_eq!(spindle::block_on(job).unwrap(), 81);
//!     pool.shutdown();
//! }
//! ```
//!
//! # How it works
//!
//! - **Starting a worker** (`sys.rs`, the only file with `unsafe`): `fork` followed at once by `execve`, with
//!   argv, envp and the fd to hand over prepared before the fork; between the two the child
//!   makes only async-signal-safe calls (reset the signal mask, `dup2` its socket to fd 3,
//!   `PR_SET_PDEATHSIG` on Linux, `execve`). Every other fd is close-on-exec. An `exec`
//!   failure comes back through a close-on-exec pipe as the exact errno. The worker program
//!   (the current executable by default) finds the marker `SPINDLE_PROCESS_WORKER` in its
//!   environment, and [`run_worker_if_child`] serves jobs instead of running `main`.
//! - **Talking to it** (`frame.rs`): one Unix socketpair per worker; length-prefixed frames
//!   carrying a job id; a worker says HELLO first, then answers one request at a time.
//!   Every request is a batch of items (`submit` sends one, `map` a chunk); each item's
//!   result carries its own tag, so a panic or bad input spoils that item only.
//! - **Supervising** (`supervisor.rs`): one thread per pool owns all workers. It is the only
//!   thread that forks, writes, reads and reaps; submitters reach it through a queue and a
//!   wake-up socket. Workers share nothing (no common queue or lock a dying worker could
//!   leave held, which is how Python's pools hang).
//! - **Typed jobs** (`codec.rs`, `jobs.rs`): inputs and outputs are [`Encode`]/[`Decode`]
//!   types in a small binary encoding whose decoder never panics or trusts a length. With
//!   the `serde` feature, `Serde<T>` (`serde.rs`) carries any serde type in that same
//!   encoding.
//! - **Results**: each job has a one-shot slot (mutex + condvar + waker; the crate's shared
//!   `ResultSlot`, in `thread_pool/result_slot.rs`, which the thread pool's handles use too) that
//!   the supervisor completes; [`ProcessJob`] is a future over it and a blocking handle. No
//!   reactor is needed: the supervisor's wake is the notification.
//!
//! [`Command`] is the other half of the module: one async child process (asyncio's
//! `create_subprocess_exec`), with piped stdin/stdout/stderr as [`AsyncRead`]/[`AsyncWrite`]
//! streams and `wait`/`output`/`kill`, the exit awaited through a pidfd registered with the
//! reactor (a SIGCHLD self-pipe where pidfds are missing). Tested in
//! `tests/process_command.rs` and `tests/process_sigchld.rs`, with the same no-zombie and
//! fd-count checks.
//!
//! [`AsyncRead`]: crate::io::AsyncRead
//! [`AsyncWrite`]: crate::io::AsyncWrite
//!
//! # Faults
//!
//! | fault | outcome | test (`tests/process_pool.rs`) |
//! |---|---|---|
//! | worker exits, aborts, is SIGKILLed mid-job | that job: [`ProcessError::WorkerDied`] with status/signal; worker reaped and replaced; other jobs complete | `worker_crashes_fail_only_their_job` |
//! | job panics | [`ProcessError::Panicked`] with message and location; worker lives on (same pid) | `panics_fail_the_job_and_the_worker_survives` |
//! | malformed or oversized frame from a worker | [`ProcessError::Protocol`]; worker killed and replaced; nothing allocated for the bogus length | `protocol_violations_replace_the_worker` |
//! | unknown job / undecodable input | [`ProcessError::UnknownJob`] / [`ProcessError::Decode`] for that job only | `unknown_jobs_and_bad_inputs_fail_alone` |
//! | worker dies while a process its job forked holds its socket open | that job: [`ProcessError::WorkerDied`] at once (the exit is seen through a pidfd or SIGCHLD, not end-of-file); `shutdown` does not wait for the grandchild | `a_job_that_forks_does_not_hold_up_its_dead_worker_or_the_shutdown` |
//! | worker told to exit hangs on its way out | killed 2 s after being told; `shutdown` returns | `a_worker_that_hangs_on_its_way_out_is_killed_at_the_retire_deadline` |
//! | job past `job_timeout` | [`ProcessError::Timeout`]; worker killed, reaped, replaced | `timeouts_kill_and_replace_the_worker` |
//! | a reply whose decoded value would take more than 64 times its size in memory | [`ProcessError::Decode`] for that job; nothing allocated for it (see [`DECODE_ALLOC_FACTOR`]) | `tests/decode_props.rs` |
//! | worker program without `run_worker_if_child` / missing | `build` fails with [`ProcessError::Spawn`] saying so | `build_fails_clearly` |
//! | parent dies | workers get SIGKILL (`PR_SET_PDEATHSIG`), or EOF on their socket | `workers_die_with_their_parent` |
//!
//! After `shutdown`, `kill`, drop and every crash, no child is left unreaped and the fd
//! count is back where it started: the fault tests check both (`waitpid(-1, WNOHANG)`
//! reports `ECHILD`, `/proc/self/fd` counts match).
//!
//! # Portability
//!
//! Unix only; tested on Linux. `PR_SET_PDEATHSIG` is Linux-only (elsewhere workers notice
//! a dead parent by end-of-file on their socket when they next read).

mod codec;
mod command;
mod error;
mod frame;
mod jobs;
mod pool;
mod reap_lock;
#[cfg(feature = "serde")]
#[path = "serde.rs"]
mod serde_codec;
mod supervisor;
mod sys;
mod wake;
mod worker;

/// Not part of the API: the frame parsers, for the property tests and the fuzz target.
#[doc(hidden)]
#[path = "fuzz.rs"]
pub mod __fuzz;

pub use codec::{decode_exact, Decode, DecodeError, Encode, Reader, DECODE_ALLOC_FACTOR};
pub use command::{Child, ChildStderr, ChildStdin, ChildStdout, Command, Stdio};
pub use error::{ExitReason, ProcessError};
pub use frame::DEFAULT_MAX_FRAME_LEN;
pub use jobs::Jobs;
pub use pool::{Builder, ImapUnordered, Map, ProcessJob, ProcessPool};
#[cfg(feature = "serde")]
pub use serde_codec::Serde;
pub use worker::run_worker_if_child;
