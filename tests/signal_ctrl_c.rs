//! `examples/ctrl_c.rs`, run as a child process and sent SIGINT: it must notice it and exit
//! cleanly (status 0) instead of being killed by the signal. The example's code is compiled
//! into this test binary, which re-runs itself as the child (an `#[ignore]`d test that calls
//! the example's `main`).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[allow(dead_code)]
#[path = "../examples/ctrl_c.rs"]
mod example;

#[test]
#[ignore = "run as the child of sigint_makes_the_ctrl_c_example_exit_cleanly"]
fn ctrl_c_example_child() {
    example::main();
}

#[test]
fn sigint_makes_the_ctrl_c_example_exit_cleanly() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "ctrl_c_example_child",
            "--nocapture",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // Wait for the example to say its listener exists (lines before it are libtest's).
    loop {
        let line = lines
            .next()
            .expect("the child ended before waiting")
            .unwrap();
        if line.starts_with("waiting for ctrl-c") {
            break;
        }
    }
    let sent = Instant::now();
    // SAFETY: `kill` takes a pid and a signal number and touches no memory of ours; the pid
    // is our unreaped child's, so it names no other process.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) },
        0
    );
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}, output {rest:?}");
    assert!(
        rest.iter().any(|line| line == "got ctrl-c, shutting down"),
        "{rest:?}"
    );
    // The example's own timeout is 30 s: it must have reacted to the signal, not timed out.
    assert!(sent.elapsed() < Duration::from_secs(30));
}
