//! `join!`, `try_join!` and `select!`: the same scenarios under spindle's macros on spindle
//! and tokio's macros on tokio, asserting they agree; then the one place they deliberately
//! differ, counted: spindle polls only the branch that was woken.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll};

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

/// Ready after `n` pending polls (waking itself each time).
struct ReadyAfter(usize);

impl Future for ReadyAfter {
    type Output = usize;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        if self.0 == 0 {
            return Poll::Ready(7);
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Sets its flag when dropped.
struct DropFlag(Arc<AtomicBool>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, SeqCst);
    }
}

#[test]
fn join_returns_every_output_in_order() {
    let spindle = spindle_rt().block_on(async {
        spindle::join!(ReadyAfter(3), async { "b" }, ReadyAfter(0), async { 4u8 })
    });
    let tokio = tokio_rt().block_on(async {
        tokio::join!(ReadyAfter(3), async { "b" }, ReadyAfter(0), async { 4u8 })
    });
    assert_eq!(spindle, (7, "b", 7, 4));
    assert_eq!(spindle, tokio);
}

#[test]
fn try_join_short_circuits_on_the_first_error_and_drops_the_rest() {
    async fn failing() -> Result<u8, &'static str> {
        Err("boom")
    }
    let spindle_dropped = Arc::new(AtomicBool::new(false));
    let tokio_dropped = Arc::new(AtomicBool::new(false));
    let flag = spindle_dropped.clone();
    let spindle = spindle_rt().block_on(async move {
        let guard = DropFlag(flag);
        let pending = async move {
            let _guard = guard;
            std::future::pending::<Result<u8, &'static str>>().await
        };
        spindle::try_join!(pending, failing())
    });
    let flag = tokio_dropped.clone();
    let tokio = tokio_rt().block_on(async move {
        let guard = DropFlag(flag);
        let pending = async move {
            let _guard = guard;
            std::future::pending::<Result<u8, &'static str>>().await
        };
        tokio::try_join!(pending, failing())
    });
    assert_eq!(spindle, Err("boom"));
    assert_eq!(spindle, tokio);
    assert!(spindle_dropped.load(SeqCst) && tokio_dropped.load(SeqCst));

    let ok: Result<(u8, usize), ()> =
        spindle_rt().block_on(async { spindle::try_join!(async { Ok(1) }, async { Ok(2) }) });
    assert_eq!(ok, Ok((1, 2)));
}

#[test]
fn biased_select_takes_the_first_ready_branch_in_written_order() {
    let spindle = spindle_rt().block_on(async {
        spindle::select! {
            biased;
            a = async { 1 } => ("first", a),
            b = async { 2 } => ("second", b),
        }
    });
    let tokio = tokio_rt().block_on(async {
        tokio::select! {
            biased;
            a = async { 1 } => ("first", a),
            b = async { 2 } => ("second", b),
        }
    });
    assert_eq!(spindle, ("first", 1));
    assert_eq!(spindle, tokio);
}

#[test]
fn select_takes_the_branch_that_completes_first() {
    let spindle = spindle_rt().block_on(async {
        spindle::select! {
            a = ReadyAfter(5) => a * 10,
            b = ReadyAfter(1) => b,
        }
    });
    let tokio = tokio_rt().block_on(async {
        tokio::select! {
            a = ReadyAfter(5) => a * 10,
            b = ReadyAfter(1) => b,
        }
    });
    assert_eq!(spindle, 7);
    assert_eq!(spindle, tokio);
}

#[test]
fn unbiased_select_is_fair_between_always_ready_branches() {
    fn count_spindle() -> [usize; 2] {
        spindle_rt().block_on(async {
            let mut counts = [0; 2];
            for _ in 0..100 {
                spindle::select! {
                    _ = async {} => counts[0] += 1,
                    _ = async {} => counts[1] += 1,
                }
            }
            counts
        })
    }
    let tokio = tokio_rt().block_on(async {
        let mut counts = [0; 2];
        for _ in 0..100 {
            tokio::select! {
                _ = async {} => counts[0] += 1,
                _ = async {} => counts[1] += 1,
            }
        }
        counts
    });
    let spindle = count_spindle();
    // tokio picks a random start, spindle rotates: both give each branch a share.
    for counts in [spindle, tokio] {
        assert_eq!(counts[0] + counts[1], 100);
        assert!(counts[0] >= 10 && counts[1] >= 10, "{counts:?}");
    }
}

#[test]
fn select_runs_else_when_every_branch_is_disabled() {
    let enabled = false;
    let spindle = spindle_rt().block_on(async {
        spindle::select! {
            a = async { 1 }, if enabled => a,
            b = async { 2 }, if enabled => b,
            else => 0,
        }
    });
    let tokio = tokio_rt().block_on(async {
        tokio::select! {
            a = async { 1 }, if enabled => a,
            b = async { 2 }, if enabled => b,
            else => 0,
        }
    });
    assert_eq!(spindle, 0);
    assert_eq!(spindle, tokio);
}

#[test]
fn a_pattern_mismatch_disables_only_that_branch() {
    let spindle = spindle_rt().block_on(async {
        spindle::select! {
            biased;
            Some(x) = async { None::<u32> } => x,
            y = async { ReadyAfter(2).await as u32 } => y + 100,
        }
    });
    let tokio = tokio_rt().block_on(async {
        tokio::select! {
            biased;
            Some(x) = async { None::<u32> } => x,
            y = async { ReadyAfter(2).await as u32 } => y + 100,
        }
    });
    assert_eq!(spindle, 107);
    assert_eq!(spindle, tokio);

    // Every branch mismatching is "all disabled": the else branch runs.
    let spindle = spindle_rt().block_on(async {
        spindle::select! {
            Some(x) = async { None::<u8> } => x,
            Ok(y) = async { Err::<u8, ()>(()) } => y,
            else => 42,
        }
    });
    let tokio = tokio_rt().block_on(async {
        tokio::select! {
            Some(x) = async { None::<u8> } => x,
            Ok(y) = async { Err::<u8, ()>(()) } => y,
            else => 42,
        }
    });
    assert_eq!(spindle, 42);
    assert_eq!(spindle, tokio);
}

#[test]
fn select_binds_mut_and_ref_patterns_and_drops_the_losers_before_the_handler() {
    let spindle_loser = Arc::new(AtomicBool::new(false));
    let tokio_loser = Arc::new(AtomicBool::new(false));
    let flag = spindle_loser.clone();
    let spindle = spindle_rt().block_on(async move {
        let guard = DropFlag(flag.clone());
        spindle::select! {
            _ = async move { let _guard = guard; std::future::pending::<()>().await } => unreachable!(),
            (Some(mut text), ref n) = async { (Some(String::from("a")), 3) } => {
                text.push('b');
                (text, *n, flag.load(SeqCst))
            }
        }
    });
    let flag = tokio_loser.clone();
    let tokio = tokio_rt().block_on(async move {
        let guard = DropFlag(flag.clone());
        tokio::select! {
            _ = async move { let _guard = guard; std::future::pending::<()>().await } => unreachable!(),
            (Some(mut text), ref n) = async { (Some(String::from("a")), 3) } => {
                text.push('b');
                (text, *n, flag.load(SeqCst))
            }
        }
    });
    assert_eq!(spindle, ("ab".to_owned(), 3, true));
    assert_eq!(spindle, tokio);
}

#[test]
fn select_without_else_panics_when_every_branch_is_disabled() {
    let spindle = std::panic::catch_unwind(|| {
        spindle_rt().block_on(async {
            spindle::select! {
                Some(x) = async { None::<u8> } => x,
            }
        })
    });
    let tokio = std::panic::catch_unwind(|| {
        tokio_rt().block_on(async {
            tokio::select! {
                Some(x) = async { None::<u8> } => x,
            }
        })
    });
    assert!(spindle.is_err() && tokio.is_err());
}

#[test]
fn thirty_two_branches() {
    let spindle = spindle_rt().block_on(async {
        let joined = spindle::join!(
            async { 0 },
            async { 1 },
            async { 2 },
            async { 3 },
            async { 4 },
            async { 5 },
            async { 6 },
            async { 7 },
            async { 8 },
            async { 9 },
            async { 10 },
            async { 11 },
            async { 12 },
            async { 13 },
            async { 14 },
            async { 15 },
            async { 16 },
            async { 17 },
            async { 18 },
            async { 19 },
            async { 20 },
            async { 21 },
            async { 22 },
            async { 23 },
            async { 24 },
            async { 25 },
            async { 26 },
            async { 27 },
            async { 28 },
            async { 29 },
            async { 30 },
            ReadyAfter(3),
        );
        let selected = spindle::select! {
            biased;
            a = ReadyAfter(9) => a, b = ReadyAfter(9) => b, c = ReadyAfter(9) => c,
            d = ReadyAfter(9) => d, e = ReadyAfter(9) => e, f = ReadyAfter(9) => f,
            g = ReadyAfter(9) => g, h = ReadyAfter(9) => h, i = ReadyAfter(9) => i,
            j = ReadyAfter(9) => j, k = ReadyAfter(9) => k, l = ReadyAfter(9) => l,
            m = ReadyAfter(9) => m, n = ReadyAfter(9) => n, o = ReadyAfter(9) => o,
            p = ReadyAfter(9) => p, q = ReadyAfter(9) => q, r = ReadyAfter(9) => r,
            s = ReadyAfter(9) => s, t = ReadyAfter(9) => t, u = ReadyAfter(9) => u,
            v = ReadyAfter(9) => v, w = ReadyAfter(9) => w, x = ReadyAfter(9) => x,
            y = ReadyAfter(9) => y, z = ReadyAfter(9) => z, aa = ReadyAfter(9) => aa,
            ab = ReadyAfter(9) => ab, ac = ReadyAfter(9) => ac, ad = ReadyAfter(9) => ad,
            ae = ReadyAfter(9) => ae, last = ReadyAfter(2) => last + 1000,
        };
        (joined.0, joined.30, joined.31, selected)
    });
    assert_eq!(spindle, (0, 30, 7, 1007));
}

/// Counts its polls; completes once its oneshot has a value.
struct CountedRecv {
    polls: Arc<AtomicUsize>,
    rx: spindle::sync::oneshot::Receiver<()>,
}

impl Future for CountedRecv {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.polls.fetch_add(1, SeqCst);
        Pin::new(&mut self.rx).poll(cx).map(|_| ())
    }
}

/// T1/T2/T3 inside one task: three branches wait for data that arrives T3, T2, T1 (a sender
/// task yields between sends, so the joining task, queued by the wake, runs after each). The
/// join runs in a spawned task, not in `block_on`'s future, which the runtime looks at only
/// between batches of task polls. Returns each branch's
/// poll count and the runtime's `wasted_branch_polls`.
fn t1_t2_t3(use_spindle_join: bool) -> ([usize; 3], u64) {
    let rt = spindle_rt();
    let polls: [Arc<AtomicUsize>; 3] = Default::default();
    let counts = polls.clone();
    rt.block_on(async move {
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..3)
            .map(|_| spindle::sync::oneshot::channel::<()>())
            .unzip();
        let mut receivers = receivers.into_iter();
        let mut branch = |i: usize| {
            spindle::macros::audit_polls(CountedRecv {
                polls: polls[i].clone(),
                rx: receivers.next().unwrap(),
            })
        };
        let (t1, t2, t3) = (branch(0), branch(1), branch(2));
        let joiner = spindle::spawn(async move {
            if use_spindle_join {
                spindle::join!(t1, t2, t3);
            } else {
                tokio::join!(t1, t2, t3);
            }
        });
        spindle::spawn(async move {
            for sender in senders.into_iter().rev() {
                spindle::task::yield_now().await;
                sender.send(()).unwrap();
            }
        });
        joiner.await.unwrap();
    });
    let counts = [0, 1, 2].map(|i| counts[i].load(SeqCst));
    (counts, rt.metrics().wasted_branch_polls)
}

#[test]
fn one_wake_polls_one_branch_under_spindle_join_but_every_branch_under_tokio_join() {
    // spindle: each branch is polled once to start and once when its own data arrives.
    let (spindle_polls, spindle_wasted) = t1_t2_t3(true);
    assert_eq!(spindle_polls, [2, 2, 2]);
    assert_eq!(spindle_wasted, 0);
    // tokio's join! (same runtime, same branches) polls every unfinished branch on any wake:
    // T1 also on T3's and T2's wakes, T2 on T3's. The audit counts exactly those extra polls.
    let (tokio_polls, tokio_wasted) = t1_t2_t3(false);
    assert!(tokio_polls[0] > 2 && tokio_polls[1] > 2, "{tokio_polls:?}");
    let extra: usize = tokio_polls.iter().map(|polls| polls - 2).sum();
    assert_eq!(tokio_wasted, extra as u64);
}
