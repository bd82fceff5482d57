//! The set of tasks a runtime owns, so that shutdown can cancel every one of them.

use crossbeam_utils::CachePadded;

use super::{OwnedTask, Schedule};
use crate::loom::sync::atomic::Ordering::Relaxed;
use crate::loom::sync::Mutex;

/// Every live task of one runtime, in lock-sharded slabs. A task enters at spawn and leaves
/// when it completes; `close_and_take_all` empties the set for good at shutdown, after which
/// `insert` refuses new tasks (so a spawn racing with shutdown is cancelled, not leaked).
///
/// A task's key (`Header::owned_slot`) is `slot << shard_shift | shard`. It is written at
/// insert and read at remove; the task only runs (and so only completes) after its spawn
/// queued it, which orders the write before the read.
pub(crate) struct OwnedTasks<S: 'static> {
    /// Padded, so that two workers locking neighbouring shards do not share a cache line.
    shards: Box<[CachePadded<Mutex<Shard<S>>>]>,
    shard_mask: usize,
    shard_shift: u32,
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
                    CachePadded::new(Mutex::new(Shard {
                        slots: Vec::new(),
                        free: Vec::new(),
                        closed: false,
                    }))
                })
                .collect(),
            shard_mask: count - 1,
            shard_shift: count.trailing_zeros(),
        }
    }

    /// Adds a task, or gives it back if the set is closed.
    ///
    /// The shard comes from the task id, so consecutive spawns spread over all shards. (Using
    /// the spawning worker's shard was tried: when a peer steals and completes a worker's
    /// spawns, both then contend on that one lock, and 10,000 local spawns got 35% slower.)
    pub(crate) fn insert(&self, task: OwnedTask<S>) -> Result<(), OwnedTask<S>> {
        let shard_index = task.id().as_u64() as usize & self.shard_mask;
        let mut shard = self.shards[shard_index].lock().unwrap();
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
        task.raw
            .header()
            .owned_slot
            .store(slot << self.shard_shift | shard_index, Relaxed);
        shard.slots[slot] = Some(task);
        Ok(())
    }

    /// Removes a task (it completed) and returns the set's reference to it; `None` if shutdown
    /// already took it.
    pub(crate) fn remove(&self, task: &OwnedTask<S>) -> Option<OwnedTask<S>> {
        let key = task.raw.header().owned_slot.load(Relaxed);
        if key == usize::MAX {
            return None; // never inserted (the set was closed at spawn)
        }
        let mut guard = self.shards[key & self.shard_mask].lock().unwrap();
        let shard = &mut *guard;
        let slot = key >> self.shard_shift;
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
