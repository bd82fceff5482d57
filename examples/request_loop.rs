//! A request/response loop over loopback TCP: a client sends `ROUNDS` small requests, one at a
//! time, and a server task answers each. It is the workload behind the syscalls-per-request
//! figure in DESIGN.md ("Short reads"): run it under
//! `strace -f -c -e trace=recvfrom,read cargo run --release --example request_loop` (or on the
//! built binary) and divide the `recvfrom` count by the number of rounds.
//!
//! `cargo run --example request_loop -- [rounds]` (default 1000).

use spindle::io::{AsyncReadExt, AsyncWriteExt};
use spindle::net::{TcpListener, TcpStream};

const REQUEST: &[u8] = b"GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n";
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .map(|arg| arg.parse().expect("usage: request_loop [rounds]"))
        .unwrap_or(1000);
    run(rounds);
}

fn run(rounds: usize) {
    spindle::block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = spindle::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            socket.set_nodelay(true).unwrap();
            let mut buf = vec![0u8; 4096];
            let mut served = 0usize;
            loop {
                let mut got = 0;
                while got < REQUEST.len() {
                    let n = socket.read(&mut buf[got..]).await.unwrap();
                    if n == 0 {
                        return served;
                    }
                    got += n;
                }
                assert_eq!(&buf[..got], REQUEST, "the request arrived changed");
                socket.write_all(RESPONSE).await.unwrap();
                served += 1;
            }
        });
        let mut client = TcpStream::connect(addr).await.unwrap();
        client.set_nodelay(true).unwrap();
        let mut buf = vec![0u8; 4096];
        for _ in 0..rounds {
            client.write_all(REQUEST).await.unwrap();
            let mut got = 0;
            while got < RESPONSE.len() {
                let n = client.read(&mut buf[got..]).await.unwrap();
                assert!(n > 0, "the server closed early");
                got += n;
            }
            assert_eq!(&buf[..got], RESPONSE, "the response arrived changed");
        }
        client.shutdown().await.unwrap();
        let served = server.await.unwrap();
        assert_eq!(served, rounds);
        println!("{rounds} request/responses");
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn runs_to_completion() {
        super::run(100);
    }
}
