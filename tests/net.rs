//! Sockets over loopback: echo through halves, UDP, Unix sockets, and the OS's errors
//! (refused, address in use, reset, half-close, EMFILE) surfaced as they come.

use std::io::{ErrorKind, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use spindle::io::{AsyncReadExt, AsyncWriteExt};
use spindle::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};
use spindle::runtime::{Builder, Runtime};

fn runtime() -> Runtime {
    Builder::new_current_thread().build().unwrap()
}

#[test]
fn tcp_echo_through_owned_halves_in_two_tasks() {
    let rt = runtime();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = spindle::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            stream.set_nodelay(true).unwrap();
            assert!(stream.nodelay().unwrap());
            let (mut reader, mut writer) = stream.into_split();
            // Echo until end of stream; dropping the write half then sends FIN.
            let mut buf = [0u8; 1024];
            loop {
                let n = reader.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                writer.write_all(&buf[..n]).await.unwrap();
            }
        });
        let stream = TcpStream::connect(addr).await.unwrap();
        assert_eq!(stream.peer_addr().unwrap(), addr);
        let (mut reader, mut writer) = stream.into_split();
        // A big payload: the writer blocks on a full send buffer while the reader drains.
        let payload: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
        let expected = payload.clone();
        let sender = spindle::spawn(async move {
            writer.write_all(&payload).await.unwrap();
            writer.shutdown().await.unwrap();
        });
        let mut echoed = Vec::new();
        reader.read_to_end(&mut echoed).await.unwrap();
        sender.await.unwrap();
        server.await.unwrap();
        assert!(echoed == expected, "the echo differs");
    });
    assert_eq!(rt.metrics().wasted_polls, 0);
}

#[test]
fn tcp_borrowed_split_reads_and_writes() {
    let rt = runtime();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let (mut read_half, mut write_half) = server.split();
        write_half.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        client.read_exact(&mut buf).await.unwrap();
        client.write_all(&buf).await.unwrap();
        read_half.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
    });
}

/// A loopback port that is bound but not listening, held until the returned fd drops: a
/// connect to it is refused. (A port merely "just freed" could be taken by another test's
/// bind, or picked as the connecting socket's own ephemeral port, which makes the connect
/// succeed to itself (TCP simultaneous open); a bound port is neither.)
fn bound_not_listening() -> (OwnedFd, std::net::SocketAddr) {
    // SAFETY: socket(2) takes no pointers; the result is checked before use.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
    // SAFETY: `fd` was just created and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: all-zero is a valid `sockaddr_in` (port 0: the kernel picks one).
    let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    addr.sin_family = libc::AF_INET as libc::sa_family_t;
    addr.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
    let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: bind reads and getsockname writes at most `len` bytes of the live `addr`.
    unsafe {
        let ptr = (&mut addr as *mut libc::sockaddr_in).cast::<libc::sockaddr>();
        assert_eq!(libc::bind(fd.as_raw_fd(), ptr, len), 0, "bind");
        assert_eq!(
            libc::getsockname(fd.as_raw_fd(), ptr, &mut len),
            0,
            "getsockname"
        );
    }
    let port = u16::from_be(addr.sin_port);
    (fd, (std::net::Ipv4Addr::LOCALHOST, port).into())
}

#[test]
fn connection_refused_is_the_os_error() {
    let rt = runtime();
    let (_held, addr) = bound_not_listening();
    let error = rt.block_on(TcpStream::connect(addr)).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConnectionRefused);
}

#[test]
fn address_in_use_is_the_os_error() {
    let rt = runtime();
    rt.block_on(async {
        let first = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let error = TcpListener::bind(first.local_addr().unwrap())
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::AddrInUse);
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let error = UdpSocket::bind(udp.local_addr().unwrap())
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::AddrInUse);
    });
}

/// Sends an RST instead of a FIN when `stream` is dropped (SO_LINGER with a zero timeout).
fn reset_on_drop(stream: &std::net::TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt reads `size_of::<linger>()` bytes from a valid `linger`.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
}

#[test]
fn peer_reset_mid_read_is_an_error_not_a_hang() {
    let rt = runtime();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut ours, _) = listener.accept().await.unwrap();
        let reader = spindle::spawn(async move {
            let mut message = [0u8; 10];
            ours.read_exact(&mut message).await // gets 3 bytes, then the reset
        });
        spindle::task::yield_now().await; // the reader waits for the first bytes
        peer.write_all(b"abc").unwrap();
        spindle::task::yield_now().await;
        reset_on_drop(&peer);
        drop(peer);
        let error = reader.await.unwrap().unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ConnectionReset, "{error}");
    });
}

#[test]
fn read_on_a_half_closed_socket_returns_zero_and_writing_still_works() {
    let rt = runtime();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        client.write_all(b"last words").await.unwrap();
        client.shutdown().await.unwrap();
        let mut got = Vec::new();
        server.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"last words");
        let mut buf = [0u8; 8];
        assert_eq!(
            server.read(&mut buf).await.unwrap(),
            0,
            "end of stream stays"
        );
        // The other direction is still open.
        server.write_all(b"reply").await.unwrap();
        let mut reply = [0u8; 5];
        client.read_exact(&mut reply).await.unwrap();
        assert_eq!(&reply, b"reply");
    });
}

#[test]
fn udp_send_to_recv_from_and_connected() {
    let rt = runtime();
    rt.block_on(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        let receiver = spindle::spawn(async move {
            let mut buf = [0u8; 32];
            let (n, from) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!((&buf[..n], from), (&b"datagram"[..], a_addr));
            b.connect(a_addr).await.unwrap();
            assert_eq!(b.peer_addr().unwrap(), a_addr);
            b.send(b"connected reply").await.unwrap();
        });
        spindle::task::yield_now().await; // the receiver waits first
        assert_eq!(a.send_to(b"datagram", b_addr).await.unwrap(), 8);
        receiver.await.unwrap();
        a.connect(b_addr).await.unwrap();
        let mut buf = [0u8; 32];
        let n = a.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"connected reply");
    });
    assert_eq!(rt.metrics().wasted_polls, 0);
}

#[test]
fn unix_listener_and_stream_echo() {
    let rt = runtime();
    let path = std::env::temp_dir().join(format!("spindle-net-test-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    rt.block_on(async {
        let listener = UnixListener::bind(&path).unwrap();
        let server = spindle::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 5];
            stream.read_exact(&mut buf).await.unwrap();
            stream.write_all(&buf).await.unwrap();
        });
        let mut client = UnixStream::connect(&path).await.unwrap();
        client.write_all(b"hello").await.unwrap();
        let mut buf = [0u8; 5];
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello");
        server.await.unwrap();
        let error = UnixStream::connect(path.with_extension("missing"))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::NotFound);
    });
    std::fs::remove_file(&path).unwrap();
}

/// The `futures-io` traits are implemented, so runtime-neutral code can drive our sockets.
#[cfg(feature = "futures-io")]
#[test]
fn futures_io_traits_drive_the_sockets() {
    use std::future::poll_fn;
    use std::pin::Pin;

    async fn write_via_futures_io<W: futures_io::AsyncWrite + Unpin>(writer: &mut W, data: &[u8]) {
        let mut written = 0;
        while written < data.len() {
            written += poll_fn(|cx| Pin::new(&mut *writer).poll_write(cx, &data[written..]))
                .await
                .unwrap();
        }
        poll_fn(|cx| Pin::new(&mut *writer).poll_close(cx))
            .await
            .unwrap();
    }

    async fn read_via_futures_io<R: futures_io::AsyncRead + Unpin>(reader: &mut R) -> Vec<u8> {
        let mut all = Vec::new();
        let mut buf = [0u8; 7];
        loop {
            let n = poll_fn(|cx| Pin::new(&mut *reader).poll_read(cx, &mut buf))
                .await
                .unwrap();
            if n == 0 {
                return all;
            }
            all.extend_from_slice(&buf[..n]);
        }
    }

    let rt = runtime();
    rt.block_on(async {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        write_via_futures_io(&mut a, b"through futures-io").await;
        assert_eq!(read_via_futures_io(&mut b).await, b"through futures-io");
    });
}

/// Runs the EMFILE scenario in a child process (this test binary again, with an env var),
/// because it lowers the process's fd limit.
#[test]
fn listener_keeps_working_after_emfile() {
    if std::env::var_os("SPINDLE_EMFILE_CHILD").is_some() {
        return emfile_child();
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "listener_keeps_working_after_emfile",
            "--nocapture",
        ])
        .env("SPINDLE_EMFILE_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("EMFILE seen, then accepted"), "{stdout}");
}

fn emfile_child() {
    let rt = runtime();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // The client connects before the table fills: the kernel queues the connection.
        let _client = std::net::TcpStream::connect(addr).unwrap();

        // Lower the limit near what is open, then fill the table with dup'ed fds.
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct we pass.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
            0
        );
        let original = limit;
        let highest_open = std::fs::read_dir("/proc/self/fd")
            .map(|dir| {
                dir.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u64>().ok())
                    .max()
                    .unwrap_or(64)
            })
            .unwrap_or(64);
        limit.rlim_cur = highest_open + 16;
        // SAFETY: setrlimit reads the struct we pass.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
        let mut fillers = Vec::new();
        loop {
            // SAFETY: dup of a valid fd; the result is owned by `fillers` (or -1).
            let fd = unsafe { libc::dup(listener.as_raw_fd()) };
            if fd < 0 {
                assert_eq!(
                    std::io::Error::last_os_error().raw_os_error(),
                    Some(libc::EMFILE)
                );
                break;
            }
            fillers.push(fd);
            assert!(fillers.len() < 10_000, "the fd table never filled");
        }

        let error = listener.accept().await.unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::EMFILE), "{error}");

        // Free some fds: the same listener accepts the queued connection.
        for fd in fillers.drain(..) {
            // SAFETY: each fd came from dup above and is closed once.
            unsafe { libc::close(fd) };
        }
        let (stream, _) = listener.accept().await.unwrap();
        assert_eq!(stream.peer_addr().unwrap(), _client.local_addr().unwrap());
        // SAFETY: setrlimit reads the struct we pass.
        assert_eq!(
            unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &original) },
            0
        );
        println!("EMFILE seen, then accepted");
    });
}
