//! Heap bytes per idle spawned task, spindle against tokio (both multi-thread, 2 workers).
//!
//! A counting `#[global_allocator]` wraps the system allocator. For each runtime: a task
//! spawns [`TASKS`] tasks that each signal a countdown and then wait forever (their join
//! handles are dropped); once all have been polled and are idle, the growth of live heap
//! bytes (allocated minus freed) and of allocation calls since just before the spawns,
//! divided by [`TASKS`], is the cost of one idle task. It includes the task allocation and
//! whatever the runtime keeps per task or grows for a burst of spawns (the owned-tasks set,
//! run-queue overflow storage), since both are paid for by spawning.
//!
//! Prints one line per runtime:
//! `alloc_per_task <runtime> bytes_per_task <b> allocs_per_task <a> future_bytes <f>`.
//!
//! Run: `cargo bench --bench alloc_per_task`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::pending;
use std::sync::atomic::{AtomicUsize, Ordering::*};
use std::sync::Arc;

#[path = "common/countdown.rs"]
mod countdown;
use countdown::Countdown;

/// Idle tasks spawned per runtime.
const TASKS: usize = 10_000;
const WORKERS: usize = 2;

/// The system allocator, counting.
struct Counting;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);
static FREED: AtomicUsize = AtomicUsize::new(0);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to `System`, which upholds `GlobalAlloc`'s
// contract; the counters have no effect on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size(), Relaxed);
        ALLOCATIONS.fetch_add(1, Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        FREED.fetch_add(layout.size(), Relaxed);
        // SAFETY: `ptr` came from `System` (through `alloc`/`realloc` above) with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATED.fetch_add(new_size, Relaxed);
        FREED.fetch_add(layout.size(), Relaxed);
        ALLOCATIONS.fetch_add(1, Relaxed);
        // SAFETY: forwarded with the caller's pointer, layout and size.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Live heap bytes and allocation calls so far.
fn snapshot() -> (isize, usize) {
    let live = ALLOCATED.load(SeqCst) as isize - FREED.load(SeqCst) as isize;
    (live, ALLOCATIONS.load(SeqCst))
}

/// An idle task's future: signal, then wait forever.
async fn idle_task(countdown: Arc<Countdown>) {
    countdown.done_one();
    pending::<()>().await
}

macro_rules! measure {
    ($name:literal, $rt:expr, spawn = $spawn:path) => {{
        let rt = $rt;
        // Start the workers and the driver before counting.
        rt.block_on(async { $spawn(async {}).await.unwrap() });
        let countdown = Countdown::new(TASKS);
        let (live_before, allocations_before) = snapshot();
        rt.block_on(async {
            let spawner = countdown.clone();
            $spawn(async move {
                for _ in 0..TASKS {
                    drop($spawn(idle_task(spawner.clone())));
                }
            });
            countdown.wait().await;
        });
        let (live_after, allocations_after) = snapshot();
        println!(
            "alloc_per_task {} bytes_per_task {:.1} allocs_per_task {:.3} future_bytes {}",
            $name,
            (live_after - live_before) as f64 / TASKS as f64,
            (allocations_after - allocations_before) as f64 / TASKS as f64,
            std::mem::size_of_val(&idle_task(countdown.clone())),
        );
        drop(rt);
    }};
}

fn main() {
    measure!(
        "spindle",
        spindle::runtime::Builder::new_multi_thread()
            .worker_threads(WORKERS)
            .build()
            .unwrap(),
        spawn = spindle::spawn
    );
    measure!(
        "tokio",
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKERS)
            .enable_all()
            .build()
            .unwrap(),
        spawn = tokio::spawn
    );
}
