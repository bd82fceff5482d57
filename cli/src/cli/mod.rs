//! The `spindle` binary's subcommands: the guided tour, the `choose` experiment and the
//! scheduler trace demo. `main.rs` parses the command line and calls in here.

pub mod choose;
pub mod event_loop;
pub mod jobs;
pub mod measure;
pub mod processes;
pub mod t1_t2_t3;
pub mod threads;
pub mod tour;
pub mod trace;
