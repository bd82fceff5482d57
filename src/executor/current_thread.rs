//! The current-thread scheduler: every task runs on the thread that calls `block_on`.
//!
//! # Structure
//! - [`Shared`] is what tasks and handles hold: the runtime's [`Lifecycle`] (owned tasks,
//!   injection queue for spawns and wakes from other threads, driver, blocking pool, and the
//!   shutdown that ends them, shared with the multi-thread flavour), the counters.
//! - [`Core`] is what the driving thread owns: the local run queue (a `VecDeque`, no locks).
//!   Between `block_on` calls it rests in `Shared::core`; during one, it lives in this
//!   thread's `ACTIVE_CORE`, so a wake on the driving thread pushes to the local queue
//!   without a lock, and a wake anywhere else (or from a thread-local destructor, once
//!   `ACTIVE_CORE` is gone) goes through the injection queue and unparks.
//!
//! # Several `block_on` callers
//! One thread holds the core; another thread in `block_on` polls its own future while it
//! waits, registered once (deduplicated) in `core_waiters` to be unparked when the core is
//! released: its turns do not grow the list (test
//! `core_waiters_stay_bounded_while_a_second_block_on_waits`).
//!
//! # Fairness
//! Tasks run in FIFO order, and a task that wakes itself (`yield_now`) goes to the back, so
//! an always-ready task cannot starve the others. Every [`DEFAULT_EVENT_INTERVAL`] (61) task
//! polls the scheduler polls the `block_on` future if it was woken and lets the driver check
//! for I/O without blocking; every [`DEFAULT_GLOBAL_QUEUE_INTERVAL`] (31) polls it takes from
//! the injection queue first, so remote wakes cannot starve behind a busy local queue.
//!
//! # No lost wake-up
//! The loop checks for work, then parks; wakes add work, then unpark. The parker keeps an
//! unpark that arrives before the park as a token, so the order does not matter (loom model
//! `loom_wake_racing_with_park_is_not_lost`).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use super::context;
use super::lifecycle::Lifecycle;
use super::metrics::{Metrics, RemoteCounters, WorkerCounters};
use super::park::{Park, ThreadParker, UnparkHandle};
use super::runtime::Resources;
use super::trace::Tracer;
use super::Handle;
use crate::loom::sync::atomic::{AtomicBool, Ordering::*};
use crate::loom::sync::{Arc, Mutex};
use crate::task::{coop, JoinHandle, Notified, OwnedTask, RefusedTask, Schedule};

/// Task polls between two looks at the `block_on` future and the I/O driver.
pub(crate) const DEFAULT_EVENT_INTERVAL: u32 = 61;
/// Task polls between two looks at the injection queue before the local one.
pub(crate) const DEFAULT_GLOBAL_QUEUE_INTERVAL: u32 = 31;

type Task = Notified<Arc<Shared>>;

/// The part of the runtime every task and handle points at.
pub(crate) struct Shared {
    pub(crate) lifecycle: Lifecycle<Arc<Shared>>,
    /// The core while no thread drives it.
    core: Mutex<Option<Box<Core>>>,
    /// `block_on` callers on other threads waiting for the core, each at most once.
    core_waiters: Mutex<Vec<UnparkHandle>>,
    /// Loom negative control: `take_core` skips its second look at the core.
    #[cfg(all(test, loom))]
    pub(crate) skip_second_look: std::sync::atomic::AtomicBool,
    /// Written only by the thread holding the core.
    counters: WorkerCounters,
    pub(super) remote_counters: RemoteCounters,
    event_interval: u32,
    global_queue_interval: u32,
    /// `Some` only when built with `Builder::trace(true)`.
    trace: Option<Box<Tracer>>,
}

struct Core {
    queue: VecDeque<Task>,
    tick: u32,
}

crate::loom::thread_local! {
    /// The core this thread is driving, with its runtime. At most one: `block_on` cannot nest.
    static ACTIVE_CORE: RefCell<Option<(Arc<Shared>, Box<Core>)>> = const { RefCell::new(None) };
}

/// The runtime-owned part: dropping it shuts the scheduler down.
pub(crate) struct CurrentThread {
    shared: Arc<Shared>,
}

pub(crate) struct Config {
    pub(crate) event_interval: u32,
    pub(crate) global_queue_interval: u32,
    pub(crate) trace: bool,
}

impl CurrentThread {
    /// A runtime parked on a plain `ThreadParker`, with no reactor or blocking pool (the
    /// builder's runtimes park on the reactor): for unit tests and loom models of the
    /// scheduler alone.
    #[cfg(test)]
    pub(crate) fn new(config: Config) -> CurrentThread {
        Self::with_park(config, Box::new(ThreadParker::new()), Resources::default())
    }

    /// A runtime that parks in `park` (its driver) and offers its tasks `resources`.
    pub(crate) fn with_park(
        config: Config,
        park: Box<dyn Park>,
        resources: Resources,
    ) -> CurrentThread {
        let shared = Arc::new(Shared {
            lifecycle: Lifecycle::new(1, park, resources),
            core: Mutex::new(Some(Box::new(Core {
                queue: VecDeque::with_capacity(256),
                tick: 0,
            }))),
            core_waiters: Mutex::new(Vec::new()),
            #[cfg(all(test, loom))]
            skip_second_look: std::sync::atomic::AtomicBool::new(false),
            counters: WorkerCounters::default(),
            remote_counters: RemoteCounters::default(),
            event_interval: config.event_interval.max(1),
            global_queue_interval: config.global_queue_interval.max(1),
            trace: config
                .trace
                .then(|| Box::new(Tracer::new(vec!["block_on thread".to_owned()]))),
        });
        CurrentThread { shared }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    pub(crate) fn block_on<F: Future>(&self, handle: &Handle, future: F) -> F::Output {
        let _driving = context::start_driving();
        let _entered = context::enter(handle.clone());
        let shared = &self.shared;
        let mut future = pin!(future);

        // Under loom this thread counts for the model clock while it is in here, waiting for
        // the core or holding it (`reactor/model_clock.rs`).
        #[cfg(loom)]
        let clock = shared.lifecycle.resources().driver.as_ref();
        #[cfg(loom)]
        let _in_block_on =
            clock.map(|clock| crate::reactor::model_clock::InBlockOn::enter(clock, false));

        // Wait for the core, polling our own future meanwhile: another thread may be in
        // `block_on` on this runtime.
        #[cfg(loom)]
        let mut own_parker = clock.map_or_else(ThreadParker::new, ThreadParker::on_model_clock);
        #[cfg(not(loom))]
        let mut own_parker = ThreadParker::new();
        let signal = std::sync::Arc::new(BlockOnSignal {
            woken: AtomicBool::new(true),
            target: Mutex::new(own_parker.unparker()),
        });
        let waker = Waker::from(signal.clone());
        let mut cx = Context::from_waker(&waker);
        let own_unparker = own_parker.unparker();
        let core = loop {
            if let Some(core) = shared.take_core(&own_unparker) {
                break core;
            }
            if signal.take_woken() {
                if let Poll::Ready(output) = coop::with_budget(|| future.as_mut().poll(&mut cx)) {
                    return output;
                }
            }
            #[cfg(loom)]
            if let Some(clock) = clock {
                own_parker.park_and_wake_on_model_clock(clock);
                continue;
            }
            own_parker.park(None);
        };

        // From here on our future's wakes must unpark the core's parker. Poll once more
        // unconditionally: a wake may have gone to the old target while we switched.
        *signal.target.lock().unwrap() = shared.lifecycle.driver.unparker().clone();
        signal.woken.store(true, SeqCst);

        let _core_guard = CoreGuard::install(shared.clone(), core);
        // Polls (of the future and of tasks) since the driver last looked for events. The
        // future's polls count too: a future that keeps waking itself (a `yield_now` loop
        // waiting for a timer or a socket) keeps this thread from sleeping, so without them
        // the driver would never run and what it waits for would never come.
        let mut since_driver: u32 = 0;
        loop {
            // The future gets a budget like any task (as in tokio): a loop in it over a
            // resource that is always ready (an accept that keeps failing with EMFILE) must
            // still let the tasks run, or nothing ever frees what it waits for.
            if signal.take_woken() {
                since_driver = since_driver.saturating_add(1);
                if let Poll::Ready(output) = coop::with_budget(|| future.as_mut().poll(&mut cx)) {
                    return output;
                }
            }
            let mut ran = 0;
            while ran < shared.event_interval {
                let Some(task) = next_local_or_injected(shared) else {
                    break;
                };
                match &shared.trace {
                    None => task.run(&shared.counters),
                    Some(trace) => trace.run(0, task, &shared.counters),
                }
                ran += 1;
            }
            since_driver = since_driver.saturating_add(ran);
            if since_driver >= shared.event_interval {
                // Still busy: let the driver look for I/O events without sleeping.
                since_driver = 0;
                match &shared.trace {
                    None => park_core(shared, Some(Duration::ZERO)),
                    Some(trace) => trace.reactor_turn(0, || {
                        park_core(shared, Some(Duration::ZERO));
                        true
                    }),
                }
            } else if !signal.is_woken() {
                since_driver = 0;
                shared.counters.record_park();
                match &shared.trace {
                    None => park_core(shared, None),
                    Some(trace) => trace.park(0, || {
                        park_core(shared, None);
                        true
                    }),
                }
            }
        }
    }
}

impl CurrentThread {
    /// Ends the runtime through its [`Lifecycle`]: this flavour's only thread policy is to
    /// take the core off the shelf (no `block_on` can be running: it borrows the runtime),
    /// dropping the queued entries (references; the owned set still holds every task).
    pub(crate) fn shutdown(&self, blocking_timeout: Option<Duration>) {
        let shared = &self.shared;
        shared.lifecycle.shutdown(
            Handle::current_thread(shared.clone()),
            || {
                let core = shared.core.lock().unwrap().take();
                drop(core);
            },
            blocking_timeout,
        );
    }
}

impl Drop for CurrentThread {
    /// Shuts down (if `Runtime::shutdown_timeout` did not already): every task cancelled,
    /// queues closed, driver and timers shut down, blocking pool ended.
    fn drop(&mut self) {
        self.shutdown(None);
    }
}

impl Shared {
    /// Spawns a task on this runtime. The caller ensures `F` may be polled here (it is `Send`,
    /// or wrapped for `spawn_local`). `site` is the user's call site, for the trace.
    pub(crate) fn spawn<F>(
        this: &Arc<Shared>,
        future: F,
        site: &'static std::panic::Location<'static>,
    ) -> (JoinHandle<F::Output>, Option<RefusedTask>)
    where
        F: Future + 'static,
    {
        let (join, bound) = this.lifecycle.bind(future, this.clone(), |id| {
            if let Some(trace) = &this.trace {
                trace.spawn(this.is_driving_thread().then_some(0), id.as_u64(), site);
            }
        });
        match bound {
            Ok(notified) => {
                this.push(notified, Event::Spawn);
                (join, None)
            }
            // The runtime shut down: the task is cancelled before it ever runs, once the
            // caller drops the refusal (see `RefusedTask`).
            Err(refused) => (join, Some(refused)),
        }
    }

    /// Queues a task: locally if this thread drives our core, else through the injection
    /// queue. Never panics: a wake from a thread-local destructor (after `ACTIVE_CORE` is
    /// gone) or from inside a borrow of it takes the injection queue.
    fn push(&self, task: Task, event: Event) {
        let mut task = Some(task);
        let _ = ACTIVE_CORE.try_with(|active| {
            let Ok(mut active) = active.try_borrow_mut() else {
                return;
            };
            if let Some((shared, core)) = active.as_mut() {
                if std::ptr::eq(&**shared, self) {
                    core.queue.extend(task.take());
                    match event {
                        Event::Spawn => self.counters.record_spawn(),
                        Event::Wake => self.counters.record_wake(),
                    }
                }
            }
        });
        if let Some(task) = task {
            match event {
                Event::Spawn => self.remote_counters.record_spawn(),
                Event::Wake => self.remote_counters.record_wake(),
            }
            self.push_remote(task);
        }
    }

    fn push_remote(&self, task: Task) {
        if self.lifecycle.inject.push(task) {
            self.lifecycle.driver.unparker().unpark();
        }
    }

    /// Takes the core, or registers `waiter` (once: a waiter already listed is not added
    /// again, so a waiting `block_on` whose future keeps waking it does not grow the list)
    /// to be unparked when it is released.
    fn take_core(&self, waiter: &UnparkHandle) -> Option<Box<Core>> {
        if let Some(core) = self.core.lock().unwrap().take() {
            return Some(core);
        }
        {
            let mut waiters = self.core_waiters.lock().unwrap();
            let listed = waiters.iter().any(|listed| {
                std::ptr::addr_eq(
                    std::sync::Arc::as_ptr(listed),
                    std::sync::Arc::as_ptr(waiter),
                )
            });
            if !listed {
                waiters.push(waiter.clone());
            }
        }
        #[cfg(all(test, loom))]
        if self
            .skip_second_look
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return None;
        }
        // Released between our two looks? Then nobody will unpark us: take it now.
        self.core.lock().unwrap().take()
    }

    /// How many `block_on` callers wait for the core (for tests).
    #[cfg(all(test, not(loom)))]
    fn core_waiters(&self) -> usize {
        self.core_waiters.lock().unwrap().len()
    }

    fn release_core(&self, core: Box<Core>) {
        *self.core.lock().unwrap() = Some(core);
        let waiters = std::mem::take(&mut *self.core_waiters.lock().unwrap());
        for waiter in waiters {
            waiter.unpark();
        }
    }

    /// Whether this thread holds our core: for tracing (which buffer an event goes to) and
    /// for `spawn_local` (only the driving thread may spawn a `!Send` task).
    pub(crate) fn is_driving_thread(&self) -> bool {
        ACTIVE_CORE
            .try_with(|active| {
                active.try_borrow().is_ok_and(|active| {
                    active
                        .as_ref()
                        .is_some_and(|(shared, _)| std::ptr::eq(&**shared, self))
                })
            })
            .unwrap_or(false)
    }

    pub(crate) fn tracer(&self) -> Option<&Tracer> {
        self.trace.as_deref()
    }

    pub(crate) fn metrics(&self) -> Metrics {
        let mut metrics = self.counters.snapshot();
        metrics.merge(&self.remote_counters.snapshot());
        metrics.workers = 1;
        metrics
    }
}

#[derive(Clone, Copy)]
enum Event {
    Spawn,
    Wake,
}

impl Schedule for Arc<Shared> {
    fn schedule(&self, task: Task) {
        if let Some(trace) = &self.trace {
            trace.wake(self.is_driving_thread().then_some(0), task.id().as_u64());
        }
        self.push(task, Event::Wake);
    }

    fn release(&self, task: &OwnedTask<Self>) -> Option<OwnedTask<Self>> {
        self.lifecycle.release(task)
    }
}

/// The next task for the driving thread, alternating fairly between the two queues.
fn next_local_or_injected(shared: &Shared) -> Option<Task> {
    ACTIVE_CORE.with(|active| {
        let mut active = active.borrow_mut();
        let (_, core) = active.as_mut().expect("the driving thread holds the core");
        core.tick = core.tick.wrapping_add(1);
        let inject = &shared.lifecycle.inject;
        if core.tick % shared.global_queue_interval == 0 {
            inject.pop().or_else(|| core.queue.pop_front())
        } else {
            core.queue.pop_front().or_else(|| inject.pop())
        }
    })
}

/// Parks the driving thread in the runtime's driver. `ACTIVE_CORE` is not borrowed
/// meanwhile: an I/O driver wakes tasks while it parks, and those wakes push to the core's
/// queue. Only the core's holder parks here, so the driver is always free; it is gone only
/// after shutdown, when no `block_on` can run.
fn park_core(shared: &Shared, timeout: Option<Duration>) {
    let parked = shared
        .lifecycle
        .driver
        .try_take()
        .is_some_and(|mut driver| driver.park(timeout));
    debug_assert!(parked, "the core's holder always finds the driver");
}

/// Puts the core into `ACTIVE_CORE` and gives it back to `Shared` when dropped (also when the
/// `block_on` future panics).
struct CoreGuard;

impl CoreGuard {
    fn install(shared: Arc<Shared>, core: Box<Core>) -> CoreGuard {
        ACTIVE_CORE.with(|active| *active.borrow_mut() = Some((shared, core)));
        CoreGuard
    }
}

impl Drop for CoreGuard {
    fn drop(&mut self) {
        let taken = ACTIVE_CORE.with(|active| active.borrow_mut().take());
        if let Some((shared, core)) = taken {
            shared.release_core(core);
        }
    }
}

/// The `block_on` future's waker: a flag, and the parker of whichever thread waits for it.
struct BlockOnSignal {
    woken: AtomicBool,
    target: Mutex<UnparkHandle>,
}

impl BlockOnSignal {
    fn take_woken(&self) -> bool {
        self.woken.swap(false, SeqCst)
    }

    fn is_woken(&self) -> bool {
        self.woken.load(SeqCst)
    }
}

// `std::task::Wake` wants a `std::sync::Arc`, which is why the signal lives in one (under
// loom too: the count is no part of the protocol; the flag and the target are).
impl Wake for BlockOnSignal {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        // Set the flag before unparking: the loop checks the flag after every unpark. A swap,
        // not a store (the same `xchg` on x86): the loop takes the flag with a swap, and loom
        // lets a swap read past a plain store that raced with an earlier swap of the loop's
        // (two writes it sees as unordered), so a model could lose this wake-up and spin.
        self.woken.swap(true, SeqCst);
        let target = self.target.lock().unwrap().clone();
        target.unpark();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// A second `block_on` whose future wakes itself 10,000 times while the core is held
    /// elsewhere registers one waiter, not one per turn (it used to push 10,000: 68 MB a
    /// second in the report).
    #[test]
    fn core_waiters_stay_bounded_while_a_second_block_on_waits() {
        let rt = CurrentThread::new(Config {
            event_interval: DEFAULT_EVENT_INTERVAL,
            global_queue_interval: DEFAULT_GLOBAL_QUEUE_INTERVAL,
            trace: false,
        });
        let handle = Handle::current_thread(rt.shared().clone());
        let holding = std::sync::atomic::AtomicBool::new(false);
        let release = std::sync::atomic::AtomicBool::new(false);
        let most_waiters = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            let holder = scope.spawn(|| {
                rt.block_on(&handle, async {
                    holding.store(true, SeqCst);
                    while !release.load(SeqCst) {
                        crate::task::yield_now().await;
                    }
                })
            });
            while !holding.load(SeqCst) {
                std::thread::yield_now();
            }
            let mut turns = 0;
            rt.block_on(
                &handle,
                std::future::poll_fn(|cx| {
                    most_waiters.fetch_max(rt.shared().core_waiters(), SeqCst);
                    turns += 1;
                    if turns == 10_000 {
                        return Poll::Ready(());
                    }
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }),
            );
            release.store(true, SeqCst);
            holder.join().unwrap();
        });
        assert_eq!(most_waiters.load(SeqCst), 1);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::loom::thread;

    /// Forgets its value instead of dropping it while a panic unwinds: once loom reports a
    /// deadlock (the negative control), the model's objects can no longer be dropped (their
    /// loom parts panic), and a panic in a destructor would abort the test binary.
    struct ForgetOnUnwind<T>(Option<T>);

    impl<T> Drop for ForgetOnUnwind<T> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                std::mem::forget(self.0.take());
            }
        }
    }

    impl<T> std::ops::Deref for ForgetOnUnwind<T> {
        type Target = T;
        fn deref(&self) -> &T {
            self.0.as_ref().expect("present until dropped")
        }
    }

    /// The hand-off of the core between two `block_on` callers: one thread holds the core
    /// and releases it while the other looks for it, registers in `core_waiters`
    /// (deduplicated) and parks; the waiter must end up with the core in every
    /// interleaving, or the model deadlocks.
    fn core_hand_off(skip_second_look: bool) {
        loom::model(move || {
            let rt = ForgetOnUnwind(Some(CurrentThread::new(Config {
                event_interval: DEFAULT_EVENT_INTERVAL,
                global_queue_interval: DEFAULT_GLOBAL_QUEUE_INTERVAL,
                trace: false,
            })));
            let shared = ForgetOnUnwind(Some(rt.shared().clone()));
            shared
                .skip_second_look
                .store(skip_second_look, std::sync::atomic::Ordering::Relaxed);
            let parker = ForgetOnUnwind(Some(ThreadParker::new()));
            let unparker = ForgetOnUnwind(Some(parker.unparker()));
            let held = shared.take_core(&unparker).expect("nobody holds it yet");
            let holder = {
                let shared = (*shared).clone();
                ForgetOnUnwind(Some(thread::spawn(move || shared.release_core(held))))
            };
            let mut parker = parker;
            let core = loop {
                if let Some(core) = shared.take_core(&unparker) {
                    break core;
                }
                parker.0.as_mut().expect("present").park(None);
            };
            shared.release_core(core);
            let mut holder = holder;
            holder.0.take().expect("present").join().unwrap();
        });
    }

    #[test]
    fn loom_a_waiting_block_on_is_handed_the_core() {
        core_hand_off(false);
    }

    /// The negative control: without the second look after registering, a release between
    /// the first look and the registration leaves the waiter parked for ever.
    #[test]
    #[should_panic(expected = "deadlock")]
    fn loom_a_waiting_block_on_is_handed_the_core_negative_control() {
        core_hand_off(true);
    }
}
