//! `spindle::sync`: the channels (oneshot, mpsc, broadcast) and the waiting primitives,
//! inside the runtime (current-thread and multi-thread) and across OS threads.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;

use spindle::sync::mpsc::error::{SendError, TryRecvError, TrySendError};
use spindle::sync::oneshot::error::{RecvError, TryRecvError as OneshotTryRecvError};
use spindle::sync::{mpsc, oneshot};

/// Counts how many times values carrying the same counter were dropped.
#[derive(Debug)]
struct Tracked {
    id: usize,
    drops: Arc<AtomicUsize>,
}

impl Tracked {
    fn new(id: usize, drops: &Arc<AtomicUsize>) -> Tracked {
        Tracked {
            id,
            drops: drops.clone(),
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.fetch_add(1, SeqCst);
    }
}

/// Deliberately not `Debug`: the error types must still be.
struct Opaque;

/// A waker that counts its wakes, for polling futures by hand.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn counting_waker() -> (Arc<CountingWaker>, Waker) {
    let counter = Arc::new(CountingWaker::default());
    (counter.clone(), Waker::from(counter))
}

// ---------------------------------------------------------------- oneshot

#[test]
fn oneshot_value_sent_from_a_task_reaches_the_awaiting_receiver() {
    let got = spindle::block_on(async {
        let (tx, rx) = oneshot::channel();
        spindle::spawn(async move {
            spindle::task::yield_now().await;
            tx.send(7).unwrap();
        });
        rx.await
    });
    assert_eq!(got, Ok(7));
}

#[test]
fn oneshot_dropped_sender_gives_recv_error() {
    let got = spindle::block_on(async {
        let (tx, rx) = oneshot::channel::<u8>();
        spindle::spawn(async move {
            spindle::task::yield_now().await;
            drop(tx);
        });
        rx.await
    });
    assert_eq!(got, Err(RecvError::try_from_dropped()));
}

/// `RecvError` has no public constructor; get one the way users do.
trait FromDropped {
    fn try_from_dropped() -> Self;
}

impl FromDropped for RecvError {
    fn try_from_dropped() -> RecvError {
        let (tx, rx) = oneshot::channel::<()>();
        drop(tx);
        rx.blocking_recv().unwrap_err()
    }
}

#[test]
fn oneshot_send_to_dropped_receiver_returns_the_value() {
    let (tx, rx) = oneshot::channel();
    assert!(!tx.is_closed());
    drop(rx);
    assert!(tx.is_closed());
    assert_eq!(tx.send("back"), Err("back"));
}

#[test]
fn oneshot_try_recv_reports_empty_then_value_then_closed() {
    let (tx, mut rx) = oneshot::channel();
    assert_eq!(rx.try_recv(), Err(OneshotTryRecvError::Empty));
    tx.send(3).unwrap();
    assert_eq!(rx.try_recv(), Ok(3));
    assert_eq!(rx.try_recv(), Err(OneshotTryRecvError::Closed));

    let (tx, mut rx) = oneshot::channel::<u8>();
    drop(tx);
    assert_eq!(rx.try_recv(), Err(OneshotTryRecvError::Closed));
}

#[test]
fn oneshot_close_refuses_later_sends_but_keeps_an_earlier_value() {
    let (tx, mut rx) = oneshot::channel();
    rx.close();
    assert!(tx.is_closed());
    assert_eq!(tx.send(1), Err(1));
    assert_eq!(spindle::block_on(rx), Err(RecvError::try_from_dropped()));

    let (tx, mut rx) = oneshot::channel();
    tx.send(2).unwrap();
    rx.close();
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn oneshot_closed_wakes_the_sender_when_the_receiver_goes() {
    spindle::block_on(async {
        let (mut tx, rx) = oneshot::channel::<u8>();
        let dropper = spindle::spawn(async move {
            spindle::task::yield_now().await;
            drop(rx);
        });
        tx.closed().await;
        assert!(tx.is_closed());
        dropper.await.unwrap();
    });
}

#[test]
fn oneshot_closed_is_pending_while_the_receiver_lives() {
    let (mut tx, rx) = oneshot::channel::<u8>();
    let (wakes, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    assert!(tx.poll_closed(&mut cx).is_pending());
    assert!(tx.poll_closed(&mut cx).is_pending()); // same waker: kept
    drop(rx);
    assert_eq!(wakes.0.load(SeqCst), 1);
    assert!(tx.poll_closed(&mut cx).is_ready());
}

#[test]
fn oneshot_blocking_recv_across_threads() {
    for _ in 0..100 {
        let (tx, rx) = oneshot::channel();
        let sender = thread::spawn(move || tx.send(String::from("hi")).unwrap());
        assert_eq!(rx.blocking_recv().as_deref(), Ok("hi"));
        sender.join().unwrap();
    }
}

#[test]
fn oneshot_receiver_awaited_in_runtime_sender_on_another_thread() {
    let (tx, rx) = oneshot::channel();
    let barrier = Arc::new(Barrier::new(2));
    let sender = {
        let barrier = barrier.clone();
        thread::spawn(move || {
            barrier.wait();
            tx.send(5u64).unwrap();
        })
    };
    let got = spindle::block_on(async move {
        // Register the waker first, then let the other thread send.
        let mut rx = pin!(rx);
        let first = std::future::poll_fn(|cx| Poll::Ready(rx.as_mut().poll(cx))).await;
        assert!(first.is_pending());
        barrier.wait();
        rx.await
    });
    assert_eq!(got, Ok(5));
    sender.join().unwrap();
}

#[test]
fn oneshot_values_are_dropped_exactly_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    // Received: dropped by the receiver's owner.
    let (tx, rx) = oneshot::channel();
    tx.send(Tracked::new(0, &drops)).unwrap();
    drop(rx.blocking_recv().unwrap());
    assert_eq!(drops.load(SeqCst), 1);
    // Sent, never received: dropped with the receiver.
    let (tx, rx) = oneshot::channel();
    tx.send(Tracked::new(1, &drops)).unwrap();
    assert_eq!(drops.load(SeqCst), 1);
    drop(rx);
    assert_eq!(drops.load(SeqCst), 2);
    // Refused: handed back, dropped by the caller.
    let (tx, rx) = oneshot::channel();
    drop(rx);
    let back = tx.send(Tracked::new(2, &drops)).unwrap_err();
    assert_eq!((back.id, drops.load(SeqCst)), (2, 2));
    drop(back);
    assert_eq!(drops.load(SeqCst), 3);
}

#[test]
fn oneshot_ping_pong_between_many_task_pairs() {
    let pairs = 200;
    let total = spindle::block_on(async move {
        let mut handles = Vec::new();
        for i in 0..pairs {
            let (ping_tx, ping_rx) = oneshot::channel::<usize>();
            let (pong_tx, pong_rx) = oneshot::channel::<usize>();
            spindle::spawn(async move {
                let n = ping_rx.await.unwrap();
                pong_tx.send(n + 1).unwrap();
            });
            handles.push(spindle::spawn(async move {
                ping_tx.send(i).unwrap();
                pong_rx.await.unwrap()
            }));
        }
        let mut total = 0;
        for handle in handles {
            total += handle.await.unwrap();
        }
        total
    });
    assert_eq!(total, (1..=pairs).sum::<usize>());
}

#[test]
#[should_panic(expected = "inside a spindle runtime")]
fn oneshot_blocking_recv_inside_a_runtime_panics() {
    spindle::block_on(async {
        let (_tx, rx) = oneshot::channel::<u8>();
        let _ = rx.blocking_recv();
    });
}

#[test]
fn oneshot_errors_display_and_debug() {
    let error = RecvError::try_from_dropped();
    assert_eq!(error.to_string(), "channel closed");
    assert_eq!(format!("{error:?}"), "RecvError(())");
    assert_eq!(OneshotTryRecvError::Empty.to_string(), "channel empty");
    let _: &dyn std::error::Error = &error;
    let _: &dyn std::error::Error = &OneshotTryRecvError::Closed;
    let (tx, rx) = oneshot::channel::<Opaque>();
    assert!(format!("{tx:?} {rx:?}").contains("oneshot::Sender"));
}

// ---------------------------------------------------------------- mpsc

#[test]
#[should_panic(expected = "capacity > 0")]
fn mpsc_zero_capacity_panics() {
    let _ = mpsc::channel::<u8>(0);
}

#[test]
fn mpsc_messages_arrive_in_order_and_recv_ends_with_none() {
    let got = spindle::block_on(async {
        let (tx, mut rx) = mpsc::channel(4);
        spindle::spawn(async move {
            for i in 0..100 {
                tx.send(i).await.unwrap(); // waits for space most of the time
            }
        });
        let mut got = Vec::new();
        while let Some(i) = rx.recv().await {
            got.push(i);
        }
        got
    });
    assert_eq!(got, (0..100).collect::<Vec<_>>());
}

#[test]
fn mpsc_try_send_reports_full_until_recv_frees_a_slot() {
    let (tx, mut rx) = mpsc::channel(2);
    assert_eq!((tx.max_capacity(), tx.capacity()), (2, 2));
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    assert_eq!(tx.capacity(), 0);
    assert!(matches!(tx.try_send(3), Err(TrySendError::Full(3))));
    assert_eq!(rx.len(), 2);
    assert_eq!(rx.try_recv(), Ok(1));
    tx.try_send(3).unwrap();
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Ok(3));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert!(rx.is_empty());
    drop(tx);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
}

#[test]
fn mpsc_waiting_senders_are_served_in_arrival_order_and_slots_cannot_be_stolen() {
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(0).unwrap();
    let (wakes, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    let mut first = pin!(tx.send(1));
    let mut second = pin!(tx.send(2));
    assert!(first.as_mut().poll(&mut cx).is_pending());
    assert!(second.as_mut().poll(&mut cx).is_pending());
    // Freeing the slot grants it to the first waiter: a fresh try_send cannot take it.
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!(wakes.0.load(SeqCst), 1);
    assert!(matches!(tx.try_send(9), Err(TrySendError::Full(9))));
    assert!(second.as_mut().poll(&mut cx).is_pending());
    assert_eq!(first.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(wakes.0.load(SeqCst), 2);
    assert_eq!(second.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn mpsc_cancelled_send_passes_its_granted_slot_on() {
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(0).unwrap();
    let (first_wakes, first_waker) = counting_waker();
    let (second_wakes, second_waker) = counting_waker();
    let mut first = Box::pin(tx.send(1));
    let mut second = pin!(tx.send(2));
    assert!(first
        .as_mut()
        .poll(&mut Context::from_waker(&first_waker))
        .is_pending());
    assert!(second
        .as_mut()
        .poll(&mut Context::from_waker(&second_waker))
        .is_pending());
    assert_eq!(rx.try_recv(), Ok(0)); // grants the slot to `first`
    assert_eq!(first_wakes.0.load(SeqCst), 1);
    assert_eq!(second_wakes.0.load(SeqCst), 0);
    drop(first); // cancelled before using its slot
    assert_eq!(second_wakes.0.load(SeqCst), 1, "the slot was passed on");
    assert_eq!(
        second
            .as_mut()
            .poll(&mut Context::from_waker(&second_waker)),
        Poll::Ready(Ok(()))
    );
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(tx.capacity(), 1, "no slot leaked");
}

#[test]
fn mpsc_cancelled_ungranted_send_leaves_no_trace() {
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(0).unwrap();
    let (_wakes, waker) = counting_waker();
    let mut waiting = Box::pin(tx.send(1));
    assert!(waiting
        .as_mut()
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    drop(waiting);
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!(tx.capacity(), 1);
    tx.try_send(2).unwrap();
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn mpsc_many_threads_blocking_send_each_message_once_fifo_per_sender() {
    const SENDERS: usize = 4;
    const PER_SENDER: usize = 2_000;
    let (tx, mut rx) = mpsc::channel::<(usize, usize)>(8);
    let threads: Vec<_> = (0..SENDERS)
        .map(|sender| {
            let tx = tx.clone();
            thread::spawn(move || {
                for seq in 0..PER_SENDER {
                    tx.blocking_send((sender, seq)).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let mut next = [0; SENDERS];
    let mut count = 0;
    while let Some((sender, seq)) = rx.blocking_recv() {
        assert_eq!(seq, next[sender], "sender {sender} out of order");
        next[sender] += 1;
        count += 1;
    }
    assert_eq!(count, SENDERS * PER_SENDER);
    assert_eq!(next, [PER_SENDER; SENDERS]);
    threads.into_iter().for_each(|t| t.join().unwrap());
}

#[test]
fn mpsc_threads_send_to_a_receiver_task_in_the_runtime() {
    const SENDERS: usize = 3;
    const PER_SENDER: usize = 1_000;
    let (tx, mut rx) = mpsc::unbounded_channel::<(usize, usize)>();
    let threads: Vec<_> = (0..SENDERS)
        .map(|sender| {
            let tx = tx.clone();
            thread::spawn(move || {
                for seq in 0..PER_SENDER {
                    tx.send((sender, seq)).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let next = spindle::block_on(async move {
        let mut next = [0; SENDERS];
        while let Some((sender, seq)) = rx.recv().await {
            assert_eq!(seq, next[sender]);
            next[sender] += 1;
        }
        next
    });
    assert_eq!(next, [PER_SENDER; SENDERS]);
    threads.into_iter().for_each(|t| t.join().unwrap());
}

#[test]
fn mpsc_last_sender_drop_wakes_a_waiting_receiver() {
    let got = spindle::block_on(async {
        let (tx, mut rx) = mpsc::channel::<u8>(1);
        let second = tx.clone();
        spindle::spawn(async move {
            drop(tx);
            spindle::task::yield_now().await;
            second.send(1).await.unwrap();
            spindle::task::yield_now().await;
            drop(second);
        });
        (rx.recv().await, rx.recv().await)
    });
    assert_eq!(got, (Some(1), None));
}

#[test]
fn mpsc_dropped_receiver_fails_sends_with_the_value() {
    let (tx, rx) = mpsc::channel(1);
    drop(rx);
    assert!(tx.is_closed());
    assert_eq!(tx.blocking_send(1), Err(SendError(1)));
    assert!(matches!(tx.try_send(2), Err(TrySendError::Closed(2))));

    let (tx, rx) = mpsc::unbounded_channel();
    drop(rx);
    assert_eq!(tx.send("x"), Err(SendError("x")));
}

#[test]
fn mpsc_sender_waiting_for_space_fails_when_the_receiver_drops() {
    let got = spindle::block_on(async {
        let (tx, rx) = mpsc::channel(1);
        tx.send(0).await.unwrap();
        let dropper = spindle::spawn(async move {
            spindle::task::yield_now().await;
            drop(rx);
        });
        let got = tx.send(1).await; // waits: full
        dropper.await.unwrap();
        got
    });
    assert_eq!(got, Err(SendError(1)));
}

#[test]
fn mpsc_close_keeps_buffered_messages_and_refuses_new_ones() {
    spindle::block_on(async {
        let (tx, mut rx) = mpsc::channel(4);
        tx.send(1).await.unwrap();
        tx.send(2).await.unwrap();
        rx.close();
        assert!(tx.is_closed());
        assert_eq!(tx.send(3).await, Err(SendError(3)));
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(rx.recv().await, None);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    });
}

#[test]
fn mpsc_values_are_dropped_exactly_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, mut rx) = mpsc::channel(8);
    for id in 0..5 {
        tx.try_send(Tracked::new(id, &drops)).unwrap();
    }
    let first = rx.try_recv().unwrap();
    assert_eq!((first.id, drops.load(SeqCst)), (0, 0));
    drop(first);
    drop(rx); // four buffered values go with the receiver
    assert_eq!(drops.load(SeqCst), 5);
    let back = tx
        .try_send(Tracked::new(5, &drops))
        .unwrap_err()
        .into_inner();
    assert_eq!(drops.load(SeqCst), 5);
    drop(back);
    drop(tx);
    assert_eq!(drops.load(SeqCst), 6);
}

#[test]
fn mpsc_buffered_value_that_drops_a_sender_does_not_deadlock() {
    struct HoldsSender(#[allow(dead_code)] mpsc::UnboundedSender<HoldsSender>);
    let (tx, rx) = mpsc::unbounded_channel();
    tx.send(HoldsSender(tx.clone())).unwrap();
    drop(tx);
    drop(rx); // drops the buffered value, which drops the last sender
}

#[test]
#[should_panic(expected = "inside a spindle runtime")]
fn mpsc_blocking_send_inside_a_runtime_panics() {
    spindle::block_on(async {
        let (tx, _rx) = mpsc::channel(1);
        let _ = tx.blocking_send(1u8);
    });
}

#[test]
fn mpsc_errors_display_and_debug_without_t_debug() {
    assert_eq!(SendError(Opaque).to_string(), "channel closed");
    assert_eq!(format!("{:?}", SendError(Opaque)), "SendError { .. }");
    assert_eq!(format!("{:?}", TrySendError::Full(Opaque)), "Full(..)");
    assert_eq!(
        TrySendError::Full(Opaque).to_string(),
        "no available capacity"
    );
    assert_eq!(TrySendError::Closed(Opaque).to_string(), "channel closed");
    assert_eq!(
        TryRecvError::Disconnected.to_string(),
        "receiving on a closed channel"
    );
    let _: &dyn std::error::Error = &SendError(Opaque);
    let _: &dyn std::error::Error = &TrySendError::Closed(Opaque);
    let (tx, rx) = mpsc::unbounded_channel::<Opaque>();
    assert!(format!("{tx:?} {rx:?}").contains("mpsc::UnboundedSender"));
    assert!(tx.same_channel(&tx.clone()));
}

#[test]
fn a_receiver_on_an_always_full_channel_yields_to_other_tasks() {
    // The receiver always finds a message, so without the cooperative budget it would never
    // return Pending and the other task could not run on this single thread.
    let rt = spindle::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let other_ran = rt.block_on(async {
        let (tx, mut rx) = spindle::sync::mpsc::unbounded_channel::<u32>();
        for i in 0..10_000 {
            tx.send(i).unwrap();
        }
        let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        // The receiver is queued first, so it runs first.
        let receiver = {
            let flag = flag.clone();
            spindle::spawn(async move {
                let mut seen_other_before_end = false;
                for _ in 0..10_000 {
                    rx.recv().await.unwrap();
                    seen_other_before_end |= flag.load(std::sync::atomic::Ordering::SeqCst);
                }
                seen_other_before_end
            })
        };
        let other =
            spindle::spawn(async move { flag.store(true, std::sync::atomic::Ordering::SeqCst) });
        other.await.unwrap();
        receiver.await.unwrap()
    });
    assert!(
        other_ran,
        "the other task ran while the receiver still had messages"
    );
}

// ---------------------------------------------------------------- Semaphore, Mutex, RwLock,
// Notify, broadcast on the multi-thread runtime and across threads

fn two_workers() -> spindle::runtime::Runtime {
    spindle::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

#[test]
fn mutex_contended_by_8_tasks_on_2_workers_counts_exactly_with_one_holder_at_a_time() {
    let rt = two_workers();
    let total = rt.block_on(async {
        let mutex = Arc::new(spindle::sync::Mutex::new(0u64));
        let inside = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (mutex, inside) = (mutex.clone(), inside.clone());
                spindle::spawn(async move {
                    for i in 0..500 {
                        let mut guard = mutex.lock().await;
                        assert_eq!(inside.fetch_add(1, SeqCst), 0, "two holders at once");
                        if i % 4 == 0 {
                            spindle::task::yield_now().await; // held across an await
                        }
                        *guard += 1;
                        inside.fetch_sub(1, SeqCst);
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let total = *mutex.lock().await;
        total
    });
    assert_eq!(total, 4_000);
}

#[test]
fn semaphore_never_admits_more_than_its_permits_across_workers() {
    let rt = two_workers();
    let (max_seen, available) = rt.block_on(async {
        let semaphore = Arc::new(spindle::sync::Semaphore::new(3));
        let running = Arc::new(AtomicUsize::new(0));
        let max_seen = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let (semaphore, running, max_seen) =
                    (semaphore.clone(), running.clone(), max_seen.clone());
                spindle::spawn(async move {
                    for _ in 0..100 {
                        let _permits = semaphore.acquire_many(1 + i % 2).await.unwrap();
                        let now =
                            running.fetch_add(1 + i as usize % 2, SeqCst) + 1 + i as usize % 2;
                        max_seen.fetch_max(now, SeqCst);
                        spindle::task::yield_now().await;
                        running.fetch_sub(1 + i as usize % 2, SeqCst);
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        (max_seen.load(SeqCst), semaphore.available_permits())
    });
    assert!(max_seen <= 3, "{max_seen} permits held at once");
    assert_eq!(available, 3, "every permit came back");
}

#[test]
fn semaphore_beyond_max_permits_is_refused_with_a_clear_panic() {
    use spindle::sync::Semaphore;
    let too_many = std::panic::catch_unwind(|| Semaphore::new(Semaphore::MAX_PERMITS + 1));
    let message = too_many.unwrap_err();
    let message = message.downcast_ref::<String>().unwrap();
    assert!(message.contains("at most"), "{message}");
    let semaphore = Semaphore::new(Semaphore::MAX_PERMITS);
    let overflow =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| semaphore.add_permits(1)));
    assert!(overflow.is_err());
    // The refused add changed nothing.
    assert_eq!(semaphore.available_permits(), Semaphore::MAX_PERMITS);
}

#[test]
fn rwlock_readers_never_see_a_half_done_write_across_workers() {
    let rt = two_workers();
    rt.block_on(async {
        let lock = Arc::new(spindle::sync::RwLock::new((0u64, 0u64)));
        let writer = {
            let lock = lock.clone();
            spindle::spawn(async move {
                for _ in 0..500 {
                    let mut guard = lock.write().await;
                    guard.0 += 1;
                    spindle::task::yield_now().await;
                    guard.1 += 1;
                }
            })
        };
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let lock = lock.clone();
                spindle::spawn(async move {
                    for _ in 0..500 {
                        let guard = lock.read().await;
                        assert_eq!(guard.0, guard.1, "torn read");
                        drop(guard);
                        spindle::task::yield_now().await;
                    }
                })
            })
            .collect();
        writer.await.unwrap();
        for reader in readers {
            reader.await.unwrap();
        }
        assert_eq!(*lock.read().await, (500, 500));
    });
}

#[test]
fn broadcast_fans_out_to_plain_threads_with_blocking_recv() {
    let (tx, _) = spindle::sync::broadcast::channel::<u32>(256);
    let receivers: Vec<_> = (0..4)
        .map(|_| {
            let mut rx = tx.subscribe();
            thread::spawn(move || {
                let mut got = Vec::new();
                while let Ok(value) = rx.blocking_recv() {
                    got.push(value);
                }
                got
            })
        })
        .collect();
    for value in 0..200 {
        tx.send(value).unwrap();
    }
    drop(tx);
    for receiver in receivers {
        assert_eq!(receiver.join().unwrap(), (0..200).collect::<Vec<_>>());
    }
}

/// A waker whose destructor takes the lock of the primitive it waited on: dropping it under
/// that lock would deadlock. Runs `scenario` on its own thread and fails (rather than hangs)
/// if it does not finish.
fn without_deadlock(name: &str, scenario: impl FnOnce() + Send + 'static) {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        scenario();
        done_tx.send(()).unwrap();
    });
    assert!(
        done_rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .is_ok(),
        "{name}: a waker was dropped while its primitive's lock was held (deadlock)"
    );
}

struct LockingWaker(Box<dyn Fn() + Send + Sync>);

impl Wake for LockingWaker {
    fn wake(self: Arc<Self>) {}
}

impl Drop for LockingWaker {
    fn drop(&mut self) {
        (self.0)();
    }
}

/// Polls `future` with a waker that runs `on_drop` when its last clone goes, drops our clone
/// (so the future's stored copy is the last), then polls again with another waker, which
/// replaces (and drops) the stored one.
fn replace_stored_waker<F: Future + Unpin>(
    future: &mut F,
    on_drop: impl Fn() + Send + Sync + 'static,
) {
    let waker = Waker::from(Arc::new(LockingWaker(Box::new(on_drop))));
    assert!(std::pin::Pin::new(&mut *future)
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    drop(waker);
    let (_, other) = counting_waker();
    assert!(std::pin::Pin::new(&mut *future)
        .poll(&mut Context::from_waker(&other))
        .is_pending());
}

#[test]
fn replaced_wakers_are_dropped_outside_the_primitives_locks() {
    without_deadlock("Semaphore", || {
        let semaphore = Arc::new(spindle::sync::Semaphore::new(0));
        let mut acquire = Box::pin(semaphore.acquire());
        let probe = semaphore.clone();
        replace_stored_waker(&mut acquire, move || {
            let _ = probe.available_permits();
        });
    });
    without_deadlock("Notify", || {
        let notify = Arc::new(spindle::sync::Notify::new());
        let mut notified = Box::pin(notify.notified());
        let probe = notify.clone();
        replace_stored_waker(&mut notified, move || probe.notify_waiters());
    });
    without_deadlock("mpsc recv", || {
        let (tx, mut rx) = mpsc::channel::<u32>(1);
        let mut recv = Box::pin(rx.recv());
        replace_stored_waker(&mut recv, move || {
            let _ = tx.capacity();
        });
    });
    without_deadlock("broadcast recv", || {
        let (tx, mut rx) = spindle::sync::broadcast::channel::<u32>(1);
        let mut recv = Box::pin(rx.recv());
        replace_stored_waker(&mut recv, move || {
            let _ = tx.receiver_count();
        });
    });
}

/// The waiting futures the test above leaves out, each of which stores its waker with
/// `task::register_waker` at its own call site: a sender queued on a full channel (`send`
/// and `reserve`, where the displaced waker travels out through an out-parameter), a
/// `closed()` waiter, `recv_many`, and a `Barrier` waiter.
#[test]
fn replaced_wakers_of_the_other_waiting_futures_are_dropped_outside_the_locks() {
    without_deadlock("mpsc send on a full channel", || {
        let (tx, _rx) = mpsc::channel::<u32>(1);
        tx.try_send(1).unwrap();
        let mut send = Box::pin(tx.send(2));
        let probe = tx.clone();
        replace_stored_waker(&mut send, move || {
            let _ = probe.capacity();
        });
    });
    without_deadlock("mpsc reserve on a full channel", || {
        let (tx, _rx) = mpsc::channel::<u32>(1);
        tx.try_send(1).unwrap();
        let mut reserve = Box::pin(tx.reserve());
        let probe = tx.clone();
        replace_stored_waker(&mut reserve, move || {
            let _ = probe.capacity();
        });
    });
    without_deadlock("mpsc Sender::closed", || {
        let (tx, _rx) = mpsc::channel::<u32>(1);
        let mut closed = Box::pin(tx.closed());
        let probe = tx.clone();
        replace_stored_waker(&mut closed, move || {
            let _ = probe.capacity();
        });
    });
    without_deadlock("mpsc recv_many", || {
        let (tx, mut rx) = mpsc::channel::<u32>(1);
        let mut buffer = Vec::new();
        let mut recv_many = Box::pin(rx.recv_many(&mut buffer, 4));
        replace_stored_waker(&mut recv_many, move || {
            let _ = tx.capacity();
        });
    });
    without_deadlock("Barrier wait", || {
        let barrier = Arc::new(spindle::sync::Barrier::new(3));
        let mut wait = Box::pin(barrier.wait());
        let probe = barrier.clone();
        replace_stored_waker(&mut wait, move || {
            // A second party arrives (and leaves again): both take the barrier's lock.
            let mut arrive = Box::pin(probe.wait());
            let pending = arrive
                .as_mut()
                .poll(&mut Context::from_waker(Waker::noop()))
                .is_pending();
            assert!(pending, "two of three parties do not release the barrier");
        });
    });
}

/// The futures of the waiting primitives are `Send` (so tasks using them run on the
/// multi-thread runtime) and their guards and permits are `Send` where tokio's are.
#[test]
fn sync_futures_and_guards_are_send() {
    fn send<T: Send>(_: &T) {}
    let semaphore = Arc::new(spindle::sync::Semaphore::new(1));
    send(&semaphore.acquire());
    send(&semaphore.clone().acquire_owned());
    send(&semaphore.try_acquire().unwrap());
    let mutex = Arc::new(spindle::sync::Mutex::new(0));
    send(&mutex.lock());
    send(&mutex.clone().lock_owned());
    send(&mutex.try_lock().unwrap());
    let lock = spindle::sync::RwLock::new(0);
    send(&lock.read());
    send(&lock.write());
    let notify = spindle::sync::Notify::new();
    send(&notify.notified());
    let barrier = spindle::sync::Barrier::new(1);
    send(&barrier.wait());
    let cell = spindle::sync::OnceCell::<u32>::new();
    send(&cell.get_or_init(|| async { 1 }));
    let (watch_tx, mut watch_rx) = spindle::sync::watch::channel(0);
    send(&watch_rx.changed());
    send(&watch_tx.closed());
    let (broadcast_tx, mut broadcast_rx) = spindle::sync::broadcast::channel::<u32>(1);
    send(&broadcast_rx.recv());
    drop(broadcast_tx);
    let (tx, mut rx) = mpsc::channel::<u32>(1);
    send(&tx.reserve());
    send(&tx.closed());
    let mut buffer = Vec::new();
    send(&rx.recv_many(&mut buffer, 1));
}

/// Polls `future` once with a waker that runs `on_drop` when its last clone goes, drops our
/// clone (so the future's stored copy is the last), then drops the future: the cancelled
/// waiter's stored waker goes with it.
fn cancel_with_stored_waker<F: Future>(future: F, on_drop: impl Fn() + Send + Sync + 'static) {
    let mut future = Box::pin(future);
    let waker = Waker::from(Arc::new(LockingWaker(Box::new(on_drop))));
    assert!(future
        .as_mut()
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    drop(waker);
    drop(future);
}

#[test]
fn cancelled_waiters_wakers_are_dropped_outside_the_primitives_locks() {
    without_deadlock("mpsc send, cancelled while queued", || {
        let (tx, _rx) = mpsc::channel::<u32>(1);
        tx.try_send(1).unwrap();
        let probe = tx.clone();
        cancel_with_stored_waker(tx.send(2), move || {
            let _ = probe.capacity();
        });
    });
    without_deadlock("mpsc send, receiver closed while queued", || {
        let (tx, rx) = mpsc::channel::<u32>(1);
        tx.try_send(1).unwrap();
        let probe = tx.clone();
        let mut send = Box::pin(tx.send(2));
        let waker = Waker::from(Arc::new(LockingWaker(Box::new(move || {
            let _ = probe.capacity();
        }))));
        assert!(send
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
        drop(waker);
        drop(rx);
        let (_, other) = counting_waker();
        assert!(matches!(
            send.as_mut().poll(&mut Context::from_waker(&other)),
            Poll::Ready(Err(_))
        ));
    });
    without_deadlock("mpsc reserve, cancelled while queued", || {
        let (tx, _rx) = mpsc::channel::<u32>(1);
        tx.try_send(1).unwrap();
        let probe = tx.clone();
        cancel_with_stored_waker(tx.reserve(), move || {
            let _ = probe.capacity();
        });
    });
    without_deadlock("mpsc recv, cancelled", || {
        let (tx, mut rx) = mpsc::channel::<u32>(1);
        cancel_with_stored_waker(rx.recv(), move || {
            let _ = tx.capacity();
        });
    });
    without_deadlock("Semaphore, cancelled", || {
        let semaphore = Arc::new(spindle::sync::Semaphore::new(0));
        let probe = semaphore.clone();
        cancel_with_stored_waker(semaphore.acquire(), move || {
            let _ = probe.available_permits();
        });
    });
    without_deadlock("Notify, cancelled", || {
        let notify = Arc::new(spindle::sync::Notify::new());
        let probe = notify.clone();
        cancel_with_stored_waker(notify.notified(), move || probe.notify_waiters());
    });
    without_deadlock("broadcast recv, cancelled", || {
        let (tx, mut rx) = spindle::sync::broadcast::channel::<u32>(1);
        cancel_with_stored_waker(rx.recv(), move || {
            let _ = tx.receiver_count();
        });
    });
    without_deadlock("Mutex lock, cancelled", || {
        let mutex = Arc::new(spindle::sync::Mutex::new(0));
        let guard = mutex.clone().try_lock_owned().unwrap();
        let probe = mutex.clone();
        cancel_with_stored_waker(mutex.lock(), move || {
            let _ = probe.try_lock();
        });
        drop(guard);
    });
    without_deadlock("RwLock write, cancelled", || {
        let lock = Arc::new(spindle::sync::RwLock::new(0));
        let guard = lock.clone().try_read_owned().unwrap();
        let probe = lock.clone();
        cancel_with_stored_waker(lock.write(), move || {
            let _ = probe.try_read();
        });
        drop(guard);
    });
    without_deadlock("watch changed, cancelled", || {
        let (tx, mut rx) = spindle::sync::watch::channel(0u32);
        cancel_with_stored_waker(rx.changed(), move || {
            let _ = tx.receiver_count();
        });
    });
    without_deadlock("oneshot recv, cancelled", || {
        let (tx, rx) = oneshot::channel::<u32>();
        let tx = Arc::new(std::sync::Mutex::new(Some(tx)));
        // Weak: the receiver's stored waker stays in the channel until the channel is freed,
        // and a strong reference to the sender in it would keep the channel alive for ever.
        let probe = Arc::downgrade(&tx);
        let mut rx = Box::pin(rx);
        let waker = Waker::from(Arc::new(LockingWaker(Box::new(move || {
            let Some(slot) = probe.upgrade() else { return };
            let guard = slot.lock().unwrap();
            if let Some(tx) = guard.as_ref() {
                let _ = tx.is_closed();
            }
        }))));
        assert!(rx
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
        drop(waker);
        drop(rx);
        drop(tx);
    });
}
