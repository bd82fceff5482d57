//! An async mutex: a [`Semaphore`] with one permit around an `UnsafeCell`.
//!
//! Holding the permit is what gives access to the value, so every property of the mutex is
//! one of the semaphore: waiters get the lock in FIFO order, a dropped `lock` future passes
//! its place (and the lock, if it had just been handed to it) on, and no waker is dropped
//! under a lock. The guard may be held across `.await` (unlike `std::sync::MutexGuard`).
//!
//! Loom models: `loom_mutex_two_lockers_exclusive`, and the semaphore's models.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use super::semaphore::Semaphore;
use crate::loom::cell::UnsafeCell;

/// An async mutual-exclusion lock, like `tokio::sync::Mutex`.
///
/// ```
/// use std::sync::Arc;
/// use spindle::sync::Mutex;
///
/// spindle::block_on(async {
///     let counter = Arc::new(Mutex::new(0));
///     let handles: Vec<_> = (0..4)
///         .map(|_| {
///             let counter = counter.clone();
///             spindle::spawn(async move {
///                 let mut guard = counter.lock().await;
///                 spindle::task::yield_now().await; // held across an await
///                 *guard += 1;
///             })
///         })
///         .collect();
///     for handle in handles {
///         handle.await.unwrap();
///     }
///     assert_eq!(*counter.lock().await, 4);
/// });
/// ```
pub struct Mutex<T> {
    semaphore: Semaphore,
    value: UnsafeCell<T>,
}

// SAFETY: the value is reached only through a guard, and a guard exists only while its owner
// holds the semaphore's single permit, so at most one thread accesses the value at a time;
// it may be a different thread each time, hence `T: Send` for both.
unsafe impl<T: Send> Send for Mutex<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Mutex<T> {}

/// The lock is held by someone else (`try_lock`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TryLockError(pub(super) ());

impl fmt::Display for TryLockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("operation would block")
    }
}

impl std::error::Error for TryLockError {}

impl<T> Mutex<T> {
    /// An unlocked mutex holding `value`.
    pub fn new(value: T) -> Mutex<T> {
        Mutex {
            semaphore: Semaphore::new(1),
            value: UnsafeCell::new(value),
        }
    }

    /// Waits for the lock, in FIFO order with the other waiters.
    ///
    /// Cancel safety: dropping the future gives up its place (and passes the lock on if it
    /// had been handed over).
    pub async fn lock(&self) -> MutexGuard<'_, T> {
        self.acquire().await;
        MutexGuard { mutex: self }
    }

    /// The lock if it is free and nobody waits for it.
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, TryLockError> {
        match self.semaphore.try_acquire_permits(1) {
            Ok(()) => Ok(MutexGuard { mutex: self }),
            Err(_) => Err(TryLockError(())),
        }
    }

    /// [`lock`](Self::lock) for a mutex in an `Arc`: the guard owns a reference, so it can
    /// move into another task.
    pub async fn lock_owned(self: Arc<Self>) -> OwnedMutexGuard<T> {
        self.acquire().await;
        OwnedMutexGuard { mutex: self }
    }

    /// [`try_lock`](Self::try_lock) with an owned guard.
    pub fn try_lock_owned(self: Arc<Self>) -> Result<OwnedMutexGuard<T>, TryLockError> {
        match self.semaphore.try_acquire_permits(1) {
            Ok(()) => Ok(OwnedMutexGuard { mutex: self }),
            Err(_) => Err(TryLockError(())),
        }
    }

    /// The value, without locking: `&mut self` proves nobody else holds the lock.
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` excludes every guard (they borrow the mutex or own an `Arc` to
        // it, and an `Arc`ed mutex is never reached by `&mut`).
        self.value.with_mut(|value| unsafe { &mut *value })
    }

    /// The value, consuming the mutex.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }

    async fn acquire(&self) {
        // The mutex's semaphore is never closed, so the acquire cannot fail.
        if self.semaphore.acquire_permits(1).await.is_err() {
            unreachable!("a mutex's semaphore is never closed");
        }
    }

    /// A shared pointer to the value; the caller holds the permit.
    fn value_ptr(&self) -> *const T {
        self.value.with(|value| value)
    }

    /// A unique pointer to the value; the caller holds the permit.
    fn value_mut_ptr(&self) -> *mut T {
        self.value.with_mut(|value| value)
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Mutex<T> {
        Mutex::new(value)
    }
}

impl<T: fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Mutex");
        match self.try_lock() {
            Ok(guard) => debug.field("data", &&*guard),
            Err(_) => debug.field("data", &format_args!("<locked>")),
        };
        debug.finish()
    }
}

/// Access to a [`Mutex`]'s value; unlocks when dropped.
#[must_use = "dropping the guard unlocks the mutex at once"]
pub struct MutexGuard<'a, T> {
    mutex: &'a Mutex<T>,
}

// SAFETY: sharing the guard shares `&T` across threads: needs `T: Sync` (the auto impl
// would only ask for the mutex's `T: Send`).
unsafe impl<T: Send + Sync> Sync for MutexGuard<'_, T> {}

impl<'a, T> MutexGuard<'a, T> {
    /// A guard for a part of the value (a field, an element), still holding the whole lock.
    pub fn map<U, F>(this: Self, f: F) -> MappedMutexGuard<'a, U>
    where
        F: FnOnce(&mut T) -> &mut U,
    {
        let semaphore = &this.mutex.semaphore;
        // SAFETY: the guard holds the permit: unique access to the value while `this` lives.
        let value = f(unsafe { &mut *this.mutex.value_mut_ptr() }) as *mut U;
        // The permit moves to the mapped guard.
        std::mem::forget(this);
        MappedMutexGuard {
            semaphore,
            value,
            _marker: PhantomData,
        }
    }

    /// The mutex this guard locks.
    pub fn mutex(this: &Self) -> &'a Mutex<T> {
        this.mutex
    }
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds the permit, so no `&mut T` exists elsewhere.
        unsafe { &*self.mutex.value_ptr() }
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the permit, and `&mut self` makes this the only reference.
        unsafe { &mut *self.mutex.value_mut_ptr() }
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.semaphore.release(1);
    }
}

impl<T: fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// A [`MutexGuard`] that owns an `Arc` of its mutex.
#[must_use = "dropping the guard unlocks the mutex at once"]
pub struct OwnedMutexGuard<T> {
    mutex: Arc<Mutex<T>>,
}

// SAFETY: as for `MutexGuard`.
unsafe impl<T: Send + Sync> Sync for OwnedMutexGuard<T> {}

impl<T> OwnedMutexGuard<T> {
    /// The mutex this guard locks.
    pub fn mutex(this: &Self) -> &Arc<Mutex<T>> {
        &this.mutex
    }
}

impl<T> Deref for OwnedMutexGuard<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds the permit.
        unsafe { &*self.mutex.value_ptr() }
    }
}

impl<T> DerefMut for OwnedMutexGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the permit, and `&mut self` makes this the only reference.
        unsafe { &mut *self.mutex.value_mut_ptr() }
    }
}

impl<T> Drop for OwnedMutexGuard<T> {
    fn drop(&mut self) {
        self.mutex.semaphore.release(1);
    }
}

impl<T: fmt::Debug> fmt::Debug for OwnedMutexGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// A guard for a part of a [`Mutex`]'s value, from [`MutexGuard::map`]; unlocks when
/// dropped.
#[must_use = "dropping the guard unlocks the mutex at once"]
pub struct MappedMutexGuard<'a, U> {
    semaphore: &'a Semaphore,
    /// Points into the locked value, valid while the permit is held (as long as `'a`).
    value: *mut U,
    _marker: PhantomData<&'a mut U>,
}

// SAFETY: the guard is an exclusive borrow of a `U` (`&mut U` is `Send` iff `U: Send`) plus
// a shared borrow of the semaphore (which is `Sync`).
unsafe impl<U: Send> Send for MappedMutexGuard<'_, U> {}
// SAFETY: sharing the guard shares `&U`.
unsafe impl<U: Sync> Sync for MappedMutexGuard<'_, U> {}

impl<'a, U> MappedMutexGuard<'a, U> {
    /// Maps further, to a part of the part.
    pub fn map<V, F>(this: Self, f: F) -> MappedMutexGuard<'a, V>
    where
        F: FnOnce(&mut U) -> &mut V,
    {
        let semaphore = this.semaphore;
        // SAFETY: the guard holds the permit and `value` points into the locked value.
        let value = f(unsafe { &mut *this.value }) as *mut V;
        std::mem::forget(this);
        MappedMutexGuard {
            semaphore,
            value,
            _marker: PhantomData,
        }
    }
}

impl<U> Deref for MappedMutexGuard<'_, U> {
    type Target = U;

    fn deref(&self) -> &U {
        // SAFETY: the guard holds the permit; `value` points into the locked value.
        unsafe { &*self.value }
    }
}

impl<U> DerefMut for MappedMutexGuard<'_, U> {
    fn deref_mut(&mut self) -> &mut U {
        // SAFETY: as for `deref`, and `&mut self` makes this the only reference.
        unsafe { &mut *self.value }
    }
}

impl<U> Drop for MappedMutexGuard<'_, U> {
    fn drop(&mut self) {
        self.semaphore.release(1);
    }
}

impl<U: fmt::Debug> fmt::Debug for MappedMutexGuard<'_, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
