//! Glue between spindle and other crates' runtime traits, one module per crate, each behind
//! the feature of the same name.
//!
//! | crate   | feature | module      |
//! |---------|---------|-------------|
//! | hyper 1 | `hyper` | [`hyper`](mod@hyper) |

#[cfg(feature = "hyper")]
pub mod hyper;
