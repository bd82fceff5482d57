//! Combinators, spindle against tokio, same parameters, one criterion group per workload:
//! - `join_set_10k`: spawn 10,000 tasks into a `JoinSet` and take every output;
//! - `join_3_wake_one` / `join_32_wake_one`: a `join!` of 3 (or 32) branches in which one
//!   branch is woken 10,000 times (it wakes itself and returns `Pending`) while the others
//!   wait; each runtime runs its own crate's `join!`.
//!
//! - `select_loop_10k`: 10,000 `select!`s in a loop, each between a ready future and a pending
//!   one (the cost of setting a select up: spindle allocates one waker per branch, tokio none).
//!
//! Before the timings, the join workloads print **branch polls per wake** for both macros
//! (counted by the branches themselves): spindle's `join!` polls only the woken branch (1),
//! tokio's polls every unfinished one (3, 32).
//!
//! Run: `cargo bench --bench combinators -- --warm-up-time 1 --measurement-time 3`.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use criterion::{criterion_group, criterion_main, Criterion};

/// Tasks in `join_set_10k`.
const JOIN_SET_TASKS: u64 = 10_000;
/// Wakes of the one busy branch in the join workloads.
const WAKES: usize = 10_000;

/// What the branches of one join share: a poll counter and the "busy branch is done" flag,
/// with the wakers of the waiting branches.
#[derive(Default)]
struct Shared {
    polls: AtomicUsize,
    done: AtomicBool,
    waiters: Mutex<Vec<Waker>>,
}

/// A branch that waits until the busy branch finishes.
struct Waiting(Arc<Shared>);

impl Future for Waiting {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.polls.fetch_add(1, Relaxed);
        if self.0.done.load(Relaxed) {
            return Poll::Ready(());
        }
        self.0.waiters.lock().unwrap().push(cx.waker().clone());
        Poll::Pending
    }
}

/// The busy branch: wakes itself `left` times, then finishes and wakes the waiting ones.
struct Busy {
    shared: Arc<Shared>,
    left: usize,
}

impl Future for Busy {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.shared.polls.fetch_add(1, Relaxed);
        if self.left == 0 {
            self.shared.done.store(true, Relaxed);
            let waiters = std::mem::take(&mut *self.shared.waiters.lock().unwrap());
            for waker in waiters {
                waker.wake();
            }
            return Poll::Ready(());
        }
        self.left -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

macro_rules! join_3 {
    ($krate:ident, $shared:expr) => {{
        let shared: &Arc<Shared> = $shared;
        let w = || Waiting(shared.clone());
        $krate::join!(
            w(),
            w(),
            Busy {
                shared: shared.clone(),
                left: WAKES
            }
        );
    }};
}

macro_rules! join_32 {
    ($krate:ident, $shared:expr) => {{
        let shared: &Arc<Shared> = $shared;
        let w = || Waiting(shared.clone());
        $krate::join!(
            w(),
            w(),
            w(),
            w(),
            w(),
            w(),
            w(),
            w(),
            w(),
            w(),
            w(),
            w(),
            w(),
            w(),
            w(),
            w(),
            w(),
            w(),
            w(),
            w(),
            w(),
            w(),
            w(),
            w(),
            w(),
            w(),
            w(),
            w(),
            w(),
            w(),
            w(),
            Busy {
                shared: shared.clone(),
                left: WAKES
            }
        );
    }};
}

fn spindle_rt() -> spindle::runtime::Runtime {
    spindle::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Branch polls per wake of one run, to print beside the timings.
fn polls_per_wake(run: impl FnOnce(&Arc<Shared>)) -> f64 {
    let shared = Arc::new(Shared::default());
    run(&shared);
    shared.polls.load(Relaxed) as f64 / WAKES as f64
}

fn join_set(c: &mut Criterion) {
    let mut group = c.benchmark_group("join_set_10k");
    let spindle = spindle_rt();
    group.bench_function("spindle", |b| {
        b.iter(|| {
            spindle.block_on(async {
                let mut set = spindle::task::JoinSet::new();
                for i in 0..JOIN_SET_TASKS {
                    set.spawn(async move { i });
                }
                let mut sum = 0;
                while let Some(output) = set.join_next().await {
                    sum += output.unwrap();
                }
                assert_eq!(sum, JOIN_SET_TASKS * (JOIN_SET_TASKS - 1) / 2);
            })
        })
    });
    let tokio = tokio_rt();
    group.bench_function("tokio", |b| {
        b.iter(|| {
            tokio.block_on(async {
                let mut set = tokio::task::JoinSet::new();
                for i in 0..JOIN_SET_TASKS {
                    set.spawn(async move { i });
                }
                let mut sum = 0;
                while let Some(output) = set.join_next().await {
                    sum += output.unwrap();
                }
                assert_eq!(sum, JOIN_SET_TASKS * (JOIN_SET_TASKS - 1) / 2);
            })
        })
    });
    group.finish();
}

fn joins(c: &mut Criterion) {
    let spindle = spindle_rt();
    let tokio = tokio_rt();
    println!(
        "branch polls per wake, join! of 3:  spindle {:.3}, tokio {:.3}",
        polls_per_wake(|shared| spindle.block_on(async { join_3!(spindle, shared) })),
        polls_per_wake(|shared| tokio.block_on(async { join_3!(tokio, shared) })),
    );
    println!(
        "branch polls per wake, join! of 32: spindle {:.3}, tokio {:.3}",
        polls_per_wake(|shared| spindle.block_on(async { join_32!(spindle, shared) })),
        polls_per_wake(|shared| tokio.block_on(async { join_32!(tokio, shared) })),
    );

    let mut group = c.benchmark_group("join_3_wake_one");
    group.bench_function("spindle", |b| {
        b.iter(|| {
            let shared = Arc::new(Shared::default());
            spindle.block_on(async { join_3!(spindle, &shared) })
        })
    });
    group.bench_function("tokio", |b| {
        b.iter(|| {
            let shared = Arc::new(Shared::default());
            tokio.block_on(async { join_3!(tokio, &shared) })
        })
    });
    group.finish();

    let mut group = c.benchmark_group("join_32_wake_one");
    group.bench_function("spindle", |b| {
        b.iter(|| {
            let shared = Arc::new(Shared::default());
            spindle.block_on(async { join_32!(spindle, &shared) })
        })
    });
    group.bench_function("tokio", |b| {
        b.iter(|| {
            let shared = Arc::new(Shared::default());
            tokio.block_on(async { join_32!(tokio, &shared) })
        })
    });
    group.finish();
}

/// `select!`s run by `select_loop_10k`.
const SELECTS: usize = 10_000;

fn select_loop(c: &mut Criterion) {
    let mut group = c.benchmark_group("select_loop_10k");
    let spindle = spindle_rt();
    group.bench_function("spindle", |b| {
        b.iter(|| {
            spindle.block_on(async {
                let mut hits = 0;
                for _ in 0..SELECTS {
                    spindle::select! {
                        _ = std::future::pending::<()>() => {}
                        n = std::future::ready(1) => hits += n,
                    }
                }
                assert_eq!(hits, SELECTS);
            })
        })
    });
    let tokio = tokio_rt();
    group.bench_function("tokio", |b| {
        b.iter(|| {
            tokio.block_on(async {
                let mut hits = 0;
                for _ in 0..SELECTS {
                    tokio::select! {
                        _ = std::future::pending::<()>() => {}
                        n = std::future::ready(1) => hits += n,
                    }
                }
                assert_eq!(hits, SELECTS);
            })
        })
    });
    group.finish();
}

criterion_group!(benches, join_set, joins, select_loop);
criterion_main!(benches);
