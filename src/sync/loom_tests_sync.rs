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

// ---------------------------------------------------------------- Barrier

/// Two parties arrive at a barrier of `n`, one on another thread (polling once, then
/// leaving: its arrival still counts). With `n = 2` the main party is released (at once as
/// the leader, or woken) and exactly one of the two leads. The negative control (`n = 3`, a
/// party missing) must be caught by the same check: the main party is never released.
fn barrier_releases_everyone(n: usize) {
    ::loom::model(move || {
        let barrier = Arc::new(super::Barrier::new(n));
        let other = {
            let barrier = barrier.clone();
            thread::spawn(move || {
                let mut wait = Box::pin(barrier.wait());
                match poll_once(&mut wait) {
                    Poll::Ready(result) => Some(result.is_leader()),
                    Poll::Pending => None,
                }
            })
        };
        let (woken, waker) = flag_waker();
        let mut mine = Box::pin(barrier.wait());
        let first = mine.as_mut().poll(&mut Context::from_waker(&waker));
        let other_led = other.join().unwrap();
        let mine = match first {
            Poll::Ready(result) => result,
            Poll::Pending => {
                assert!(woken.0.load(SeqCst), "a waiter was never released");
                match mine.as_mut().poll(&mut Context::from_waker(&waker)) {
                    Poll::Ready(result) => result,
                    Poll::Pending => panic!("woken but not released"),
                }
            }
        };
        let leaders = mine.is_leader() as usize + (other_led == Some(true)) as usize;
        assert_eq!(leaders, 1, "exactly one leader");
    });
}

#[test]
fn loom_barrier_one_leader_per_generation() {
    barrier_releases_everyone(2);
}

/// Negative control: with a party missing nobody is released, and the model says so.
#[test]
#[should_panic(expected = "a waiter was never released")]
fn loom_barrier_one_leader_per_generation_negative_control() {
    barrier_releases_everyone(3);
}

// ---------------------------------------------------------------- OnceCell

/// A future that is pending once (waking itself), then ready with `value`.
struct PendingOnce(Option<u32>, bool);

impl Future for PendingOnce {
    type Output = u32;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        if !self.1 {
            self.1 = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(self.0.take().expect("polled after completion"))
    }
}

/// Two threads race `get_or_init`: one init runs, both see its value.
#[test]
fn loom_once_cell_one_initialiser() {
    ::loom::model(|| {
        let cell = Arc::new(super::OnceCell::new());
        let inits = Arc::new(crate::loom::sync::atomic::AtomicUsize::new(0));
        let init =
            |cell: &super::OnceCell<u32>, inits: &crate::loom::sync::atomic::AtomicUsize, id| {
                *block_on(cell.get_or_init(|| {
                    inits.fetch_add(1, SeqCst);
                    PendingOnce(Some(id), false)
                }))
            };
        let other = {
            let (cell, inits) = (cell.clone(), inits.clone());
            thread::spawn(move || init(&cell, &inits, 1))
        };
        let mine = init(&cell, &inits, 2);
        let theirs = other.join().unwrap();
        assert_eq!(mine, theirs);
        assert_eq!(inits.load(SeqCst), 1, "init ran twice");
    });
}

/// A's init is under way (it holds the permit) when A is cancelled on another thread, while
/// B waits: B must be woken and run its own init. Forgetting A instead (the negative
/// control) keeps the permit and B waits forever.
fn once_cell_cancelled_init_passes_on(leak_cancelled: bool) {
    ::loom::model(move || {
        let cell = Arc::new(super::OnceCell::<u32>::new());
        let (_, waker_a) = flag_waker();
        let cell_a = cell.clone();
        let mut init_a =
            Box::pin(async move { *cell_a.get_or_init(|| PendingOnce(Some(1), false)).await });
        assert!(init_a
            .as_mut()
            .poll(&mut Context::from_waker(&waker_a))
            .is_pending());
        let (woken_b, waker_b) = flag_waker();
        let mut init_b = Box::pin(cell.get_or_init(|| async { 2 }));
        let first = init_b.as_mut().poll(&mut Context::from_waker(&waker_b));
        assert!(first.is_pending(), "A holds the permit");
        let canceller = thread::spawn(move || {
            if leak_cancelled {
                std::mem::forget(init_a);
            } else {
                drop(init_a);
            }
        });
        canceller.join().unwrap();
        assert!(
            woken_b.0.load(SeqCst),
            "B was never woken: the cancelled init kept the permit"
        );
        let second = init_b.as_mut().poll(&mut Context::from_waker(&waker_b));
        assert_eq!(second, Poll::Ready(&2));
    });
}

#[test]
fn loom_once_cell_cancelled_init_passes_on() {
    once_cell_cancelled_init_passes_on(false);
}

/// Negative control: an init that is cancelled without cleanup blocks the next caller.
#[test]
#[should_panic(expected = "B was never woken")]
fn loom_once_cell_cancelled_init_passes_on_negative_control() {
    once_cell_cancelled_init_passes_on(true);
}

// ---------------------------------------------------------------- watch

/// The sender sends and drops while the receiver waits in `changed`: the receiver sees the
/// last value and then the close, and never sleeps through either.
#[test]
fn loom_watch_send_races_changed() {
    ::loom::model(|| {
        let (tx, mut rx) = super::watch::channel(0);
        let sender = thread::spawn(move || {
            tx.send(1).unwrap();
            drop(tx);
        });
        let mut changes = 0;
        while block_on(rx.changed()).is_ok() {
            changes += 1;
        }
        assert!(changes <= 1);
        assert_eq!(*rx.borrow(), 1, "the last value is seen");
        sender.join().unwrap();
    });
}

/// A receiver waits in `changed` while the sender, kept alive, sends once: the send itself
/// must wake it (a close cannot stand in for the missing wake: the sender is dropped only
/// after the receiver saw the value). A lost wake leaves the receiver parked: loom reports
/// the deadlock.
#[test]
fn loom_watch_send_wakes_a_waiting_receiver() {
    ::loom::model(|| {
        let (tx, mut rx) = super::watch::channel(0);
        let sender = thread::spawn(move || {
            tx.send(1).unwrap();
            tx
        });
        block_on(rx.changed()).unwrap();
        assert_eq!(*rx.borrow(), 1);
        drop(sender.join().unwrap());
        assert!(block_on(rx.changed()).is_err(), "the close was not seen");
    });
}

// ---------------------------------------------------------------- broadcast

/// Two values into a ring of one while the receiver reads: it gets both, or is told it
/// lagged by one and gets the second; then `Closed`. Payloads are loom `Arc`s, so a value
/// that is neither delivered nor dropped (a leak of the claim counting) fails the model.
#[test]
fn loom_broadcast_send_races_recv_and_lag() {
    ::loom::model(|| {
        let (tx, mut rx) = super::broadcast::channel(1);
        let payload = Arc::new(());
        let sent = payload.clone();
        let sender = thread::spawn(move || {
            tx.send((1, sent.clone())).unwrap();
            tx.send((2, sent)).unwrap();
        });
        let mut got = Vec::new();
        loop {
            match block_on(rx.recv()) {
                Ok((value, _)) => got.push(Ok(value)),
                Err(super::broadcast::error::RecvError::Lagged(n)) => got.push(Err(n)),
                Err(super::broadcast::error::RecvError::Closed) => break,
            }
        }
        sender.join().unwrap();
        assert!(
            got == [Ok(1), Ok(2)] || got == [Err(1), Ok(2)],
            "unexpected sequence {got:?}"
        );
        drop(rx);
        assert_eq!(Arc::strong_count(&payload), 1, "a value was never dropped");
    });
}

// ---------------------------------------------------------------- mpsc reserve

/// A permit holds the only slot while A waits in `send`; another thread drops the permit
/// unused. A must be woken and get the slot. Forgetting the permit (the negative control)
/// loses the slot.
fn mpsc_dropped_permit_passes_slot_on(leak_permit: bool) {
    ::loom::model(move || {
        let (tx, mut rx) = super::mpsc::channel(1);
        let permit = block_on(tx.clone().reserve_owned()).unwrap();
        let (woken, waker) = flag_waker();
        let mut send = Box::pin(tx.send(7));
        assert!(send
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
        let permit_holder = thread::spawn(move || {
            if leak_permit {
                std::mem::forget(permit);
            } else {
                drop(permit);
            }
        });
        permit_holder.join().unwrap();
        assert!(woken.0.load(SeqCst), "the send was never given the slot");
        let polled = send.as_mut().poll(&mut Context::from_waker(&waker));
        assert_eq!(polled, Poll::Ready(Ok(())));
        assert_eq!(rx.try_recv(), Ok(7));
    });
}

#[test]
fn loom_mpsc_dropped_permit_passes_slot_on() {
    mpsc_dropped_permit_passes_slot_on(false);
}

/// Negative control: a permit that is never released keeps its slot for good.
#[test]
#[should_panic(expected = "the send was never given the slot")]
fn loom_mpsc_dropped_permit_passes_slot_on_negative_control() {
    mpsc_dropped_permit_passes_slot_on(true);
}

/// `WeakSender::upgrade` races the last sender's drop: an upgrade that wins keeps the channel
/// open (its message arrives before `None`); once `recv` returned `None`, no upgrade succeeds.
#[test]
fn loom_mpsc_weak_upgrade_races_last_sender_drop() {
    ::loom::model(|| {
        let (tx, mut rx) = super::mpsc::channel(1);
        let weak = tx.downgrade();
        let dropper = thread::spawn(move || drop(tx));
        let upgraded = weak.upgrade().map(|tx| tx.try_send(1).is_ok());
        assert!(
            upgraded.unwrap_or(true),
            "an upgraded sender could not send"
        );
        let first = block_on(rx.recv());
        assert_eq!(first.is_some(), upgraded.is_some());
        assert_eq!(block_on(rx.recv()), None);
        dropper.join().unwrap();
        assert!(weak.upgrade().is_none(), "a closed channel was reopened");
    });
}
