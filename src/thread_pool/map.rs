//! `ThreadPool::map`: ordered, lazy, with a bounded number of jobs in flight.

use std::collections::VecDeque;
use std::fmt;

use super::{JobError, JobHandle, ThreadPool};
use crate::loom::sync::Arc;

/// The iterator returned by [`ThreadPool::map`].
///
/// It keeps a window of submitted jobs: `next` tops the window up from the inputs, then waits
/// for the oldest job. So results come in input order, at most `max_in_flight` jobs exist at
/// once, and an endless input is fine.
pub struct Map<'pool, I, F, T> {
    pool: &'pool ThreadPool,
    func: Arc<F>,
    inputs: I,
    window: VecDeque<JobHandle<T>>,
    max_in_flight: usize,
}

impl<'pool, I, F, T> Map<'pool, I, F, T>
where
    I: Iterator,
    I::Item: Send + 'static,
    F: Fn(I::Item) -> T + Send + Sync + 'static,
    T: Send + 'static,
{
    pub(super) fn new(pool: &'pool ThreadPool, func: F, inputs: I, max_in_flight: usize) -> Self {
        Map {
            pool,
            func: Arc::new(func),
            inputs,
            window: VecDeque::new(),
            max_in_flight: max_in_flight.max(1),
        }
    }

    /// Sets how many jobs may be submitted and not yet consumed (at least 1). Call it before
    /// the first `next`.
    pub fn max_in_flight(mut self, jobs: usize) -> Self {
        self.max_in_flight = jobs.max(1);
        self
    }
}

impl<I, F, T> Iterator for Map<'_, I, F, T>
where
    I: Iterator,
    I::Item: Send + 'static,
    F: Fn(I::Item) -> T + Send + Sync + 'static,
    T: Send + 'static,
{
    type Item = Result<T, JobError>;

    fn next(&mut self) -> Option<Self::Item> {
        // One job per input, submitted as the window frees up. (Refilling in batches of half
        // the window, under one lock, measured twice as slow: workers ran dry between them.)
        while self.window.len() < self.max_in_flight {
            let Some(input) = self.inputs.next() else {
                break;
            };
            let func = self.func.clone();
            self.window.push_back(self.pool.submit(move || func(input)));
        }
        self.window.pop_front().map(JobHandle::wait)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let (low, high) = self.inputs.size_hint();
        let queued = self.window.len();
        (
            low.saturating_add(queued),
            high.and_then(|high| high.checked_add(queued)),
        )
    }
}

impl<I, F, T> Drop for Map<'_, I, F, T> {
    /// Cancels the submitted jobs that have not started, as Python's `Executor.map` does
    /// when its generator is closed.
    fn drop(&mut self) {
        for handle in &self.window {
            handle.cancel();
        }
    }
}

impl<I, F, T> fmt::Debug for Map<'_, I, F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map")
            .field("in_flight", &self.window.len())
            .field("max_in_flight", &self.max_in_flight)
            .finish_non_exhaustive()
    }
}
