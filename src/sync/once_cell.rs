//! A cell written once, with async initialisation.
//!
//! An `initialized` flag (an atomic) says the value is in place; a [`Semaphore`] with one
//! permit elects the one initialiser. Whoever holds the permit runs its init future; if that
//! future is cancelled or fails, the permit drops and the next waiter (FIFO) tries its own.
//! On success the value is written, the flag set with `Release`, and the semaphore *closed*,
//! which fails every waiting and later acquire: those callers then read the value (the flag
//! is read with `Acquire`). So readers after the first initialisation never lock anything.
//!
//! Loom models: `loom_once_cell_one_initialiser`, `loom_once_cell_cancelled_init_passes_on`
//! (with a negative control).

use std::fmt;
use std::future::Future;

use super::semaphore::Semaphore;
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{
    AtomicBool,
    Ordering::{Acquire, Release},
};

/// A thread-safe cell initialised at most once, like `tokio::sync::OnceCell`.
///
/// ```
/// use spindle::sync::OnceCell;
///
/// spindle::block_on(async {
///     let cell = OnceCell::new();
///     let value = cell.get_or_init(|| async { 42 }).await;
///     assert_eq!(*value, 42);
///     assert_eq!(cell.get(), Some(&42));
///     assert!(cell.set(7).is_err()); // already set
/// });
/// ```
pub struct OnceCell<T> {
    initialized: AtomicBool,
    value: UnsafeCell<Option<T>>,
    /// One permit: the right to initialise. Closed once the value is set.
    semaphore: Semaphore,
}

// SAFETY: the value is written once, by the permit holder before `initialized` is set
// (Release), and only read after `initialized` is seen (Acquire): `T` moves to the writing
// thread's cell (`Send`) and is shared by reference afterwards (`Sync`).
unsafe impl<T: Send + Sync> Sync for OnceCell<T> {}
// SAFETY: moving the cell moves the `T`.
unsafe impl<T: Send> Send for OnceCell<T> {}

/// Why [`OnceCell::set`] failed; holds the value.
#[derive(PartialEq, Eq)]
pub enum SetError<T> {
    /// The cell already holds a value.
    AlreadyInitializedError(T),
    /// Another task is initialising the cell right now.
    InitializingError(T),
}

impl<T> SetError<T> {
    /// Whether the cell already held a value.
    pub fn is_already_init_err(&self) -> bool {
        matches!(self, SetError::AlreadyInitializedError(_))
    }

    /// Whether another task was initialising the cell.
    pub fn is_initializing_err(&self) -> bool {
        matches!(self, SetError::InitializingError(_))
    }
}

impl<T> fmt::Debug for SetError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetError::AlreadyInitializedError(_) => f.write_str("AlreadyInitializedError(..)"),
            SetError::InitializingError(_) => f.write_str("InitializingError(..)"),
        }
    }
}

impl<T> fmt::Display for SetError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetError::AlreadyInitializedError(_) => f.write_str("cell already initialized"),
            SetError::InitializingError(_) => f.write_str("cell is being initialized"),
        }
    }
}

impl<T> std::error::Error for SetError<T> {}

impl<T> OnceCell<T> {
    /// An empty cell.
    pub fn new() -> OnceCell<T> {
        OnceCell {
            initialized: AtomicBool::new(false),
            value: UnsafeCell::new(None),
            semaphore: Semaphore::new(1),
        }
    }

    /// A cell holding `value` already (or empty for `None`).
    pub fn new_with(value: Option<T>) -> OnceCell<T> {
        let cell = OnceCell::new();
        if let Some(value) = value {
            if cell.set(value).is_err() {
                unreachable!("a new cell is empty and nobody initialises it");
            }
        }
        cell
    }

    /// Whether the cell holds a value.
    pub fn initialized(&self) -> bool {
        self.initialized.load(Acquire)
    }

    /// The value, if set.
    pub fn get(&self) -> Option<&T> {
        if self.initialized() {
            // SAFETY: `initialized` was seen with Acquire: the value was written before
            // (Release) and is never written again while `&self` lives.
            self.value.with(|value| unsafe { (*value).as_ref() })
        } else {
            None
        }
    }

    /// The value, mutably: `&mut self` proves nobody else reads it.
    pub fn get_mut(&mut self) -> Option<&mut T> {
        // SAFETY: `&mut self` excludes every other access.
        self.value.with_mut(|value| unsafe { (*value).as_mut() })
    }

    /// Sets the value if the cell is empty and nobody is initialising it.
    pub fn set(&self, value: T) -> Result<(), SetError<T>> {
        if self.initialized() {
            return Err(SetError::AlreadyInitializedError(value));
        }
        match self.semaphore.try_acquire_permits(1) {
            Ok(()) => {
                self.store(value);
                Ok(())
            }
            Err(super::TryAcquireError::Closed) => Err(SetError::AlreadyInitializedError(value)),
            Err(super::TryAcquireError::NoPermits) => Err(SetError::InitializingError(value)),
        }
    }

    /// The value, initialising it with `init` first if the cell is empty. If several tasks
    /// call this at once, one runs its `init` and the others wait for it.
    ///
    /// Cancel safety: if the initialising call is cancelled, the next waiting caller runs its
    /// own `init`.
    pub async fn get_or_init<F, Fut>(&self, init: F) -> &T
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        match self
            .get_or_try_init(|| async { Ok::<T, std::convert::Infallible>(init().await) })
            .await
        {
            Ok(value) => value,
            Err(never) => match never {},
        }
    }

    /// Like [`get_or_init`](Self::get_or_init) with a fallible `init`: an error leaves the
    /// cell empty (the next waiting caller tries) and is returned.
    pub async fn get_or_try_init<E, F, Fut>(&self, init: F) -> Result<&T, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if let Some(value) = self.get() {
            return Ok(value);
        }
        // An error here means the semaphore closed: the value is in place.
        if self.semaphore.acquire_permits(1).await.is_ok() {
            // Gives the permit back if `init` fails or this future is dropped.
            let permit = PermitGuard(&self.semaphore);
            if !self.initialized() {
                let value = init().await?;
                self.store(value);
            }
            drop(permit);
        }
        Ok(self
            .get()
            .expect("the semaphore closes only after the value is set"))
    }

    /// Writes the value; the caller holds the permit and the cell is empty.
    fn store(&self, value: T) {
        // SAFETY: the permit holder is the only writer, `initialized` is still false so no
        // reader looks at the cell.
        self.value.with_mut(|cell| unsafe { *cell = Some(value) });
        self.initialized.store(true, Release);
        // Fail every waiting acquire: they read the value instead.
        self.semaphore.close();
    }

    /// The value, consuming the cell.
    pub fn into_inner(self) -> Option<T> {
        self.value.into_inner()
    }

    /// Takes the value out, leaving the cell empty.
    pub fn take(&mut self) -> Option<T> {
        std::mem::take(self).into_inner()
    }
}

/// Returns the initialisation permit on drop (failure or cancellation); after a successful
/// store the semaphore is closed and the returned permit is merely counted.
struct PermitGuard<'a>(&'a Semaphore);

impl Drop for PermitGuard<'_> {
    fn drop(&mut self) {
        self.0.release(1);
    }
}

impl<T> Default for OnceCell<T> {
    fn default() -> OnceCell<T> {
        OnceCell::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceCell<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnceCell")
            .field("value", &self.get())
            .finish()
    }
}

impl<T> From<T> for OnceCell<T> {
    fn from(value: T) -> OnceCell<T> {
        OnceCell::new_with(Some(value))
    }
}
