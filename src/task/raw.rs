//! The task allocation and the type-erased operations on it.
//!
//! A spawned task is one heap block, a `Cell<F, S>`:
//!
//! ```text
//! +--------------------------------------------+
//! | Header   state word | vtable | id | owner  |  <- every handle points here
//! | scheduler S   (which run queues to use)    |
//! | stage         Running(F) | Finished(out)   |
//! | join_waker    Option<Waker>                |
//! +--------------------------------------------+
//! ```
//!
//! Handles (`Notified`, `OwnedTask`, `JoinHandle`, `Waker`) hold a `RawTask`, a pointer to the
//! header; the header's vtable holds the functions monomorphised for this `F` and `S`. This
//! file and `waker.rs` are where the task's unsafe code lives.

use std::any::Any;
use std::future::Future;
use std::mem::{self, ManuallyDrop};
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

use super::state::{DropJoinHandle, State, TransitionToIdle, TransitionToRunning, WakeAction};
use super::{waker, Id, JoinError, Notified, OwnedTask, Schedule};
use crate::executor::WorkerCounters;
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::AtomicUsize;

/// The first field of every task allocation.
pub(crate) struct Header {
    pub(super) state: State,
    pub(super) vtable: &'static Vtable,
    pub(super) id: Id,
    /// Where the owned-tasks list keeps this task (its shard and slot; `usize::MAX` until
    /// inserted). Written under the shard's lock at spawn, read at completion (which the
    /// spawn's queue push orders after it); atomic so that reading it needs no unsafe.
    pub(super) owned_slot: AtomicUsize,
}

/// The operations that need to know the future's and the scheduler's types.
pub(super) struct Vtable {
    /// Run the task (the caller gives up a queue entry's reference), recording the poll in
    /// `counters` before the future runs, so the count is visible to whoever the poll wakes.
    pub(super) run: unsafe fn(NonNull<Header>, &WorkerCounters),
    /// Hand a queue entry's reference to the scheduler.
    pub(super) schedule: unsafe fn(NonNull<Header>),
    /// Free the allocation. Called once, by whoever dropped the last reference.
    pub(super) dealloc: unsafe fn(NonNull<Header>),
    /// Move the output into `*dst` (a `Poll<Result<T, JoinError>>`) if the task is complete,
    /// otherwise register the waker.
    pub(super) try_read_output: unsafe fn(NonNull<Header>, *mut (), &Waker),
    /// The join handle is dropped after completion: drop the output, then the reference.
    pub(super) drop_join_handle_slow: unsafe fn(NonNull<Header>),
    /// The join handle is dropped while the task runs, after taking the waker cell back:
    /// drop its waker, then the reference.
    pub(super) drop_join_waker: unsafe fn(NonNull<Header>),
    /// Runtime shutdown: cancel the future now if no thread owns it.
    pub(super) shutdown: unsafe fn(NonNull<Header>),
}

/// What one poll was, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RunReport {
    /// The future's `poll` was called.
    pub(crate) polled: bool,
    /// A wake (or the spawn) asked for that poll. `polled && !woken` is a wasted poll.
    pub(crate) woken: bool,
}

/// What the stage cell holds over the task's life.
enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

/// The whole allocation. `repr(C)` puts the header first, so a `NonNull<Header>` can be cast
/// back to the `Cell` it came from.
#[repr(C)]
struct Cell<F: Future, S> {
    header: Header,
    scheduler: S,
    /// Owned by the holder of `RUNNING` until `COMPLETE`; then by the join handle (if it was
    /// still interested at completion) or by the completing thread.
    stage: UnsafeCell<Stage<F>>,
    /// Written by the join handle while `JOIN_WAKER` is clear; read by the runtime once
    /// `COMPLETE` and `JOIN_WAKER` are both set.
    join_waker: UnsafeCell<Option<Waker>>,
    /// Under loom only, a cell with no data that makes the hand-offs of the task visible to
    /// loom: every queue entry's creator writes it and every run reads it, and `dealloc`
    /// writes it (and the other cells) before freeing. The header's plain fields and the
    /// allocation itself are invisible to loom; with this, a queue that publishes an entry
    /// with `Relaxed`, or a reference count decremented with `Relaxed`, is a causality
    /// violation loom reports instead of a bug it cannot see.
    #[cfg(loom)]
    handoff: UnsafeCell<()>,
}

/// A pointer to a live task allocation. Copying it does not count as a reference: the types
/// that own one (`Notified`, `OwnedTask`, `JoinHandle`, wakers) do the counting.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawTask {
    ptr: NonNull<Header>,
}

// SAFETY: a `RawTask` is only a pointer; the types that hold one decide whether they may cross
// threads (`JoinHandle<T>` only when `T: Send`, run-queue entries only for `Send` futures or
// inside the thread that spawned them). The header itself is all atomics.
unsafe impl Send for RawTask {}
// SAFETY: as above; shared access goes through the atomic state word.
unsafe impl Sync for RawTask {}

impl RawTask {
    /// Allocates a task in the spawned state (queued once, three references: the queue entry,
    /// the owned-tasks list and the join handle).
    pub(super) fn new<F, S>(future: F, scheduler: S, id: Id) -> RawTask
    where
        F: Future + 'static,
        S: Schedule,
    {
        let cell = Box::new(Cell {
            header: Header {
                state: State::new(),
                vtable: vtable::<F, S>(),
                id,
                owned_slot: AtomicUsize::new(usize::MAX),
            },
            scheduler,
            stage: UnsafeCell::new(Stage::Running(future)),
            join_waker: UnsafeCell::new(None),
            #[cfg(loom)]
            handoff: UnsafeCell::new(()),
        });
        cell.hand_off(); // the spawn's queue entry
        let ptr = NonNull::from(Box::leak(cell)).cast::<Header>();
        RawTask { ptr }
    }

    /// # Safety
    /// `ptr` must point at the header of a live task allocation.
    pub(super) unsafe fn from_raw(ptr: NonNull<Header>) -> RawTask {
        RawTask { ptr }
    }

    pub(super) fn header_ptr(self) -> NonNull<Header> {
        self.ptr
    }

    pub(super) fn header(&self) -> &Header {
        // SAFETY: every `RawTask` is created from a live allocation and used only while its
        // holder owns a reference, so the header is alive for the borrow of `self`.
        unsafe { self.ptr.as_ref() }
    }

    /// Runs the task. The caller gives up one queue entry's reference.
    pub(super) fn run(self, counters: &WorkerCounters) {
        // SAFETY: the vtable was built for this allocation's types; the caller owns the
        // reference that `run` consumes.
        unsafe { (self.header().vtable.run)(self.ptr, counters) }
    }

    /// Gives a queue entry's reference to the task's scheduler.
    pub(super) fn schedule(self) {
        // SAFETY: as for `run`; the caller owns the reference being handed over.
        unsafe { (self.header().vtable.schedule)(self.ptr) }
    }

    /// Frees the allocation.
    ///
    /// # Safety
    /// The caller dropped the last reference.
    pub(super) unsafe fn dealloc(self) {
        // SAFETY: the caller's contract; the vtable matches the allocation.
        unsafe { (self.header().vtable.dealloc)(self.ptr) }
    }

    /// Drops one reference, freeing the task if it was the last.
    pub(super) fn drop_reference(self) {
        if self.header().state.ref_dec() {
            // SAFETY: that was the last reference.
            unsafe { self.dealloc() }
        }
    }

    /// # Safety
    /// `dst` must point at a valid `Poll<Result<T, JoinError>>` where `T` is the task's output
    /// type, and the caller must be the task's join handle.
    pub(super) unsafe fn try_read_output(self, dst: *mut (), waker: &Waker) {
        // SAFETY: forwarded from the caller.
        unsafe { (self.header().vtable.try_read_output)(self.ptr, dst, waker) }
    }

    /// Drops the join handle's reference, and with it the handle's stored waker or the
    /// output if the handle owns one of them.
    pub(super) fn drop_join_handle(self) {
        match self.header().state.drop_join_handle() {
            DropJoinHandle::Done { last_ref: false } => {}
            // SAFETY: the join handle's reference was the last.
            DropJoinHandle::Done { last_ref: true } => unsafe { self.dealloc() },
            // SAFETY: the transition cleared JOIN_WAKER before COMPLETE, so the handle owns the
            // waker cell again; it still holds its reference; the vtable matches.
            DropJoinHandle::DropWaker => unsafe {
                (self.header().vtable.drop_join_waker)(self.ptr)
            },
            // SAFETY: the task is complete and the handle still had interest, so the handle
            // owns the output; the vtable matches the allocation.
            DropJoinHandle::DropOutput => unsafe {
                (self.header().vtable.drop_join_handle_slow)(self.ptr)
            },
        }
    }

    /// Requests cancellation from any thread; the future is dropped by its scheduler.
    pub(super) fn remote_abort(self) {
        if self.header().state.transition_to_cancelled_remote() == WakeAction::Schedule {
            self.schedule();
        }
    }

    /// Cancels the task now if no thread owns its future. Must run on a thread allowed to drop
    /// the future (the runtime's own, during shutdown).
    pub(super) fn shutdown(self) {
        // SAFETY: the vtable matches the allocation; the caller holds a reference.
        unsafe { (self.header().vtable.shutdown)(self.ptr) }
    }
}

fn vtable<F: Future + 'static, S: Schedule>() -> &'static Vtable {
    &Vtable {
        run: run::<F, S>,
        schedule: schedule::<F, S>,
        dealloc: dealloc::<F, S>,
        try_read_output: try_read_output::<F, S>,
        drop_join_handle_slow: drop_join_handle_slow::<F, S>,
        drop_join_waker: drop_join_waker::<F, S>,
        shutdown: shutdown::<F, S>,
    }
}

/// # Safety
/// `ptr` must be the header of a live `Cell<F, S>`, and the caller must hold a reference for
/// the lifetime it picks.
unsafe fn cell<'a, F: Future, S>(ptr: NonNull<Header>) -> &'a Cell<F, S> {
    // SAFETY: `Cell` is `repr(C)` with the header first, so the header pointer is the cell
    // pointer; the caller guarantees type and liveness.
    unsafe { ptr.cast::<Cell<F, S>>().as_ref() }
}

unsafe fn run<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>, counters: &WorkerCounters) {
    // SAFETY: called through this cell's vtable; the caller gave us a queue entry's reference,
    // which keeps the cell alive until we drop or re-queue it.
    let cell = unsafe { cell::<F, S>(ptr) };
    cell.take_hand_off();
    match cell.header.state.transition_to_running() {
        TransitionToRunning::Poll { woken } => {
            counters.record_run(RunReport {
                polled: true,
                woken,
            });
            cell.poll(ptr);
        }
        TransitionToRunning::Cancel => cell.cancel_and_complete(ptr),
        TransitionToRunning::Skip { last_ref } => {
            if last_ref {
                // SAFETY: the entry's reference was the last one.
                unsafe { dealloc::<F, S>(ptr) };
            }
        }
    }
}

unsafe fn schedule<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: called through this cell's vtable with a reference the caller hands over.
    let cell = unsafe { cell::<F, S>(ptr) };
    // SAFETY: that reference now belongs to the queue entry.
    let entry = unsafe { Notified::from_raw(RawTask::from_raw(ptr)) };
    cell.hand_off();
    cell.scheduler.schedule(entry);
}

unsafe fn dealloc<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: called once, after the last reference was dropped, so nothing else can touch the
    // cell; it was allocated by `Box` in `RawTask::new` with this exact type.
    let cell = unsafe { Box::from_raw(ptr.cast::<Cell<F, S>>().as_ptr()) };
    // Under loom, writing every cell first makes loom check that each earlier access to them
    // happened before this free (the reference count's AcqRel is what orders them).
    #[cfg(loom)]
    {
        cell.handoff.with_mut(|_| ());
        cell.stage.with_mut(|_| ());
        cell.join_waker.with_mut(|_| ());
    }
    // The stage may still hold the output (nobody joined) or the future (never, after
    // shutdown); user `Drop` code must not unwind through the allocator.
    abort_on_panic(|| drop(cell));
}

unsafe fn try_read_output<F: Future + 'static, S: Schedule>(
    ptr: NonNull<Header>,
    dst: *mut (),
    waker: &Waker,
) {
    // SAFETY: called through the vtable by the join handle, which holds a reference.
    let cell = unsafe { cell::<F, S>(ptr) };
    if cell.join_handle_can_read_output(waker) {
        let output = cell.take_output();
        let dst = dst.cast::<Poll<Result<F::Output, JoinError>>>();
        // SAFETY: the join handle passes a pointer to a `Poll<Result<F::Output, JoinError>>`
        // (the contract of `RawTask::try_read_output`). Assigning drops the old `Pending`.
        unsafe { *dst = Poll::Ready(output) };
    }
}

unsafe fn drop_join_handle_slow<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: called through the vtable by the join handle, which holds a reference.
    let cell = unsafe { cell::<F, S>(ptr) };
    // The task is complete and the handle owns the output: drop it here, on the joiner's
    // thread, ignoring a panic in the output's destructor (nobody is left to receive it).
    let _ = cell.drop_stage();
    RawTask { ptr }.drop_reference();
}

unsafe fn drop_join_waker<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: called through the vtable by the join handle, which holds a reference.
    let cell = unsafe { cell::<F, S>(ptr) };
    // SAFETY: `State::drop_join_handle` cleared JOIN_WAKER (and the interest) before COMPLETE,
    // so the runtime will never read the cell: it is the handle's alone.
    let waker = cell.join_waker.with_mut(|slot| unsafe { (*slot).take() });
    // Dropped here, holding no lock: it may free the awaiting task and run its destructors.
    drop(waker);
    RawTask { ptr }.drop_reference();
}

unsafe fn shutdown<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: called through the vtable by the runtime, which holds the owned-list reference.
    let cell = unsafe { cell::<F, S>(ptr) };
    if cell.header.state.transition_to_shutdown() {
        // `transition_to_shutdown` gave us RUNNING, which `complete` consumes along with one
        // reference: take that reference now so the caller's own stays valid.
        cell.header.state.ref_inc();
        cell.cancel_and_complete(ptr);
    }
}

impl<F: Future + 'static, S: Schedule> Cell<F, S> {
    /// Polls the future once. We hold `RUNNING` and the poll's reference.
    fn poll(&self, ptr: NonNull<Header>) {
        // `task::id()` answers this task's id for the length of the poll.
        let _current = super::current::enter(self.header.id);
        // A waker that borrows the poll's reference instead of taking its own: it is only
        // lent to the future for this call, and `clone` makes counted ones.
        // SAFETY: the poll's reference keeps the task alive while `waker` exists, and
        // `ManuallyDrop` keeps its drop from releasing a reference it does not own.
        let waker = ManuallyDrop::new(unsafe { waker::from_header(ptr) });
        let polled = panic::catch_unwind(AssertUnwindSafe(|| {
            super::coop::with_budget(|| {
                let mut cx = Context::from_waker(&waker);
                self.stage.with_mut(|stage| {
                    // SAFETY: RUNNING gives this thread exclusive use of the stage; the future
                    // never moves out of the heap cell while it is `Running`, so pinning holds.
                    match unsafe { &mut *stage } {
                        Stage::Running(future) => {
                            unsafe { Pin::new_unchecked(future) }.poll(&mut cx)
                        }
                        _ => unreachable!("a task is polled only while its future is alive"),
                    }
                })
            })
        }));
        match polled {
            Ok(Poll::Pending) => match self.header.state.transition_to_idle() {
                TransitionToIdle::Idle => {}
                TransitionToIdle::Requeue => {
                    // SAFETY: the poll's reference now belongs to the new queue entry.
                    let entry = unsafe { Notified::from_raw(RawTask { ptr }) };
                    self.hand_off();
                    self.scheduler.yield_now(entry);
                }
                TransitionToIdle::Cancel => self.cancel_and_complete(ptr),
            },
            Ok(Poll::Ready(output)) => {
                // Drop the future before publishing its output, ignoring a panicking `Drop`:
                // the output is already the task's result.
                let _ = self.drop_stage();
                self.complete(ptr, Ok(output));
            }
            Err(payload) => {
                let _ = self.drop_stage();
                self.complete(ptr, Err(JoinError::panic(self.header.id, payload)));
            }
        }
    }

    /// Drops the future and completes with a cancelled (or panicked-on-drop) error. We hold
    /// `RUNNING` and one reference.
    fn cancel_and_complete(&self, ptr: NonNull<Header>) {
        let id = self.header.id;
        let result = match self.drop_stage() {
            Ok(()) => JoinError::cancelled(id),
            Err(payload) => JoinError::panic(id, payload),
        };
        self.complete(ptr, Err(result));
    }

    /// Stores the result, publishes completion, wakes the joiner, and gives up the poll's
    /// reference and the owned-list reference. We hold `RUNNING`.
    fn complete(&self, ptr: NonNull<Header>, result: Result<F::Output, JoinError>) {
        // SAFETY: RUNNING gives this thread exclusive use of the stage.
        self.stage
            .with_mut(|stage| unsafe { *stage = Stage::Finished(result) });
        let before = self.header.state.transition_to_complete();
        if !before.has_join_interest() {
            // Nobody will read the output: it is ours to drop.
            let _ = self.drop_stage();
        } else if before.has_join_waker() {
            // COMPLETE and JOIN_WAKER are both set: the handle no longer writes the cell.
            self.join_waker.with(|waker| {
                // SAFETY: see above; the handle stored `Some` before setting JOIN_WAKER.
                let waker = unsafe { &*waker };
                let _ = panic::catch_unwind(AssertUnwindSafe(|| {
                    waker.as_ref().expect("JOIN_WAKER set").wake_by_ref()
                }));
            });
        }
        // SAFETY: the owned-list reference exists until `release` hands it back.
        let this = mem::ManuallyDrop::new(unsafe { OwnedTask::from_raw(RawTask { ptr }) });
        let released = self.scheduler.release(&this);
        let references = 1 + usize::from(released.is_some());
        mem::forget(released);
        if self.header.state.ref_dec_by(references) {
            // SAFETY: those were the last references.
            unsafe { dealloc::<F, S>(ptr) };
        }
    }

    /// Whether the join handle may take the output now. If not, makes sure `waker` will be
    /// woken on completion.
    fn join_handle_can_read_output(&self, waker: &Waker) -> bool {
        let snapshot = self.header.state.load();
        if snapshot.is_complete() {
            return true;
        }
        // Not `register_waker`: the cell is shared with the runtime while JOIN_WAKER is set, so
        // the comparison and the replacement are split by the state word's transitions (and no
        // lock is held, so the old waker may be dropped in place).
        if snapshot.has_join_waker() {
            // The stored waker is shared with the runtime now; reading it is fine.
            // SAFETY: a shared read; the runtime only ever reads the cell too.
            let same = self
                .join_waker
                .with(|stored| unsafe { (*stored).as_ref().is_some_and(|w| w.will_wake(waker)) });
            if same {
                return false;
            }
            // Take the cell back before replacing the waker.
            if self.header.state.unset_join_waker().is_err() {
                return true;
            }
        }
        // JOIN_WAKER is clear: the cell is the handle's alone.
        // SAFETY: the runtime reads the cell only while JOIN_WAKER is set.
        self.join_waker
            .with_mut(|cell| unsafe { *cell = Some(waker.clone()) });
        match self.header.state.set_join_waker() {
            Ok(()) => false,
            Err(_) => {
                // Completed meanwhile, without seeing our waker: the cell is still ours.
                // SAFETY: as above, JOIN_WAKER was never set.
                self.join_waker.with_mut(|cell| unsafe { *cell = None });
                true
            }
        }
    }

    /// A queue entry for this task is being handed to a queue (loom: see `handoff`).
    #[inline(always)]
    fn hand_off(&self) {
        #[cfg(loom)]
        self.handoff.with_mut(|_| ());
    }

    /// A queue entry for this task was taken out of a queue to run (loom: see `handoff`).
    #[inline(always)]
    fn take_hand_off(&self) {
        #[cfg(loom)]
        self.handoff.with(|_| ());
    }

    fn take_output(&self) -> Result<F::Output, JoinError> {
        match self.take_stage() {
            Stage::Finished(output) => output,
            _ => panic!("JoinHandle polled after it returned its output"),
        }
    }

    /// Drops the future or the output, whichever the stage holds, catching a panic of its
    /// `Drop`. The caller must own the stage (see its field doc).
    ///
    /// `task::id()` answers this task's id during the drop, as during a poll (and as tokio
    /// does): a cancelled future's destructors (abort, runtime shutdown) and an output dropped
    /// by its `JoinHandle` see the task they belong to, whichever thread drops them.
    fn drop_stage(&self) -> std::thread::Result<()> {
        let _current = super::current::enter(self.header.id);
        panic::catch_unwind(AssertUnwindSafe(|| drop(self.take_stage())))
    }

    /// Takes the stage, leaving `Consumed`. The caller must own the stage (see its field doc).
    fn take_stage(&self) -> Stage<F> {
        // SAFETY: every caller owns the stage by the rule on the `stage` field.
        self.stage
            .with_mut(|stage| unsafe { mem::replace(&mut *stage, Stage::Consumed) })
    }
}

/// Runs `f`; if it panics, aborts the process. For user code (destructors) that runs where
/// unwinding would leave the task half-freed.
fn abort_on_panic<R>(f: impl FnOnce() -> R) -> R {
    struct AbortOnDrop;
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            std::process::abort();
        }
    }
    let guard = AbortOnDrop;
    let result = f();
    mem::forget(guard);
    result
}

/// Turns a panic payload into the message it carries, if it is a string.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}
