//! Channels between tasks and threads.
