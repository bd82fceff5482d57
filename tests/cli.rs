//! The `spindle` binary, run as a user runs it: exit codes, step headings, and the T1/T2/T3
//! step's counters read back from its own output.

use std::process::{Command, Output};

fn spindle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spindle"))
        .args(args)
        .output()
        .expect("the spindle binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

/// The `wasted_polls` column of the metrics table row that starts with `scheduler`.
fn wasted_polls(tour: &str, scheduler: &str) -> u64 {
    let row = tour
        .lines()
        .map(str::trim)
        .find(|line| {
            line.strip_prefix(scheduler)
                .is_some_and(|rest| rest.starts_with(char::is_whitespace))
                && line
                    .split_whitespace()
                    .last()
                    .unwrap()
                    .parse::<u64>()
                    .is_ok()
        })
        .unwrap_or_else(|| panic!("no metrics row for {scheduler:?} in:\n{tour}"));
    row.split_whitespace().last().unwrap().parse().unwrap()
}

fn check_tour(output: &Output) {
    let text = stdout(output);
    assert!(
        output.status.success(),
        "status {:?}\nstdout:\n{text}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("== Step 1/"), "no step heading in:\n{text}");
    assert!(
        text.contains("T1, T2, T3"),
        "no T1/T2/T3 heading in:\n{text}"
    );
    assert!(
        text.contains("What to notice:"),
        "no notice line in:\n{text}"
    );
    assert!(
        text.contains("poll T3: data ready"),
        "no poll lines in:\n{text}"
    );
    let naive = wasted_polls(&text, "naive");
    let spindle = wasted_polls(&text, "spindle current-thread");
    assert!(naive > 0, "the naive scheduler wasted no polls:\n{text}");
    assert_eq!(spindle, 0, "spindle wasted polls:\n{text}");
    // Each wasted poll is also visible as it happens.
    assert!(text.contains("still waiting (wasted)"), "{text}");
}

#[test]
fn default_command_runs_the_tour() {
    check_tour(&spindle(&[]));
}

#[test]
fn tour_subcommand_runs_the_tour() {
    check_tour(&spindle(&["tour"]));
}

#[test]
fn help_exits_zero_and_lists_the_steps() {
    for args in [&["--help"][..], &["-h"][..], &["tour", "--help"][..]] {
        let output = spindle(args);
        let text = stdout(&output);
        assert!(output.status.success(), "{args:?}: {:?}", output.status);
        assert!(text.contains("Usage:"), "{args:?}:\n{text}");
        assert!(text.contains("T1, T2, T3"), "{args:?}:\n{text}");
    }
}

#[test]
fn bad_arguments_exit_2_with_one_error_line() {
    for (args, word) in [
        (&["--bogus"][..], "--bogus"),
        (&["frobnicate"][..], "frobnicate"),
        (&["tour", "--fast"][..], "--fast"),
    ] {
        let output = spindle(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("spindle: error:"), "{args:?}: {stderr}");
        assert!(stderr.contains(word), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?} printed to stdout");
    }
}
