//! A child process used outside the runtime that spawned it, on spindle and on tokio: awaited
//! in another runtime while its own runs, and awaited after its own shut down.

use std::time::{Duration, Instant};

use crate::children;

/// The hang guard of every wait below; a correct run never gets near it.
const HANG: Duration = Duration::from_secs(30);

/// How long the wait for a running child of a dropped runtime may take before it counts as
/// hung: spindle fails it on its first poll, and tokio's never ends (the log says which).
const HUNG_AFTER: Duration = Duration::from_secs(2);

/// Polls `try_wait` until the (killed) child is reaped, within [`HANG`].
fn reaped(mut try_wait: impl FnMut() -> std::io::Result<Option<std::process::ExitStatus>>) {
    let deadline = Instant::now() + HANG;
    while try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "the killed child was never reaped"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The same scenario on both: what `wait` gives for a child spawned in a multi-thread
/// runtime and awaited in a current-thread one, and, once the spawning runtime is dropped,
/// for a child that exited and for one still running (each wait is bounded; a hang logs
/// "hung"). `$pid` gives a child's pid (tokio's `id` is an `Option`).
macro_rules! child_outside_its_runtime {
    ($krate:ident, $timeout:path, $pid:expr) => {{
        let mut log = Vec::new();
        let other = $krate::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let owner = $krate::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (mut awaited, mut exited, mut running) = {
            let _entered = owner.enter();
            let spawn = |args: &[&str]| {
                $krate::process::Command::new(args[0])
                    .args(&args[1..])
                    .spawn()
                    .unwrap()
            };
            (
                spawn(&["sh", "-c", "exit 4"]),
                spawn(&["sh", "-c", "exit 5"]),
                spawn(&["sleep", "600"]),
            )
        };
        let wait = |child: &mut $krate::process::Child, bound| match other
            .block_on(async { $timeout(bound, child.wait()).await })
        {
            Ok(Ok(status)) => format!("{:?}", status.code()),
            Ok(Err(_)) => "an error".to_owned(),
            Err(_) => "hung".to_owned(),
        };
        log.push(format!(
            "awaited in another runtime: {}",
            wait(&mut awaited, HANG)
        ));
        drop(owner);
        children::until_exited_unreaped(($pid)(&exited));
        log.push(format!(
            "exited, after the owner's drop: {}",
            wait(&mut exited, HANG)
        ));
        log.push(format!(
            "running, after the owner's drop: {}",
            wait(&mut running, HUNG_AFTER)
        ));
        running.start_kill().unwrap();
        reaped(|| running.try_wait());
        log
    }};
}

/// spindle and tokio agree on the first two: a child awaited in another runtime while its
/// own runs gives its status, and after its own runtime is dropped an exited child still
/// gives its status. spindle deliberately differs on the third: a running child of a dropped
/// runtime fails its `wait` with "the runtime owning this resource has shut down"
/// (tests/process_command.rs), as every I/O resource of a dropped runtime does, where
/// tokio's `wait` never returns.
#[test]
fn a_child_awaited_outside_the_runtime_that_spawned_it() {
    let agreed = [
        "awaited in another runtime: Some(4)",
        "exited, after the owner's drop: Some(5)",
    ];
    let tokio = child_outside_its_runtime!(
        tokio,
        tokio::time::timeout,
        |child: &tokio::process::Child| child.id().expect("not reaped yet")
    );
    assert_eq!(
        tokio,
        [
            agreed[0],
            agreed[1],
            "running, after the owner's drop: hung"
        ],
        "tokio (the oracle changed)"
    );
    let spindle = child_outside_its_runtime!(
        spindle,
        spindle::time::timeout,
        |child: &spindle::process::Child| child.id().expect("not reaped yet")
    );
    assert_eq!(
        spindle,
        [
            agreed[0],
            agreed[1],
            "running, after the owner's drop: an error"
        ]
    );
}
