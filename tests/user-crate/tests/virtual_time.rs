//! Timers in a model run on the model clock: it moves only when every runtime thread is
//! idle, straight to the next deadline, so these models take no wall time and give the same
//! answer in every interleaving.
#![cfg(loom)]

mod common;

use std::time::Duration;

use spindle::time::{interval, sleep, timeout};

/// A day of sleeping, a timeout that fires and one that does not, three interval ticks: all
/// instant, on the model clock.
#[test]
fn timers_on_the_model_clock_are_instant_and_exact() {
    common::assert_model_passes("virtual_time current-thread", || {
        spindle::model::check(|| async {
            let wall = std::time::Instant::now();
            sleep(Duration::from_secs(86_400)).await;
            assert!(
                timeout(Duration::from_secs(1), std::future::pending::<()>())
                    .await
                    .is_err()
            );
            assert_eq!(timeout(Duration::from_secs(1), async { 7 }).await, Ok(7));
            let mut ticks = interval(Duration::from_millis(10));
            let first = ticks.tick().await;
            ticks.tick().await;
            let third = ticks.tick().await;
            assert_eq!(third - first, Duration::from_millis(20));
            assert!(
                wall.elapsed() < Duration::from_secs(60),
                "the model clock used wall time"
            );
        })
    });
}

/// A multi-thread runtime has no model clock yet: its timers refuse with a clear panic
/// instead of deadlocking the model.
#[test]
fn multi_thread_timers_refuse_clearly() {
    common::assert_model_fails(
        "multi_thread_timers_refuse_clearly",
        "model clock of a current-thread runtime",
        || {
            spindle::model::Builder::new_multi_thread()
                .worker_threads(2)
                .preemption_bound(0)
                .check(|| async {
                    sleep(Duration::from_millis(10)).await;
                });
        },
    );
}

/// Real sockets and processes refuse under loom with `Unsupported` and a message that says
/// what to use instead; the crate still compiles.
#[test]
fn real_io_refuses_with_a_clear_error() {
    common::assert_model_passes("real I/O refused", || {
        spindle::model::check(|| async {
            let error = spindle::net::TcpListener::bind("127.0.0.1:0")
                .await
                .unwrap_err();
            assert_eq!(error.kind(), std::io::ErrorKind::Unsupported);
            assert_eq!(
                error.to_string(),
                "not available under loom: use io::duplex"
            );
            let error = spindle::net::TcpStream::connect("127.0.0.1:9")
                .await
                .unwrap_err();
            assert_eq!(error.kind(), std::io::ErrorKind::Unsupported);
            let error = spindle::net::UnixStream::pair().unwrap_err();
            assert_eq!(error.kind(), std::io::ErrorKind::Unsupported);
            let error = spindle::process::Command::new("true").spawn().unwrap_err();
            assert_eq!(error.kind(), std::io::ErrorKind::Unsupported);
            let error = spindle::fs::read("Cargo.toml").await.unwrap_err();
            assert_eq!(error.kind(), std::io::ErrorKind::Unsupported);
            let error = spindle::signal::ctrl_c().await.unwrap_err();
            assert_eq!(error.kind(), std::io::ErrorKind::Unsupported);
        })
    });
}
