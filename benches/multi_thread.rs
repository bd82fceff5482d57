//! spindle's multi-thread (work-stealing) runtime against tokio's, with the same worker count,
//! one criterion group per workload (`multi_thread/<workload>`) with one function per runtime
//! and worker count (`spindle/2`, `tokio/2`: ids `multi_thread/<workload>/<runtime>/<workers>`).
//!
//! The worker counts come from the `WORKERS` environment variable, comma-separated (default
//! `1,2`, what a 2-CPU machine can show): `WORKERS=1,2,4,8,16` on a bigger machine shows how
//! each runtime scales.
//!
//! The workloads are the shapes of tokio's own `rt_multi_threaded` benchmarks:
//! - `spawn_many_local`: a task spawns 10,000 empty tasks (from a worker, so they go to its
//!   local queue; tokio's version spawns from `block_on`, which on a multi-thread runtime is
//!   not a worker);
//! - `spawn_many_remote_idle`: 10,000 `rt.spawn` from outside the runtime, then every handle
//!   awaited;
//! - `spawn_many_remote_busy`: the same while 2 background tasks per worker keep yielding and
//!   stalling 10 µs each time, calling `std::thread::yield_now` while they stall (tokio's
//!   `spawn_many_remote_busy1`);
//! - `yield_many`: 200 tasks spawned from outside, each yielding 1,000 times;
//! - `ping_pong`: 1,000 pairs of tasks exchanging one-shot messages;
//! - `chained_spawn`: a chain of 1,000 tasks, each spawning the next.
//!
//! Each workload is written once (the `workloads!` macro in `common/multi_thread_workloads.rs`,
//! shared with `examples/multi_thread_profile.rs`, which runs one workload at a time for
//! callgrind) and instantiated per runtime; the only runtime-specific code is `spawn`,
//! `yield_now`, the one-shot channel and the clock for the sleep in `lifo_stall`. Completion
//! is signalled through a runtime-neutral `Countdown` (`common/countdown.rs`).
//!
//! Before criterion runs, `lifo_stall` measures tokio issue 4941: on 2 workers (whatever
//! `WORKERS` says), task A sends
//! a message to an idle task B (B lands in A's worker's LIFO slot), then keeps computing for
//! [`STALL`] in the same poll. The latency from the send to B running is printed for both
//! runtimes (median and max over [`STALL_ROUNDS`] rounds, and the share of rounds in which B
//! ran before A's poll ended): tokio's LIFO slot cannot be stolen and pushing to it wakes
//! nobody, so B waits for A's poll to end; spindle's slot is stealable and a push wakes an
//! idle worker. How soon that worker gets a CPU is up to the OS, so on a loaded machine the
//! median grows, but the share stays well above tokio's 0%.
//!
//! Run: `WORKERS=1,2 cargo bench --bench multi_thread -- --warm-up-time 1 --measurement-time 3`.

use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion};

#[path = "common/multi_thread_workloads.rs"]
mod workloads;
use workloads::*;

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
    report(
        "spindle",
        spindle_rt::lifo_stall(&spindle_runtime(LIFO_STALL_WORKERS)),
    );
    report(
        "tokio",
        tokio_rt::lifo_stall(&tokio_runtime(LIFO_STALL_WORKERS)),
    );
}

/// One group per workload; in it, for each worker count, spindle then tokio.
macro_rules! compare {
    ($c:expr, $workers:expr, $name:literal, $workload:ident) => {{
        let mut group = $c.benchmark_group(concat!("multi_thread/", $name));
        for &workers in $workers {
            let spindle = spindle_runtime(workers);
            group.bench_function(BenchmarkId::new("spindle", workers), |b| {
                b.iter(|| spindle_rt::$workload(&spindle))
            });
            drop(spindle);
            let tokio = tokio_runtime(workers);
            group.bench_function(BenchmarkId::new("tokio", workers), |b| {
                b.iter(|| tokio_rt::$workload(&tokio))
            });
        }
        group.finish();
    }};
}

fn spawn_many_remote_busy(c: &mut Criterion, worker_counts: &[usize]) {
    let mut group = c.benchmark_group("multi_thread/spawn_many_remote_busy");
    for &workers in worker_counts {
        {
            let rt = spindle_runtime(workers);
            let running = Arc::new(AtomicBool::new(true));
            spindle_rt::start_busy(&rt, workers, &running);
            group.bench_function(BenchmarkId::new("spindle", workers), |b| {
                b.iter(|| spindle_rt::spawn_many_remote(&rt))
            });
            running.store(false, Relaxed);
        }
        {
            let rt = tokio_runtime(workers);
            let running = Arc::new(AtomicBool::new(true));
            tokio_rt::start_busy(&rt, workers, &running);
            group.bench_function(BenchmarkId::new("tokio", workers), |b| {
                b.iter(|| tokio_rt::spawn_many_remote(&rt))
            });
            running.store(false, Relaxed);
        }
    }
    group.finish();
}

fn main() {
    let workers = &worker_counts();
    lifo_stall();
    let mut c = Criterion::default().configure_from_args();
    compare!(c, workers, "spawn_many_local", spawn_many_local);
    compare!(c, workers, "spawn_many_remote_idle", spawn_many_remote);
    spawn_many_remote_busy(&mut c, workers);
    compare!(c, workers, "yield_many", yield_many);
    compare!(c, workers, "ping_pong", ping_pong);
    compare!(c, workers, "chained_spawn", chained_spawn);
    c.final_summary();
}
