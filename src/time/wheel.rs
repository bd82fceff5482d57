//! The hierarchical timer wheel.
//!
//! # Shape
//! Time is counted in **ticks of 1 ms** since the driver started. The wheel has
//! [`LEVELS`] = 6 levels of [`SLOTS`] = 64 slots; a slot of level `L` spans `64^L` ticks, so
//! level 0 covers the next 64 ms at 1 ms resolution, level 1 the next ~4 s at 64 ms, ...,
//! level 5 the next 2^36 ms (~2.2 years) at ~12.4 days.
//!
//! A timer goes to the level of the highest 6-bit digit in which its deadline differs from
//! `elapsed` (the last processed tick), in the slot named by that digit. When `elapsed`
//! reaches a slot's start, the slot's timers either fire (deadline reached) or move down to a
//! finer level ("cascade"). A timer is cascaded at most once per level, and timers fire
//! strictly in deadline order, ties in insertion order (test `fires_in_deadline_order`).
//! Deadlines beyond the top level's range go to the top level and are re-filed each time
//! their slot comes round, until they are in range: years away and `Duration::MAX` cost
//! nothing special (test `far_deadlines_neither_overflow_nor_fire_early`).
//!
//! # Entries
//! Timers are nodes in a slab, linked into their slot's doubly linked list by index, so
//! insertion and cancellation are O(1) without pointers or `unsafe`. A [`TimerKey`] carries
//! the node's generation: a key whose node was freed and reused resolves to nothing.
//!
//! Each level keeps a 64-bit occupancy mask, so finding the next deadline looks at six
//! words, not 384 lists.
//!
//! The wheel is not synchronised itself: the reactor keeps it under one mutex, and firing,
//! polling and cancelling a timer all happen under that lock, so cancellation cannot race
//! with firing.

use std::task::Waker;

use crate::task::register_waker;

/// Levels of the wheel.
pub(crate) const LEVELS: usize = 6;
/// Slots per level.
pub(crate) const SLOTS: usize = 64;
const SLOT_BITS: u32 = 6;
/// Ticks covered by the whole wheel: 64^6 = 2^36 ms.
#[allow(dead_code)]
pub(crate) const WHEEL_RANGE: u64 = 1 << (SLOT_BITS as u64 * LEVELS as u64);
/// Deadlines are capped here (~146,000 years) so that no arithmetic can overflow.
pub(crate) const MAX_TICK: u64 = 1 << 62;

const NIL: u32 = u32::MAX;

/// Names a timer in the wheel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimerKey {
    index: u32,
    generation: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NodeState {
    Free,
    /// Linked into `levels[level].slots[slot]`.
    Waiting {
        level: u8,
        slot: u8,
    },
    /// Deadline reached; waits for its owner to notice.
    Fired,
}

#[derive(Debug)]
struct Node {
    generation: u32,
    deadline: u64,
    state: NodeState,
    prev: u32,
    next: u32,
    waker: Option<Waker>,
}

#[derive(Clone, Copy, Debug)]
struct List {
    head: u32,
    tail: u32,
}

const EMPTY_LIST: List = List {
    head: NIL,
    tail: NIL,
};

#[derive(Debug)]
struct Level {
    /// Bit `s` set when slot `s` holds a timer.
    occupied: u64,
    slots: [List; SLOTS],
}

/// The timer wheel: see the module documentation.
#[derive(Debug)]
pub(crate) struct TimerWheel {
    elapsed: u64,
    levels: [Level; LEVELS],
    nodes: Vec<Node>,
    free: Vec<u32>,
    waiting: usize,
}

/// What `poll` found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TimerState {
    Pending,
    Fired,
}

impl Default for TimerWheel {
    fn default() -> Self {
        TimerWheel::new()
    }
}

fn slot_range(level: usize) -> u64 {
    1 << (SLOT_BITS as u64 * level as u64)
}

fn level_range(level: usize) -> u64 {
    slot_range(level) << SLOT_BITS
}

/// The level a deadline belongs in, seen from `elapsed`.
fn level_for(elapsed: u64, deadline: u64) -> usize {
    let differing = (elapsed ^ deadline) | (SLOTS as u64 - 1);
    let highest_bit = 63 - differing.leading_zeros() as usize;
    (highest_bit / SLOT_BITS as usize).min(LEVELS - 1)
}

impl TimerWheel {
    pub(crate) fn new() -> TimerWheel {
        TimerWheel {
            elapsed: 0,
            levels: std::array::from_fn(|_| Level {
                occupied: 0,
                slots: [EMPTY_LIST; SLOTS],
            }),
            nodes: Vec::new(),
            free: Vec::new(),
            waiting: 0,
        }
    }

    /// The last tick processed.
    #[allow(dead_code)] // tests
    pub(crate) fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// Timers not yet fired.
    #[allow(dead_code)]
    pub(crate) fn waiting(&self) -> usize {
        self.waiting
    }

    /// Nodes allocated (fired-but-unobserved and waiting ones).
    #[allow(dead_code)]
    pub(crate) fn live_nodes(&self) -> usize {
        self.nodes.len() - self.free.len()
    }

    /// Adds a timer for `deadline` (capped at [`MAX_TICK`]) that wakes `waker`. A deadline
    /// already processed is fired at once: the returned key then polls as
    /// [`TimerState::Fired`].
    pub(crate) fn insert(&mut self, deadline: u64, waker: &Waker) -> TimerKey {
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                let index = u32::try_from(self.nodes.len()).expect("fewer than 2^32 timers");
                assert!(index != NIL, "fewer than 2^32 - 1 timers");
                self.nodes.push(Node {
                    generation: 0,
                    deadline: 0,
                    state: NodeState::Free,
                    prev: NIL,
                    next: NIL,
                    waker: None,
                });
                index
            }
        };
        let fired = self.schedule(index, deadline);
        debug_assert!(fired.is_none(), "a fresh node holds no waker");
        let node = &mut self.nodes[index as usize];
        if node.state != NodeState::Fired {
            node.waker = Some(waker.clone());
        }
        TimerKey {
            index,
            generation: node.generation,
        }
    }

    /// Files unlinked node `index` for `deadline`, or fires it if that tick was processed.
    /// Returns the waker of a node fired here (to be woken by the caller after the lock).
    fn schedule(&mut self, index: u32, deadline: u64) -> Option<Waker> {
        let deadline = deadline.min(MAX_TICK);
        let node = &mut self.nodes[index as usize];
        node.deadline = deadline;
        if deadline <= self.elapsed {
            node.state = NodeState::Fired;
            node.waker.take()
        } else {
            self.file(index);
            self.waiting += 1;
            None
        }
    }

    fn node(&self, key: TimerKey) -> Option<&Node> {
        let node = self.nodes.get(key.index as usize)?;
        (node.generation == key.generation && node.state != NodeState::Free).then_some(node)
    }

    /// Whether the timer fired; if not, `waker` replaces the stored one. The replaced waker
    /// is returned, to be dropped once the wheel's lock is released.
    #[must_use = "drop the replaced waker after releasing the lock"]
    pub(crate) fn poll(&mut self, key: TimerKey, waker: &Waker) -> (TimerState, Option<Waker>) {
        let Some(node) = self.node(key) else {
            return (TimerState::Fired, None); // already removed: nothing left to wait for
        };
        if node.state == NodeState::Fired {
            return (TimerState::Fired, None);
        }
        let replaced = register_waker(&mut self.nodes[key.index as usize].waker, waker);
        (TimerState::Pending, replaced)
    }

    /// Cancels the timer (if still waiting) and frees its node. O(1). Returns its waker, to
    /// be dropped once the wheel's lock is released.
    #[must_use = "drop the removed waker after releasing the lock"]
    pub(crate) fn remove(&mut self, key: TimerKey) -> Option<Waker> {
        let node = self.node(key)?;
        if let NodeState::Waiting { .. } = node.state {
            self.unlink(key.index);
            self.waiting -= 1;
        }
        let node = &mut self.nodes[key.index as usize];
        node.state = NodeState::Free;
        node.generation = node.generation.wrapping_add(1);
        self.free.push(key.index);
        node.waker.take()
    }

    /// Moves the timer to `deadline`, keeping its waker: a task waiting on it is woken at the
    /// new deadline. A timer that had fired waits again (its task, already woken, stores its
    /// waker at its next poll). Returns the waker if the new deadline was already processed
    /// (the timer fired here): the caller wakes it after releasing the lock.
    #[must_use = "wake the returned waker after releasing the lock"]
    pub(crate) fn reset(&mut self, key: TimerKey, deadline: u64) -> Option<Waker> {
        let node = self.node(key)?;
        match node.state {
            NodeState::Waiting { .. } => {
                self.unlink(key.index);
                self.waiting -= 1;
            }
            NodeState::Fired => {}
            NodeState::Free => unreachable!("`node` resolves only live nodes"),
        }
        self.schedule(key.index, deadline)
    }

    /// Links node `index` into the slot its deadline belongs in.
    fn file(&mut self, index: u32) {
        let deadline = self.nodes[index as usize].deadline;
        let level = level_for(self.elapsed, deadline);
        let slot = ((deadline >> (SLOT_BITS as usize * level)) as usize) & (SLOTS - 1);
        let list = &mut self.levels[level].slots[slot];
        let old_tail = list.tail;
        if old_tail == NIL {
            list.head = index;
        }
        list.tail = index;
        self.levels[level].occupied |= 1 << slot;
        if old_tail != NIL {
            self.nodes[old_tail as usize].next = index;
        }
        let node = &mut self.nodes[index as usize];
        node.prev = old_tail;
        node.next = NIL;
        node.state = NodeState::Waiting {
            level: level as u8,
            slot: slot as u8,
        };
    }

    /// Unlinks a waiting node from its slot's list.
    fn unlink(&mut self, index: u32) {
        let node = &self.nodes[index as usize];
        let NodeState::Waiting { level, slot } = node.state else {
            unreachable!("only waiting nodes are linked");
        };
        let (prev, next) = (node.prev, node.next);
        let (level, slot) = (level as usize, slot as usize);
        match prev {
            NIL => self.levels[level].slots[slot].head = next,
            prev => self.nodes[prev as usize].next = next,
        }
        match next {
            NIL => self.levels[level].slots[slot].tail = prev,
            next => self.nodes[next as usize].prev = prev,
        }
        if self.levels[level].slots[slot].head == NIL {
            self.levels[level].occupied &= !(1 << slot);
        }
        let node = &mut self.nodes[index as usize];
        node.prev = NIL;
        node.next = NIL;
    }

    /// The start tick of the earliest occupied slot, with its level and slot.
    fn next_slot(&self) -> Option<(u64, usize, usize)> {
        let mut best: Option<(u64, usize, usize)> = None;
        for (level, entry) in self.levels.iter().enumerate() {
            if entry.occupied == 0 {
                continue;
            }
            let slot_range = slot_range(level);
            let level_range = level_range(level);
            let now_slot = ((self.elapsed / slot_range) % SLOTS as u64) as u32;
            let level_start = self.elapsed & !(level_range - 1);
            // The first occupied slot at or after `from`, cyclically.
            let first_from = |from: u32| {
                (entry.occupied.rotate_right(from).trailing_zeros() + from) as u64 % SLOTS as u64
            };
            let mut slot = first_from(now_slot);
            let mut start = level_start + slot * slot_range;
            if start <= self.elapsed {
                // Only the top level can hold a slot that has already started: timers beyond
                // the wheel's range, filed by their digit. Slots after the current one come
                // first; the current one and those before it come round in the next rotation.
                debug_assert_eq!(level, LEVELS - 1);
                slot = first_from((now_slot + 1) % SLOTS as u32);
                start = level_start + slot * slot_range;
                if start <= self.elapsed {
                    start += level_range;
                }
            }
            if best.map_or(true, |(best_start, _, _)| start < best_start) {
                best = Some((start, level, slot as usize));
            }
        }
        best
    }

    /// Under loom: the earliest deadline of a waiting timer. A scan of every node, fine for
    /// a model's handful of timers; the model clock jumps straight to it, through all the
    /// cascades in between, in one advance.
    #[cfg(loom)]
    pub(crate) fn earliest_deadline(&self) -> Option<u64> {
        (self.nodes.iter())
            .filter(|node| matches!(node.state, NodeState::Waiting { .. }))
            .map(|node| node.deadline)
            .min()
    }

    /// The tick at which the wheel next has work (a slot to fire or cascade), if any.
    pub(crate) fn next_expiration(&self) -> Option<u64> {
        self.next_slot().map(|(start, _, _)| start)
    }

    /// Processes every slot up to `now`: fires due timers in deadline order (their wakers
    /// go to `wakers`) and cascades the rest.
    pub(crate) fn advance(&mut self, now: u64, wakers: &mut Vec<Waker>) {
        while let Some((start, level, slot)) = self.next_slot() {
            if start > now {
                break;
            }
            self.elapsed = start;
            let list = std::mem::replace(&mut self.levels[level].slots[slot], EMPTY_LIST);
            self.levels[level].occupied &= !(1 << slot);
            let mut index = list.head;
            while index != NIL {
                let next = self.nodes[index as usize].next;
                let node = &mut self.nodes[index as usize];
                node.prev = NIL;
                node.next = NIL;
                if node.deadline <= start {
                    node.state = NodeState::Fired;
                    wakers.extend(node.waker.take());
                    self.waiting -= 1;
                } else {
                    self.file(index);
                }
                index = next;
            }
        }
        self.elapsed = self.elapsed.max(now);
    }

    /// Fires every waiting timer (the driver is going away); their owners then find out.
    pub(crate) fn fire_all(&mut self, wakers: &mut Vec<Waker>) {
        for index in 0..self.nodes.len() {
            if let NodeState::Waiting { .. } = self.nodes[index].state {
                self.unlink(index as u32);
                let node = &mut self.nodes[index];
                node.state = NodeState::Fired;
                wakers.extend(node.waker.take());
                self.waiting -= 1;
            }
        }
    }
}

/// The wheel itself is sequential; what must hold across threads is that cancelling (a
/// `Sleep` dropped on one thread) and firing (the driver advancing on another), serialised by
/// the lock the driver keeps the wheel under, agree: a timer cancelled before the driver got
/// to it never fires, its waker is released at once, and the counts stay right.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
    use crate::loom::sync::{Arc, Mutex};
    use crate::loom::thread;
    use std::task::Wake;

    /// A waker that counts its wakes and tells whether it was dropped.
    #[derive(Clone)]
    struct Probe(Arc<(AtomicUsize, AtomicBool)>);

    struct ProbeWaker(Probe);

    impl Wake for ProbeWaker {
        fn wake(self: std::sync::Arc<Self>) {
            (self.0).0 .0.fetch_add(1, SeqCst);
        }
    }

    impl Drop for ProbeWaker {
        fn drop(&mut self) {
            (self.0).0 .1.store(true, SeqCst);
        }
    }

    impl Probe {
        fn new() -> Probe {
            Probe(Arc::new((AtomicUsize::new(0), AtomicBool::new(false))))
        }
        fn waker(&self) -> Waker {
            Waker::from(std::sync::Arc::new(ProbeWaker(self.clone())))
        }
        fn wakes(&self) -> usize {
            self.0 .0.load(SeqCst)
        }
        fn released(&self) -> bool {
            self.0 .1.load(SeqCst)
        }
    }

    /// The wheel and whether the driver has advanced it, under the driver's lock.
    struct Timers {
        wheel: TimerWheel,
        advanced: bool,
    }

    #[test]
    fn loom_timer_cancel_racing_fire() {
        loom::model(|| {
            let (cancelled, kept) = (Probe::new(), Probe::new());
            let mut wheel = TimerWheel::new();
            let cancel_key = wheel.insert(5, &cancelled.waker());
            wheel.insert(5, &kept.waker());
            let timers = Arc::new(Mutex::new(Timers {
                wheel,
                advanced: false,
            }));
            let driver = {
                let timers = timers.clone();
                thread::spawn(move || {
                    let mut wakers = Vec::new();
                    {
                        let mut timers = timers.lock().unwrap();
                        timers.wheel.advance(10, &mut wakers);
                        timers.advanced = true;
                    }
                    // Woken outside the lock, as the driver does.
                    wakers.into_iter().for_each(Waker::wake);
                })
            };
            let (removed, cancelled_first) = {
                let mut timers = timers.lock().unwrap();
                (timers.wheel.remove(cancel_key), !timers.advanced)
            };
            // The removed waker is dropped after the unlock, as `Sleep`'s cancel does.
            drop(removed);
            if cancelled_first {
                assert!(
                    cancelled.released(),
                    "a cancelled timer's waker is still held"
                );
            }
            driver.join().unwrap();
            if cancelled_first {
                assert_eq!(cancelled.wakes(), 0, "a cancelled timer fired");
            }
            assert!(cancelled.released());
            assert_eq!(
                kept.wakes(),
                1,
                "the other timer in the slot did not fire once"
            );
            let timers = timers.lock().unwrap();
            assert_eq!(
                timers.wheel.waiting(),
                0,
                "the wheel miscounts its waiting timers"
            );
            assert_eq!(
                timers.wheel.live_nodes(),
                1,
                "only the fired, unobserved timer is left"
            );
        });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::task::Wake;

    /// A waker that records its label when woken.
    struct Recorder {
        label: u64,
        log: Arc<Mutex<Vec<u64>>>,
    }

    impl Wake for Recorder {
        fn wake(self: Arc<Self>) {
            self.log.lock().unwrap().push(self.label);
        }
    }

    fn recorder(label: u64, log: &Arc<Mutex<Vec<u64>>>) -> Waker {
        Waker::from(Arc::new(Recorder {
            label,
            log: log.clone(),
        }))
    }

    fn run(wheel: &mut TimerWheel, now: u64) {
        let mut wakers = Vec::new();
        wheel.advance(now, &mut wakers);
        wakers.into_iter().for_each(Waker::wake);
    }

    #[test]
    fn fires_in_deadline_order_never_early() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut wheel = TimerWheel::new();
        // A spread over several levels, inserted out of order, with ties.
        let deadlines = [
            70, 100, 5, 64, 4095, 4096, 63, 1, 262_145, 100, 5000, 70, 300_000, 2,
        ];
        let keys: Vec<_> = deadlines
            .iter()
            .map(|&d| (d, wheel.insert(d, &recorder(d, &log))))
            .collect();
        // Step through time unevenly; after each step exactly the due timers have fired.
        let mut now = 0;
        for step in [1, 3, 50, 11, 1, 200, 4000, 1, 100_000, 300_000] {
            now += step;
            run(&mut wheel, now);
            let fired = log.lock().unwrap().clone();
            let mut expected: Vec<u64> = deadlines.iter().copied().filter(|&d| d <= now).collect();
            expected.sort(); // stable order of equal values is irrelevant: labels are equal
            assert_eq!(fired, expected, "at tick {now}");
        }
        for (_, key) in keys {
            assert_eq!(wheel.poll(key, &recorder(0, &log)).0, TimerState::Fired);
            drop(wheel.remove(key));
        }
        assert_eq!(wheel.live_nodes(), 0);
    }

    #[test]
    fn next_expiration_is_never_later_than_the_earliest_deadline() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut wheel = TimerWheel::new();
        wheel.insert(5000, &recorder(1, &log));
        let mut now = 0;
        // Following next_expiration like the driver does reaches the deadline exactly.
        while let Some(next) = wheel.next_expiration() {
            assert!(next <= 5000);
            now = next;
            run(&mut wheel, now);
        }
        assert_eq!(now, 5000);
        assert_eq!(*log.lock().unwrap(), vec![1]);
    }

    #[test]
    fn cancel_is_o1_and_frees_the_node() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut wheel = TimerWheel::new();
        let a = wheel.insert(10, &recorder(1, &log));
        let b = wheel.insert(10, &recorder(2, &log));
        let c = wheel.insert(10, &recorder(3, &log));
        drop(wheel.remove(b));
        assert_eq!(wheel.waiting(), 2);
        run(&mut wheel, 10);
        assert_eq!(*log.lock().unwrap(), vec![1, 3]);
        drop(wheel.remove(a));
        drop(wheel.remove(c));
        assert!(wheel.remove(c).is_none()); // a second remove with a stale key does nothing
        assert_eq!(wheel.live_nodes(), 0);
        // A reused node is not reachable through the old key.
        let d = wheel.insert(20, &recorder(4, &log));
        assert_eq!(wheel.poll(a, &recorder(0, &log)).0, TimerState::Fired);
        assert_eq!(wheel.poll(d, &recorder(4, &log)).0, TimerState::Pending);
    }

    #[test]
    fn past_deadline_fires_at_once() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut wheel = TimerWheel::new();
        run(&mut wheel, 1000);
        let key = wheel.insert(3, &recorder(1, &log));
        assert_eq!(wheel.poll(key, &recorder(1, &log)).0, TimerState::Fired);
        assert_eq!(wheel.next_expiration(), None);
    }

    #[test]
    fn far_deadlines_neither_overflow_nor_fire_early() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut wheel = TimerWheel::new();
        // Start just below a top-level boundary: the awkward case for the level choice.
        run(&mut wheel, WHEEL_RANGE - 1);
        let years = 3 * 365 * 24 * 3600 * 1000u64;
        let far = wheel.insert(wheel.elapsed() + years, &recorder(1, &log));
        let max = wheel.insert(u64::MAX, &recorder(2, &log));
        let next_range = wheel.insert(WHEEL_RANGE, &recorder(3, &log));
        let mut now = wheel.elapsed();
        // Jump from expiration to expiration, as an idle driver would.
        let mut steps = 0;
        while let Some(next) = wheel.next_expiration() {
            assert!(next > now, "the wheel must make progress");
            now = next;
            run(&mut wheel, now);
            steps += 1;
            if now >= WHEEL_RANGE - 1 + years {
                break;
            }
        }
        assert!(
            steps < 1000,
            "far timers are re-filed a bounded number of times ({steps})"
        );
        assert_eq!(
            *log.lock().unwrap(),
            vec![3, 1],
            "fired at their deadlines, max not yet"
        );
        assert_eq!(
            wheel.poll(next_range, &recorder(3, &log)).0,
            TimerState::Fired
        );
        assert_eq!(wheel.poll(far, &recorder(1, &log)).0, TimerState::Fired);
        assert_eq!(wheel.poll(max, &recorder(2, &log)).0, TimerState::Pending);
        assert!(wheel.next_expiration().is_some_and(|next| next > now));
        drop(wheel.remove(max));
        assert_eq!(wheel.next_expiration(), None);
    }

    #[test]
    fn reset_keeps_the_waker() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut wheel = TimerWheel::new();
        let key = wheel.insert(5000, &recorder(1, &log));
        assert!(wheel.reset(key, 10).is_none());
        run(&mut wheel, 10);
        assert_eq!(
            *log.lock().unwrap(),
            vec![1],
            "woken at the new, earlier deadline"
        );
        // A fired timer reset to a later deadline waits again.
        assert!(wheel.reset(key, 20).is_none());
        assert_eq!(wheel.poll(key, &recorder(2, &log)).0, TimerState::Pending);
        run(&mut wheel, 20);
        assert_eq!(*log.lock().unwrap(), vec![1, 2]);
        // Reset to a tick already processed fires at once and hands the waker back.
        assert!(wheel.reset(key, 50).is_none());
        let _ = wheel.poll(key, &recorder(3, &log));
        run(&mut wheel, 30);
        let due = wheel.reset(key, 25).expect("fired at once");
        due.wake();
        assert_eq!(*log.lock().unwrap(), vec![1, 2, 3]);
        assert_eq!(wheel.waiting(), 0);
        assert!(wheel.remove(key).is_none(), "its waker was handed out");
        assert_eq!(wheel.live_nodes(), 0);
    }
}
