//! `join!`, `try_join!` and `select!` as `macro_rules`, with one waker per branch.
//!
//! Each macro expands, inside the caller's `async` code, to a `poll_fn` over its branches and
//! a [`BranchWakers`](support::BranchWakers): a poll takes the set of branches whose own waker
//! fired (`begin`) and polls only those; before returning `Pending` it calls `finish`, which on
//! the first poll registers the task's waker and hands back any branch woken meanwhile. tokio's and futures-util's combinators poll every unfinished
//! branch whenever any branch wakes (the article's T1/T2/T3 wasted switch, one level down);
//! these do not. See `branch_wakers.rs` for the protocol and its loom model.
//!
//! Branch state lives in hygienic locals: each branch's future is pinned with
//! `core::pin::pin!` inside an `Option` (set to `None` once it completes, dropping it), so the
//! expansions contain no `unsafe`. Up to 64 branches (one bit each).

mod branch_wakers;
mod poll_audit;

#[cfg(all(test, loom))]
mod loom_tests;

pub use poll_audit::{audit_polls, AuditPolls};

/// What the macro expansions call; not part of the public API.
#[doc(hidden)]
pub mod support {
    pub use super::branch_wakers::{select_start, BranchWakers, MAX_BRANCHES};
}

/// Hands the branch-name list to one of the macros below (64 entries; one is used per branch).
#[doc(hidden)]
#[macro_export]
macro_rules! __spindle_branch_names {
    ($m:ident { $($args:tt)* }) => {
        $crate::$m! { [(b0 o0 T0 V0 0) (b1 o1 T1 V1 1) (b2 o2 T2 V2 2) (b3 o3 T3 V3 3) (b4 o4 T4 V4 4) (b5 o5 T5 V5 5) (b6 o6 T6 V6 6) (b7 o7 T7 V7 7) (b8 o8 T8 V8 8) (b9 o9 T9 V9 9) (b10 o10 T10 V10 10) (b11 o11 T11 V11 11) (b12 o12 T12 V12 12) (b13 o13 T13 V13 13) (b14 o14 T14 V14 14) (b15 o15 T15 V15 15) (b16 o16 T16 V16 16) (b17 o17 T17 V17 17) (b18 o18 T18 V18 18) (b19 o19 T19 V19 19) (b20 o20 T20 V20 20) (b21 o21 T21 V21 21) (b22 o22 T22 V22 22) (b23 o23 T23 V23 23) (b24 o24 T24 V24 24) (b25 o25 T25 V25 25) (b26 o26 T26 V26 26) (b27 o27 T27 V27 27) (b28 o28 T28 V28 28) (b29 o29 T29 V29 29) (b30 o30 T30 V30 30) (b31 o31 T31 V31 31) (b32 o32 T32 V32 32) (b33 o33 T33 V33 33) (b34 o34 T34 V34 34) (b35 o35 T35 V35 35) (b36 o36 T36 V36 36) (b37 o37 T37 V37 37) (b38 o38 T38 V38 38) (b39 o39 T39 V39 39) (b40 o40 T40 V40 40) (b41 o41 T41 V41 41) (b42 o42 T42 V42 42) (b43 o43 T43 V43 43) (b44 o44 T44 V44 44) (b45 o45 T45 V45 45) (b46 o46 T46 V46 46) (b47 o47 T47 V47 47) (b48 o48 T48 V48 48) (b49 o49 T49 V49 49) (b50 o50 T50 V50 50) (b51 o51 T51 V51 51) (b52 o52 T52 V52 52) (b53 o53 T53 V53 53) (b54 o54 T54 V54 54) (b55 o55 T55 V55 55) (b56 o56 T56 V56 56) (b57 o57 T57 V57 57) (b58 o58 T58 V58 58) (b59 o59 T59 V59 59) (b60 o60 T60 V60 60) (b61 o61 T61 V61 61) (b62 o62 T62 V62 62) (b63 o63 T63 V63 63)] $($args)* }
    };
}

/// Pins values to the stack, like `tokio::pin!`: each named variable is shadowed by a
/// `Pin<&mut _>` to it, so a future can be polled by reference, e.g. in `select!` in a loop.
/// Also takes `let` statements. Safe: it is `core::pin::pin!` under tokio's calling shape.
///
/// ```
/// use std::time::Duration;
/// spindle::block_on(async {
///     let deadline = spindle::time::sleep(Duration::from_millis(20));
///     spindle::pin!(deadline);
///     let mut ticks = 0;
///     loop {
///         spindle::select! {
///             _ = &mut deadline => break,
///             _ = spindle::time::sleep(Duration::from_millis(1)) => ticks += 1,
///         }
///     }
///     assert!(ticks > 0);
/// });
/// ```
#[macro_export]
macro_rules! pin {
    ($($x:ident),* $(,)?) => {
        $( let mut $x = ::core::pin::pin!($x); )*
    };
    ($(let $x:ident = $init:expr;)*) => {
        $( let mut $x = ::core::pin::pin!($init); )*
    };
}

/// Waits on several futures concurrently, on the current task, and returns all their outputs
/// as a tuple, like `tokio::join!`.
///
/// Each branch is polled with its own waker: when one branch's waker fires, only that branch
/// is polled again (tokio's and futures-util's `join!` poll every unfinished branch).
/// At most 64 branches. Must be used inside `async` code.
///
/// ```
/// spindle::block_on(async {
///     let (a, b, c) = spindle::join!(async { 1 }, async { "two" }, async { 3.0 });
///     assert_eq!((a, b, c), (1, "two", 3.0));
/// });
/// ```
#[macro_export]
macro_rules! join {
    () => { async {}.await };
    ($($e:expr),+ $(,)?) => {
        $crate::__spindle_branch_names! { __spindle_join { @munch [] $($e,)+ } }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __spindle_join {
    ([$name:tt $($names:tt)*] @munch [$($done:tt)*] $e:expr, $($rest:tt)*) => {
        $crate::__spindle_join! { [$($names)*] @munch [$($done)* ($name [$e])] $($rest)* }
    };
    ([] @munch [$($done:tt)*] $e:expr, $($rest:tt)*) => {
        ::core::compile_error!("spindle::join! takes at most 64 branches")
    };
    ([$($names:tt)*] @munch [$((($b:ident $o:ident $T:ident $V:ident $i:tt) [$e:expr]))*]) => {{
        $(
            let mut $b = ::core::pin::pin!(::core::option::Option::Some(
                ::core::future::IntoFuture::into_future($e),
            ));
            let mut $o = ::core::option::Option::None;
        )*
        let __wakers = $crate::macros::support::BranchWakers::new(<[usize]>::len(&[$($i),*]));
        ::core::future::poll_fn(|__cx| {
            let mut __ready = __wakers.begin(__cx);
            loop {
            $(
                if let ::core::option::Option::Some(__future) = $b.as_mut().as_pin_mut() {
                    if __ready & (1u64 << $i) != 0 {
                        if let ::core::task::Poll::Ready(__output) =
                            ::core::future::Future::poll(__future, &mut __wakers.context($i))
                        {
                            $o = ::core::option::Option::Some(__output);
                            $b.set(::core::option::Option::None);
                        }
                    }
                }
            )*
            if $($b.is_none())&&* {
                return ::core::task::Poll::Ready(());
            }
            match __wakers.finish(__cx) {
                ::core::option::Option::Some(__more) => __ready = __more,
                ::core::option::Option::None => return ::core::task::Poll::Pending,
            }
            }
        })
        .await;
        ($(
            $o.take().expect("spindle::join!: every branch completed"),
        )*)
    }};
}

/// Like [`join!`], for branches that return `Result`s with one error type: returns
/// `Ok((a, b, ..))` once every branch succeeded, or the first `Err` as soon as it comes,
/// dropping the other branches, like `tokio::try_join!`.
///
/// ```
/// spindle::block_on(async {
///     let ok: Result<(u8, u8), String> = spindle::try_join!(async { Ok(1) }, async { Ok(2) });
///     assert_eq!(ok, Ok((1, 2)));
///     let failed: Result<(u8, u8), String> =
///         spindle::try_join!(std::future::pending(), async { Err("no".to_owned()) });
///     assert_eq!(failed, Err("no".to_owned()));
/// });
/// ```
#[macro_export]
macro_rules! try_join {
    () => { async { ::core::result::Result::Ok(()) }.await };
    ($($e:expr),+ $(,)?) => {
        $crate::__spindle_branch_names! { __spindle_try_join { @munch [] $($e,)+ } }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __spindle_try_join {
    ([$name:tt $($names:tt)*] @munch [$($done:tt)*] $e:expr, $($rest:tt)*) => {
        $crate::__spindle_try_join! { [$($names)*] @munch [$($done)* ($name [$e])] $($rest)* }
    };
    ([] @munch [$($done:tt)*] $e:expr, $($rest:tt)*) => {
        ::core::compile_error!("spindle::try_join! takes at most 64 branches")
    };
    ([$($names:tt)*] @munch [$((($b:ident $o:ident $T:ident $V:ident $i:tt) [$e:expr]))*]) => {{
        $(
            let mut $b = ::core::pin::pin!(::core::option::Option::Some(
                ::core::future::IntoFuture::into_future($e),
            ));
            let mut $o = ::core::option::Option::None;
        )*
        let __wakers = $crate::macros::support::BranchWakers::new(<[usize]>::len(&[$($i),*]));
        let __outcome = ::core::future::poll_fn(|__cx| {
            let mut __ready = __wakers.begin(__cx);
            loop {
            $(
                if let ::core::option::Option::Some(__future) = $b.as_mut().as_pin_mut() {
                    if __ready & (1u64 << $i) != 0 {
                        match ::core::future::Future::poll(__future, &mut __wakers.context($i)) {
                            ::core::task::Poll::Ready(::core::result::Result::Ok(__output)) => {
                                $o = ::core::option::Option::Some(__output);
                                $b.set(::core::option::Option::None);
                            }
                            ::core::task::Poll::Ready(::core::result::Result::Err(__error)) => {
                                return ::core::task::Poll::Ready(
                                    ::core::result::Result::Err(__error),
                                );
                            }
                            ::core::task::Poll::Pending => {}
                        }
                    }
                }
            )*
            if $($b.is_none())&&* {
                return ::core::task::Poll::Ready(::core::result::Result::Ok(()));
            }
            match __wakers.finish(__cx) {
                ::core::option::Option::Some(__more) => __ready = __more,
                ::core::option::Option::None => return ::core::task::Poll::Pending,
            }
            }
        })
        .await;
        match __outcome {
            ::core::result::Result::Ok(()) => ::core::result::Result::Ok(($(
                $o.take().expect("spindle::try_join!: every branch succeeded"),
            )*)),
            ::core::result::Result::Err(__error) => {
                // Drop the unfinished branches before handing the error back, as tokio does.
                $( $b.set(::core::option::Option::None); )*
                ::core::result::Result::Err(__error)
            }
        }
    }};
}

/// Waits on several futures, on the current task, and runs the handler of the first one to
/// complete with a value matching its pattern, like `tokio::select!`. The other branches are
/// dropped.
///
/// ```text
/// <pattern> = <future> (, if <precondition>)? => <handler>,
/// else => <expression>
/// ```
///
/// - Each branch's future is polled with its own waker: a wake polls only its branch.
/// - Fair by default: each `select!` starts at a different branch (rotating). Start with
///   `biased;` to poll in the written order instead.
/// - A branch whose precondition is `false` is disabled (its future is still created, never
///   polled). A branch whose output does not match its pattern is disabled and the others
///   keep running.
/// - When every branch is disabled, the `else` expression runs; without `else`, that panics.
/// - Patterns may bind with `mut` and `ref` (the match that tests a branch's output looks at
///   it by reference, with those keywords removed; the handler's match binds as written).
///
/// ```
/// use std::time::Duration;
/// let rt = spindle::runtime::Builder::new_current_thread().build().unwrap();
/// rt.block_on(async {
///     let (tx, mut rx) = spindle::sync::mpsc::channel::<u32>(1);
///     tx.send(7).await.unwrap();
///     let got = spindle::select! {
///         Some(n) = rx.recv() => n,
///         _ = spindle::time::sleep(Duration::from_secs(5)) => 0,
///     };
///     assert_eq!(got, 7);
/// });
/// ```
#[macro_export]
macro_rules! select {
    (biased; $($t:tt)*) => {
        $crate::__spindle_branch_names! { __spindle_select { @parse [biased] [] $($t)* } }
    };
    ($($t:tt)*) => {
        $crate::__spindle_branch_names! { __spindle_select { @parse [fair] [] $($t)* } }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __spindle_select {
    // The end: an `else` branch, or none.
    ($names:tt @parse $bias:tt [$($acc:tt)*] else => $else:expr $(,)?) => {
        $crate::__spindle_select! { @emit $bias [$($acc)*] [$else] }
    };
    ($names:tt @parse $bias:tt [$($acc:tt)*]) => {
        $crate::__spindle_select! { @emit $bias [$($acc)*] [::core::panic!(
            "all branches are disabled and there is no else branch"
        )] }
    };
    // One branch per step (the recursion limit is 128): its pattern is every token up to the
    // lone `=` (a pattern cannot contain one), taken up to four at a time; then the future,
    // the optional precondition and the handler (a block, comma optional, or an expression,
    // comma unless last). Generated: pattern length x precondition x handler form.
    ([] @parse $bias:tt $acc:tt $($rest:tt)+) => {
        ::core::compile_error!("spindle::select! takes at most 64 branches")
    };
    ([$name:tt $($names:tt)*] @parse $bias:tt [$($acc:tt)*] $t0:tt = $f:expr, if $c:expr => $h:block, $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$t0] [$f] [$c] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @parse $bias:tt [$($acc:tt)*] $t0:tt = $f:expr, if $c:expr => $h:block $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$t0] [$f] [$c] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @parse $bias:tt [$($acc:tt)*] $t0:tt = $f:expr, if $c:expr => $h:expr, $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$t0] [$f] [$c] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @parse $bias:tt [$($acc:tt)*] $t0:tt = $f:expr, if $c:expr => $h:expr) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$t0] [$f] [$c] [$h])]  }
    };
    ([$name:tt $($names:tt)*] @parse $bias:tt [$($acc:tt)*] $t0:tt = $f:expr => $h:block, $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$t0] [$f] [true] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @parse $bias:tt [$($acc:tt)*] $t0:tt = $f:expr => $h:block $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$t0] [$f] [true] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @parse $bias:tt [$($acc:tt)*] $t0:tt = $f:expr => $h:expr, $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$t0] [$f] [true] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @parse $bias:tt [$($acc:tt)*] $t0:tt = $f:expr => $h:expr) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$t0] [$f] [true] [$h])]  }
    };
    ([$name:tt $($names:tt)*] @parse $bias:tt [$($acc:tt)*] $t0:tt $t1:tt = $f:expr, if $c:expr => $h:block, $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$t0 $t1] [$f] [$c] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @parse $bias:tt [$($acc:tt)*] $t0:tt $t1:tt = $f:expr, if $c:expr => $h:block $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$t0 $t1] [$f] [$c] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @parse $bias:tt [$($acc:tt)*] $t0:tt $t1:tt = $f:expr, if $c:expr => $h:expr, $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$t0 $t1] [$f] [$c] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @parse $bias:tt [$($acc:tt)*] $t0:tt $t1:tt = $f:expr, if $c:expr => $h:expr) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$t0 $t1] [$f] [$c] [$h])]  }
    };
    ([$name:tt $($names:tt)*] @parse $bias:tt [$($acc:tt)*] $t0:tt $t1:tt = $f:expr => $h:block, $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$t0 $t1] [$f] [true] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @parse $bias:tt [$($acc:tt)*] $t0:tt $t1:tt = $f:expr => $h:block $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$t0 $t1] [$f] [true] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @parse $bias:tt [$($acc:tt)*] $t0:tt $t1:tt = $f:expr => $h:expr, $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$t0 $t1] [$f] [true] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @parse $bias:tt [$($acc:tt)*] $t0:tt $t1:tt = $f:expr => $h:expr) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$t0 $t1] [$f] [true] [$h])]  }
    };
    ([$name:tt $($names:tt)*] @parse $bias:tt [$($acc:tt)*] $t0:tt $t1:tt $t2:tt = $f:expr, if $c:expr => $h:block, $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$t0 $t1 $t2] [$f] [$c] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @parse $bias:tt [$($acc:tt)*] $t0:tt $t1:tt $t2:tt = $f:expr, if $c:expr => $h:block $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$t0 $t1 $t2] [$f] [$c] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @parse $bias:tt [$($acc:tt)*] $t0:tt $t1:tt $t2:tt = $f:expr, if $c:expr => $h:expr, $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$t0 $t1 $t2] [$f] [$c] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @parse $bias:tt [$($acc:tt)*] $t0:tt $t1:tt $t2:tt = $f:expr, if $c:expr => $h:expr) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$t0 $t1 $t2] [$f] [$c] [$h])]  }
    };
    ([$name:tt $($names:tt)*] @parse $bias:tt [$($acc:tt)*] $t0:tt $t1:tt $t2:tt = $f:expr => $h:block, $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$t0 $t1 $t2] [$f] [true] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @parse $bias:tt [$($acc:tt)*] $t0:tt $t1:tt $t2:tt = $f:expr => $h:block $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$t0 $t1 $t2] [$f] [true] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @parse $bias:tt [$($acc:tt)*] $t0:tt $t1:tt $t2:tt = $f:expr => $h:expr, $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$t0 $t1 $t2] [$f] [true] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @parse $bias:tt [$($acc:tt)*] $t0:tt $t1:tt $t2:tt = $f:expr => $h:expr) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$t0 $t1 $t2] [$f] [true] [$h])]  }
    };
    ([$name:tt $($names:tt)*] @parse $bias:tt [$($acc:tt)*] $t0:tt $t1:tt $t2:tt $t3:tt = $f:expr, if $c:expr => $h:block, $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$t0 $t1 $t2 $t3] [$f] [$c] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @parse $bias:tt [$($acc:tt)*] $t0:tt $t1:tt $t2:tt $t3:tt = $f:expr, if $c:expr => $h:block $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$t0 $t1 $t2 $t3] [$f] [$c] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @parse $bias:tt [$($acc:tt)*] $t0:tt $t1:tt $t2:tt $t3:tt = $f:expr, if $c:expr => $h:expr, $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$t0 $t1 $t2 $t3] [$f] [$c] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @parse $bias:tt [$($acc:tt)*] $t0:tt $t1:tt $t2:tt $t3:tt = $f:expr, if $c:expr => $h:expr) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$t0 $t1 $t2 $t3] [$f] [$c] [$h])]  }
    };
    ([$name:tt $($names:tt)*] @parse $bias:tt [$($acc:tt)*] $t0:tt $t1:tt $t2:tt $t3:tt = $f:expr => $h:block, $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$t0 $t1 $t2 $t3] [$f] [true] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @parse $bias:tt [$($acc:tt)*] $t0:tt $t1:tt $t2:tt $t3:tt = $f:expr => $h:block $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$t0 $t1 $t2 $t3] [$f] [true] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @parse $bias:tt [$($acc:tt)*] $t0:tt $t1:tt $t2:tt $t3:tt = $f:expr => $h:expr, $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$t0 $t1 $t2 $t3] [$f] [true] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @parse $bias:tt [$($acc:tt)*] $t0:tt $t1:tt $t2:tt $t3:tt = $f:expr => $h:expr) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$t0 $t1 $t2 $t3] [$f] [true] [$h])]  }
    };
    ($names:tt @parse $bias:tt $acc:tt $t0:tt $t1:tt $t2:tt $t3:tt $($rest:tt)+) => {
        $crate::__spindle_select! { $names @pattern $bias $acc [$t0 $t1 $t2 $t3] $($rest)+ }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*]  = $f:expr, if $c:expr => $h:block, $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* ] [$f] [$c] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*]  = $f:expr, if $c:expr => $h:block $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* ] [$f] [$c] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*]  = $f:expr, if $c:expr => $h:expr, $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* ] [$f] [$c] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*]  = $f:expr, if $c:expr => $h:expr) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* ] [$f] [$c] [$h])]  }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*]  = $f:expr => $h:block, $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* ] [$f] [true] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*]  = $f:expr => $h:block $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* ] [$f] [true] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*]  = $f:expr => $h:expr, $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* ] [$f] [true] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*]  = $f:expr => $h:expr) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* ] [$f] [true] [$h])]  }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*] $t0:tt = $f:expr, if $c:expr => $h:block, $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* $t0] [$f] [$c] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*] $t0:tt = $f:expr, if $c:expr => $h:block $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* $t0] [$f] [$c] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*] $t0:tt = $f:expr, if $c:expr => $h:expr, $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* $t0] [$f] [$c] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*] $t0:tt = $f:expr, if $c:expr => $h:expr) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* $t0] [$f] [$c] [$h])]  }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*] $t0:tt = $f:expr => $h:block, $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* $t0] [$f] [true] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*] $t0:tt = $f:expr => $h:block $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* $t0] [$f] [true] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*] $t0:tt = $f:expr => $h:expr, $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* $t0] [$f] [true] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*] $t0:tt = $f:expr => $h:expr) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* $t0] [$f] [true] [$h])]  }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*] $t0:tt $t1:tt = $f:expr, if $c:expr => $h:block, $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* $t0 $t1] [$f] [$c] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*] $t0:tt $t1:tt = $f:expr, if $c:expr => $h:block $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* $t0 $t1] [$f] [$c] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*] $t0:tt $t1:tt = $f:expr, if $c:expr => $h:expr, $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* $t0 $t1] [$f] [$c] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*] $t0:tt $t1:tt = $f:expr, if $c:expr => $h:expr) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* $t0 $t1] [$f] [$c] [$h])]  }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*] $t0:tt $t1:tt = $f:expr => $h:block, $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* $t0 $t1] [$f] [true] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*] $t0:tt $t1:tt = $f:expr => $h:block $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* $t0 $t1] [$f] [true] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*] $t0:tt $t1:tt = $f:expr => $h:expr, $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* $t0 $t1] [$f] [true] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*] $t0:tt $t1:tt = $f:expr => $h:expr) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* $t0 $t1] [$f] [true] [$h])]  }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*] $t0:tt $t1:tt $t2:tt = $f:expr, if $c:expr => $h:block, $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* $t0 $t1 $t2] [$f] [$c] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*] $t0:tt $t1:tt $t2:tt = $f:expr, if $c:expr => $h:block $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* $t0 $t1 $t2] [$f] [$c] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*] $t0:tt $t1:tt $t2:tt = $f:expr, if $c:expr => $h:expr, $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* $t0 $t1 $t2] [$f] [$c] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*] $t0:tt $t1:tt $t2:tt = $f:expr, if $c:expr => $h:expr) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* $t0 $t1 $t2] [$f] [$c] [$h])]  }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*] $t0:tt $t1:tt $t2:tt = $f:expr => $h:block, $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* $t0 $t1 $t2] [$f] [true] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*] $t0:tt $t1:tt $t2:tt = $f:expr => $h:block $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* $t0 $t1 $t2] [$f] [true] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*] $t0:tt $t1:tt $t2:tt = $f:expr => $h:expr, $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* $t0 $t1 $t2] [$f] [true] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*] $t0:tt $t1:tt $t2:tt = $f:expr => $h:expr) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* $t0 $t1 $t2] [$f] [true] [$h])]  }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*] $t0:tt $t1:tt $t2:tt $t3:tt = $f:expr, if $c:expr => $h:block, $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* $t0 $t1 $t2 $t3] [$f] [$c] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*] $t0:tt $t1:tt $t2:tt $t3:tt = $f:expr, if $c:expr => $h:block $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* $t0 $t1 $t2 $t3] [$f] [$c] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*] $t0:tt $t1:tt $t2:tt $t3:tt = $f:expr, if $c:expr => $h:expr, $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* $t0 $t1 $t2 $t3] [$f] [$c] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*] $t0:tt $t1:tt $t2:tt $t3:tt = $f:expr, if $c:expr => $h:expr) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* $t0 $t1 $t2 $t3] [$f] [$c] [$h])]  }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*] $t0:tt $t1:tt $t2:tt $t3:tt = $f:expr => $h:block, $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* $t0 $t1 $t2 $t3] [$f] [true] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*] $t0:tt $t1:tt $t2:tt $t3:tt = $f:expr => $h:block $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* $t0 $t1 $t2 $t3] [$f] [true] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*] $t0:tt $t1:tt $t2:tt $t3:tt = $f:expr => $h:expr, $($rest:tt)*) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* $t0 $t1 $t2 $t3] [$f] [true] [$h])] $($rest)* }
    };
    ([$name:tt $($names:tt)*] @pattern $bias:tt [$($acc:tt)*] [$($p:tt)*] $t0:tt $t1:tt $t2:tt $t3:tt = $f:expr => $h:expr) => {
        $crate::__spindle_select! { [$($names)*] @parse $bias [$($acc)* ($name [$($p)* $t0 $t1 $t2 $t3] [$f] [true] [$h])]  }
    };
    ($names:tt @pattern $bias:tt $acc:tt [$($p:tt)*] $t0:tt $t1:tt $t2:tt $t3:tt $($rest:tt)+) => {
        $crate::__spindle_select! { $names @pattern $bias $acc [$($p)* $t0 $t1 $t2 $t3] $($rest)+ }
    };
    (@emit $bias:tt [] [$else:expr]) => {
        ::core::compile_error!("spindle::select! needs at least one branch")
    };
    (@emit $bias:tt [$((
        ($b:ident $o:ident $T:ident $V:ident $i:tt) [$($p:tt)*] [$f:expr] [$c:expr] [$h:expr]
    ))*] [$else:expr]) => {{
        #[allow(non_camel_case_types, dead_code)]
        enum __SelectOutput<$($T),*> {
            $($V($T),)*
            Disabled,
        }
        let __count = <[usize]>::len(&[$($i),*]);
        // Preconditions first, then every future (a disabled one is created, never polled).
        let mut __disabled: u64 = 0;
        $(
            if !$c {
                __disabled |= 1u64 << $i;
            }
        )*
        $(
            let mut $b = ::core::pin::pin!(::core::option::Option::Some(
                ::core::future::IntoFuture::into_future($f),
            ));
        )*
        let __wakers = $crate::macros::support::BranchWakers::new(__count);
        let __start = $crate::__spindle_select!(@start $bias __count);
        let __output = ::core::future::poll_fn(|__cx| {
            let mut __ready = __wakers.begin(__cx);
            loop {
            for __step in 0..__count {
                let __index = (__start + __step) % __count;
                $(
                    if __index == $i && __disabled & (1u64 << $i) == 0 {
                        if __ready & (1u64 << $i) != 0 {
                            if let ::core::option::Option::Some(__future) = $b.as_mut().as_pin_mut() {
                                if let ::core::task::Poll::Ready(__value) =
                                    ::core::future::Future::poll(__future, &mut __wakers.context($i))
                                {
                                    $b.set(::core::option::Option::None);
                                    #[allow(unused_variables, unreachable_patterns, clippy::redundant_pattern_matching)]
                                    match &__value {
                                        $crate::__spindle_clean_pattern!([] [] $($p)*) => {
                                            return ::core::task::Poll::Ready(
                                                __SelectOutput::$V(__value),
                                            );
                                        }
                                        _ => {
                                            // Pattern mismatch: this branch is out, the rest go on.
                                            __disabled |= 1u64 << $i;
                                        }
                                    }
                                }
                            }
                        }
                    }
                )*
            }
            if __disabled.count_ones() as usize == __count {
                return ::core::task::Poll::Ready(__SelectOutput::Disabled);
            }
            match __wakers.finish(__cx) {
                ::core::option::Option::Some(__more) => __ready = __more,
                ::core::option::Option::None => return ::core::task::Poll::Pending,
            }
            }
        })
        .await;
        // The branches not chosen are dropped before the handler runs, as tokio does.
        $( $b.set(::core::option::Option::None); )*
        #[allow(unreachable_patterns)]
        match __output {
            $( __SelectOutput::$V($($p)*) => $h, )*
            __SelectOutput::Disabled => $else,
            _ => ::core::unreachable!("spindle::select!: a branch's output matched when tested"),
        }
    }};
    (@start [biased] $count:ident) => { 0usize };
    (@start [fair] $count:ident) => { $crate::macros::support::select_start($count) };
}

/// `select!`'s test of a branch's output looks at it by reference, so `mut` and `ref` are
/// taken out of the pattern (with default binding modes, bindings become references). Walks
/// the tokens with an explicit stack of the groups it is inside.
#[doc(hidden)]
#[macro_export]
macro_rules! __spindle_clean_pattern {
    // Done.
    ([] [$($out:tt)*]) => { $($out)* };
    // End of a group: pop it.
    ([(paren [$($outer:tt)*] [$($rest:tt)*]) $($stack:tt)*] [$($out:tt)*]) => {
        $crate::__spindle_clean_pattern!([$($stack)*] [$($outer)* ($($out)*)] $($rest)*)
    };
    ([(bracket [$($outer:tt)*] [$($rest:tt)*]) $($stack:tt)*] [$($out:tt)*]) => {
        $crate::__spindle_clean_pattern!([$($stack)*] [$($outer)* [$($out)*]] $($rest)*)
    };
    ([(brace [$($outer:tt)*] [$($rest:tt)*]) $($stack:tt)*] [$($out:tt)*]) => {
        $crate::__spindle_clean_pattern!([$($stack)*] [$($outer)* {$($out)*}] $($rest)*)
    };
    // Binding-mode keywords: dropped.
    ($stack:tt $out:tt mut $($rest:tt)*) => {
        $crate::__spindle_clean_pattern!($stack $out $($rest)*)
    };
    ($stack:tt $out:tt ref $($rest:tt)*) => {
        $crate::__spindle_clean_pattern!($stack $out $($rest)*)
    };
    // A group: push it.
    ([$($stack:tt)*] $out:tt ($($inner:tt)*) $($rest:tt)*) => {
        $crate::__spindle_clean_pattern!([(paren $out [$($rest)*]) $($stack)*] [] $($inner)*)
    };
    ([$($stack:tt)*] $out:tt [$($inner:tt)*] $($rest:tt)*) => {
        $crate::__spindle_clean_pattern!([(bracket $out [$($rest)*]) $($stack)*] [] $($inner)*)
    };
    ([$($stack:tt)*] $out:tt {$($inner:tt)*} $($rest:tt)*) => {
        $crate::__spindle_clean_pattern!([(brace $out [$($rest)*]) $($stack)*] [] $($inner)*)
    };
    // Anything else: kept.
    ($stack:tt [$($out:tt)*] $t:tt $($rest:tt)*) => {
        $crate::__spindle_clean_pattern!($stack [$($out)* $t] $($rest)*)
    };
}
