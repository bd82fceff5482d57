//! `spindle::sync` against `tokio::sync` (issue 13 section 4, the sync rows), both on a
//! multi-thread runtime with 2 workers, one criterion group per workload (`sync/<workload>`)
//! with one function per runtime. Each workload is written once (the `workloads!` macro) and
//! instantiated with each runtime's `spawn`, `yield_now` and `sync` module.
//!
//! - `mutex_contended`: 8 tasks each lock a shared `Mutex<u64>` 1,000 times (increment,
//!   unlock, yield every 8th time so the tasks interleave on both workers);
//! - `semaphore_uncontended`: one task acquires and releases a permit 10,000 times;
//! - `semaphore_contended`: 8 tasks share 2 permits, 1,000 acquire/yield/release each;
//! - `notify_ping_pong`: two tasks hand a turn back and forth 10,000 times through two
//!   `Notify`s;
//! - `broadcast_1_to_16`: one sender sends 1,000 values to 16 receiver tasks (capacity
//!   1,024, so nobody lags), then drops; each receiver reads until `Closed`.
//!
//! Run: `cargo bench --bench sync -- --warm-up-time 1 --measurement-time 3`.

use criterion::{criterion_group, criterion_main, Criterion};

const WORKERS: usize = 2;

macro_rules! workloads {
    ($module:ident, $runtime:ty, $spawn:path, $yield_now:path, $sync:path) => {
        mod $module {
            use std::sync::Arc;

            use $sync as sync;

            pub fn mutex_contended(rt: &$runtime) -> u64 {
                rt.block_on(async {
                    let mutex = Arc::new(sync::Mutex::new(0u64));
                    let tasks: Vec<_> = (0..8)
                        .map(|_| {
                            let mutex = mutex.clone();
                            $spawn(async move {
                                for i in 0..1_000 {
                                    *mutex.lock().await += 1;
                                    if i % 8 == 0 {
                                        $yield_now().await;
                                    }
                                }
                            })
                        })
                        .collect();
                    for task in tasks {
                        task.await.unwrap();
                    }
                    let total = *mutex.lock().await;
                    assert_eq!(total, 8_000);
                    total
                })
            }

            pub fn semaphore_uncontended(rt: &$runtime) {
                rt.block_on(async {
                    let semaphore = sync::Semaphore::new(1);
                    for _ in 0..10_000 {
                        drop(semaphore.acquire().await.unwrap());
                    }
                })
            }

            pub fn semaphore_contended(rt: &$runtime) {
                rt.block_on(async {
                    let semaphore = Arc::new(sync::Semaphore::new(2));
                    let tasks: Vec<_> = (0..8)
                        .map(|_| {
                            let semaphore = semaphore.clone();
                            $spawn(async move {
                                for _ in 0..1_000 {
                                    let _permit = semaphore.acquire().await.unwrap();
                                    $yield_now().await;
                                }
                            })
                        })
                        .collect();
                    for task in tasks {
                        task.await.unwrap();
                    }
                })
            }

            pub fn notify_ping_pong(rt: &$runtime) {
                rt.block_on(async {
                    let ping = Arc::new(sync::Notify::new());
                    let pong = Arc::new(sync::Notify::new());
                    let other = {
                        let (ping, pong) = (ping.clone(), pong.clone());
                        $spawn(async move {
                            for _ in 0..10_000 {
                                ping.notified().await;
                                pong.notify_one();
                            }
                        })
                    };
                    for _ in 0..10_000 {
                        ping.notify_one();
                        pong.notified().await;
                    }
                    other.await.unwrap();
                })
            }

            pub fn broadcast_1_to_16(rt: &$runtime) {
                rt.block_on(async {
                    let (tx, _) = sync::broadcast::channel::<u64>(1_024);
                    let receivers: Vec<_> = (0..16)
                        .map(|_| {
                            let mut rx = tx.subscribe();
                            $spawn(async move {
                                let mut sum = 0;
                                while let Ok(value) = rx.recv().await {
                                    sum += value;
                                }
                                sum
                            })
                        })
                        .collect();
                    for value in 0..1_000 {
                        tx.send(value).unwrap();
                    }
                    drop(tx);
                    for receiver in receivers {
                        assert_eq!(receiver.await.unwrap(), 499_500);
                    }
                })
            }
        }
    };
}

workloads!(
    on_spindle,
    spindle::runtime::Runtime,
    spindle::spawn,
    spindle::task::yield_now,
    spindle::sync
);
workloads!(
    on_tokio,
    tokio::runtime::Runtime,
    tokio::spawn,
    tokio::task::yield_now,
    tokio::sync
);

fn spindle_runtime() -> spindle::runtime::Runtime {
    spindle::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .build()
        .unwrap()
}

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .build()
        .unwrap()
}

macro_rules! compare {
    ($c:expr, $name:ident) => {{
        let mut group = $c.benchmark_group(concat!("sync/", stringify!($name)));
        let spindle = spindle_runtime();
        group.bench_function("spindle", |b| b.iter(|| on_spindle::$name(&spindle)));
        drop(spindle);
        let tokio = tokio_runtime();
        group.bench_function("tokio", |b| b.iter(|| on_tokio::$name(&tokio)));
        group.finish();
    }};
}

fn sync_benches(c: &mut Criterion) {
    compare!(c, mutex_contended);
    compare!(c, semaphore_uncontended);
    compare!(c, semaphore_contended);
    compare!(c, notify_ping_pong);
    compare!(c, broadcast_1_to_16);
}

criterion_group!(benches, sync_benches);
criterion_main!(benches);
