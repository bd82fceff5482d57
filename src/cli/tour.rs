//! The guided tour: an ordered list of steps, each a heading, what to notice, and a function
//! that runs it live. To add a step, write its function (in a sibling module) and append it
//! to [`STEPS`] at the place the article reaches it.

use crate::t1_t2_t3;

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
pub const STEPS: &[Step] = &[Step {
    heading: "T1, T2, T3: which tasks get polled when data arrives",
    notice: "naive polls T1 and T2 while only T3's data is ready; spindle polls only the task \
             whose waker fired",
    run: t1_t2_t3::run,
}];

/// Runs every step in order; stops at the first that fails.
pub fn run() -> Result<(), String> {
    println!("spindle tour: {} step(s)", STEPS.len());
    for (number, step) in STEPS.iter().enumerate() {
        println!();
        println!("== Step {}/{}: {}", number + 1, STEPS.len(), step.heading);
        println!("   What to notice: {}", step.notice);
        println!();
        (step.run)().map_err(|error| format!("step {} failed: {error}", number + 1))?;
    }
    println!();
    println!("End of the tour.");
    Ok(())
}
