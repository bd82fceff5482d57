//! spindle's current-thread runtime against tokio's, one criterion group per workload with
//! one function per runtime, so each report shows the two side by side.
//!
//! The workloads follow the shapes of tokio's own scheduler benchmarks: spawn many tasks,
//! many tasks yielding, pairs of tasks exchanging one-shot messages, a chain of spawns. Every
//! workload runs inside `block_on` and ends when a runtime-neutral [`Countdown`] reaches
//! zero, so both runtimes do exactly the same work and wait the same way; the only
//! runtime-specific code is `spawn`, `yield_now` and (in `ping_pong`) the oneshot channel.
//!
//! Run: `cargo bench --bench current_thread -- --warm-up-time 1 --measurement-time 3`.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};

#[path = "common/countdown.rs"]
mod countdown;
use countdown::Countdown;

/// Tasks spawned by `spawn_many_local`.
const SPAWN_MANY: usize = 10_000;
/// Tasks in `yield_many`, and how often each yields.
const YIELD_TASKS: usize = 200;
const YIELDS_PER_TASK: usize = 1_000;
/// Pairs of tasks in `ping_pong`.
const PING_PONG_PAIRS: usize = 1_000;
/// Length of the chain in `chained_spawn`.
const CHAIN_DEPTH: usize = 1_000;

/// The four workloads, written once and instantiated per runtime.
macro_rules! workloads {
    ($runtime:ident, $rt:ty, spawn = $spawn:path, yield_now = $yield_now:path,
     oneshot = $oneshot:path) => {
        mod $runtime {
            use super::*;

            pub fn spawn_many_local(rt: &$rt) {
                rt.block_on(async {
                    let countdown = Countdown::new(SPAWN_MANY);
                    for _ in 0..SPAWN_MANY {
                        let countdown = countdown.clone();
                        $spawn(async move { countdown.done_one() });
                    }
                    countdown.wait().await;
                });
            }

            pub fn yield_many(rt: &$rt) {
                rt.block_on(async {
                    let countdown = Countdown::new(YIELD_TASKS);
                    for _ in 0..YIELD_TASKS {
                        let countdown = countdown.clone();
                        $spawn(async move {
                            for _ in 0..YIELDS_PER_TASK {
                                $yield_now().await;
                            }
                            countdown.done_one();
                        });
                    }
                    countdown.wait().await;
                });
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
        }
    };
}

workloads!(
    spindle_rt,
    spindle::runtime::Runtime,
    spawn = spindle::spawn,
    yield_now = spindle::task::yield_now,
    oneshot = spindle::sync::oneshot
);
workloads!(
    tokio_rt,
    tokio::runtime::Runtime,
    spawn = tokio::spawn,
    yield_now = tokio::task::yield_now,
    oneshot = tokio::sync::oneshot
);

fn spindle_runtime() -> spindle::runtime::Runtime {
    spindle::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

macro_rules! compare {
    ($c:expr, $workload:ident) => {{
        let mut group = $c.benchmark_group(stringify!($workload));
        let spindle = spindle_runtime();
        group.bench_function("spindle", |b| b.iter(|| spindle_rt::$workload(&spindle)));
        let tokio = tokio_runtime();
        group.bench_function("tokio", |b| b.iter(|| tokio_rt::$workload(&tokio)));
        group.finish();
    }};
}

fn current_thread(c: &mut Criterion) {
    compare!(c, spawn_many_local);
    compare!(c, yield_many);
    compare!(c, ping_pong);
    compare!(c, chained_spawn);
}

criterion_group!(benches, current_thread);
criterion_main!(benches);
