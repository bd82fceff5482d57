//! The set of tasks a runtime owns, so that shutdown can cancel every one of them.

use super::{OwnedTask, Schedule};
use crate::loom::sync::atomic::Ordering::Relaxed;
use crate::loom::sync::Mutex;

/// Every live task of one runtime, in lock-sharded slabs. A task enters at spawn and leaves
/// when it completes; `close_and_take_all` empties the set for good at shutdown, after which
/// `insert` refuses new tasks (so a spawn racing with shutdown is cancelled, not leaked).
pub(crate) struct OwnedTasks<S: 'static> {
    shards: Box<[Mutex<Shard<S>>]>,
    shard_mask: usize,
}

struct Shard<S: 'static> {
    slots: Vec<Option<OwnedTask<S>>>,
    free: Vec<usize>,
    closed: bool,
}

impl<S: Schedule> OwnedTasks<S> {
    /// `shards` is rounded up to a power of two; more shards mean less lock contention when
    /// many workers spawn and complete tasks at once.
    pub(crate) fn new(shards: usize) -> OwnedTasks<S> {
        let count = shards.max(1).next_power_of_two();
        OwnedTasks {
            shards: (0..count)
                .map(|_| {
                    Mutex::new(Shard {
                        slots: Vec::new(),
                        free: Vec::new(),
                        closed: false,
                    })
                })
                .collect(),
            shard_mask: count - 1,
        }
    }

    fn shard(&self, task: &OwnedTask<S>) -> &Mutex<Shard<S>> {
        &self.shards[task.id().as_u64() as usize & self.shard_mask]
    }

    /// Adds a task, or gives it back if the set is closed.
    pub(crate) fn insert(&self, task: OwnedTask<S>) -> Result<(), OwnedTask<S>> {
        let mut shard = self.shard(&task).lock().unwrap();
        if shard.closed {
            return Err(task);
        }
        let slot = match shard.free.pop() {
            Some(slot) => slot,
            None => {
                shard.slots.push(None);
                shard.slots.len() - 1
            }
        };
        task.raw.header().owned_slot.store(slot, Relaxed);
        shard.slots[slot] = Some(task);
        Ok(())
    }

    /// Removes a task (it completed) and returns the set's reference to it; `None` if shutdown
    /// already took it.
    pub(crate) fn remove(&self, task: &OwnedTask<S>) -> Option<OwnedTask<S>> {
        let mut guard = self.shard(task).lock().unwrap();
        let shard = &mut *guard;
        let slot = task.raw.header().owned_slot.load(Relaxed);
        let entry = shard.slots.get_mut(slot)?;
        if entry.as_ref().is_some_and(|owned| owned.raw == task.raw) {
            shard.free.push(slot);
            entry.take()
        } else {
            None
        }
    }

    /// Closes the set and returns every task still in it.
    pub(crate) fn close_and_take_all(&self) -> Vec<OwnedTask<S>> {
        let mut all = Vec::new();
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap();
            shard.closed = true;
            shard.free.clear();
            all.extend(shard.slots.drain(..).flatten());
        }
        all
    }

    /// Whether no task is left (after shutdown, or before any spawn).
    pub(crate) fn is_empty(&self) -> bool {
        self.shards
            .iter()
            .all(|shard| shard.lock().unwrap().slots.iter().all(Option::is_none))
    }
}
