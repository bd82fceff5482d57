//! Sockets and timers: many tasks waiting on one socket, a cancelled wait, `Sleep::reset`
//! under a waiting task, and resources whose runtime has shut down (issue 11, sections 2
//! and 3).
//!
//! Each scenario is written once, in [`io_scenario!`] (over [`on_both!`]), and runs on a
//! spindle and a tokio current-thread runtime; the test asserts that both observed the same
//! thing (and, so a broken scenario cannot pass on both, what that thing is). Every wait is
//! bounded by [`BOUND`], a hang guard only: a correct run never gets near it. The bound is
//! kept outside the waiting tasks (on their `JoinHandle`s), so that it never re-polls a
//! waiter that the reactor failed to wake. "Every waiter is waiting" is known, not hoped
//! for: [`FirstPending`] reports a future's first `Pending`, which comes after its waker is
//! stored.

use crate::Inert;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// The hang guard of every wait below.
const BOUND: Duration = Duration::from_secs(5);

/// The text of spindle's error (and timer panic) once a resource's runtime has shut down.
const SHUT_DOWN: &str = "the runtime owning this resource has shut down";

/// Wraps a future and calls `on_pending` once, after the future's first `Pending` (by then
/// it has stored its waker with the reactor).
struct FirstPending<F, S: FnOnce()> {
    future: Pin<Box<F>>,
    on_pending: Option<S>,
}

impl<F: Future, S: FnOnce() + Unpin> Future for FirstPending<F, S> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let polled = self.future.as_mut().poll(cx);
        if polled.is_pending() {
            if let Some(on_pending) = self.on_pending.take() {
                on_pending();
            }
        }
        polled
    }
}

fn first_pending<F: Future, S: FnOnce() + Unpin>(future: F, on_pending: S) -> FirstPending<F, S> {
    FirstPending {
        future: Box::pin(future),
        on_pending: Some(on_pending),
    }
}

/// [`on_both!`] with `net`, `time`, `sync`, `spawn` and `AsyncFd` naming the runtime under
/// test's items; the scenario runs on a current-thread runtime of each.
macro_rules! io_scenario {
    ($(#[$meta:meta])* fn $name:ident() -> $out:ty { $($body:tt)* }) => {
        on_both! {
            $(#[$meta])*
            async fn $name() -> $out {
                #[allow(unused_imports)]
                use rt::{io::AsyncFd, net, spawn, sync, time};
                $($body)*
            }
        }
    };
}

io_scenario! {
    /// Four tasks wait in `recv_from` on one `Arc<UdpSocket>`; four datagrams arrive. Returns
    /// the payloads the tasks got (`None`: that task timed out).
    fn udp_recv_from_tasks() -> Vec<Option<u8>> {
        const TASKS: u8 = 4;
        let socket = Arc::new(net::UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let (waiting_tx, mut waiting) = sync::mpsc::unbounded_channel();
        let receivers: Vec<_> = (0..TASKS)
            .map(|_| {
                let socket = socket.clone();
                let waiting_tx = waiting_tx.clone();
                spawn(async move {
                    let mut buf = [0u8; 8];
                    let recv = first_pending(socket.recv_from(&mut buf), move || {
                        waiting_tx.send(()).unwrap();
                    });
                    match recv.await {
                        Ok((1, _)) => Some(buf[0]),
                        _ => None,
                    }
                })
            })
            .collect();
        for _ in 0..TASKS {
            waiting.recv().await.unwrap();
        }
        let sender = net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        for payload in 0..TASKS {
            sender.send_to(&[payload], socket.local_addr().unwrap()).await.unwrap();
        }
        let deadline = time::Instant::now() + BOUND;
        let mut got = Vec::new();
        for receiver in receivers {
            got.push(time::timeout_at(deadline, receiver).await.ok().and_then(Result::unwrap));
        }
        got.sort();
        got
    }
}

#[test]
fn several_recv_from_tasks_on_one_udp_socket_all_get_a_datagram() {
    let expected: Vec<_> = (0..4).map(Some).collect();
    assert_eq!(udp_recv_from_tasks::tokio(), expected);
    assert_eq!(udp_recv_from_tasks::spindle(), expected);
}

io_scenario! {
    /// Three tasks wait in `accept` on one `Arc<TcpListener>`; three clients connect.
    /// Returns how many tasks accepted one.
    fn tcp_acceptor_tasks() -> usize {
        const TASKS: usize = 3;
        let listener = Arc::new(net::TcpListener::bind("127.0.0.1:0").await.unwrap());
        let (waiting_tx, mut waiting) = sync::mpsc::unbounded_channel();
        let acceptors: Vec<_> = (0..TASKS)
            .map(|_| {
                let listener = listener.clone();
                let waiting_tx = waiting_tx.clone();
                spawn(async move {
                    let accept = first_pending(listener.accept(), move || {
                        waiting_tx.send(()).unwrap();
                    });
                    accept.await.is_ok()
                })
            })
            .collect();
        for _ in 0..TASKS {
            waiting.recv().await.unwrap();
        }
        let mut clients = Vec::new();
        for _ in 0..TASKS {
            clients.push(net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap());
        }
        let deadline = time::Instant::now() + BOUND;
        let mut accepted = 0;
        for acceptor in acceptors {
            accepted += usize::from(time::timeout_at(deadline, acceptor).await.is_ok_and(Result::unwrap));
        }
        accepted
    }
}

#[test]
fn several_acceptor_tasks_on_one_tcp_listener_each_accept() {
    assert_eq!(tcp_acceptor_tasks::tokio(), 3);
    assert_eq!(tcp_acceptor_tasks::spindle(), 3);
}

io_scenario! {
    /// Three tasks wait in `readable()` on one stream, then three in `writable()` on a stream
    /// whose send buffer is full. The peer writes one byte, then drains. Returns how many
    /// waiters of each kind finished.
    fn concurrent_readable_and_writable() -> (usize, usize) {
        const TASKS: usize = 3;
        let listener = net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stream = net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (peer, _) = listener.accept().await.unwrap();
        let stream = Arc::new(stream);
        let peer = Arc::new(peer);

        // `ready(stream)` is `stream.readable()` or `stream.writable()`.
        async fn wait_all<S, F, R>(stream: &Arc<S>, ready: F) -> Vec<R>
        where
            S: Send + Sync + 'static,
            F: Fn(Arc<S>, Box<dyn FnOnce() + Send>) -> R,
        {
            let (waiting_tx, mut waiting) = sync::mpsc::unbounded_channel();
            let waiters: Vec<R> = (0..TASKS)
                .map(|_| {
                    let waiting_tx = waiting_tx.clone();
                    ready(stream.clone(), Box::new(move || waiting_tx.send(()).unwrap()))
                })
                .collect();
            for _ in 0..TASKS {
                waiting.recv().await.unwrap();
            }
            waiters
        }

        let readers = wait_all(&stream, |stream, on_pending| {
            spawn(async move {
                let readable = first_pending(stream.readable(), on_pending);
                readable.await.is_ok()
            })
        })
        .await;
        peer.writable().await.unwrap();
        peer.try_write(&[1]).unwrap();
        let deadline = time::Instant::now() + BOUND;
        let mut readable = 0;
        for reader in readers {
            readable += usize::from(time::timeout_at(deadline, reader).await.is_ok_and(Result::unwrap));
        }

        // Fill the stream's send buffer (and the peer's receive buffer).
        let chunk = vec![0u8; 64 * 1024];
        let mut written = 0;
        loop {
            match stream.try_write(&chunk) {
                Ok(n) => written += n,
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(error) => panic!("{error}"),
            }
        }
        let writers = wait_all(&stream, |stream, on_pending| {
            spawn(async move {
                let writable = first_pending(stream.writable(), on_pending);
                writable.await.is_ok()
            })
        })
        .await;
        let mut drained = 0;
        let mut buf = vec![0u8; 64 * 1024];
        while drained < written {
            peer.readable().await.unwrap();
            match peer.try_read(&mut buf) {
                Ok(n) => drained += n,
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(error) => panic!("{error}"),
            }
        }
        let deadline = time::Instant::now() + BOUND;
        let mut writable = 0;
        for writer in writers {
            writable += usize::from(time::timeout_at(deadline, writer).await.is_ok_and(Result::unwrap));
        }
        (readable, writable)
    }
}

#[test]
fn concurrent_readable_and_writable_waiters_are_all_woken() {
    assert_eq!(concurrent_readable_and_writable::tokio(), (3, 3));
    assert_eq!(concurrent_readable_and_writable::spindle(), (3, 3));
}

io_scenario! {
    /// Polls `readable()`, `recv_from` and `accept` once each by hand with a waker watched
    /// through a `Weak`, then drops the future. Returns, for each, whether the waker was
    /// still alive afterwards (stored by the reactor).
    fn cancelled_waits_keep_their_waker() -> [bool; 3] {
        fn poll_once_and_drop<F: Future>(future: F) -> bool {
            let inert = Arc::new(Inert);
            let weak = Arc::downgrade(&inert);
            let waker = Waker::from(inert);
            let mut future = Box::pin(future);
            assert!(future.as_mut().poll(&mut Context::from_waker(&waker)).is_pending());
            drop(waker);
            drop(future);
            weak.upgrade().is_some()
        }
        let listener = net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stream = net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (_peer, _) = listener.accept().await.unwrap();
        let udp = net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut buf = [0u8; 8];
        [
            poll_once_and_drop(stream.readable()),
            poll_once_and_drop(udp.recv_from(&mut buf)),
            poll_once_and_drop(listener.accept()),
        ]
    }
}

/// A dropped readiness future releases its waker (before issue 11 it stayed in the socket,
/// pinning its task and runtime until the next event).
#[test]
fn a_cancelled_readiness_future_releases_its_waker() {
    assert_eq!(cancelled_waits_keep_their_waker::tokio(), [false; 3]);
    assert_eq!(cancelled_waits_keep_their_waker::spindle(), [false; 3]);
}

io_scenario! {
    /// A task awaits a one-hour sleep it shares with this one; once it waits, the sleep is
    /// reset to 10 ms from now, or to now. Returns, for each, whether the task finished.
    fn sleep_reset_while_awaited() -> [bool; 2] {
        let mut finished = [false; 2];
        for (reset_to, finished) in [Duration::from_millis(10), Duration::ZERO]
            .into_iter()
            .zip(&mut finished)
        {
            let sleep = Arc::new(Mutex::new(Box::pin(time::sleep(Duration::from_secs(3600)))));
            let (waiting_tx, waiting) = sync::oneshot::channel();
            let shared = sleep.clone();
            let sleeper = spawn(first_pending(
                std::future::poll_fn(move |cx| shared.lock().unwrap().as_mut().poll(cx)),
                move || waiting_tx.send(()).unwrap(),
            ));
            waiting.await.unwrap();
            sleep.lock().unwrap().as_mut().reset(time::Instant::now() + reset_to);
            *finished = time::timeout(BOUND, sleeper).await.is_ok();
        }
        finished
    }
}

/// `Sleep::reset` keeps the waiting task's waker, whether the new deadline is ahead or has
/// passed (before issue 11 the task was never woken).
#[test]
fn sleep_reset_while_a_task_awaits_it_wakes_the_task() {
    assert_eq!(sleep_reset_while_awaited::tokio(), [true; 2]);
    assert_eq!(sleep_reset_while_awaited::spindle(), [true; 2]);
}

/// How one use of a resource after its runtime shut down ended.
#[derive(Debug, PartialEq, Eq)]
enum AfterShutdown {
    /// An `io::Error` with this text.
    Error(String),
    /// A panic with this text.
    Panic(String),
    Completed,
}

/// Makes a UDP socket, a TCP listener, a one-hour `Sleep`, `Interval` and `timeout` in one
/// current-thread runtime, drops that runtime, then uses each in a second one.
macro_rules! after_shutdown {
    ($rt:ident, $build:expr) => {{
        use $rt::{net, time};
        let first = $build;
        let (udp, listener, sleep, interval, timeout) = first.block_on(async {
            (
                net::UdpSocket::bind("127.0.0.1:0").await.unwrap(),
                net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
                time::sleep(Duration::from_secs(3600)),
                time::interval_at(
                    time::Instant::now() + Duration::from_secs(3600),
                    Duration::from_secs(3600),
                ),
                time::timeout(Duration::from_secs(3600), std::future::pending::<()>()),
            )
        });
        drop(first);
        // A fresh runtime for each use: a panic inside `block_on` may leave one unusable.
        let second = || $build;
        let mut buf = [0u8; 8];
        let io = |result: std::io::Result<()>| match result {
            Ok(()) => AfterShutdown::Completed,
            Err(error) => AfterShutdown::Error(error.to_string()),
        };
        let udp = io(second().block_on(async {
            time::timeout(BOUND, udp.recv_from(&mut buf))
                .await
                .unwrap()
                .map(drop)
        }));
        let tcp = io(second().block_on(async {
            time::timeout(BOUND, listener.accept())
                .await
                .unwrap()
                .map(drop)
        }));
        let mut interval = interval;
        let timers = [
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| second().block_on(sleep))),
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                second().block_on(async {
                    interval.tick().await;
                })
            })),
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                second().block_on(async {
                    let _ = timeout.await;
                })
            })),
        ]
        .map(|outcome| match outcome {
            Ok(()) => AfterShutdown::Completed,
            Err(payload) => AfterShutdown::Panic(crate::panic_message(&*payload)),
        });
        (udp, tcp, timers)
    }};
}

/// After its runtime shut down, a socket's wait is an error and a timer's poll a panic, on
/// both runtimes; spindle's say `the runtime owning this resource has shut down` (tokio's
/// say "A Tokio 1.x context was found, but it is being shutdown.").
#[test]
fn resources_of_a_dropped_runtime_fail_clearly() {
    let tokio = after_shutdown!(
        tokio,
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    );
    let spindle = after_shutdown!(
        spindle,
        spindle::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    );
    let shape = |(udp, tcp, timers): &(AfterShutdown, AfterShutdown, [AfterShutdown; 3])| {
        let is_error = |outcome: &AfterShutdown| matches!(outcome, AfterShutdown::Error(_));
        let is_panic = |outcome: &AfterShutdown| matches!(outcome, AfterShutdown::Panic(_));
        (is_error(udp), is_error(tcp), timers.iter().all(is_panic))
    };
    assert_eq!(shape(&tokio), (true, true, true), "tokio: {tokio:?}");
    assert_eq!(shape(&spindle), shape(&tokio), "spindle: {spindle:?}");
    let message = |text: &str| AfterShutdown::Error(text.to_string());
    assert_eq!(spindle.0, message(SHUT_DOWN));
    assert_eq!(spindle.1, message(SHUT_DOWN));
    for timer in &spindle.2 {
        assert_eq!(timer, &AfterShutdown::Panic(SHUT_DOWN.to_string()));
    }
}

/// A task of another runtime waits on a socket when the socket's runtime is dropped: the
/// shutdown wakes it and its wait ends in an error, on both runtimes.
#[test]
fn a_waiter_from_another_runtime_is_woken_by_the_shutdown() {
    macro_rules! scenario {
        ($rt:ident, $build_first:expr, $build_waiter:expr) => {{
            use $rt::{net, time};
            let first = $build_first;
            let udp = Arc::new(first.block_on(net::UdpSocket::bind("127.0.0.1:0")).unwrap());
            let waiter = $build_waiter;
            let (waiting_tx, waiting) = std::sync::mpsc::channel();
            let (done_tx, done) = std::sync::mpsc::channel();
            waiter.spawn(async move {
                let mut buf = [0u8; 8];
                let recv = first_pending(udp.recv_from(&mut buf), move || {
                    waiting_tx.send(()).unwrap()
                });
                let outcome = time::timeout(BOUND, recv).await;
                done_tx.send(outcome.map(|result| result.map(drop).map_err(|e| e.to_string())))
            });
            waiting.recv_timeout(BOUND).unwrap();
            drop(first);
            done.recv_timeout(BOUND * 2).unwrap()
        }};
    }
    let tokio = scenario!(
        tokio,
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    );
    let spindle = scenario!(
        spindle,
        spindle::runtime::Builder::new_current_thread()
            .build()
            .unwrap(),
        spindle::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap()
    );
    assert!(matches!(tokio, Ok(Err(_))), "tokio: {tokio:?}");
    assert_eq!(spindle, Ok(Err(SHUT_DOWN.to_string())));
}

/// The deadlock of issue 11: a socket's stored waker is the last reference to a task of a
/// dropped runtime; another runtime polls the socket, which replaces (and so drops) that
/// waker; dropping it frees the dropped runtime's driver, whose shutdown takes the socket's
/// waiter lock. The waker must be dropped after that lock is released. Both runtimes end
/// the second poll with an error.
#[test]
fn replacing_a_dead_runtimes_waker_does_not_deadlock() {
    use std::os::unix::net::UnixStream;
    macro_rules! scenario {
        ($rt:ident, $async_fd:ty, $build_first:expr, $build_second:expr) => {{
            let (local, _remote) = UnixStream::pair().unwrap();
            local.set_nonblocking(true).unwrap();
            let first = $build_first;
            // tokio 1.54 deprecates `AsyncFd::new` for `register`; the older name keeps the
            // two twins alike.
            #[allow(deprecated)]
            let fd = Arc::new(first.block_on(async { <$async_fd>::new(local) }).unwrap());
            let (waiting_tx, waiting) = std::sync::mpsc::channel();
            let in_task = fd.clone();
            // The task waits through the `poll_*` API (one slot, kept until replaced).
            drop(first.spawn(first_pending(
                std::future::poll_fn(move |cx| in_task.poll_read_ready(cx).map(|_| ())),
                move || waiting_tx.send(()).unwrap(),
            )));
            waiting.recv_timeout(BOUND).unwrap();
            drop(first);
            let (done_tx, done) = std::sync::mpsc::channel();
            // On its own thread, so a deadlock fails the test instead of hanging it.
            std::thread::spawn(move || {
                let second = $build_second;
                let polled = second.block_on(async {
                    $rt::time::timeout(
                        BOUND,
                        std::future::poll_fn(|cx| {
                            fd.poll_read_ready(cx).map(|ready| ready.map(drop))
                        }),
                    )
                    .await
                });
                let _ = done_tx.send(polled.map(|result| result.map_err(|e| e.to_string())));
            });
            done.recv_timeout(BOUND * 2)
                .expect("the second runtime's poll deadlocked")
        }};
    }
    let tokio = scenario!(
        tokio,
        tokio::io::unix::AsyncFd<UnixStream>,
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap(),
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    );
    let spindle = scenario!(
        spindle,
        spindle::io::AsyncFd<UnixStream>,
        spindle::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap(),
        spindle::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    );
    assert!(matches!(tokio, Ok(Err(_))), "tokio: {tokio:?}");
    assert_eq!(spindle, Ok(Err(SHUT_DOWN.to_string())));
}
