//! Tour steps: the event loop (`display_date`) and T1/T2/T3 on real loopback sockets.

use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::mpsc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use spindle::io::AsyncReadExt;
use spindle::net::{TcpListener, TcpStream};
use spindle::runtime::Builder;
use spindle::time::{sleep, Instant};

/// One "second" of `display_date`'s sleeps.
const SECOND: Duration = Duration::from_millis(100);

fn now_utc() -> String {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = since_epoch.as_secs() % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
        since_epoch.subsec_millis()
    )
}

/// The article's coroutine: print the time, sleep 0–5 "seconds", until `end_time`.
async fn display_date(num: u64, run_for: Duration) {
    let end_time = Instant::now() + run_for;
    let mut state = (SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        ^ num.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        | 1;
    loop {
        println!("   Loop: {num} Time: {}", now_utc());
        if Instant::now() + SECOND >= end_time {
            break;
        }
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        sleep(SECOND * (state % 6) as u32).await;
    }
}

/// Two `display_date` coroutines on one thread, interleaving at their `await`s.
pub fn display_date_pair() -> Result<(), String> {
    let rt = Builder::new_current_thread()
        .build()
        .map_err(|error| format!("cannot build the runtime: {error}"))?;
    let run_for = SECOND * 12;
    rt.block_on(async {
        let first = spindle::spawn(display_date(1, run_for));
        let second = spindle::spawn(display_date(2, run_for));
        first.await.map_err(|error| error.to_string())?;
        second.await.map_err(|error| error.to_string())
    })?;
    let metrics = rt.metrics();
    println!(
        "   one thread, {} task polls, {} wasted, {} parks (one \"second\" is {} ms)",
        metrics.polls,
        metrics.wasted_polls,
        metrics.parks,
        SECOND.as_millis()
    );
    Ok(())
}

/// Counts the polls of the future it wraps and tells the tour about each one.
struct Counted<F> {
    task: usize,
    polls: usize,
    reports: mpsc::Sender<(usize, usize, bool)>,
    future: Pin<Box<F>>,
}

impl<F: Future> Future for Counted<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.polls += 1;
        let result = self.future.as_mut().poll(cx);
        let _ = self
            .reports
            .send((self.task, self.polls, result.is_ready()));
        result
    }
}

/// T1, T2, T3 each read their own loopback connection; the peer answers T3, T2, T1.
pub fn t1_t2_t3_sockets() -> Result<(), String> {
    let err = |error: std::io::Error| error.to_string();
    let rt = Builder::new_current_thread().build().map_err(err)?;
    // Three connected pairs: the tasks read `ours`, a plain thread writes `peers`.
    let (ours, peers) = rt
        .block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let mut ours = Vec::new();
            let mut peers = Vec::new();
            for _ in 0..3 {
                peers.push(std::net::TcpStream::connect(addr)?);
                ours.push(listener.accept().await?.0);
            }
            Ok::<_, std::io::Error>((ours, peers))
        })
        .map_err(err)?;

    let (answer_tx, answer_rx) = mpsc::channel::<usize>();
    let peer_thread = std::thread::spawn(move || {
        let mut peers = peers;
        for task in answer_rx {
            std::thread::sleep(Duration::from_millis(100)); // for the reader, not for order
            println!("     (peer: answers T{})", task + 1);
            let _ = peers[task].write_all(format!("answer for T{}", task + 1).as_bytes());
        }
    });

    let (reports_tx, reports) = mpsc::channel();
    let before = rt.metrics();
    let handles: Vec<_> = ours
        .into_iter()
        .enumerate()
        .map(|(task, mut stream): (usize, TcpStream)| {
            rt.spawn(Counted {
                task,
                polls: 0,
                reports: reports_tx.clone(),
                future: Box::pin(async move {
                    let mut buf = [0u8; 64];
                    let n = stream.read(&mut buf).await?;
                    Ok::<_, std::io::Error>(String::from_utf8_lossy(&buf[..n]).into_owned())
                }),
            })
        })
        .collect();
    drop(reports_tx);
    let print_reports = |reports: &mpsc::Receiver<(usize, usize, bool)>| {
        while let Ok((task, polls, done)) = reports.try_recv() {
            let what = if done { "got its answer" } else { "waits" };
            println!("     poll of T{} (its poll #{polls}): {what}", task + 1);
        }
    };
    rt.block_on(async {
        spindle::task::yield_now().await; // the three first polls: each task starts waiting
        print_reports(&reports);
        for (task, handle) in [2, 1, 0].into_iter().zip(handles.into_iter().rev()) {
            let _ = answer_tx.send(task);
            let answer = handle
                .await
                .map_err(|error| error.to_string())?
                .map_err(err)?;
            print_reports(&reports);
            println!("     T{} read {answer:?}", task + 1);
        }
        Ok::<(), String>(())
    })?;
    drop(answer_tx);
    let _ = peer_thread.join();
    let after = rt.metrics();
    println!(
        "   runtime metrics for the three tasks: {} polls (3 first polls + 1 per answer), \
         {} wasted",
        after.polls - before.polls,
        after.wasted_polls - before.wasted_polls
    );
    Ok(())
}
