//! spindle's thread pool against tokio's blocking pool, and the numbers to hold against
//! Python's `ThreadPoolExecutor` (`benches/python/thread_pool.py`).
//!
//! - `spawn_blocking/{spindle,tokio}/N`: N tasks, each running 100 batches of 16 no-op
//!   blocking calls and awaiting each batch (the shape of tokio's own spawn_blocking bench).
//!   spindle: tasks on `spindle::block_on`, calls submitted to a [`ThreadPool`] and awaited
//!   as futures; tokio: a 2-worker multi-thread runtime and `tokio::task::spawn_blocking`.
//!   Both pools persist across iterations, as a runtime's blocking pool does.
//! - `submit_wait`: one no-op job submitted and waited on (a blocking round trip).
//! - `map_100k`: 100,000 tiny jobs through `ThreadPool::map` on 4 threads.
//!
//! Run: `cargo bench --bench thread_pool -- --warm-up-time 1 --measurement-time 3`, and
//! `python3 benches/python/thread_pool.py` for Python's figures.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use spindle::thread_pool::ThreadPool;

const BATCHES: usize = 100;
const BATCH_SIZE: usize = 16;
const MAP_JOBS: u64 = 100_000;

fn spawn_blocking(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn_blocking");
    let pool = std::sync::Arc::new(ThreadPool::new(512));
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    for tasks in [1usize, 2, 4, 8] {
        group.throughput(Throughput::Elements((tasks * BATCHES * BATCH_SIZE) as u64));
        group.bench_with_input(BenchmarkId::new("spindle", tasks), &tasks, |b, &tasks| {
            b.iter(|| {
                let pool = pool.clone();
                spindle::block_on(async move {
                    let handles: Vec<_> = (0..tasks)
                        .map(|_| {
                            let pool = pool.clone();
                            spindle::spawn(async move {
                                for _ in 0..BATCHES {
                                    let calls: Vec<_> = (0..BATCH_SIZE)
                                        .map(|_| pool.submit(|| black_box(())))
                                        .collect();
                                    for call in calls {
                                        call.await.unwrap();
                                    }
                                }
                            })
                        })
                        .collect();
                    for handle in handles {
                        handle.await.unwrap();
                    }
                })
            })
        });
        group.bench_with_input(BenchmarkId::new("tokio", tasks), &tasks, |b, &tasks| {
            b.iter(|| {
                tokio_rt.block_on(async move {
                    let handles: Vec<_> = (0..tasks)
                        .map(|_| {
                            tokio::spawn(async move {
                                for _ in 0..BATCHES {
                                    let calls: Vec<_> = (0..BATCH_SIZE)
                                        .map(|_| tokio::task::spawn_blocking(|| black_box(())))
                                        .collect();
                                    for call in calls {
                                        call.await.unwrap();
                                    }
                                }
                            })
                        })
                        .collect();
                    for handle in handles {
                        handle.await.unwrap();
                    }
                })
            })
        });
    }
    group.finish();
}

fn submit_wait(c: &mut Criterion) {
    let mut group = c.benchmark_group("submit_wait");
    group.throughput(Throughput::Elements(1));
    let pool = ThreadPool::new(4);
    group.bench_function("spindle", |b| {
        b.iter(|| pool.submit(|| black_box(1u64)).wait().unwrap())
    });
    // For reference: the same round trip through tokio's blocking pool, waited on from
    // outside the runtime (as `submit_wait` waits from outside the pool).
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(4)
        .build()
        .unwrap();
    group.bench_function("tokio", |b| {
        b.iter(|| {
            let handle = tokio_rt.spawn_blocking(|| black_box(1u64));
            tokio_rt.block_on(handle).unwrap()
        })
    });
    group.finish();
}

fn map_100k(c: &mut Criterion) {
    let mut group = c.benchmark_group("map_100k");
    group.throughput(Throughput::Elements(MAP_JOBS));
    group.sample_size(10);
    let pool = ThreadPool::new(4);
    group.bench_function("spindle", |b| {
        b.iter(|| {
            let sum: u64 = pool
                .map(|x: u64| black_box(x) + 1, 0..MAP_JOBS)
                .map(Result::unwrap)
                .sum();
            assert_eq!(sum, MAP_JOBS * (MAP_JOBS + 1) / 2);
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1));
    targets = spawn_blocking, submit_wait, map_100k
}
criterion_main!(benches);
