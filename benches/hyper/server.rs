//! The hyper plaintext server that `benches/hyper.sh` drives with wrk: one HTTP/1 service
//! ("Hello, World!", keep-alive, a header-read timeout on the runtime's timer), served by the
//! same code on spindle (through `spindle::compat::hyper`) and on tokio (through hyper-util's
//! `TokioIo` and `TokioTimer`), each on a multi-thread runtime with a given worker count.
//!
//! ```text
//! cargo build --profile bench --features hyper --example hyper_server
//! target/release/examples/hyper_server spindle 2 127.0.0.1:8080
//! target/release/examples/hyper_server tokio 2 127.0.0.1:8081
//! ```
//! It prints `listening on ADDR pid PID` once bound and serves until killed. Only the runtime,
//! the listener and the stream/timer adapters differ between the two; `serve` (the
//! connection) and `accept_forever` (the accept loop) are shared.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};

/// What every request gets.
const BODY: &[u8] = b"Hello, World!";

/// hyper's header-read timeout: it arms a timer of the runtime's for every request head, as a
/// real server would.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

async fn hello(_request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut response = Response::new(Full::new(Bytes::from_static(BODY)));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain"),
    );
    Ok(response)
}

/// The service code both runtimes run: one connection, served until the peer closes it.
async fn serve<I, T>(io: I, timer: T)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    T: hyper::rt::Timer + Send + Sync + 'static,
{
    let result = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .timer(timer)
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(io, hyper::service::service_fn(hello))
        .await;
    // A peer that resets its connection (wrk at the end of a run) is not worth a line per
    // connection; anything else is.
    if let Err(error) = result {
        if !error.is_incomplete_message() {
            eprintln!("connection: {error}");
        }
    }
}

/// The accept loop both runtimes run, in `block_on`: `accept` is the listener's, `start`
/// spawns the stream's connection task.
async fn accept_forever<S, F>(mut accept: impl FnMut() -> F, mut start: impl FnMut(S)) -> !
where
    F: Future<Output = std::io::Result<(S, SocketAddr)>>,
{
    loop {
        match accept().await {
            Ok((stream, _)) => start(stream),
            Err(error) => eprintln!("accept: {error}"),
        }
    }
}

fn announce(addr: SocketAddr) {
    println!("listening on {addr} pid {}", std::process::id());
}

fn run_spindle(workers: usize, addr: SocketAddr) {
    use spindle::compat::hyper::{Io, Timer};
    let runtime = spindle::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("building spindle's runtime");
    runtime.block_on(async move {
        let listener = spindle::net::TcpListener::bind(addr)
            .await
            .expect("binding");
        announce(listener.local_addr().unwrap());
        accept_forever(
            || listener.accept(),
            |stream: spindle::net::TcpStream| {
                let _ = stream.set_nodelay(true);
                spindle::spawn(serve(Io::new(stream), Timer::new()));
            },
        )
        .await
    })
}

fn run_tokio(workers: usize, addr: SocketAddr) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("building tokio's runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await.expect("binding");
        announce(listener.local_addr().unwrap());
        accept_forever(
            || listener.accept(),
            |stream: tokio::net::TcpStream| {
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve(TokioIo::new(stream), TokioTimer::new()));
            },
        )
        .await
    })
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else starts with `--`.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    let usage = "usage: hyper_server spindle|tokio WORKERS [ADDR]";
    let runtime = args.first().expect(usage).as_str();
    let workers: usize = args.get(1).and_then(|n| n.parse().ok()).expect(usage);
    let addr: SocketAddr = args
        .get(2)
        .map(|a| a.parse().expect(usage))
        .unwrap_or_else(|| "127.0.0.1:0".parse().unwrap());
    match runtime {
        "spindle" => run_spindle(workers, addr),
        "tokio" => run_tokio(workers, addr),
        _ => panic!("{usage}"),
    }
}
