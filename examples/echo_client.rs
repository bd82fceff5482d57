//! A TCP echo client: sends numbered lines, checks each echo, prints the round-trip times.
//!
//! Run `cargo run --example echo_server` first, then
//! `cargo run --example echo_client -- [addr] [messages]` (defaults 127.0.0.1:7878, 5).

use spindle::io::{AsyncReadExt, AsyncWriteExt};
use spindle::net::TcpStream;
use spindle::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:7878".to_string());
    let messages: usize = args
        .next()
        .map(|arg| arg.parse().expect("usage: echo_client [addr] [messages]"))
        .unwrap_or(5);
    spindle::block_on(async move {
        let mut stream = match TcpStream::connect(addr.as_str()).await {
            Ok(stream) => stream,
            Err(error) => {
                eprintln!("cannot connect to {addr}: {error} (is echo_server running?)");
                std::process::exit(1);
            }
        };
        stream.set_nodelay(true).unwrap();
        println!("connected to {}", stream.peer_addr().unwrap());
        for i in 0..messages {
            let line = format!("message {i}\n");
            let start = Instant::now();
            stream.write_all(line.as_bytes()).await.unwrap();
            let mut echo = vec![0u8; line.len()];
            stream.read_exact(&mut echo).await.unwrap();
            assert_eq!(echo, line.as_bytes(), "the echo differs");
            println!("{} echoed in {:?}", line.trim_end(), start.elapsed());
        }
        stream.shutdown().await.unwrap();
    });
}
