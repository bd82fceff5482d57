//! The runtime's lifecycle and its executors (issue 11 §1 and §3): what survives a dropped
//! runtime, wakes from thread-local destructors, several `block_on` callers, the budget of a
//! `block_on` future, `spawn_local` off the driving thread, invalid builder settings. Each
//! scenario runs on spindle and on tokio.
//!
//! Scenarios that could hang on a broken runtime run under [`within`], which fails the test
//! after a generous bound instead of hanging the suite; scenarios that could abort the
//! process (a panic in a thread-local destructor) or that change process-wide limits
//! (`RLIMIT_NOFILE`) run in a child process: this test binary re-run on one `#[ignore]`d
//! test.

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::task::{Poll, Waker};
use std::time::Duration;

/// Long enough for any healthy run on a loaded machine; only a hang reaches it.
const HANG: Duration = Duration::from_secs(30);

/// Runs `f` on a thread and returns its result, failing the test if it takes longer than
/// [`HANG`] (the thread is left behind; the process ends with the test binary).
fn within<R: Send + 'static>(what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(catch_unwind(AssertUnwindSafe(f)));
    });
    match result.recv_timeout(HANG) {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("{what}: hung for {HANG:?}"),
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

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

/// A socket's last stored waker belongs to a task of a dropped multi-thread runtime; then
/// another runtime polls the socket. Replacing that waker freed the dropped runtime's last
/// task, its shared state and, with them, its driver, whose drop took the socket's lock the
/// replacement held: a hang. Now the driver shut down with the runtime, and the read fails.
/// tokio: the read fails too (its driver is gone).
#[test]
fn a_stale_waker_of_a_dropped_runtime_does_not_deadlock_another() {
    let spindle_read = within("spindle", || {
        let (ours, mut peer) = tcp_pair();
        let rt = spindle::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        let stream = Arc::new(
            rt.block_on(async { spindle::net::TcpStream::from_std(ours) })
                .unwrap(),
        );
        let (parked, is_parked) = mpsc::channel();
        let reader = stream.clone();
        // The task stores its waker in the socket, then its runtime is dropped under it.
        drop(rt.spawn(async move {
            let mut buf = [0; 8];
            let _ = parked.send(());
            let _ = reader.readable().await;
            let _ = reader.try_read(&mut buf);
        }));
        // The poll that stores the waker has begun; the drop joins the worker, which
        // finishes that poll first.
        is_parked.recv().unwrap();
        drop(rt);
        peer.write_all(b"x").unwrap();
        let other = spindle::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        other.block_on(async { stream.readable().await })
    });
    let tokio_read = within("tokio", || {
        let (ours, mut peer) = tcp_pair();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let stream = Arc::new(
            rt.block_on(async { tokio::net::TcpStream::from_std(ours) })
                .unwrap(),
        );
        let (parked, is_parked) = mpsc::channel();
        let reader = stream.clone();
        drop(rt.spawn(async move {
            let _ = parked.send(());
            let _ = reader.readable().await;
        }));
        is_parked.recv().unwrap();
        drop(rt);
        peer.write_all(b"x").unwrap();
        let other = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        other.block_on(async { stream.readable().await })
    });
    let spindle_error = spindle_read.expect_err("spindle: a dropped runtime's socket fails");
    assert!(
        spindle_error.to_string().contains("shut down"),
        "spindle: {spindle_error}"
    );
    assert!(tokio_read.is_err(), "tokio: {tokio_read:?}");
}

/// After a multi-thread runtime is dropped while a `Handle` and a `JoinHandle` survive, a
/// socket made in it, a `Sleep` made in it before the drop, and a `Sleep` made through the
/// surviving handle after it all fail clearly (error or panic) instead of hanging: the
/// survivors used to keep the driver alive with nobody turning it. A socket registered and a
/// task spawned through the surviving handle fail too. The current-thread flavour, which
/// always shut its driver down, runs the same scenario. tokio agrees on each.
#[test]
fn a_dropped_runtimes_sockets_and_sleeps_fail_whatever_survives() {
    within("spindle multi-thread", || {
        spindle_resources_fail_after_drop(
            spindle::runtime::Builder::new_multi_thread().worker_threads(2),
        )
    });
    within("spindle current-thread", || {
        spindle_resources_fail_after_drop(&mut spindle::runtime::Builder::new_current_thread())
    });
    within("tokio multi-thread", || {
        tokio_resources_fail_after_drop(
            tokio::runtime::Builder::new_multi_thread().worker_threads(2),
        )
    });
    within("tokio current-thread", || {
        tokio_resources_fail_after_drop(&mut tokio::runtime::Builder::new_current_thread())
    });
}

fn spindle_resources_fail_after_drop(builder: &mut spindle::runtime::Builder) {
    {
        let (ours, _peer) = tcp_pair();
        let rt = builder.build().unwrap();
        let handle = rt.handle().clone();
        let pending = rt.spawn(std::future::pending::<()>());
        let (stream, sleep) = rt.block_on(async {
            let stream = spindle::net::TcpStream::from_std(ours).unwrap();
            (stream, spindle::time::sleep(Duration::from_millis(5)))
        });
        drop(rt);
        let other = spindle::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut buf = [0; 8];
        let read = other.block_on(async {
            stream.readable().await?;
            stream.try_read(&mut buf)
        });
        let error = read.expect_err("spindle: the socket of a dropped runtime fails");
        assert!(error.to_string().contains("shut down"), "spindle: {error}");

        let polled = catch_unwind(AssertUnwindSafe(|| other.block_on(sleep)));
        let message = panic_message(&*polled.expect_err("spindle: the old sleep panics"));
        assert!(message.contains("shut down"), "spindle: {message}");

        let late = {
            let _entered = handle.enter();
            spindle::time::sleep(Duration::from_millis(5))
        };
        let polled = catch_unwind(AssertUnwindSafe(|| other.block_on(late)));
        let message = panic_message(&*polled.expect_err("spindle: the late sleep panics"));
        assert!(message.contains("shut down"), "spindle: {message}");

        let joined = other.block_on(pending);
        assert!(joined.unwrap_err().is_cancelled());

        // Through the surviving handle: a new socket is refused, a new task cancelled.
        let (late_socket, _late_peer) = tcp_pair();
        let registered = {
            let _entered = handle.enter();
            spindle::net::TcpStream::from_std(late_socket)
        };
        let error = registered.expect_err("spindle: a new socket of a dropped runtime");
        assert!(error.to_string().contains("shut down"), "spindle: {error}");
        let late_task = other.block_on(handle.spawn(async { 1 }));
        assert!(late_task.unwrap_err().is_cancelled());
    }
}

fn tokio_resources_fail_after_drop(builder: &mut tokio::runtime::Builder) {
    {
        let (ours, _peer) = tcp_pair();
        let rt = builder.enable_all().build().unwrap();
        let handle = rt.handle().clone();
        let pending = rt.spawn(std::future::pending::<()>());
        let (stream, sleep) = rt.block_on(async {
            let stream = tokio::net::TcpStream::from_std(ours).unwrap();
            (stream, tokio::time::sleep(Duration::from_millis(5)))
        });
        drop(rt);
        let other = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut buf = [0; 8];
        let read = other.block_on(async {
            stream.readable().await?;
            stream.try_read(&mut buf)
        });
        assert!(read.is_err(), "tokio: {read:?}");
        let polled = catch_unwind(AssertUnwindSafe(|| other.block_on(sleep)));
        assert!(polled.is_err(), "tokio: the old sleep panics");
        let late = {
            let _entered = handle.enter();
            tokio::time::sleep(Duration::from_millis(5))
        };
        let polled = catch_unwind(AssertUnwindSafe(|| other.block_on(late)));
        assert!(polled.is_err(), "tokio: the late sleep panics");
        let joined = other.block_on(pending);
        assert!(joined.unwrap_err().is_cancelled());

        let (late_socket, _late_peer) = tcp_pair();
        let registered = {
            let _entered = handle.enter();
            tokio::net::TcpStream::from_std(late_socket)
        };
        assert!(
            registered.is_err(),
            "tokio: a new socket of a dropped runtime"
        );
        let late_task = other.block_on(handle.spawn(async { 1 }));
        assert!(late_task.unwrap_err().is_cancelled());
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

/// Child side of `a_wake_from_a_thread_local_destructor_neither_panics_nor_aborts`.
#[test]
#[ignore = "run by its parent test in a child process"]
fn tls_wake_child() {
    let role = child_role();
    let drop_a_runtime = role.ends_with("+drop");
    let (out, wakers) = mpsc::channel();
    if role.starts_with("spindle") {
        let rt = if role.starts_with("spindle-current") {
            spindle::runtime::Builder::new_current_thread().build()
        } else {
            spindle::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .build()
        }
        .unwrap();
        let task = rt.spawn(send_waker_then_finish(out));
        rt.block_on(until_the_waker_is_sent(|| {
            Box::pin(spindle::task::yield_now())
        }));
        let waker = wakers.recv().unwrap();
        let handle = rt.handle().clone();
        wake_from_a_thread_local_destructor(waker, move || {
            // The scheduler's thread-locals on this thread: a current-thread runtime's core
            // slot, the context and the driving flag (by driving another runtime), a
            // worker's (by spawning onto the multi-thread one).
            let other = spindle::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            other.block_on(async {});
            drop(handle.spawn(async {}));
            if drop_a_runtime {
                // A runtime dropped in the destructor too: its shutdown enters its context.
                AT_EXIT.with(|at_exit| at_exit.borrow_mut().push(Box::new(other)));
            }
        });
        rt.block_on(task).unwrap();
    } else {
        let rt = if role.starts_with("tokio-current") {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
        }
        .unwrap();
        let task = rt.spawn(send_waker_then_finish(out));
        rt.block_on(until_the_waker_is_sent(|| {
            Box::pin(tokio::task::yield_now())
        }));
        let waker = wakers.recv().unwrap();
        let handle = rt.handle().clone();
        wake_from_a_thread_local_destructor(waker, move || {
            let other = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            other.block_on(async {});
            drop(handle.spawn(async {}));
            if drop_a_runtime {
                AT_EXIT.with(|at_exit| at_exit.borrow_mut().push(Box::new(other)));
            }
        });
        rt.block_on(task).unwrap();
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
        let rt = spindle::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let listener = spindle::net::TcpListener::from_std(listener).unwrap();
            drop(listener.accept().await.unwrap());
            let spare = exhaust_fds();
            drop(spindle::spawn(async move { drop(spare) }));
            let mut failed = 0u64;
            loop {
                match listener.accept().await {
                    Ok(_) => return failed,
                    Err(error) if error.raw_os_error() == Some(libc::EMFILE) => failed += 1,
                    Err(error) => panic!("accept: {error}"),
                }
            }
        })
    } else {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            drop(listener.accept().await.unwrap());
            let spare = exhaust_fds();
            drop(tokio::spawn(async move { drop(spare) }));
            let mut failed = 0u64;
            loop {
                match listener.accept().await {
                    Ok(_) => return failed,
                    Err(error) if error.raw_os_error() == Some(libc::EMFILE) => failed += 1,
                    Err(error) => panic!("accept: {error}"),
                }
            }
        })
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

/// While one thread's `block_on` holds the core, a second thread's `block_on` polls its own
/// future (here: 20,000 self-wakes) and completes; then the first completes. Both
/// runtimes agree. (spindle's waiter list stays at one entry meanwhile; the unit test
/// `core_waiters_stay_bounded_while_a_second_block_on_waits` checks the bound.)
#[test]
fn a_second_block_on_runs_its_future_while_another_thread_holds_the_core() {
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
    within("spindle", || {
        let rt = spindle::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (release, released) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        std::thread::scope(|scope| {
            let holder = scope.spawn(|| {
                rt.block_on(async {
                    released.store(true, SeqCst);
                    while !release.load(SeqCst) {
                        spindle::task::yield_now().await;
                    }
                })
            });
            while !released.load(SeqCst) {
                std::thread::yield_now();
            }
            assert_eq!(rt.block_on(self_waking(20_000)), 20_000);
            release.store(true, SeqCst);
            holder.join().unwrap();
        });
    });
    within("tokio", || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (release, released) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        std::thread::scope(|scope| {
            let holder = scope.spawn(|| {
                rt.block_on(async {
                    released.store(true, SeqCst);
                    while !release.load(SeqCst) {
                        tokio::task::yield_now().await;
                    }
                })
            });
            while !released.load(SeqCst) {
                std::thread::yield_now();
            }
            assert_eq!(rt.block_on(self_waking(20_000)), 20_000);
            release.store(true, SeqCst);
            holder.join().unwrap();
        });
    });
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

/// A `block_on` future that keeps waking itself (`yield_now` in a loop) while it waits for a
/// task that waits on a timer, then on a socket: on a current-thread runtime the driver must
/// still get its turns, or neither ever fires. tokio gives the driver a turn every
/// `event_interval` polls, the future's included. (Found by an outside attacker: the
/// future's polls did not count, and with no task ready the loop never reached the driver.)
#[test]
fn a_yield_loop_in_block_on_lets_timers_and_sockets_fire() {
    let spindle_done = within("spindle", || {
        let rt = spindle::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let (server, mut client) = tcp_pair();
            let server = spindle::net::TcpStream::from_std(server).unwrap();
            let stage = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let seen = stage.clone();
            spindle::spawn(async move {
                spindle::time::sleep(Duration::from_millis(1)).await;
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
                spindle::task::yield_now().await;
            }
            true
        })
    });
    let tokio_done = within("tokio", || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (server, mut client) = tcp_pair();
            let server = tokio::net::TcpStream::from_std(server).unwrap();
            let stage = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let seen = stage.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(1)).await;
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
                tokio::task::yield_now().await;
            }
            true
        })
    });
    assert!(tokio_done);
    assert_eq!(spindle_done, tokio_done);
}
