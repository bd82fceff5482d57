//! The article's five processes: each sleeps a random 1–9 "seconds", then reports.
//!
//! ```text
//! cargo run --release --example processes [ms-per-second]
//! ```
//!
//! A "second" lasts 100 ms unless the argument says otherwise (`1000` for the article's
//! real seconds). As in the article, the parent queues all five and moves on at once; the
//! workers report in the order they wake up, each from its own process.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use spindle::process::{Jobs, ProcessPool};

/// What each process runs: sleep, then say so (this prints from the worker process).
fn worker((number, seconds, ms_per_second): (u32, u64, u64)) -> u32 {
    std::thread::sleep(Duration::from_millis(seconds * ms_per_second));
    println!(
        "I am Worker {number}, I slept for {seconds} seconds (process {})",
        std::process::id()
    );
    std::process::id()
}

fn jobs() -> Jobs {
    Jobs::new().register("worker", worker)
}

/// `random.randrange(1, 10)` without a dependency: xorshift seeded from the clock.
fn random_seconds(count: usize) -> Vec<u64> {
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

fn main() {
    spindle::process::run_worker_if_child(&jobs());

    let ms_per_second: u64 = std::env::args()
        .nth(1)
        .map(|arg| {
            arg.parse()
                .expect("the argument is milliseconds per second")
        })
        .unwrap_or(100);
    let pool = ProcessPool::builder(&jobs())
        .workers(5)
        .build()
        .expect("five worker processes start");
    let processes: Vec<_> = random_seconds(5)
        .into_iter()
        .zip(0..)
        .map(|(seconds, number)| {
            pool.submit::<(u32, u64, u64), u32>("worker", (number, seconds, ms_per_second))
        })
        .collect();
    println!("All Processes are queued, let's see when they finish!");
    let mut pids: Vec<u32> = processes
        .into_iter()
        .map(|process| process.wait().expect("the worker reports"))
        .collect();
    pids.sort_unstable();
    pids.dedup();
    println!("{} different processes did the work", pids.len());
    pool.shutdown();
}
