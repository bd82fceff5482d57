//! Shared by the model files: assert that a model of buggy code fails, and time each check.
#![allow(dead_code)] // each test file uses some of these
//!
//! A failing interleaving may end in loom's deadlock report, after which loom's state is
//! gone and the destructors unwinding through the runtime abort the process. So a buggy
//! model runs in a child process (this test binary again, told by an environment variable
//! to run just that model), and the parent asserts that the child failed with the expected
//! report.

use std::process::Command;
use std::time::Instant;

const CHILD: &str = "SPINDLE_USER_CRATE_MODEL";

/// In the parent: runs the test `test` of this binary in a child process and asserts that
/// it failed and that its output contains `expected` (the panic message or loom's
/// "deadlock"). In the child (`test` is the one asked for): runs `model`, which must panic.
pub fn assert_model_fails(test: &str, expected: &str, model: impl FnOnce()) {
    assert_model_fails_within(test, expected, None, model);
}

/// [`assert_model_fails`], and the failing interleaving must be found within `limit`
/// interleavings (`spindle::model` prints the number of the one that failed): a count that
/// depends only on the model and the runtime, not on the machine, so a runtime whose own
/// machinery creeps back into users' models fails here deterministically.
pub fn assert_model_fails_within(
    test: &str,
    expected: &str,
    limit: Option<usize>,
    model: impl FnOnce(),
) {
    if std::env::var(CHILD).as_deref() == Ok(test) {
        model();
        panic!("{test}: the buggy version passed every interleaving: the model proves nothing");
    }
    let start = Instant::now();
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            test,
            "--include-ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD, test)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("running the model in a child process");
    let elapsed = start.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        !output.status.success(),
        "{test}: the buggy version passed: {stdout}{stderr}"
    );
    assert!(
        stderr.contains(expected) || stdout.contains(expected),
        "{test}: failed, but not with {expected:?}:\n{stdout}{stderr}"
    );
    assert!(
        !stderr.contains("passed every interleaving"),
        "{test}: the buggy version passed every interleaving"
    );
    let failed_at = stderr
        .lines()
        .find_map(|line| line.strip_prefix("spindle::model: interleaving "))
        .and_then(|rest| rest.strip_suffix(" failed"))
        .and_then(|number| number.parse::<usize>().ok());
    eprintln!(
        "{test}: bug found ({expected:?}) in interleaving {} after {:.2} s",
        failed_at.map_or_else(|| "?".to_string(), |n| n.to_string()),
        elapsed.as_secs_f64()
    );
    if let Some(limit) = limit {
        let failed_at = failed_at.unwrap_or_else(|| {
            panic!("{test}: spindle::model did not say which interleaving failed:\n{stderr}")
        });
        assert!(
            failed_at <= limit,
            "{test}: the bug was found in interleaving {failed_at}, over the limit of {limit}"
        );
    }
}

/// Runs `check` (a model of the fixed code), which must pass; prints time and iterations.
/// In a child process started for another test, does nothing.
pub fn assert_model_passes(name: &str, check: impl FnOnce() -> spindle::model::Report) {
    assert_model_passes_within(name, None, check);
}

/// [`assert_model_passes`], in at most `limit` interleavings (a deterministic bound, as in
/// [`assert_model_fails_within`]).
pub fn assert_model_passes_within(
    name: &str,
    limit: Option<usize>,
    check: impl FnOnce() -> spindle::model::Report,
) {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let start = Instant::now();
    let report = check();
    let elapsed = start.elapsed();
    eprintln!(
        "{name}: passed {} interleavings in {:.2} s",
        report.iterations,
        elapsed.as_secs_f64()
    );
    if let Some(limit) = limit {
        assert!(
            report.iterations <= limit,
            "{name}: {} interleavings, over the limit of {limit}",
            report.iterations
        );
    }
}
