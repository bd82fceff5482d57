//! The `spindle-examples` package: the teaching examples in this directory, each a program
//! (`cargo run --example NAME` at the repository root). This library is empty; cargo needs
//! one target that is not an example in every package.
