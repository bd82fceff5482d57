//! Signals: [`ctrl_c`] and, on Unix, [`unix::signal`] for any signal.
//!
//! The first listener for a signal installs spindle's handler for it, once per process (it
//! stays installed, as tokio's does: after that the signal's default action, such as
//! SIGINT terminating the process, no longer happens). The handler calls the handler that
//! was installed before it, so a program's own handling keeps working. Each listener owns a
//! small socket pair registered with the reactor; the handler writes one byte to every
//! listener's pair (only atomics and `write(2)` run in the handler, both async-signal-safe),
//! and the listener's task is woken like any socket reader.
//!
//! A listener sees every delivery that happens after it was created; deliveries between two
//! `recv`s coalesce into one (as with tokio, and as the kernel itself does for a pending
//! standard signal).
//!
//! ```no_run
//! spindle::block_on(async {
//!     spindle::signal::ctrl_c().await.unwrap();
//!     println!("interrupted, shutting down");
//! });
//! ```

pub(crate) mod registry;
pub mod unix;

use std::io;

/// Completes at the next SIGINT (Ctrl-C in a terminal) after its first poll.
///
/// The listener is registered at the first poll (this is an `async fn`, like tokio's): a
/// SIGINT before that is not seen by it. To be sure of catching every SIGINT from a point on,
/// create a [`unix::signal`]`(SignalKind::interrupt())` listener there and await its `recv`.
///
/// # Errors
/// Outside a spindle runtime, or if the handler cannot be installed.
pub async fn ctrl_c() -> io::Result<()> {
    let mut interrupt = unix::signal(unix::SignalKind::interrupt())?;
    match interrupt.recv().await {
        Some(()) => Ok(()),
        None => Err(io::Error::other("the runtime shut down")),
    }
}
