//! The `RawWaker` vtable. A waker is a pointer to the task header plus one reference: no
//! allocation of its own.

use std::ptr::NonNull;
use std::task::{RawWaker, RawWakerVTable, Waker};

use super::raw::{Header, RawTask};
use super::state::WakeAction;

static WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(clone_waker, wake_by_val, wake_by_ref, drop_waker);

/// Makes a waker for the task at `header` without taking a reference.
///
/// # Safety
/// The caller must either own a reference that the waker may consume (when it is dropped or
/// woken), or keep the waker in a `ManuallyDrop` while it holds a reference of its own.
pub(super) unsafe fn from_header(header: NonNull<Header>) -> Waker {
    let raw = RawWaker::new(header.as_ptr() as *const (), &WAKER_VTABLE);
    // SAFETY: the four functions below uphold the `RawWaker` contract for this data pointer:
    // each one is called with a pointer made here, whose reference the caller accounted for.
    unsafe { Waker::from_raw(raw) }
}

/// # Safety
/// `data` must come from `from_header`, and its waker must own (or borrow) a reference.
unsafe fn task(data: *const ()) -> RawTask {
    // SAFETY: `data` is a non-null header pointer (see `from_header`), alive while the waker
    // that passed it exists.
    unsafe { RawTask::from_raw(NonNull::new_unchecked(data as *mut Header)) }
}

unsafe fn clone_waker(data: *const ()) -> RawWaker {
    // SAFETY: called on a live waker.
    let task = unsafe { task(data) };
    task.header().state.ref_inc();
    RawWaker::new(data, &WAKER_VTABLE)
}

unsafe fn wake_by_val(data: *const ()) {
    // SAFETY: called on a live waker, which gives up its reference here.
    let task = unsafe { task(data) };
    match task.header().state.transition_to_notified_by_val() {
        WakeAction::Nothing => {}
        // The waker's reference becomes the queue entry's.
        WakeAction::Schedule => task.schedule(),
        // SAFETY: the waker's reference was the last one.
        WakeAction::Dealloc => unsafe { task.dealloc() },
    }
}

unsafe fn wake_by_ref(data: *const ()) {
    // SAFETY: called on a live waker, which keeps its reference.
    let task = unsafe { task(data) };
    if task.header().state.transition_to_notified_by_ref() == WakeAction::Schedule {
        // The transition took a new reference for the queue entry.
        task.schedule();
    }
}

unsafe fn drop_waker(data: *const ()) {
    // SAFETY: called on a live waker, which gives up its reference here.
    let task = unsafe { task(data) };
    task.drop_reference();
}
