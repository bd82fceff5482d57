//! [`WakeFlag`]: how submitters wake the supervisor without a syscall per submission.
//!
//! Submitters push a request under the inbox lock, then ring the supervisor's wake-up
//! socket, but only if no ring is already pending. The supervisor, woken, drains the socket,
//! clears the flag, and only then takes the inbox. The invariant: **a request the
//! supervisor has not taken always has a wake-up byte in the socket**, so the supervisor
//! never sleeps in `poll` while work waits.
//!
//! Clearing the flag *before* draining breaks it (a ring that lands in between is drained
//! while the flag stays set; the next submitter then skips its ring): the loom model
//! `loom_wake_no_request_is_left_without_a_ring` checks the real order, and
//! `loom_wake_negative_control_clear_before_drain` shows the same model catching the wrong
//! one. (That bug was found the hard way: a hung test.)

use crate::loom::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Default)]
pub(crate) struct WakeFlag {
    /// A wake-up byte is on its way or unread.
    pending: AtomicBool,
}

impl WakeFlag {
    /// Submitter side, after pushing its request under the inbox lock: calls `ring` unless
    /// a wake-up is already pending.
    pub(crate) fn ring_if_needed(&self, ring: impl FnOnce()) {
        if !self.pending.swap(true, Ordering::SeqCst) {
            ring();
        }
    }

    /// Supervisor side, after `poll` reported the socket readable and before it takes the
    /// inbox: `drain` empties the socket, then the flag is cleared.
    ///
    /// Why this order suffices: a submitter whose swap comes after the clear sees `false`
    /// and rings. One whose swap came before the clear pushed its request (under the inbox
    /// lock) before it swapped, so before the clear, so before our next inbox lock: we take
    /// its request.
    ///
    /// The clear is a read-modify-write rather than a store: it is then ordered after every
    /// ring that came before it, which C11 already guarantees for a store here (each swap
    /// that skipped its ring read a `true` that the drained ring's swap wrote), but which
    /// loom's partial modification order can only see through a read-modify-write. On
    /// x86 a sequentially consistent store is an exchange anyway.
    pub(crate) fn drain_and_rearm(&self, drain: impl FnOnce()) {
        drain();
        self.pending.swap(false, Ordering::SeqCst);
    }

    /// The wrong order, for the loom negative control only.
    #[cfg(all(test, loom))]
    fn rearm_then_drain(&self, drain: impl FnOnce()) {
        self.pending.swap(false, Ordering::SeqCst);
        drain();
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::WakeFlag;
    use crate::loom::sync::atomic::{AtomicUsize, Ordering};
    use crate::loom::sync::{Arc, Mutex};
    use crate::loom::thread;

    /// The inbox, the flag, and the socket modelled as a count of unread bytes.
    #[derive(Default)]
    struct Model {
        inbox: Mutex<Vec<u32>>,
        flag: WakeFlag,
        unread_bytes: AtomicUsize,
    }

    impl Model {
        fn submit(&self, request: u32) {
            self.inbox.lock().unwrap().push(request);
            self.flag.ring_if_needed(|| {
                self.unread_bytes.fetch_add(1, Ordering::AcqRel);
            });
        }

        /// Reading the socket dry observes the bytes it consumes (the kernel's socket lock
        /// orders a write before the read that returns its byte): a read-modify-write, not
        /// a blind store.
        fn drain(&self) {
            self.unread_bytes.swap(0, Ordering::AcqRel);
        }

        fn take(&self) -> Vec<u32> {
            std::mem::take(&mut *self.inbox.lock().unwrap())
        }
    }

    /// Two submitters (three requests) race one supervisor wake-up; afterwards, any request
    /// the supervisor did not take must have a byte waiting to wake it again.
    fn check(right_order: bool) {
        loom::model(move || {
            let model = Arc::new(Model::default());
            let submitters: Vec<_> = [vec![1, 2], vec![3]]
                .into_iter()
                .map(|requests| {
                    let model = model.clone();
                    thread::spawn(move || {
                        for request in requests {
                            model.submit(request);
                        }
                    })
                })
                .collect();
            // One supervisor iteration: woken (or not yet), drain, rearm, take.
            if right_order {
                model.flag.drain_and_rearm(|| model.drain());
            } else {
                model.flag.rearm_then_drain(|| model.drain());
            }
            let taken = model.take();
            for submitter in submitters {
                submitter.join().unwrap();
            }
            let left = model.inbox.lock().unwrap().len();
            assert!(
                left == 0 || model.unread_bytes.load(Ordering::SeqCst) > 0,
                "{left} requests left without a wake-up (took {taken:?})"
            );
        });
    }

    #[test]
    fn loom_wake_no_request_is_left_without_a_ring() {
        check(true);
    }

    #[test]
    #[should_panic(expected = "without a wake-up")]
    fn loom_wake_negative_control_clear_before_drain() {
        check(false);
    }
}
