//! Runs one `benches/multi_thread.rs` workload on one runtime, for instruction counts under
//! callgrind (wall-clock on a shared machine is too noisy to tune by):
//!
//! ```sh
//! cargo build --release --example multi_thread_profile
//! valgrind --tool=callgrind target/release/examples/multi_thread_profile spindle yield_many 5
//! callgrind_annotate callgrind.out.<pid>
//! ```
//!
//! Arguments: the runtime (`spindle` or `tokio`), the workload (`spawn_many_local`,
//! `spawn_many_remote_idle`, `spawn_many_remote_busy`, `yield_many`, `ping_pong`,
//! `chained_spawn`) and how many times to run it (default 1) after one warm-up run; the
//! runtime has `WORKERS` workers (one number, default 2; `benches/callgrind.sh` and
//! `benches/wallclock.sh` pass it through). The
//! cost of one run is the difference between two counts taken with different repetitions
//! divided by the difference in repetitions (`benches/callgrind.sh` does this), which
//! cancels the runtime's start and shutdown. It also prints the CPU time (all threads) per
//! run and the median wall time of a run, a quick look without criterion
//! (`benches/wallclock.sh` alternates runtimes with it).
//!
//! `spawn_many_remote_busy`'s background tasks stall for a fixed time, so its count depends
//! on how fast the machine (or valgrind) runs; compare it across runs with care.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "../benches/common/multi_thread_workloads.rs"]
mod workloads;
use workloads::{spindle_rt, tokio_rt};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: multi_thread_profile <spindle|tokio> <workload> [repetitions]";
    let (runtime, workload) = match (args.first(), args.get(1)) {
        (Some(runtime), Some(workload)) => (runtime.as_str(), workload.as_str()),
        _ => panic!("{usage}"),
    };
    let repetitions: usize = args.get(2).map_or(1, |n| n.parse().expect(usage));
    let workers: usize = std::env::var("WORKERS").map_or(2, |n| {
        n.parse()
            .expect("WORKERS: one worker count for this example")
    });
    let running = Arc::new(AtomicBool::new(true));
    macro_rules! run {
        ($rt:ident, $new:path) => {{
            let rt = $new(workers);
            let run_once: fn(&_) = match workload {
                "spawn_many_local" => $rt::spawn_many_local,
                "spawn_many_remote_idle" => $rt::spawn_many_remote,
                "spawn_many_remote_busy" => {
                    $rt::start_busy(&rt, workers, &running);
                    $rt::spawn_many_remote
                }
                "yield_many" => $rt::yield_many,
                "ping_pong" => $rt::ping_pong,
                "chained_spawn" => $rt::chained_spawn,
                other => panic!("unknown workload {other}; {usage}"),
            };
            run_once(&rt); // warm-up
            let cpu_before = cpu_time();
            let mut times: Vec<Duration> = (0..repetitions)
                .map(|_| {
                    let start = Instant::now();
                    run_once(&rt);
                    start.elapsed()
                })
                .collect();
            let cpu_per_run = (cpu_time() - cpu_before) / repetitions.max(1) as u32;
            running.store(false, Relaxed);
            times.sort();
            if let Some(median) = times.get(times.len() / 2) {
                println!(
                    "{runtime} {workload} cpu_us {:.1} median_us {:.1}",
                    cpu_per_run.as_secs_f64() * 1e6,
                    median.as_secs_f64() * 1e6
                );
            }
            rt
        }};
    }
    match runtime {
        "spindle" => {
            let rt = run!(spindle_rt, workloads::spindle_runtime);
            // How the work spread over the workers, summed over every run.
            eprintln!("{:?}", rt.metrics());
        }
        "tokio" => drop(run!(tokio_rt, workloads::tokio_runtime)),
        other => panic!("unknown runtime {other}; {usage}"),
    }
}

/// CPU time used so far by all of this process's threads (Linux: the first field of each
/// `/proc/self/task/*/schedstat`, in nanoseconds). Less sensitive than wall time to other
/// processes competing for the cores, though not to what they do to the caches.
fn cpu_time() -> Duration {
    let tasks = std::fs::read_dir("/proc/self/task").expect("Linux /proc");
    let nanos = tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(nanos)
}
