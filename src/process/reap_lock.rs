//! [`ReapLock`]: how `Command`'s waiting thread and the `Child` it waits for agree on whether
//! the child's pid is still theirs to signal.
//!
//! A pid names our child only until the child is reaped: from then on the kernel may give it
//! to any new process, and `kill(pid)` would signal a stranger. Where a `Child` is reaped by
//! a thread of its own (no pidfd, every SIGCHLD slot taken), the reap and a `start_kill` run
//! on different threads. The thread therefore learns of the exit with
//! `waitid(WEXITED | WNOWAIT)`, which leaves the child a zombie (its pid still taken, so a
//! kill now reaches the zombie and does nothing), and only then reaps it **under this lock,
//! recording the reap before the lock is released**; a kill runs under the same lock and
//! only if no reap is recorded. So every kill either comes before the reap, when the pid is
//! still our child's, or sees the record and sends nothing.
//!
//! Reaping first and recording after (the bug this replaced: `waitpid`, then completing the
//! exit slot that `start_kill` looked at) leaves a window in which a kill signals a freed
//! pid: the loom model `loom_reap_lock_no_kill_reaches_a_reaped_pid` checks the real order,
//! and `loom_reap_lock_negative_control_reap_before_the_lock` shows it catching that one.

use std::io;

use crate::loom::sync::{Mutex, MutexGuard};

#[derive(Debug, Default)]
pub(crate) struct ReapLock {
    /// The child has been reaped (or found gone): its pid may name another process now.
    reaped: Mutex<bool>,
}

impl ReapLock {
    pub(crate) fn new() -> ReapLock {
        ReapLock::default()
    }

    fn lock(&self) -> MutexGuard<'_, bool> {
        // Nothing panics while holding this lock (its closures are a `waitpid` and a
        // `kill`); recover the flag if something did.
        self.reaped
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The reaping side, once the child has exited (it is a zombie, or already gone): runs
    /// `reap` (the `waitpid`) under the lock and records the reap before releasing it,
    /// whatever `reap` returns (after a failed `waitpid` the pid is not ours either).
    pub(crate) fn reap<R>(&self, reap: impl FnOnce() -> R) -> R {
        let mut reaped = self.lock();
        let outcome = reap();
        *reaped = true;
        outcome
    }

    /// The signalling side: runs `signal` (the `kill`) under the lock, unless the child has
    /// been reaped; then nothing is sent and the answer is `Ok(())` (a kill of a child that
    /// has exited is not an error, as on tokio).
    pub(crate) fn signal(&self, signal: impl FnOnce() -> io::Result<()>) -> io::Result<()> {
        let reaped = self.lock();
        if *reaped {
            return Ok(()); // its pid may name another process now
        }
        signal()
    }

    /// The wrong order, for the loom negative control only: reap, then record under the
    /// lock.
    #[cfg(all(test, loom))]
    fn reap_before_the_lock<R>(&self, reap: impl FnOnce() -> R) -> R {
        let outcome = reap();
        *self.lock() = true;
        outcome
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::ReapLock;
    use crate::loom::sync::atomic::{AtomicUsize, Ordering};
    use crate::loom::sync::Arc;
    use crate::loom::thread;

    /// The kernel's view of the child's pid, which only moves forward.
    const RUNNING: usize = 0;
    const ZOMBIE: usize = 1;
    /// Reaped: the pid is free, and may already name another process.
    const FREE: usize = 2;

    #[derive(Default)]
    struct Model {
        lock: ReapLock,
        pid: AtomicUsize,
    }

    impl Model {
        /// The child's `exit`, then the waiting thread's `waitid(WNOWAIT)` (which returns
        /// once the pid is a zombie, and leaves it one), then its reap.
        fn exit_and_reap(&self, right_order: bool) {
            self.pid.store(ZOMBIE, Ordering::SeqCst);
            let reap = || self.pid.store(FREE, Ordering::SeqCst);
            if right_order {
                self.lock.reap(reap);
            } else {
                self.lock.reap_before_the_lock(reap);
            }
        }

        /// `kill(pid)`: the kernel looks the pid up.
        fn kill(&self) -> std::io::Result<()> {
            assert_ne!(
                self.pid.load(Ordering::SeqCst),
                FREE,
                "a kill reached a reaped pid (it may name another process)"
            );
            Ok(())
        }
    }

    /// The waiting thread exits and reaps the child while the owner of the `Child` kills it:
    /// the kill never reaches the freed pid, and it is skipped only once the child is
    /// reaped (a kill that sends nothing while the child lives would be lost).
    fn check(right_order: bool) {
        loom::model(move || {
            let model = Arc::new(Model::default());
            let waiter = {
                let model = model.clone();
                thread::spawn(move || model.exit_and_reap(right_order))
            };
            let sent = AtomicUsize::new(0);
            model
                .lock
                .signal(|| {
                    sent.fetch_add(1, Ordering::SeqCst);
                    model.kill()
                })
                .unwrap();
            if sent.load(Ordering::SeqCst) == 0 {
                assert_eq!(
                    model.pid.load(Ordering::SeqCst),
                    FREE,
                    "the kill was skipped although the child was not reaped"
                );
            }
            waiter.join().unwrap();
            // A kill after the reap sends nothing.
            model.lock.signal(|| model.kill()).unwrap();
            assert_ne!(model.pid.load(Ordering::SeqCst), RUNNING);
        });
    }

    #[test]
    fn loom_reap_lock_no_kill_reaches_a_reaped_pid() {
        check(true);
    }

    #[test]
    #[should_panic(expected = "a kill reached a reaped pid")]
    fn loom_reap_lock_negative_control_reap_before_the_lock() {
        check(false);
    }
}
