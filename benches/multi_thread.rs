//! spindle's multi-thread (work-stealing) runtime against tokio's, both with 2 workers, one
//! criterion group per workload (`multi_thread/<workload>`) with one function per runtime.
//!
//! The workloads are the shapes of tokio's own `rt_multi_threaded` benchmarks:
//! - `spawn_many_local`: a task spawns 10,000 empty tasks (from a worker, so they go to its
//!   local queue; tokio's version spawns from `block_on`, which on a multi-thread runtime is
//!   not a worker);
//! - `spawn_many_remote_idle`: 10,000 `rt.spawn` from outside the runtime, then every handle
//!   awaited;
//! - `spawn_many_remote_busy`: the same while 4 background tasks keep yielding and stalling
//!   10 µs each time, calling `std::thread::yield_now` while they stall (tokio's
//!   `spawn_many_remote_busy1`);
//! - `yield_many`: 200 tasks spawned from outside, each yielding 1,000 times;
//! - `ping_pong`: 1,000 pairs of tasks exchanging one-shot messages;
//! - `chained_spawn`: a chain of 1,000 tasks, each spawning the next.
//!
//! Each workload is written once (the `workloads!` macro) and instantiated per runtime; the
//! only runtime-specific code is `spawn`, `yield_now`, the one-shot channel and the clock for
//! the sleep in `lifo_stall`. Completion is signalled through a runtime-neutral
//! [`Countdown`].
//!
//! Before criterion runs, `lifo_stall` measures tokio issue 4941: on 2 workers, task A sends
//! a message to an idle task B (B lands in A's worker's LIFO slot), then keeps computing for
//! [`STALL`] in the same poll. The latency from the send to B running is printed for both
//! runtimes (median and max over [`STALL_ROUNDS`] rounds, and the share of rounds in which B
//! ran before A's poll ended): tokio's LIFO slot cannot be stolen and pushing to it wakes
//! nobody, so B waits for A's poll to end; spindle's slot is stealable and a push wakes an
//! idle worker. How soon that worker gets a CPU is up to the OS, so on a loaded machine the
//! median grows, but the share stays well above tokio's 0%.
//!
//! Run: `cargo bench --bench multi_thread -- --warm-up-time 1 --measurement-time 3`.

use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;

#[path = "common/countdown.rs"]
mod countdown;
use countdown::Countdown;

const WORKERS: usize = 2;
/// Tasks spawned by the `spawn_many_*` workloads.
const SPAWN_MANY: usize = 10_000;
/// Background tasks in `spawn_many_remote_busy` (tokio uses twice the workers).
const BUSY_TASKS: usize = 2 * WORKERS;
/// How long a background task computes between yields.
const BUSY_STALL: Duration = Duration::from_micros(10);
/// Tasks in `yield_many`, and how often each yields.
const YIELD_TASKS: usize = 200;
const YIELDS_PER_TASK: usize = 1_000;
/// Pairs of tasks in `ping_pong`.
const PING_PONG_PAIRS: usize = 1_000;
/// Length of the chain in `chained_spawn`.
const CHAIN_DEPTH: usize = 1_000;
/// How long the sender computes after its send in `lifo_stall`.
const STALL: Duration = Duration::from_millis(5);
/// Send-to-run latencies measured per runtime in `lifo_stall`.
const STALL_ROUNDS: usize = 40;

/// Computes (without sleeping) for `duration`.
fn busy_for(duration: Duration) {
    let start = Instant::now();
    while start.elapsed() < duration {
        std::hint::spin_loop();
    }
}

/// tokio's `stall()`: burns `duration`, offering the CPU to other threads meanwhile.
fn stall_yielding(duration: Duration) {
    let start = Instant::now();
    while start.elapsed() < duration {
        std::thread::yield_now();
    }
}

/// The workloads, written once and instantiated per runtime.
macro_rules! workloads {
    ($runtime:ident, $rt:ty, spawn = $spawn:path, yield_now = $yield_now:path,
     oneshot = $oneshot:path, sleep = $sleep:path) => {
        mod $runtime {
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

            /// Starts the background tasks of `spawn_many_remote_busy`; they stop when
            /// `running` is cleared.
            pub fn start_busy(rt: &$rt, running: &Arc<AtomicBool>) {
                for _ in 0..BUSY_TASKS {
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

fn spindle_runtime() -> spindle::runtime::Runtime {
    spindle::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .build()
        .unwrap()
}

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .unwrap()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Prints `lifo_stall` for both runtimes, one line each:
/// `lifo_stall <runtime> median_us <m> max_us <x> stall_us <s> ran_during_stall_pct <p>`.
fn lifo_stall() {
    let report = |name: &str, latencies: Vec<Duration>| {
        let max = latencies.iter().max().copied().unwrap_or_default();
        let during = latencies.iter().filter(|&&latency| latency < STALL).count();
        println!(
            "lifo_stall {name} median_us {:.1} max_us {:.1} stall_us {} ran_during_stall_pct {:.0}",
            median(latencies.clone()).as_secs_f64() * 1e6,
            max.as_secs_f64() * 1e6,
            STALL.as_micros(),
            100.0 * during as f64 / latencies.len() as f64,
        );
    };
    report("spindle", spindle_rt::lifo_stall(&spindle_runtime()));
    report("tokio", tokio_rt::lifo_stall(&tokio_runtime()));
}

macro_rules! compare {
    ($c:expr, $name:literal, $workload:ident) => {{
        let mut group = $c.benchmark_group(concat!("multi_thread/", $name));
        let spindle = spindle_runtime();
        group.bench_function("spindle", |b| b.iter(|| spindle_rt::$workload(&spindle)));
        drop(spindle);
        let tokio = tokio_runtime();
        group.bench_function("tokio", |b| b.iter(|| tokio_rt::$workload(&tokio)));
        group.finish();
    }};
}

fn spawn_many_remote_busy(c: &mut Criterion) {
    let mut group = c.benchmark_group("multi_thread/spawn_many_remote_busy");
    {
        let rt = spindle_runtime();
        let running = Arc::new(AtomicBool::new(true));
        spindle_rt::start_busy(&rt, &running);
        group.bench_function("spindle", |b| b.iter(|| spindle_rt::spawn_many_remote(&rt)));
        running.store(false, Relaxed);
    }
    {
        let rt = tokio_runtime();
        let running = Arc::new(AtomicBool::new(true));
        tokio_rt::start_busy(&rt, &running);
        group.bench_function("tokio", |b| b.iter(|| tokio_rt::spawn_many_remote(&rt)));
        running.store(false, Relaxed);
    }
    group.finish();
}

fn main() {
    lifo_stall();
    let mut c = Criterion::default().configure_from_args();
    compare!(c, "spawn_many_local", spawn_many_local);
    compare!(c, "spawn_many_remote_idle", spawn_many_remote);
    spawn_many_remote_busy(&mut c);
    compare!(c, "yield_many", yield_many);
    compare!(c, "ping_pong", ping_pong);
    compare!(c, "chained_spawn", chained_spawn);
    c.final_summary();
}
