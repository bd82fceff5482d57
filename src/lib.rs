//! # spindle
//!
//! A concurrency runtime written from scratch, one component per form of concurrency in
//! *Asynchronous Python: various forms of concurrency* (the article in `shared/seed`):
//!
//! | form in the article              | spindle                                   | module            |
//! |----------------------------------|-------------------------------------------|-------------------|
//! | coroutines on an event loop      | tasks, `spawn`, `JoinHandle`, `JoinSet`, `task_local!` | [`task`] |
//! | the loop that picks the next one | current-thread, multi-thread and naive schedulers | [`executor`] |
//! | starting and configuring a loop  | `Builder`, `Runtime`, `Handle`, `Metrics`, `Trace` | [`runtime`] |
//! | futures passed between tasks     | channels, locks, semaphores, Notify       | [`sync`]          |
//! | waiting on several in one task   | `join!`, `try_join!`, `select!` (a waker per branch) | [`macros`] |
//! | I/O that waits without blocking  | `AsyncRead`/`AsyncWrite` and their `…Ext` methods, `AsyncFd` | [`io`] |
//! | sockets on the event loop        | TCP, UDP and Unix-domain sockets          | [`net`]           |
//! | `asyncio.sleep`, timeouts        | `sleep`, `timeout`, `interval` on the reactor's timer wheel | [`time`] |
//! | threads, `ThreadPoolExecutor`    | a thread pool (also `spawn_blocking`'s engine) | [`thread_pool`] |
//! | signals on the event loop        | `ctrl_c`, Unix signal listeners (a self-pipe on the reactor) | [`signal`]        |
//! | files without blocking the loop  | `File`, `read`, `write`, `read_dir`, on the blocking pool | [`fs`]            |
//! | processes, `multiprocessing.Pool`, `ProcessPoolExecutor` | a process pool of registered jobs; async child processes (`Command`) | [`process`] |
//! | an HTTP server (hyper) on the loop | hyper 1.x's I/O, executor and timer traits (feature `hyper`) | `compat` |
//!
//! The event loop's I/O half, the reactor (a mio driver and the readiness of every source),
//! is private: [`io`], [`net`] and [`time`] are its public face.
//!
//! # Features
//!
//! None is on by default: a dependent compiles spindle, mio, libc and crossbeam-utils.
//!
//! - `futures-io`: the `futures_io::{AsyncRead, AsyncWrite}` traits for spindle's sockets and
//!   I/O types, so runtime-neutral code (futures-util's codecs and helpers) drives them.
//! - `serde`: `process::Serde`, process-pool jobs whose inputs and outputs are serde types.
//! - `hyper`: `compat::hyper`, hyper 1.x's `Read`/`Write`, `Executor` and `Timer` on spindle.
//!
//! Start reading at [`task`] (one allocation per task, the state machine), then
//! [`executor`] (who runs next and why nothing is polled without a wake).
//!
//! Internals that the proofs rest on go through the private `loom` module: `std` in a normal
//! build, the loom model checker's primitives under `--cfg loom`.
//!
//! ```
//! let rt = spindle::runtime::Builder::new_current_thread().build().unwrap();
//! let total = rt.block_on(async {
//!     let handles: Vec<_> = (1..=3).map(|i| spindle::spawn(async move { i * 10 })).collect();
//!     let mut total = 0;
//!     for handle in handles {
//!         total += handle.await.unwrap();
//!     }
//!     total
//! });
//! assert_eq!(total, 60);
//! assert_eq!(rt.metrics().wasted_polls, 0);
//! ```

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs, missing_debug_implementations)]

pub(crate) mod loom;
pub(crate) mod reactor;

#[cfg(feature = "hyper")]
pub mod compat;
pub mod executor;
pub mod fs;
pub mod io;
pub mod macros;
#[cfg(any(loom, doc))]
#[cfg_attr(docsrs, doc(cfg(loom)))]
pub mod model;
pub mod net;
pub mod process;
pub mod signal;
pub mod sync;
pub mod task;
pub mod thread_pool;
pub mod time;

/// Building and running a runtime: [`Builder`](runtime::Builder), [`Runtime`](runtime::Runtime),
/// [`Handle`](runtime::Handle), [`Metrics`](runtime::Metrics), [`Trace`](runtime::Trace).
pub mod runtime {
    pub use crate::executor::{
        Builder, EnterGuard, Handle, Metrics, Runtime, Trace, TryCurrentError,
    };
}

pub use executor::{block_on, spawn, spawn_blocking, spawn_local};

/// The examples in README.md, compiled and run as doc tests so the README cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
