//! Tour steps: OS threads, and why Rust threads run CPU-bound work in parallel.

use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::jobs::count_primes;
use super::measure::{ms, self_cpu};

/// One "second" of the article's sleeps, shortened so the step takes well under a second.
const SECOND: Duration = Duration::from_millis(60);

/// `random.randrange(1, 10)` five times, from a clock-seeded xorshift (no dependency).
pub fn one_to_nine(count: usize) -> Vec<u64> {
    let mut state = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0x2545_f491, |d| d.as_nanos() as u64)
        | 1;
    (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            1 + state % 9
        })
        .collect()
}

/// The article's five threads that sleep 1–9 "seconds" and say when they are done.
pub fn five_threads() -> Result<(), String> {
    // Holding stdout while starting the threads makes the article's point certain: a thread
    // that finishes at once still prints after "All Threads are queued".
    let mut out = std::io::stdout().lock();
    let mut threads = Vec::new();
    for (number, seconds) in one_to_nine(5).into_iter().enumerate() {
        let thread = std::thread::Builder::new()
            .name(format!("worker-{number}"))
            .spawn(move || {
                std::thread::sleep(SECOND * seconds as u32);
                println!("   I am Worker {number}, I slept for {seconds} seconds");
            })
            .map_err(|error| format!("cannot start a thread: {error}"))?;
        threads.push(thread);
    }
    writeln!(
        out,
        "   All Threads are queued, let's see when they finish!"
    )
    .map_err(|error| error.to_string())?;
    drop(out);
    for thread in threads {
        thread
            .join()
            .map_err(|_| "a worker thread panicked".to_string())?;
    }
    println!("   (one \"second\" here is {} ms)", SECOND.as_millis());
    Ok(())
}

/// Counts primes below `limit` on `threads` threads; returns (wall, CPU) time.
fn primes_on_threads(limit: u64, threads: u64) -> Result<(Duration, Duration, u64), String> {
    let cpu = self_cpu();
    let wall = Instant::now();
    let step = limit.div_ceil(threads);
    let handles = (0..threads)
        .map(|i| {
            let range = (i * step, ((i + 1) * step).min(limit));
            std::thread::Builder::new()
                .spawn(move || count_primes(range))
                .map_err(|error| format!("cannot start a thread: {error}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut primes = 0;
    for handle in handles {
        primes += handle
            .join()
            .map_err(|_| "a counting thread panicked".to_string())?;
    }
    Ok((wall.elapsed(), self_cpu() - cpu, primes))
}

/// CPU-bound work on 1 thread, then on one per core: CPU time ≈ cores × wall time.
pub fn parallel_threads() -> Result<(), String> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let threads = cores.max(2);
    let limit = 1_500_000;
    println!("   Counting the primes below {limit}, by trial division:");
    println!(
        "   {:<12} {:>10} {:>10} {:>14}",
        "threads", "wall ms", "CPU ms", "CPU / wall"
    );
    for n in [1, threads] {
        let (wall, cpu, primes) = primes_on_threads(limit, n)?;
        println!(
            "   {:<12} {:>10} {:>10} {:>14.2}   ({primes} primes)",
            n,
            ms(wall),
            ms(cpu),
            cpu.as_secs_f64() / wall.as_secs_f64().max(1e-9)
        );
    }
    println!(
        "   This machine has {cores} core(s). CPU / wall near {threads} means {threads} threads \
         computed at the same time; under CPython's GIL it stays near 1 however many threads."
    );
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        let load = load.split_whitespace().next().unwrap_or("?");
        println!(
            "   (Load average now: {load}. Other programs running on the cores lower both ratios.)"
        );
    }
    Ok(())
}
