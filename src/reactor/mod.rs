//! The reactor: the article's event loop, "monitoring I/O events and switching to the tasks
//! that are ready", built on [mio](https://docs.rs/mio) (epoll on Linux, kqueue on the BSDs
//! and macOS).
//!
//! # Pieces
//! - `Driver`: one `mio::Poll` per runtime, the event buffer and the timer wheel. It is the
//!   scheduler's parker (the `Park` seam of [`executor`](crate::executor)): when a scheduler
//!   thread has nothing to run it calls `park(timeout)`, which blocks in `epoll_wait`/`kevent`
//!   for at most the timeout or the next timer deadline, whichever is sooner; then it marks
//!   the sources that events name as ready, fires the due timers, and wakes exactly the tasks
//!   that wait on them. Nothing is polled that is not ready.
//! - Its unparker is a `mio::Waker` (an eventfd on Linux) behind a three-state atomic
//!   (`EMPTY`, `PARKED`, `NOTIFIED`): an unpark writes to the eventfd only when the driver is
//!   actually blocked in the poll, so a burst of spawns and wakes from other threads costs one
//!   system call, and an unpark that arrives while the driver is busy leaves a token that makes
//!   the next park return at once (never lost).
//! - `Handle`: what I/O types and timers hold, shared by all threads: the `mio::Registry`, the
//!   slab of registered sources (`slab.rs`) and the timer wheel ([`crate::time`]). I/O types
//!   find it through the runtime they are created in.
//! - `ScheduledIo` (`scheduled_io.rs`): one per source: readiness bits with a tick, and the
//!   waiters of each direction (`waiters.rs`): a list with an entry per waiting readiness
//!   future (`readable()`, `recv_from`, `accept`, ...: any number of tasks wait on one
//!   socket), and one slot for the `poll_*` API (`poll_read`, `poll_accept`, ...: the most
//!   recent poller's waker, as in tokio). Its module doc states the protocols (no lost event,
//!   no lost wake-up, every waiter woken, no waker dropped under its lock) and names the loom
//!   models that check them.
//!
//! # Invariants
//! - A stale token (its source deregistered, its slot reused) never wakes the slot's new owner:
//!   tokens carry a generation (`slab.rs`, test `stale_token_does_not_reach_the_new_owner`).
//! - Readiness is cleared only after an operation returned `WouldBlock`, and only if no event
//!   arrived since (loom model `loom_event_between_would_block_and_clear_is_kept`).
//! - A task that registers its waker while the driver sets readiness is woken or sees the
//!   readiness (loom model `loom_readiness_racing_with_waker_registration_is_not_lost`).
//! - An event wakes only the waiters of the direction it concerns: with 1,000 idle
//!   connections and one busy one, polls grow with the busy one's messages only
//!   (`tests/reactor.rs`).
//! - An event wakes every waiter of its direction, and a readiness future that is dropped
//!   removes its waker at once: no stored waker outlives its future (loom model
//!   `loom_two_waiters_one_event_a_cancel_racing_the_wake` + negative control on the single
//!   slot; `tests/differential/io.rs`).
//! - No waker is dropped while a lock of the reactor or the timer wheel is held: each is
//!   moved out and dropped after the unlock (its drop may free a runtime whose driver takes
//!   those locks; `scheduled_io.rs`).
//! - When the driver shuts down (at runtime drop, `Driver::shutdown`, both flavours) every
//!   waiting task is woken; its I/O then fails with the error `SHUTDOWN_MESSAGE` ("the runtime owning this resource has shut down") instead of
//!   hanging, and its timers panic with that text (`tests/differential/io.rs`).

#[cfg(loom)]
pub(crate) mod model_clock;
pub(crate) mod registration;
pub(crate) mod scheduled_io;
pub(crate) mod slab;
pub(crate) mod waiters;

#[cfg(all(test, loom))]
mod loom_tests;

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::task::Waker;
use std::time::{Duration, Instant};

use crate::executor::park::{Park, Unpark, UnparkHandle};
use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::loom::sync::{Arc, Mutex, MutexGuard};
use crate::time::wheel::{TimerWheel, MAX_TICK};

use scheduled_io::Ready;
use slab::IoSlab;

/// What every I/O resource returns, and every timer panics with, once its runtime's driver
/// has shut down.
pub(crate) const SHUTDOWN_MESSAGE: &str = "the runtime owning this resource has shut down";

/// What real sockets, pipes, files and child processes return under `--cfg loom`: loom
/// cannot see a thread blocked in `epoll_wait`, so a model has no OS I/O; in-memory streams
/// are the way to model I/O (see `spindle::model`).
#[cfg_attr(not(loom), allow(dead_code))]
pub(crate) const LOOM_UNSUPPORTED: &str = "not available under loom: use io::duplex";

/// `Err(Unsupported, "not available under loom: use io::duplex")` under `--cfg loom`, `Ok`
/// otherwise. Called by every constructor of real I/O before it touches the OS, and by
/// [`Handle::current`], which every registration goes through.
#[inline]
pub(crate) fn refuse_under_loom() -> io::Result<()> {
    #[cfg(loom)]
    {
        Err(io::Error::new(io::ErrorKind::Unsupported, LOOM_UNSUPPORTED))
    }
    #[cfg(not(loom))]
    {
        Ok(())
    }
}

/// The token of the driver's own `mio::Waker`; slab tokens never have the top bit set.
const WAKER_TOKEN: mio::Token = mio::Token(usize::MAX);
/// Events taken from the OS per `epoll_wait`.
const EVENTS_CAPACITY: usize = 1024;

/// The reactor's driver: owned by the scheduler thread that parks in it. See the module doc.
pub(crate) struct Driver {
    poll: mio::Poll,
    events: mio::Events,
    handle: Handle,
    /// The wakers collected while locks are held: by `park` for the runtime to wake after it
    /// lets go of the driver (`take_woken`), by `shutdown` to wake at once.
    wakers: Vec<Waker>,
}

/// A cloneable reference to a runtime's reactor, for registering sources and timers.
#[derive(Clone)]
pub(crate) struct Handle {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    registry: mio::Registry,
    sources: Mutex<Sources>,
    timers: Mutex<Timers>,
    /// A `std` `Arc` because the park seam hands it out as an [`UnparkHandle`].
    unpark: std::sync::Arc<DriverUnpark>,
    /// Tick 0 of the timer wheel.
    start: Instant,
    /// No timer expires before this tick (`u64::MAX`: none waits), for a busy worker that
    /// must decide how soon to turn the driver without taking the timers' lock. Written only
    /// under that lock: lowered when a timer is filed, set to the wheel's next expiration
    /// after each turn (a cancelled timer leaves it early, which costs one needless turn). A
    /// hint that no protocol rests on, so a `std` atomic; loom never reads it.
    next_timer_tick: AtomicU64,
    /// Under loom: the model clock's counters (`model_clock.rs`). Plain std atomics,
    /// invisible to loom on purpose: exact under loom's one-thread-at-a-time execution, and
    /// models without timers pay no loom operation for the clock.
    #[cfg(loom)]
    model_clock: std::sync::Arc<model_clock::ModelClock>,
}

pub(crate) struct Sources {
    pub(crate) slab: IoSlab,
    /// Set when the driver is dropped: no new registrations.
    pub(crate) closed: bool,
}

pub(crate) struct Timers {
    pub(crate) wheel: TimerWheel,
    /// While the driver blocks: the tick it will wake at by itself (`u64::MAX`: none). A timer
    /// inserted from another thread with an earlier deadline must unpark it.
    parked_until: Option<u64>,
    /// Set when the driver is dropped.
    pub(crate) closed: bool,
    /// Under loom: the model clock, in ticks since `start`. It moves only when the runtime
    /// is idle, to the next deadline ([`Handle::advance_model_clock`]).
    #[cfg(loom)]
    model_now: u64,
}

/// The timers' lock (under loom a wrapper that also feeds the model clock).
#[cfg(not(loom))]
pub(crate) type TimersGuard<'a> = MutexGuard<'a, Timers>;
#[cfg(loom)]
pub(crate) use model_clock::TimersGuard;

const EMPTY: usize = 0;
const PARKED: usize = 1;
const NOTIFIED: usize = 2;

/// Wakes the driver: see the module doc for why the atomic sits in front of `mio::Waker`.
struct DriverUnpark {
    state: AtomicUsize,
    waker: mio::Waker,
}

impl Unpark for DriverUnpark {
    fn unpark(&self) {
        if self.state.swap(NOTIFIED, SeqCst) == PARKED {
            // Blocked in the poll (or about to be): interrupt it. Failure means the eventfd
            // counter is saturated, i.e. a wake-up is pending anyway.
            let _ = self.waker.wake();
        }
    }
}

impl Driver {
    /// A driver with a fresh `mio::Poll`.
    pub(crate) fn new() -> io::Result<Driver> {
        let poll = mio::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = mio::Waker::new(poll.registry(), WAKER_TOKEN)?;
        let inner = Inner {
            registry,
            sources: Mutex::new(Sources {
                slab: IoSlab::new(),
                closed: false,
            }),
            timers: Mutex::new(Timers {
                wheel: TimerWheel::new(),
                parked_until: None,
                closed: false,
                #[cfg(loom)]
                model_now: 0,
            }),
            unpark: std::sync::Arc::new(DriverUnpark {
                state: AtomicUsize::new(EMPTY),
                waker,
            }),
            next_timer_tick: AtomicU64::new(u64::MAX),
            start: Instant::now(),
            #[cfg(loom)]
            model_clock: Default::default(),
        };
        Ok(Driver {
            poll,
            events: mio::Events::with_capacity(EVENTS_CAPACITY),
            handle: Handle {
                inner: Arc::new(inner),
            },
            wakers: Vec::new(),
        })
    }

    /// The handle I/O types and timers use.
    pub(crate) fn handle(&self) -> Handle {
        self.handle.clone()
    }

    fn wake_collected(&mut self) {
        for waker in self.wakers.drain(..) {
            waker.wake();
        }
    }
}

impl Park for Driver {
    fn park(&mut self, timeout: Option<Duration>) {
        let inner = self.handle.inner.clone();
        // A pending unpark token: take it and only look for events, without blocking.
        let mut block = timeout != Some(Duration::ZERO);
        if inner
            .unpark
            .state
            .compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst)
            .is_ok()
        {
            block = false;
        }

        // The timer wheel bounds the wait.
        let now = Instant::now();
        let mut wait = if block { timeout } else { Some(Duration::ZERO) };
        if block {
            let mut timers = inner.timers.lock().unwrap();
            let next = timers.wheel.next_expiration();
            if let Some(tick) = next {
                let until = inner.tick_to_instant(tick);
                let timer_wait =
                    until.map_or(Duration::MAX, |until| until.saturating_duration_since(now));
                wait = Some(wait.map_or(timer_wait, |wait| wait.min(timer_wait)));
            }
            timers.parked_until = Some(next.unwrap_or(u64::MAX));
            drop(timers);
            // Announce the block; an unpark that got in first turns it into a quick look.
            if inner
                .unpark
                .state
                .compare_exchange(EMPTY, PARKED, SeqCst, SeqCst)
                .is_err()
            {
                inner.unpark.state.store(EMPTY, SeqCst);
                wait = Some(Duration::ZERO);
            }
        }

        let result = self.poll.poll(&mut self.events, wait);
        if block {
            // Back to EMPTY, taking any token: the caller looks for work after we return.
            inner.unpark.state.store(EMPTY, SeqCst);
            inner.timers.lock().unwrap().parked_until = None;
        }
        match result {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {} // a signal: return
            Err(error) => panic!("spindle reactor: polling for I/O events failed: {error}"),
        }

        // Mark the sources the events name as ready and collect their waiters.
        {
            let sources = inner.sources.lock().unwrap();
            for event in self.events.iter() {
                if event.token() == WAKER_TOKEN {
                    continue;
                }
                // A token whose source has gone (or whose slot was reused) resolves to nothing.
                if let Some(io) = sources.slab.get(event.token()) {
                    io.set_readiness(Ready::from_event(event), &mut self.wakers);
                }
            }
        }

        // Fire the due timers.
        let now_tick = inner.instant_to_tick_floor(Instant::now());
        {
            let mut timers = inner.timers.lock().unwrap();
            let mut next = timers.wheel.next_expiration();
            if next.is_some_and(|next| next <= now_tick) {
                timers.wheel.advance(now_tick, &mut self.wakers);
                next = timers.wheel.next_expiration();
            }
            inner
                .next_timer_tick
                .store(next.unwrap_or(u64::MAX), Relaxed);
        }
        // The collected wakers are woken by the runtime once it has let go of the driver
        // (`take_woken`), not here.
    }

    fn take_woken(&mut self, woken: &mut Vec<Waker>) {
        if woken.is_empty() {
            // A swap: the caller's empty vector (with its capacity) becomes the next
            // collection's, so once both have grown neither side allocates.
            std::mem::swap(&mut self.wakers, woken);
        } else {
            woken.append(&mut self.wakers);
        }
    }

    fn unparker(&self) -> UnparkHandle {
        self.handle.inner.unpark.clone()
    }

    fn shutdown(&mut self) {
        Driver::shutdown(self);
    }
}

impl Driver {
    /// Fails every registered source and fires every timer, so that no waiter hangs; later
    /// registrations are refused and later timer polls panic. The runtime's lifecycle calls
    /// it at runtime drop (`executor/lifecycle.rs`); `Drop` calls it too. A second call does
    /// nothing (in particular it takes no source's lock again).
    pub(crate) fn shutdown(&mut self) {
        let inner = self.handle.inner.clone();
        {
            let mut sources = inner.sources.lock().unwrap();
            if !sources.closed {
                sources.closed = true;
                for io in sources.slab.iter() {
                    io.shutdown(&mut self.wakers);
                }
            }
        }
        {
            let mut timers = inner.timers.lock().unwrap();
            if !timers.closed {
                timers.closed = true;
                timers.wheel.fire_all(&mut self.wakers);
            }
        }
        self.wake_collected();
    }
}

/// The parker of a runtime under loom: loom cannot see a thread blocked in `epoll_wait`, so
/// the scheduler sleeps on a [`ThreadParker`](crate::executor::park::ThreadParker), and the
/// reactor is kept only for its timer wheel, which runs on the model clock
/// (`model_clock.rs`). Its sockets are never registered: every I/O constructor refuses under
/// loom ([`refuse_under_loom`]).
#[cfg(loom)]
pub(crate) struct ModelDriver {
    parker: crate::executor::park::ThreadParker,
    reactor: Driver,
    /// Current-thread: the thread parking here is the runtime's thread, so this park counts
    /// it asleep for the model clock. Multi-thread: a worker parks here through its
    /// `WorkerParker`, which has counted it already.
    counts_sleep: bool,
}

#[cfg(loom)]
impl ModelDriver {
    pub(crate) fn new(counts_sleep: bool) -> io::Result<ModelDriver> {
        use crate::executor::park::ThreadParker;
        let reactor = Driver::new()?;
        let parker = if counts_sleep {
            ThreadParker::on_model_clock(&reactor.handle)
        } else {
            ThreadParker::new()
        };
        Ok(ModelDriver {
            parker,
            reactor,
            counts_sleep,
        })
    }

    pub(crate) fn handle(&self) -> Handle {
        self.reactor.handle()
    }
}

#[cfg(loom)]
impl Park for ModelDriver {
    fn park(&mut self, timeout: Option<Duration>) {
        if self.counts_sleep && timeout.is_none() {
            let clock = &self.reactor.handle;
            self.parker
                .park_on_model_clock(clock, &mut self.reactor.wakers);
        } else {
            self.parker.park(timeout);
        }
    }

    fn take_woken(&mut self, woken: &mut Vec<Waker>) {
        woken.append(&mut self.reactor.wakers);
    }

    fn unparker(&self) -> UnparkHandle {
        self.parker.unparker()
    }

    fn shutdown(&mut self) {
        self.reactor.shutdown();
    }
}

#[cfg(loom)]
impl fmt::Debug for ModelDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModelDriver").finish_non_exhaustive()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver").finish_non_exhaustive()
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("reactor::Handle").finish_non_exhaustive()
    }
}

impl Handle {
    /// The reactor of the runtime this thread runs in.
    ///
    /// # Errors
    /// Outside a runtime, or in one without an I/O driver; under `--cfg loom` always
    /// ([`refuse_under_loom`]).
    pub(crate) fn current() -> io::Result<Handle> {
        refuse_under_loom()?;
        Handle::current_driver()
    }

    /// The runtime's driver, for timers: they work under loom too, on the model clock.
    pub(crate) fn current_driver() -> io::Result<Handle> {
        crate::executor::context::with_current(|runtime| {
            let runtime = runtime.ok_or_else(|| {
                io::Error::other(
                    "there is no spindle runtime on this thread: I/O types and timers must be \
                     created inside `Runtime::block_on`, a spawned task, or after `Runtime::enter`",
                )
            })?;
            runtime.driver().cloned().ok_or_else(|| {
                io::Error::other("this spindle runtime has no I/O driver (it is shutting down)")
            })
        })
    }

    /// Like [`current`](Self::current) for APIs that cannot return an error (timers).
    #[track_caller]
    pub(crate) fn current_or_panic(what: &str) -> Handle {
        match Handle::current_driver() {
            Ok(handle) => handle,
            Err(error) => panic!("{what}: {error}"),
        }
    }

    pub(crate) fn registry(&self) -> &mio::Registry {
        &self.inner.registry
    }

    pub(crate) fn sources(&self) -> MutexGuard<'_, Sources> {
        self.inner.sources.lock().unwrap()
    }

    pub(crate) fn timers(&self) -> TimersGuard<'_> {
        let guard = self.inner.timers.lock().unwrap();
        #[cfg(loom)]
        let guard = model_clock::TimersGuard {
            guard,
            clock: &self.inner.model_clock,
        };
        guard
    }

    /// The wheel tick of `deadline`, rounded up so that a timer never fires early.
    pub(crate) fn deadline_to_tick(&self, deadline: Instant) -> u64 {
        let since = deadline.saturating_duration_since(self.inner.start);
        let millis = since.as_nanos().div_ceil(1_000_000);
        u64::try_from(millis).unwrap_or(MAX_TICK).min(MAX_TICK)
    }

    /// The timers' clock: `Instant::now()`, or under loom the model clock (which `timers`,
    /// held by the caller, guards).
    pub(crate) fn now(&self, timers: &Timers) -> Instant {
        #[cfg(loom)]
        {
            self.inner
                .tick_to_instant(timers.model_now)
                .unwrap_or(self.inner.start)
        }
        #[cfg(not(loom))]
        {
            let _ = timers;
            Instant::now()
        }
    }

    /// A timer was filed for `tick` (`timers` is the held lock): lowers the next-timer hint
    /// and wakes the driver if it is blocked past `tick` (a timer inserted from another
    /// thread).
    pub(crate) fn timer_inserted(&self, timers: &mut Timers, tick: u64) {
        // Load and store, not an RMW: every writer holds the timers' lock.
        let hint = &self.inner.next_timer_tick;
        if tick < hint.load(Relaxed) {
            hint.store(tick, Relaxed);
        }
        if let Some(parked_until) = timers.parked_until {
            if tick < parked_until {
                timers.parked_until = Some(tick);
                self.inner.unpark.unpark();
            }
        }
    }

    /// Number of registered sources (for tests).
    #[allow(dead_code)]
    pub(crate) fn registered_sources(&self) -> usize {
        self.sources().slab.len()
    }
}

#[cfg(not(loom))]
impl Handle {
    /// No timer of this reactor expires before this instant (`None`: none waits). Read
    /// without a lock, so possibly a little stale; see `Inner::next_timer_tick`.
    pub(crate) fn next_timer_hint(&self) -> Option<Instant> {
        match self.inner.next_timer_tick.load(Relaxed) {
            u64::MAX => None,
            tick => self.inner.tick_to_instant(tick),
        }
    }
}

impl Inner {
    fn tick_to_instant(&self, tick: u64) -> Option<Instant> {
        self.start.checked_add(Duration::from_millis(tick))
    }

    fn instant_to_tick_floor(&self, now: Instant) -> u64 {
        let millis = now.saturating_duration_since(self.start).as_millis();
        u64::try_from(millis).unwrap_or(MAX_TICK).min(MAX_TICK)
    }
}
