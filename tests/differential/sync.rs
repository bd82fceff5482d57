//! `spindle::sync` against `tokio::sync`: each scenario is written once, in [`logs_agree!`],
//! expanded twice by [`on_both!`] (once with `spindle`'s names, once with `tokio`'s, on a
//! current-thread runtime of each), and the two logs must be equal. The logs record orders,
//! counts and poll outcomes, so a difference in FIFO order, permit semantics, cancellation or
//! lag counting shows as a diff.

use std::error::Error;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Wake, Waker};

/// Polls a future once with a no-op waker: `true` if it completed.
pub fn ready<F: Future + ?Sized>(future: Pin<&mut F>) -> bool {
    let waker = Waker::from(std::sync::Arc::new(crate::Inert));
    future.poll(&mut Context::from_waker(&waker)).is_ready()
}

/// The shared log of a scenario.
pub type Log = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

pub fn log(log: &Log, entry: impl Into<String>) {
    log.lock().unwrap().push(entry.into());
}

/// A scenario written once: `$body` (an async block's contents, with `sync`, `spawn` and
/// `yield_now` naming spindle's or tokio's) returns its log; [`on_both!`] runs it on a
/// current-thread runtime of each, and the test asserts the two logs are equal (and not
/// empty).
macro_rules! logs_agree {
    ($(#[$meta:meta])* $name:ident, $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::{log, ready, Log};
            #[allow(unused_imports)]
            use std::sync::Arc;

            on_both! {
                async fn scenario() -> Vec<String> {
                    #[allow(unused_imports)]
                    use rt::{spawn, sync, task::yield_now};
                    $body
                }
            }

            $(#[$meta])*
            #[test]
            fn spindle_agrees_with_tokio() {
                let tokio = scenario::tokio();
                let spindle = scenario::spindle();
                assert!(!tokio.is_empty(), "the scenario logged nothing");
                assert_eq!(spindle, tokio);
            }
        }
    };
}

/// Lets every spawned task run until it blocks (current-thread runtimes run them in order).
macro_rules! settle {
    () => {
        for _ in 0..8 {
            yield_now().await;
        }
    };
}

// ---------------------------------------------------------------- Semaphore

logs_agree!(
    semaphore_large_acquire_at_the_head_blocks_later_small_ones,
    {
        let semaphore = Arc::new(sync::Semaphore::new(2));
        let events = Log::default();
        let held = semaphore.acquire_many(2).await.unwrap();
        let mut tasks = Vec::new();
        for (name, n) in [("big", 3u32), ("small", 1), ("small2", 1)] {
            let (semaphore, events) = (semaphore.clone(), events.clone());
            tasks.push(spawn(async move {
                let permit = semaphore.acquire_many(n).await.unwrap();
                log(&events, format!("{name} got {}", permit.num_permits()));
                yield_now().await;
            }));
        }
        settle!();
        log(
            &events,
            format!("available {}", semaphore.available_permits()),
        );
        drop(held); // 2 free: both go to "big", which still waits for a third
        settle!();
        log(
            &events,
            format!("after release: available {}", semaphore.available_permits()),
        );
        log(
            &events,
            format!("try_acquire ok: {}", semaphore.try_acquire().is_ok()),
        );
        semaphore.add_permits(1);
        for task in tasks {
            task.await.unwrap();
        }
        log(
            &events,
            format!("end: available {}", semaphore.available_permits()),
        );
        let log = events.lock().unwrap().clone();
        log
    }
);

logs_agree!(semaphore_cancelled_acquire_passes_its_permits_on, {
    let semaphore = Arc::new(sync::Semaphore::new(0));
    let events = Log::default();
    let mut big = Box::pin(semaphore.acquire_many(2));
    log(&events, format!("big ready: {}", ready(big.as_mut())));
    let waiter = {
        let (semaphore, events) = (semaphore.clone(), events.clone());
        spawn(async move {
            let _permit = semaphore.acquire().await.unwrap();
            log(&events, "small got its permit");
        })
    };
    settle!();
    semaphore.add_permits(1); // assigned to `big`, at the head
    settle!();
    log(
        &events,
        format!("available {}", semaphore.available_permits()),
    );
    drop(big); // gives its permit to the small waiter
    waiter.await.unwrap();
    log(
        &events,
        format!("end: available {}", semaphore.available_permits()),
    );
    let log = events.lock().unwrap().clone();
    log
});

logs_agree!(semaphore_close_fails_waiters_and_keeps_held_permits, {
    let semaphore = Arc::new(sync::Semaphore::new(1));
    let mut out = Vec::new();
    let held = semaphore.try_acquire().unwrap();
    let waiter = {
        let semaphore = semaphore.clone();
        spawn(async move { semaphore.acquire().await.is_err() })
    };
    settle!();
    semaphore.close();
    out.push(format!("waiter failed: {}", waiter.await.unwrap()));
    out.push(format!("closed: {}", semaphore.is_closed()));
    out.push(format!("try: {:?}", semaphore.try_acquire().map(|_| ())));
    drop(held);
    out.push(format!(
        "available after drop: {}",
        semaphore.available_permits()
    ));
    let owned = semaphore.clone().try_acquire_owned().is_err();
    out.push(format!("owned try fails: {owned}"));
    out.push(format!("forgot {}", semaphore.forget_permits(5)));
    out
});

// ---------------------------------------------------------------- Mutex, RwLock

logs_agree!(mutex_waiters_get_the_lock_in_arrival_order, {
    let mutex = Arc::new(sync::Mutex::new(Vec::new()));
    let guard = mutex.lock().await;
    let mut tasks = Vec::new();
    for id in 0..4 {
        let mutex = mutex.clone();
        tasks.push(spawn(async move {
            let mut guard = mutex.lock().await;
            yield_now().await; // held across an await
            guard.push(format!("task {id}"));
        }));
    }
    settle!();
    drop(guard);
    // The lock was handed to task 0: nobody can barge in.
    let barged = mutex.try_lock().is_ok();
    for task in tasks {
        task.await.unwrap();
    }
    let mut out = mutex.lock().await.clone();
    out.push(format!("barged: {barged}"));
    out
});

logs_agree!(mutex_cancelled_lock_passes_its_place_on, {
    let mutex = Arc::new(sync::Mutex::new(0));
    let guard = mutex.lock().await;
    let mut first = Box::pin(mutex.lock());
    let mut second = Box::pin(mutex.lock());
    let mut out = vec![format!(
        "first {} second {}",
        ready(first.as_mut()),
        ready(second.as_mut())
    )];
    drop(guard); // handed to `first`
    drop(first); // cancelled: passes it on to `second`
    out.push(format!("second ready: {}", ready(second.as_mut())));
    out
});

logs_agree!(rwlock_waiting_writer_blocks_later_readers, {
    let lock = Arc::new(sync::RwLock::new(0));
    let events = Log::default();
    let read = lock.read().await;
    let writer = {
        let (lock, events) = (lock.clone(), events.clone());
        spawn(async move {
            *lock.write().await += 1;
            log(&events, "writer");
        })
    };
    settle!();
    log(
        &events,
        format!(
            "try_read with a writer waiting: {}",
            lock.try_read().is_ok()
        ),
    );
    let reader = {
        let (lock, events) = (lock.clone(), events.clone());
        spawn(async move {
            let value = *lock.read().await;
            log(&events, format!("late reader saw {value}"));
        })
    };
    settle!();
    drop(read);
    writer.await.unwrap();
    reader.await.unwrap();
    let log = events.lock().unwrap().clone();
    log
});

// ---------------------------------------------------------------- Notify

logs_agree!(notify_permit_semantics, {
    let notify = sync::Notify::new();
    let mut out = Vec::new();
    notify.notify_one();
    notify.notify_one(); // still one permit
    out.push(format!(
        "first: {}",
        ready(std::pin::pin!(notify.notified()))
    ));
    out.push(format!(
        "second: {}",
        ready(std::pin::pin!(notify.notified()))
    ));
    notify.notify_waiters(); // stores nothing
    out.push(format!(
        "after notify_waiters: {}",
        ready(std::pin::pin!(notify.notified()))
    ));
    // Created (not polled) before notify_waiters: woken by it.
    let mut early = std::pin::pin!(notify.notified());
    notify.notify_waiters();
    out.push(format!(
        "created before notify_waiters: {}",
        ready(early.as_mut())
    ));
    // FIFO: notify_one wakes the first enabled waiter.
    let mut a = Box::pin(notify.notified());
    let mut b = Box::pin(notify.notified());
    out.push(format!(
        "enable a {} b {}",
        a.as_mut().enable(),
        b.as_mut().enable()
    ));
    notify.notify_one();
    out.push(format!("b {} a {}", ready(b.as_mut()), ready(a.as_mut())));
    // A picked waiter dropped before completing passes the notification on.
    let mut c = Box::pin(notify.notified());
    let mut d = Box::pin(notify.notified());
    c.as_mut().enable();
    d.as_mut().enable();
    notify.notify_one();
    drop(c);
    out.push(format!("d after c dropped: {}", ready(d.as_mut())));
    // notify_last picks the newest waiter.
    let mut e = Box::pin(notify.notified());
    let mut f = Box::pin(notify.notified());
    e.as_mut().enable();
    f.as_mut().enable();
    notify.notify_last();
    out.push(format!("e {} f {}", ready(e.as_mut()), ready(f.as_mut())));
    out
});

logs_agree!(notify_wakes_a_task_across_spawn, {
    let notify = Arc::new(sync::Notify::new());
    let events = Log::default();
    let waiter = {
        let (notify, events) = (notify.clone(), events.clone());
        spawn(async move {
            notify.notified().await;
            log(&events, "woken");
        })
    };
    settle!();
    notify.notify_waiters();
    waiter.await.unwrap();
    let log = events.lock().unwrap().clone();
    log
});

// ---------------------------------------------------------------- watch

logs_agree!(watch_changed_semantics, {
    let (tx, mut rx) = sync::watch::channel(0);
    let mut out = Vec::new();
    out.push(format!("initial has_changed {:?}", rx.has_changed()));
    out.push(format!(
        "changed pending: {}",
        !ready(std::pin::pin!(rx.changed()))
    ));
    tx.send(1).unwrap();
    tx.send(2).unwrap(); // 1 is skipped: only the latest is kept
    out.push(format!("has_changed {:?}", rx.has_changed()));
    {
        let seen = rx.borrow();
        out.push(format!(
            "borrow {} has_changed {}",
            *seen,
            seen.has_changed()
        ));
    }
    rx.changed().await.unwrap();
    out.push(format!(
        "after changed: {} {:?}",
        *rx.borrow(),
        rx.has_changed()
    ));
    tx.send_modify(|value| *value += 10);
    {
        let seen = rx.borrow_and_update();
        out.push(format!(
            "borrow_and_update {} {}",
            *seen,
            seen.has_changed()
        ));
    }
    out.push(format!(
        "changed pending: {}",
        !ready(std::pin::pin!(rx.changed()))
    ));
    out.push(format!("send_replace returned {}", tx.send_replace(20)));
    rx.mark_unchanged();
    out.push(format!("after mark_unchanged {:?}", rx.has_changed()));
    let rx2 = tx.subscribe();
    out.push(format!("receivers {}", tx.receiver_count()));
    drop(rx2);
    tx.send(30).unwrap();
    drop(tx);
    // The unseen 30 is still reported, then the close.
    out.push(format!(
        "has_changed after close {:?}",
        rx.has_changed().is_err()
    ));
    out.push(format!("changed {:?}", rx.changed().await.is_ok()));
    out.push(format!("value {}", *rx.borrow()));
    out.push(format!("changed again {:?}", rx.changed().await.is_ok()));
    out
});

logs_agree!(watch_send_fails_without_receivers_and_closed_wakes, {
    let (tx, rx) = sync::watch::channel("a");
    let mut out = Vec::new();
    let closed = {
        let mut closed = Box::pin(tx.closed());
        out.push(format!("closed ready: {}", ready(closed.as_mut())));
        drop(rx);
        ready(closed.as_mut())
    };
    out.push(format!("closed ready after drop: {closed}"));
    out.push(format!("send: {:?}", tx.send("b").map_err(|error| error.0)));
    out.push(format!("is_closed {}", tx.is_closed()));
    out.push(format!("send_replace: {}", tx.send_replace("c")));
    out.push(format!("borrow {}", *tx.borrow()));
    out
});

logs_agree!(watch_closes_when_the_last_of_its_cloned_senders_goes, {
    let (tx, mut rx) = sync::watch::channel(0);
    let tx2 = tx.clone();
    let mut out = vec![format!("senders {}", tx.sender_count())];
    drop(tx);
    out.push(format!("after one drop: {:?}", rx.has_changed()));
    tx2.send(1).unwrap();
    out.push(format!("changed {:?}", rx.changed().await.is_ok()));
    drop(tx2);
    out.push(format!(
        "after the last drop: {:?} {:?}",
        rx.has_changed().is_err(),
        rx.changed().await.is_err()
    ));
    let lone = sync::watch::Sender::new(5);
    out.push(format!(
        "Sender::new receivers {} send fails {}",
        lone.receiver_count(),
        lone.send(6).is_err()
    ));
    let rx = lone.subscribe();
    out.push(format!("subscribed sees {}", *rx.borrow()));
    out
});

logs_agree!(rwlock_owned_guards_move_into_tasks, {
    let lock = Arc::new(sync::RwLock::new(1));
    let write = lock.clone().write_owned().await;
    let mut out = vec![format!(
        "try_read_owned while written: {}",
        lock.clone().try_read_owned().is_ok()
    )];
    let writer = spawn(async move {
        let mut write = write;
        *write += 1;
    });
    writer.await.unwrap();
    let read = lock.clone().read_owned().await;
    out.push(format!(
        "read {} try_write_owned {}",
        *read,
        lock.clone().try_write_owned().is_ok()
    ));
    drop(read);
    out.push(format!(
        "try_write_owned after {}",
        lock.clone().try_write_owned().is_ok()
    ));
    out
});

// ---------------------------------------------------------------- broadcast

logs_agree!(broadcast_slow_receiver_lags_by_the_overwritten_count, {
    let (tx, mut fast) = sync::broadcast::channel(4);
    let mut slow = tx.subscribe();
    let mut out = Vec::new();
    for value in 0..10 {
        tx.send(value).unwrap();
        out.push(format!("fast {:?}", fast.recv().await));
    }
    out.push(format!("sender len {}", tx.len()));
    out.push(format!("slow len {}", slow.len()));
    out.push(format!("slow {:?}", slow.recv().await));
    out.push(format!("slow {:?}", slow.recv().await));
    out.push(format!("slow try {:?}", slow.try_recv()));
    tx.send(10).unwrap();
    tx.send(11).unwrap();
    let mut late = fast.resubscribe();
    tx.send(12).unwrap();
    loop {
        let got = slow.try_recv();
        out.push(format!("slow try {got:?}"));
        if got == Err(sync::broadcast::error::TryRecvError::Empty) {
            break;
        }
    }
    out.push(format!("late {:?}", late.try_recv()));
    out.push(format!("receivers {}", tx.receiver_count()));
    drop(tx);
    out.push(format!(
        "late after close {:?} {:?}",
        late.try_recv(),
        late.recv().await
    ));
    out.push(format!("fast {:?}", fast.recv().await));
    out
});

logs_agree!(broadcast_rounds_capacity_up_to_a_power_of_two, {
    let (tx, mut rx) = sync::broadcast::channel(3); // 4 kept
    for value in 0..6 {
        tx.send(value).unwrap();
    }
    let mut out = vec![format!("{:?}", rx.try_recv())];
    while let Ok(value) = rx.try_recv() {
        out.push(value.to_string());
    }
    drop(rx);
    out.push(format!(
        "send without receivers: {:?}",
        tx.send(9).map_err(|error| error.0)
    ));
    out
});

logs_agree!(broadcast_recv_waits_and_fans_out, {
    let (tx, _) = sync::broadcast::channel(8);
    let events = Log::default();
    let mut tasks = Vec::new();
    for id in 0..3 {
        let mut rx = tx.subscribe();
        let events = events.clone();
        tasks.push(spawn(async move {
            let mut sum = 0;
            while let Ok(value) = rx.recv().await {
                sum += value;
            }
            log(&events, format!("receiver {id} sum {sum}"));
        }));
    }
    settle!();
    for value in 1..=5 {
        tx.send(value).unwrap();
        yield_now().await;
    }
    drop(tx);
    for task in tasks {
        task.await.unwrap();
    }
    let log = events.lock().unwrap().clone();
    log
});

// ---------------------------------------------------------------- Barrier, OnceCell

logs_agree!(barrier_has_one_leader_per_generation, {
    let barrier = Arc::new(sync::Barrier::new(3));
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let barrier = barrier.clone();
        tasks.push(spawn(async move { barrier.wait().await.is_leader() }));
    }
    let mut leaders = 0;
    for task in tasks {
        leaders += task.await.unwrap() as usize;
    }
    let single = sync::Barrier::new(0).wait().await.is_leader();
    vec![format!("leaders {leaders}"), format!("n=0 leader {single}")]
});

logs_agree!(once_cell_init_runs_once_and_a_cancelled_init_passes_on, {
    let cell = Arc::new(sync::OnceCell::new());
    let mut out = Vec::new();
    out.push(format!("initialized {}", cell.initialized()));
    {
        // An init that is cancelled mid-way leaves the cell empty.
        let mut init = Box::pin(cell.get_or_init(|| async {
            yield_now().await;
            1
        }));
        out.push(format!("init ready: {}", ready(init.as_mut())));
        out.push(format!(
            "set while initializing: {:?}",
            cell.set(5).map_err(|error| error.is_initializing_err())
        ));
    }
    out.push(format!("after cancel: {:?}", cell.get()));
    let failed: Result<&i32, &str> = cell.get_or_try_init(|| async { Err("nope") }).await;
    out.push(format!("failed init: {failed:?}"));
    let value = *cell.get_or_init(|| async { 2 }).await;
    out.push(format!("value {value}"));
    out.push(format!(
        "set after: {:?}",
        cell.set(3).map_err(|error| error.is_already_init_err())
    ));
    let again = *cell.get_or_init(|| async { 4 }).await;
    out.push(format!("again {again}"));
    out.push(format!(
        "into_inner {:?}",
        Arc::try_unwrap(cell).unwrap().into_inner()
    ));
    out
});

// ---------------------------------------------------------------- mpsc additions

logs_agree!(mpsc_reserve_recv_many_closed_and_weak_senders, {
    let (tx, mut rx) = sync::mpsc::channel::<u32>(2);
    let mut out = Vec::new();
    let permit = tx.reserve().await.unwrap();
    out.push(format!("capacity after reserve {}", tx.capacity()));
    tx.try_send(1).unwrap();
    out.push(format!("try_send when full: {}", tx.try_send(2).is_err()));
    permit.send(0);
    out.push(format!(
        "reserve when full ready: {}",
        ready(std::pin::pin!(tx.reserve()))
    ));
    let mut buffer = Vec::new();
    let got = rx.recv_many(&mut buffer, 10).await;
    out.push(format!("recv_many {got} {buffer:?}"));
    let mut waiting = Box::pin(tx.reserve());
    out.push(format!("reserve ready: {}", ready(waiting.as_mut())));
    drop(waiting);
    out.push(format!("try_recv empty: {:?}", rx.try_recv().is_err()));
    let weak = tx.downgrade();
    out.push(format!("upgrade while alive: {}", weak.upgrade().is_some()));
    let mut closed = Box::pin(tx.closed());
    out.push(format!("closed ready: {}", ready(closed.as_mut())));
    rx.close();
    out.push(format!(
        "closed ready after close: {}",
        ready(closed.as_mut())
    ));
    out.push(format!(
        "reserve after close: {}",
        tx.reserve().await.is_err()
    ));
    drop(closed);
    drop(tx);
    out.push(format!(
        "upgrade after last sender: {}",
        weak.upgrade().is_some()
    ));
    out.push(format!("recv after all: {:?}", rx.recv().await));
    let (tx, mut rx) = sync::mpsc::channel::<u32>(1);
    let owned = tx.clone().reserve_owned().await.unwrap();
    let tx2 = owned.send(7);
    out.push(format!(
        "owned permit sent: {:?} same {}",
        rx.recv().await,
        tx2.same_channel(&tx)
    ));
    out.push(format!(
        "recv_many limit 0: {}",
        rx.recv_many(&mut Vec::new(), 0).await
    ));
    out
});

// ---------------------------------------------------------------- oneshot

/// A waker that records whether it was woken, watched through a `Weak` (dead once nothing
/// holds the waker).
pub struct WatchedWake(std::sync::atomic::AtomicBool);

impl Wake for WatchedWake {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A fresh watched waker and its `Weak`.
pub fn watched_waker() -> (Waker, std::sync::Weak<WatchedWake>) {
    let wake = std::sync::Arc::new(WatchedWake(Default::default()));
    let weak = std::sync::Arc::downgrade(&wake);
    (Waker::from(wake), weak)
}

/// Polls `future` once with `waker`: `true` if it is still pending.
pub fn pending_with<F: Future + Unpin>(future: &mut F, waker: &Waker) -> bool {
    Pin::new(future)
        .poll(&mut Context::from_waker(waker))
        .is_pending()
}

// A receiver that went away (dropped, or closed) releases the waker it stored at once, even
// though the sender lives on: kept, it would pin the receiving task (and its runtime) for as
// long as the sender does. A receiver still waiting keeps it, and the send wakes it.
logs_agree!(oneshot_a_receiver_that_went_away_releases_its_waker, {
    use super::super::{pending_with, watched_waker};
    let events = Log::default();
    let held = |weak: &std::sync::Weak<super::super::WatchedWake>| weak.strong_count() > 0;

    // A receiver polled once (pending) with a fresh watched waker, which only it holds.
    let polled_once = |events: &Log| {
        let (tx, mut rx) = sync::oneshot::channel::<u32>();
        let (waker, weak) = watched_waker();
        log(
            events,
            format!("pending: {}", pending_with(&mut rx, &waker)),
        );
        (tx, rx, weak)
    };

    let (tx, rx, weak) = polled_once(&events);
    drop(rx);
    log(&events, format!("dropped: waker held {}", held(&weak)));
    log(&events, format!("send: {:?}", tx.send(1)));

    let (tx, mut rx) = sync::oneshot::channel::<u32>();
    let (first, first_weak) = watched_waker();
    let (second, second_weak) = watched_waker();
    log(
        &events,
        format!("pending: {}", pending_with(&mut rx, &first)),
    );
    log(
        &events,
        format!("pending: {}", pending_with(&mut rx, &second)),
    );
    drop((first, second));
    log(
        &events,
        format!("re-polled: first held {}", held(&first_weak)),
    );
    drop(rx);
    log(
        &events,
        format!("dropped: second held {}", held(&second_weak)),
    );
    drop(tx);

    let (tx, mut rx, weak) = polled_once(&events);
    rx.close();
    log(&events, format!("closed: waker held {}", held(&weak)));
    log(&events, format!("send: {:?}", tx.send(2)));
    log(&events, format!("try_recv: {:?}", rx.try_recv()));

    let (tx, rx, weak) = polled_once(&events);
    log(&events, format!("waiting: waker held {}", held(&weak)));
    log(&events, format!("send: {:?}", tx.send(3)));
    let woken = weak.upgrade().map_or(true, |wake| {
        wake.0.load(std::sync::atomic::Ordering::SeqCst)
    });
    log(&events, format!("woken: {woken}"));
    log(&events, format!("received: {:?}", rx.await));
    log(
        &events,
        format!("after the outcome: waker held {}", held(&weak)),
    );

    let log = events.lock().unwrap().clone();
    log
});

// ---------------------------------------------------------------- error types

fn assert_error<E: Error + Send + Sync + 'static>() {}

/// Every error type of `spindle::sync` (and `JoinError`, `JobError`) goes into a
/// `Box<dyn Error + Send + Sync>` with `?`. `JoinError` and `JobError` were `!Sync` (a bare
/// `Box<dyn Any + Send>` payload) before issue 13, so this did not compile for them.
#[test]
fn every_error_type_is_send_sync_static_and_an_error() {
    use spindle::sync::*;
    assert_error::<AcquireError>();
    assert_error::<TryAcquireError>();
    assert_error::<TryLockError>();
    assert_error::<SetError<u32>>();
    assert_error::<watch::error::RecvError>();
    assert_error::<watch::error::SendError<u32>>();
    assert_error::<broadcast::error::RecvError>();
    assert_error::<broadcast::error::TryRecvError>();
    assert_error::<broadcast::error::SendError<u32>>();
    assert_error::<mpsc::error::SendError<u32>>();
    assert_error::<mpsc::error::TrySendError<u32>>();
    assert_error::<mpsc::error::TryRecvError>();
    assert_error::<oneshot::error::RecvError>();
    assert_error::<oneshot::error::TryRecvError>();
    assert_error::<spindle::task::JoinError>();
    assert_error::<spindle::thread_pool::JobError>();

    fn join_error_through_question_mark() -> Result<(), Box<dyn Error + Send + Sync>> {
        spindle::block_on(async {
            spindle::spawn(async { panic!("boom") }).await?;
            Ok(())
        })
    }
    let error = join_error_through_question_mark().unwrap_err();
    assert!(error.to_string().contains("boom"), "{error}");
}
