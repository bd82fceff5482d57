//! Differential tests: the same scenario on spindle and on tokio, asserting they agree (or
//! documenting, at the test, why spindle deliberately differs). One module per area, so a
//! reader sees at a glance where spindle matches tokio.
//!
//! Each scenario is written once and expanded for both runtimes by [`on_both!`], against the
//! `rt::` names of [`spindle_rt`] and [`tokio_rt`] (`io`, `io_util` and `sync` wrap it in a
//! macro that brings their names into scope). `fs`, `net`, `signal` and `time` write their
//! scenarios once too, in a `scenarios!` macro per module expanded once per runtime (with a
//! runtime of their own: multi-thread for `fs`, a hang guard for `signal`). A test that
//! covers spindle alone, or where spindle deliberately differs, says why at the test.

/// The names a scenario uses, as spindle spells them: a body written against `rt::` runs on
/// spindle when [`on_both!`] binds `rt` to this module.
#[allow(unused_imports)]
mod spindle_rt {
    pub use spindle::{io, net, process, runtime, sync, task, time};
    pub use spindle::{join, pin, select, spawn, task_local, try_join};

    /// A current-thread runtime (every spindle runtime has its reactor and timers on).
    pub fn current_thread() -> runtime::Runtime {
        runtime::Builder::new_current_thread().build().unwrap()
    }

    /// A child's process id; the child must not have been reaped yet (`Child::id` is `None`
    /// after that, as tokio's).
    pub fn pid(child: &process::Child) -> u32 {
        child.id().expect("the child has not been reaped")
    }
}

/// The names a scenario uses, as tokio spells them, where tokio keeps them elsewhere:
/// `Stdio` comes from std, `AsyncFd` from `io::unix`.
#[allow(unused_imports)]
mod tokio_rt {
    pub use tokio::{join, pin, select, spawn, task_local, try_join};
    pub use tokio::{net, runtime, sync, task, time};

    /// tokio's `io`, with `AsyncFd` where spindle has it.
    pub mod io {
        pub use tokio::io::unix::AsyncFd;
        pub use tokio::io::*;
    }

    /// tokio's `process`, with std's `Stdio` (which tokio's `Command` takes).
    pub mod process {
        pub use std::process::Stdio;
        pub use tokio::process::*;
    }

    /// A current-thread runtime with its I/O and time drivers on.
    pub fn current_thread() -> runtime::Runtime {
        runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    /// A child's process id; the child must not have been reaped yet (tokio's `Child::id`
    /// is `None` after that).
    pub fn pid(child: &process::Child) -> u32 {
        child.id().expect("the child has not been reaped")
    }
}

/// Writes a scenario once and expands it twice: `mod $name` gets `fn spindle(..)` and
/// `fn tokio(..)`, each running `$body` with `rt` naming [`spindle_rt`] or [`tokio_rt`].
///
/// `fn` bodies run as written (they build whatever runtime they need, through
/// `rt::runtime::Builder`); `async fn` bodies run on `rt::current_thread()`. Arguments may
/// not name `rt` (it is only in scope inside the body).
macro_rules! on_both {
    ($(#[$meta:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $out:ty)? $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            pub fn spindle($($arg: $ty),*) $(-> $out)? {
                #[allow(unused_imports)]
                use crate::spindle_rt as rt;
                $body
            }

            pub fn tokio($($arg: $ty),*) $(-> $out)? {
                #[allow(unused_imports)]
                use crate::tokio_rt as rt;
                $body
            }
        }
    };
    ($(#[$meta:meta])* async fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $out:ty)? $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            pub fn spindle($($arg: $ty),*) $(-> $out)? {
                #[allow(unused_imports)]
                use crate::spindle_rt as rt;
                rt::current_thread().block_on(async move $body)
            }

            pub fn tokio($($arg: $ty),*) $(-> $out)? {
                #[allow(unused_imports)]
                use crate::tokio_rt as rt;
                rt::current_thread().block_on(async move $body)
            }
        }
    };
}

/// The hang guard of scenarios that could hang on a broken runtime: long enough for any
/// healthy run on a loaded machine, so only a hang reaches it.
const HANG: std::time::Duration = std::time::Duration::from_secs(30);

/// Runs `f` on a thread and returns its result (or resumes its panic), failing the test if
/// it takes longer than [`HANG`] (the thread is left behind; the process ends with the test
/// binary).
fn within<R: Send + 'static>(what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    match result.recv_timeout(HANG) {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("{what}: hung for {HANG:?}"),
    }
}

#[path = "../common/children.rs"]
mod children;

#[path = "../common/panic_message.rs"]
mod panic_message;
use panic_message::panic_message;

/// A waker that does nothing when woken: for polling a future by hand, and (through a `Weak`
/// of its `Arc`) for watching whether anything still holds the waker.
struct Inert;

impl std::task::Wake for Inert {
    fn wake(self: std::sync::Arc<Self>) {}
}

mod blocking;
mod combinators;
mod fs;
mod io;
mod io_util;
mod join_set;
mod net;
mod process;
mod process_runtimes;
mod runtime;
mod signal;
mod sync;
mod task;
mod time;
