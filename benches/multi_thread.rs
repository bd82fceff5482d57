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
//! Each workload is written once (the `workloads!` macro in `common/multi_thread_workloads.rs`,
//! shared with `examples/multi_thread_profile.rs`, which runs one workload at a time for
//! callgrind) and instantiated per runtime; the only runtime-specific code is `spawn`,
//! `yield_now`, the one-shot channel and the clock for the sleep in `lifo_stall`. Completion
//! is signalled through a runtime-neutral `Countdown` (`common/countdown.rs`).
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
use std::time::Duration;

use criterion::Criterion;

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
