// A small tokio program, written with `tokio::` paths only. `examples/tokio_port.rs` compiles
// this same text twice: once against tokio, once with `use spindle as tokio;` in scope. It
// uses only names that exist in both crates; nothing here is spindle-specific.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::{sleep, timeout};

/// What the program found, to print (and to compare across the two runtimes).
#[derive(Debug, PartialEq, Eq)]
pub struct Report {
    pub sum_of_squares: u64,
    pub collected: usize,
    pub channel_vs_timeout: &'static str,
    pub idle_channel_vs_timeout: &'static str,
    pub joined: (u32, &'static str),
    pub try_joined: Result<(u8, u8), String>,
    pub timeout_elapsed: bool,
    pub aborted: bool,
}

pub fn run() -> Report {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        // Spawn 100 tasks and collect their outputs as they finish.
        let mut set = JoinSet::new();
        for i in 0..100u64 {
            set.spawn(async move {
                tokio::task::yield_now().await;
                i * i
            });
        }
        let mut sum_of_squares = 0;
        let mut collected = 0;
        while let Some(result) = set.join_next().await {
            sum_of_squares += result.expect("no task panics");
            collected += 1;
        }

        // Race a channel against a timeout: the message comes first...
        let (tx, mut rx) = mpsc::channel::<&'static str>(8);
        tokio::spawn(async move {
            sleep(Duration::from_millis(5)).await;
            tx.send("message").await.expect("the receiver waits");
        });
        let channel_vs_timeout = tokio::select! {
            Some(message) = rx.recv() => message,
            _ = sleep(Duration::from_secs(30)) => "timed out",
        };
        // ...and on a channel nobody sends on, the timeout does.
        let (_idle_tx, mut idle_rx) = mpsc::channel::<&'static str>(1);
        let idle_channel_vs_timeout = tokio::select! {
            Some(message) = idle_rx.recv() => message,
            _ = sleep(Duration::from_millis(5)) => "timed out",
        };

        // Wait on several things at once in this task.
        let joined = tokio::join!(async { 7u32 }, async {
            sleep(Duration::from_millis(1)).await;
            "slept"
        });
        let try_joined: Result<(u8, u8), String> =
            tokio::try_join!(async { Ok(1) }, async { Err("refused".to_owned()) });

        let timeout_elapsed = timeout(Duration::from_millis(1), std::future::pending::<()>())
            .await
            .is_err();

        let forever = tokio::spawn(std::future::pending::<()>());
        forever.abort_handle().abort();
        let aborted = forever.await.expect_err("aborted").is_cancelled();

        Report {
            sum_of_squares,
            collected,
            channel_vs_timeout,
            idle_channel_vs_timeout,
            joined,
            try_joined,
            timeout_elapsed,
            aborted,
        }
    })
}
