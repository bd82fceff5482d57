//! The runtime's lifecycle and its executors (issue 11 §1 and §3): what survives a dropped
//! runtime, wakes from thread-local destructors, several `block_on` callers, the budget of a
//! `block_on` future, `spawn_local` off the driving thread, invalid builder settings. Each
//! scenario runs on spindle and on tokio.
//!
//! Each scenario is written once, in [`on_both!`]; where spindle deliberately differs, or
//! only spindle is checked, the test says why.
//!
//! Scenarios that could hang on a broken runtime run under [`within`], which fails the test
//! after a generous bound instead of hanging the suite; scenarios that could abort the
//! process (a panic in a thread-local destructor) or that change process-wide limits
//! (`RLIMIT_NOFILE`) run in a child process: this test binary re-run on one `#[ignore]`d
//! test.

use crate::{panic_message, within, HANG};
use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::task::{Poll, Waker};
use std::time::Duration;

/// Re-runs this binary on the ignored test `name` with `SPINDLE_DIFF_CHILD` set (to
/// `value`), and returns whether it succeeded, failing if it runs longer than [`HANG`].
fn run_child(name: &str, value: &str) -> bool {
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            name,
            "--test-threads=1",
            "--nocapture",
        ])
        .env("SPINDLE_DIFF_CHILD", value)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (done, status) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait());
    });
    match status.recv_timeout(HANG) {
        Ok(status) => status.unwrap().success(),
        Err(_) => {
            // SAFETY: kill only sends a signal to the child we started (it has not been
            // reaped: its waiter thread is still in `wait`).
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            panic!("child {name} ({value}) hung for {HANG:?}");
        }
    }
}

/// The value of `SPINDLE_DIFF_CHILD` in a child run.
fn child_role() -> String {
    std::env::var("SPINDLE_DIFF_CHILD").expect("run by `run_child` only")
}

/// A connected loopback pair: our end as a std stream (nonblocking, for the runtime to
/// adopt) and the peer's.
fn tcp_pair() -> (std::net::TcpStream, std::net::TcpStream) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let ours = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (peer, _) = listener.accept().unwrap();
    ours.set_nonblocking(true).unwrap();
    (ours, peer)
}

// ---------------------------------------------------------------------------------------
// §1: a dropped runtime's resources

on_both! {
    /// A task of a one-worker multi-thread runtime stores its waker in a socket, then the
    /// runtime is dropped under it and the peer writes. Returns what another runtime's
    /// `readable` on that socket says.
    fn readable_after_the_runtime_of_the_last_waker_dropped() -> std::io::Result<()> {
        let (ours, mut peer) = tcp_pair();
        let runtime = rt::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let stream = Arc::new(
            runtime
                .block_on(async { rt::net::TcpStream::from_std(ours) })
                .unwrap(),
        );
        let (parked, is_parked) = mpsc::channel();
        let reader = stream.clone();
        // The task stores its waker in the socket, then its runtime is dropped under it.
        drop(runtime.spawn(async move {
            let mut buf = [0; 8];
            let _ = parked.send(());
            let _ = reader.readable().await;
            let _ = reader.try_read(&mut buf);
        }));
        // The poll that stores the waker has begun; the drop joins the worker, which
        // finishes that poll first.
        is_parked.recv().unwrap();
        drop(runtime);
        peer.write_all(b"x").unwrap();
        rt::current_thread().block_on(async { stream.readable().await })
    }
}

/// A socket's last stored waker belongs to a task of a dropped multi-thread runtime; then
/// another runtime polls the socket. Replacing that waker freed the dropped runtime's last
/// task, its shared state and, with them, its driver, whose drop took the socket's lock the
/// replacement held: a hang. Now the driver shut down with the runtime, and the read fails.
/// tokio: the read fails too (its driver is gone), with an error text of its own.
#[test]
fn a_stale_waker_of_a_dropped_runtime_does_not_deadlock_another() {
    let spindle = within(
        "spindle",
        readable_after_the_runtime_of_the_last_waker_dropped::spindle,
    );
    let tokio = within(
        "tokio",
        readable_after_the_runtime_of_the_last_waker_dropped::tokio,
    );
    let spindle_error = spindle.expect_err("spindle: a dropped runtime's socket fails");
    assert!(
        spindle_error.to_string().contains("shut down"),
        "spindle: {spindle_error}"
    );
    assert!(tokio.is_err(), "tokio: {tokio:?}");
}

on_both! {
    /// A runtime (multi-thread with two workers, or current-thread) makes a socket, a
    /// `Sleep` and a pending task, then is dropped while a `Handle` survives; another runtime
    /// then uses each, and the surviving handle registers a socket, makes a `Sleep` and
    /// spawns. Asserts each fails (tasks cancelled), and returns the texts of the four
    /// errors and panics: the old socket's read, the old and the late sleep, the new socket.
    fn resources_fail_after_drop(multi_thread: bool) -> Vec<String> {
        let (ours, _peer) = tcp_pair();
        let mut builder = if multi_thread {
            rt::runtime::Builder::new_multi_thread()
        } else {
            rt::runtime::Builder::new_current_thread()
        };
        if multi_thread {
            builder.worker_threads(2);
        }
        let runtime = builder.enable_all().build().unwrap();
        let handle = runtime.handle().clone();
        let pending = runtime.spawn(std::future::pending::<()>());
        let (stream, sleep) = runtime.block_on(async {
            let stream = rt::net::TcpStream::from_std(ours).unwrap();
            (stream, rt::time::sleep(Duration::from_millis(5)))
        });
        drop(runtime);
        let other = rt::current_thread();
        let mut buf = [0; 8];
        let read = other.block_on(async {
            stream.readable().await?;
            stream.try_read(&mut buf)
        });
        let read_error = read.expect_err("the socket of a dropped runtime fails");

        let polled = catch_unwind(AssertUnwindSafe(|| other.block_on(sleep)));
        let old_sleep_panic = panic_message(&*polled.expect_err("the old sleep panics"));

        let late = {
            let _entered = handle.enter();
            rt::time::sleep(Duration::from_millis(5))
        };
        let polled = catch_unwind(AssertUnwindSafe(|| other.block_on(late)));
        let late_sleep_panic = panic_message(&*polled.expect_err("the late sleep panics"));

        let joined = other.block_on(pending);
        assert!(joined.unwrap_err().is_cancelled());

        // Through the surviving handle: a new socket is refused, a new task cancelled.
        let (late_socket, _late_peer) = tcp_pair();
        let registered = {
            let _entered = handle.enter();
            rt::net::TcpStream::from_std(late_socket)
        };
        let register_error = registered.expect_err("a new socket of a dropped runtime");
        let late_task = other.block_on(handle.spawn(async { 1 }));
        assert!(late_task.unwrap_err().is_cancelled());
        vec![
            read_error.to_string(),
            old_sleep_panic,
            late_sleep_panic,
            register_error.to_string(),
        ]
    }
}

/// After a multi-thread runtime is dropped while a `Handle` and a `JoinHandle` survive, a
/// socket made in it, a `Sleep` made in it before the drop, and a `Sleep` made through the
/// surviving handle after it all fail clearly (error or panic) instead of hanging: the
/// survivors used to keep the driver alive with nobody turning it. A socket registered and a
/// task spawned through the surviving handle fail too. The current-thread flavour, which
/// always shut its driver down, runs the same scenario. tokio agrees on each failure; only
/// spindle's texts are asserted (each says the runtime shut down; tokio's are its own).
#[test]
fn a_dropped_runtimes_sockets_and_sleeps_fail_whatever_survives() {
    for multi_thread in [true, false] {
        let flavour = if multi_thread {
            "multi-thread"
        } else {
            "current-thread"
        };
        let spindle = within(&format!("spindle {flavour}"), move || {
            resources_fail_after_drop::spindle(multi_thread)
        });
        for message in spindle {
            assert!(
                message.contains("shut down"),
                "spindle {flavour}: {message}"
            );
        }
        within(&format!("tokio {flavour}"), move || {
            resources_fail_after_drop::tokio(multi_thread)
        });
    }
}

// ---------------------------------------------------------------------------------------
// §3: wakes from thread-local destructors

thread_local! {
    /// Whatever a child scenario leaves to be dropped when its thread exits.
    static AT_EXIT: RefCell<Vec<Box<dyn Send>>> = const { RefCell::new(Vec::new()) };
}

/// Drops into a waker's wake.
struct WakeOnDrop(Waker);

impl Drop for WakeOnDrop {
    fn drop(&mut self) {
        self.0.wake_by_ref();
    }
}

/// Set by [`send_waker_then_finish`] once its waker is out.
static WAKER_SENT: AtomicBool = AtomicBool::new(false);

/// A future that sends its waker out on its first poll and completes on the next.
fn send_waker_then_finish(out: mpsc::Sender<Waker>) -> impl Future<Output = ()> + Send {
    let mut sent = false;
    poll_fn(move |cx| {
        if sent {
            Poll::Ready(())
        } else {
            sent = true;
            out.send(cx.waker().clone()).unwrap();
            WAKER_SENT.store(true, SeqCst);
            Poll::Pending
        }
    })
}

/// Polls (yielding) until [`WAKER_SENT`]: a current-thread runtime runs its tasks only
/// inside `block_on`.
async fn until_the_waker_is_sent(
    yield_now: impl Fn() -> std::pin::Pin<Box<dyn Future<Output = ()>>>,
) {
    while !WAKER_SENT.load(SeqCst) {
        yield_now().await;
    }
}

/// A thread whose thread-local destructor wakes a task: `AT_EXIT` is touched first, so its
/// destructor runs after those of the thread-locals `prepare` touches (the scheduler's).
/// `prepare` may also leave things in `AT_EXIT` to be dropped before the wake.
fn wake_from_a_thread_local_destructor(waker: Waker, prepare: impl FnOnce() + Send + 'static) {
    std::thread::spawn(move || {
        AT_EXIT.with(|_| {});
        prepare();
        AT_EXIT.with(|at_exit| at_exit.borrow_mut().push(Box::new(WakeOnDrop(waker))));
    })
    .join()
    .unwrap();
}

on_both! {
    /// A task (of a current-thread or one-worker multi-thread runtime) whose waker is woken
    /// from a thread-local destructor on another thread; with `drop_a_runtime`, a runtime is
    /// dropped in such a destructor too. Completes once the woken task has.
    fn wake_from_a_destructor(multi_thread: bool, drop_a_runtime: bool) {
        let (out, wakers) = mpsc::channel();
        let runtime = if multi_thread {
            rt::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
        } else {
            rt::runtime::Builder::new_current_thread().enable_all().build()
        }
        .unwrap();
        let task = runtime.spawn(send_waker_then_finish(out));
        runtime.block_on(until_the_waker_is_sent(|| Box::pin(rt::task::yield_now())));
        let waker = wakers.recv().unwrap();
        let handle = runtime.handle().clone();
        wake_from_a_thread_local_destructor(waker, move || {
            // The scheduler's thread-locals on this thread: a current-thread runtime's core
            // slot, the context and the driving flag (by driving another runtime), a
            // worker's (by spawning onto the multi-thread one).
            let other = rt::current_thread();
            other.block_on(async {});
            drop(handle.spawn(async {}));
            if drop_a_runtime {
                // A runtime dropped in the destructor too: its shutdown enters its context.
                AT_EXIT.with(|at_exit| at_exit.borrow_mut().push(Box::new(other)));
            }
        });
        runtime.block_on(task).unwrap();
    }
}

/// Child side of `a_wake_from_a_thread_local_destructor_neither_panics_nor_aborts`.
#[test]
#[ignore = "run by its parent test in a child process"]
fn tls_wake_child() {
    let role = child_role();
    let multi_thread = role.contains("-multi");
    let drop_a_runtime = role.ends_with("+drop");
    if role.starts_with("spindle") {
        wake_from_a_destructor::spindle(multi_thread, drop_a_runtime);
    } else {
        wake_from_a_destructor::tokio(multi_thread, drop_a_runtime);
    }
}

/// A waker woken from a thread-local destructor, after the scheduler's own thread-locals on
/// that thread are gone, used to panic there, which aborts the process (both flavours).
/// Now the wake takes the injection queue and the task completes, as on tokio; a runtime
/// dropped in such a destructor (`+drop`) shuts down without panicking too.
#[test]
fn a_wake_from_a_thread_local_destructor_neither_panics_nor_aborts() {
    for runtime in ["spindle", "tokio"] {
        for flavour in ["current", "multi", "current+drop"] {
            let role = format!("{runtime}-{flavour}");
            assert!(run_child("runtime::tls_wake_child", &role), "{role}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// §3: the budget of a `block_on` future

/// Lowers this process's soft fd limit to just above the highest fd in use, then opens
/// `/dev/null` until `EMFILE`: afterwards no new fd can be made until one of the returned
/// files is dropped.
fn exhaust_fds() -> Vec<std::fs::File> {
    let probe = std::fs::File::open("/dev/null").unwrap();
    let highest = std::os::fd::AsRawFd::as_raw_fd(&probe) as libc::rlim_t;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = highest + 8;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
    let mut files = vec![probe];
    loop {
        match std::fs::File::open("/dev/null") {
            Ok(file) => files.push(file),
            Err(error) if error.raw_os_error() == Some(libc::EMFILE) => return files,
            Err(error) => panic!("open: {error}"),
        }
    }
}

on_both! {
    /// Accepts one of `listener`'s pending connections, uses up every fd, spawns a task that
    /// frees them, then accepts again until it succeeds. Returns how many accepts failed
    /// with `EMFILE` first.
    async fn accept_until_a_task_frees_fds(listener: std::net::TcpListener) -> u64 {
        let listener = rt::net::TcpListener::from_std(listener).unwrap();
        drop(listener.accept().await.unwrap());
        let spare = exhaust_fds();
        drop(rt::spawn(async move { drop(spare) }));
        let mut failed = 0u64;
        loop {
            match listener.accept().await {
                Ok(_) => return failed,
                Err(error) if error.raw_os_error() == Some(libc::EMFILE) => failed += 1,
                Err(error) => panic!("accept: {error}"),
            }
        }
    }
}

/// Child side of `an_accept_loop_in_block_on_that_gets_emfile_lets_the_tasks_run`: a
/// pending connection, no fd left to accept it with, and a spawned task that frees the fds.
/// The `block_on` future retries `accept` on `EMFILE`: without a budget it never yields, the
/// task never runs, and the loop spins for ever.
#[test]
#[ignore = "run by its parent test in a child process (it lowers RLIMIT_NOFILE)"]
fn emfile_accept_child() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    // Two pending connections: accepting the first makes the listener's readiness known,
    // so the retries on the second fail at once rather than wait for an event.
    let clients =
        [(); 2].map(|()| std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap());
    let failed_accepts = if child_role() == "spindle" {
        accept_until_a_task_frees_fds::spindle(listener)
    } else {
        accept_until_a_task_frees_fds::tokio(listener)
    };
    // The budget ran out once, then the task freed the fds.
    assert!(failed_accepts >= 1, "the limit was reached");
    drop(clients);
}

/// `block_on`'s own future spends the cooperative budget as a task does (tokio does the
/// same), so an accept loop there that keeps getting `EMFILE` yields after 128 tries and the
/// task that frees fds runs. It used to livelock: 85 M failed accepts in 29 s.
#[test]
fn an_accept_loop_in_block_on_that_gets_emfile_lets_the_tasks_run() {
    for role in ["spindle", "tokio"] {
        assert!(run_child("runtime::emfile_accept_child", role), "{role}");
    }
}

// ---------------------------------------------------------------------------------------
// §3: several `block_on` callers on one current-thread runtime

/// Ready after `turns` polls, waking itself after each pending one.
fn self_waking(turns: usize) -> impl Future<Output = usize> {
    let mut left = turns;
    poll_fn(move |cx| {
        if left == 0 {
            Poll::Ready(turns)
        } else {
            left -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
}

on_both! {
    /// One thread's `block_on` holds the core (yielding until released) while this one's
    /// `block_on` runs 20,000 self-wakes; asserts that completes, then releases the first.
    fn block_on_while_another_thread_holds_the_core() {
        let runtime = rt::current_thread();
        let (release, released) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        std::thread::scope(|scope| {
            let holder = scope.spawn(|| {
                runtime.block_on(async {
                    released.store(true, SeqCst);
                    while !release.load(SeqCst) {
                        rt::task::yield_now().await;
                    }
                })
            });
            while !released.load(SeqCst) {
                std::thread::yield_now();
            }
            assert_eq!(runtime.block_on(self_waking(20_000)), 20_000);
            release.store(true, SeqCst);
            holder.join().unwrap();
        });
    }
}

/// While one thread's `block_on` holds the core, a second thread's `block_on` polls its own
/// future (here: 20,000 self-wakes) and completes; then the first completes. Both
/// runtimes agree. (spindle's waiter list stays at one entry meanwhile; the unit test
/// `core_waiters_stay_bounded_while_a_second_block_on_waits` checks the bound.)
#[test]
fn a_second_block_on_runs_its_future_while_another_thread_holds_the_core() {
    within(
        "spindle",
        block_on_while_another_thread_holds_the_core::spindle,
    );
    within("tokio", block_on_while_another_thread_holds_the_core::tokio);
}

// ---------------------------------------------------------------------------------------
// §3: `spawn_local` off the driving thread

/// `spawn_local` on a thread that only entered the runtime (it does not drive it) is
/// refused at the spawn with a panic naming the cause; it used to be accepted and then
/// fail at the first poll, on whichever thread drove the runtime. tokio also panics at the
/// spawn (outside a `LocalSet`). Deliberate difference: inside a current-thread
/// `block_on`, spindle's `spawn_local` works without a `LocalSet` (tokio's needs one).
#[test]
fn spawn_local_on_a_thread_that_does_not_drive_the_runtime_panics_at_the_spawn() {
    let rt = spindle::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    {
        let _entered = rt.enter();
        let refused = catch_unwind(|| drop(spindle::spawn_local(async { 1 })));
        let message = panic_message(&*refused.expect_err("spindle refuses at the spawn"));
        assert!(message.contains("does not drive"), "spindle: {message}");
    }
    // Nothing was queued, and the thread that drives the runtime may still spawn locally.
    let local = rt.block_on(async {
        let shared = std::rc::Rc::new(2);
        spindle::spawn_local(async move { *shared * 3 })
            .await
            .unwrap()
    });
    assert_eq!(local, 6);
    assert_eq!(
        rt.metrics().tasks_spawned,
        1,
        "the refused spawn queued nothing"
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let _entered = rt.enter();
    let refused = catch_unwind(|| drop(tokio::task::spawn_local(async { 1 })));
    assert!(refused.is_err(), "tokio refuses at the spawn");
}

// ---------------------------------------------------------------------------------------
// §4: builder settings that cannot work

/// A thread name with a NUL byte, and more worker threads than can exist, are
/// `InvalidInput` errors from spindle's `build`; they used to panic inside it. Deliberate
/// difference, not run here: tokio 1.54 panics inside `build` on the name (naming its first
/// thread), leaving the half-built runtime leaked (LeakSanitizer reports it, which would
/// fail `ci/asan.sh`), and would try to start `usize::MAX` workers.
#[test]
fn impossible_builder_settings_are_errors_from_build() {
    for mut builder in [
        spindle::runtime::Builder::new_current_thread(),
        spindle::runtime::Builder::new_multi_thread(),
    ] {
        let error = builder.thread_name("a\0b").build().unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "{error}");
    }
    let error = spindle::runtime::Builder::new_multi_thread()
        .worker_threads(usize::MAX)
        .build()
        .unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "{error}");
}

on_both! {
    /// A `block_on` future yielding in a loop while a task sleeps 1 ms, then waits for a
    /// socket the loop writes to after the sleep. Returns `true` once the task saw both.
    async fn yield_loop_until_a_timer_then_a_socket_fires() -> bool {
        let (server, mut client) = tcp_pair();
        let server = rt::net::TcpStream::from_std(server).unwrap();
        let stage = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = stage.clone();
        rt::spawn(async move {
            rt::time::sleep(Duration::from_millis(1)).await;
            seen.store(1, SeqCst);
            server.readable().await.unwrap();
            seen.store(2, SeqCst);
        });
        let mut written = false;
        while stage.load(SeqCst) < 2 {
            if stage.load(SeqCst) == 1 && !written {
                client.write_all(b"x").unwrap();
                written = true;
            }
            rt::task::yield_now().await;
        }
        true
    }
}

/// A `block_on` future that keeps waking itself (`yield_now` in a loop) while it waits for a
/// task that waits on a timer, then on a socket: on a current-thread runtime the driver must
/// still get its turns, or neither ever fires. tokio gives the driver a turn every
/// `event_interval` polls, the future's included. (Found by an outside attacker: the
/// future's polls did not count, and with no task ready the loop never reached the driver.)
#[test]
fn a_yield_loop_in_block_on_lets_timers_and_sockets_fire() {
    let tokio_done = within("tokio", yield_loop_until_a_timer_then_a_socket_fires::tokio);
    assert!(tokio_done);
    let spindle_done = within(
        "spindle",
        yield_loop_until_a_timer_then_a_socket_fires::spindle,
    );
    assert_eq!(spindle_done, tokio_done);
}
