//! In-memory I/O in a model: `io::duplex`. On one thread, two tasks write and read through a
//! small pipe; on two workers, the writer and the reader really run in parallel. Either way
//! the writer must wait for the reader to free room (a wake-up loom checks).
#![cfg(loom)]

mod common;

use spindle::io::{AsyncReadExt, AsyncWriteExt};

#[test]
fn duplex_carries_every_byte_through_a_small_buffer() {
    common::assert_model_passes("duplex current-thread", || {
        spindle::model::check(|| async {
            let (mut near, mut far) = spindle::io::duplex(4);
            let writer = spindle::spawn(async move {
                near.write_all(b"0123456789").await.unwrap();
                near.shutdown().await.unwrap();
            });
            let mut received = Vec::new();
            far.read_to_end(&mut received).await.unwrap();
            writer.await.unwrap();
            assert_eq!(received, b"0123456789");
        })
    });
}

#[test]
fn duplex_between_two_workers() {
    common::assert_model_passes("duplex multi-thread", || {
        spindle::model::Builder::new_multi_thread()
            .worker_threads(2)
            .preemption_bound(1)
            .check(|| async {
                let (mut near, mut far) = spindle::io::duplex(2);
                let writer = spindle::spawn(async move {
                    near.write_all(b"abc").await.unwrap();
                });
                let reader = spindle::spawn(async move {
                    let mut buf = [0u8; 3];
                    far.read_exact(&mut buf).await.unwrap();
                    buf
                });
                writer.await.unwrap();
                assert_eq!(&reader.await.unwrap(), b"abc");
            })
    });
}
