//! The guided tour: an ordered list of steps, each a heading, what to notice, and a function
//! that runs it live. To add a step, write its function (in a sibling module) and append it
//! to [`STEPS`] at the place the article reaches it.

use super::{event_loop, processes, t1_t2_t3, threads};

/// One stop of the tour.
pub struct Step {
    /// One line: what this step shows.
    pub heading: &'static str,
    /// One line: what the reader should look for in the output.
    pub notice: &'static str,
    /// Runs the step, printing as it goes. A few seconds at most.
    pub run: fn() -> Result<(), String>,
}

/// The tour, in the article's order.
pub const STEPS: &[Step] = &[
    Step {
        heading: "Threads: five workers that sleep and report",
        notice: "\"All Threads are queued\" comes first; the workers then finish in order of \
                 their sleeps, not of their numbers",
        run: threads::five_threads,
    },
    Step {
        heading: "No GIL: Rust threads run CPU-bound work in parallel",
        notice: "with one thread per core, CPU time is about cores x wall time: the threads \
                 computed at the same time",
        run: threads::parallel_threads,
    },
    Step {
        heading: "Processes: five worker processes that sleep and report",
        notice: "each line is printed by a different process (its pid is shown)",
        run: processes::five_processes,
    },
    Step {
        heading: "Pool.map: Pool(5).map(f, [1, 2, 3]) with f(x) = x * x",
        notice: "[1, 4, 9], computed in worker processes that are this same binary started again",
        run: processes::pool_map,
    },
    Step {
        heading: "Pool futures: submit to a thread pool and a process pool, await from a task",
        notice: "done is false at first; the task awaiting the future is woken once, when the \
                 result arrives",
        run: processes::pool_futures,
    },
    Step {
        heading: "The event loop: two display_date coroutines on one thread",
        notice: "the two loops interleave on one thread; wasted polls stay 0",
        run: event_loop::display_date_pair,
    },
    Step {
        heading: "T1, T2, T3: which tasks get polled when data arrives",
        notice: "naive polls T1 and T2 while only T3's data is ready; spindle polls only the task \
                 whose waker fired; then the same inside one task, as join! branches",
        run: t1_t2_t3::run,
    },
    Step {
        heading: "T1, T2, T3 on real loopback sockets",
        notice: "each answer costs exactly one poll, of the task it was for: 6 polls, 0 wasted",
        run: event_loop::t1_t2_t3_sockets,
    },
    Step {
        heading: "A crash survived: a job aborts its worker process",
        notice: "only the crashing job fails (WorkerDied); the jobs around it and after it succeed",
        run: processes::crash_survived,
    },
];

/// Runs every step in order; stops at the first that fails.
pub fn run() -> Result<(), String> {
    let tour = std::time::Instant::now();
    println!("spindle tour: {} steps", STEPS.len());
    for (number, step) in STEPS.iter().enumerate() {
        println!();
        println!("== Step {}/{}: {}", number + 1, STEPS.len(), step.heading);
        println!("   What to notice: {}", step.notice);
        println!();
        let started = std::time::Instant::now();
        (step.run)().map_err(|error| format!("step {} failed: {error}", number + 1))?;
        println!("   ({:.1} s)", started.elapsed().as_secs_f64());
    }
    println!();
    println!(
        "End of the tour ({:.1} s). Next: `spindle choose` measures which form suits which \
         workload on this machine; `spindle trace` records what the scheduler did.",
        tour.elapsed().as_secs_f64()
    );
    Ok(())
}
