//! (a) A lost update between two tasks: each adds one to a shared counter.
//!
//! The buggy version reads the counter, then writes the read value plus one (check-then-act):
//! when both tasks read before either writes, one increment is lost. The fixed version
//! increments in one atomic read-modify-write.
#![cfg(loom)]

mod common;

use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

/// The application code: add one to the counter.
fn increment_buggy(counter: &AtomicUsize) {
    let seen = counter.load(SeqCst);
    counter.store(seen + 1, SeqCst);
}

fn increment_fixed(counter: &AtomicUsize) {
    counter.fetch_add(1, SeqCst);
}

/// Two tasks on two workers increment once each; the counter must end at two.
fn model(increment: fn(&AtomicUsize)) -> spindle::model::Report {
    spindle::model::Builder::new_multi_thread()
        .worker_threads(2)
        .check(move || async move {
            let counter = Arc::new(AtomicUsize::new(0));
            let tasks: Vec<_> = (0..2)
                .map(|_| {
                    let counter = counter.clone();
                    spindle::spawn(async move { increment(&counter) })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
            assert_eq!(counter.load(SeqCst), 2, "an increment was lost");
        })
}

#[test]
fn buggy_check_then_act_loses_an_update() {
    common::assert_model_fails("lost_update buggy", || {
        model(increment_buggy);
    });
}

#[test]
fn fixed_fetch_add_keeps_both_updates() {
    common::assert_model_passes("lost_update fixed", || model(increment_fixed));
}
