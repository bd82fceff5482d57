//! A TCP echo server on 127.0.0.1: one task per connection, all on one thread.
//!
//! Run with `cargo run --example echo_server -- [port]` (default 7878), then
//! `cargo run --example echo_client -- 127.0.0.1:7878`. Stop it with Ctrl-C.

use spindle::io::{AsyncReadExt, AsyncWriteExt};
use spindle::net::TcpListener;

fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .map(|arg| arg.parse().expect("usage: echo_server [port]"))
        .unwrap_or(7878);
    spindle::block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap_or_else(|error| panic!("cannot listen on 127.0.0.1:{port}: {error}"));
        println!(
            "echo server listening on {}",
            listener.local_addr().unwrap()
        );
        loop {
            let (mut socket, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    // E.g. EMFILE: report it and keep serving; the next accept may succeed.
                    eprintln!("accept failed: {error}");
                    continue;
                }
            };
            println!("{peer} connected");
            spindle::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut echoed = 0usize;
                loop {
                    match socket.read(&mut buf).await {
                        Ok(0) => break,
                        Ok(n) => {
                            if let Err(error) = socket.write_all(&buf[..n]).await {
                                eprintln!("{peer}: write failed: {error}");
                                break;
                            }
                            echoed += n;
                        }
                        Err(error) => {
                            eprintln!("{peer}: read failed: {error}");
                            break;
                        }
                    }
                }
                println!("{peer} disconnected after {echoed} bytes");
            });
        }
    });
}
