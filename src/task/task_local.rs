//! Task-local values: [`task_local!`](crate::task_local), [`LocalKey`], [`TaskLocalFuture`].
//!
//! A task-local lives in a thread-local slot only while a future scoped with
//! [`LocalKey::scope`] is being polled (or dropped): each poll swaps the value in, polls, and
//! swaps it back out, so the value follows the future across threads and never leaks into
//! other tasks polled on the same thread.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Declares task-local keys, like `tokio::task_local!`.
///
/// ```
/// spindle::task_local! {
///     static REQUEST_ID: u32;
/// }
///
/// spindle::block_on(async {
///     REQUEST_ID
///         .scope(7, async {
///             assert_eq!(REQUEST_ID.get(), 7);
///             spindle::task::yield_now().await;
///             REQUEST_ID.with(|id| assert_eq!(*id, 7));
///         })
///         .await;
///     assert!(REQUEST_ID.try_with(|_| ()).is_err());
/// });
/// ```
#[macro_export]
macro_rules! task_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty; $($rest:tt)*) => {
        $(#[$attr])*
        $vis static $name: $crate::task::LocalKey<$t> = {
            ::std::thread_local! {
                static __SPINDLE_TASK_LOCAL: ::core::cell::RefCell<::core::option::Option<$t>> =
                    const { ::core::cell::RefCell::new(::core::option::Option::None) };
            }
            $crate::task::LocalKey::__new(__SPINDLE_TASK_LOCAL)
        };
        $crate::task_local!($($rest)*);
    };
}

/// A task-local key, declared with [`task_local!`](crate::task_local).
pub struct LocalKey<T: 'static> {
    inner: std::thread::LocalKey<RefCell<Option<T>>>,
}

/// Returned by [`LocalKey::try_with`] outside a scope of the key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AccessError(());

impl fmt::Debug for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessError")
    }
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task-local value not set: not inside a scope of this key")
    }
}

impl std::error::Error for AccessError {}

/// Why entering a scope failed: the key's value is borrowed by an enclosing `with`.
const BORROWED: &str = "cannot enter a task-local scope while the task-local value is borrowed \
                        (a `with` closure of the same key is running)";

impl<T: 'static> LocalKey<T> {
    #[doc(hidden)]
    pub const fn __new(inner: std::thread::LocalKey<RefCell<Option<T>>>) -> LocalKey<T> {
        LocalKey { inner }
    }

    /// Runs `future` with the key set to `value` during each of its polls (and its drop).
    pub fn scope<F: Future>(&'static self, value: T, future: F) -> TaskLocalFuture<T, F> {
        TaskLocalFuture {
            key: self,
            slot: Some(value),
            // Boxed so the wrapper needs no unsafe pin projection.
            future: Some(Box::pin(future)),
        }
    }

    /// Runs `f` with the key set to `value`.
    ///
    /// # Panics
    /// Inside a `with` closure of the same key.
    pub fn sync_scope<F, R>(&'static self, value: T, f: F) -> R
    where
        F: FnOnce() -> R,
    {
        let mut slot = Some(value);
        self.enter(&mut slot, f)
    }

    /// Swaps `slot` into the thread-local for the length of `f`, then back, even if `f`
    /// panics.
    fn enter<R>(&'static self, slot: &mut Option<T>, f: impl FnOnce() -> R) -> R {
        struct SwapBack<'a, T: 'static> {
            key: &'static LocalKey<T>,
            slot: &'a mut Option<T>,
        }
        impl<T: 'static> Drop for SwapBack<'_, T> {
            fn drop(&mut self) {
                let slot = &mut *self.slot;
                let _ = self.key.inner.try_with(|cell| {
                    if let Ok(mut current) = cell.try_borrow_mut() {
                        std::mem::swap(slot, &mut *current);
                    }
                });
            }
        }
        self.inner.with(|cell| {
            let mut current = cell.try_borrow_mut().expect(BORROWED);
            std::mem::swap(slot, &mut *current);
        });
        let _back = SwapBack { key: self, slot };
        f()
    }

    /// Calls `f` with a reference to the current value.
    ///
    /// # Panics
    /// Outside a scope of this key.
    #[track_caller]
    pub fn with<F, R>(&'static self, f: F) -> R
    where
        F: FnOnce(&T) -> R,
    {
        match self.try_with(f) {
            Ok(result) => result,
            Err(_) => panic!(
                "cannot access a task-local value outside a scope of its key: wrap the code in \
                 `KEY.scope(value, future)` or `KEY.sync_scope(value, f)`"
            ),
        }
    }

    /// Calls `f` with a reference to the current value, or returns an error outside a scope.
    pub fn try_with<F, R>(&'static self, f: F) -> Result<R, AccessError>
    where
        F: FnOnce(&T) -> R,
    {
        self.inner
            .try_with(|cell| {
                let current = cell.borrow();
                current.as_ref().map(f).ok_or(AccessError(()))
            })
            .unwrap_or(Err(AccessError(())))
    }

    /// A copy of the current value.
    ///
    /// # Panics
    /// Outside a scope of this key.
    #[track_caller]
    pub fn get(&'static self) -> T
    where
        T: Clone,
    {
        self.with(T::clone)
    }
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKey").finish_non_exhaustive()
    }
}

/// A future with a task-local value set during its polls, from [`LocalKey::scope`].
pub struct TaskLocalFuture<T: 'static, F> {
    key: &'static LocalKey<T>,
    /// The value while the future is not being polled.
    slot: Option<T>,
    future: Option<Pin<Box<F>>>,
}

// Nothing is pinned in place: the inner future is boxed, and the value is only swapped.
impl<T: 'static, F> Unpin for TaskLocalFuture<T, F> {}

impl<T: 'static, F: Future> Future for TaskLocalFuture<T, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let key = this.key;
        let future = this
            .future
            .as_mut()
            .expect("a TaskLocalFuture polled after it completed");
        let polled = key.enter(&mut this.slot, || future.as_mut().poll(cx));
        if polled.is_ready() {
            // Drop the inner future inside the scope, as its polls were.
            let future = this.future.take();
            key.enter(&mut this.slot, || drop(future));
        }
        polled
    }
}

impl<T: 'static, F> Drop for TaskLocalFuture<T, F> {
    /// Drops an unfinished inner future with its task-local set, so its destructors see it.
    fn drop(&mut self) {
        if let Some(future) = self.future.take() {
            let key = self.key;
            let entered = key.inner.try_with(|cell| cell.try_borrow_mut().is_ok());
            if entered == Ok(true) {
                key.enter(&mut self.slot, || drop(future));
            }
        }
    }
}

impl<T: 'static, F> fmt::Debug for TaskLocalFuture<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskLocalFuture").finish_non_exhaustive()
    }
}
