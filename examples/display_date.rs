//! The article's asyncio example on spindle: two coroutines print their loop number and the
//! time, then sleep a random 0–5 seconds, until their end time. While one sleeps the other
//! runs; while both sleep, the thread sleeps in `epoll_wait` until the nearer deadline.
//!
//! ```text
//! async def display_date(num, loop):
//!     end_time = loop.time() + 50.0
//!     while True:
//!         print("Loop: {} Time: {}".format(num, datetime.datetime.now()))
//!         if (loop.time() + 1.0) >= end_time:
//!             break
//!         await asyncio.sleep(random.randint(0, 5))
//! ```
//!
//! Run with `cargo run --example display_date -- [seconds]` (default 6 s; the article uses 50).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use spindle::time::{sleep, Instant};

/// A small xorshift generator: enough randomness for sleep lengths, no dependency.
struct Random(u64);

impl Random {
    fn seeded(num: u64) -> Random {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        Random((nanos ^ num.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1)
    }

    /// A whole number of seconds in 0..=5, like `random.randint(0, 5)`.
    fn seconds_0_to_5(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % 6
    }
}

/// Wall-clock time of day, UTC, as HH:MM:SS.mmm.
fn now_utc() -> String {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = since_epoch.as_secs() % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:03} UTC",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
        since_epoch.subsec_millis()
    )
}

async fn display_date(num: u64, run_for: Duration) {
    let end_time = Instant::now() + run_for;
    let mut random = Random::seeded(num);
    loop {
        println!("Loop: {num} Time: {}", now_utc());
        if Instant::now() + Duration::from_secs(1) >= end_time {
            break;
        }
        sleep(Duration::from_secs(random.seconds_0_to_5())).await;
    }
}

fn main() {
    let seconds: f64 = match std::env::args().nth(1) {
        Some(arg) => match arg.parse() {
            Ok(seconds) if seconds >= 0.0 => seconds,
            _ => {
                eprintln!("usage: display_date [seconds]   (a non-negative number)");
                std::process::exit(2);
            }
        },
        None => 6.0,
    };
    let run_for = Duration::from_secs_f64(seconds);
    let rt = spindle::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let first = spindle::spawn(display_date(1, run_for));
        let second = spindle::spawn(display_date(2, run_for));
        first.await.unwrap();
        second.await.unwrap();
    });
    let metrics = rt.metrics();
    println!(
        "{} task polls, {} wasted, {} parks",
        metrics.polls, metrics.wasted_polls, metrics.parks
    );
}
