//! The multi-thread workloads (the shapes of tokio's `rt_multi_threaded` benchmarks), written
//! once and instantiated for spindle (`spindle_rt`) and tokio (`tokio_rt`). Shared by
//! `benches/multi_thread.rs` (wall-clock, criterion) and `examples/multi_thread_profile.rs`
//! (one workload at a time, for `valgrind --tool=callgrind`).
#![allow(dead_code)] // each binary uses what it needs

use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "countdown.rs"]
mod countdown;
use countdown::Countdown;

/// Worker counts when `WORKERS` is not set: what this 2-CPU machine can show.
pub const DEFAULT_WORKERS: &str = "1,2";
/// Workers of the `lifo_stall` runtimes: the measurement needs an idle peer.
pub const LIFO_STALL_WORKERS: usize = 2;
/// Tasks spawned by the `spawn_many_*` workloads.
pub const SPAWN_MANY: usize = 10_000;
/// Background tasks per worker in `spawn_many_remote_busy` (tokio uses twice the workers).
pub const BUSY_TASKS_PER_WORKER: usize = 2;
/// How long a background task computes between yields.
pub const BUSY_STALL: Duration = Duration::from_micros(10);
/// Tasks in `yield_many`, and how often each yields.
pub const YIELD_TASKS: usize = 200;
pub const YIELDS_PER_TASK: usize = 1_000;
/// Pairs of tasks in `ping_pong`.
pub const PING_PONG_PAIRS: usize = 1_000;
/// Length of the chain in `chained_spawn`.
pub const CHAIN_DEPTH: usize = 1_000;
/// How long the sender computes after its send in `lifo_stall`.
pub const STALL: Duration = Duration::from_millis(5);
/// Send-to-run latencies measured per runtime in `lifo_stall`.
pub const STALL_ROUNDS: usize = 40;

/// The worker counts to run every workload with: the comma-separated `WORKERS` environment
/// variable (for example `WORKERS=1,2,4,8,16`), else [`DEFAULT_WORKERS`].
pub fn worker_counts() -> Vec<usize> {
    let list = std::env::var("WORKERS").unwrap_or_else(|_| DEFAULT_WORKERS.to_string());
    list.split(',')
        .map(|count| {
            count
                .trim()
                .parse()
                .ok()
                .filter(|&count| count > 0)
                .unwrap_or_else(|| panic!("WORKERS={list:?}: expected counts like 1,2,4"))
        })
        .collect()
}

/// Computes (without sleeping) for `duration`.
pub fn busy_for(duration: Duration) {
    let start = Instant::now();
    while start.elapsed() < duration {
        std::hint::spin_loop();
    }
}

/// tokio's `stall()`: burns `duration`, offering the CPU to other threads meanwhile.
pub fn stall_yielding(duration: Duration) {
    let start = Instant::now();
    while start.elapsed() < duration {
        std::thread::yield_now();
    }
}

/// The workloads, written once and instantiated per runtime.
macro_rules! workloads {
    ($runtime:ident, $rt:ty, spawn = $spawn:path, yield_now = $yield_now:path,
     oneshot = $oneshot:path, sleep = $sleep:path) => {
        pub mod $runtime {
            use super::*;

            pub fn spawn_many_local(rt: &$rt) {
                rt.block_on(async {
                    let countdown = Countdown::new(SPAWN_MANY);
                    let spawner = countdown.clone();
                    $spawn(async move {
                        for _ in 0..SPAWN_MANY {
                            let countdown = spawner.clone();
                            $spawn(async move { countdown.done_one() });
                        }
                    });
                    countdown.wait().await;
                });
            }

            pub fn spawn_many_remote(rt: &$rt) {
                let handles: Vec<_> = (0..SPAWN_MANY).map(|_| rt.spawn(async {})).collect();
                rt.block_on(async {
                    for handle in handles {
                        handle.await.unwrap();
                    }
                });
            }

            /// Starts the background tasks of `spawn_many_remote_busy` (two per worker of
            /// `rt`, which has `workers`); they stop when `running` is cleared.
            pub fn start_busy(rt: &$rt, workers: usize, running: &Arc<AtomicBool>) {
                for _ in 0..BUSY_TASKS_PER_WORKER * workers {
                    let running = running.clone();
                    rt.spawn(async move {
                        while running.load(Relaxed) {
                            $yield_now().await;
                            stall_yielding(BUSY_STALL);
                        }
                    });
                }
            }

            pub fn yield_many(rt: &$rt) {
                let countdown = Countdown::new(YIELD_TASKS);
                for _ in 0..YIELD_TASKS {
                    let countdown = countdown.clone();
                    rt.spawn(async move {
                        for _ in 0..YIELDS_PER_TASK {
                            $yield_now().await;
                        }
                        countdown.done_one();
                    });
                }
                rt.block_on(countdown.wait());
            }

            pub fn ping_pong(rt: &$rt) {
                use $oneshot as oneshot;
                rt.block_on(async {
                    let countdown = Countdown::new(PING_PONG_PAIRS);
                    let spawner = countdown.clone();
                    $spawn(async move {
                        for _ in 0..PING_PONG_PAIRS {
                            let countdown = spawner.clone();
                            $spawn(async move {
                                let (ping_tx, ping_rx) = oneshot::channel();
                                let (pong_tx, pong_rx) = oneshot::channel();
                                $spawn(async move {
                                    ping_rx.await.unwrap();
                                    pong_tx.send(()).unwrap();
                                });
                                ping_tx.send(()).unwrap();
                                pong_rx.await.unwrap();
                                countdown.done_one();
                            });
                        }
                    });
                    countdown.wait().await;
                });
            }

            fn spawn_chain(countdown: Arc<Countdown>, remaining: usize) {
                if remaining == 0 {
                    countdown.done_one();
                } else {
                    $spawn(async move { spawn_chain(countdown, remaining - 1) });
                }
            }

            pub fn chained_spawn(rt: &$rt) {
                rt.block_on(async {
                    let countdown = Countdown::new(1);
                    let chain = countdown.clone();
                    $spawn(async move { spawn_chain(chain, CHAIN_DEPTH) });
                    countdown.wait().await;
                });
            }

            /// Send-to-run latencies of a task woken by a sender that then computes for
            /// `STALL` in the same poll, over `STALL_ROUNDS` rounds.
            pub fn lifo_stall(rt: &$rt) -> Vec<Duration> {
                use $oneshot as oneshot;
                rt.block_on(async {
                    $spawn(async {
                        let mut latencies = Vec::with_capacity(STALL_ROUNDS);
                        for _ in 0..STALL_ROUNDS {
                            let (message_tx, message_rx) = oneshot::channel::<Instant>();
                            let (latency_tx, latency_rx) = oneshot::channel::<Duration>();
                            $spawn(async move {
                                let sent = message_rx.await.unwrap();
                                latency_tx.send(sent.elapsed()).unwrap();
                            });
                            // Let the receiver run up to its wait and both workers go idle
                            // (a setup pause, not part of the measurement).
                            $sleep(Duration::from_millis(2)).await;
                            message_tx.send(Instant::now()).unwrap();
                            busy_for(STALL);
                            latencies.push(latency_rx.await.unwrap());
                        }
                        latencies
                    })
                    .await
                    .unwrap()
                })
            }
        }
    };
}

workloads!(
    spindle_rt,
    spindle::runtime::Runtime,
    spawn = spindle::spawn,
    yield_now = spindle::task::yield_now,
    oneshot = spindle::sync::oneshot,
    sleep = spindle::time::sleep
);
workloads!(
    tokio_rt,
    tokio::runtime::Runtime,
    spawn = tokio::spawn,
    yield_now = tokio::task::yield_now,
    oneshot = tokio::sync::oneshot,
    sleep = tokio::time::sleep
);

pub fn spindle_runtime(workers: usize) -> spindle::runtime::Runtime {
    spindle::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .build()
        .unwrap()
}

pub fn tokio_runtime(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap()
}
