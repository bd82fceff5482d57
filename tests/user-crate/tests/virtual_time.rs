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

/// Two workers: the clock moves only when both workers and the `block_on` thread are idle.
/// A task that is ready but not yet run holds the clock, so a timeout around work that
/// needs no time never fires, in any interleaving; a sleeping task wakes at its deadline.
#[test]
fn multi_thread_timers_run_on_the_model_clock() {
    common::assert_model_passes("virtual_time multi-thread", || {
        spindle::model::Builder::new_multi_thread()
            .worker_threads(2)
            .preemption_bound(1)
            .check(|| async {
                let (tx, rx) = spindle::sync::oneshot::channel();
                let sleeper = spindle::spawn(sleep(Duration::from_secs(3600)));
                spindle::spawn(async move {
                    spindle::task::yield_now().await;
                    let _ = tx.send(7);
                });
                // The sender is ready from the start: no deadline may pass before it runs.
                assert_eq!(timeout(Duration::from_millis(1), rx).await, Ok(Ok(7)));
                // The hour-long sleep on the worker ends at its deadline: not before half an
                // hour, within two.
                let mut sleeper = std::pin::pin!(sleeper);
                assert!(timeout(Duration::from_secs(1800), sleeper.as_mut())
                    .await
                    .is_err());
                assert!(timeout(Duration::from_secs(7200), sleeper).await.is_ok());
            })
    });
}

/// A `spawn_blocking` call holds the clock until its result is in, as tokio's paused clock
/// does: the timeout around it never fires.
#[test]
fn a_blocking_call_holds_the_model_clock() {
    common::assert_model_passes("virtual_time spawn_blocking", || {
        spindle::model::check(|| async {
            let call = spindle::spawn_blocking(|| 5);
            assert_eq!(
                timeout(Duration::from_millis(1), call)
                    .await
                    .unwrap()
                    .unwrap(),
                5
            );
        })
    });
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
