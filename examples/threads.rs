//! The article's threads example on spindle's thread pool: five workers each sleep a random
//! 1–9 "seconds" and report when they finish; the main thread does not wait for them before
//! printing that they are all queued.
//!
//! ```text
//! def worker(number):
//!     sleep = random.randrange(1, 10)
//!     time.sleep(sleep)
//!     print("I am Worker {}, I slept for {} seconds".format(number, sleep))
//!
//! for i in range(5):
//!     t = threading.Thread(target=worker, args=(i,))
//!     t.start()
//! print("All Threads are queued, let's see when they finish!")
//! ```
//!
//! Run with `cargo run --example threads -- [seconds-per-second]`: how long one of the
//! article's seconds lasts here (default 0.2, so the whole run takes under 2 s; pass 1 for
//! the article's timing).

use std::io::{self, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use spindle::thread_pool::ThreadPool;

/// A small xorshift generator: enough randomness for sleep lengths, no dependency.
struct Random(u64);

impl Random {
    fn seeded() -> Random {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        Random(nanos | 1)
    }

    /// A whole number in 1..=9, like `random.randrange(1, 10)`.
    fn one_to_nine(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        1 + self.0 % 9
    }
}

fn main() {
    let scale: f64 = match std::env::args().nth(1) {
        None => 0.2,
        Some(arg) => match arg.parse() {
            Ok(scale) if scale >= 0.0 && f64::is_finite(scale) => scale,
            _ => {
                eprintln!("usage: threads [seconds-per-second]   (a number >= 0, default 0.2)");
                std::process::exit(2);
            }
        },
    };
    let mut random = Random::seeded();
    let pool = ThreadPool::builder()
        .max_threads(5)
        .name_prefix("worker")
        .build()
        .expect("five threads is a valid pool");

    // Holding stdout while queueing makes the article's point certain rather than likely:
    // a worker that finishes early still prints after this line.
    let mut out = io::stdout().lock();
    let workers: Vec<_> = (0..5)
        .map(|number| {
            let sleep = random.one_to_nine();
            pool.submit(move || {
                std::thread::sleep(Duration::from_secs_f64(sleep as f64 * scale));
                println!("I am Worker {number}, I slept for {sleep} seconds");
            })
        })
        .collect();
    writeln!(out, "All Threads are queued, let's see when they finish!").unwrap();
    drop(out);

    for worker in workers {
        worker.wait().expect("a worker only sleeps and prints");
    }
}
