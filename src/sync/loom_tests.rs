//! Loom models of the channels. Futures are driven by the channels' own thread driver
//! (`super::blocking::block_on`, the engine of the `blocking_*` methods: a poll loop whose
//! waker is a `crate::loom` mutex and condvar, so loom sees every wake and sleep), never by a
//! spindle runtime, so only the channel code is checked.
//!
//! Payloads are loom `Arc`s where it matters: loom fails a model that ends with one still
//! alive, so a value that is neither delivered nor handed back (nor dropped) is caught.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::task::{Context, Poll, Wake, Waker};

use super::{mpsc, oneshot};
use crate::loom::sync::Arc;
use crate::loom::thread;

fn block_on<F: Future>(future: F) -> F::Output {
    super::blocking::block_on("a loom model", future)
}

/// Polls `future` exactly once, with a loom-aware waker that stays registered.
fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    block_on(poll_fn(|cx| Poll::Ready(Pin::new(&mut *future).poll(cx))))
}

#[test]
fn loom_oneshot_send_races_receiver_poll() {
    ::loom::model(|| {
        let (tx, rx) = oneshot::channel();
        let sender = thread::spawn(move || tx.send(Arc::new(7)).unwrap());
        // The receiver may poll before, during or after the send; it must end with the value.
        let value = block_on(rx).unwrap();
        assert_eq!(*value, 7);
        sender.join().unwrap();
    });
}

/// The receiver's first poll comes after the send has finished, and nothing but the channel
/// orders the two: the flag the receiver waits on is `Relaxed` on both sides. The receiver's
/// look at `COMPLETE` must then be what makes the value visible (loom reports the read of the
/// value cell otherwise).
#[test]
fn loom_oneshot_receiver_first_polled_after_the_send() {
    ::loom::model(|| {
        let (tx, rx) = oneshot::channel();
        let sent = Arc::new(crate::loom::sync::atomic::AtomicBool::new(false));
        let sender = {
            let sent = sent.clone();
            thread::spawn(move || {
                tx.send(Arc::new(7)).unwrap();
                sent.store(true, std::sync::atomic::Ordering::Relaxed);
            })
        };
        while !sent.load(std::sync::atomic::Ordering::Relaxed) {
            thread::yield_now();
        }
        let value = block_on(rx).unwrap();
        assert_eq!(*value, 7);
        sender.join().unwrap();
    });
}

#[test]
fn loom_oneshot_send_races_receiver_drop() {
    ::loom::model(|| {
        let payload = Arc::new(());
        let (tx, mut rx) = oneshot::channel();
        let sent = payload.clone();
        let sender = thread::spawn(move || tx.send(sent).err());
        // Register a waker (or find the value), then drop the receiver mid-race.
        let polled = poll_once(&mut rx);
        drop(rx);
        let returned = sender.join().unwrap();
        match (polled, returned) {
            (Poll::Ready(Ok(value)), None) => drop(value),
            (Poll::Pending, None) => {} // delivered, then dropped with the receiver
            (Poll::Pending, Some(value)) => drop(value), // handed back to the sender
            (Poll::Ready(Ok(_)), Some(_)) => panic!("the value was both delivered and returned"),
            (Poll::Ready(Err(_)), _) => panic!("the sender never drops without sending here"),
        }
        // Exactly one copy existed besides ours, and it is gone.
        assert_eq!(Arc::strong_count(&payload), 1);
    });
}

#[test]
fn loom_oneshot_receiver_drop_races_sender_drop() {
    ::loom::model(|| {
        let (tx, mut rx) = oneshot::channel::<Arc<()>>();
        let sender = thread::spawn(move || drop(tx));
        // Half the time with a registered waker, to race the wake against the drop.
        match poll_once(&mut rx) {
            Poll::Ready(outcome) => assert!(outcome.is_err()),
            Poll::Pending => drop(rx),
        }
        sender.join().unwrap();
        // loom fails the model if the channel's Arc leaked.
    });
}

#[test]
fn loom_oneshot_closed_wakes_sender() {
    ::loom::model(|| {
        let (mut tx, rx) = oneshot::channel::<()>();
        let receiver = thread::spawn(move || drop(rx));
        block_on(tx.closed());
        assert!(tx.is_closed());
        receiver.join().unwrap();
    });
}

/// The receiver registers a waker, then is dropped while the sender races a send (or its own
/// drop), and the sender may still hold the channel when we look. A waker the channel still
/// holds after the receiver's drop is allowed only if the sender completed first (the poll
/// found the outcome, or the sender woke the waker): the sender then lets the channel go as
/// its very next step. If the receiver's close came first, nobody will ever wake that waker,
/// and holding it would pin the receiving task for as long as the sender lives.
fn dropped_receiver_releases_its_waker(send: bool) {
    ::loom::model(move || {
        let (tx, mut rx) = oneshot::channel::<Arc<()>>();
        let sender = thread::spawn(move || {
            if send {
                drop(tx.send(Arc::new(())));
            } else {
                drop(tx);
            }
        });
        let woken = std::sync::Arc::new(WokenFlag::default());
        let waker = Waker::from(woken.clone());
        let polled = Pin::new(&mut rx).poll(&mut Context::from_waker(&waker));
        drop(waker);
        drop(rx);
        // Read at once, while the sender may not have run at all.
        let held = std::sync::Arc::strong_count(&woken) > 1;
        sender.join().unwrap();
        let sender_completed_first = polled.is_ready() || woken.0.load(SeqCst);
        assert!(
            !held || sender_completed_first,
            "the dropped receiver's waker stayed in the channel, and nobody will wake it"
        );
    });
}

#[test]
fn loom_oneshot_dropped_receiver_releases_its_waker() {
    dropped_receiver_releases_its_waker(true);
}

#[test]
fn loom_oneshot_dropped_receiver_releases_its_waker_sender_drop() {
    dropped_receiver_releases_its_waker(false);
}

#[test]
fn loom_mpsc_two_senders_one_receiver() {
    ::loom::model(|| {
        let (tx_a, mut rx) = mpsc::unbounded_channel();
        let tx_b = tx_a.clone();
        let a = thread::spawn(move || {
            tx_a.send(('a', 0)).unwrap();
            tx_a.send(('a', 1)).unwrap();
        });
        let b = thread::spawn(move || tx_b.send(('b', 0)).unwrap());
        let mut got = Vec::new();
        // Ends only if the last sender's drop wakes the receiver.
        while let Some(message) = block_on(rx.recv()) {
            got.push(message);
        }
        a.join().unwrap();
        b.join().unwrap();
        let from_a: Vec<_> = got.iter().filter(|(who, _)| *who == 'a').collect();
        assert_eq!(from_a, [&('a', 0), &('a', 1)], "FIFO per sender: {got:?}");
        assert_eq!(got.len(), 3, "each message once: {got:?}");
    });
}

#[test]
fn loom_mpsc_bounded_sender_waits_for_space() {
    ::loom::model(|| {
        let (tx, mut rx) = mpsc::channel(1);
        let sender = thread::spawn(move || {
            block_on(async {
                tx.send(1).await.unwrap();
                tx.send(2).await.unwrap(); // waits until `recv` frees the slot
            })
        });
        assert_eq!(block_on(rx.recv()), Some(1));
        assert_eq!(block_on(rx.recv()), Some(2));
        assert_eq!(block_on(rx.recv()), None);
        sender.join().unwrap();
    });
}

/// Sender A waits for space; sender B starts waiting and is cancelled (dropped), possibly
/// after `recv` granted it the freed slot. A, blocked in `send`, must still get through.
#[test]
fn loom_mpsc_cancelled_send_passes_permit_on() {
    ::loom::model(|| {
        let (tx_a, mut rx) = mpsc::channel(1);
        let tx_b = tx_a.clone();
        tx_a.try_send(0).unwrap();
        let a = thread::spawn(move || block_on(tx_a.send(1)).unwrap());
        let b = thread::spawn(move || {
            let mut send = Box::pin(tx_b.send(2));
            let polled = poll_once(&mut send);
            drop(send); // cancels it if it was waiting
            polled.is_ready()
        });
        let mut got = Vec::new();
        while !got.contains(&1) {
            got.push(block_on(rx.recv()).unwrap());
        }
        let b_sent = b.join().unwrap();
        a.join().unwrap();
        while let Ok(message) = rx.try_recv() {
            got.push(message);
        }
        got.sort_unstable();
        let expected: &[u8] = if b_sent { &[0, 1, 2] } else { &[0, 1] };
        assert_eq!(got, expected);
    });
}

/// A waker that records whether it was woken. A std atomic suffices: it is read only after
/// the waking thread is joined.
#[derive(Default)]
struct WokenFlag(AtomicBool);

impl Wake for WokenFlag {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.store(true, SeqCst);
    }
}

/// B and then A wait on a full channel; another thread's `recv` (granting the slot to B)
/// races with B's cancellation. A must be woken and its send must then complete.
fn cancel_races_grant(leak_cancelled: bool) {
    ::loom::model(move || {
        let (tx, mut rx) = mpsc::channel(1);
        tx.try_send(0).unwrap();
        let woken_a = std::sync::Arc::new(WokenFlag::default());
        let waker_a = Waker::from(woken_a.clone());
        let waker_b = Waker::from(std::sync::Arc::new(WokenFlag::default()));
        let mut send_b = Box::pin(tx.send(2));
        let mut send_a = Box::pin(tx.send(1));
        assert!(send_b
            .as_mut()
            .poll(&mut Context::from_waker(&waker_b))
            .is_pending());
        assert!(send_a
            .as_mut()
            .poll(&mut Context::from_waker(&waker_a))
            .is_pending());
        let receiver = thread::spawn(move || {
            assert_eq!(rx.try_recv(), Ok(0)); // frees the slot: granted to B, or A if B left
            rx
        });
        if leak_cancelled {
            std::mem::forget(send_b); // a cancellation that skips the cleanup
        } else {
            drop(send_b);
        }
        let mut rx = receiver.join().unwrap();
        assert!(
            woken_a.0.load(SeqCst),
            "A was never woken: the freed slot was lost"
        );
        let polled = send_a.as_mut().poll(&mut Context::from_waker(&waker_a));
        assert_eq!(polled, Poll::Ready(Ok(())));
        assert_eq!(rx.try_recv(), Ok(1));
    });
}

#[test]
fn loom_mpsc_cancel_races_grant() {
    cancel_races_grant(false);
}

/// Negative control: the same model catches a cancelled send that keeps its granted slot.
#[test]
#[should_panic(expected = "A was never woken")]
fn loom_mpsc_cancel_races_grant_negative_control() {
    cancel_races_grant(true);
}

#[test]
fn loom_mpsc_last_sender_drop_races_recv() {
    ::loom::model(|| {
        let (tx, mut rx) = mpsc::channel(2);
        let other = tx.clone();
        let sender = thread::spawn(move || {
            tx.try_send(1).unwrap();
            drop(tx);
        });
        let dropper = thread::spawn(move || drop(other));
        assert_eq!(block_on(rx.recv()), Some(1));
        assert_eq!(block_on(rx.recv()), None); // never hangs
        sender.join().unwrap();
        dropper.join().unwrap();
    });
}
