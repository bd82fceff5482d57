//! `spindle trace`: a small workload on a traced two-worker runtime, written out in Chrome's
//! trace event format.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use spindle::io::{AsyncReadExt, AsyncWriteExt};
use spindle::net::{TcpListener, TcpStream};
use spindle::runtime::Builder;

/// Worker threads of the traced runtime.
pub const WORKERS: usize = 2;

/// Two tasks that each wait (spinning, at most a second) until the other has started: they
/// can only both start if two workers poll at once, so each worker's track gets a slice.
async fn rendezvous(arrived: Arc<AtomicUsize>) {
    arrived.fetch_add(1, SeqCst);
    let deadline = Instant::now() + Duration::from_secs(1);
    while arrived.load(SeqCst) < WORKERS && Instant::now() < deadline {
        std::hint::spin_loop();
    }
}

/// Each thread's name and the task polls it ran.
type PollsPerThread = Vec<(String, usize)>;

/// Runs the workload and returns the trace's JSON.
fn workload() -> Result<(Vec<u8>, PollsPerThread), String> {
    let err = |error: std::io::Error| error.to_string();
    let rt = Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .thread_name("worker")
        .trace(true)
        .build()
        .map_err(err)?;
    rt.block_on(async {
        // Both workers busy at once.
        let arrived = Arc::new(AtomicUsize::new(0));
        let pair: Vec<_> = (0..WORKERS)
            .map(|_| spindle::spawn(rendezvous(arrived.clone())))
            .collect();
        for task in pair {
            task.await.map_err(|e| e.to_string())?;
        }

        // Channel messages: a ping-pong pair, each message waking the other task.
        let (ping_tx, mut ping_rx) = spindle::sync::mpsc::channel::<u32>(1);
        let (pong_tx, mut pong_rx) = spindle::sync::mpsc::channel::<u32>(1);
        let ponger = spindle::spawn(async move {
            while let Some(n) = ping_rx.recv().await {
                if pong_tx.send(n + 1).await.is_err() {
                    break;
                }
            }
        });
        let pinger = spindle::spawn(async move {
            for n in 0..10 {
                let _ = ping_tx.send(n).await;
                let _ = pong_rx.recv().await;
            }
        });

        // Yields, and a burst of spawns for idle workers to steal.
        let yielders: Vec<_> = (0..4)
            .map(|_| {
                spindle::spawn(async {
                    for _ in 0..5 {
                        spindle::task::yield_now().await;
                    }
                })
            })
            .collect();
        let burst = spindle::spawn(async {
            let tasks: Vec<_> = (0..32u64)
                .map(|i| spindle::spawn(async move { (0..20_000u64).fold(i, |a, b| a ^ b) }))
                .collect();
            for task in tasks {
                let _ = task.await;
            }
        });

        // A timer: woken by the driver.
        let sleeper = spindle::spawn(spindle::time::sleep(Duration::from_millis(20)));

        // A socket: an echo server task and a client task on loopback.
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(err)?;
        let addr = listener.local_addr().map_err(err)?;
        let server = spindle::spawn(async move {
            let (mut stream, _) = listener.accept().await?;
            let mut buf = [0u8; 16];
            loop {
                let n = stream.read(&mut buf).await?;
                if n == 0 {
                    return Ok::<(), std::io::Error>(());
                }
                stream.write_all(&buf[..n]).await?;
            }
        });
        let client = spindle::spawn(async move {
            let mut stream = TcpStream::connect(addr).await?;
            let mut buf = [0u8; 5];
            for _ in 0..3 {
                stream.write_all(b"hello").await?;
                stream.read_exact(&mut buf).await?;
            }
            Ok::<(), std::io::Error>(())
        });

        for task in [ponger, pinger, burst, sleeper] {
            task.await.map_err(|e| e.to_string())?;
        }
        for task in yielders {
            task.await.map_err(|e| e.to_string())?;
        }
        client.await.map_err(|e| e.to_string())?.map_err(err)?;
        server.await.map_err(|e| e.to_string())?.map_err(err)?;
        Ok::<(), String>(())
    })?;
    // After shutdown the workers have stopped, so the last polls are in the trace too.
    let trace = rt
        .shutdown_and_take_trace()
        .ok_or("the runtime was built without tracing")?;
    let mut json = Vec::new();
    trace.write_chrome_json(&mut json).map_err(err)?;
    Ok((json, trace.polls_per_thread()))
}

/// The `trace` subcommand.
pub fn run(out: &Path) -> Result<(), String> {
    let (json, polls) = workload()?;
    std::fs::write(out, &json)
        .map_err(|error| format!("cannot write {}: {error}", out.display()))?;
    println!(
        "wrote {} ({} bytes): a two-worker runtime running spawns, yields, channel messages, \
         a sleep and a loopback socket",
        out.display(),
        json.len()
    );
    for (thread, count) in polls {
        println!("  {thread:<22} {count:>5} task polls");
    }
    println!(
        "open it in https://ui.perfetto.dev (Open trace file) or chrome://tracing: one track per \
         worker, a slice per poll (click one: task id, spawn site, woken by), steals, parks and \
         reactor turns as instant marks"
    );
    Ok(())
}
