//! A worker thread's loop, and the thread-local state that lets wakes on a worker reach its
//! queues without locks.

use std::cell::RefCell;
use std::io;

use super::queue::{Local, CAPACITY};
use super::{Shared, Task, MAX_LIFO_POLLS_PER_TICK};
use crate::executor::{context, Handle};
use crate::loom::sync::Arc;
use crate::loom::thread::{self, JoinHandle};

/// What only the worker's own thread touches.
pub(super) struct Core {
    pub(super) index: usize,
    local: Local<Arc<Shared>>,
    /// Counted in `Idle`'s searching workers.
    is_searching: bool,
    /// For picking the first victim to steal from.
    rng: u32,
    /// Set while this worker dispatches the driver's I/O and timer events, which come in
    /// batches: the wakes delivered to its own queues meanwhile wake no peer one by one; the
    /// worker decides once, when the turn ends (`end_driver_turn`).
    in_driver_turn: bool,
    /// The tasks queued on this worker during the current driver turn.
    queued_in_turn: usize,
}

struct WorkerContext {
    shared: Arc<Shared>,
    core: Box<Core>,
}

crate::loom::thread_local! {
    static CURRENT: RefCell<Option<WorkerContext>> = const { RefCell::new(None) };
}

pub(super) fn spawn(
    shared: Arc<Shared>,
    index: usize,
    local: Local<Arc<Shared>>,
) -> io::Result<JoinHandle<()>> {
    let mut builder = thread::Builder::new().name(format!("{}-{index}", shared.config.thread_name));
    if let Some(size) = shared.config.thread_stack_size {
        builder = builder.stack_size(size);
    }
    builder.spawn(move || run(shared, index, local))
}

/// Runs `f` on this thread's core if this thread is one of `shared`'s workers; otherwise
/// hands `value` back. Never panics: in a thread-local destructor (`CURRENT` may be gone)
/// or inside a borrow of `CURRENT`, the value comes back and goes to the injection queue.
pub(super) fn with_current<T>(
    shared: &Arc<Shared>,
    value: T,
    f: impl FnOnce(&mut Core, T),
) -> Result<(), T> {
    let mut value = Some(value);
    let _ = CURRENT.try_with(|current| {
        let Ok(mut current) = current.try_borrow_mut() else {
            return;
        };
        if let Some(worker) = current.as_mut() {
            if Arc::ptr_eq(&worker.shared, shared) {
                if let Some(value) = value.take() {
                    f(&mut worker.core, value);
                }
            }
        }
    });
    match value {
        None => Ok(()),
        Some(value) => Err(value),
    }
}

/// This thread's worker index, if it is one of `shared`'s workers (`None` also from a
/// thread-local destructor).
pub(super) fn current_index(shared: &Arc<Shared>) -> Option<usize> {
    CURRENT
        .try_with(|current| {
            let current = current.try_borrow().ok()?;
            let worker = current.as_ref()?;
            Arc::ptr_eq(&worker.shared, shared).then_some(worker.core.index)
        })
        .ok()
        .flatten()
}

/// Runs `f` on this worker's core. Only called from the worker loop.
fn with_core<R>(f: impl FnOnce(&mut Core) -> R) -> R {
    CURRENT.with(|current| {
        let mut current = current.borrow_mut();
        f(&mut current.as_mut().expect("on a worker thread").core)
    })
}

impl Core {
    /// Queues at the back of this worker's queue and wakes a peer if one should help.
    pub(super) fn push_local(&mut self, shared: &Shared, task: Task) {
        self.local.push_back(task, &shared.lifecycle.inject);
        if self.in_driver_turn {
            self.queued_in_turn += 1;
        } else {
            shared.notify_parked();
        }
    }

    /// Puts a just-woken task in the LIFO slot (the displaced one goes to the back of the
    /// queue). A peer is woken as for any push: the slot is stealable, so if this worker is
    /// stuck in a long poll, the task runs elsewhere. In a driver turn the worker is not in a
    /// poll, and `end_driver_turn` decides instead.
    pub(super) fn push_lifo(&mut self, shared: &Shared, task: Task) {
        if let Some(displaced) = shared.remotes[self.index].lifo.replace(task) {
            self.local.push_back(displaced, &shared.lifecycle.inject);
        }
        if self.in_driver_turn {
            self.queued_in_turn += 1;
        } else {
            shared.notify_parked();
        }
    }
}

/// Marks the start of a driver turn on this worker (see `Core::in_driver_turn`).
fn start_driver_turn() {
    with_core(|core| {
        core.in_driver_turn = true;
        core.queued_in_turn = 0;
    });
}

/// A driver turn is over: the tasks it woke on this worker are in its LIFO slot and queue.
/// One of them this worker runs next itself; a peer is woken (once, not once per event) only
/// if there is more than that one and nobody is searching already. Waking a peer for a single
/// I/O wake cost two futex calls (its wake and its sleep again) for a task it rarely got
/// to first; tokio's policy is the same. A turn that queued nothing looks at no queue (the
/// work queued before it was notified for when it was pushed).
fn end_driver_turn(shared: &Shared, index: usize) {
    let more_than_one = with_core(|core| {
        core.in_driver_turn = false;
        if core.queued_in_turn == 0 || core.is_searching {
            return false;
        }
        let in_lifo = usize::from(!shared.remotes[index].lifo.is_empty());
        in_lifo + core.local.len() > 1
    });
    if more_than_one {
        shared.notify_parked();
    }
}

fn run(shared: Arc<Shared>, index: usize, local: Local<Arc<Shared>>) {
    let _driving = context::start_driving();
    let _entered = context::enter(Handle::multi_thread(shared.clone()));
    let core = Box::new(Core {
        index,
        local,
        is_searching: false,
        rng: (index as u32).wrapping_mul(0x9E37_79B9) | 1,
        in_driver_turn: false,
        queued_in_turn: 0,
    });
    CURRENT.with(|current| {
        *current.borrow_mut() = Some(WorkerContext {
            shared: shared.clone(),
            core,
        })
    });
    // Whatever happens, the core (and the entries in its queue) is dropped on the way out.
    struct ClearOnExit;
    impl Drop for ClearOnExit {
        fn drop(&mut self) {
            let worker = CURRENT.with(|current| current.borrow_mut().take());
            if let Some(worker) = worker {
                drop(worker.shared.remotes[worker.core.index].lifo.take());
            }
        }
    }
    let _clear = ClearOnExit;

    let mut driver_turns = DriverTurns::new(
        shared.config.event_interval,
        shared.lifecycle.resources().driver.as_ref(),
    );
    // Counts loop turns, for the fairness intervals. A local, not a `Core` field: each look at
    // the core goes through the thread-local, and the loop keeps those to one per task run.
    let mut tick: u32 = 0;
    while !shared.lifecycle.is_shutdown() {
        tick = tick.wrapping_add(1);
        if driver_turns.due(tick) && driver_turns.turn_now(tick) {
            start_driver_turn();
            match &shared.trace {
                None => {
                    shared.lifecycle.driver.poll_events();
                }
                Some(trace) => trace.reactor_turn(index, || shared.lifecycle.driver.poll_events()),
            }
            end_driver_turn(&shared, index);
        }
        match next_task(&shared, index, tick).or_else(|| steal_work(&shared, index)) {
            Some(found) => run_task(&shared, index, found),
            None => {
                park(&shared, index);
                // Whoever slept in the driver dispatched its events on the way out, and a
                // worker that slept elsewhere left the driver to the one in it: a turn right
                // away would find nothing new (it cost one `epoll_wait` per wake-up).
                driver_turns.restart(tick);
            }
        }
    }
}

/// How often a busy worker looks at the clock to see whether a timer is due, when its polls
/// are long: a tenth of a timer-wheel tick, so timers are not late by much more than the
/// tick itself. With short polls, `event_interval` polls come first.
#[cfg(not(loom))]
const TIMER_CHECK_PERIOD: std::time::Duration = std::time::Duration::from_micros(100);

/// When a busy worker turns the driver (without blocking, to dispatch I/O and timers):
/// every `event_interval` polls (61, as tokio), and sooner when a timer is due. Four tasks
/// polling for 50 µs each otherwise kept timers waiting 3 ms for a turn.
///
/// Only a due timer brings a turn forward. Turning every 100 µs whatever was due (the
/// earlier rule) made a worker serving many short I/O polls find new I/O at every turn, so
/// it never ran dry and never slept: with wrk on the same two CPUs both workers stayed
/// runnable, the kernel time-sliced them against wrk in 4 ms ticks, and hyper's p99 at 64
/// connections was 4.6 ms against tokio's 1.5 ms (`perf sched latency`: 2.6 ms average wait
/// for a CPU, against 0.5 ms with turns every 61 polls; README, hyper).
///
/// Checks come about every `TIMER_CHECK_PERIOD`, at a poll count estimated from how fast
/// the last polls ran, so the loop reads no clock per poll. Under loom, whose models must
/// not depend on the clock, every check turns the driver: the fixed count of polls.
struct DriverTurns {
    /// The most polls between two turns (`Builder::event_interval`).
    event_interval: u32,
    /// The tick of the next check.
    next_check: u32,
    /// The tick of the last turn.
    last_turn: u32,
    /// Polls between the last two checks.
    check_gap: u32,
    /// The reactor, for its next timer (`None`: built without one).
    #[cfg(not(loom))]
    reactor: Option<crate::reactor::Handle>,
    /// When and at which tick the last check ran.
    #[cfg(not(loom))]
    last_check: (std::time::Instant, u32),
}

impl DriverTurns {
    fn new(
        event_interval: u32,
        #[cfg_attr(loom, allow(unused_variables))] reactor: Option<&crate::reactor::Handle>,
    ) -> DriverTurns {
        DriverTurns {
            event_interval,
            next_check: event_interval,
            last_turn: 0,
            check_gap: event_interval,
            #[cfg(not(loom))]
            reactor: reactor.cloned(),
            #[cfg(not(loom))]
            last_check: (std::time::Instant::now(), 0),
        }
    }

    /// Whether a check is due at `tick` (one compare: this runs once per poll).
    fn due(&self, tick: u32) -> bool {
        // Wrapping: `tick` counts on past `u32::MAX`.
        tick.wrapping_sub(self.next_check) as i32 >= 0
    }

    /// The check: whether to turn the driver now (`event_interval` polls since the last
    /// turn, or a timer due). Schedules the next check either way.
    fn turn_now(&mut self, tick: u32) -> bool {
        #[cfg(loom)]
        let (turn, polls_to_check) = (true, self.event_interval);
        #[cfg(not(loom))]
        let (turn, polls_to_check) = {
            let since_turn = tick.wrapping_sub(self.last_turn);
            let now = std::time::Instant::now();
            let (last, last_tick) = std::mem::replace(&mut self.last_check, (now, tick));
            let timer_due = (self.reactor.as_ref())
                .and_then(|reactor| reactor.next_timer_hint())
                .is_some_and(|timer| timer <= now);
            let polls_since = u128::from(tick.wrapping_sub(last_tick).max(1));
            let nanos_per_poll =
                (now.saturating_duration_since(last).as_nanos() / polls_since).max(1);
            let polls_per_period = TIMER_CHECK_PERIOD.as_nanos() / nanos_per_poll;
            let turn = timer_due || since_turn >= self.event_interval;
            let left = if turn {
                self.event_interval
            } else {
                self.event_interval - since_turn
            };
            // At most twice the last gap: a rate measured over a few quick polls (the first
            // ones after a sleep) must not put the next check 60 slow polls away.
            let most = u128::from(left.min(self.check_gap.saturating_mul(2)));
            (turn, polls_per_period.clamp(1, most) as u32)
        };
        self.check_gap = polls_to_check;
        if turn {
            self.last_turn = tick;
        }
        self.next_check = tick.wrapping_add(polls_to_check);
        turn
    }

    /// The worker just slept (its park turned the driver): count the next turn from here,
    /// and check for a due timer after the first poll (under loom every check is a turn, so
    /// the next comes `event_interval` polls on). No clock is read here: the first check
    /// measures its rate from the check before the sleep, which makes it look slow, and the
    /// doubling rule keeps the gap after it at two polls.
    fn restart(&mut self, tick: u32) {
        let first_check = if cfg!(loom) { self.event_interval } else { 1 };
        self.last_turn = tick;
        self.next_check = tick.wrapping_add(first_check);
        self.check_gap = first_check;
    }
}

/// A task to run, and whether this worker was searching when it found it (it has stopped
/// now: `run_task` settles the count).
struct Found {
    task: Task,
    was_searching: bool,
}

/// The next entry from this worker's own sources, injection queue included.
fn next_task(shared: &Shared, index: usize, tick: u32) -> Option<Found> {
    // One look at the core for the whole choice: this runs once per task run.
    with_core(|core| {
        let task = shared.remotes[index].lifo.take().or_else(|| {
            if tick % shared.config.global_queue_interval == 0 {
                // A batch, not one entry: with a local queue that never empties (tasks that
                // keep yielding), one entry per interval would drain a burst of remote spawns
                // at a crawl.
                if let Some(task) = take_from_inject(shared, core) {
                    return Some(task);
                }
            }
            core.local.pop().or_else(|| take_from_inject(shared, core))
        })?;
        Some(Found {
            task,
            was_searching: std::mem::take(&mut core.is_searching),
        })
    })
}

/// Moves a fair share of the injection queue into the local queue and returns one entry.
fn take_from_inject(shared: &Shared, core: &mut Core) -> Option<Task> {
    let queued = shared.lifecycle.inject.len();
    if queued == 0 {
        // The usual answer for a worker out of work: one load, not four (the room check
        // and the batch's own emptiness check are two more queue words; each atomic access
        // is also a scheduling point for loom).
        return None;
    }
    let share = queued / shared.remotes.len() + 1;
    // Never more than the local queue can take without overflowing back into `inject`
    // (whose lock `pop_batch` holds).
    let max = share.min(core.local.room() as usize).min(CAPACITY / 2);
    let mut first = None;
    shared.lifecycle.inject.pop_batch(max, |task| match first {
        None => first = Some(task),
        Some(_) => core.local.push_back(task, &shared.lifecycle.inject),
    });
    first
}

/// Looks for work on other workers, as a searching worker.
fn steal_work(shared: &Shared, index: usize) -> Option<Found> {
    let task = steal(shared, index)?;
    Some(Found {
        task,
        was_searching: with_core(|core| std::mem::take(&mut core.is_searching)),
    })
}

/// `steal_work`'s search: every peer's queue and LIFO slot from a random start, then the
/// injection queue (nothing if this worker was refused a search).
fn steal(shared: &Shared, index: usize) -> Option<Task> {
    let (may_search, start) = with_core(|core| {
        if !core.is_searching {
            core.is_searching = shared.idle.try_start_searching();
        }
        // xorshift: a cheap, well-spread starting victim.
        core.rng ^= core.rng << 13;
        core.rng ^= core.rng >> 17;
        core.rng ^= core.rng << 5;
        (core.is_searching, core.rng as usize)
    });
    if !may_search {
        return None;
    }
    let workers = shared.remotes.len();
    for offset in 0..workers {
        let victim = (start + offset) % workers;
        if victim == index {
            continue;
        }
        let remote = &shared.remotes[victim];
        if let Some((task, count)) = with_core(|core| remote.steal.steal_into(&mut core.local)) {
            shared.counters[index].record_steals(u64::from(count));
            if let Some(trace) = &shared.trace {
                trace.steal(index, victim, count);
            }
            return Some(task);
        }
        if let Some(task) = remote.lifo.take() {
            shared.counters[index].record_steals(1);
            if let Some(trace) = &shared.trace {
                trace.steal(index, victim, 1);
            }
            return Some(task);
        }
    }
    shared.lifecycle.inject.pop()
}

fn run_task(shared: &Shared, index: usize, found: Found) {
    let Found {
        task,
        was_searching,
    } = found;
    if was_searching && shared.idle.stop_searching() {
        // We found work; there may be more, and nobody is looking for it now.
        shared.notify_parked();
    }
    let counters = &shared.counters[index];
    let run = |task: Task| match &shared.trace {
        None => task.run(counters),
        Some(trace) => trace.run(index, task, counters),
    };
    run(task);
    // Run what that task woke, while it is hot in cache, but not forever.
    let lifo = &shared.remotes[index].lifo;
    for _ in 0..MAX_LIFO_POLLS_PER_TICK {
        match lifo.take() {
            Some(task) => run(task),
            None => return,
        }
    }
    if let Some(task) = lifo.take() {
        with_core(|core| core.local.push_back(task, &shared.lifecycle.inject));
    }
}

fn park(shared: &Shared, index: usize) {
    let was_searching = with_core(|core| std::mem::take(&mut core.is_searching));
    let was_last_searcher = shared.idle.park(index, was_searching);
    // The last searcher re-checks because work may have arrived while it searched, and its
    // notifier relied on it. A worker that was refused a search re-checks too: it never
    // looked at its peers' queues, and a peer may have queued work on itself just before this
    // worker counted as asleep, seen it awake and notified nobody. If that peer is stuck in a
    // long poll, the work would wait for it (loom
    // `loom_local_spawn_racing_with_the_peer_parking_is_seen`).
    if (was_last_searcher || !was_searching) && shared.has_work_anywhere(index) {
        // Pass the work on (this may wake this very worker, whose park then returns at once).
        shared.notify_parked();
    }
    shared.counters[index].record_park();
    if !shared.lifecycle.is_shutdown() {
        let parker = &shared.remotes[index].parker;
        let driver = &shared.lifecycle.driver;
        // Parking in the driver dispatches its events on the way out.
        start_driver_turn();
        match &shared.trace {
            None => {
                parker.park(driver);
            }
            Some(trace) => trace.park(index, || parker.park(driver)),
        }
    }
    let notified = shared.idle.unpark(index);
    with_core(|core| core.is_searching = notified);
    // After `unpark`: this worker counts as awake again, so a notify now wakes a peer, not
    // (through the sleepers list) this worker itself.
    end_driver_turn(shared, index);
}
