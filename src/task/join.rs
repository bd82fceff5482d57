//! The join side: `JoinHandle<T>` and `JoinError`.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::raw::{panic_message, RawTask};
use super::Id;

/// An owned permission to await a spawned task's output, like `tokio::task::JoinHandle`.
///
/// Awaiting it yields `Ok(output)`, or a [`JoinError`] if the task panicked or was
/// cancelled. Dropping it *detaches* the task: it keeps running and its output is dropped.
/// A handle dropped after it was polled (it lost a `select!` or a `timeout`) releases the
/// waker it registered at once, so the task does not keep the awaiting task alive.
///
/// ```
/// let answer = spindle::block_on(async {
///     let handle = spindle::spawn(async { 6 * 7 });
///     handle.await.unwrap()
/// });
/// assert_eq!(answer, 42);
/// ```
pub struct JoinHandle<T> {
    raw: RawTask,
    _output: PhantomData<T>,
}

// SAFETY: the handle only moves the output `T` across threads (and the header is atomics), so
// it may be sent or shared when `T` may be sent.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` allows `abort`, `is_finished` and `id` only, which touch atomics.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> Unpin for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    /// # Safety
    /// `raw`'s output type must be `T`, and the caller gives the handle the join reference.
    pub(super) unsafe fn new(raw: RawTask) -> JoinHandle<T> {
        JoinHandle {
            raw,
            _output: PhantomData,
        }
    }

    /// The task pointer (for an [`AbortHandle`](super::AbortHandle), which counts its own
    /// reference).
    pub(super) fn raw(&self) -> RawTask {
        self.raw
    }

    /// Cancels the task. Its future is dropped the next time its runtime would run it (right
    /// away if it is idle); awaiting the handle then gives a cancelled [`JoinError`]. A task
    /// that already finished keeps its output.
    pub fn abort(&self) {
        self.raw.remote_abort();
    }

    /// Whether the task has finished (completed, panicked or been cancelled).
    pub fn is_finished(&self) -> bool {
        self.raw.header().state.load().is_complete()
    }

    /// The task's id, unique among the tasks of this process.
    pub fn id(&self) -> Id {
        self.raw.header().id
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        std::task::ready!(super::coop::poll_proceed(cx));
        let mut output: Poll<Result<T, JoinError>> = Poll::Pending;
        // SAFETY: this handle's task has output type `T` (set by `JoinHandle::new`), and
        // `output` is a valid `Poll<Result<T, JoinError>>`.
        unsafe {
            self.raw
                .try_read_output(&mut output as *mut _ as *mut (), cx.waker())
        };
        output
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        self.raw.drop_join_handle();
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id())
            .finish()
    }
}

/// Why a task produced no output: it panicked, or it was cancelled (by
/// [`JoinHandle::abort`] or because its runtime shut down).
pub struct JoinError {
    id: Id,
    repr: Repr,
}

enum Repr {
    Cancelled,
    /// A `std` mutex (not `crate::loom`: it guards no protocol) only so that `JoinError` is
    /// `Sync` although a panic payload is merely `Send`; it is locked only to read the
    /// message for `Display`/`Debug`, never contended in practice.
    Panic(std::sync::Mutex<Box<dyn Any + Send + 'static>>),
}

/// Reads the panic payload's message, if it is a string; a poisoned lock still holds the
/// payload (nothing panics while holding it).
fn with_panic_message<R>(
    payload: &std::sync::Mutex<Box<dyn Any + Send + 'static>>,
    f: impl FnOnce(Option<&str>) -> R,
) -> R {
    let payload = payload
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    f(panic_message(payload.as_ref()))
}

impl JoinError {
    pub(crate) fn cancelled(id: Id) -> JoinError {
        JoinError {
            id,
            repr: Repr::Cancelled,
        }
    }

    pub(crate) fn panic(id: Id, payload: Box<dyn Any + Send + 'static>) -> JoinError {
        JoinError {
            id,
            repr: Repr::Panic(std::sync::Mutex::new(payload)),
        }
    }

    /// The task was cancelled.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// The task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// The panic payload, to resume with `std::panic::resume_unwind`.
    ///
    /// # Panics
    /// If the task was cancelled rather than panicking; see [`try_into_panic`](Self::try_into_panic).
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        self.try_into_panic()
            .expect("`JoinError::into_panic` called on a cancelled task's error")
    }

    /// The panic payload, or the error back if the task was cancelled.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            Repr::Panic(payload) => Ok(payload
                .into_inner()
                .unwrap_or_else(|poisoned| poisoned.into_inner())),
            Repr::Cancelled => Err(self),
        }
    }

    /// The id of the task that failed.
    pub fn id(&self) -> Id {
        self.id
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => write!(f, "task {} was cancelled", self.id),
            Repr::Panic(payload) => with_panic_message(payload, |message| match message {
                Some(message) => write!(f, "task {} panicked with message {message:?}", self.id),
                None => write!(f, "task {} panicked", self.id),
            }),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => write!(f, "JoinError::Cancelled({:?})", self.id),
            Repr::Panic(payload) => with_panic_message(payload, |message| match message {
                Some(message) => write!(f, "JoinError::Panic({:?}, {message:?})", self.id),
                None => write!(f, "JoinError::Panic({:?}, ..)", self.id),
            }),
        }
    }
}

impl std::error::Error for JoinError {}

impl From<JoinError> for std::io::Error {
    fn from(error: JoinError) -> std::io::Error {
        std::io::Error::other(error.to_string())
    }
}
