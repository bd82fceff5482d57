//! The article's `ProcessPoolExecutor`: submit a job, get a future, await it from a spindle
//! task. Then a worker crashes, and the pool carries on.
//!
//! ```text
//! cargo run --release --example process_pool_executor [ms-per-second]
//! ```
//!
//! ```python
//! from concurrent.futures import ProcessPoolExecutor
//! from time import sleep
//!
//! def return_after_5_secs(message):
//!     sleep(5)
//!     return message
//!
//! pool = ProcessPoolExecutor(3)
//! future = pool.submit(return_after_5_secs, ("hello"))
//! print(future.done())
//! sleep(5)
//! print(future.done())
//! print(future.result())
//! ```
//!
//! The five seconds are 5 × 100 ms unless the argument sets the length of a "second".

use std::time::{Duration, Instant};

use spindle::process::{Jobs, ProcessError, ProcessPool};

fn return_after_5_secs((message, ms_per_second): (String, u64)) -> String {
    std::thread::sleep(Duration::from_millis(5 * ms_per_second));
    message
}

fn jobs() -> Jobs {
    Jobs::new()
        .register("return_after_5_secs", return_after_5_secs)
        .register("crash", |_: u8| -> u8 { std::process::abort() })
        .register("square", |x: u64| x * x)
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
        .workers(3)
        .build()
        .expect("three worker processes start");

    let started = Instant::now();
    let future = pool.submit::<(String, u64), String>(
        "return_after_5_secs",
        ("hello".to_owned(), ms_per_second),
    );
    println!("done: {}", future.is_finished());

    // Await it from a spindle task (a ProcessJob is a future, so it can be the task): the
    // pool's supervisor thread wakes the task when the worker's reply arrives; nothing
    // polls in between.
    let message = spindle::block_on(async move {
        let task = spindle::spawn(future);
        task.await.expect("the task completes")
    });
    println!(
        "done after {:?}: {}",
        started.elapsed(),
        message.expect("the job succeeds")
    );

    // Python's ProcessPoolExecutor marks the whole pool broken when a worker dies. Here
    // only the crashing job fails; the worker is replaced and the rest carry on.
    let crash = pool.submit::<u8, u8>("crash", 0);
    let others: Vec<_> = (1..=6u64)
        .map(|x| pool.submit::<u64, u64>("square", x))
        .collect();
    match crash.wait() {
        Err(err @ ProcessError::WorkerDied { .. }) => println!("crash survived: {err}"),
        other => println!("unexpected: {other:?}"),
    }
    let squares: Vec<u64> = others
        .into_iter()
        .map(|job| job.wait().expect("the other jobs are unaffected"))
        .collect();
    println!("the other jobs: {squares:?}");
    pool.shutdown();
}
