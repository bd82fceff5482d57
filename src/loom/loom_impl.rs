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

        /// An atomic that the caller only ever writes and reads with `SeqCst`, starting at
        /// `value`. loom treats an atomic's initial value as a non-`SeqCst` store, which a
        /// `SeqCst` load may still read after newer `SeqCst` stores (so it explores every such
        /// stale read); the memory model forbids that read, since the initial value happens
        /// before every access by a thread that was handed the atomic. A `SeqCst` store of the
        /// same value right after creation, before anyone else can see the atomic, lets loom
        /// apply the rule. See DESIGN.md, "Loom" ("SeqCst words").
        pub(crate) fn seq_cst_usize(value: usize) -> AtomicUsize {
            let atomic = AtomicUsize::new(value);
            atomic.store(value, Ordering::SeqCst);
            atomic
        }
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
