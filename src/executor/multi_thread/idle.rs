//! Who sleeps, who searches, and whom to wake.
//!
//! One atomic word counts the workers that are awake (`unparked`) and, of those, the ones
//! looking for work to steal (`searching`). Sleeping workers' indices sit in a locked list.
//!
//! The rules:
//! - New work wakes a sleeper only if nobody is searching (a searcher will find the work)
//!   and somebody sleeps. The woken worker starts out searching, so the next piece of work
//!   does not wake a second one: one wake, not a thundering herd.
//! - At most half the workers search at once (rounded up); the others park.
//! - The last searcher to stop searching, whether it found work or is going to sleep,
//!   re-checks for work and wakes a sleeper if any is left: otherwise work pushed while
//!   everybody searched, and that every notifier skipped because somebody was searching,
//!   could wait forever. (loom model `loom_spawn_racing_with_the_last_searcher_parking`)
//! - A worker refused a search re-checks before sleeping too (`worker::park` explains why;
//!   loom model `loom_local_spawn_racing_with_the_peer_parking_is_seen`).

use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::loom::sync::Mutex;

const SEARCHING_MASK: usize = (1 << 16) - 1;
const UNPARKED_ONE: usize = 1 << 16;

pub(crate) struct Idle {
    state: AtomicUsize,
    workers: usize,
    sleepers: Mutex<Vec<usize>>,
}

fn searching(state: usize) -> usize {
    state & SEARCHING_MASK
}

fn unparked(state: usize) -> usize {
    state >> 16
}

impl Idle {
    pub(crate) fn new(workers: usize) -> Idle {
        assert!(workers <= SEARCHING_MASK, "too many workers");
        Idle {
            state: AtomicUsize::new(workers * UNPARKED_ONE),
            workers,
            sleepers: Mutex::new(Vec::with_capacity(workers)),
        }
    }

    /// Work was queued: the worker to wake, if one should be. The caller unparks it.
    pub(crate) fn worker_to_notify(&self) -> Option<usize> {
        // A read-modify-write, not a load: the caller just queued work with plain stores, and
        // a worker about to sleep does an RMW on this word before it re-checks the queues.
        // RMWs on one word are totally ordered, so either it sees our work or we see it
        // counted as a sleeper (the store-buffer race a load would allow loses wake-ups;
        // loom found it).
        if !self.should_wake_one(self.state.fetch_add(0, SeqCst)) {
            return None;
        }
        let mut sleepers = self.sleepers.lock().unwrap();
        // Re-check under the lock: another notifier may have woken someone meanwhile.
        if !self.should_wake_one(self.state.load(SeqCst)) {
            return None;
        }
        let worker = sleepers.pop()?;
        // The woken worker counts as awake and searching from now on.
        self.state.fetch_add(UNPARKED_ONE | 1, SeqCst);
        Some(worker)
    }

    fn should_wake_one(&self, state: usize) -> bool {
        searching(state) == 0 && unparked(state) < self.workers
    }

    /// A worker wants to search for work to steal. Refused when half are already searching.
    pub(crate) fn try_start_searching(&self) -> bool {
        let state = self.state.load(SeqCst);
        if 2 * searching(state) >= self.workers {
            return false;
        }
        self.state.fetch_add(1, SeqCst);
        true
    }

    /// A searching worker found work. Returns `true` if it was the last searcher, in which
    /// case it must wake another worker if there is more work.
    pub(crate) fn stop_searching(&self) -> bool {
        let previous = self.state.fetch_sub(1, SeqCst);
        debug_assert!(searching(previous) > 0);
        searching(previous) == 1
    }

    /// A worker goes to sleep. Returns `true` if it was the last searcher (see the module
    /// rules: it must then re-check every queue before sleeping).
    pub(crate) fn park(&self, worker: usize, was_searching: bool) -> bool {
        let mut sleepers = self.sleepers.lock().unwrap();
        let previous = self
            .state
            .fetch_sub(UNPARKED_ONE | usize::from(was_searching), SeqCst);
        sleepers.push(worker);
        was_searching && searching(previous) == 1
    }

    /// Under loom: whether every worker counts as asleep (`MultiThread::wait_until_workers_sleep`).
    #[cfg(loom)]
    pub(crate) fn all_asleep(&self) -> bool {
        unparked(self.state.load(SeqCst)) == 0
    }

    /// A worker woke up. Returns `true` if a notifier woke it (and counted it as searching);
    /// `false` if it woke for another reason (a timer, the driver, a spurious wake-up), in
    /// which case it takes itself off the sleepers list as a non-searching worker.
    pub(crate) fn unpark(&self, worker: usize) -> bool {
        let mut sleepers = self.sleepers.lock().unwrap();
        match sleepers.iter().position(|&sleeper| sleeper == worker) {
            Some(position) => {
                sleepers.swap_remove(position);
                self.state.fetch_add(UNPARKED_ONE, SeqCst);
                false
            }
            None => true,
        }
    }
}
