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

/// A `join!` of two waiting branches and the busy one, with `$krate`'s `join!`.
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

/// A `join!` of 31 waiting branches and the busy one, with `$krate`'s `join!`.
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

/// Criterion group `$group` with two functions, `spindle` and `tokio` (the ids
/// `benches/report.sh` pairs up): each times `$body`, the contents of an async block with
/// `rt` naming that crate, in `block_on` on a current-thread runtime of its own.
macro_rules! bench_on_both {
    ($c:expr, $group:literal, $body:block) => {{
        let mut group = $c.benchmark_group($group);
        {
            use spindle as rt;
            let runtime = spindle_rt();
            group.bench_function("spindle", |b| b.iter(|| runtime.block_on(async $body)));
        }
        {
            use tokio as rt;
            let runtime = tokio_rt();
            group.bench_function("tokio", |b| b.iter(|| runtime.block_on(async $body)));
        }
        group.finish();
    }};
}

/// Runs `$body` (an async block's contents, `rt` naming the crate) once on each runtime;
/// returns (spindle's output, tokio's).
macro_rules! once_on_both {
    ($body:block) => {
        (
            {
                use spindle as rt;
                spindle_rt().block_on(async $body)
            },
            {
                use tokio as rt;
                tokio_rt().block_on(async $body)
            },
        )
    };
}

/// Branch polls per wake of one finished join, to print beside the timings.
fn polls_per_wake(shared: &Shared) -> f64 {
    shared.polls.load(Relaxed) as f64 / WAKES as f64
}

fn join_set(c: &mut Criterion) {
    bench_on_both!(c, "join_set_10k", {
        let mut set = rt::task::JoinSet::new();
        for i in 0..JOIN_SET_TASKS {
            set.spawn(async move { i });
        }
        let mut sum = 0;
        while let Some(output) = set.join_next().await {
            sum += output.unwrap();
        }
        assert_eq!(sum, JOIN_SET_TASKS * (JOIN_SET_TASKS - 1) / 2);
    });
}

fn joins(c: &mut Criterion) {
    let (spindle, tokio) = once_on_both!({
        let shared = Arc::new(Shared::default());
        join_3!(rt, &shared);
        polls_per_wake(&shared)
    });
    println!("branch polls per wake, join! of 3:  spindle {spindle:.3}, tokio {tokio:.3}");
    let (spindle, tokio) = once_on_both!({
        let shared = Arc::new(Shared::default());
        join_32!(rt, &shared);
        polls_per_wake(&shared)
    });
    println!("branch polls per wake, join! of 32: spindle {spindle:.3}, tokio {tokio:.3}");

    bench_on_both!(c, "join_3_wake_one", {
        let shared = Arc::new(Shared::default());
        join_3!(rt, &shared)
    });
    bench_on_both!(c, "join_32_wake_one", {
        let shared = Arc::new(Shared::default());
        join_32!(rt, &shared)
    });
}

/// `select!`s run by `select_loop_10k`.
const SELECTS: usize = 10_000;

fn select_loop(c: &mut Criterion) {
    bench_on_both!(c, "select_loop_10k", {
        let mut hits = 0;
        for _ in 0..SELECTS {
            rt::select! {
                _ = std::future::pending::<()>() => {}
                n = std::future::ready(1) => hits += n,
            }
        }
        assert_eq!(hits, SELECTS);
    });
}

criterion_group!(benches, join_set, joins, select_loop);
criterion_main!(benches);
