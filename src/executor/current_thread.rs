//! The current-thread scheduler: every task runs on the thread that calls `block_on`.
//!
//! # Structure
//! - [`Shared`] is what tasks and handles hold: the injection queue (spawns and wakes from
//!   other threads), the owned-tasks set, the unparker, the counters.
//! - [`Core`] is what the driving thread owns: the local run queue (a `VecDeque`, no locks)
//!   and the parker. Between `block_on` calls it rests in `Shared::core`; during one, it lives
//!   in this thread's `ACTIVE_CORE`, so a wake on the driving thread pushes to the local queue
//!   without a lock, and a wake anywhere else goes through the injection queue and unparks.
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
use super::inject::Inject;
use super::metrics::{Metrics, RemoteCounters, WorkerCounters};
use super::park::{Park, ThreadParker, UnparkHandle};
use super::trace::Tracer;
use super::Handle;
use crate::loom::sync::atomic::{AtomicBool, Ordering::*};
use crate::loom::sync::{Arc, Mutex};
use crate::task::{self, JoinHandle, Notified, OwnedTask, OwnedTasks, RefusedTask, Schedule};

/// Task polls between two looks at the `block_on` future and the I/O driver.
pub(crate) const DEFAULT_EVENT_INTERVAL: u32 = 61;
/// Task polls between two looks at the injection queue before the local one.
pub(crate) const DEFAULT_GLOBAL_QUEUE_INTERVAL: u32 = 31;

type Task = Notified<Arc<Shared>>;

/// The part of the runtime every task and handle points at.
pub(crate) struct Shared {
    inject: Inject<Arc<Shared>>,
    owned: OwnedTasks<Arc<Shared>>,
    /// Wakes the driving thread (a clone of the core's parker's unparker).
    unpark: UnparkHandle,
    /// The core while no thread drives it.
    core: Mutex<Option<Box<Core>>>,
    /// `block_on` callers on other threads waiting for the core.
    core_waiters: Mutex<Vec<UnparkHandle>>,
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
    /// Taken out while parking so that the driver can wake tasks (which pushes to `queue`).
    park: Option<Box<dyn Park>>,
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
    #[cfg_attr(not(loom), allow(dead_code))] // outside loom, runtimes park on the reactor
    pub(crate) fn new(config: Config) -> CurrentThread {
        Self::with_park(config, Box::new(ThreadParker::new()))
    }

    pub(crate) fn with_park(config: Config, park: Box<dyn Park>) -> CurrentThread {
        let shared = Arc::new(Shared {
            inject: Inject::new(),
            owned: OwnedTasks::new(1),
            unpark: park.unparker(),
            core: Mutex::new(Some(Box::new(Core {
                queue: VecDeque::with_capacity(256),
                tick: 0,
                park: Some(park),
            }))),
            core_waiters: Mutex::new(Vec::new()),
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

        // Wait for the core, polling our own future meanwhile: another thread may be in
        // `block_on` on this runtime.
        let own_parker = ThreadParker::new();
        let signal = std::sync::Arc::new(BlockOnSignal {
            woken: AtomicBool::new(true),
            target: Mutex::new(own_parker.unparker()),
        });
        let waker = Waker::from(signal.clone());
        let mut cx = Context::from_waker(&waker);
        let mut own_parker: Box<dyn Park> = Box::new(own_parker);
        let core = loop {
            if let Some(core) = shared.take_core(own_parker.as_ref()) {
                break core;
            }
            if signal.take_woken() {
                if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                    return output;
                }
            }
            own_parker.park(None);
        };

        // From here on our future's wakes must unpark the core's parker. Poll once more
        // unconditionally: a wake may have gone to the old target while we switched.
        *signal.target.lock().unwrap() = shared.unpark.clone();
        signal.woken.store(true, SeqCst);

        let _core_guard = CoreGuard::install(shared.clone(), core);
        loop {
            if signal.take_woken() {
                if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
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
            if ran == shared.event_interval {
                // Still busy: let the driver look for I/O events without sleeping.
                match &shared.trace {
                    None => park_core(Some(Duration::ZERO)),
                    Some(trace) => trace.reactor_turn(0, || {
                        park_core(Some(Duration::ZERO));
                        true
                    }),
                }
            } else if !signal.is_woken() {
                shared.counters.record_park();
                match &shared.trace {
                    None => park_core(None),
                    Some(trace) => trace.park(0, || {
                        park_core(None);
                        true
                    }),
                }
            }
        }
    }
}

impl Drop for CurrentThread {
    /// Cancels every task on this thread, drops every queued entry, and closes the queues so
    /// that later spawns and wakes (from wakers that outlive the runtime) are refused.
    fn drop(&mut self) {
        let shared = &self.shared;
        let core = shared.core.lock().unwrap().take();
        // Futures being dropped may spawn or wake: run them with this runtime current so
        // those calls see the closed runtime rather than panicking for lack of one.
        let _entered = context::enter(Handle::current_thread(shared.clone()));
        for task in shared.owned.close_and_take_all() {
            task.shutdown();
        }
        // Drop entries outside the lock: freeing a task runs user destructors.
        drop(shared.inject.close());
        drop(core);
        debug_assert!(shared.owned.is_empty());
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
        let (owned, notified, join) = task::new_task(future, this.clone());
        if let Some(trace) = &this.trace {
            let worker = this.is_driving_thread().then_some(0);
            trace.spawn(worker, notified.id().as_u64(), site);
        }
        if let Err(owned) = this.owned.insert(owned) {
            // The runtime shut down: the task is cancelled before it ever runs, once the
            // caller drops the refusal (see `RefusedTask`).
            return (join, Some(owned.refuse()));
        }
        this.push(notified, Event::Spawn);
        (join, None)
    }

    /// Queues a task: locally if this thread drives our core, else through the injection
    /// queue.
    fn push(&self, task: Task, event: Event) {
        let task = ACTIVE_CORE.with(|active| {
            let mut active = active.borrow_mut();
            match active.as_mut() {
                Some((shared, core)) if std::ptr::eq(&**shared, self) => {
                    core.queue.push_back(task);
                    match event {
                        Event::Spawn => self.counters.record_spawn(),
                        Event::Wake => self.counters.record_wake(),
                    }
                    None
                }
                _ => Some(task),
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
        if self.inject.push(task) {
            self.unpark.unpark();
        }
    }

    /// Takes the core, or registers `waiter` to be unparked when it is released.
    fn take_core(&self, waiter: &dyn Park) -> Option<Box<Core>> {
        if let Some(core) = self.core.lock().unwrap().take() {
            return Some(core);
        }
        self.core_waiters.lock().unwrap().push(waiter.unparker());
        // Released between our two looks? Then nobody will unpark us: take it now.
        self.core.lock().unwrap().take()
    }

    fn release_core(&self, core: Box<Core>) {
        *self.core.lock().unwrap() = Some(core);
        for waiter in self.core_waiters.lock().unwrap().drain(..) {
            waiter.unpark();
        }
    }

    /// Whether this thread holds our core (for tracing: which buffer an event goes to).
    fn is_driving_thread(&self) -> bool {
        ACTIVE_CORE.with(|active| {
            active.try_borrow().is_ok_and(|active| {
                active
                    .as_ref()
                    .is_some_and(|(shared, _)| std::ptr::eq(&**shared, self))
            })
        })
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
        self.owned.remove(task)
    }
}

/// The next task for the driving thread, alternating fairly between the two queues.
fn next_local_or_injected(shared: &Shared) -> Option<Task> {
    ACTIVE_CORE.with(|active| {
        let mut active = active.borrow_mut();
        let (_, core) = active.as_mut().expect("the driving thread holds the core");
        core.tick = core.tick.wrapping_add(1);
        if core.tick % shared.global_queue_interval == 0 {
            shared.inject.pop().or_else(|| core.queue.pop_front())
        } else {
            core.queue.pop_front().or_else(|| shared.inject.pop())
        }
    })
}

/// Parks the driving thread. The parker is taken out of the core first: an I/O driver wakes
/// tasks while it parks, and those wakes push to the core's queue.
fn park_core(timeout: Option<Duration>) {
    let take = |park: Option<Box<dyn Park>>| {
        ACTIVE_CORE.with(|active| {
            let mut active = active.borrow_mut();
            let (_, core) = active.as_mut().expect("the driving thread holds the core");
            std::mem::replace(&mut core.park, park)
        })
    };
    let mut park = take(None).expect("the core has its parker");
    park.park(timeout);
    take(Some(park));
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
        // Set the flag before unparking: the loop checks the flag after every unpark.
        self.woken.store(true, SeqCst);
        let target = self.target.lock().unwrap().clone();
        target.unpark();
    }
}
