//! The ordinary build: `std`, plus an `UnsafeCell` with loom's access API.

#[allow(unused_imports)] // the shim offers what the crate may need
pub(crate) mod sync {
    pub(crate) use std::sync::{
        Arc, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard,
        WaitTimeoutResult,
    };

    #[allow(unused_imports)]
    pub(crate) mod atomic {
        pub(crate) use std::sync::atomic::{
            fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
        };

        /// An atomic only ever accessed with `SeqCst`; in this build, just `new` (the loom
        /// build's copy explains why it differs there).
        #[inline(always)]
        pub(crate) const fn seq_cst_usize(value: usize) -> AtomicUsize {
            AtomicUsize::new(value)
        }
    }
}

pub(crate) mod cell {
    /// `std::cell::UnsafeCell` with the closure-based access API of loom's copy.
    #[derive(Debug, Default)]
    #[repr(transparent)]
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> UnsafeCell<T> {
            UnsafeCell(std::cell::UnsafeCell::new(value))
        }

        /// The value, consuming the cell.
        #[allow(dead_code)] // used by some primitives only
        pub(crate) fn into_inner(self) -> T {
            self.0.into_inner()
        }

        /// Hands `f` a shared pointer to the value; the caller's protocol must rule out a
        /// concurrent `with_mut`.
        #[inline(always)]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Hands `f` a unique pointer to the value; the caller's protocol must rule out any
        /// concurrent access.
        #[inline(always)]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

#[allow(unused_imports)]
pub(crate) mod thread {
    pub(crate) use std::thread::{current, panicking, spawn, yield_now, Builder, JoinHandle};
}

pub(crate) use std::thread_local;
