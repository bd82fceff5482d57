//! (c) A consumer that stops on a shutdown flag: it checks the flag, then `select!`s between
//! the next message and a stop notification.
//!
//! The producer sends a message, then sets the flag and notifies. In the buggy version the
//! consumer checks the flag before the `select!`: if the message and the flag both land
//! before its next check, it leaves with the message still in the channel, dropped. The fixed
//! version drains the channel after seeing the flag (the message was sent before the flag
//! was set, so the drain finds it).
#![cfg(loom)]

mod common;

use loom::sync::atomic::{AtomicBool, Ordering::SeqCst};
use spindle::sync::{mpsc, Notify};
use std::sync::Arc;

struct Stop {
    flag: AtomicBool,
    notify: Notify,
}

/// The consumer: counts the messages it handled before stopping.
async fn consume(mut rx: mpsc::UnboundedReceiver<u32>, stop: &Stop, drain: bool) -> u32 {
    let mut handled = 0;
    loop {
        if stop.flag.load(SeqCst) {
            break;
        }
        spindle::select! {
            Some(message) = rx.recv() => handled += message,
            _ = stop.notify.notified() => {}
        }
    }
    if drain {
        while let Ok(message) = rx.try_recv() {
            handled += message;
        }
    }
    handled
}

fn model(drain: bool) -> spindle::model::Report {
    spindle::model::check(move || async move {
        let (tx, rx) = mpsc::unbounded_channel();
        let stop = Arc::new(Stop {
            flag: AtomicBool::new(false),
            notify: Notify::new(),
        });
        let producer = {
            let stop = stop.clone();
            loom::thread::spawn(move || {
                tx.send(1).unwrap();
                stop.flag.store(true, SeqCst);
                stop.notify.notify_one();
            })
        };
        let handled = consume(rx, &stop, drain).await;
        producer.join().unwrap();
        assert_eq!(handled, 1, "a message sent before shutdown was dropped");
    })
}

#[test]
fn buggy_flag_checked_before_select_drops_a_message() {
    common::assert_model_fails(
        "buggy_flag_checked_before_select_drops_a_message",
        "a message sent before shutdown was dropped",
        || {
            model(false);
        },
    );
}

#[test]
fn fixed_drain_after_the_flag_handles_every_message() {
    common::assert_model_passes("shutdown_select fixed", || model(true));
}
