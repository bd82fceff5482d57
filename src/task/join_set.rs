//! [`JoinSet`]: a set of spawned tasks, awaited in the order they finish.
//!
//! Each entry's join handle is polled with a waker of its own, which puts the entry's key in
//! the set's ready queue and wakes the task awaiting [`JoinSet::join_next`]. `join_next` polls
//! only the entries in that queue (plus, once, each new entry, to register its waker): with
//! 10,000 tasks of which one finished, it polls one handle, not 10,000. The same per-branch
//! waker protocol as `join!`/`select!` (`src/macros/branch_wakers.rs`):
//! - an entry is queued at most once at a time (`queued` flag; cleared just before its poll,
//!   so a completion during or after the poll queues it again);
//! - `poll_join_next` stores the parent waker *before* draining the queue, and a wake pushes
//!   the key *before* reading the parent waker, both under one lock: no wake is lost;
//! - no waker is dropped under the lock (a replaced parent waker is dropped after it).

use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::{Arc, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use super::{AbortHandle, JoinError, JoinHandle};
use crate::executor::Handle;
use crate::loom::sync::atomic::{AtomicBool, Ordering::AcqRel, Ordering::Release};
use crate::loom::sync::Mutex;

/// A collection of spawned tasks, like `tokio::task::JoinSet`: spawn into it, then take the
/// outputs with [`join_next`](Self::join_next) as the tasks finish. Dropping the set aborts
/// every task still in it.
///
/// ```
/// spindle::block_on(async {
///     let mut set = spindle::task::JoinSet::new();
///     for i in 0..10u64 {
///         set.spawn(async move { i * i });
///     }
///     let mut sum = 0;
///     while let Some(result) = set.join_next().await {
///         sum += result.unwrap();
///     }
///     assert_eq!(sum, 285);
/// });
/// ```
pub struct JoinSet<T> {
    entries: EntrySlab<T>,
    ready: Arc<ReadyQueue>,
    /// Join-handle polls so far (the tests check one finish costs one poll).
    handle_polls: u64,
    /// The loom negative control's mutant: every entry counts as woken on every poll.
    #[cfg(all(test, loom))]
    poll_every_entry: bool,
}

struct Entry<T> {
    handle: JoinHandle<T>,
    waker: Waker,
    state: Arc<EntryWaker>,
}

struct ReadyQueue {
    inner: Mutex<ReadyInner>,
}

struct ReadyInner {
    /// Keys of entries whose handle should be polled: woken, or new.
    keys: VecDeque<u64>,
    /// The waker of the latest `join_next` poll.
    parent: Option<Waker>,
}

struct EntryWaker {
    key: u64,
    /// Set while the key is in the ready queue.
    queued: AtomicBool,
    ready: Arc<ReadyQueue>,
}

impl Wake for EntryWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.queued.swap(true, AcqRel) {
            return; // already queued: the wake that queued it woke the parent
        }
        let parent = {
            let mut inner = self.ready.lock();
            inner.keys.push_back(self.key);
            inner.parent.clone()
        };
        if let Some(parent) = parent {
            parent.wake();
        }
    }
}

impl ReadyQueue {
    fn lock(&self) -> crate::loom::sync::MutexGuard<'_, ReadyInner> {
        // Nothing user-defined runs under this lock, so it is never poisoned in practice;
        // a wake must not panic regardless.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T> JoinSet<T> {
    /// An empty set.
    pub fn new() -> JoinSet<T> {
        JoinSet {
            entries: EntrySlab::new(),
            handle_polls: 0,
            #[cfg(all(test, loom))]
            poll_every_entry: false,
            ready: Arc::new(ReadyQueue {
                inner: Mutex::new(ReadyInner {
                    keys: VecDeque::new(),
                    parent: None,
                }),
            }),
        }
    }

    /// How many tasks are in the set (running, or finished but not yet joined).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds an already spawned task's handle; returns an abort handle for it.
    fn insert(&mut self, handle: JoinHandle<T>) -> AbortHandle {
        let abort = handle.abort_handle();
        let ready = self.ready.clone();
        let key = self.entries.insert_with(|key| {
            let state = Arc::new(EntryWaker {
                key,
                // Queued from the start: its first poll registers the entry's waker.
                queued: AtomicBool::new(true),
                ready,
            });
            Entry {
                handle,
                waker: Waker::from(state.clone()),
                state,
            }
        });
        self.ready.lock().keys.push_back(key);
        abort
    }

    /// Spawns `future` on the current runtime into the set, like `JoinSet::spawn` in tokio.
    ///
    /// # Panics
    /// Outside a runtime.
    #[track_caller]
    pub fn spawn<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        self.insert(crate::spawn(future))
    }

    /// Spawns `future` on the runtime `handle` points at.
    #[track_caller]
    pub fn spawn_on<F>(&mut self, future: F, handle: &Handle) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        self.insert(handle.spawn(future))
    }

    /// Spawns a `!Send` future on the current-thread runtime this thread drives.
    ///
    /// # Panics
    /// Outside a current-thread runtime, as [`spawn_local`](crate::spawn_local).
    #[track_caller]
    pub fn spawn_local<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
        T: 'static,
    {
        self.insert(crate::spawn_local(future))
    }

    /// Runs `f` on the blocking pool, into the set.
    #[track_caller]
    pub fn spawn_blocking<F>(&mut self, f: F) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.insert(crate::spawn_blocking(f))
    }

    /// Waits for one of the tasks to finish and returns its output; `None` once the set is
    /// empty. Cancel-safe: dropping the future loses no output.
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        poll_fn(|cx| self.poll_join_next(cx)).await
    }

    /// The output of a task that has finished, if any, without waiting.
    pub fn try_join_next(&mut self) -> Option<Result<T, JoinError>> {
        match self.poll_ready_entries(None) {
            Poll::Ready(output) => output,
            Poll::Pending => None,
        }
    }

    /// Polls for the next finished task, registering `cx` to be woken when one finishes.
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        if self.entries.is_empty() {
            return Poll::Ready(None);
        }
        // Register first, then drain: a wake after the drain finds this waker.
        let stale = {
            let mut inner = self.ready.lock();
            super::register_waker(&mut inner.parent, cx.waker())
        };
        drop(stale); // outside the lock
        self.poll_ready_entries(Some(cx))
    }

    /// Polls the handles whose keys are queued (those present now; a key queued again during
    /// this call waits for the next one), returning the first output.
    fn poll_ready_entries(
        &mut self,
        cx: Option<&Context<'_>>,
    ) -> Poll<Option<Result<T, JoinError>>> {
        #[cfg(all(test, loom))]
        if self.poll_every_entry {
            // Every entry, in spawn order, as a set without per-entry wakers would poll them.
            let keys: Vec<u64> = self.entries.values().map(|entry| entry.state.key).collect();
            for entry in self.entries.values() {
                entry.state.queued.store(true, Release);
            }
            self.ready.lock().keys = keys.into();
        }
        let batch = self.ready.lock().keys.len();
        for _ in 0..batch {
            if crate::task::coop::budget_spent() {
                // Every further handle would refuse; yield once rather than collect refusals.
                if let Some(cx) = cx {
                    cx.waker().wake_by_ref();
                }
                return Poll::Pending;
            }
            let Some(key) = self.ready.lock().keys.pop_front() else {
                break;
            };
            let Some(entry) = self.entries.get_mut(key) else {
                continue; // joined or detached since it was queued
            };
            entry.state.queued.store(false, Release);
            self.handle_polls += 1;
            let polled = Pin::new(&mut entry.handle).poll(&mut Context::from_waker(&entry.waker));
            if let Poll::Ready(output) = polled {
                self.entries.remove(key);
                return Poll::Ready(Some(output));
            }
        }
        Poll::Pending
    }

    /// Waits for every task and returns their outputs in the order they finished, like
    /// tokio's `JoinSet::join_all`.
    ///
    /// # Panics
    /// If a task panicked (resuming its panic) or was cancelled; the other tasks are aborted
    /// when the set drops.
    pub async fn join_all(mut self) -> Vec<T> {
        let mut outputs = Vec::with_capacity(self.len());
        while let Some(result) = self.join_next().await {
            match result {
                Ok(output) => outputs.push(output),
                Err(error) => match error.try_into_panic() {
                    Ok(payload) => std::panic::resume_unwind(payload),
                    Err(error) => panic!("JoinSet::join_all: {error}"),
                },
            }
        }
        outputs
    }

    /// Aborts every task in the set; they stay in it, and `join_next` returns their
    /// (cancelled, or already finished) results.
    pub fn abort_all(&mut self) {
        for entry in self.entries.values() {
            entry.handle.abort();
        }
    }

    /// Removes every task from the set without aborting it: they run on, detached.
    pub fn detach_all(&mut self) {
        self.entries.clear();
        self.ready.lock().keys.clear();
    }

    /// Aborts every task and waits until all of them have stopped.
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }
}

/// The entries, in a slab: a key is a slot index (low 32 bits) and the slot's generation
/// (high 32 bits), so a stale key, queued for an entry since removed, finds nothing even after
/// its slot is reused. (A `HashMap` here cost a tenth of a 10,000-task join in hashing.)
struct EntrySlab<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    len: usize,
}

struct Slot<T> {
    generation: u32,
    entry: Option<Entry<T>>,
}

impl<T> EntrySlab<T> {
    fn new() -> EntrySlab<T> {
        EntrySlab {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Stores the entry `make` builds for its key; returns the key.
    fn insert_with(&mut self, make: impl FnOnce(u64) -> Entry<T>) -> u64 {
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                let index = u32::try_from(self.slots.len())
                    .expect("a JoinSet holds fewer than 2^32 tasks at once");
                self.slots.push(Slot {
                    generation: 0,
                    entry: None,
                });
                index
            }
        };
        let slot = &mut self.slots[index as usize];
        let key = u64::from(slot.generation) << 32 | u64::from(index);
        slot.entry = Some(make(key));
        self.len += 1;
        key
    }

    fn slot(&mut self, key: u64) -> Option<&mut Slot<T>> {
        let slot = self.slots.get_mut((key & u64::from(u32::MAX)) as usize)?;
        (u64::from(slot.generation) == key >> 32 && slot.entry.is_some()).then_some(slot)
    }

    fn get_mut(&mut self, key: u64) -> Option<&mut Entry<T>> {
        self.slot(key)?.entry.as_mut()
    }

    fn remove(&mut self, key: u64) -> Option<Entry<T>> {
        let slot = self.slot(key)?;
        let entry = slot.entry.take();
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push((key & u64::from(u32::MAX)) as u32);
        self.len -= 1;
        entry
    }

    fn values(&self) -> impl Iterator<Item = &Entry<T>> {
        self.slots.iter().filter_map(|slot| slot.entry.as_ref())
    }

    /// Empties the slab, keeping every slot's generation moving on, so a detached entry's
    /// late wake cannot name a newer entry.
    fn clear(&mut self) {
        for (index, slot) in self.slots.iter_mut().enumerate() {
            if slot.entry.take().is_some() {
                slot.generation = slot.generation.wrapping_add(1);
                self.free.push(index as u32);
            }
        }
        self.len = 0;
    }
}

impl<T> Drop for JoinSet<T> {
    /// Aborts every task still in the set.
    fn drop(&mut self) {
        self.abort_all();
    }
}

impl<T> Default for JoinSet<T> {
    fn default() -> JoinSet<T> {
        JoinSet::new()
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet").field("len", &self.len()).finish()
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::JoinSet;
    use crate::loom::gate::Gate;
    use crate::loom::thread;
    use crate::runtime::Builder;

    /// Three tasks in a set, T3's event fired from another thread: how many handle polls
    /// `join_next` needed to return T3's output.
    fn handle_polls_to_join_t3(poll_every_entry: bool) -> u64 {
        let rt = Builder::new_current_thread().build().unwrap();
        let [t1, t2, t3] = [Gate::new(), Gate::new(), Gate::new()];
        let firer = {
            let t3 = t3.clone();
            thread::spawn(move || t3.fire())
        };
        let polls = rt.block_on(async {
            let mut set = JoinSet::new();
            set.poll_every_entry = poll_every_entry;
            set.spawn(async move {
                t1.wait().await;
                1
            });
            set.spawn(async move {
                t2.wait().await;
                2
            });
            set.spawn(async move {
                t3.wait().await;
                3
            });
            assert_eq!(set.join_next().await.unwrap().unwrap(), 3);
            set.handle_polls
        });
        firer.join().unwrap();
        polls
    }

    /// Each entry is polled once to register its waker, then only T3's, once, when its task
    /// finished; and the finish is never lost (loom reports the deadlock).
    #[test]
    fn loom_join_set_polls_only_the_finished_entry() {
        loom::model(|| {
            let polls = handle_polls_to_join_t3(false);
            assert!(
                polls <= 4,
                "{polls} handle polls for one finished task of three"
            );
        });
    }

    /// The negative control: a set that polls every entry on every `join_next` poll must
    /// fail the same check in some interleaving.
    #[test]
    fn loom_join_set_negative_control_catches_poll_every_entry() {
        static CAUGHT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        loom::model(|| {
            if handle_polls_to_join_t3(true) > 4 {
                CAUGHT.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        });
        assert!(
            CAUGHT.load(std::sync::atomic::Ordering::SeqCst),
            "the handle-poll check never caught the poll-every-entry set"
        );
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::JoinSet;

    /// With 100 tasks registered and one finishing, `join_next` polls one handle, not 100.
    #[test]
    fn join_next_polls_only_the_handle_whose_task_finished() {
        crate::block_on(async {
            let mut set = JoinSet::new();
            let mut senders = Vec::new();
            for i in 0..100 {
                let (tx, rx) = crate::sync::oneshot::channel::<()>();
                senders.push(Some(tx));
                set.spawn(async move {
                    rx.await.unwrap();
                    i
                });
            }
            // Registration: every new entry is polled once.
            assert!(set.try_join_next().is_none());
            assert_eq!(set.handle_polls, 100);
            for (finished, i) in [42, 7, 99].into_iter().enumerate() {
                senders[i].take().unwrap().send(()).unwrap();
                assert_eq!(set.join_next().await.unwrap().unwrap(), i);
                assert_eq!(set.handle_polls, 101 + finished as u64);
            }
        });
    }
}
