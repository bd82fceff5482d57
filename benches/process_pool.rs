//! spindle's process pool on the workloads of issue 6 §5, against Python's pools
//! (`benches/python/process_pool.py`, same workloads, same worker counts).
//!
//! Run: `cargo bench --bench process_pool` (add `-- quick` for fewer repetitions, and names such
//! as `submit_wait` to run only those workloads), then
//! `python3 benches/python/process_pool.py`. Each prints one line per workload:
//! `<name> <median> <unit>`.
//!
//! - `submit_wait`: submit one tiny job (`square`) and wait for its result, one at a time,
//!   2 workers: the round trip per job.
//! - `map_100k`: `map` of 100,000 tiny inputs with the default chunk size (as `Pool.map`),
//!   2 workers: time per item.
//! - `startup`: build a 2-worker pool and get the first result: time to first result.
//! - `primes_1` / `primes_2`: count primes below 2,000,000 by trial division, in 16 chunks,
//!   on 1 and on 2 workers; `speedup` is their ratio.
//!
//! A plain `main` rather than criterion: the binary is also the worker program (it calls
//! `run_worker_if_child` first), and each workload is a handful of long runs whose median is
//! what we compare.

use std::time::{Duration, Instant};

use spindle::process::{Jobs, ProcessPool};

const ROUND_TRIPS: usize = 5_000;
const MAP_ITEMS: u64 = 100_000;
const PRIMES_BELOW: u64 = 2_000_000;
const PRIME_CHUNKS: u64 = 16;

/// Primes in `[from, to)`, by trial division with odd divisors (the Python script runs the
/// same algorithm).
fn count_primes((from, to): (u64, u64)) -> u64 {
    let mut count = 0;
    for n in from.max(2)..to {
        if n < 4 {
            count += 1;
            continue;
        }
        if n % 2 == 0 {
            continue;
        }
        let mut divisor = 3;
        let mut prime = true;
        while divisor * divisor <= n {
            if n % divisor == 0 {
                prime = false;
                break;
            }
            divisor += 2;
        }
        count += u64::from(prime);
    }
    count
}

fn jobs() -> Jobs {
    Jobs::new()
        .register("square", |x: u64| x * x)
        .register("count_primes", count_primes)
}

fn pool(workers: usize) -> ProcessPool {
    ProcessPool::builder(&jobs())
        .workers(workers)
        .build()
        .expect("pool starts")
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn report(name: &str, value: f64, unit: &str) {
    println!("{name:<12} {value:>10.3} {unit}");
}

fn main() {
    spindle::process::run_worker_if_child(&jobs());
    let quick = std::env::args().any(|arg| arg == "quick");
    let runs = if quick { 3 } else { 7 };
    // Other plain arguments pick workloads by name (`-- quick submit`); none: all of them.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| arg != "quick" && !arg.starts_with('-'))
        .collect();
    let wanted = |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f));

    let pool2 = pool(2);
    if wanted("submit_wait") {
        submit_wait(&pool2, runs);
    }
    if wanted("submit_await") {
        submit_await(&pool2, runs);
    }
    if wanted("map_100k") {
        map_100k(&pool2, runs);
    }
    pool2.shutdown();
    if wanted("startup") {
        startup(runs);
    }
    if wanted("primes") || wanted("speedup") {
        primes(runs);
    }
}

/// submit + wait, one job at a time.
fn submit_wait(pool2: &ProcessPool, runs: usize) {
    for x in 0..1_000u64 {
        pool2.submit::<u64, u64>("square", x).wait().unwrap(); // warm up
    }
    let samples = (0..runs)
        .map(|_| {
            let start = Instant::now();
            for x in 0..ROUND_TRIPS as u64 {
                let squared = pool2.submit::<u64, u64>("square", x).wait().unwrap();
                assert_eq!(squared, x * x);
            }
            start.elapsed() / ROUND_TRIPS as u32
        })
        .collect();
    report("submit_wait", median(samples).as_secs_f64() * 1e6, "us/job");
}

/// The same round trip awaited from a spindle task.
fn submit_await(pool2: &ProcessPool, runs: usize) {
    let samples = (0..runs)
        .map(|_| {
            spindle::block_on(async {
                let start = Instant::now();
                for x in 0..ROUND_TRIPS as u64 {
                    let squared = pool2.submit::<u64, u64>("square", x).await.unwrap();
                    assert_eq!(squared, x * x);
                }
                start.elapsed() / ROUND_TRIPS as u32
            })
        })
        .collect();
    report(
        "submit_await",
        median(samples).as_secs_f64() * 1e6,
        "us/job",
    );
}

/// map of 100,000 tiny inputs, default chunking.
fn map_100k(pool2: &ProcessPool, runs: usize) {
    let samples = (0..runs)
        .map(|_| {
            let start = Instant::now();
            let sum: u64 = pool2
                .map::<u64, u64, _>("square", 0..MAP_ITEMS, None)
                .map(Result::unwrap)
                .sum();
            let elapsed = start.elapsed();
            assert_eq!(sum, (0..MAP_ITEMS).map(|x| x * x).sum::<u64>());
            elapsed
        })
        .collect();
    report(
        "map_100k",
        median(samples).as_secs_f64() * 1e9 / MAP_ITEMS as f64,
        "ns/item",
    );
}

/// Start-up to the first result, 2 workers.
fn startup(runs: usize) {
    let samples = (0..runs * 3)
        .map(|_| {
            let start = Instant::now();
            let pool = pool(2);
            pool.submit::<u64, u64>("square", 3).wait().unwrap();
            let elapsed = start.elapsed();
            drop(pool);
            elapsed
        })
        .collect();
    report("startup", median(samples).as_secs_f64() * 1e3, "ms");
}

/// CPU-bound: primes below 2,000,000 in 16 chunks, on 1 and 2 workers.
fn primes(runs: usize) {
    let step = PRIMES_BELOW / PRIME_CHUNKS;
    let chunks: Vec<(u64, u64)> = (0..PRIME_CHUNKS)
        .map(|i| (i * step, (i + 1) * step))
        .collect();
    let mut medians = Vec::new();
    for workers in [1, 2] {
        let pool = pool(workers);
        let samples = (0..runs.min(5))
            .map(|_| {
                let start = Instant::now();
                let total: u64 = pool
                    .map::<(u64, u64), u64, _>("count_primes", chunks.iter().copied(), 1)
                    .map(Result::unwrap)
                    .sum();
                let elapsed = start.elapsed();
                assert_eq!(total, 148_933);
                elapsed
            })
            .collect();
        let median = median(samples);
        report(&format!("primes_{workers}"), median.as_secs_f64(), "s");
        medians.push(median);
        pool.shutdown();
    }
    report(
        "speedup",
        medians[0].as_secs_f64() / medians[1].as_secs_f64(),
        "x (2 workers over 1)",
    );
}
