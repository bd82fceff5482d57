//! Tour steps: processes, `Pool.map`, pool futures, and a crash the process pool survives.

use std::time::{Duration, Instant};

use spindle::process::{ProcessError, ProcessPool};
use spindle::thread_pool::ThreadPool;

use super::jobs::jobs;
use super::threads::one_to_nine;

fn pool(workers: usize) -> Result<ProcessPool, String> {
    ProcessPool::builder(&jobs())
        .workers(workers)
        .build()
        .map_err(|error| format!("cannot start the process pool: {error}"))
}

/// The article's five processes: each sleeps 1–9 "seconds" and reports from its own process.
pub fn five_processes() -> Result<(), String> {
    let ms_per_second = 60;
    let pool = pool(5)?;
    let jobs: Vec<_> = one_to_nine(5)
        .into_iter()
        .zip(0u32..)
        .map(|(seconds, number)| {
            pool.submit::<(u32, u64, u64), u32>(
                "sleep_and_report",
                (number, seconds, ms_per_second),
            )
        })
        .collect();
    println!("   All Processes are queued, let's see when they finish!");
    let mut pids = Vec::new();
    for job in jobs {
        pids.push(job.wait().map_err(|error| error.to_string())?);
    }
    pids.sort_unstable();
    pids.dedup();
    println!(
        "   {} different processes did the work (parent is {}); one \"second\" is {ms_per_second} ms",
        pids.len(),
        std::process::id()
    );
    pool.shutdown();
    Ok(())
}

/// `Pool(5).map(f, [1, 2, 3])` with `f(x) = x * x`.
pub fn pool_map() -> Result<(), String> {
    let started = Instant::now();
    let pool = pool(5)?;
    let started_up = started.elapsed();
    let squares: Vec<u64> = pool
        .map("square", [1u64, 2, 3], None)
        .collect::<Result<_, _>>()
        .map_err(|error| error.to_string())?;
    println!("   {squares:?}");
    println!(
        "   (5 worker processes started in {:.1} ms; the whole map took {:.1} ms)",
        started_up.as_secs_f64() * 1e3,
        started.elapsed().as_secs_f64() * 1e3
    );
    pool.shutdown();
    Ok(())
}

/// `ThreadPoolExecutor(3).submit(...)` and `ProcessPoolExecutor(3).submit(...)`: a future
/// that is not done at once, awaited later from a spindle task.
pub fn pool_futures() -> Result<(), String> {
    let delay = Duration::from_millis(300);

    let threads = ThreadPool::new(3);
    let started = Instant::now();
    // The job starts its wait only once we have looked, so "done: false" is what a reader
    // sees however slowly this thread runs.
    let (looked, wait_for_look) = std::sync::mpsc::channel::<()>();
    let future = threads.submit(move || {
        let _ = wait_for_look.recv();
        std::thread::sleep(delay);
        "hello from a pool thread"
    });
    println!("   thread pool:  done: {}", future.is_finished());
    drop(looked);
    let message = spindle::block_on(async move { spindle::spawn(future).await })
        .map_err(|error| error.to_string())?
        .map_err(|error| error.to_string())?;
    println!(
        "   thread pool:  done after {} ms: {message}",
        started.elapsed().as_millis()
    );

    let processes = pool(3)?;
    let started = Instant::now();
    let future = processes.submit::<(String, u64), String>(
        "return_after",
        (
            "hello from a worker process".to_owned(),
            delay.as_millis() as u64,
        ),
    );
    println!("   process pool: done: {}", future.is_finished());
    let message = spindle::block_on(async move { spindle::spawn(future).await })
        .map_err(|error| error.to_string())?
        .map_err(|error| error.to_string())?;
    println!(
        "   process pool: done after {} ms: {message}",
        started.elapsed().as_millis()
    );
    processes.shutdown();
    Ok(())
}

/// A job aborts its worker process: that job fails, the others finish, the pool goes on.
pub fn crash_survived() -> Result<(), String> {
    let pool = pool(2)?;
    let crash = pool.submit::<u8, u8>("crash", 0);
    let others: Vec<_> = (1..=6u64)
        .map(|x| pool.submit::<u64, u64>("square", x))
        .collect();
    match crash.wait() {
        Err(error @ ProcessError::WorkerDied { .. }) => {
            println!("   the crashing job: {error}")
        }
        other => {
            return Err(format!(
                "the crashing job did not fail as expected: {other:?}"
            ))
        }
    }
    let squares = others
        .into_iter()
        .map(|job| job.wait())
        .collect::<Result<Vec<u64>, _>>()
        .map_err(|error| format!("another job failed: {error}"))?;
    println!("   the 6 jobs submitted with it: {squares:?}");
    let after: Vec<u64> = pool
        .map("square", 7..=12u64, None)
        .collect::<Result<_, _>>()
        .map_err(|error| format!("the pool did not recover: {error}"))?;
    println!(
        "   6 more jobs afterwards: {after:?} (the dead worker was reaped and replaced; \
         the pool still has {} workers)",
        pool.workers()
    );
    pool.shutdown();
    Ok(())
}
