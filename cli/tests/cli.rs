//! The `spindle` binary, run as a user runs it: the tour's steps, `choose`'s table and
//! verdicts checked against its own numbers, `trace`'s JSON, help and usage errors.

// serde_json is a dev-dependency outside loom builds only, like the benchmark peers.
#![cfg(not(loom))]

use std::collections::HashMap;
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

fn assert_success(output: &Output) -> String {
    let text = stdout(output);
    assert!(
        output.status.success(),
        "status {:?}\nstdout:\n{text}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    text
}

/// The tour's step headings, as `--help` lists them ("  1. heading").
fn listed_steps() -> Vec<String> {
    let help = assert_success(&spindle(&["--help"]));
    let steps: Vec<String> = help
        .lines()
        .skip_while(|line| !line.starts_with("Tour steps:"))
        .skip(1)
        .map_while(|line| {
            let (number, heading) = line.trim().split_once(". ")?;
            number.parse::<usize>().ok()?;
            Some(heading.to_owned())
        })
        .collect();
    assert!(steps.len() >= 9, "too few steps listed in:\n{help}");
    steps
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
    let text = assert_success(output);
    let steps = listed_steps();
    for (number, heading) in steps.iter().enumerate() {
        let line = format!("== Step {}/{}: {heading}", number + 1, steps.len());
        assert!(text.contains(&line), "no {line:?} in:\n{text}");
    }
    assert_eq!(
        text.matches("What to notice:").count(),
        steps.len(),
        "{text}"
    );
    // Threads: the article's order of output.
    let queued = text.find("All Threads are queued").expect("threads step");
    let first_worker = text.find("I am Worker").expect("a worker reports");
    assert!(queued < first_worker, "{text}");
    // Processes, Pool.map, futures, crash.
    assert!(text.contains("All Processes are queued"), "{text}");
    assert!(text.contains("[1, 4, 9]"), "{text}");
    assert!(text.contains("thread pool:  done: false"), "{text}");
    // A worker process cannot be held back like the pool thread above, so a tour process
    // stalled for the job's 300 ms could truthfully print `true`: either is a correct line.
    assert!(
        text.contains("process pool: done: false") || text.contains("process pool: done: true"),
        "{text}"
    );
    assert!(text.contains("hello from a worker process"), "{text}");
    assert!(text.contains("killed by signal"), "{text}");
    assert!(text.contains("[1, 4, 9, 16, 25, 36]"), "{text}");
    // The event loop.
    assert!(text.contains("Loop: 1 Time:") && text.contains("Loop: 2 Time:"));
    // T1/T2/T3 under both schedulers, counters read from the table.
    assert!(text.contains("poll T3: data ready"), "{text}");
    assert!(text.contains("still waiting (wasted)"), "{text}");
    assert!(wasted_polls(&text, "naive") > 0, "{text}");
    assert_eq!(wasted_polls(&text, "spindle current-thread"), 0, "{text}");
    // The same inside one task: the last column of the combinator table is
    // `wasted_branch_polls`.
    assert!(wasted_polls(&text, "poll every branch") > 0, "{text}");
    assert_eq!(wasted_polls(&text, "spindle::join!"), 0, "{text}");
    // T1/T2/T3 on sockets: 6 polls, 0 wasted.
    assert!(
        text.contains("runtime metrics for the three tasks: 6 polls"),
        "{text}"
    );
    assert!(
        text.contains("(3 first polls + 1 per answer), 0 wasted"),
        "{text}"
    );
    assert!(text.contains("End of the tour"), "{text}");
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
fn help_exits_zero_on_every_subcommand() {
    for args in [
        &["--help"][..],
        &["-h"][..],
        &["help"][..],
        &["tour", "--help"][..],
        &["choose", "--help"][..],
        &["trace", "--help"][..],
        &["help", "choose"][..],
    ] {
        let output = spindle(args);
        let text = assert_success(&output);
        assert!(text.contains("Usage:"), "{args:?}:\n{text}");
    }
    let tour_help = stdout(&spindle(&["tour", "--help"]));
    assert!(tour_help.contains("T1, T2, T3"), "{tour_help}");
    let choose_help = stdout(&spindle(&["choose", "--help"]));
    assert!(choose_help.contains("--slow-connections"), "{choose_help}");
    let trace_help = stdout(&spindle(&["trace", "--help"]));
    assert!(trace_help.contains("--out"), "{trace_help}");
}

#[test]
fn bad_arguments_exit_2_with_one_error_line() {
    for (args, word) in [
        (&["--bogus"][..], "--bogus"),
        (&["frobnicate"][..], "frobnicate"),
        (&["tour", "--fast"][..], "--fast"),
        (&["choose", "--chunks", "0"][..], "0"),
        (&["choose", "--slow-connections", "many"][..], "many"),
        (&["choose", "--no-such-flag"][..], "--no-such-flag"),
        (&["trace", "--out"][..], "--out"),
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

/// One row of `choose`'s table.
#[derive(Debug)]
struct Row {
    workload: String,
    form: String,
    wall: f64,
    cpu: f64,
}

/// Which family each form belongs to, and the article's advice per workload.
fn family(form: &str) -> &'static str {
    match form {
        "thread per job" | "thread pool" => "threads",
        "process pool" => "processes",
        "async tasks" => "async (asyncio)",
        other => panic!("unknown form {other:?}"),
    }
}

#[test]
fn choose_prints_a_complete_table_and_verdicts_that_follow_from_it() {
    let output = spindle(&[
        "choose",
        "--primes-below",
        "30000",
        "--chunks",
        "4",
        "--fast-connections",
        "2",
        "--fast-rounds",
        "20",
        "--slow-connections",
        "40",
        "--slow-delay-ms",
        "2",
        "--pool-threads",
        "4",
        "--processes",
        "2",
        "--async-workers",
        "2",
    ]);
    let text = assert_success(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("[12/12] running"),
        "no progress lines:\n{stderr}"
    );

    let rows: Vec<Row> = text
        .lines()
        .filter(|line| line.starts_with("| ") && !line.starts_with("| workload"))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            assert_eq!(cells.len(), 6, "{line}");
            Row {
                workload: cells[0].to_owned(),
                form: cells[1].to_owned(),
                wall: cells[2]
                    .parse()
                    .unwrap_or_else(|_| panic!("wall in {line}")),
                cpu: cells[3].parse().unwrap_or_else(|_| panic!("CPU in {line}")),
            }
        })
        .collect();
    let workloads = ["cpu-bound", "fast-io-few-conns", "slow-io-many-conns"];
    let forms = [
        "thread per job",
        "thread pool",
        "process pool",
        "async tasks",
    ];
    assert_eq!(rows.len(), 12, "{text}");
    for workload in workloads {
        for form in forms {
            assert!(
                rows.iter()
                    .any(|r| r.workload == workload && r.form == form),
                "no row for {workload} / {form}:\n{text}"
            );
        }
    }

    // The rule as printed is the rule recomputed here.
    let rule = text
        .lines()
        .find(|line| line.starts_with("Rule: "))
        .expect("the rule is printed");
    assert!(rule.contains("lowest wall time"), "{rule}");
    assert!(rule.contains("1.10 x the lowest"), "{rule}");
    assert!(rule.contains("lowest CPU time"), "{rule}");
    assert!(rule.contains("first listed"), "{rule}");

    let article: HashMap<&str, &str> = [
        ("cpu-bound", "processes"),
        ("fast-io-few-conns", "threads"),
        ("slow-io-many-conns", "async (asyncio)"),
    ]
    .into_iter()
    .collect();
    for workload in workloads {
        let mine: Vec<&Row> = rows.iter().filter(|r| r.workload == workload).collect();
        let fastest = mine.iter().map(|r| r.wall).fold(f64::INFINITY, f64::min);
        let winner = mine
            .iter()
            .filter(|r| r.wall <= fastest * 1.10)
            .min_by(|a, b| a.cpu.total_cmp(&b.cpu))
            .unwrap();
        let verdict = text
            .lines()
            .find(|line| line.starts_with(&format!("verdict {workload}:")))
            .unwrap_or_else(|| panic!("no verdict for {workload}:\n{text}"));
        assert!(
            verdict.contains(&format!("winner = {};", winner.form)),
            "recomputed winner {:?}, but: {verdict}\n{text}",
            winner.form
        );
        let expected = article[workload];
        assert!(
            verdict.contains(&format!("article says {expected} ->")),
            "{verdict}"
        );
        let agrees = family(&winner.form) == expected;
        let says = if agrees { "-> agrees" } else { "-> disagrees" };
        assert!(verdict.contains(says), "expected {says:?}: {verdict}");
    }
}

#[test]
fn trace_writes_chrome_json_with_a_poll_slice_on_every_worker() {
    let dir = std::env::temp_dir().join(format!("spindle-cli-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("trace.json");
    let output = spindle(&["trace", "--out", out.to_str().unwrap()]);
    let text = assert_success(&output);
    assert!(text.contains("wrote"), "{text}");

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).unwrap()).expect("the trace is valid JSON");
    let _ = std::fs::remove_dir_all(&dir);
    let events = json["traceEvents"].as_array().expect("a traceEvents array");

    // Worker tracks, by their thread_name metadata.
    let workers: Vec<u64> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .filter(|e| {
            e["args"]["name"]
                .as_str()
                .is_some_and(|name| name.starts_with("worker-"))
        })
        .map(|e| e["tid"].as_u64().unwrap())
        .collect();
    assert_eq!(workers.len(), 2, "two worker tracks: {workers:?}");
    for tid in workers {
        let slices: Vec<&serde_json::Value> = events
            .iter()
            .filter(|e| e["ph"] == "X" && e["tid"] == tid)
            .collect();
        assert!(!slices.is_empty(), "no poll slice on worker track {tid}");
        for slice in slices {
            assert!(slice["ts"].as_f64().is_some() && slice["dur"].as_f64().is_some());
            assert!(slice["args"]["task"].as_u64().is_some(), "{slice}");
            let site = slice["args"]["spawned_at"].as_str().unwrap_or_default();
            assert!(site.contains(".rs:"), "spawn site in {slice}");
        }
    }
    // Every poll is attributed to a spawn or wake, and parks and reactor turns are marked.
    let polls: Vec<_> = events.iter().filter(|e| e["ph"] == "X").collect();
    assert!(polls.iter().all(|e| e["args"]["woken_by"].is_string()));
    assert!(polls
        .iter()
        .any(|e| e["args"]["woken_by"].as_str().unwrap().starts_with("task ")));
    let instants: Vec<&str> = events
        .iter()
        .filter(|e| e["ph"] == "i")
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(instants.contains(&"park"), "{instants:?}");
    assert!(
        instants.iter().any(|name| name.starts_with("reactor turn")),
        "{instants:?}"
    );
}
