//! The injection queue: run-queue entries from threads that do not own a local queue (wakes
//! and spawns from outside, overflow from a full local queue).
//!
//! A locked `VecDeque` with its length mirrored in an atomic, so the common "is there
//! anything?" check costs no lock. Once closed (at shutdown), pushes drop their entry instead
//! of storing it: nothing can be stranded in a queue that nobody drains, and a stranded entry
//! would keep its task, and through it the runtime's shared state, alive forever.
//!
//! The length is written and read `SeqCst` (`Release`/`Acquire` would do): under loom an
//! `Acquire` load of it is explored reading every older length not yet seen, each a worker
//! that takes nothing, searches and parks once more (DESIGN.md, "Loom", "SeqCst words"). The
//! price is an `xchg` instead of a `mov` per push and pop, under the queue's lock.

use std::collections::VecDeque;

use crate::loom::sync::atomic::{seq_cst_usize, AtomicUsize, Ordering::*};
use crate::loom::sync::Mutex;
use crate::task::Notified;

pub(crate) struct Inject<S: 'static> {
    queue: Mutex<Queue<S>>,
    len: AtomicUsize,
}

struct Queue<S: 'static> {
    entries: VecDeque<Notified<S>>,
    closed: bool,
}

impl<S: 'static> Inject<S> {
    pub(crate) fn new() -> Inject<S> {
        Inject {
            queue: Mutex::new(Queue {
                entries: VecDeque::new(),
                closed: false,
            }),
            len: seq_cst_usize(0),
        }
    }

    /// Whether the queue looked empty. A racing push may have just landed; callers that must
    /// not miss it re-check after announcing that they are about to sleep.
    pub(crate) fn is_empty(&self) -> bool {
        self.len.load(SeqCst) == 0
    }

    /// How many entries there were a moment ago.
    pub(crate) fn len(&self) -> usize {
        self.len.load(SeqCst)
    }

    /// Queues an entry. Returns `false` (and drops the entry) if the queue is closed.
    pub(crate) fn push(&self, task: Notified<S>) -> bool {
        self.push_batch(std::iter::once(task))
    }

    /// Queues several entries under one lock acquisition.
    pub(crate) fn push_batch(&self, tasks: impl Iterator<Item = Notified<S>>) -> bool {
        let mut queue = self.queue.lock().unwrap();
        if queue.closed {
            drop(queue);
            // Dropping an entry only drops a reference; it never runs user code here because
            // a closed runtime's tasks are complete, but drop outside the lock regardless.
            tasks.for_each(drop);
            return false;
        }
        queue.entries.extend(tasks);
        self.len.store(queue.entries.len(), SeqCst);
        true
    }

    pub(crate) fn pop(&self) -> Option<Notified<S>> {
        if self.is_empty() {
            return None;
        }
        let mut queue = self.queue.lock().unwrap();
        let task = queue.entries.pop_front();
        self.len.store(queue.entries.len(), SeqCst);
        task
    }

    /// Pops up to `max` entries under one lock acquisition.
    pub(crate) fn pop_batch(&self, max: usize, mut each: impl FnMut(Notified<S>)) {
        if self.is_empty() {
            return;
        }
        let mut queue = self.queue.lock().unwrap();
        let count = max.min(queue.entries.len());
        queue.entries.drain(..count).for_each(&mut each);
        self.len.store(queue.entries.len(), SeqCst);
    }

    /// Closes the queue and returns what was in it, for the caller to drop outside the lock.
    pub(crate) fn close(&self) -> VecDeque<Notified<S>> {
        let mut queue = self.queue.lock().unwrap();
        queue.closed = true;
        self.len.store(0, SeqCst);
        std::mem::take(&mut queue.entries)
    }
}
