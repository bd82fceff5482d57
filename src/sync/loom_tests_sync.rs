//! Loom models of the waiting primitives (Semaphore, Mutex, RwLock, Notify, Barrier,
//! OnceCell, watch, broadcast), driven like the channel models in `loom_tests.rs`: by the
//! channels' own thread driver, so only the primitive's code is checked.
//!
//! Each central property has a negative control beside it: the same model with the step that
//! keeps the property skipped (a cancelled waiter forgotten instead of dropped, a notification
//! kind that stores no permit) must fail.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::task::{Context, Poll, Wake, Waker};

use super::{Mutex, Notify, RwLock, Semaphore};
use crate::loom::sync::Arc;
use crate::loom::thread;

fn block_on<F: Future>(future: F) -> F::Output {
    super::blocking::block_on("a loom model", future)
}

/// Polls `future` exactly once, with a loom-aware waker that stays registered.
fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    block_on(poll_fn(|cx| Poll::Ready(Pin::new(&mut *future).poll(cx))))
}

/// A waker that records whether it was woken; read only after the waking thread is joined.
#[derive(Default)]
struct WokenFlag(AtomicBool);

impl Wake for WokenFlag {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.store(true, SeqCst);
    }
}

fn flag_waker() -> (std::sync::Arc<WokenFlag>, Waker) {
    let flag = std::sync::Arc::new(WokenFlag::default());
    (flag.clone(), Waker::from(flag))
}

// ---------------------------------------------------------------- Semaphore

/// Two threads take the single permit in turn; both get through, never at once.
#[test]
fn loom_semaphore_two_acquirers_exclusive() {
    ::loom::model(|| {
        let semaphore = Arc::new(Semaphore::new(1));
        let inside = Arc::new(crate::loom::sync::atomic::AtomicUsize::new(0));
        let other = {
            let (semaphore, inside) = (semaphore.clone(), inside.clone());
            thread::spawn(move || {
                let _permit = block_on(semaphore.acquire()).unwrap();
                assert_eq!(inside.fetch_add(1, SeqCst), 0, "two holders at once");
                inside.fetch_sub(1, SeqCst);
            })
        };
        {
            let _permit = block_on(semaphore.acquire()).unwrap();
            assert_eq!(inside.fetch_add(1, SeqCst), 0, "two holders at once");
            inside.fetch_sub(1, SeqCst);
        }
        other.join().unwrap();
        assert_eq!(semaphore.available_permits(), 1);
    });
}

/// B (wants 2, holds the 1 free permit at the head) and then A (wants 1) wait. Another
/// thread adds a permit (which may complete B) while B is cancelled. A must be woken and get
/// a permit, and no permit may be lost.
fn semaphore_cancel_races_release(leak_cancelled: bool) {
    ::loom::model(move || {
        let semaphore = Arc::new(Semaphore::new(1));
        let (woken_a, waker_a) = flag_waker();
        let (_, waker_b) = flag_waker();
        let mut acquire_b = Box::pin(semaphore.acquire_permits(2));
        let mut acquire_a = Box::pin(semaphore.acquire_permits(1));
        assert!(acquire_b
            .as_mut()
            .poll(&mut Context::from_waker(&waker_b))
            .is_pending());
        assert!(acquire_a
            .as_mut()
            .poll(&mut Context::from_waker(&waker_a))
            .is_pending());
        let releaser = {
            let semaphore = semaphore.clone();
            thread::spawn(move || semaphore.add_permits(1))
        };
        if leak_cancelled {
            std::mem::forget(acquire_b); // a cancellation that skips the cleanup
        } else {
            drop(acquire_b);
        }
        releaser.join().unwrap();
        assert!(
            woken_a.0.load(SeqCst),
            "A was never woken: the cancelled waiter kept its permits"
        );
        let polled = acquire_a.as_mut().poll(&mut Context::from_waker(&waker_a));
        assert_eq!(polled, Poll::Ready(Ok(())));
        drop(acquire_a);
        // 2 permits in all, A holds 1 (never released: raw acquire).
        assert_eq!(semaphore.available_permits(), 1);
    });
}

#[test]
fn loom_semaphore_cancel_races_release() {
    semaphore_cancel_races_release(false);
}

/// Negative control: the same model catches a cancelled acquire that keeps what it was given.
#[test]
#[should_panic(expected = "A was never woken")]
fn loom_semaphore_cancel_races_release_negative_control() {
    semaphore_cancel_races_release(true);
}

/// `close` racing a waiter that holds part of its permits: the waiter fails, and the partial
/// permits go back to the semaphore.
#[test]
fn loom_semaphore_close_races_acquire() {
    ::loom::model(|| {
        let semaphore = Arc::new(Semaphore::new(1));
        let closer = {
            let semaphore = semaphore.clone();
            thread::spawn(move || semaphore.close())
        };
        assert!(block_on(semaphore.acquire_many(2)).is_err());
        closer.join().unwrap();
        assert_eq!(semaphore.available_permits(), 1);
        assert!(semaphore.try_acquire().is_err());
    });
}

// ---------------------------------------------------------------- Mutex, RwLock

/// Two threads increment through the guard with a read, a yield and a write: loom's
/// `UnsafeCell` tracking fails the model if the two accesses are ever unordered.
#[test]
fn loom_mutex_two_lockers_exclusive() {
    ::loom::model(|| {
        let mutex = Arc::new(Mutex::new(0));
        let increment = |mutex: &Mutex<usize>| {
            block_on(async {
                let mut guard = mutex.lock().await;
                let seen = *guard;
                thread::yield_now();
                *guard = seen + 1;
            })
        };
        let other = {
            let mutex = mutex.clone();
            thread::spawn(move || increment(&mutex))
        };
        increment(&mutex);
        other.join().unwrap();
        assert_eq!(*mutex.try_lock().unwrap(), 2);
    });
}

/// A reader and a writer race; the reader sees the value before or after the write, whole.
#[test]
fn loom_rwlock_reader_races_writer() {
    ::loom::model(|| {
        let lock = Arc::new(RwLock::new((0, 0)));
        let writer = {
            let lock = lock.clone();
            thread::spawn(move || {
                block_on(async {
                    let mut guard = lock.write().await;
                    guard.0 = 1;
                    thread::yield_now();
                    guard.1 = 1;
                })
            })
        };
        let seen = block_on(async { *lock.read().await });
        assert!(seen == (0, 0) || seen == (1, 1), "torn read {seen:?}");
        writer.join().unwrap();
        assert_eq!(*lock.try_read().unwrap(), (1, 1));
    });
}

// ---------------------------------------------------------------- Notify

/// A notification sent before, during or after the waiter starts waiting is kept.
/// `store_permit = false` is the negative control: `notify_waiters` stores no permit, so a
/// notification that comes before the wait is lost.
fn notify_before_wait_is_kept(store_permit: bool) {
    ::loom::model(move || {
        let notify = Arc::new(Notify::new());
        let notifier = {
            let notify = notify.clone();
            thread::spawn(move || {
                if store_permit {
                    notify.notify_one();
                } else {
                    notify.notify_waiters();
                }
            })
        };
        // loom does not on its own run the other thread before a plain atomic load; the
        // yield lets the notifier go first, as it can for real.
        thread::yield_now();
        let (woken, waker) = flag_waker();
        let mut notified = Box::pin(notify.notified());
        let first = notified.as_mut().poll(&mut Context::from_waker(&waker));
        notifier.join().unwrap();
        assert!(
            first.is_ready() || woken.0.load(SeqCst),
            "the notification was lost"
        );
        let second = notified.as_mut().poll(&mut Context::from_waker(&waker));
        assert!(second.is_ready());
    });
}

#[test]
fn loom_notify_one_before_wait_is_kept() {
    notify_before_wait_is_kept(true);
}

/// Negative control: without the stored permit the wake-up is lost.
#[test]
#[should_panic(expected = "the notification was lost")]
fn loom_notify_one_before_wait_is_kept_negative_control() {
    notify_before_wait_is_kept(false);
}

/// Two futures created before `notify_waiters` (one enabled, one never polled) both
/// complete; no permit is left behind.
#[test]
fn loom_notify_waiters_wakes_all_current() {
    ::loom::model(|| {
        let notify = Arc::new(Notify::new());
        let mut first = Box::pin(notify.notified());
        let second = notify.notified();
        assert!(!first.as_mut().enable());
        let notifier = {
            let notify = notify.clone();
            thread::spawn(move || notify.notify_waiters())
        };
        block_on(first);
        block_on(second);
        notifier.join().unwrap();
        // No permit was stored: a new waiter is pending.
        let mut third = Box::pin(notify.notified());
        assert!(poll_once(&mut third).is_pending());
    });
}

/// B and then A wait; `notify_one` (picking B) races B's cancellation. A must complete.
/// With B forgotten instead of dropped (the negative control), the notification dies with
/// it and A sleeps forever.
fn notify_cancelled_waiter_passes_it_on(leak_cancelled: bool) {
    ::loom::model(move || {
        let notify = Arc::new(Notify::new());
        let mut waiter_b = Box::pin(notify.notified());
        let mut waiter_a = Box::pin(notify.notified());
        assert!(!waiter_b.as_mut().enable());
        assert!(!waiter_a.as_mut().enable());
        let notifier = {
            let notify = notify.clone();
            thread::spawn(move || notify.notify_one())
        };
        if leak_cancelled {
            std::mem::forget(waiter_b);
        } else {
            drop(waiter_b);
        }
        notifier.join().unwrap();
        assert!(
            poll_once(&mut waiter_a).is_ready(),
            "A was never notified: the cancelled waiter kept the notification"
        );
    });
}

#[test]
fn loom_notify_cancelled_waiter_passes_it_on() {
    notify_cancelled_waiter_passes_it_on(false);
}

/// Negative control: a cancelled waiter that keeps its notification loses the wake-up.
#[test]
#[should_panic(expected = "A was never notified")]
fn loom_notify_cancelled_waiter_passes_it_on_negative_control() {
    notify_cancelled_waiter_passes_it_on(true);
}
