//! `spindle choose`: the article's "making the right choice" as an experiment.
//!
//! Three workloads (CPU-bound; fast I/O on few connections; slow I/O on many connections),
//! each run under four forms of concurrency (a thread per job, a thread pool, a process pool,
//! async tasks), measured, and printed as one table. The winner of each workload is computed
//! from the table by the rule in [`RULE`], then compared with the article's advice.

use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use spindle::io::{AsyncReadExt, AsyncWriteExt};
use spindle::process::ProcessPool;
use spindle::runtime::Builder;
use spindle::thread_pool::ThreadPool;

use super::jobs::{count_primes, fetch, jobs};
use super::measure::{
    child_pids, children_cpu, ms, raise_fd_limit, reset_peak_rss, self_cpu, status_kib,
};

/// How the winner of a workload is picked from its rows (printed with the table).
pub const RULE: &str = "the lowest wall time wins; forms within 10% of it (wall <= 1.10 x the \
                        lowest) tie, and a tie goes to the lowest CPU time (then the first \
                        listed), using the numbers as printed";
/// The tie band of [`RULE`].
pub const TIE: f64 = 1.10;

/// Sizes of the three workloads and of the pools.
#[derive(Debug, Clone)]
pub struct Sizes {
    /// CPU-bound: count the primes below this.
    pub primes_below: u64,
    /// CPU-bound: in this many jobs.
    pub chunks: u64,
    /// Fast I/O: connections (one job each).
    pub fast_connections: usize,
    /// Fast I/O: request/answer round trips per connection.
    pub fast_rounds: u64,
    /// Slow I/O: connections (one job each, one round trip each).
    pub slow_connections: usize,
    /// Slow I/O: how long the server waits before each answer.
    pub slow_delay_ms: u64,
    /// Threads of the thread pool.
    pub pool_threads: usize,
    /// Worker processes of the process pool.
    pub processes: usize,
    /// Worker threads of the async runtime.
    pub async_workers: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Workload {
    Cpu,
    FastIo,
    SlowIo,
}

impl Workload {
    const ALL: [Workload; 3] = [Workload::Cpu, Workload::FastIo, Workload::SlowIo];

    fn name(self) -> &'static str {
        match self {
            Workload::Cpu => "cpu-bound",
            Workload::FastIo => "fast-io-few-conns",
            Workload::SlowIo => "slow-io-many-conns",
        }
    }

    /// The article's advice for this workload.
    fn article(self) -> Family {
        match self {
            Workload::Cpu => Family::Processes,
            Workload::FastIo => Family::Threads,
            Workload::SlowIo => Family::Async,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    ThreadPerJob,
    ThreadPool,
    ProcessPool,
    Async,
}

impl Form {
    const ALL: [Form; 4] = [
        Form::ThreadPerJob,
        Form::ThreadPool,
        Form::ProcessPool,
        Form::Async,
    ];

    fn name(self) -> &'static str {
        match self {
            Form::ThreadPerJob => "thread per job",
            Form::ThreadPool => "thread pool",
            Form::ProcessPool => "process pool",
            Form::Async => "async tasks",
        }
    }

    fn family(self) -> Family {
        match self {
            Form::ThreadPerJob | Form::ThreadPool => Family::Threads,
            Form::ProcessPool => Family::Processes,
            Form::Async => Family::Async,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Threads,
    Processes,
    Async,
}

impl Family {
    fn name(self) -> &'static str {
        match self {
            Family::Threads => "threads",
            Family::Processes => "processes",
            Family::Async => "async (asyncio)",
        }
    }
}

/// One measured run.
struct Row {
    workload: Workload,
    form: Form,
    wall: Duration,
    cpu: Duration,
    peak_kib: u64,
    used: String,
    outcome: Result<u64, String>,
}

/// The jobs of one workload.
enum Jobs {
    Cpu(Vec<(u64, u64)>),
    Io(SocketAddr, Vec<u64>),
}

/// The peer for the I/O workloads: this binary started again as `spindle __serve`, so its
/// CPU time and memory are not counted as ours. It exits when its stdin closes.
struct Server {
    child: Child,
    fast: SocketAddr,
    slow: SocketAddr,
}

impl Server {
    fn start(delay_ms: u64) -> Result<Server, String> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
        let mut child = Command::new(exe)
            .args(["__serve", "--delay-ms", &delay_ms.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the test server: {e}"))?;
        let mut line = String::new();
        let stdout = child.stdout.take().ok_or("the server has no stdout")?;
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| format!("the test server did not start: {e}"))?;
        let mut ports = line.split_whitespace().map(str::parse::<u16>);
        match (ports.next(), ports.next()) {
            (Some(Ok(fast)), Some(Ok(slow))) => Ok(Server {
                child,
                fast: SocketAddr::from(([127, 0, 0, 1], fast)),
                slow: SocketAddr::from(([127, 0, 0, 1], slow)),
            }),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("the test server said {line:?}, not two ports"))
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.child.stdin.take()); // EOF: the server exits
        let _ = self.child.wait();
    }
}

/// `spindle __serve`: answers every byte it reads with one byte, at once on the first port,
/// after `delay` on the second. Prints the two ports, then serves until stdin closes.
pub fn serve(delay: Duration) -> Result<(), String> {
    raise_fd_limit();
    std::thread::spawn(|| {
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
        std::process::exit(0);
    });
    let rt = Builder::new_current_thread()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let fast = listener()?;
        let slow = listener()?;
        println!(
            "{} {}",
            fast.local_addr()?.port(),
            slow.local_addr()?.port()
        );
        std::io::stdout().flush()?;
        let fast_loop = spindle::spawn(accept_loop(fast, Duration::ZERO));
        let slow_loop = spindle::spawn(accept_loop(slow, delay));
        let _ = fast_loop.await;
        let _ = slow_loop.await;
        Ok::<(), std::io::Error>(())
    })
    .map_err(|e| e.to_string())
}

/// A loopback listener with a long accept backlog (thousands connect at once).
fn listener() -> std::io::Result<spindle::net::TcpListener> {
    use std::os::fd::AsRawFd;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    // SAFETY: listen(2) on a socket we own; calling it again only changes the backlog
    // (capped by net.core.somaxconn).
    unsafe { libc::listen(listener.as_raw_fd(), 65_535) };
    spindle::net::TcpListener::from_std(listener)
}

async fn accept_loop(listener: spindle::net::TcpListener, delay: Duration) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            // Out of descriptors, say: wait a little for some to be freed.
            spindle::time::sleep(Duration::from_millis(1)).await;
            continue;
        };
        spindle::spawn(async move {
            let _ = stream.set_nodelay(true);
            let mut byte = [0u8; 1];
            while stream.read_exact(&mut byte).await.is_ok() {
                if !delay.is_zero() {
                    spindle::time::sleep(delay).await;
                }
                if stream.write_all(b"!").await.is_err() {
                    break;
                }
            }
        });
    }
}

/// Runs `form` on `jobs`; returns the result (primes or round trips) and the summed peak
/// memory of any worker processes, in KiB.
fn run_form(form: Form, jobs: &Jobs, sizes: &Sizes) -> Result<(u64, u64), String> {
    let io_jobs = |addr: SocketAddr, rounds: &[u64]| -> Vec<(String, u64)> {
        rounds.iter().map(|&r| (addr.to_string(), r)).collect()
    };
    match form {
        Form::ThreadPerJob => {
            let handles: Vec<std::thread::JoinHandle<Result<u64, String>>> = match jobs {
                Jobs::Cpu(chunks) => chunks
                    .iter()
                    .map(|&chunk| spawn_thread(move || Ok(count_primes(chunk))))
                    .collect::<Result<_, _>>()?,
                Jobs::Io(addr, rounds) => io_jobs(*addr, rounds)
                    .into_iter()
                    .map(|job| spawn_thread(move || fetch(job)))
                    .collect::<Result<_, _>>()?,
            };
            let mut total = 0;
            for handle in handles {
                total += handle.join().map_err(|_| "a thread panicked")??;
            }
            Ok((total, 0))
        }
        Form::ThreadPool => {
            let pool = ThreadPool::builder()
                .max_threads(sizes.pool_threads)
                .build()
                .map_err(|e| e.to_string())?;
            let handles: Vec<_> = match jobs {
                Jobs::Cpu(chunks) => chunks
                    .iter()
                    .map(|&chunk| pool.submit(move || Ok(count_primes(chunk))))
                    .collect(),
                Jobs::Io(addr, rounds) => io_jobs(*addr, rounds)
                    .into_iter()
                    .map(|job| pool.submit(move || fetch(job)))
                    .collect(),
            };
            let mut total = 0;
            for handle in handles {
                total += handle.wait().map_err(|e| e.to_string())??;
            }
            Ok((total, 0))
        }
        Form::ProcessPool => {
            let pool = ProcessPool::builder(&self::jobs())
                .workers(sizes.processes)
                .build()
                .map_err(|e| e.to_string())?;
            let mut total = 0;
            match jobs {
                Jobs::Cpu(chunks) => {
                    let handles: Vec<_> = chunks
                        .iter()
                        .map(|&chunk| pool.submit::<(u64, u64), u64>("count_primes", chunk))
                        .collect();
                    for handle in handles {
                        total += handle.wait().map_err(|e| e.to_string())?;
                    }
                }
                Jobs::Io(addr, rounds) => {
                    let handles: Vec<_> = io_jobs(*addr, rounds)
                        .into_iter()
                        .map(|job| pool.submit::<(String, u64), Result<u64, String>>("fetch", job))
                        .collect();
                    for handle in handles {
                        total += handle.wait().map_err(|e| e.to_string())??;
                    }
                }
            }
            // The workers' peak memory, read before they exit (the server is not a worker).
            let children: u64 = child_pids()
                .into_iter()
                .filter(|&pid| Some(pid) != SERVER_PID.get().copied())
                .filter_map(|pid| status_kib(&pid.to_string(), "VmHWM"))
                .sum();
            pool.shutdown(); // reaps the workers: their CPU time joins RUSAGE_CHILDREN
            Ok((total, children))
        }
        Form::Async => {
            let rt = Builder::new_multi_thread()
                .worker_threads(sizes.async_workers)
                .build()
                .map_err(|e| e.to_string())?;
            let total = rt.block_on(async {
                let handles: Vec<spindle::task::JoinHandle<Result<u64, String>>> = match jobs {
                    Jobs::Cpu(chunks) => chunks
                        .iter()
                        .map(|&chunk| spindle::spawn(async move { Ok(count_primes(chunk)) }))
                        .collect(),
                    Jobs::Io(addr, rounds) => rounds
                        .iter()
                        .map(|&rounds| spindle::spawn(fetch_async(*addr, rounds)))
                        .collect(),
                };
                let mut total = 0;
                for handle in handles {
                    total += handle.await.map_err(|e| e.to_string())??;
                }
                Ok::<u64, String>(total)
            })?;
            Ok((total, 0))
        }
    }
}

static SERVER_PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();

fn spawn_thread(
    f: impl FnOnce() -> Result<u64, String> + Send + 'static,
) -> Result<std::thread::JoinHandle<Result<u64, String>>, String> {
    std::thread::Builder::new()
        .spawn(f)
        .map_err(|e| format!("cannot start a thread: {e}"))
}

async fn fetch_async(addr: SocketAddr, rounds: u64) -> Result<u64, String> {
    let mut stream = spindle::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut byte = [0u8; 1];
    for _ in 0..rounds {
        stream.write_all(b"?").await.map_err(|e| e.to_string())?;
        stream
            .read_exact(&mut byte)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(rounds)
}

/// Measures one form on one workload.
fn measure(workload: Workload, form: Form, jobs: &Jobs, sizes: &Sizes) -> Row {
    let used = match form {
        Form::ThreadPerJob => match jobs {
            Jobs::Cpu(chunks) => format!("{} threads", chunks.len()),
            Jobs::Io(_, rounds) => format!("{} threads", rounds.len()),
        },
        Form::ThreadPool => format!("{} threads", sizes.pool_threads),
        Form::ProcessPool => format!("{} processes", sizes.processes),
        Form::Async => format!("{} threads", sizes.async_workers),
    };
    reset_peak_rss();
    let rss_before = status_kib("self", "VmRSS").unwrap_or(0);
    let cpu_before = self_cpu() + children_cpu();
    let started = Instant::now();
    let outcome = run_form(form, jobs, sizes);
    let wall = started.elapsed();
    let cpu = (self_cpu() + children_cpu()).saturating_sub(cpu_before);
    let own_peak = status_kib("self", "VmHWM")
        .unwrap_or(0)
        .saturating_sub(rss_before);
    let (outcome, children_peak) = match outcome {
        Ok((total, children)) => (Ok(total), children),
        Err(error) => (Err(error), 0),
    };
    Row {
        workload,
        form,
        wall,
        cpu,
        peak_kib: own_peak + children_peak,
        used,
        outcome,
    }
}

/// Shows what is running: a line that rewrites itself on a terminal, plain lines otherwise.
fn progress(step: usize, steps: usize, text: &str) {
    let mut err = std::io::stderr();
    if err.is_terminal() {
        let _ = write!(err, "\r\x1b[2K[{step}/{steps}] running {text} ...");
    } else {
        let _ = writeln!(err, "[{step}/{steps}] running {text} ...");
    }
    let _ = err.flush();
}

fn clear_progress() {
    let mut err = std::io::stderr();
    if err.is_terminal() {
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
    }
}

/// Milliseconds rounded to the 0.1 ms the table shows: the verdict is computed from the
/// printed numbers, so anyone can check it from the table alone.
fn shown_ms(duration: Duration) -> f64 {
    ms(duration).parse().unwrap_or(f64::INFINITY)
}

/// The winner of `rows` by [`RULE`], among the rows that succeeded; on equal CPU time, the
/// first in table order.
fn winner<'a>(rows: &[&'a Row]) -> Option<&'a Row> {
    let ok: Vec<&Row> = rows.iter().copied().filter(|r| r.outcome.is_ok()).collect();
    let fastest = ok
        .iter()
        .map(|r| shown_ms(r.wall))
        .fold(f64::INFINITY, f64::min);
    ok.into_iter()
        .filter(|r| shown_ms(r.wall) <= fastest * TIE)
        .min_by(|a, b| shown_ms(a.cpu).total_cmp(&shown_ms(b.cpu)))
}

/// The `choose` subcommand.
pub fn run(mut sizes: Sizes) -> Result<(), String> {
    let limit = raise_fd_limit();
    // Our side of each slow connection, plus room for the pools' sockets and pipes.
    let room = limit.saturating_sub(200) as usize;
    if sizes.slow_connections > room {
        eprintln!(
            "spindle: note: the open-file limit is {limit}, too low for {} connections: \
             using {room} (raise `ulimit -n` for more)",
            sizes.slow_connections
        );
        sizes.slow_connections = room.max(1);
    }
    let server = Server::start(sizes.slow_delay_ms)?;
    let _ = SERVER_PID.set(server.child.id());

    let step = sizes.primes_below.div_ceil(sizes.chunks.max(1)).max(1);
    let chunks: Vec<(u64, u64)> = (0..sizes.chunks.max(1))
        .map(|i| (i * step, ((i + 1) * step).min(sizes.primes_below)))
        .collect();
    let describe = |workload: Workload| match workload {
        Workload::Cpu => format!(
            "count the primes below {} in {} jobs",
            sizes.primes_below,
            chunks.len()
        ),
        Workload::FastIo => format!(
            "{} loopback connections x {} round trips, answered at once",
            sizes.fast_connections, sizes.fast_rounds
        ),
        Workload::SlowIo => format!(
            "{} loopback connections x 1 round trip, each answered after {} ms",
            sizes.slow_connections, sizes.slow_delay_ms
        ),
    };
    println!("spindle choose: three workloads, four forms of concurrency, measured here.");
    for workload in Workload::ALL {
        println!("  {:<20} {}", workload.name(), describe(workload));
    }
    println!(
        "  (thread pool: {} threads; process pool: {} processes; async: a spindle runtime with \
         {} worker threads)",
        sizes.pool_threads, sizes.processes, sizes.async_workers
    );
    println!();

    let mut rows = Vec::new();
    let total = Workload::ALL.len() * Form::ALL.len();
    for workload in Workload::ALL {
        let jobs = match workload {
            Workload::Cpu => Jobs::Cpu(chunks.clone()),
            Workload::FastIo => {
                Jobs::Io(server.fast, vec![sizes.fast_rounds; sizes.fast_connections])
            }
            Workload::SlowIo => Jobs::Io(server.slow, vec![1; sizes.slow_connections]),
        };
        for form in Form::ALL {
            progress(
                rows.len() + 1,
                total,
                &format!("{}: {}", workload.name(), form.name()),
            );
            rows.push(measure(workload, form, &jobs, &sizes));
        }
        // Every form computes the same thing: a form whose answer differs failed.
        let answers: Vec<u64> = rows
            .iter()
            .filter(|r| r.workload == workload)
            .filter_map(|r| r.outcome.as_ref().ok().copied())
            .collect();
        let expected = match workload {
            Workload::Cpu => answers.iter().copied().max(),
            Workload::FastIo => Some(sizes.fast_rounds * sizes.fast_connections as u64),
            Workload::SlowIo => Some(sizes.slow_connections as u64),
        };
        for row in rows.iter_mut().filter(|r| r.workload == workload) {
            if let (Ok(got), Some(expected)) = (&row.outcome, expected) {
                if *got != expected {
                    row.outcome = Err(format!("wrong answer {got}, expected {expected}"));
                }
            }
        }
    }
    clear_progress();
    drop(server);

    println!("| workload | form | wall ms | CPU ms | peak memory MiB | threads or processes |");
    println!("|---|---|---:|---:|---:|---|");
    for row in &rows {
        match &row.outcome {
            Ok(_) => println!(
                "| {} | {} | {} | {} | {:.1} | {} |",
                row.workload.name(),
                row.form.name(),
                ms(row.wall),
                ms(row.cpu),
                row.peak_kib as f64 / 1024.0,
                row.used
            ),
            Err(error) => println!(
                "| {} | {} | failed | failed | - | {} ({error}) |",
                row.workload.name(),
                row.form.name(),
                row.used
            ),
        }
    }
    println!();
    println!("CPU time includes the worker processes'; peak memory is the growth of this");
    println!("process's peak RSS during the run plus the worker processes' peak RSS.");
    println!("Rule: {RULE}.");
    for workload in Workload::ALL {
        let mine: Vec<&Row> = rows.iter().filter(|r| r.workload == workload).collect();
        let article = workload.article();
        match winner(&mine) {
            Some(best) => {
                let agrees = if best.form.family() == article {
                    "agrees".to_owned()
                } else {
                    let theirs = mine
                        .iter()
                        .filter(|r| r.form.family() == article && r.outcome.is_ok())
                        .map(|r| shown_ms(r.wall) / shown_ms(best.wall).max(0.1))
                        .fold(f64::INFINITY, f64::min);
                    if theirs.is_finite() && theirs <= TIE {
                        format!(
                            "disagrees narrowly (the article's choice tied on wall time, \
                             {theirs:.2}x the winner's, and lost on CPU time)"
                        )
                    } else if theirs.is_finite() {
                        format!(
                            "disagrees (the article's choice took {theirs:.2}x the winner's wall \
                             time)"
                        )
                    } else {
                        "disagrees (the article's choice failed here)".to_owned()
                    }
                };
                println!(
                    "verdict {}: winner = {}; article says {} -> {agrees}",
                    workload.name(),
                    best.form.name(),
                    article.name()
                );
            }
            None => println!(
                "verdict {}: no winner (every form failed); article says {}",
                workload.name(),
                article.name()
            ),
        }
    }
    Ok(())
}
