//! Signals (issue 14 §2): listeners for SIGUSR1/SIGUSR2 and real-time signals, raised with
//! `raise` (delivered to the raising thread before it returns, so each scenario knows the
//! delivery happened). Every scenario runs on spindle's `signal::unix` and on tokio's, which
//! have the same shape, and the two must agree.
//!
//! A signal reaches every listener in the process, so the scenarios take [`ONE_AT_A_TIME`]:
//! a delivery from one test must not land in another's listener.

use std::future::poll_fn;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Mutex, MutexGuard};
use std::task::Poll;
use std::time::Duration;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Only a hang reaches this (a lost delivery); the test then fails instead of hanging.
const HANG: Duration = Duration::from_secs(20);

fn raise(signal: libc::c_int) {
    // SAFETY: `raise` takes a signal number and touches no memory of ours. Every signal
    // raised here has a handler installed by the scenario first.
    assert_eq!(unsafe { libc::raise(signal) }, 0);
}

fn on_spindle<T>(future: impl std::future::Future<Output = T>) -> T {
    let rt = spindle::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        spindle::time::timeout(HANG, future)
            .await
            .expect("a delivery was lost")
    })
}

fn on_tokio<T>(future: impl std::future::Future<Output = T>) -> T {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        tokio::time::timeout(HANG, future)
            .await
            .expect("a delivery was lost")
    })
}

/// The scenarios, written once over the module (`spindle::signal::unix` or
/// `tokio::signal::unix`): the APIs have the same names and shapes.
macro_rules! scenarios {
    ($side:ident, $unix:path) => {
        mod $side {
            use super::*;
            use unix::{signal, Signal, SignalKind};
            use $unix as unix;

            /// Whether a poll right now finds no delivery waiting.
            pub async fn nothing_pending(listener: &mut Signal) -> bool {
                poll_fn(|cx| Poll::Ready(listener.poll_recv(cx).is_pending())).await
            }

            pub async fn two_listeners_each_see_one_raise() -> Vec<bool> {
                let mut first = signal(SignalKind::user_defined1()).unwrap();
                let mut second = signal(SignalKind::user_defined1()).unwrap();
                raise(libc::SIGUSR1);
                let seen = vec![first.recv().await.is_some(), second.recv().await.is_some()];
                let none_left =
                    nothing_pending(&mut first).await && nothing_pending(&mut second).await;
                [seen, vec![none_left]].concat()
            }

            pub async fn a_listener_created_after_a_delivery_does_not_see_it() -> Vec<bool> {
                let mut early = signal(SignalKind::user_defined2()).unwrap();
                raise(libc::SIGUSR2);
                let early_saw = early.recv().await.is_some();
                let mut late = signal(SignalKind::user_defined2()).unwrap();
                let late_saw_old = !nothing_pending(&mut late).await;
                raise(libc::SIGUSR2);
                let late_saw_new = late.recv().await.is_some();
                let early_saw_new = early.recv().await.is_some();
                vec![early_saw, late_saw_old, late_saw_new, early_saw_new]
            }

            pub async fn deliveries_before_a_recv_coalesce() -> Vec<bool> {
                let mut listener = signal(SignalKind::user_defined1()).unwrap();
                raise(libc::SIGUSR1);
                raise(libc::SIGUSR1);
                raise(libc::SIGUSR1);
                let first = listener.recv().await.is_some();
                let then_nothing = nothing_pending(&mut listener).await;
                vec![first, then_nothing]
            }

            pub async fn a_dropped_listener_leaves_the_others_working() -> Vec<bool> {
                let dropped = signal(SignalKind::user_defined2()).unwrap();
                let mut kept = signal(SignalKind::user_defined2()).unwrap();
                drop(dropped);
                raise(libc::SIGUSR2);
                let kept_saw = kept.recv().await.is_some();
                let mut new = signal(SignalKind::user_defined2()).unwrap();
                raise(libc::SIGUSR2);
                vec![
                    kept_saw,
                    new.recv().await.is_some(),
                    kept.recv().await.is_some(),
                ]
            }

            pub fn forbidden_signals_are_refused() -> Vec<bool> {
                [
                    libc::SIGKILL,
                    libc::SIGSTOP,
                    libc::SIGSEGV,
                    libc::SIGILL,
                    libc::SIGFPE,
                ]
                .into_iter()
                .map(|signum| signal(SignalKind::from_raw(signum)).is_err())
                .collect()
            }

            pub fn kinds() -> Vec<libc::c_int> {
                [
                    SignalKind::interrupt(),
                    SignalKind::terminate(),
                    SignalKind::hangup(),
                    SignalKind::user_defined1(),
                    SignalKind::user_defined2(),
                    SignalKind::child(),
                    SignalKind::quit(),
                    SignalKind::pipe(),
                    SignalKind::alarm(),
                    SignalKind::window_change(),
                    SignalKind::from_raw(libc::SIGRTMIN()),
                ]
                .iter()
                .map(|kind| kind.as_raw_value())
                .collect()
            }

            /// A handler the program installed before the runtime's keeps being called.
            pub async fn the_previous_handler_is_still_called(
                signum: libc::c_int,
                calls: &'static AtomicUsize,
                handler: extern "C" fn(libc::c_int),
            ) -> (usize, bool) {
                // SAFETY: a zeroed sigaction is valid (empty mask, no flags); `handler` only
                // increments an atomic, which is async-signal-safe.
                unsafe {
                    let mut action: libc::sigaction = std::mem::zeroed();
                    action.sa_sigaction = handler as libc::sighandler_t;
                    assert_eq!(libc::sigaction(signum, &action, std::ptr::null_mut()), 0);
                }
                let mut listener = signal(SignalKind::from_raw(signum)).unwrap();
                raise(signum);
                let seen = listener.recv().await.is_some();
                (calls.load(SeqCst), seen)
            }
        }
    };
}

scenarios!(spindle_side, spindle::signal::unix);
scenarios!(tokio_side, tokio::signal::unix);

#[test]
fn two_listeners_each_see_one_raise() {
    let _serial = one_at_a_time();
    let spindle = on_spindle(spindle_side::two_listeners_each_see_one_raise());
    let tokio = on_tokio(tokio_side::two_listeners_each_see_one_raise());
    assert_eq!(spindle, tokio);
    assert_eq!(spindle, [true, true, true]);
}

#[test]
fn a_listener_created_after_a_delivery_does_not_see_it() {
    let _serial = one_at_a_time();
    let spindle = on_spindle(spindle_side::a_listener_created_after_a_delivery_does_not_see_it());
    let tokio = on_tokio(tokio_side::a_listener_created_after_a_delivery_does_not_see_it());
    assert_eq!(spindle, tokio);
    assert_eq!(spindle, [true, false, true, true]);
}

#[test]
fn deliveries_before_a_recv_coalesce() {
    let _serial = one_at_a_time();
    let spindle = on_spindle(spindle_side::deliveries_before_a_recv_coalesce());
    let tokio = on_tokio(tokio_side::deliveries_before_a_recv_coalesce());
    assert_eq!(spindle, tokio);
    assert_eq!(spindle, [true, true]);
}

#[test]
fn a_dropped_listener_leaves_the_others_working() {
    let _serial = one_at_a_time();
    let spindle = on_spindle(spindle_side::a_dropped_listener_leaves_the_others_working());
    let tokio = on_tokio(tokio_side::a_dropped_listener_leaves_the_others_working());
    assert_eq!(spindle, tokio);
    assert_eq!(spindle, [true, true, true]);
}

#[test]
fn forbidden_signals_are_refused_and_kinds_agree() {
    let _serial = one_at_a_time();
    let spindle = on_spindle(async { spindle_side::forbidden_signals_are_refused() });
    let tokio = on_tokio(async { tokio_side::forbidden_signals_are_refused() });
    assert_eq!(spindle, tokio);
    assert!(spindle.iter().all(|&refused| refused));
    assert_eq!(spindle_side::kinds(), tokio_side::kinds());
}

static SPINDLE_PREVIOUS_CALLS: AtomicUsize = AtomicUsize::new(0);
static TOKIO_PREVIOUS_CALLS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn count_spindle_previous(_: libc::c_int) {
    SPINDLE_PREVIOUS_CALLS.fetch_add(1, SeqCst);
}

extern "C" fn count_tokio_previous(_: libc::c_int) {
    TOKIO_PREVIOUS_CALLS.fetch_add(1, SeqCst);
}

#[test]
fn the_previous_handler_is_still_called() {
    let _serial = one_at_a_time();
    // A real-time signal per runtime, that nothing else in this binary touches: each runtime
    // installs its own handler over the test's.
    let spindle = on_spindle(spindle_side::the_previous_handler_is_still_called(
        libc::SIGRTMIN() + 2,
        &SPINDLE_PREVIOUS_CALLS,
        count_spindle_previous,
    ));
    let tokio = on_tokio(tokio_side::the_previous_handler_is_still_called(
        libc::SIGRTMIN() + 3,
        &TOKIO_PREVIOUS_CALLS,
        count_tokio_previous,
    ));
    assert_eq!(spindle, tokio);
    assert_eq!(spindle, (1, true));
}

/// Spindle differs here (documented at `signal::unix::signal`): 64 live listeners per
/// signal, then `WouldBlock`; dropping one frees its place. Tokio has no such limit.
#[test]
fn spindle_listeners_per_signal_are_bounded_and_freed_on_drop() {
    let _serial = one_at_a_time();
    on_spindle(async {
        use spindle::signal::unix::{signal, SignalKind};
        let kind = SignalKind::from_raw(libc::SIGRTMIN() + 4);
        let mut listeners: Vec<_> = (0..64).map(|_| signal(kind).unwrap()).collect();
        let error = signal(kind).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::WouldBlock, "{error}");
        drop(listeners.pop());
        let mut replacement = signal(kind).unwrap();
        raise(kind.as_raw_value());
        assert_eq!(replacement.recv().await, Some(()));
        for listener in &mut listeners {
            assert_eq!(listener.recv().await, Some(()));
        }
    });
}
