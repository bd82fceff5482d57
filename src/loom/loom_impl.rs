//! The model-checked build: loom's instrumented primitives under std's names.

#[allow(unused_imports)] // the shim offers what the crate may need
pub(crate) mod sync {
    pub(crate) use loom::sync::{
        Arc, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard,
        WaitTimeoutResult,
    };

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

/// `loom::thread_local!`, accepting (and dropping) std's `const { .. }` initialiser syntax,
/// which loom's macro does not parse.
macro_rules! loom_thread_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = const { $init:expr }; $($rest:tt)*) => {
        loom::thread_local!($(#[$attr])* $vis static $name: $t = $init;);
        $crate::loom::thread_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr; $($rest:tt)*) => {
        loom::thread_local!($(#[$attr])* $vis static $name: $t = $init;);
        $crate::loom::thread_local!($($rest)*);
    };
}
pub(crate) use loom_thread_local as thread_local;
