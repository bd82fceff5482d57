//! Shared by the model files: assert that a model fails, and time each check.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

/// Runs `check` (a model of the buggy code) and asserts that loom found the bug: the model
/// must panic. Prints how long it took, so `run.sh` shows the time to the first failure.
pub fn assert_model_fails(name: &str, check: impl FnOnce()) {
    let start = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(check));
    let elapsed = start.elapsed();
    assert!(
        outcome.is_err(),
        "{name}: the buggy version passed every interleaving: the model proves nothing"
    );
    eprintln!("{name}: bug found in {:.2} s", elapsed.as_secs_f64());
}

/// Runs `check` (a model of the fixed code), which must pass; prints time and iterations.
pub fn assert_model_passes(name: &str, check: impl FnOnce() -> spindle::model::Report) {
    let start = Instant::now();
    let report = check();
    eprintln!(
        "{name}: passed {} interleavings in {:.2} s",
        report.iterations,
        start.elapsed().as_secs_f64()
    );
}
