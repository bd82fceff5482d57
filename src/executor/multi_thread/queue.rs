//! A worker's run queue: a fixed ring of [`CAPACITY`] entries that its owner pushes and pops
//! without locks and that other workers steal half of; plus the LIFO slot.
//!
//! # The ring
//! Indices are `u32` counters that wrap; an entry lives at `index % CAPACITY`.
//! - `tail` is written only by the owner: entries `[real, tail)` are queued.
//! - `head` packs two indices: `real` (the next entry to pop) and `steal` (the first entry a
//!   stealer may still be copying). Normally `steal == real`. A stealer claims a batch by
//!   advancing `real` alone, copies the batch out, then sets `steal = real`. While
//!   `steal != real` no other stealer starts, and the owner never writes over `[steal, ..)`
//!   because it counts free room from `steal`, not `real`.
//!
//! Ordering: the owner writes an entry, then publishes it with a `Release` store of `tail`;
//! a stealer reads `tail` with `Acquire` before reading entries. A stealer finishes reading
//! its batch before its `AcqRel` exchange that moves `steal`; the owner reads `head` with
//! `Acquire` before reusing those slots.
//!
//! Checked by the loom models `loom_queue_push_pop_racing_two_stealers` and
//! `loom_queue_overflow_to_injector` (no entry lost, none duplicated).
//!
//! # The LIFO slot
//! The task a running task just woke goes to the slot and runs next on this worker (a
//! message and its reply stay hot in cache). Unlike tokio's, the slot can be stolen: it is an
//! `AtomicPtr` any worker may swap out, so a task parked there while its worker is stuck in a
//! long poll is picked up by an idle peer instead of waiting (tokio issue 4941).

use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ptr::{self, NonNull};

use crate::executor::inject::Inject;
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering::*};
use crate::loom::sync::Arc;
use crate::task::raw::Header;
use crate::task::Notified;

/// Entries per worker queue. A power of two; tokio uses the same size.
#[cfg(not(loom))]
pub(crate) const CAPACITY: usize = 256;
/// Tiny under loom so that overflow happens within a handful of operations.
#[cfg(loom)]
pub(crate) const CAPACITY: usize = 4;

const MASK: u32 = CAPACITY as u32 - 1;

/// The owner's handle: push and pop.
pub(crate) struct Local<S: 'static> {
    inner: Arc<Inner<S>>,
}

/// Everyone else's handle: steal.
pub(crate) struct Steal<S: 'static>(Arc<Inner<S>>);

struct Inner<S: 'static> {
    /// `steal << 32 | real`.
    head: AtomicU64,
    tail: AtomicU32,
    buffer: Box<[UnsafeCell<MaybeUninit<Notified<S>>>]>,
}

// SAFETY: the entries are `Notified`, which are `Send`; the protocol above gives each slot one
// accessor at a time.
unsafe impl<S: 'static> Send for Inner<S> {}
// SAFETY: as above.
unsafe impl<S: 'static> Sync for Inner<S> {}

fn pack(steal: u32, real: u32) -> u64 {
    (u64::from(steal) << 32) | u64::from(real)
}

fn unpack(head: u64) -> (u32, u32) {
    ((head >> 32) as u32, head as u32)
}

/// A new, empty queue: the owner's handle and the stealers' handle.
pub(crate) fn local<S: 'static>() -> (Steal<S>, Local<S>) {
    let buffer = (0..CAPACITY)
        .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
        .collect();
    let inner = Arc::new(Inner {
        head: AtomicU64::new(0),
        tail: AtomicU32::new(0),
        buffer,
    });
    (Steal(inner.clone()), Local { inner })
}

impl<S: 'static> Inner<S> {
    /// Moves an entry into slot `index`.
    ///
    /// # Safety
    /// The caller owns the slot: it is outside `[steal, tail)` and nobody else writes it.
    unsafe fn write(&self, index: u32, task: Notified<S>) {
        self.buffer[(index & MASK) as usize].with_mut(|slot| {
            // SAFETY: the caller owns the slot; writing `MaybeUninit` never drops an old value.
            unsafe { ptr::write(slot, MaybeUninit::new(task)) }
        })
    }

    /// Moves the entry out of slot `index`.
    ///
    /// # Safety
    /// The slot holds an entry and the caller claimed it (so nobody else reads it).
    unsafe fn read(&self, index: u32) -> Notified<S> {
        self.buffer[(index & MASK) as usize].with(|slot| {
            // SAFETY: the caller claimed an initialised slot; reading moves the entry out, and
            // the slot is treated as uninitialised from now on.
            unsafe { ptr::read(slot).assume_init() }
        })
    }

    fn len(&self) -> u32 {
        let (_, real) = unpack(self.head.load(Acquire));
        self.tail.load(Acquire).wrapping_sub(real)
    }
}

impl<S: 'static> Local<S> {
    /// How many entries the queue holds (stealers may be taking some of them right now).
    pub(crate) fn len(&self) -> usize {
        self.inner.len() as usize
    }

    /// Free room, counted from the entries stealers may still be copying.
    pub(crate) fn room(&self) -> u32 {
        let (steal, _) = unpack(self.inner.head.load(Acquire));
        // Only the owner writes `tail`, so a relaxed read of our own store is exact.
        CAPACITY as u32 - self.inner.tail.load(Relaxed).wrapping_sub(steal)
    }

    /// Queues `task` at the back; if the ring is full, moves half of it and `task` to
    /// `overflow` in one batch.
    pub(crate) fn push_back(&mut self, mut task: Notified<S>, overflow: &Inject<S>) {
        loop {
            let (steal, real) = unpack(self.inner.head.load(Acquire));
            let tail = self.inner.tail.load(Relaxed);
            if tail.wrapping_sub(steal) < CAPACITY as u32 {
                // SAFETY: `tail` is outside `[steal, tail)` and only the owner writes slots.
                unsafe { self.inner.write(tail, task) };
                self.inner.tail.store(tail.wrapping_add(1), Release);
                return;
            }
            if steal != real {
                // A stealer is copying entries out and will free room in a moment; do not
                // wait for it.
                overflow.push(task);
                return;
            }
            match self.push_overflow(task, real, overflow) {
                Ok(()) => return,
                Err(returned) => task = returned, // a stealer took entries: there is room now
            }
        }
    }

    /// Claims the older half of a full ring and moves it, then `task`, to `overflow`.
    fn push_overflow(
        &mut self,
        task: Notified<S>,
        head: u32,
        overflow: &Inject<S>,
    ) -> Result<(), Notified<S>> {
        let half = (CAPACITY / 2) as u32;
        let claimed = pack(head.wrapping_add(half), head.wrapping_add(half));
        if self
            .inner
            .head
            .compare_exchange(pack(head, head), claimed, AcqRel, Acquire)
            .is_err()
        {
            return Err(task);
        }
        let inner = &self.inner;
        // SAFETY: the exchange above moved both `real` and `steal` past these slots, so no
        // stealer can claim them and they hold entries pushed by us.
        let batch = (0..half).map(|i| unsafe { inner.read(head.wrapping_add(i)) });
        overflow.push_batch(batch.chain(std::iter::once(task)));
        Ok(())
    }

    /// Takes the oldest entry.
    pub(crate) fn pop(&mut self) -> Option<Notified<S>> {
        let mut head = self.inner.head.load(Acquire);
        let index = loop {
            let (steal, real) = unpack(head);
            if real == self.inner.tail.load(Relaxed) {
                return None;
            }
            let next_real = real.wrapping_add(1);
            // With no steal in progress, both indices move together.
            let next_steal = if steal == real { next_real } else { steal };
            match self.inner.head.compare_exchange_weak(
                head,
                pack(next_steal, next_real),
                AcqRel,
                Acquire,
            ) {
                Ok(_) => break real,
                Err(actual) => head = actual,
            }
        };
        // SAFETY: the exchange claimed `index` for us; stealers only claim from `real` on.
        Some(unsafe { self.inner.read(index) })
    }
}

impl<S: 'static> Drop for Local<S> {
    /// Entries still queued when the worker exits are dropped (their tasks are cancelled by
    /// the runtime's shutdown, which owns them through the owned-tasks list).
    fn drop(&mut self) {
        while let Some(task) = self.pop() {
            drop(task);
        }
    }
}

impl<S: 'static> Steal<S> {
    /// Whether the queue looked empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.len() == 0
    }

    /// Steals half of this queue into `dst` (the stealing worker's own queue) and returns one
    /// of the stolen entries to run at once, with how many were taken.
    pub(crate) fn steal_into(&self, dst: &mut Local<S>) -> Option<(Notified<S>, u32)> {
        // Only steal into a queue with room for half of a full one.
        if dst.room() < (CAPACITY / 2) as u32 {
            return None;
        }
        let src = &self.0;
        let dst_tail = dst.inner.tail.load(Relaxed);

        // Claim a batch: advance `real`, leaving `steal` to fence off the slots we copy.
        let mut head = src.head.load(Acquire);
        let (first, count) = loop {
            let (steal, real) = unpack(head);
            if steal != real {
                return None; // another worker is stealing from this queue
            }
            let available = src.tail.load(Acquire).wrapping_sub(real);
            let count = available - available / 2;
            if count == 0 {
                return None;
            }
            let claimed = pack(steal, real.wrapping_add(count));
            match src
                .head
                .compare_exchange_weak(head, claimed, AcqRel, Acquire)
            {
                Ok(_) => break (real, count),
                Err(actual) => head = actual,
            }
        };

        for i in 0..count {
            // SAFETY: `[first, first + count)` was claimed above and holds published entries;
            // the destination slots are free (`room` >= CAPACITY / 2 >= count) and ours.
            unsafe {
                let task = src.read(first.wrapping_add(i));
                dst.inner.write(dst_tail.wrapping_add(i), task);
            }
        }

        // Done copying: let the owner reuse the slots and other stealers in.
        let mut head = src.head.load(Acquire);
        loop {
            let (steal, real) = unpack(head);
            debug_assert_eq!(steal, first);
            match src
                .head
                .compare_exchange_weak(head, pack(real, real), AcqRel, Acquire)
            {
                Ok(_) => break,
                Err(actual) => head = actual,
            }
        }

        // Keep the last one to run now; publish the rest in our queue.
        let keep = count - 1;
        // SAFETY: written just above and not yet published, so still only ours.
        let task = unsafe { dst.inner.read(dst_tail.wrapping_add(keep)) };
        if keep > 0 {
            dst.inner.tail.store(dst_tail.wrapping_add(keep), Release);
        }
        Some((task, count))
    }
}

/// The LIFO slot: at most one entry, which the owner and thieves can take.
pub(crate) struct LifoSlot<S: 'static> {
    entry: AtomicPtr<Header>,
    _tasks: PhantomData<Notified<S>>,
}

// SAFETY: the slot holds a `Notified`, which is `Send`; every access is an atomic swap.
unsafe impl<S: 'static> Send for LifoSlot<S> {}
// SAFETY: as above.
unsafe impl<S: 'static> Sync for LifoSlot<S> {}

impl<S: 'static> LifoSlot<S> {
    pub(crate) fn new() -> LifoSlot<S> {
        LifoSlot {
            entry: AtomicPtr::new(ptr::null_mut()),
            _tasks: PhantomData,
        }
    }

    /// Puts `task` in the slot and returns the entry it displaced.
    pub(crate) fn replace(&self, task: Notified<S>) -> Option<Notified<S>> {
        let new = task.into_raw().as_ptr();
        self.decode(self.entry.swap(new, AcqRel))
    }

    /// Takes the entry, if any.
    pub(crate) fn take(&self) -> Option<Notified<S>> {
        if self.entry.load(Relaxed).is_null() {
            return None;
        }
        self.decode(self.entry.swap(ptr::null_mut(), AcqRel))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entry.load(Relaxed).is_null()
    }

    fn decode(&self, raw: *mut Header) -> Option<Notified<S>> {
        // SAFETY: every non-null pointer in the slot came from `Notified::<S>::into_raw` in
        // `replace`, and the swap that returned it removed it, so it is used once.
        NonNull::new(raw).map(|ptr| unsafe { Notified::from_raw_ptr(ptr) })
    }
}

impl<S: 'static> Drop for LifoSlot<S> {
    fn drop(&mut self) {
        drop(self.take());
    }
}
