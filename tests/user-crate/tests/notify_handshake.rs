//! (b) A `Notify` handshake: a thread sets a `ready` flag and notifies; a task waits until
//! the flag is set.
//!
//! The buggy version checks the flag, then creates `notified()` and waits, while the notifier
//! sets the flag and calls `notify_waiters`. If the flag is set and `notify_waiters` runs
//! between the waiter's check and its `notified()`, nothing wakes the waiter: `notify_waiters`
//! stores no permit and only wakes futures that already exist. loom reports the deadlock.
//! Fixed two ways: `notify_one` (its permit waits for the next `notified()`), or create and
//! `enable()` the `Notified` before checking the flag, so a `notify_waiters` after the check
//! reaches it.
#![cfg(loom)]

mod common;

use loom::sync::atomic::{AtomicBool, Ordering::SeqCst};
use spindle::sync::Notify;
use std::sync::Arc;

struct Handshake {
    ready: AtomicBool,
    notify: Notify,
}

#[derive(Clone, Copy)]
enum Version {
    Buggy,
    FixedNotifyOne,
    FixedEnableFirst,
}

/// The notifier's side: publish the flag, then wake the waiter.
fn signal(handshake: &Handshake, version: Version) {
    handshake.ready.store(true, SeqCst);
    match version {
        Version::Buggy | Version::FixedEnableFirst => handshake.notify.notify_waiters(),
        Version::FixedNotifyOne => handshake.notify.notify_one(),
    }
}

/// The waiter's side: return once the flag is set.
async fn wait_ready(handshake: &Handshake, version: Version) {
    match version {
        Version::Buggy | Version::FixedNotifyOne => {
            while !handshake.ready.load(SeqCst) {
                handshake.notify.notified().await;
            }
        }
        Version::FixedEnableFirst => loop {
            let notified = handshake.notify.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if handshake.ready.load(SeqCst) {
                return;
            }
            notified.await;
        },
    }
}

fn model(version: Version) -> spindle::model::Report {
    spindle::model::check(move || async move {
        let handshake = Arc::new(Handshake {
            ready: AtomicBool::new(false),
            notify: Notify::new(),
        });
        let notifier = {
            let handshake = handshake.clone();
            loom::thread::spawn(move || signal(&handshake, version))
        };
        wait_ready(&handshake, version).await;
        notifier.join().unwrap();
    })
}

#[test]
fn buggy_check_then_notified_misses_notify_waiters() {
    common::assert_model_fails(
        "buggy_check_then_notified_misses_notify_waiters",
        "deadlock",
        || {
            model(Version::Buggy);
        },
    );
}

#[test]
fn fixed_notify_one_permit_is_kept() {
    common::assert_model_passes("notify_handshake fixed (notify_one)", || {
        model(Version::FixedNotifyOne)
    });
}

#[test]
fn fixed_enable_before_the_check_sees_notify_waiters() {
    common::assert_model_passes("notify_handshake fixed (enable first)", || {
        model(Version::FixedEnableFirst)
    });
}
