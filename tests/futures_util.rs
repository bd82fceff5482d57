//! spindle's io traits next to futures-util's (issue 14, section 1): the ways that compile and
//! do what they say, as the `spindle::io` module docs ("futures-util") describe them.
//!
//! spindle's sockets implement both spindle's traits and `futures-io`'s, so in a scope that
//! imports both crates' `AsyncReadExt`, `stream.read(..)` is ambiguous (E0034), and
//! futures-util's by-value `split` is picked over the inherent `TcpStream::split`. The tests
//! below are the clean ways around both.
#![cfg(feature = "futures-io")]

use spindle::io::{AsyncReadExt, AsyncWriteExt};
use spindle::net::{TcpListener, TcpStream};

/// A connected loopback pair.
async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connect = spindle::spawn(async move { TcpStream::connect(addr).await.unwrap() });
    let (server, _) = listener.accept().await.unwrap();
    (server, connect.await.unwrap())
}

/// Runtime-neutral code: generic over `futures-io`, with futures-util's extension traits
/// imported only in here. Nothing of spindle's is in scope, so nothing is ambiguous.
mod neutral {
    use futures_util::{AsyncReadExt, AsyncWriteExt};

    pub async fn echo_once<S>(stream: &mut S) -> std::io::Result<Vec<u8>>
    where
        S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin,
    {
        let mut buf = [0u8; 5];
        stream.read_exact(&mut buf).await?;
        stream.write_all(&buf).await?;
        stream.flush().await?;
        Ok(buf.to_vec())
    }
}

/// spindle's methods by name, a futures-util function on the same socket: the two kinds of
/// code live in different scopes and share the socket.
#[test]
fn runtime_neutral_code_in_its_own_scope_drives_a_spindle_socket() {
    spindle::block_on(async {
        let (mut server, mut client) = pair().await;
        let echo = spindle::spawn(async move { neutral::echo_once(&mut server).await.unwrap() });
        client.write_all(b"hello").await.unwrap();
        let mut back = [0u8; 5];
        client.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"hello");
        assert_eq!(echo.await.unwrap(), b"hello");
    });
}

/// With both traits in scope, the qualified form names the one meant (no E0034), and the
/// inherent `split` is reached as `TcpStream::split(&mut stream)`.
#[test]
fn both_traits_in_scope_with_qualified_calls() {
    #[allow(unused_imports)]
    use futures_util::AsyncReadExt as _;
    spindle::block_on(async {
        let (mut server, mut client) = pair().await;
        // spindle's, qualified.
        spindle::io::AsyncWriteExt::write_all(&mut client, b"ab")
            .await
            .unwrap();
        let mut buf = [0u8; 2];
        // futures-util's, qualified.
        futures_util::AsyncReadExt::read_exact(&mut server, &mut buf)
            .await
            .unwrap();
        assert_eq!(&buf, b"ab");
        // The inherent borrowed split, not futures-util's by-value one.
        {
            let (reader, mut writer) = TcpStream::split(&mut server);
            spindle::io::AsyncWriteExt::write_all(&mut writer, b"cd")
                .await
                .unwrap();
            spindle::io::AsyncReadExt::read_exact(&mut client, &mut buf)
                .await
                .unwrap();
            assert_eq!(&buf, b"cd");
            assert!(reader.peer_addr().is_ok());
        }
        // `server` is still ours: the split borrowed it.
        assert!(server.peer_addr().is_ok());
    });
}

/// futures-util's stream combinators (no io traits) sit next to spindle's io traits with no
/// friction at all: a stream of lines from `Lines::poll_next_line`.
#[test]
fn futures_util_streams_next_to_spindle_io() {
    use futures_util::StreamExt;
    use spindle::io::{AsyncBufReadExt, BufReader};
    spindle::block_on(async {
        let (mut server, client) = pair().await;
        server.write_all(b"x\ny\nz\n").await.unwrap();
        drop(server);
        let mut lines = BufReader::new(client).lines();
        let stream = futures_util::stream::poll_fn(move |cx| {
            std::pin::Pin::new(&mut lines)
                .poll_next_line(cx)
                .map(|line| line.transpose())
        });
        let got: Vec<String> = stream.map(|line| line.unwrap()).collect().await;
        assert_eq!(got, ["x", "y", "z"]);
    });
}
