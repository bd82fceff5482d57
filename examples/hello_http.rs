//! An HTTP/1 server on spindle's multi-thread runtime, through hyper 1.x and
//! `spindle::compat::hyper`, answering every request with "Hello, World!".
//!
//! - `cargo run --features hyper --example hello_http` serves on 127.0.0.1:3000 until Ctrl-C;
//! - `-- --requests N` stops after N requests; `-- --addr HOST:PORT` picks the address;
//! - `-- --self-test` serves on a free loopback port, makes three requests over one
//!   keep-alive connection with hyper's client (also on spindle), prints the responses and
//!   exits 0 (the `#[test]` below runs this mode).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Bytes;
use spindle::compat::hyper::{Io, Timer};
use spindle::net::{TcpListener, TcpStream};
use spindle::sync::Notify;

const SELF_TEST_REQUESTS: usize = 3;

struct Served {
    count: AtomicUsize,
    limit: Option<usize>,
    reached: Notify,
}

async fn serve(listener: TcpListener, served: Arc<Served>) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                eprintln!("accept: {error}");
                continue;
            }
        };
        let served = Arc::clone(&served);
        spindle::spawn(async move {
            let service = hyper::service::service_fn(move |_request| {
                let served = Arc::clone(&served);
                async move {
                    let n = served.count.fetch_add(1, Ordering::SeqCst) + 1;
                    if served.limit == Some(n) {
                        served.reached.notify_one();
                    }
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(
                        b"Hello, World!",
                    ))))
                }
            });
            let result = hyper::server::conn::http1::Builder::new()
                .timer(Timer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(Io::new(stream), service)
                .await;
            if let Err(error) = result {
                eprintln!("connection: {error}");
            }
        });
    }
}

/// Three GETs over one connection; returns the bodies.
async fn client(addr: SocketAddr) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let stream = TcpStream::connect(addr).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(Io::new(stream)).await?;
    let connection = spindle::spawn(connection);
    let mut bodies = Vec::new();
    for i in 0..SELF_TEST_REQUESTS {
        let request = hyper::Request::get(format!("/{i}"))
            .header("host", addr.to_string())
            .body(Empty::<Bytes>::new())?;
        // On HTTP/1 the connection takes one request at a time: wait until it has finished
        // with the previous response before sending the next (or `send_request` fails).
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        let body = String::from_utf8(body.to_vec())?;
        println!("GET /{i}: {status} {body:?}");
        bodies.push(body);
    }
    drop(sender); // the connection task ends once the sender is gone
    connection.await??;
    Ok(bodies)
}

fn run(args: &[String]) -> usize {
    let mut addr: SocketAddr = "127.0.0.1:3000".parse().unwrap();
    let mut limit = None;
    let mut self_test = false;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--requests" => limit = args.next().and_then(|n| n.parse().ok()),
            "--addr" => {
                addr = args
                    .next()
                    .and_then(|a| a.parse().ok())
                    .expect("--addr HOST:PORT")
            }
            "--self-test" => {
                self_test = true;
                addr = "127.0.0.1:0".parse().unwrap();
                limit = Some(SELF_TEST_REQUESTS);
            }
            other => panic!("unknown argument {other:?} (--requests N, --addr A, --self-test)"),
        }
    }
    let rt = spindle::runtime::Builder::new_multi_thread()
        .build()
        .expect("building the runtime");
    rt.block_on(async move {
        let listener = TcpListener::bind(addr).await.expect("binding");
        let addr = listener.local_addr().unwrap();
        println!("listening on http://{addr}");
        let served = Arc::new(Served {
            count: AtomicUsize::new(0),
            limit,
            reached: Notify::new(),
        });
        let server = spindle::spawn(serve(listener, Arc::clone(&served)));
        if self_test {
            let bodies = client(addr).await.expect("the self-test client");
            assert_eq!(bodies, vec!["Hello, World!"; SELF_TEST_REQUESTS]);
        } else {
            spindle::select! {
                _ = served.reached.notified() => {}
                _ = spindle::signal::ctrl_c() => println!("ctrl-c"),
            }
        }
        server.abort();
        let count = served.count.load(Ordering::SeqCst);
        println!("served {count} requests");
        count
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    run(&args);
}

#[cfg(test)]
mod tests {
    #[test]
    fn self_test_serves_three_requests() {
        assert_eq!(super::run(&["--self-test".to_string()]), 3);
    }
}
