//! `join!`, `try_join!` and `select!`: each scenario is written once, in [`on_both!`],
//! under `rt::`'s macros (spindle's on spindle, tokio's on tokio), and the test asserts they
//! agree; then the one place they deliberately differ, counted: spindle polls only the
//! branch that was woken.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll};

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

on_both! {
    async fn join_four() -> (usize, &'static str, usize, u8) {
        rt::join!(ReadyAfter(3), async { "b" }, ReadyAfter(0), async { 4u8 })
    }
}

#[test]
fn join_returns_every_output_in_order() {
    let spindle = join_four::spindle();
    assert_eq!(spindle, (7, "b", 7, 4));
    assert_eq!(spindle, join_four::tokio());
}

/// What [`try_join_failing_then_ok`] observed: the failed join's result, whether its
/// pending branch was dropped, the succeeding join's result.
type TryJoined = (
    Result<(u8, u8), &'static str>,
    bool,
    Result<(u8, usize), ()>,
);

on_both! {
    /// A pending branch (holding a drop flag) joined with a failing one, then two that
    /// succeed.
    fn try_join_failing_then_ok() -> TryJoined {
        async fn failing() -> Result<u8, &'static str> {
            Err("boom")
        }
        let dropped = Arc::new(AtomicBool::new(false));
        let guard = DropFlag(dropped.clone());
        let runtime = rt::current_thread();
        let failed = runtime.block_on(async move {
            let pending = async move {
                let _guard = guard;
                std::future::pending::<Result<u8, &'static str>>().await
            };
            rt::try_join!(pending, failing())
        });
        let ok = runtime.block_on(async { rt::try_join!(async { Ok(1) }, async { Ok(2) }) });
        (failed, dropped.load(SeqCst), ok)
    }
}

#[test]
fn try_join_short_circuits_on_the_first_error_and_drops_the_rest() {
    let spindle = try_join_failing_then_ok::spindle();
    assert_eq!(spindle, (Err("boom"), true, Ok((1, 2))));
    assert_eq!(spindle, try_join_failing_then_ok::tokio());
}

on_both! {
    async fn biased_select_of_two_ready() -> (&'static str, u8) {
        rt::select! {
            biased;
            a = async { 1 } => ("first", a),
            b = async { 2 } => ("second", b),
        }
    }
}

#[test]
fn biased_select_takes_the_first_ready_branch_in_written_order() {
    let spindle = biased_select_of_two_ready::spindle();
    assert_eq!(spindle, ("first", 1));
    assert_eq!(spindle, biased_select_of_two_ready::tokio());
}

on_both! {
    async fn select_slow_and_fast() -> usize {
        rt::select! {
            a = ReadyAfter(5) => a * 10,
            b = ReadyAfter(1) => b,
        }
    }
}

#[test]
fn select_takes_the_branch_that_completes_first() {
    let spindle = select_slow_and_fast::spindle();
    assert_eq!(spindle, 7);
    assert_eq!(spindle, select_slow_and_fast::tokio());
}

on_both! {
    /// 100 unbiased selects between two always-ready branches. Returns each branch's wins.
    async fn select_two_always_ready_100_times() -> [usize; 2] {
        let mut counts = [0; 2];
        for _ in 0..100 {
            rt::select! {
                _ = async {} => counts[0] += 1,
                _ = async {} => counts[1] += 1,
            }
        }
        counts
    }
}

#[test]
fn unbiased_select_is_fair_between_always_ready_branches() {
    // tokio picks a random start, spindle rotates: both give each branch a share (so the
    // counts themselves may differ).
    for counts in [
        select_two_always_ready_100_times::spindle(),
        select_two_always_ready_100_times::tokio(),
    ] {
        assert_eq!(counts[0] + counts[1], 100);
        assert!(counts[0] >= 10 && counts[1] >= 10, "{counts:?}");
    }
}

on_both! {
    async fn select_with_every_branch_disabled() -> u8 {
        let enabled = false;
        rt::select! {
            a = async { 1 }, if enabled => a,
            b = async { 2 }, if enabled => b,
            else => 0,
        }
    }
}

#[test]
fn select_runs_else_when_every_branch_is_disabled() {
    let spindle = select_with_every_branch_disabled::spindle();
    assert_eq!(spindle, 0);
    assert_eq!(spindle, select_with_every_branch_disabled::tokio());
}

on_both! {
    /// A biased select whose first branch's pattern does not match, then one where no
    /// branch's pattern matches. Returns both selects' values.
    async fn select_with_pattern_mismatches() -> (u32, u8) {
        let one_mismatch = rt::select! {
            biased;
            Some(x) = async { None::<u32> } => x,
            y = async { ReadyAfter(2).await as u32 } => y + 100,
        };
        // Every branch mismatching is "all disabled": the else branch runs.
        let all_mismatch = rt::select! {
            Some(x) = async { None::<u8> } => x,
            Ok(y) = async { Err::<u8, ()>(()) } => y,
            else => 42,
        };
        (one_mismatch, all_mismatch)
    }
}

#[test]
fn a_pattern_mismatch_disables_only_that_branch() {
    let spindle = select_with_pattern_mismatches::spindle();
    assert_eq!(spindle, (107, 42));
    assert_eq!(spindle, select_with_pattern_mismatches::tokio());
}

on_both! {
    /// A pending loser holding a drop flag against a branch bound by `mut` and `ref`
    /// patterns. Returns the handler's text, number, and whether the loser was dropped by
    /// the time the handler ran.
    async fn select_with_mut_and_ref_patterns() -> (String, i32, bool) {
        let flag = Arc::new(AtomicBool::new(false));
        let guard = DropFlag(flag.clone());
        rt::select! {
            _ = async move { let _guard = guard; std::future::pending::<()>().await } => unreachable!(),
            (Some(mut text), ref n) = async { (Some(String::from("a")), 3) } => {
                text.push('b');
                (text, *n, flag.load(SeqCst))
            }
        }
    }
}

#[test]
fn select_binds_mut_and_ref_patterns_and_drops_the_losers_before_the_handler() {
    let spindle = select_with_mut_and_ref_patterns::spindle();
    assert_eq!(spindle, ("ab".to_owned(), 3, true));
    assert_eq!(spindle, select_with_mut_and_ref_patterns::tokio());
}

on_both! {
    /// Returns whether a select whose only branch's pattern fails, with no `else`, panicked.
    fn select_with_no_branch_left_and_no_else() -> bool {
        std::panic::catch_unwind(|| {
            rt::current_thread().block_on(async {
                rt::select! {
                    Some(x) = async { None::<u8> } => x,
                }
            })
        })
        .is_err()
    }
}

#[test]
fn select_without_else_panics_when_every_branch_is_disabled() {
    assert!(select_with_no_branch_left_and_no_else::spindle());
    assert!(select_with_no_branch_left_and_no_else::tokio());
}

on_both! {
    /// A 32-branch `join!` and a 32-branch biased `select!`.
    async fn thirty_two_branch_join_and_select() -> (i32, i32, usize, usize) {
        let joined = rt::join!(
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
        let selected = rt::select! {
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
    }
}

#[test]
fn thirty_two_branches() {
    let spindle = thirty_two_branch_join_and_select::spindle();
    assert_eq!(spindle, (0, 30, 7, 1007));
    assert_eq!(spindle, thirty_two_branch_join_and_select::tokio());
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
    let runtime = crate::spindle_rt::current_thread();
    let polls: [Arc<AtomicUsize>; 3] = Default::default();
    let counts = polls.clone();
    runtime.block_on(async move {
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
    (counts, runtime.metrics().wasted_branch_polls)
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

on_both! {
    /// A 64-branch `join!`, `try_join!` and `select!`.
    async fn sixty_four_branch_join_try_join_and_select() -> (i32, Result<u8, ()>, usize) {
        let joined = rt::join!(
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
            async { 31 },
            async { 32 },
            async { 33 },
            async { 34 },
            async { 35 },
            async { 36 },
            async { 37 },
            async { 38 },
            async { 39 },
            async { 40 },
            async { 41 },
            async { 42 },
            async { 43 },
            async { 44 },
            async { 45 },
            async { 46 },
            async { 47 },
            async { 48 },
            async { 49 },
            async { 50 },
            async { 51 },
            async { 52 },
            async { 53 },
            async { 54 },
            async { 55 },
            async { 56 },
            async { 57 },
            async { 58 },
            async { 59 },
            async { 60 },
            async { 61 },
            async { 62 },
            async { 63 },
        );
        let try_joined = rt::try_join!(
            async { Ok::<u8, ()>(0) },
            async { Ok::<u8, ()>(1) },
            async { Ok::<u8, ()>(2) },
            async { Ok::<u8, ()>(3) },
            async { Ok::<u8, ()>(4) },
            async { Ok::<u8, ()>(5) },
            async { Ok::<u8, ()>(6) },
            async { Ok::<u8, ()>(7) },
            async { Ok::<u8, ()>(8) },
            async { Ok::<u8, ()>(9) },
            async { Ok::<u8, ()>(10) },
            async { Ok::<u8, ()>(11) },
            async { Ok::<u8, ()>(12) },
            async { Ok::<u8, ()>(13) },
            async { Ok::<u8, ()>(14) },
            async { Ok::<u8, ()>(15) },
            async { Ok::<u8, ()>(16) },
            async { Ok::<u8, ()>(17) },
            async { Ok::<u8, ()>(18) },
            async { Ok::<u8, ()>(19) },
            async { Ok::<u8, ()>(20) },
            async { Ok::<u8, ()>(21) },
            async { Ok::<u8, ()>(22) },
            async { Ok::<u8, ()>(23) },
            async { Ok::<u8, ()>(24) },
            async { Ok::<u8, ()>(25) },
            async { Ok::<u8, ()>(26) },
            async { Ok::<u8, ()>(27) },
            async { Ok::<u8, ()>(28) },
            async { Ok::<u8, ()>(29) },
            async { Ok::<u8, ()>(30) },
            async { Ok::<u8, ()>(31) },
            async { Ok::<u8, ()>(32) },
            async { Ok::<u8, ()>(33) },
            async { Ok::<u8, ()>(34) },
            async { Ok::<u8, ()>(35) },
            async { Ok::<u8, ()>(36) },
            async { Ok::<u8, ()>(37) },
            async { Ok::<u8, ()>(38) },
            async { Ok::<u8, ()>(39) },
            async { Ok::<u8, ()>(40) },
            async { Ok::<u8, ()>(41) },
            async { Ok::<u8, ()>(42) },
            async { Ok::<u8, ()>(43) },
            async { Ok::<u8, ()>(44) },
            async { Ok::<u8, ()>(45) },
            async { Ok::<u8, ()>(46) },
            async { Ok::<u8, ()>(47) },
            async { Ok::<u8, ()>(48) },
            async { Ok::<u8, ()>(49) },
            async { Ok::<u8, ()>(50) },
            async { Ok::<u8, ()>(51) },
            async { Ok::<u8, ()>(52) },
            async { Ok::<u8, ()>(53) },
            async { Ok::<u8, ()>(54) },
            async { Ok::<u8, ()>(55) },
            async { Ok::<u8, ()>(56) },
            async { Ok::<u8, ()>(57) },
            async { Ok::<u8, ()>(58) },
            async { Ok::<u8, ()>(59) },
            async { Ok::<u8, ()>(60) },
            async { Ok::<u8, ()>(61) },
            async { Ok::<u8, ()>(62) },
            async { Ok::<u8, ()>(63) },
        );
        let selected = rt::select! {
            x0 = ReadyAfter(5) => x0, x1 = ReadyAfter(5) => x1 + 1,
            x2 = ReadyAfter(5) => x2 + 2, x3 = ReadyAfter(5) => x3 + 3,
            x4 = ReadyAfter(5) => x4 + 4, x5 = ReadyAfter(5) => x5 + 5,
            x6 = ReadyAfter(5) => x6 + 6, x7 = ReadyAfter(5) => x7 + 7,
            x8 = ReadyAfter(5) => x8 + 8, x9 = ReadyAfter(5) => x9 + 9,
            x10 = ReadyAfter(5) => x10 + 10, x11 = ReadyAfter(5) => x11 + 11,
            x12 = ReadyAfter(5) => x12 + 12, x13 = ReadyAfter(5) => x13 + 13,
            x14 = ReadyAfter(5) => x14 + 14, x15 = ReadyAfter(5) => x15 + 15,
            x16 = ReadyAfter(5) => x16 + 16, x17 = ReadyAfter(5) => x17 + 17,
            x18 = ReadyAfter(5) => x18 + 18, x19 = ReadyAfter(5) => x19 + 19,
            x20 = ReadyAfter(5) => x20 + 20, x21 = ReadyAfter(5) => x21 + 21,
            x22 = ReadyAfter(5) => x22 + 22, x23 = ReadyAfter(5) => x23 + 23,
            x24 = ReadyAfter(5) => x24 + 24, x25 = ReadyAfter(5) => x25 + 25,
            x26 = ReadyAfter(5) => x26 + 26, x27 = ReadyAfter(5) => x27 + 27,
            x28 = ReadyAfter(5) => x28 + 28, x29 = ReadyAfter(5) => x29 + 29,
            x30 = ReadyAfter(5) => x30 + 30, x31 = ReadyAfter(5) => x31 + 31,
            x32 = ReadyAfter(5) => x32 + 32, x33 = ReadyAfter(5) => x33 + 33,
            x34 = ReadyAfter(5) => x34 + 34, x35 = ReadyAfter(5) => x35 + 35,
            x36 = ReadyAfter(5) => x36 + 36, x37 = ReadyAfter(5) => x37 + 37,
            x38 = ReadyAfter(5) => x38 + 38, x39 = ReadyAfter(5) => x39 + 39,
            x40 = ReadyAfter(5) => x40 + 40, x41 = ReadyAfter(5) => x41 + 41,
            x42 = ReadyAfter(5) => x42 + 42, x43 = ReadyAfter(5) => x43 + 43,
            x44 = ReadyAfter(5) => x44 + 44, x45 = ReadyAfter(5) => x45 + 45,
            x46 = ReadyAfter(5) => x46 + 46, x47 = ReadyAfter(5) => x47 + 47,
            x48 = ReadyAfter(5) => x48 + 48, x49 = ReadyAfter(5) => x49 + 49,
            x50 = ReadyAfter(5) => x50 + 50, x51 = ReadyAfter(5) => x51 + 51,
            x52 = ReadyAfter(5) => x52 + 52, x53 = ReadyAfter(5) => x53 + 53,
            x54 = ReadyAfter(5) => x54 + 54, x55 = ReadyAfter(5) => x55 + 55,
            x56 = ReadyAfter(5) => x56 + 56, x57 = ReadyAfter(5) => x57 + 57,
            x58 = ReadyAfter(5) => x58 + 58, x59 = ReadyAfter(5) => x59 + 59,
            x60 = ReadyAfter(5) => x60 + 60, x61 = ReadyAfter(5) => x61 + 61,
            x62 = ReadyAfter(5) => x62 + 62, x63 = ReadyAfter(1) => x63 + 63,
            else => 0,
        };
        (joined.63, try_joined.map(|all| all.63), selected)
    }
}

/// The most branches a combinator takes (one bit each in the ready mask), within the default
/// recursion limit; tokio's `select!` takes as many.
#[test]
fn sixty_four_branches() {
    let spindle = sixty_four_branch_join_try_join_and_select::spindle();
    assert_eq!(spindle, (63, Ok(63), 70));
    assert_eq!(spindle, sixty_four_branch_join_try_join_and_select::tokio());
}

/// A value whose `IntoFuture` is ready with 7.
struct Seven;

impl std::future::IntoFuture for Seven {
    type Output = u8;
    type IntoFuture = std::future::Ready<u8>;
    fn into_future(self) -> Self::IntoFuture {
        std::future::ready(7)
    }
}

on_both! {
    async fn join_and_select_into_future_values() -> (u8, u8) {
        let (a,) = rt::join!(Seven);
        let b = rt::select! { b = Seven => b };
        (a, b)
    }
}

/// Branches may be `IntoFuture` values, as with tokio's macros.
#[test]
fn branches_may_be_into_future_values() {
    let spindle = join_and_select_into_future_values::spindle();
    assert_eq!(spindle, (7, 7));
    assert_eq!(spindle, join_and_select_into_future_values::tokio());
}

on_both! {
    /// Three messages from a task over a channel, against a pinned 30 s deadline polled by
    /// reference. Returns why the loop ended, then the sum received.
    async fn select_loop_against_a_deadline() -> String {
        let (tx, mut rx) = rt::sync::mpsc::channel::<u32>(4);
        rt::spawn(async move {
            for i in 1..=3 {
                tx.send(i).await.unwrap();
            }
        });
        let deadline = rt::time::sleep(std::time::Duration::from_secs(30));
        rt::pin!(deadline);
        let mut sum = 0;
        loop {
            rt::select! {
                _ = &mut deadline => break "deadline",
                message = rx.recv() => match message {
                    Some(n) => sum += n,
                    None => break "closed",
                },
            }
        }
        .to_owned()
            + &sum.to_string()
    }
}

/// The usual tokio loop: a pinned deadline polled by reference in `select!`, against a
/// channel, until the channel closes or the deadline passes.
#[test]
fn select_in_a_loop_with_a_pinned_deadline() {
    let spindle = select_loop_against_a_deadline::spindle();
    assert_eq!(spindle, "closed6");
    assert_eq!(spindle, select_loop_against_a_deadline::tokio());
}
