//! The building block of the waiting primitives ([`Semaphore`](super::Semaphore),
//! [`Notify`](super::Notify), [`Barrier`](super::Barrier), ...): a FIFO queue of waiters,
//! each in its own slot, kept under the primitive's mutex.
//!
//! - A waiter is pushed at the back and gets a [`WaiterKey`]: its slot. The primitive
//!   *unlinks* it from the queue when it is served (or the primitive closes), but the slot
//!   stays, holding the outcome, until the waiter itself reads and [`remove`](WaitQueue::remove)s
//!   it. So a served waiter always learns that it was served, and a cancelled one (its future
//!   dropped) can give back what it was given.
//! - Only the waiter owning a key frees its slot, so a key never names someone else's slot
//!   (no ABA although slots are reused).
//! - Slots are linked by index (a doubly linked list inside a `Vec`), so unlinking a
//!   cancelled waiter from the middle is O(1) and the whole structure is safe code.
//!
//! Wakers are taken out of the slots under the lock and woken (or dropped) after it is
//! released, through a [`WakeList`]: a waker's `wake` or `drop` may run arbitrary code,
//! possibly code that takes this very lock.

use std::task::Waker;

/// A waiter's slot in a [`WaitQueue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WaiterKey(usize);

#[derive(Debug)]
enum Slot<T> {
    Vacant {
        next_free: Option<usize>,
    },
    Occupied {
        value: T,
        /// In the queue (still waiting) or unlinked (served, outcome in `value`).
        linked: bool,
        prev: Option<usize>,
        next: Option<usize>,
    },
}

/// A FIFO of waiters with stable slots; see the module docs.
#[derive(Debug)]
pub(crate) struct WaitQueue<T> {
    slots: Vec<Slot<T>>,
    free: Option<usize>,
    head: Option<usize>,
    tail: Option<usize>,
    /// How many waiters are linked.
    len: usize,
}

impl<T> WaitQueue<T> {
    pub(crate) const fn new() -> WaitQueue<T> {
        WaitQueue {
            slots: Vec::new(),
            free: None,
            head: None,
            tail: None,
            len: 0,
        }
    }

    /// Whether no waiter is linked (served waiters that have not looked yet do not count).
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many waiters are linked.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Queues `value` at the back.
    pub(crate) fn push_back(&mut self, value: T) -> WaiterKey {
        let slot = Slot::Occupied {
            value,
            linked: true,
            prev: self.tail,
            next: None,
        };
        let index = match self.free {
            Some(index) => {
                let Slot::Vacant { next_free } = self.slots[index] else {
                    unreachable!("the free list holds vacant slots only")
                };
                self.free = next_free;
                self.slots[index] = slot;
                index
            }
            None => {
                self.slots.push(slot);
                self.slots.len() - 1
            }
        };
        match self.tail {
            Some(tail) => *self.next_mut(tail) = Some(index),
            None => self.head = Some(index),
        }
        self.tail = Some(index);
        self.len += 1;
        WaiterKey(index)
    }

    /// The oldest linked waiter.
    pub(crate) fn front(&self) -> Option<WaiterKey> {
        self.head.map(WaiterKey)
    }

    /// The most recent linked waiter.
    pub(crate) fn back(&self) -> Option<WaiterKey> {
        self.tail.map(WaiterKey)
    }

    /// Whether `key`'s waiter is still queued (not yet served).
    pub(crate) fn is_linked(&self, key: WaiterKey) -> bool {
        match &self.slots[key.0] {
            Slot::Occupied { linked, .. } => *linked,
            Slot::Vacant { .. } => unreachable!("a key names an occupied slot until removed"),
        }
    }

    pub(crate) fn get(&self, key: WaiterKey) -> &T {
        match &self.slots[key.0] {
            Slot::Occupied { value, .. } => value,
            Slot::Vacant { .. } => unreachable!("a key names an occupied slot until removed"),
        }
    }

    pub(crate) fn get_mut(&mut self, key: WaiterKey) -> &mut T {
        match &mut self.slots[key.0] {
            Slot::Occupied { value, .. } => value,
            Slot::Vacant { .. } => unreachable!("a key names an occupied slot until removed"),
        }
    }

    /// Takes `key`'s waiter out of the queue, keeping its slot for it to read. No-op if it is
    /// not linked.
    pub(crate) fn unlink(&mut self, key: WaiterKey) {
        let (prev, next) = match &mut self.slots[key.0] {
            Slot::Occupied {
                linked: linked @ true,
                prev,
                next,
                ..
            } => {
                *linked = false;
                (prev.take(), next.take())
            }
            Slot::Occupied { .. } => return,
            Slot::Vacant { .. } => unreachable!("a key names an occupied slot until removed"),
        };
        match prev {
            Some(prev) => *self.next_mut(prev) = next,
            None => self.head = next,
        }
        match next {
            Some(next) => *self.prev_mut(next) = prev,
            None => self.tail = prev,
        }
        self.len -= 1;
    }

    /// Unlinks the oldest waiter and returns its key and value.
    pub(crate) fn pop_front(&mut self) -> Option<(WaiterKey, &mut T)> {
        let key = self.front()?;
        self.unlink(key);
        Some((key, self.get_mut(key)))
    }

    /// Frees `key`'s slot (unlinking it first if needed) and returns its value. Only the
    /// waiter owning `key` calls this.
    pub(crate) fn remove(&mut self, key: WaiterKey) -> T {
        self.unlink(key);
        let slot = std::mem::replace(
            &mut self.slots[key.0],
            Slot::Vacant {
                next_free: self.free,
            },
        );
        self.free = Some(key.0);
        match slot {
            Slot::Occupied { value, .. } => value,
            Slot::Vacant { .. } => unreachable!("a key names an occupied slot until removed"),
        }
    }

    fn next_mut(&mut self, index: usize) -> &mut Option<usize> {
        match &mut self.slots[index] {
            Slot::Occupied { next, .. } => next,
            Slot::Vacant { .. } => unreachable!("linked slots are occupied"),
        }
    }

    fn prev_mut(&mut self, index: usize) -> &mut Option<usize> {
        match &mut self.slots[index] {
            Slot::Occupied { prev, .. } => prev,
            Slot::Vacant { .. } => unreachable!("linked slots are occupied"),
        }
    }
}

/// Wakers collected under a lock, to wake once it is released. Fixed capacity, so collecting
/// allocates nothing; a caller with more waiters to serve wakes a batch, relocks, continues.
pub(crate) struct WakeList {
    wakers: [Option<Waker>; WakeList::CAPACITY],
    len: usize,
}

impl WakeList {
    pub(crate) const CAPACITY: usize = 32;

    pub(crate) fn new() -> WakeList {
        WakeList {
            wakers: [const { None }; WakeList::CAPACITY],
            len: 0,
        }
    }

    /// Whether another waker fits.
    pub(crate) fn has_room(&self) -> bool {
        self.len < WakeList::CAPACITY
    }

    /// Adds `waker` (if any); the caller checked [`has_room`](Self::has_room).
    pub(crate) fn push(&mut self, waker: Option<Waker>) {
        if let Some(waker) = waker {
            self.wakers[self.len] = Some(waker);
            self.len += 1;
        }
    }

    /// Wakes every collected waker. Call with no lock held.
    pub(crate) fn wake_all(&mut self) {
        for waker in &mut self.wakers[..self.len] {
            if let Some(waker) = waker.take() {
                waker.wake();
            }
        }
        self.len = 0;
    }
}

impl Drop for WakeList {
    fn drop(&mut self) {
        // Whoever drops a WakeList has released the lock it filled it under.
        self.wake_all();
    }
}

impl std::fmt::Debug for WakeList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WakeList").field("len", &self.len).finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::WaitQueue;

    #[test]
    fn fifo_with_removal_from_the_middle_and_slot_reuse() {
        let mut queue = WaitQueue::new();
        let a = queue.push_back('a');
        let b = queue.push_back('b');
        let c = queue.push_back('c');
        assert_eq!(queue.remove(b), 'b');
        let d = queue.push_back('d'); // reuses b's slot, queued after c
        assert_eq!(queue.len(), 3);
        let mut order = Vec::new();
        while let Some((key, value)) = queue.pop_front() {
            order.push(*value);
            assert!(!queue.is_linked(key));
        }
        assert_eq!(order, ['a', 'c', 'd']);
        assert!(queue.is_empty());
        // Served waiters keep their slots until they remove them.
        assert_eq!(*queue.get(a), 'a');
        for key in [a, c, d] {
            queue.remove(key);
        }
        let e = queue.push_back('e');
        assert_eq!(queue.front(), Some(e));
    }
}
