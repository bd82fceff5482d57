//! The jobs this binary's process pools run. The workers are this same program started
//! again: `main` calls `spindle::process::run_worker_if_child(&jobs())` before anything else.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use spindle::process::Jobs;

/// Primes in `from..to`, by trial division: plain CPU work.
pub fn count_primes((from, to): (u64, u64)) -> u64 {
    (from.max(2)..to)
        .filter(|&n| (2..).take_while(|d| d * d <= n).all(|d| n % d != 0))
        .count() as u64
}

/// One I/O job: connect to `addr`, then `rounds` times send one byte and read the server's
/// one-byte answer. Returns the bytes read.
pub fn fetch((addr, rounds): (String, u64)) -> Result<u64, String> {
    let mut stream = TcpStream::connect(&addr).map_err(|e| format!("connect {addr}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut byte = [0u8; 1];
    for _ in 0..rounds {
        stream.write_all(b"?").map_err(|e| e.to_string())?;
        stream.read_exact(&mut byte).map_err(|e| e.to_string())?;
    }
    Ok(rounds)
}

/// Every job the binary's pools may run.
pub fn jobs() -> Jobs {
    Jobs::new()
        .register("square", |x: u64| x * x)
        .register(
            "sleep_and_report",
            |(number, seconds, ms_per_second): (u32, u64, u64)| -> u32 {
                std::thread::sleep(Duration::from_millis(seconds * ms_per_second));
                // Printed by the worker process itself, as in the article.
                println!(
                    "   I am Worker {number}, I slept for {seconds} seconds (process {})",
                    std::process::id()
                );
                std::process::id()
            },
        )
        .register("return_after", |(message, ms): (String, u64)| -> String {
            std::thread::sleep(Duration::from_millis(ms));
            message
        })
        .register("pid", |_: u8| std::process::id())
        .register("crash", |_: u8| -> u8 { std::process::abort() })
        .register("count_primes", count_primes)
        .register("fetch", fetch)
}
