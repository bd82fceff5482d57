//! Differential tests: the same scenario on spindle and on tokio, asserting they agree (or
//! documenting, at the test, why spindle deliberately differs). One module per area, so a
//! reader sees at a glance where spindle matches tokio.
//!
//! Each scenario is written once as a function over the runtime under test where the APIs
//! line up, or as a pair of short twins where they do not.

mod blocking;
mod combinators;
mod fs;
mod io;
mod io_util;
mod join_set;
mod net;
mod process;
mod process_runtimes;
mod runtime;
mod signal;
mod sync;
mod task;
mod time;
