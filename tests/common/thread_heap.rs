//! A global allocator that counts the live and peak heap bytes of each thread, for tests
//! that check a decoder never allocates out of proportion to its input. Frees are charged
//! to the freeing thread; the decoders allocate and free on one thread.
//!
//! A test binary includes it with `#[path = "common/thread_heap.rs"] mod thread_heap;`
//! and installs it with `#[global_allocator] static ALLOC: thread_heap::CountingAlloc =
//! thread_heap::CountingAlloc;`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

pub struct CountingAlloc;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn charge(delta: isize) {
    // `try_with`: allocations during thread teardown are not counted.
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call is forwarded to `System` unchanged; the counting touches only
// const-initialised thread-locals without destructors, which never allocate.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            charge(layout.size() as isize);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            charge(layout.size() as isize);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) };
        charge(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's arguments.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            charge(new_size as isize - layout.size() as isize);
        }
        new
    }
}

/// Runs `f` and returns its result with the peak bytes it had live at once (above what was
/// live when it started).
pub fn peak_bytes<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|peak| peak.set(base));
    let result = f();
    let peak = PEAK.with(Cell::get) - base;
    (result, peak.max(0) as usize)
}

/// Runs `decode` (which reads `input_len` bytes as a `what`) and checks that its peak
/// allocation stays within `per_byte` bytes per input byte plus a small constant (error
/// messages, the odd small vector).
pub fn decode_within<R>(
    what: &str,
    input_len: usize,
    per_byte: usize,
    decode: impl FnOnce() -> R,
) -> R {
    let (result, peak) = peak_bytes(decode);
    let bound = per_byte * input_len + 1024;
    assert!(
        peak <= bound,
        "decoding {input_len} bytes as {what} allocated {peak} bytes at peak (bound {bound})"
    );
    result
}
