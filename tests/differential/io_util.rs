//! `io` utilities (issue 14, section 1): lines over TCP, `read_until` with the delimiter in a
//! later read, `BufWriter`'s flush semantics, `copy_bidirectional`'s counts, `duplex`
//! backpressure and end of stream on drop, number round trips, `read_exact` at end of
//! stream, `io::split`.
//!
//! Each scenario is written once, in [`io_scenario!`] (over [`on_both!`]), against `io`,
//! `net` and `spawn`, which name spindle's or tokio's; it runs on a current-thread runtime of
//! each, and the test asserts both observed the same thing, and what that thing is (so a
//! scenario broken on both cannot pass). Waits are bounded by the runtime's own progress:
//! every scenario's peers are in the scenario, so a hang is a failure of the code under test
//! (the test harness's timeout catches it).

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;

/// Polls `future` once: `Some(output)` if it finished at once, `None` if it was pending.
async fn now_or_never<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    poll_fn(|cx| match future.as_mut().poll(cx) {
        Poll::Ready(output) => Poll::Ready(Some(output)),
        Poll::Pending => Poll::Ready(None),
    })
    .await
}

/// [`on_both!`] with `io`, `net`, `spawn` and the `io` extension traits of the runtime under
/// test in scope; the scenario runs on a current-thread runtime of each.
macro_rules! io_scenario {
    ($(#[$meta:meta])* fn $name:ident() -> $out:ty { $($body:tt)* }) => {
        on_both! {
            $(#[$meta])*
            async fn $name() -> $out {
                #[allow(unused_imports)]
                use rt::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
                #[allow(unused_imports)]
                use rt::{io, net, spawn};
                $($body)*
            }
        }
    };
}

io_scenario! {
    /// A server writes three lines over loopback TCP, in pieces that cut lines apart, the last
    /// with `\r\n` and one more with no newline at all; the client reads them with
    /// `BufReader::lines`. Returns the lines, then what `next_line` gives after the end.
    fn lines_over_tcp() -> (Vec<String>, Option<String>) {
        let listener = net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            for piece in [&b"one\ntw"[..], b"o\nthr", b"ee\r\n", b"no newline"] {
                socket.write_all(piece).await.unwrap();
                socket.flush().await.unwrap();
            }
            socket.shutdown().await.unwrap();
        });
        let client = net::TcpStream::connect(addr).await.unwrap();
        let mut lines = io::BufReader::new(client).lines();
        let mut got = Vec::new();
        while let Some(line) = lines.next_line().await.unwrap() {
            got.push(line);
        }
        let after = lines.next_line().await.unwrap();
        server.await.unwrap();
        (got, after)
    }
}

#[test]
fn lines_over_tcp_agree() {
    let spindle = lines_over_tcp::spindle();
    assert_eq!(spindle, lines_over_tcp::tokio());
    assert_eq!(
        spindle,
        (
            vec![
                "one".into(),
                "two".into(),
                "three".into(),
                "no newline".into()
            ],
            None
        )
    );
}

io_scenario! {
    /// `read_until(b';')` through a 4-byte `BufReader` over a duplex pipe, where the writer
    /// sends a segment and only later its delimiter, and the next segment's start with it.
    /// Returns each call's (count, bytes appended).
    fn read_until_across_reads() -> Vec<(usize, Vec<u8>)> {
        let (near, mut far) = io::duplex(64);
        let mut reader = io::BufReader::with_capacity(4, near);
        let mut got = Vec::new();
        far.write_all(b"abcdef").await.unwrap();
        let mut segment = Vec::new();
        // Pending: the delimiter has not come yet (the bytes so far are kept).
        let first = now_or_never(reader.read_until(b';', &mut segment)).await;
        assert!(first.is_none(), "read_until finished before its delimiter");
        far.write_all(b"g;hi;j").await.unwrap();
        drop(far);
        let mut segment = Vec::new();
        let n = reader.read_until(b';', &mut segment).await.unwrap();
        got.push((n, segment));
        loop {
            let mut segment = Vec::new();
            let n = reader.read_until(b';', &mut segment).await.unwrap();
            got.push((n, segment));
            if n == 0 {
                return got;
            }
        }
    }
}

#[test]
fn read_until_across_reads_agree() {
    let spindle = read_until_across_reads::spindle();
    assert_eq!(spindle, read_until_across_reads::tokio());
    // The cancelled first call had already moved "abcdef" out of the reader into its
    // (dropped) `segment`, as tokio's does: `read_until` is not cancel-safe.
    assert_eq!(
        spindle,
        vec![
            (2, b"g;".to_vec()),
            (3, b"hi;".to_vec()),
            (1, b"j".to_vec()),
            (0, Vec::new()),
        ]
    );
}

io_scenario! {
    /// `BufWriter::with_capacity(8)` over a duplex pipe: small writes stay in the buffer until
    /// `flush`; a write as large as the buffer, with the buffer empty, goes straight through;
    /// a small write after buffered bytes that overflows flushes first. Returns what the
    /// peer could read at each step (`None`: nothing was there).
    fn buf_writer_flush() -> Vec<Option<Vec<u8>>> {
        let (near, mut far) = io::duplex(64);
        let mut writer = io::BufWriter::with_capacity(8, near);
        let mut seen = Vec::new();
        let mut peek = [0u8; 64];
        macro_rules! peer_reads {
            () => {{
                let n = now_or_never(far.read(&mut peek)).await.map(|n| n.unwrap());
                seen.push(n.map(|n| peek[..n].to_vec()));
            }};
        }
        writer.write_all(b"abc").await.unwrap();
        peer_reads!(); // buffered
        writer.flush().await.unwrap();
        peer_reads!(); // "abc"
        writer.write_all(b"0123456789").await.unwrap();
        peer_reads!(); // straight through
        writer.write_all(b"xyz").await.unwrap();
        writer.write_all(b"uvwxyz").await.unwrap(); // 3 + 6 > 8: "xyz" goes out first
        peer_reads!();
        writer.shutdown().await.unwrap(); // flushes "uvwxyz"
        peer_reads!();
        peer_reads!(); // end of stream
        seen
    }
}

#[test]
fn buf_writer_flush_agree() {
    let spindle = buf_writer_flush::spindle();
    assert_eq!(spindle, buf_writer_flush::tokio());
    assert_eq!(
        spindle,
        vec![
            None,
            Some(b"abc".to_vec()),
            Some(b"0123456789".to_vec()),
            Some(b"xyz".to_vec()),
            Some(b"uvwxyz".to_vec()),
            Some(Vec::new()),
        ]
    );
}

io_scenario! {
    /// A proxy task runs `copy_bidirectional` between two duplex pipes; the client sends 5000
    /// bytes and shuts down, the server sends 7 and shuts down. Returns the proxy's counts
    /// and what each end received.
    fn copy_bidirectional_counts() -> ((u64, u64), usize, Vec<u8>) {
        let (mut client, mut proxy_a) = io::duplex(256);
        let (mut proxy_b, mut server) = io::duplex(256);
        let proxy = spawn(async move {
            io::copy_bidirectional(&mut proxy_a, &mut proxy_b).await.unwrap()
        });
        let server_task = spawn(async move {
            server.write_all(b"answer!").await.unwrap();
            server.shutdown().await.unwrap();
            let mut got = Vec::new();
            server.read_to_end(&mut got).await.unwrap();
            got.len()
        });
        let request: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        client.write_all(&request).await.unwrap();
        client.shutdown().await.unwrap();
        let mut reply = Vec::new();
        client.read_to_end(&mut reply).await.unwrap();
        let counts = proxy.await.unwrap();
        (counts, server_task.await.unwrap(), reply)
    }
}

#[test]
fn copy_bidirectional_counts_agree() {
    let spindle = copy_bidirectional_counts::spindle();
    assert_eq!(spindle, copy_bidirectional_counts::tokio());
    assert_eq!(spindle, ((5000, 7), 5000, b"answer!".to_vec()));
}

io_scenario! {
    /// `duplex(4)`: a write takes only what fits and a second write waits; the peer's read
    /// frees room; dropping one end gives the other the rest, then end of stream, and
    /// `BrokenPipe` on write. Returns the observations.
    fn duplex_backpressure_and_drop() -> (usize, bool, Vec<u8>, usize, String) {
        let (mut a, mut b) = io::duplex(4);
        let first = a.write(b"abcdef").await.unwrap();
        let second_waits = now_or_never(a.write(b"ef")).await.is_none();
        a.write_all(b"").await.unwrap();
        let mut buf = [0u8; 2];
        b.read_exact(&mut buf).await.unwrap();
        a.write_all(b"ef").await.unwrap(); // room now
        drop(a);
        let mut rest = Vec::new();
        b.read_to_end(&mut rest).await.unwrap();
        let mut got = buf.to_vec();
        got.extend(rest);
        let at_end = b.read(&mut buf).await.unwrap();
        let write_error = b.write(b"x").await.unwrap_err();
        (first, second_waits, got, at_end, format!("{:?}", write_error.kind()))
    }
}

#[test]
fn duplex_backpressure_and_drop_agree() {
    let spindle = duplex_backpressure_and_drop::spindle();
    assert_eq!(spindle, duplex_backpressure_and_drop::tokio());
    assert_eq!(
        spindle,
        (4, true, b"abcdef".to_vec(), 0, "BrokenPipe".to_string())
    );
}

/// What `number_round_trips` reads back big-endian.
type BigEndian = (u8, i16, u32, i32, u64, i64, u128, f32, f64);
/// What `number_round_trips` reads back little-endian.
type LittleEndian = (u16, u32, i64, f64);

io_scenario! {
    /// Every number writer and reader, big- and little-endian, through a duplex pipe; the
    /// bytes on the wire are returned too.
    fn number_round_trips() -> (Vec<u8>, BigEndian, LittleEndian) {
        let (mut a, mut b) = io::duplex(1024);
        a.write_u8(0xab).await.unwrap();
        a.write_i16(-2).await.unwrap();
        a.write_u32(0xdead_beef).await.unwrap();
        a.write_i32(-123_456).await.unwrap();
        a.write_u64(u64::MAX - 1).await.unwrap();
        a.write_i64(i64::MIN).await.unwrap();
        a.write_u128(1 << 100).await.unwrap();
        a.write_f32(1.5).await.unwrap();
        a.write_f64(-0.25).await.unwrap();
        a.write_u16_le(0x0102).await.unwrap();
        a.write_u32_le(0x0304_0506).await.unwrap();
        a.write_i64_le(-7).await.unwrap();
        a.write_f64_le(2.0).await.unwrap();
        // The first 7 bytes, as written, then read back from a copy of the stream.
        let mut head = [0u8; 7];
        b.read_exact(&mut head).await.unwrap();
        let mut replay = &head[..];
        let big = (
            replay.read_u8().await.unwrap(),
            replay.read_i16().await.unwrap(),
            replay.read_u32().await.unwrap(),
            b.read_i32().await.unwrap(),
            b.read_u64().await.unwrap(),
            b.read_i64().await.unwrap(),
            b.read_u128().await.unwrap(),
            b.read_f32().await.unwrap(),
            b.read_f64().await.unwrap(),
        );
        let little = (
            b.read_u16_le().await.unwrap(),
            b.read_u32_le().await.unwrap(),
            b.read_i64_le().await.unwrap(),
            b.read_f64_le().await.unwrap(),
        );
        (head.to_vec(), big, little)
    }
}

#[test]
fn number_round_trips_agree() {
    let spindle = number_round_trips::spindle();
    assert_eq!(spindle, number_round_trips::tokio());
    assert_eq!(spindle.0, [0xab, 0xff, 0xfe, 0xde, 0xad, 0xbe, 0xef]);
    assert_eq!(
        spindle.1,
        (
            0xab,
            -2,
            0xdead_beef,
            -123_456,
            u64::MAX - 1,
            i64::MIN,
            1 << 100,
            1.5,
            -0.25
        )
    );
    assert_eq!(spindle.2, (0x0102, 0x0304_0506, -7, 2.0));
}

io_scenario! {
    /// `read_exact` for 4 bytes when the stream ends after 3, and `read_u32` on an empty
    /// stream. Returns the error kinds.
    fn read_exact_unexpected_eof() -> (String, String) {
        let (mut a, mut b) = io::duplex(16);
        a.write_all(b"abc").await.unwrap();
        drop(a);
        let mut buf = [0u8; 4];
        let short = b.read_exact(&mut buf).await.unwrap_err();
        let empty = b.read_u32().await.unwrap_err();
        (format!("{:?}", short.kind()), format!("{:?}", empty.kind()))
    }
}

#[test]
fn read_exact_unexpected_eof_agree() {
    let spindle = read_exact_unexpected_eof::spindle();
    assert_eq!(spindle, read_exact_unexpected_eof::tokio());
    assert_eq!(
        spindle,
        ("UnexpectedEof".to_string(), "UnexpectedEof".to_string())
    );
}

io_scenario! {
    /// `io::split` of a duplex end: the halves work from two tasks, and `unsplit` gives the
    /// end back, still connected. Returns what went each way.
    fn split_and_unsplit() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let (near, mut far) = io::duplex(64);
        let (mut reader, mut writer) = io::split(near);
        let reading = spawn(async move {
            let mut buf = [0u8; 4];
            reader.read_exact(&mut buf).await.unwrap();
            (reader, buf.to_vec())
        });
        writer.write_all(b"out!").await.unwrap();
        far.write_all(b"in!!").await.unwrap();
        let mut out = [0u8; 4];
        far.read_exact(&mut out).await.unwrap();
        let (reader, into) = reading.await.unwrap();
        let mut near = reader.unsplit(writer);
        near.write_all(b"again").await.unwrap();
        drop(near);
        let mut again = Vec::new();
        far.read_to_end(&mut again).await.unwrap();
        (out.to_vec(), into, again)
    }
}

#[test]
fn split_and_unsplit_agree() {
    let spindle = split_and_unsplit::spindle();
    assert_eq!(spindle, split_and_unsplit::tokio());
    assert_eq!(
        spindle,
        (b"out!".to_vec(), b"in!!".to_vec(), b"again".to_vec())
    );
}

/// One `next_line` result, its error as the kind's name.
type NextLine = Result<Option<String>, String>;

io_scenario! {
    /// Bytes that are not UTF-8: `lines` (an error, then the next line), `read_line` (an
    /// error, and what it leaves in the `String`), `read_to_string` (the same). Returns the
    /// observations.
    fn invalid_utf8() -> (Vec<NextLine>, (String, String), (String, String)) {
        let input: &[u8] = b"good\n\xff\xfe\nafter\n";
        let mut lines = io::BufReader::new(input).lines();
        let mut seen = Vec::new();
        for _ in 0..4 {
            seen.push(lines.next_line().await.map_err(|e| format!("{:?}", e.kind())));
        }
        let mut reader = io::BufReader::new(&b"\xffbad\n"[..]);
        let mut line = String::from("kept:");
        let error = reader.read_line(&mut line).await.unwrap_err();
        let line_result = (format!("{:?}", error.kind()), line);
        let mut text = String::from("kept:");
        let mut reader: &[u8] = b"ok \xff";
        let error = reader.read_to_string(&mut text).await.unwrap_err();
        (seen, line_result, (format!("{:?}", error.kind()), text))
    }
}

#[test]
fn invalid_utf8_agree() {
    let spindle = invalid_utf8::spindle();
    assert_eq!(spindle, invalid_utf8::tokio());
    assert_eq!(
        spindle.0,
        vec![
            Ok(Some("good".to_string())),
            Err("InvalidData".to_string()),
            Ok(Some("after".to_string())),
            Ok(None),
        ]
    );
    assert_eq!(spindle.1, ("InvalidData".to_string(), "kept:".to_string()));
    assert_eq!(spindle.2, ("InvalidData".to_string(), "kept:".to_string()));
}

io_scenario! {
    /// An echo server that is one `io::copy` from a TCP connection's read half to its write
    /// half; the client sends 256 KiB (more than the socket buffers hold, so both sides
    /// wait on each other), shuts down, and reads the echo to the end. Returns the server's
    /// count and whether the echo came back unchanged.
    fn copy_echo_over_tcp() -> (u64, usize, bool) {
        const SIZE: usize = 256 * 1024;
        let listener = net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let (mut reader, mut writer) = socket.into_split();
            io::copy(&mut reader, &mut writer).await.unwrap()
        });
        let client = net::TcpStream::connect(addr).await.unwrap();
        let (mut reader, mut writer) = client.into_split();
        let data: Vec<u8> = (0..SIZE).map(|i| (i * 7 % 251) as u8).collect();
        let sent = data.clone();
        let sending = spawn(async move {
            writer.write_all(&sent).await.unwrap();
            writer.shutdown().await.unwrap();
            writer
        });
        let mut echo = Vec::new();
        reader.read_to_end(&mut echo).await.unwrap();
        let _writer = sending.await.unwrap();
        (server.await.unwrap(), echo.len(), echo == data)
    }
}

#[test]
fn copy_echo_over_tcp_agree() {
    let spindle = copy_echo_over_tcp::spindle();
    assert_eq!(spindle, copy_echo_over_tcp::tokio());
    assert_eq!(spindle, (256 * 1024, 256 * 1024, true));
}
