//! Socket options and the rest of `net` from issue 14 §2: `TcpSocket`, `TcpStream::{peek,
//! set_linger, set_ttl, set_nodelay}`, `UdpSocket::{peek_from, set_broadcast,
//! join_multicast_v4}`, `lookup_host`. Loopback only. Each scenario is written once over
//! spindle's and tokio's `net` and `io` (same names and shapes) and the results must agree.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

fn on_spindle<T>(future: impl std::future::Future<Output = T>) -> T {
    spindle::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

fn on_tokio<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

macro_rules! scenarios {
    ($side:ident, $rt:ident) => {
        #[allow(deprecated)] // tokio marks `set_linger` deprecated in favour of a narrower API
        mod $side {
            use super::*;
            use $rt::io::{AsyncReadExt, AsyncWriteExt};
            use $rt::net::{lookup_host, TcpSocket, UdpSocket};

            /// Options set on a socket before it listens, and the kernel's values read back.
            pub async fn tcp_socket_options(
            ) -> (bool, bool, bool, u32, u32, Option<Duration>, Vec<u8>) {
                let socket = TcpSocket::new_v4().unwrap();
                let reuse_default = socket.reuseaddr().unwrap();
                socket.set_reuseaddr(true).unwrap();
                socket.set_reuseport(true).unwrap();
                socket.set_send_buffer_size(96 * 1024).unwrap();
                socket.set_recv_buffer_size(80 * 1024).unwrap();
                socket.set_linger(Some(Duration::from_secs(3))).unwrap();
                let options = (
                    reuse_default,
                    socket.reuseaddr().unwrap(),
                    socket.reuseport().unwrap(),
                    socket.send_buffer_size().unwrap(),
                    socket.recv_buffer_size().unwrap(),
                    socket.linger().unwrap(),
                );
                socket.bind(localhost()).unwrap();
                let addr = socket.local_addr().unwrap();
                assert_ne!(addr.port(), 0);
                let listener = socket.listen(16).unwrap();
                assert_eq!(listener.local_addr().unwrap(), addr);
                let server = $rt::spawn(async move {
                    let (mut stream, _) = listener.accept().await.unwrap();
                    stream.write_all(b"over a TcpSocket").await.unwrap();
                });
                let client = TcpSocket::new_v4().unwrap();
                client.bind(localhost()).unwrap();
                let from = client.local_addr().unwrap();
                let mut stream = client.connect(addr).await.unwrap();
                assert_eq!(stream.local_addr().unwrap(), from);
                let mut received = Vec::new();
                stream.read_to_end(&mut received).await.unwrap();
                server.await.unwrap();
                (
                    options.0, options.1, options.2, options.3, options.4, options.5, received,
                )
            }

            /// Binding a port that is taken, then connecting to a port nobody listens on.
            pub async fn tcp_socket_errors() -> (std::io::ErrorKind, std::io::ErrorKind) {
                let taken = TcpSocket::new_v4().unwrap();
                taken.bind(localhost()).unwrap();
                let addr = taken.local_addr().unwrap();
                let _listener = taken.listen(1).unwrap();
                let second = TcpSocket::new_v4().unwrap();
                let in_use = second.bind(addr).unwrap_err().kind();

                let closed = TcpSocket::new_v4().unwrap();
                closed.bind(localhost()).unwrap();
                let closed_addr = closed.local_addr().unwrap();
                drop(closed); // bound, never listening: connecting is refused
                let refused = TcpSocket::new_v4()
                    .unwrap()
                    .connect(closed_addr)
                    .await
                    .unwrap_err()
                    .kind();
                (in_use, refused)
            }

            /// `peek` leaves the bytes for the next read; ttl, nodelay and linger read back.
            pub async fn stream_peek_and_options(
            ) -> (Vec<u8>, Vec<u8>, u32, bool, Vec<Option<Duration>>) {
                let listener = $rt::net::TcpListener::bind(localhost()).await.unwrap();
                let addr = listener.local_addr().unwrap();
                let server = $rt::spawn(async move {
                    let (mut stream, _) = listener.accept().await.unwrap();
                    stream.write_all(b"peekaboo").await.unwrap();
                    stream
                });
                let stream = $rt::net::TcpStream::connect(addr).await.unwrap();
                let mut peeked = vec![0; 8];
                let mut n = 0;
                while n < 8 {
                    n = stream.peek(&mut peeked).await.unwrap(); // grows as bytes arrive
                }
                let mut stream = stream;
                let mut read = vec![0; 8];
                stream.read_exact(&mut read).await.unwrap();
                stream.set_ttl(42).unwrap();
                stream.set_nodelay(true).unwrap();
                let mut lingers = vec![stream.linger().unwrap()];
                stream.set_linger(Some(Duration::ZERO)).unwrap();
                lingers.push(stream.linger().unwrap());
                stream.set_linger(None).unwrap();
                lingers.push(stream.linger().unwrap());
                drop(server.await.unwrap());
                (
                    peeked,
                    read,
                    stream.ttl().unwrap(),
                    stream.nodelay().unwrap(),
                    lingers,
                )
            }

            /// A zero linger makes `drop` reset the connection: the peer's read fails.
            pub async fn zero_linger_resets() -> std::io::ErrorKind {
                let listener = $rt::net::TcpListener::bind(localhost()).await.unwrap();
                let addr = listener.local_addr().unwrap();
                let client = $rt::net::TcpStream::connect(addr).await.unwrap();
                let (mut server, _) = listener.accept().await.unwrap();
                client.set_linger(Some(Duration::ZERO)).unwrap();
                drop(client);
                let mut buf = [0; 1];
                server.read(&mut buf).await.unwrap_err().kind()
            }

            /// `peek_from` returns the datagram and its sender and leaves it for `recv_from`.
            pub async fn udp_peek_broadcast_multicast() -> (Vec<u8>, Vec<u8>, bool, Vec<bool>, u32)
            {
                let a = UdpSocket::bind(localhost()).await.unwrap();
                let b = UdpSocket::bind(localhost()).await.unwrap();
                a.send_to(b"datagram", b.local_addr().unwrap())
                    .await
                    .unwrap();
                let mut peeked = vec![0; 16];
                let (n, from) = b.peek_from(&mut peeked).await.unwrap();
                peeked.truncate(n);
                assert_eq!(from, a.local_addr().unwrap());
                let mut received = vec![0; 16];
                let (n, from) = b.recv_from(&mut received).await.unwrap();
                received.truncate(n);
                assert_eq!(from, a.local_addr().unwrap());

                let default_broadcast = b.broadcast().unwrap();
                b.set_broadcast(true).unwrap();
                let mut flags = vec![default_broadcast, b.broadcast().unwrap()];
                // Whether multicast works depends on the machine's routes (a sandbox may have
                // none): the two runtimes must agree, whatever the answer.
                let group = Ipv4Addr::new(239, 255, 42, 99);
                let joined = b.join_multicast_v4(group, Ipv4Addr::LOCALHOST).is_ok();
                flags.push(joined);
                if joined {
                    flags.push(b.leave_multicast_v4(group, Ipv4Addr::LOCALHOST).is_ok());
                }
                b.set_ttl(7).unwrap();
                (peeked, received, default_broadcast, flags, b.ttl().unwrap())
            }

            pub async fn lookups() -> (Vec<SocketAddr>, Vec<SocketAddr>, std::io::ErrorKind) {
                let literal: Vec<_> = lookup_host("127.0.0.1:8080").await.unwrap().collect();
                let mut localhost: Vec<_> = lookup_host(("localhost", 9)).await.unwrap().collect();
                localhost.sort();
                let no_port = lookup_host("127.0.0.1").await.map(drop).unwrap_err().kind();
                (literal, localhost, no_port)
            }
        }
    };
}

scenarios!(spindle_side, spindle);
scenarios!(tokio_side, tokio);

#[test]
fn tcp_socket_options_and_connect() {
    let spindle = on_spindle(spindle_side::tcp_socket_options());
    let tokio = on_tokio(tokio_side::tcp_socket_options());
    assert_eq!(spindle, tokio);
    let (reuse_default, reuseaddr, reuseport, send, recv, linger, received) = spindle;
    assert!(!reuse_default && reuseaddr && reuseport);
    assert!(send >= 96 * 1024 && recv >= 80 * 1024, "{send} {recv}");
    assert_eq!(linger, Some(Duration::from_secs(3)));
    assert_eq!(received, b"over a TcpSocket");
}

#[test]
fn tcp_socket_errors() {
    let spindle = on_spindle(spindle_side::tcp_socket_errors());
    let tokio = on_tokio(tokio_side::tcp_socket_errors());
    assert_eq!(spindle, tokio);
    assert_eq!(
        spindle,
        (
            std::io::ErrorKind::AddrInUse,
            std::io::ErrorKind::ConnectionRefused
        )
    );
}

#[test]
fn stream_peek_and_options() {
    let spindle = on_spindle(spindle_side::stream_peek_and_options());
    let tokio = on_tokio(tokio_side::stream_peek_and_options());
    assert_eq!(spindle, tokio);
    let (peeked, read, ttl, nodelay, lingers) = spindle;
    assert_eq!(
        (&peeked[..], &read[..]),
        (&b"peekaboo"[..], &b"peekaboo"[..])
    );
    assert_eq!((ttl, nodelay), (42, true));
    assert_eq!(lingers, [None, Some(Duration::ZERO), None]);
}

#[test]
fn zero_linger_resets_the_connection() {
    let spindle = on_spindle(spindle_side::zero_linger_resets());
    let tokio = on_tokio(tokio_side::zero_linger_resets());
    assert_eq!(spindle, tokio);
    assert_eq!(spindle, std::io::ErrorKind::ConnectionReset);
}

#[test]
fn udp_peek_broadcast_multicast() {
    let spindle = on_spindle(spindle_side::udp_peek_broadcast_multicast());
    let tokio = on_tokio(tokio_side::udp_peek_broadcast_multicast());
    assert_eq!(spindle, tokio);
    let (peeked, received, default_broadcast, flags, ttl) = spindle;
    assert_eq!(
        (&peeked[..], &received[..]),
        (&b"datagram"[..], &b"datagram"[..])
    );
    assert!(!default_broadcast && flags[1]);
    assert_eq!(ttl, 7);
}

#[test]
fn lookup_host_on_the_blocking_pool() {
    let spindle = on_spindle(spindle_side::lookups());
    let tokio = on_tokio(tokio_side::lookups());
    assert_eq!(spindle, tokio);
    let (literal, localhost, no_port) = spindle;
    assert_eq!(literal, ["127.0.0.1:8080".parse::<SocketAddr>().unwrap()]);
    assert!(
        !localhost.is_empty()
            && localhost
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() == 9)
    );
    assert_eq!(no_port, std::io::ErrorKind::InvalidInput);
}
