//! The reactor on real sockets: only ready tasks are polled, one poll per event, and no
//! waiter hangs when its socket or runtime goes away. Loopback only; every test is bounded
//! and sequenced by channels and counters, never by sleeps.

use std::future::{poll_fn, Future};
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll};

use spindle::io::{AsyncFd, AsyncRead, AsyncReadExt, AsyncWriteExt, Interest};
use spindle::net::{TcpListener, TcpStream, UnixStream};
use spindle::runtime::{Builder, Handle, Runtime};

fn runtime() -> Runtime {
    Builder::new_current_thread().build().unwrap()
}

/// What a [`Counted`] task reports: after each poll, whether it finished, and its poll count.
#[derive(Debug, PartialEq, Eq)]
enum Report {
    Waiting { task: usize, polls: usize },
    Done { task: usize, polls: usize },
}

/// Wraps a task's future to count its polls and report each one.
struct Counted<F> {
    task: usize,
    polls: usize,
    reports: mpsc::Sender<Report>,
    future: Pin<Box<F>>,
}

impl<F: Future> Future for Counted<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.polls += 1;
        let (task, polls) = (self.task, self.polls);
        let result = self.future.as_mut().poll(cx);
        let report = if result.is_ready() {
            Report::Done { task, polls }
        } else {
            Report::Waiting { task, polls }
        };
        let _ = self.reports.send(report);
        result
    }
}

// Tests below need a few thousand fds.
#[path = "common/fd_limit.rs"]
mod fd_limit;

use fd_limit::raise_fd_limit;

/// Connects `n` loopback pairs: (runtime side, std peer side).
async fn connect_pairs(n: usize) -> Vec<(TcpStream, std::net::TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut pairs = Vec::with_capacity(n);
    for _ in 0..n {
        let peer = std::net::TcpStream::connect(addr).unwrap(); // the kernel completes it
        let (ours, from) = listener.accept().await.unwrap();
        assert_eq!(from, peer.local_addr().unwrap());
        pairs.push((ours, peer));
    }
    pairs
}

/// The article's story on real sockets: T1, T2 and T3 each wait for an answer on their own
/// connection; the answers come T3, then T2, then T1. Each answer costs exactly one poll of
/// the task it was for, and no other task is polled.
#[test]
fn t1_t2_t3_each_answer_costs_one_poll_of_its_task() {
    let rt = runtime();
    let (reports_tx, reports) = mpsc::channel();
    let pairs = rt.block_on(connect_pairs(3));
    let (ours, peers): (Vec<_>, Vec<_>) = pairs.into_iter().unzip();

    // The peers: a plain thread that answers only when told, and reports nothing itself.
    let (answer_tx, answer_rx) = mpsc::channel::<usize>();
    let peer_thread = std::thread::spawn(move || {
        let mut peers = peers;
        for task in answer_rx {
            peers[task]
                .write_all(format!("answer for T{}", task + 1).as_bytes())
                .unwrap();
        }
    });

    let polls_before = rt.metrics().polls;
    let handles: Vec<_> = ours
        .into_iter()
        .enumerate()
        .map(|(task, mut stream)| {
            rt.spawn(Counted {
                task,
                polls: 0,
                reports: reports_tx.clone(),
                future: Box::pin(async move {
                    let mut buf = [0u8; 64];
                    let n = stream.read(&mut buf).await.unwrap();
                    String::from_utf8(buf[..n].to_vec()).unwrap()
                }),
            })
        })
        .collect();
    drop(reports_tx);

    let answers = rt.block_on(async move {
        // Let the three tasks run until each waits on its socket...
        spindle::task::yield_now().await;
        for _ in 0..3 {
            assert!(matches!(
                reports.try_recv(),
                Ok(Report::Waiting { polls: 1, .. })
            ));
        }
        // ... then answer T3, T2, T1, each only after the previous one was handled.
        let mut answers = Vec::new();
        for (task, handle) in [2, 1, 0].into_iter().zip(handles.into_iter().rev()) {
            answer_tx.send(task).unwrap();
            let answer = handle.await.unwrap();
            // The only poll since the answer was sent: that task's, and it finished.
            assert_eq!(reports.try_recv(), Ok(Report::Done { task, polls: 2 }));
            assert!(reports.try_recv().is_err(), "no other task was polled");
            answers.push(answer);
        }
        answers
    });
    peer_thread.join().unwrap(); // the answer channel closed with the block_on future

    assert_eq!(answers, ["answer for T3", "answer for T2", "answer for T1"]);
    let metrics = rt.metrics();
    assert_eq!(
        metrics.polls - polls_before,
        6,
        "one poll to start, one per answer"
    );
    assert_eq!(metrics.wasted_polls, 0);
}

/// 1,000 idle connections and one busy one: polls grow with the busy one's messages only.
#[test]
fn thousand_idle_connections_cost_nothing_per_busy_message() {
    const IDLE: usize = 1_000;
    const MESSAGES: usize = 200;
    let limit = raise_fd_limit();
    let idle = IDLE.min((limit as usize).saturating_sub(100) / 2);
    assert!(idle >= 100, "fd limit {limit} is too low for this test");

    let rt = runtime();
    let (reports_tx, reports) = mpsc::channel();
    let mut pairs = rt.block_on(connect_pairs(idle + 1));
    let (busy, busy_peer) = pairs.pop().unwrap();

    let idle_polls = Arc::new(AtomicUsize::new(0));
    let mut idle_peers = Vec::new();
    for (mut stream, peer) in pairs {
        idle_peers.push(peer);
        let idle_polls = idle_polls.clone();
        rt.spawn(poll_fn(move |cx| {
            idle_polls.fetch_add(1, SeqCst);
            let mut buf = [0u8; 1];
            Pin::new(&mut stream)
                .poll_read(cx, &mut spindle::io::ReadBuf::new(&mut buf))
                .map(|_| ())
        }));
    }
    let busy_task = rt.spawn(Counted {
        task: 0,
        polls: 0,
        reports: reports_tx,
        future: Box::pin(async move {
            let mut stream = busy;
            let mut message = [0u8; 8];
            loop {
                match stream.read_exact(&mut message).await {
                    Ok(_) => stream.write_all(&message).await.unwrap(),
                    Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return,
                    Err(error) => panic!("{error}"),
                }
            }
        }),
    });

    rt.block_on(async {
        let mut peer = TcpStream::from_std(busy_peer).unwrap();
        // Let every task start (the scheduler runs a batch of them per yield of ours), then
        // count from there.
        let mut yields = 0;
        while idle_polls.load(SeqCst) < idle || reports.try_recv().is_err() {
            spindle::task::yield_now().await;
            yields += 1;
            assert!(yields < 10 * idle, "the tasks never started");
        }
        let start = Handle::current().metrics();
        assert_eq!(
            idle_polls.load(SeqCst),
            idle,
            "every idle task was polled once, at spawn"
        );
        for i in 0..MESSAGES as u64 {
            peer.write_all(&i.to_le_bytes()).await.unwrap();
            let mut echo = [0u8; 8];
            peer.read_exact(&mut echo).await.unwrap();
            assert_eq!(u64::from_le_bytes(echo), i);
        }
        let end = Handle::current().metrics();
        assert_eq!(
            end.polls - start.polls,
            MESSAGES as u64,
            "one poll per message"
        );
        assert_eq!(
            idle_polls.load(SeqCst),
            idle,
            "no idle task was polled again"
        );
        peer.shutdown().await.unwrap();
        busy_task.await.unwrap();
    });
    let mut last = None;
    while let Ok(report) = reports.try_recv() {
        last = Some(report);
    }
    assert_eq!(
        last,
        Some(Report::Done {
            task: 0,
            polls: MESSAGES + 2
        })
    );
    assert_eq!(rt.metrics().wasted_polls, 0);
    drop(idle_peers);
}

/// More sources than the slab's first page (32 slots): every one is routed to its own task,
/// also after slots are freed and reused.
#[test]
fn sources_beyond_the_first_slab_page_are_routed_correctly() {
    const PAIRS: usize = 150; // 300 sources: pages of 32, 64, 128 and 256 slots
    let rt = runtime();
    for round in 0..2 {
        let (ours, peers): (Vec<_>, Vec<_>) = (0..PAIRS)
            .map(|_| {
                let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
                let _guard = rt.enter();
                (UnixStream::from_std(a).unwrap(), b)
            })
            .unzip();
        let started = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = ours
            .into_iter()
            .enumerate()
            .map(|(i, mut stream)| {
                let started = started.clone();
                rt.spawn(async move {
                    started.fetch_add(1, SeqCst);
                    let mut buf = [0u8; 8];
                    stream.read_exact(&mut buf).await.unwrap();
                    assert_eq!(
                        u64::from_le_bytes(buf),
                        i as u64,
                        "routed to the wrong task"
                    );
                })
            })
            .collect();
        let polls_before = rt.metrics().polls;
        rt.block_on(async {
            while started.load(SeqCst) < PAIRS {
                spindle::task::yield_now().await; // the tasks start and wait, a batch a time
            }
            // Answer in reverse order of registration.
            for (i, mut peer) in peers.into_iter().enumerate().rev() {
                peer.write_all(&(i as u64).to_le_bytes()).unwrap();
            }
            for handle in handles {
                handle.await.unwrap();
            }
        });
        let polls = rt.metrics().polls - polls_before;
        assert_eq!(
            polls,
            2 * PAIRS as u64,
            "round {round}: one poll to start, one per answer"
        );
    }
    assert_eq!(rt.metrics().wasted_polls, 0);
}

fn nonblocking_pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds into the array we pass.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: both fds were just created and are owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// `AsyncFd` on a pipe: a task waits for readability while another thread writes, and sees
/// the end of stream when the writer closes.
#[test]
fn async_fd_waits_on_a_pipe() {
    let rt = runtime();
    let (read_end, write_end) = nonblocking_pipe();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let writer = std::thread::spawn(move || {
        let mut file = std::fs::File::from(write_end);
        for chunk in [&b"hello "[..], b"pipe"] {
            go_rx.recv().unwrap();
            file.write_all(chunk).unwrap();
        }
        // Dropping `file` closes the write end: the reader sees end of stream.
    });
    let got = rt.block_on(async move {
        let pipe =
            AsyncFd::with_interest(std::fs::File::from(read_end), Interest::READABLE).unwrap();
        let mut got = Vec::new();
        loop {
            let _ = go_tx.send(()); // the next chunk may come now
            let mut buf = [0u8; 16];
            let n = pipe
                .async_io(Interest::READABLE, |mut file| file.read(&mut buf))
                .await
                .unwrap();
            if n == 0 {
                return got;
            }
            got.extend_from_slice(&buf[..n]);
        }
    });
    writer.join().unwrap();
    assert_eq!(got, b"hello pipe");
}

/// The guard API: readiness stays until cleared, and `try_io` clears it on `WouldBlock`.
#[test]
fn async_fd_guard_clears_only_on_would_block() {
    let rt = runtime();
    let (read_end, write_end) = nonblocking_pipe();
    rt.block_on(async move {
        let pipe = AsyncFd::new(std::fs::File::from(read_end)).unwrap();
        let mut writer = std::fs::File::from(write_end);
        writer.write_all(b"abc").unwrap();
        let mut buf = [0u8; 1];
        for expected in b"abc" {
            let mut guard = pipe.readable().await.unwrap();
            let n = guard
                .try_io(|mut file| file.read(&mut buf))
                .unwrap()
                .unwrap();
            assert_eq!((n, buf[0]), (1, *expected));
        }
        // Empty now: try_io reports WouldBlock and clears the readiness...
        let mut guard = pipe.readable().await.unwrap();
        assert!(guard.try_io(|mut file| file.read(&mut buf)).is_err());
        // ... so the next wait completes only after new data.
        writer.write_all(b"d").unwrap();
        let mut guard = pipe.readable().await.unwrap();
        assert_eq!(
            guard
                .try_io(|mut file| file.read(&mut buf))
                .unwrap()
                .unwrap(),
            1
        );
        assert_eq!(buf[0], b'd');
    });
    assert_eq!(rt.metrics().wasted_polls, 0);
}

/// Aborting a task that waits on a socket drops the socket: the peer sees end of stream, and
/// nothing hangs.
#[test]
fn aborting_a_waiting_task_closes_its_socket() {
    let rt = runtime();
    rt.block_on(async {
        let (mut ours, mut peer) = UnixStream::pair().unwrap();
        let waiter = spindle::spawn(async move {
            let mut buf = [0u8; 1];
            ours.read(&mut buf).await
        });
        spindle::task::yield_now().await; // the waiter is now parked on its socket
        waiter.abort();
        assert!(waiter.await.unwrap_err().is_cancelled());
        let mut buf = [0u8; 1];
        assert_eq!(
            peer.read(&mut buf).await.unwrap(),
            0,
            "the socket was closed"
        );
    });
}

/// A socket whose runtime was dropped fails instead of hanging, and dropping a runtime
/// cancels the tasks waiting on its sockets.
#[test]
fn socket_outliving_its_runtime_errors_instead_of_hanging() {
    let first = runtime();
    let (mut orphan, mut peer) = first.block_on(async { UnixStream::pair().unwrap() });
    let (stream, _keep) = first.block_on(async { UnixStream::pair().unwrap() });
    let waiter = first.spawn(async move {
        let mut stream = stream;
        let mut buf = [0u8; 1];
        stream.read(&mut buf).await
    });
    drop(first);
    let second = runtime();
    second.block_on(async {
        assert!(waiter.await.unwrap_err().is_cancelled());
        let mut buf = [0u8; 1];
        let error = orphan.read(&mut buf).await.unwrap_err();
        assert!(error.to_string().contains("shut down"), "{error}");
        // The new runtime's own sockets still work.
        let (mut a, mut b) = UnixStream::pair().unwrap();
        a.write_all(b"x").await.unwrap();
        assert_eq!(b.read(&mut buf).await.unwrap(), 1);
        drop(peer.write_all(b"y").await); // the orphan's peer: fails or not, never hangs
    });
}

/// I/O types created outside a runtime return an error naming the cause.
#[test]
fn io_outside_a_runtime_is_an_error() {
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let error = UnixStream::from_std(a).unwrap_err();
    assert!(error.to_string().contains("no spindle runtime"), "{error}");
    let (read_end, _write_end) = nonblocking_pipe();
    assert!(AsyncFd::new(read_end).is_err());
}
