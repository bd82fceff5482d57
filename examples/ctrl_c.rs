//! Waits for Ctrl-C (SIGINT), or gives up after a timeout, and exits cleanly either way.
//!
//! `cargo run --example ctrl_c`, then press Ctrl-C. The listener is created before the
//! "waiting" line is printed, so a SIGINT sent after that line is never missed (with
//! `spindle::signal::ctrl_c()` the listener exists only from its first poll).

use std::time::Duration;

use spindle::signal::unix::{signal, SignalKind};

/// How long to wait before giving up (seconds; the first argument overrides it).
const DEFAULT_TIMEOUT_SECS: u64 = 30;

pub fn main() {
    let secs = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(DEFAULT_TIMEOUT_SECS);
    let outcome = spindle::block_on(async move {
        let mut interrupt = signal(SignalKind::interrupt()).expect("installing the handler");
        println!("waiting for ctrl-c (up to {secs} s)");
        match spindle::time::timeout(Duration::from_secs(secs), interrupt.recv()).await {
            Ok(_) => "got ctrl-c, shutting down",
            Err(_) => "timed out, shutting down",
        }
    });
    println!("{outcome}");
}
