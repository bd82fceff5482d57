//! Lines over TCP, the first program a tokio user ports: a line echo server and a client in
//! one program. The server answers each line with its length and the line; three clients
//! send a few lines each, check every answer, and the program exits 0.
//!
//! `cargo run --example lines_over_tcp`. `cargo test --examples` runs it too (the test at
//! the bottom calls `main`).

use spindle::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use spindle::net::{TcpListener, TcpStream};

const CLIENTS: usize = 3;
const LINES: usize = 100;

/// Serves one connection: for each line `text`, writes `"<len> <text>\n"`.
async fn serve(socket: TcpStream) -> std::io::Result<()> {
    let (reader, writer) = socket.into_split();
    let mut lines = BufReader::new(reader).lines();
    let mut writer = BufWriter::new(writer);
    while let Some(line) = lines.next_line().await? {
        writer
            .write_all(format!("{} {line}\n", line.len()).as_bytes())
            .await?;
        // One flush per line: the client waits for each answer before its next line.
        writer.flush().await?;
    }
    writer.shutdown().await
}

async fn client(addr: std::net::SocketAddr, id: usize) -> std::io::Result<usize> {
    let socket = TcpStream::connect(addr).await?;
    socket.set_nodelay(true)?;
    let (reader, mut writer) = socket.into_split();
    let mut answers = BufReader::new(reader);
    let mut answer = String::new();
    for i in 0..LINES {
        let line = format!("client {id} line {i}");
        writer.write_all(line.as_bytes()).await?;
        writer.write_all(b"\n").await?;
        answer.clear();
        answers.read_line(&mut answer).await?;
        assert_eq!(answer, format!("{} {line}\n", line.len()), "a wrong answer");
    }
    writer.shutdown().await?;
    answer.clear();
    let after = answers.read_line(&mut answer).await?;
    assert_eq!(after, 0, "the server closes after the last answer");
    Ok(LINES)
}

fn main() {
    spindle::block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = spindle::spawn(async move {
            let mut connections = Vec::new();
            for _ in 0..CLIENTS {
                let (socket, _) = listener.accept().await.unwrap();
                connections.push(spindle::spawn(serve(socket)));
            }
            for connection in connections {
                connection.await.unwrap().unwrap();
            }
        });
        let clients: Vec<_> = (0..CLIENTS)
            .map(|id| spindle::spawn(client(addr, id)))
            .collect();
        let mut total = 0;
        for client in clients {
            total += client.await.unwrap().unwrap();
        }
        server.await.unwrap();
        println!("{total} lines echoed over {CLIENTS} connections");
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn runs_to_completion() {
        super::main();
    }
}
