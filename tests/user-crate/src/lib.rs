//! The application code under test lives in the test files (`tests/*.rs`): each holds a
//! buggy and a fixed version of one piece of async code, and loom models of both.
