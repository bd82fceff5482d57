//! The waiters of one readiness direction of one source.
//!
//! Two kinds of waiter wait on a direction, as in tokio:
//! - **Readiness futures** (`readable()`, `writable()`, `recv_from`, `accept`, `send_to`,
//!   `connect`, [`AsyncFd::readable`](crate::io::AsyncFd::readable), every `async_io`): each
//!   future owns an entry in a [`WaiterList`], named by a [`WaiterKey`]. Any number of tasks
//!   can wait at once (several `recv_from` tasks on one `Arc<UdpSocket>`, several acceptors on
//!   one `Arc<TcpListener>`), and each is woken when readiness arrives.
//! - **The poll API** (`AsyncRead::poll_read`, `AsyncWrite::poll_write`, `poll_accept`,
//!   `AsyncFd::poll_read_ready`): a `poll_*` call has no future to own an entry, so the
//!   direction keeps one extra slot, [`DirectionWaiters::polled`], holding the waker of the
//!   most recent `poll_*` call (tokio's rule: only that waker is woken).
//!
//! # The list
//! A slab of slots with a free list threaded through the vacant ones; each slot has a
//! **generation**, bumped whenever its entry leaves (woken or removed). A key is
//! `(index, generation)`, so a key whose entry has gone resolves to nothing, and a stale key
//! never touches the slot's next owner (test `stale_key_does_not_remove_the_new_owner`).
//! Insertion, update and removal are O(1) and allocation-free once the slab has grown to the
//! largest number of simultaneous waiters; waking takes every entry, O(entries). The slab
//! never shrinks: it costs 24 bytes per slot at the peak number of simultaneous waiters,
//! freed with the source.
//!
//! # Invariants (all under the source's waiter mutex)
//! 1. **Every waiter is woken.** An event for the direction takes every waker in the list and
//!    the polled slot (loom model `loom_two_waiters_one_event_a_cancel_racing_the_wake`; its
//!    negative control runs the same model on the single slot, which loses the first waiter).
//! 2. **No stored waker outlives its future.** An entry leaves the list when it is woken, or
//!    when its future is dropped (`Drop for ReadinessWaiter`, the loom model above, test
//!    `cancelled_waiter_releases_its_waker` and the differential test in
//!    `tests/differential/io.rs`).
//! 3. **No waker is dropped under the lock.** Every operation that takes a waker out hands it
//!    back to the caller, who drops (or wakes) it once the lock is released: a waker's drop
//!    may free a task, its runtime and its driver, whose shutdown takes this same lock. The
//!    loom model's wakers take the lock in their `Drop` to check it.

use std::task::Waker;

/// Names a readiness future's entry in a [`WaiterList`]: index and generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WaiterKey {
    index: u32,
    generation: u32,
}

/// End of the free list.
const NONE: u32 = u32::MAX;

#[derive(Debug)]
struct Slot {
    generation: u32,
    /// `Some` while an entry waits here.
    waker: Option<Waker>,
    /// While vacant: the next vacant slot.
    next_free: u32,
}

/// The readiness futures waiting on one direction. See the module doc.
#[derive(Debug)]
pub(crate) struct WaiterList {
    slots: Vec<Slot>,
    free_head: u32,
    /// Entries waiting (slots whose `waker` is `Some`).
    waiting: usize,
}

impl Default for WaiterList {
    fn default() -> Self {
        WaiterList::new()
    }
}

impl WaiterList {
    pub(crate) const fn new() -> WaiterList {
        WaiterList {
            slots: Vec::new(),
            free_head: NONE,
            waiting: 0,
        }
    }

    /// Number of waiting entries.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.waiting
    }

    fn live_slot(&mut self, key: WaiterKey) -> Option<&mut Slot> {
        let slot = self.slots.get_mut(key.index as usize)?;
        (slot.generation == key.generation && slot.waker.is_some()).then_some(slot)
    }

    /// Stores `waker` for the future whose entry `key` names, adding an entry if it has none
    /// (or its entry has gone: it was woken). Returns the waker this replaced, to be dropped
    /// once the lock is released.
    #[must_use = "drop the replaced waker after releasing the lock"]
    pub(crate) fn register(&mut self, key: &mut Option<WaiterKey>, waker: &Waker) -> Option<Waker> {
        if let Some(slot) = key.and_then(|key| self.live_slot(key)) {
            return crate::task::register_waker(&mut slot.waker, waker);
        }
        let index = match self.free_head {
            NONE => {
                let index = u32::try_from(self.slots.len())
                    .ok()
                    .filter(|&index| index != NONE)
                    .expect("fewer than 2^32 - 1 tasks wait on one socket");
                self.slots.push(Slot {
                    generation: 0,
                    waker: None,
                    next_free: NONE,
                });
                index
            }
            index => {
                self.free_head = self.slots[index as usize].next_free;
                index
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.waker = Some(waker.clone());
        self.waiting += 1;
        *key = Some(WaiterKey {
            index,
            generation: slot.generation,
        });
        None
    }

    /// Vacates slot `index` (which holds a waker) and returns its waker.
    fn vacate(&mut self, index: u32) -> Waker {
        let slot = &mut self.slots[index as usize];
        let waker = slot.waker.take().expect("only a waiting slot is vacated");
        slot.generation = slot.generation.wrapping_add(1);
        slot.next_free = self.free_head;
        self.free_head = index;
        self.waiting -= 1;
        waker
    }

    /// Removes the entry `key` names, if it is still there (a future that stops waiting).
    /// Returns its waker, to be dropped once the lock is released.
    #[must_use = "drop the removed waker after releasing the lock"]
    pub(crate) fn remove(&mut self, key: WaiterKey) -> Option<Waker> {
        self.live_slot(key)?;
        Some(self.vacate(key.index))
    }

    /// Takes every entry's waker into `wakers` (woken by the caller once its locks are
    /// released). Every key handed out so far goes stale.
    pub(crate) fn take_all(&mut self, wakers: &mut Vec<Waker>) {
        let mut index = 0;
        while self.waiting > 0 {
            if self.slots[index].waker.is_some() {
                wakers.push(self.vacate(index as u32));
            }
            index += 1;
        }
    }
}

/// Everything waiting on one direction of a source.
#[derive(Debug, Default)]
pub(crate) struct DirectionWaiters {
    /// The waker of the most recent `poll_*` call (see the module doc).
    pub(crate) polled: Option<Waker>,
    /// The readiness futures.
    pub(crate) list: WaiterList,
}

impl DirectionWaiters {
    /// Takes every waker, the polled slot's and the list's, into `wakers`.
    pub(crate) fn take_all(&mut self, wakers: &mut Vec<Waker>) {
        wakers.extend(self.polled.take());
        self.list.take_all(wakers);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::task::Wake;

    struct Named(#[allow(dead_code)] u32);
    impl Wake for Named {
        fn wake(self: Arc<Self>) {}
    }

    fn waker(name: u32) -> (Waker, Arc<Named>) {
        let named = Arc::new(Named(name));
        (Waker::from(named.clone()), named)
    }

    #[test]
    fn every_entry_is_taken_and_keys_go_stale() {
        let mut list = WaiterList::new();
        let (a, _) = waker(1);
        let (b, _) = waker(2);
        let (mut key_a, mut key_b) = (None, None);
        assert!(list.register(&mut key_a, &a).is_none());
        assert!(list.register(&mut key_b, &b).is_none());
        assert_eq!(list.len(), 2);
        let mut wakers = Vec::new();
        list.take_all(&mut wakers);
        assert_eq!(wakers.len(), 2);
        assert!(wakers[0].will_wake(&a) && wakers[1].will_wake(&b));
        assert_eq!(list.len(), 0);
        assert!(
            list.remove(key_a.unwrap()).is_none(),
            "woken: the key is stale"
        );
    }

    #[test]
    fn re_registering_updates_in_place_and_returns_the_old_waker() {
        let mut list = WaiterList::new();
        let (a, _) = waker(1);
        let (b, _) = waker(2);
        let mut key = None;
        assert!(list.register(&mut key, &a).is_none());
        let first = key;
        assert!(list.register(&mut key, &a).is_none(), "same waker: kept");
        let replaced = list
            .register(&mut key, &b)
            .expect("a different waker replaces");
        assert!(replaced.will_wake(&a));
        assert_eq!((key, list.len()), (first, 1), "still one entry, same key");
    }

    #[test]
    fn stale_key_does_not_remove_the_new_owner() {
        let mut list = WaiterList::new();
        let (a, _) = waker(1);
        let (b, _) = waker(2);
        let mut old = None;
        assert!(list.register(&mut old, &a).is_none());
        assert!(list.remove(old.unwrap()).is_some());
        let mut new = None;
        assert!(list.register(&mut new, &b).is_none());
        assert_ne!(old, new, "the reused slot has a new generation");
        assert!(list.remove(old.unwrap()).is_none());
        assert_eq!(list.len(), 1);
        let mut stale = old;
        // A future whose entry was woken registers afresh, not in the new owner's slot.
        assert!(list.register(&mut stale, &a).is_none());
        assert_eq!(list.len(), 2);
        assert!(list.remove(new.unwrap()).unwrap().will_wake(&b));
    }

    #[test]
    fn cancelled_waiter_releases_its_waker() {
        let mut list = WaiterList::new();
        let (a, named) = waker(1);
        let mut key = None;
        assert!(list.register(&mut key, &a).is_none());
        drop(a);
        assert_eq!(Arc::strong_count(&named), 2, "the list holds a clone");
        drop(list.remove(key.unwrap()));
        assert_eq!(
            Arc::strong_count(&named),
            1,
            "removing the entry released it"
        );
    }

    #[test]
    fn slots_are_reused() {
        let mut list = WaiterList::new();
        let (a, _) = waker(1);
        for _ in 0..3 {
            let mut keys = [None; 4];
            for key in &mut keys {
                assert!(list.register(key, &a).is_none());
            }
            let mut wakers = Vec::new();
            list.take_all(&mut wakers);
            assert_eq!(wakers.len(), 4);
        }
        assert_eq!(list.slots.len(), 4);
    }
}
