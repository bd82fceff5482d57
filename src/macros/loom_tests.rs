//! Loom models of the per-branch wakers (`branch_wakers.rs`).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::loom::gate::{block_on, Gate, Wait};
use crate::loom::thread;

/// T1 and T2 were each polled once (to register), never again: no branch poll was wasted.
fn only_t3_was_polled_again(t1: &Gate, t2: &Gate) -> Result<(), String> {
    match (t1.polls(), t2.polls()) {
        (1, 1) => Ok(()),
        (t1, t2) => Err(format!(
            "T1 polled {t1} times, T2 {t2}: wasted branch polls"
        )),
    }
}

/// Three `select!` branches wait on three events; only T3's fires, from another thread. A
/// wake polls only its own branch, and the wake is never lost (loom reports the deadlock).
#[test]
fn loom_only_the_woken_branch_is_polled_again() {
    loom::model(|| {
        let [t1, t2, t3] = [Gate::new(), Gate::new(), Gate::new()];
        // Not joined: the firer's wake may find the parent registered and unpark this thread
        // after the select already saw the branch's bit and finished (a left-over unpark,
        // harmless with std), and loom then mistakes that unpark for the end of a `join`
        // wait. loom still runs the thread to completion and checks it.
        let t3_firer = t3.clone();
        thread::spawn(move || t3_firer.fire());
        let winner = block_on(async {
            crate::select! {
                biased;
                _ = t1.wait() => 1,
                _ = t2.wait() => 2,
                _ = t3.wait() => 3,
            }
        });
        assert_eq!(winner, 3);
        only_t3_was_polled_again(&t1, &t2).unwrap();
        // T3 is polled a second time only if its event came after its first poll.
        assert!((1..=2).contains(&t3.polls()));
    });
}

/// The combinator tokio's and futures-util's macros amount to: every poll polls every branch.
struct PollEveryBranch {
    branches: [Pin<Box<Wait>>; 3],
}

impl Future for PollEveryBranch {
    type Output = usize;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        for (index, branch) in self.branches.iter_mut().enumerate() {
            if branch.as_mut().poll(cx).is_ready() {
                return Poll::Ready(index + 1);
            }
        }
        Poll::Pending
    }
}

/// The negative control: the same scenario and check on the poll-everything combinator. The
/// check must catch it in some interleaving (T3's event arriving after the first poll).
#[test]
fn loom_only_the_woken_branch_negative_control_catches_poll_everything() {
    static CAUGHT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    loom::model(|| {
        let [t1, t2, t3] = [Gate::new(), Gate::new(), Gate::new()];
        let firer = {
            let t3 = t3.clone();
            thread::spawn(move || t3.fire())
        };
        let winner = block_on(PollEveryBranch {
            branches: [t1.wait(), t2.wait(), t3.wait()].map(Box::pin),
        });
        firer.join().unwrap();
        assert_eq!(winner, 3);
        if only_t3_was_polled_again(&t1, &t2).is_err() {
            CAUGHT.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    });
    assert!(
        CAUGHT.load(std::sync::atomic::Ordering::SeqCst),
        "the branch-poll check never caught the poll-everything combinator"
    );
}
