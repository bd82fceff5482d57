//! spindle's reactor against tokio's, one criterion group per workload with one function per
//! runtime, same parameters:
//!
//! - `tcp_echo`: 64 loopback connections, each sending 1,000 messages of 100 bytes and
//!   reading each echo back (the 10,000 per connection, reduced for criterion);
//!   throughput is messages per second.
//! - `timers/sleeps_spread_100ms`: 100,000 tasks sleeping until deadlines spread over 100 ms.
//! - `timers/timeout_ready`: a 1 s `timeout` around an immediately ready future, 10,000 times
//!   (tokio's `time_timeout` shape).
//! - `idle_wakeup`: with up to 10,000 idle connections registered (fewer if the fd limit is
//!   lower), one byte sent on one of them, its task echoing it, the echo read back: two
//!   reactor wake-ups per iteration.
//! - `udp_ping_pong`: 1,000 round trips of a 32-byte datagram between two connected UDP
//!   sockets, one side an echo task. Every wait is a `recv` future, so this is the one-waiter
//!   path of the reactor's waiter lists (`tcp_echo` and `idle_wakeup` wait through
//!   `poll_read`, the per-direction `poll_*` slot).
//!
//! Both runtimes are multi-thread with 2 workers (`tokio`: `.enable_all()`), as issue 4 asks.
//! Before criterion runs, `idle_cpu` reports the CPU an idle runtime uses over 1 s
//! (getrusage user+system time over wall time), and `timer_lateness` how late timers fire
//! with and without load: 10,000 tasks sleep until deadlines spread over 200 ms, alone and
//! while 4 tasks keep both workers busy (50 µs of work, then `yield_now`, until the sleepers
//! are done); each sleeper
//! records how long after its deadline it ran (p50, p99, max; and how many woke early, which
//! must be none).
//!
//! Run: `cargo bench --bench reactor -- --warm-up-time 1 --measurement-time 3`.

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};

const ECHO_CONNECTIONS: usize = 64;
const ECHO_MESSAGES: usize = 1_000;
const MESSAGE: usize = 100;
const SPREAD_SLEEPS: u64 = 100_000;
const TIMEOUTS: usize = 10_000;
const IDLE_CONNECTIONS: usize = 10_000;
const PING_PONGS: usize = 1_000;

fn spindle_rt() -> spindle::runtime::Runtime {
    spindle::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Raises the soft fd limit to the hard one; returns it.
fn raise_fd_limit() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read/write the struct we pass.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
    }
    limit.rlim_cur as usize
}

/// CPU time (user + system) this process has used.
fn cpu_time() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we pass.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Percent of one core used while `idle` runs.
fn cpu_percent(idle: impl FnOnce()) -> f64 {
    let (cpu, wall) = (cpu_time(), Instant::now());
    idle();
    100.0 * (cpu_time() - cpu).as_secs_f64() / wall.elapsed().as_secs_f64()
}

fn idle_cpu() {
    let spindle = {
        let rt = spindle_rt();
        cpu_percent(|| rt.block_on(async { spindle::time::sleep(Duration::from_secs(1)).await }))
    };
    let tokio = {
        let rt = tokio_rt();
        cpu_percent(|| rt.block_on(async { tokio::time::sleep(Duration::from_secs(1)).await }))
    };
    println!("idle_cpu (1 s asleep in block_on): spindle {spindle:.3}% tokio {tokio:.3}%");
}

const LATENESS_SLEEPERS: u64 = 10_000;
const LATENESS_SPREAD: Duration = Duration::from_millis(200);
const LATENESS_LOAD_TASKS: usize = 4;

/// Busy for about `d` without sleeping (the load a CPU-heavy task puts on a worker).
fn spin_for(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// How many microseconds `now` is after `deadline`; negative if before (a timer fired early).
fn signed_micros_after(deadline: Instant, now: Instant) -> i64 {
    match now.checked_duration_since(deadline) {
        Some(late) => late.as_micros() as i64,
        None => -((deadline - now).as_micros() as i64) - 1,
    }
}

/// p50, p99 and max of `lateness` (µs), and the number of negative (early) values, in one line.
fn lateness_summary(mut lateness: Vec<i64>) -> String {
    lateness.sort_unstable();
    let at = |q: f64| lateness[((lateness.len() - 1) as f64 * q) as usize] as f64 / 1e3;
    let early = lateness.iter().filter(|&&ns| ns < 0).count();
    format!(
        "p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms, early {early}",
        at(0.5),
        at(0.99),
        at(1.0)
    )
}

/// One runtime's lateness figures (µs after each deadline), written once for both runtimes:
/// `$rt` is the runtime, `$crate_` the library whose `spawn`, `task::yield_now`, `time`
/// it uses.
macro_rules! lateness_run {
    ($rt:expr, $crate_:ident, $load_tasks:expr) => {
        $rt.block_on(async {
            use std::sync::atomic::{AtomicBool, Ordering};
            use std::sync::Arc;
            let step = LATENESS_SPREAD / LATENESS_SLEEPERS as u32;
            let done = Arc::new(AtomicBool::new(false));
            let load: Vec<_> = (0..$load_tasks)
                .map(|_| {
                    let done = done.clone();
                    $crate_::spawn(async move {
                        while !done.load(Ordering::Relaxed) {
                            spin_for(Duration::from_micros(50));
                            $crate_::task::yield_now().await;
                        }
                    })
                })
                .collect();
            let start = $crate_::time::Instant::now();
            let sleepers: Vec<_> = (0..LATENESS_SLEEPERS as u32)
                .map(|i| {
                    let deadline = start + step * i;
                    $crate_::spawn(async move {
                        $crate_::time::sleep_until(deadline).await;
                        signed_micros_after(deadline.into(), $crate_::time::Instant::now().into())
                    })
                })
                .collect();
            let mut lateness = Vec::new();
            for sleeper in sleepers {
                lateness.push(sleeper.await.unwrap());
            }
            done.store(true, Ordering::Relaxed);
            for task in load {
                task.await.unwrap();
            }
            lateness
        })
    };
}

fn timer_lateness() {
    for load_tasks in [0, LATENESS_LOAD_TASKS] {
        let spindle = lateness_run!(spindle_rt(), spindle, load_tasks);
        let tokio = lateness_run!(tokio_rt(), tokio, load_tasks);
        println!(
            "timer_lateness ({LATENESS_SLEEPERS} sleeps over {LATENESS_SPREAD:?}, \
             {load_tasks} busy tasks): spindle {}; tokio {}",
            lateness_summary(spindle),
            lateness_summary(tokio)
        );
    }
}

mod spindle_side {
    use spindle::io::{AsyncReadExt, AsyncWriteExt};
    use spindle::net::{TcpListener, TcpStream};

    /// Connects `n` clients to an echo server running on `rt`.
    pub fn echo_clients(rt: &spindle::runtime::Runtime, n: usize) -> Vec<TcpStream> {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let mut clients = Vec::with_capacity(n);
            for _ in 0..n {
                let client = TcpStream::connect(addr).await.unwrap();
                client.set_nodelay(true).unwrap();
                let (mut server, _) = listener.accept().await.unwrap();
                server.set_nodelay(true).unwrap();
                spindle::spawn(async move {
                    let mut buf = [0u8; 4096];
                    loop {
                        match server.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => {
                                if server.write_all(&buf[..n]).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
                clients.push(client);
            }
            clients
        })
    }

    /// Every client sends `messages` messages and reads each echo; returns the clients.
    pub fn echo_round(
        rt: &spindle::runtime::Runtime,
        clients: Vec<TcpStream>,
        messages: usize,
        size: usize,
    ) -> Vec<TcpStream> {
        rt.block_on(async {
            let handles: Vec<_> = clients
                .into_iter()
                .map(|mut client| {
                    spindle::spawn(async move {
                        let message = vec![7u8; size];
                        let mut echo = vec![0u8; size];
                        for _ in 0..messages {
                            client.write_all(&message).await.unwrap();
                            client.read_exact(&mut echo).await.unwrap();
                        }
                        client
                    })
                })
                .collect();
            let mut clients = Vec::with_capacity(handles.len());
            for handle in handles {
                clients.push(handle.await.unwrap());
            }
            clients
        })
    }
}

mod tokio_side {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    pub fn echo_clients(rt: &tokio::runtime::Runtime, n: usize) -> Vec<TcpStream> {
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let mut clients = Vec::with_capacity(n);
            for _ in 0..n {
                let client = TcpStream::connect(addr).await.unwrap();
                client.set_nodelay(true).unwrap();
                let (mut server, _) = listener.accept().await.unwrap();
                server.set_nodelay(true).unwrap();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    loop {
                        match server.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => {
                                if server.write_all(&buf[..n]).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
                clients.push(client);
            }
            clients
        })
    }

    pub fn echo_round(
        rt: &tokio::runtime::Runtime,
        clients: Vec<TcpStream>,
        messages: usize,
        size: usize,
    ) -> Vec<TcpStream> {
        rt.block_on(async {
            let handles: Vec<_> = clients
                .into_iter()
                .map(|mut client| {
                    tokio::spawn(async move {
                        let message = vec![7u8; size];
                        let mut echo = vec![0u8; size];
                        for _ in 0..messages {
                            client.write_all(&message).await.unwrap();
                            client.read_exact(&mut echo).await.unwrap();
                        }
                        client
                    })
                })
                .collect();
            let mut clients = Vec::with_capacity(handles.len());
            for handle in handles {
                clients.push(handle.await.unwrap());
            }
            clients
        })
    }
}

fn tcp_echo(c: &mut Criterion) {
    let mut group = c.benchmark_group("tcp_echo");
    group.sample_size(10);
    group.throughput(Throughput::Elements(
        (ECHO_CONNECTIONS * ECHO_MESSAGES) as u64,
    ));
    {
        let rt = spindle_rt();
        let mut clients = Some(spindle_side::echo_clients(&rt, ECHO_CONNECTIONS));
        group.bench_function("spindle", |b| {
            b.iter(|| {
                let taken = clients.take().unwrap();
                clients = Some(spindle_side::echo_round(&rt, taken, ECHO_MESSAGES, MESSAGE));
            });
        });
    }
    {
        let rt = tokio_rt();
        let mut clients = Some(tokio_side::echo_clients(&rt, ECHO_CONNECTIONS));
        group.bench_function("tokio", |b| {
            b.iter(|| {
                let taken = clients.take().unwrap();
                clients = Some(tokio_side::echo_round(&rt, taken, ECHO_MESSAGES, MESSAGE));
            });
        });
    }
    group.finish();
}

fn timers(c: &mut Criterion) {
    let mut group = c.benchmark_group("timers");
    group.sample_size(10);
    group.bench_function("sleeps_spread_100ms/spindle", |b| {
        let rt = spindle_rt();
        b.iter(|| {
            rt.block_on(async {
                let start = spindle::time::Instant::now();
                let handles: Vec<_> = (0..SPREAD_SLEEPS)
                    .map(|i| {
                        let deadline = start + Duration::from_nanos(i * 1_000);
                        spindle::spawn(spindle::time::sleep_until(deadline))
                    })
                    .collect();
                for handle in handles {
                    handle.await.unwrap();
                }
            })
        });
    });
    group.bench_function("sleeps_spread_100ms/tokio", |b| {
        let rt = tokio_rt();
        b.iter(|| {
            rt.block_on(async {
                let start = tokio::time::Instant::now();
                let handles: Vec<_> = (0..SPREAD_SLEEPS)
                    .map(|i| {
                        let deadline = start + Duration::from_nanos(i * 1_000);
                        tokio::spawn(tokio::time::sleep_until(deadline))
                    })
                    .collect();
                for handle in handles {
                    handle.await.unwrap();
                }
            })
        });
    });
    group.bench_function("timeout_ready/spindle", |b| {
        let rt = spindle_rt();
        b.iter(|| {
            rt.block_on(async {
                for i in 0..TIMEOUTS {
                    let out = spindle::time::timeout(Duration::from_secs(1), async { i }).await;
                    std::hint::black_box(out.unwrap());
                }
            })
        });
    });
    group.bench_function("timeout_ready/tokio", |b| {
        let rt = tokio_rt();
        b.iter(|| {
            rt.block_on(async {
                for i in 0..TIMEOUTS {
                    let out = tokio::time::timeout(Duration::from_secs(1), async { i }).await;
                    std::hint::black_box(out.unwrap());
                }
            })
        });
    });
    group.finish();
}

fn idle_wakeup(c: &mut Criterion) {
    // Each connection is two fds; one runtime's set exists at a time.
    let connections = IDLE_CONNECTIONS.min(raise_fd_limit().saturating_sub(500) / 2);
    println!("idle_wakeup: {connections} idle connections per runtime");
    let mut group = c.benchmark_group("idle_wakeup");
    {
        use spindle::io::{AsyncReadExt, AsyncWriteExt};
        let rt = spindle_rt();
        // Echo servers on every connection; all idle but the one being poked.
        let mut clients = spindle_side::echo_clients(&rt, connections);
        let mut next = 0;
        group.bench_function("spindle", |b| {
            b.iter(|| {
                let client = &mut clients[next];
                next = (next + 7919) % connections;
                rt.block_on(async {
                    client.write_all(&[1]).await.unwrap();
                    let mut echo = [0u8; 1];
                    client.read_exact(&mut echo).await.unwrap();
                })
            });
        });
    }
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let rt = tokio_rt();
        let mut clients = tokio_side::echo_clients(&rt, connections);
        let mut next = 0;
        group.bench_function("tokio", |b| {
            b.iter(|| {
                let client = &mut clients[next];
                next = (next + 7919) % connections;
                rt.block_on(async {
                    client.write_all(&[1]).await.unwrap();
                    let mut echo = [0u8; 1];
                    client.read_exact(&mut echo).await.unwrap();
                })
            });
        });
    }
    group.finish();
}

fn udp_ping_pong(c: &mut Criterion) {
    let mut group = c.benchmark_group("udp_ping_pong");
    group.sample_size(10);
    group.throughput(Throughput::Elements(PING_PONGS as u64));
    {
        use spindle::net::UdpSocket;
        let rt = spindle_rt();
        let client = rt.block_on(async {
            let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            server.connect(client.local_addr().unwrap()).await.unwrap();
            client.connect(server.local_addr().unwrap()).await.unwrap();
            spindle::spawn(async move {
                let mut buf = [0u8; 64];
                while let Ok(n) = server.recv(&mut buf).await {
                    if server.send(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            });
            client
        });
        group.bench_function("spindle", |b| {
            b.iter(|| {
                rt.block_on(async {
                    let mut buf = [0u8; 64];
                    for _ in 0..PING_PONGS {
                        client.send(&[7; 32]).await.unwrap();
                        client.recv(&mut buf).await.unwrap();
                    }
                })
            });
        });
    }
    {
        use tokio::net::UdpSocket;
        let rt = tokio_rt();
        let client = rt.block_on(async {
            let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            server.connect(client.local_addr().unwrap()).await.unwrap();
            client.connect(server.local_addr().unwrap()).await.unwrap();
            tokio::spawn(async move {
                let mut buf = [0u8; 64];
                while let Ok(n) = server.recv(&mut buf).await {
                    if server.send(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            });
            client
        });
        group.bench_function("tokio", |b| {
            b.iter(|| {
                rt.block_on(async {
                    let mut buf = [0u8; 64];
                    for _ in 0..PING_PONGS {
                        client.send(&[7; 32]).await.unwrap();
                        client.recv(&mut buf).await.unwrap();
                    }
                })
            });
        });
    }
    group.finish();
}

fn main() {
    idle_cpu();
    timer_lateness();
    let mut criterion = Criterion::default().configure_from_args();
    tcp_echo(&mut criterion);
    timers(&mut criterion);
    idle_wakeup(&mut criterion);
    udp_ping_pong(&mut criterion);
    criterion.final_summary();
}
