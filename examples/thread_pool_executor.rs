//! The article's `ThreadPoolExecutor` example on spindle's thread pool: submit a job to a
//! pool of three threads, get a handle back at once, and retrieve the result when it is done.
//!
//! ```text
//! def return_after_5_secs(message):
//!     sleep(5)
//!     return message
//!
//! pool = ThreadPoolExecutor(3)
//! future = pool.submit(return_after_5_secs, ("hello"))
//! print(future.done())
//! sleep(5)
//! print(future.done())
//! print(future.result())
//! ```
//!
//! Run with `cargo run --example thread_pool_executor -- [seconds]`: how long the job sleeps
//! (default 0.5 s; the article's is 5).

use std::time::Duration;

use spindle::thread_pool::ThreadPool;

fn return_after(delay: Duration, message: &'static str) -> &'static str {
    std::thread::sleep(delay);
    message
}

fn main() {
    let delay = match std::env::args().nth(1) {
        None => Duration::from_millis(500),
        Some(arg) => match arg.parse::<f64>() {
            Ok(seconds) if seconds >= 0.0 && seconds.is_finite() => {
                Duration::from_secs_f64(seconds)
            }
            _ => {
                eprintln!("usage: thread_pool_executor [seconds]   (a number >= 0, default 0.5)");
                std::process::exit(2);
            }
        },
    };

    let pool = ThreadPool::new(3);
    let future = pool.submit(move || return_after(delay, "hello"));
    // Checked at once: the job is still sleeping (unless the delay is zero).
    println!("done: {}", future.is_finished());
    // `result()` in Python: block until the value is there.
    match future.wait_timeout(delay * 2 + Duration::from_secs(5)) {
        Ok(result) => println!("result: {}", result.expect("the job only sleeps")),
        Err(_) => eprintln!("the job did not finish in time"),
    }
}
