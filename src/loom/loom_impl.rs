//! The model-checked build: loom's instrumented primitives under std's names.

#[allow(unused_imports)] // the shim offers what the crate may need
pub(crate) mod sync {
    pub(crate) use loom::sync::{Arc, Condvar, Mutex, MutexGuard, WaitTimeoutResult};

    #[allow(unused_imports)]
    pub(crate) mod atomic {
        pub(crate) use loom::sync::atomic::{
            fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
        };
    }
}

pub(crate) mod cell {
    pub(crate) use loom::cell::UnsafeCell;
}

#[allow(unused_imports)]
pub(crate) mod thread {
    pub(crate) use loom::thread::{current, spawn, yield_now, Builder, JoinHandle};
    pub(crate) use std::thread::panicking;
}

pub(crate) use loom::thread_local;
