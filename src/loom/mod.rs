//! The loom seam: every synchronisation primitive the scheduler's correctness rests on.
//!
//! Runtime code never names `std::sync`, `std::cell::UnsafeCell` or `std::thread` directly
//! for shared state; it imports them from here. In a normal build this module re-exports
//! `std`. Built with `RUSTFLAGS="--cfg loom"`, it re-exports [loom](https://docs.rs/loom)'s
//! instrumented copies under the same names, so the very same code is model-checked: loom
//! runs each model under every interleaving its preemption bound allows and reports data
//! races, deadlocks and leaked `Arc`s.
//!
//! `UnsafeCell` is the one type whose API differs between the two: loom needs to see each
//! access, so both versions expose `with(|ptr| ..)` and `with_mut(|ptr| ..)` instead of
//! `get()`. A plain build compiles those closures away.

#[cfg(not(loom))]
mod std_impl;
#[cfg(not(loom))]
pub(crate) use std_impl::*;

#[cfg(loom)]
mod loom_impl;
#[cfg(loom)]
pub(crate) use loom_impl::*;

#[cfg(all(test, loom))]
pub(crate) mod gate;
