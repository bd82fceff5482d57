//! hyper 1.x on spindle through `spindle::compat::hyper` (feature `hyper`): many requests on
//! keep-alive connections, a large body echoed, and the header-read timeout (spindle's
//! `Timer`) closing stalled connections without leaking their fds. Loopback only; each test
//! is bounded by a spindle timeout and waits on counts and channels, never on a guess.

#[path = "common/children.rs"]
mod children;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use spindle::compat::hyper::{Io, Timer};
use spindle::io::{AsyncReadExt, AsyncWriteExt};
use spindle::net::{TcpListener, TcpStream};
use spindle::sync::mpsc;

/// A bound on each test: a hang fails instead of blocking the suite.
const TEST_BOUND: Duration = Duration::from_secs(120);

fn runtime() -> spindle::runtime::Runtime {
    spindle::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

/// What the server answers: `GET /echo-path/...` gets its path back, any other request its
/// own body (streamed back as it arrives).
async fn handle(request: Request<Incoming>) -> Result<Response<Incoming>, Infallible> {
    Ok(Response::new(request.into_body()))
}

/// Accepts forever; each connection is served by hyper with spindle's `Timer`, and its
/// outcome (`Ok`, or hyper's error) is sent on `ended` after the stream is dropped.
async fn serve_forever(
    listener: TcpListener,
    header_read_timeout: Duration,
    accepted: Arc<AtomicUsize>,
    ended: mpsc::UnboundedSender<Result<(), hyper::Error>>,
) {
    loop {
        let (stream, _) = listener.accept().await.unwrap();
        accepted.fetch_add(1, Ordering::SeqCst);
        let ended = ended.clone();
        spindle::spawn(async move {
            let result = hyper::server::conn::http1::Builder::new()
                .timer(Timer::new())
                .header_read_timeout(header_read_timeout)
                .serve_connection(Io::new(stream), hyper::service::service_fn(handle))
                .await;
            // `serve_connection` owned the stream: it is closed by now.
            let _ = ended.send(result);
        });
    }
}

type ClientSender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> (ClientSender, spindle::task::JoinHandle<()>) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, connection) = hyper::client::conn::http1::handshake(Io::new(stream))
        .await
        .unwrap();
    let connection = spindle::spawn(async move { connection.await.unwrap() });
    (sender, connection)
}

async fn post(sender: &mut ClientSender, addr: SocketAddr, body: Bytes) -> Bytes {
    let request = Request::post("/")
        .header("host", addr.to_string())
        .body(Full::new(body))
        .unwrap();
    // One request at a time on HTTP/1: `send_request` fails while the connection task is
    // still finishing the previous exchange.
    sender.ready().await.unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    response.into_body().collect().await.unwrap().to_bytes()
}

#[test]
fn ten_thousand_requests_over_64_keep_alive_connections() {
    const CONNECTIONS: usize = 64;
    const REQUESTS: usize = 10_000;
    let _serial = children::serial();
    runtime().block_on(async {
        spindle::time::timeout(TEST_BOUND, async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let accepted = Arc::new(AtomicUsize::new(0));
            let (ended_tx, _ended_rx) = mpsc::unbounded_channel();
            let server = spindle::spawn(serve_forever(
                listener,
                Duration::from_secs(30),
                Arc::clone(&accepted),
                ended_tx,
            ));
            let clients: Vec<_> = (0..CONNECTIONS)
                .map(|c| {
                    // Spread REQUESTS over the connections, the first ones taking one more.
                    let count = REQUESTS / CONNECTIONS + usize::from(c < REQUESTS % CONNECTIONS);
                    spindle::spawn(async move {
                        let (mut sender, connection) = connect(addr).await;
                        for r in 0..count {
                            let body = Bytes::from(format!("connection {c} request {r}"));
                            assert_eq!(post(&mut sender, addr, body.clone()).await, body);
                        }
                        drop(sender);
                        connection.await.unwrap();
                        count
                    })
                })
                .collect();
            let mut answered = 0;
            for client in clients {
                answered += client.await.unwrap();
            }
            assert_eq!(answered, REQUESTS);
            // Keep-alive: one accepted connection per client, not one per request.
            assert_eq!(accepted.load(Ordering::SeqCst), CONNECTIONS);
            server.abort();
        })
        .await
        .expect("10,000 requests within the bound");
    });
}

#[test]
fn ten_mib_post_is_echoed_byte_for_byte() {
    const LEN: usize = 10 << 20;
    let _serial = children::serial();
    // Bytes that differ from position to position (an xorshift), so a dropped, repeated or
    // reordered chunk shows.
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let body: Vec<u8> = (0..LEN)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let body = Bytes::from(body);
    runtime().block_on(async {
        spindle::time::timeout(TEST_BOUND, async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let (ended_tx, _ended_rx) = mpsc::unbounded_channel();
            let server = spindle::spawn(serve_forever(
                listener,
                Duration::from_secs(30),
                Arc::new(AtomicUsize::new(0)),
                ended_tx,
            ));
            let (mut sender, connection) = connect(addr).await;
            let echoed = post(&mut sender, addr, body.clone()).await;
            assert_eq!(echoed.len(), LEN);
            assert!(echoed == body, "the echo differs from what was sent");
            drop(sender);
            connection.await.unwrap();
            server.abort();
        })
        .await
        .expect("the echo within the bound");
    });
}

#[test]
fn stalled_clients_hit_the_header_timeout_and_leak_no_fd() {
    const STALLED: usize = 8;
    const HEADER_TIMEOUT: Duration = Duration::from_millis(300);
    let _serial = children::serial();
    let rt = runtime();
    rt.block_on(async {
        spindle::time::timeout(TEST_BOUND, async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let accepted = Arc::new(AtomicUsize::new(0));
            let (ended_tx, mut ended_rx) = mpsc::unbounded_channel();
            let server = spindle::spawn(serve_forever(
                listener,
                HEADER_TIMEOUT,
                Arc::clone(&accepted),
                ended_tx,
            ));
            // Runtime, listener and server task exist: every fd opened from here on belongs
            // to a connection.
            let fds_before = children::fd_count();
            let start = Instant::now();
            let stalled: Vec<_> = (0..STALLED)
                .map(|_| {
                    spindle::spawn(async move {
                        let mut stream = TcpStream::connect(addr).await.unwrap();
                        // Half a request header, then nothing.
                        stream
                            .write_all(b"GET / HTTP/1.1\r\nHost: loc")
                            .await
                            .unwrap();
                        // The server must close the connection: read to its end (hyper may
                        // answer 408 first; a reset counts as closed too).
                        let mut rest = Vec::new();
                        match stream.read_to_end(&mut rest).await {
                            Ok(_) => {}
                            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
                        }
                        start.elapsed()
                    })
                })
                .collect();
            for client in stalled {
                let waited = client.await.unwrap();
                assert!(
                    waited >= HEADER_TIMEOUT,
                    "closed after {waited:?}, before the {HEADER_TIMEOUT:?} header timeout"
                );
            }
            // Every server side ended with hyper's timeout error.
            for _ in 0..STALLED {
                let result = ended_rx.recv().await.expect("a connection outcome");
                let error = result.expect_err("a stalled connection cannot succeed");
                assert!(error.is_timeout(), "not the header timeout: {error}");
            }
            assert_eq!(accepted.load(Ordering::SeqCst), STALLED);
            // Both ends of every connection are dropped: the fd count is back where it was.
            assert_eq!(children::fd_count(), fds_before, "fds leaked");
            server.abort();
        })
        .await
        .expect("the stalled connections closed within the bound");
    });
}
