//! A worker program for the process pool's tests: demo jobs, well-behaved and not.
//!
//! `tests/process_pool.rs` starts pools with `worker_program(env!("CARGO_BIN_EXE_spindle-worker-demo"))`.
//! Run with `--pool-parent`, it is instead a parent that starts a pool of two workers of
//! itself, prints their pids, and waits forever (the parent-death test kills it).

use std::io::Write;
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;
use std::path::Path;
use std::time::Duration;

use spindle::process::{Jobs, ProcessPool};

/// The fd the pool hands its worker socket over on (see `spindle::process`).
const WORKER_FD: i32 = 3;

fn count_primes((from, to): (u64, u64)) -> u64 {
    (from.max(2)..to)
        .filter(|&n| (2..).take_while(|d| d * d <= n).all(|d| n % d != 0))
        .count() as u64
}

/// Writes raw bytes to the pool, bypassing the protocol, as a buggy worker would.
fn write_raw_to_pool(bytes: &[u8]) {
    // SAFETY: fd 3 is this worker's socket, owned by the serve loop that is running this
    // job and that stays blocked until the job returns; ManuallyDrop keeps us from closing
    // it, so we only borrow it for one write.
    let mut socket = ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(WORKER_FD) });
    let _ = socket.write_all(bytes);
}

/// An `atexit` handler that never returns: the worker hangs on its way out.
extern "C" fn block_forever() {
    loop {
        // SAFETY: pause(2) takes no arguments and touches no memory.
        unsafe { libc::pause() };
    }
}

fn jobs() -> Jobs {
    Jobs::new()
        .register("square", |x: u64| x * x)
        .register("pid", |_: u8| std::process::id())
        .register("sleep_ms", |ms: u64| {
            std::thread::sleep(Duration::from_millis(ms));
            ms
        })
        .register("count_primes", count_primes)
        .register("echo", |bytes: Vec<u8>| bytes)
        .register("panic", |message: String| -> u8 { panic!("{message}") })
        .register("abort", |_: u8| -> u8 { std::process::abort() })
        .register("exit", |code: i32| -> u8 { std::process::exit(code) })
        .register("sigkill_self", |_: u8| -> u8 {
            // SAFETY: kill(2) with our own pid and a signal number touches no memory.
            unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
            unreachable!("SIGKILL cannot be caught")
        })
        .register("oversized_frame", |_: u8| -> u8 {
            write_raw_to_pool(&u32::MAX.to_le_bytes());
            0
        })
        .register("malformed_frame", |_: u8| -> u8 {
            // A 9-byte body: job id 0, frame kind 77 (no such kind).
            write_raw_to_pool(&[9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 77]);
            0
        })
        .register("fork_holding_socket", |_: u8| -> u32 {
            // A child of the worker that keeps every fd the worker has, its socket to the
            // pool included (close-on-exec does not matter without an exec), and sleeps for
            // an hour. Returns its pid so the test can kill it.
            // SAFETY: the child only calls the async-signal-safe sleep(3) and _exit(2).
            match unsafe { libc::fork() } {
                0 => unsafe {
                    libc::sleep(3600);
                    libc::_exit(0)
                },
                pid => pid as u32,
            }
        })
        .register("hang_at_exit", |_: u8| -> u8 {
            // The worker will not finish exiting once told to: only SIGKILL ends it.
            // SAFETY: registers a plain `extern "C" fn()`, as atexit(3) requires.
            unsafe { libc::atexit(block_forever) };
            0
        })
        .register("gate", |path: String| -> u8 {
            // Says it started, then waits until the test opens the gate (creates `path`).
            let _ = std::fs::write(format!("{path}.started"), b"");
            while !Path::new(&path).exists() {
                std::thread::sleep(Duration::from_millis(1));
            }
            1
        })
}

/// `--pool-parent`: start two workers, print their pids, wait to be killed.
fn pool_parent() {
    let pool = ProcessPool::builder(&jobs())
        .workers(2)
        .build()
        .expect("pool starts");
    let me = std::process::id();
    let mut stdout = std::io::stdout();
    for entry in std::fs::read_dir("/proc")
        .expect("/proc is readable")
        .flatten()
    {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the parenthesised command name: state, ppid, ...
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|ppid| ppid.parse::<u32>().ok());
        if ppid == Some(me) {
            writeln!(stdout, "{pid}").unwrap();
        }
    }
    writeln!(stdout, "ready").unwrap();
    stdout.flush().unwrap();
    // Keep the pool (and its workers) alive until this process is killed.
    let _pool = pool;
    loop {
        std::thread::park();
    }
}

fn main() {
    spindle::process::run_worker_if_child(&jobs());
    if std::env::args().nth(1).as_deref() == Some("--pool-parent") {
        pool_parent();
    }
    eprintln!("spindle-worker-demo is a worker program for spindle's process pool tests");
    std::process::exit(2);
}
