//! [`ProcessPool`], its [`Builder`], and the handles it gives out: [`ProcessJob`], [`Map`],
//! [`ImapUnordered`].

use std::any::type_name;
use std::collections::{HashMap, VecDeque};
use std::ffi::{CString, OsStr, OsString};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::codec::{decode_exact, Decode, Encode};
use super::error::ProcessError;
use super::frame::{reply_items, RequestBuilder, DEFAULT_MAX_FRAME_LEN, TAG_OK, TAG_PANICKED};
use super::jobs::{Jobs, Signature};
use super::supervisor::{Config, Outcome, ReplyTo, Request, Shared, Stop, Supervisor};
use super::sys::{ExecPlan, SLOT_SPIN};
use super::worker::{marker_value, WORKER_ENV};
use crate::loom::sync::{Arc, Condvar, Mutex};
use crate::loom::thread::{self, JoinHandle};
use crate::thread_pool::ResultSlot;

/// How long a new worker may take to say hello before it counts as failed.
const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(10);

/// A pool of worker processes running registered [`Jobs`]: the analogue of Python's
/// `multiprocessing.Pool` and `concurrent.futures.ProcessPoolExecutor`.
///
/// Each worker is a separate process (started by fork + exec), so CPU-bound jobs run on all
/// cores. Jobs are [submitted](ProcessPool::submit) by name with a typed input and come back
/// as a [`ProcessJob`], which is both a future and a blocking handle;
/// [`map`](ProcessPool::map) spreads one job over many inputs.
///
/// A worker that crashes, aborts or is killed fails only the job it was running
/// ([`ProcessError::WorkerDied`]); the pool reaps it and starts another. A panicking job
/// fails with [`ProcessError::Panicked`] and its worker lives on.
///
/// Dropping the pool is [`kill`](ProcessPool::kill): call [`shutdown`](ProcessPool::shutdown)
/// first to let submitted jobs finish.
///
/// ```no_run
/// use spindle::process::{Jobs, ProcessPool};
///
/// fn jobs() -> Jobs {
///     Jobs::new().register("square", |x: u64| x * x)
/// }
///
/// fn main() {
///     spindle::process::run_worker_if_child(&jobs());
///     let pool = ProcessPool::builder(&jobs()).workers(5).build().unwrap();
///     let squares: Vec<u64> = pool
///         .map("square", [1u64, 2, 3], None)
///         .collect::<Result<_, _>>()
///         .unwrap();
///     assert_eq!(squares, [1, 4, 9]);
///     pool.shutdown();
/// }
/// ```
pub struct ProcessPool {
    shared: Arc<Shared>,
    supervisor: Mutex<Option<JoinHandle<()>>>,
    signatures: HashMap<String, Signature>,
    workers: usize,
    max_frame_len: usize,
}

impl fmt::Debug for ProcessPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessPool")
            .field("workers", &self.workers)
            .finish_non_exhaustive()
    }
}

/// Settings for a [`ProcessPool`]; from [`ProcessPool::builder`].
#[derive(Debug, Clone)]
pub struct Builder {
    signatures: HashMap<String, Signature>,
    workers: Option<usize>,
    max_tasks_per_child: Option<u64>,
    job_timeout: Option<Duration>,
    start_timeout: Duration,
    max_frame_len: usize,
    program: Option<PathBuf>,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    /// Tests only: watch workers through the SIGCHLD pipe even where pidfds exist.
    use_pidfd: bool,
}

impl ProcessPool {
    /// Settings for a pool serving `jobs`.
    ///
    /// The pool checks each submission against `jobs`: a job registered there must be
    /// submitted with its registered input and output types. Names not in `jobs` are sent
    /// to the worker as they are (useful with a [`worker_program`](Builder::worker_program)
    /// that registers jobs of its own), and the worker answers
    /// [`UnknownJob`](ProcessError::UnknownJob) if it has no such job.
    pub fn builder(jobs: &Jobs) -> Builder {
        Builder {
            signatures: jobs.signatures(),
            workers: None,
            max_tasks_per_child: None,
            job_timeout: None,
            start_timeout: DEFAULT_START_TIMEOUT,
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            program: None,
            args: Vec::new(),
            env: Vec::new(),
            use_pidfd: true,
        }
    }

    /// The number of workers the pool keeps running.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Runs the job `name` on `input` in a worker.
    ///
    /// The input is encoded here, at once; the job waits in the pool's queue until a worker
    /// is free. Dropping the returned handle does not cancel the job.
    ///
    /// ```no_run
    /// # use spindle::process::{Jobs, ProcessPool};
    /// # let jobs = Jobs::new().register("square", |x: u64| x * x);
    /// # let pool = ProcessPool::builder(&jobs).build().unwrap();
    /// let job = pool.submit::<u64, u64>("square", 12);
    /// assert_eq!(job.wait().unwrap(), 144);
    /// ```
    pub fn submit<I, O>(&self, name: &str, input: I) -> ProcessJob<O>
    where
        I: Encode + 'static,
        O: Decode + 'static,
    {
        let slot = Arc::new(ResultSlot::new());
        let job = ProcessJob {
            slot: slot.clone(),
            output: PhantomData,
        };
        self.send_chunk::<I, O>(name, std::iter::once(input), 1, |_| {
            Box::new(move |outcome| slot.complete(outcome))
        });
        job
    }

    /// Runs the job `name` on every input, `chunksize` inputs per request, and yields the
    /// results in input order: the analogue of `Pool.imap` (and, collected, `Pool.map`).
    ///
    /// Lazy and bounded: inputs are pulled only as results are consumed, with at most two
    /// chunks per worker in flight. `None` picks the chunk size as Python's `Pool.map`
    /// does: the input count (from `size_hint`) divided by four times the worker count,
    /// rounded up. Each item's result stands alone (one input panicking fails that item
    /// only), except that a chunk whose worker died fails as a whole.
    pub fn map<I, O, It>(
        &self,
        name: &str,
        inputs: It,
        chunksize: impl Into<Option<usize>>,
    ) -> Map<'_, It::IntoIter, O>
    where
        It: IntoIterator<Item = I>,
        I: Encode + 'static,
        O: Decode + 'static,
    {
        let inputs = inputs.into_iter();
        let chunksize = self.chunksize(&inputs, chunksize.into());
        Map {
            pool: self,
            name: name.to_owned(),
            inputs: inputs.fuse(),
            chunksize,
            in_flight: VecDeque::new(),
            ready: Vec::new().into_iter(),
        }
    }

    /// Like [`map`](ProcessPool::map), but yields results as chunks complete, in any order:
    /// the analogue of `Pool.imap_unordered`. Each result comes with its input's index.
    pub fn imap_unordered<I, O, It>(
        &self,
        name: &str,
        inputs: It,
        chunksize: impl Into<Option<usize>>,
    ) -> ImapUnordered<'_, It::IntoIter, O>
    where
        It: IntoIterator<Item = I>,
        I: Encode + 'static,
        O: Decode + 'static,
    {
        let inputs = inputs.into_iter();
        let chunksize = self.chunksize(&inputs, chunksize.into());
        ImapUnordered {
            pool: self,
            name: name.to_owned(),
            inputs: inputs.fuse(),
            next_index: 0,
            chunksize,
            in_flight: 0,
            done: Arc::new(Completions {
                chunks: Mutex::new(VecDeque::new()),
                arrived: Condvar::new(),
            }),
            ready: Vec::new().into_iter(),
        }
    }

    fn chunksize(&self, inputs: &impl Iterator, chunksize: Option<usize>) -> usize {
        match chunksize {
            Some(size) => size.max(1),
            None => {
                let (low, high) = inputs.size_hint();
                let len = high.unwrap_or(low);
                len.div_ceil(4 * self.workers).max(1)
            }
        }
    }

    /// Chunks in flight per worker for `map` and `imap_unordered`.
    fn window(&self) -> usize {
        2 * self.workers
    }

    /// Encodes up to `max` inputs as one request for `name` and queues it; the callback
    /// `reply_to(items)` returns gets the outcome (at once, for a request refused here). Returns the number of inputs
    /// taken (0: none left, nothing sent).
    fn send_chunk<I, O>(
        &self,
        name: &str,
        inputs: impl Iterator<Item = I>,
        max: usize,
        reply_to: impl FnOnce(u32) -> ReplyTo,
    ) -> u32
    where
        I: Encode + 'static,
        O: Decode + 'static,
    {
        let job_id = self.shared.next_job_id();
        let mut builder = RequestBuilder::new(job_id, name);
        for input in inputs.take(max) {
            builder.push(&input);
        }
        let items = builder.count();
        if items == 0 {
            return 0;
        }
        let reply = reply_to(items);
        if let Some(signature) = self.signatures.get(name) {
            if let Err(message) = signature.check::<I, O>(name) {
                reply(Err(ProcessError::TypeMismatch(message)));
                return items;
            }
        }
        match builder.finish(self.max_frame_len) {
            Ok(frame) => self.shared.submit(Request {
                name: name.to_owned(),
                frame,
                job_id,
                items,
                reply,
            }),
            Err(len) => reply(Err(ProcessError::Protocol(format!(
                "a request of {len} bytes exceeds the maximum frame length of {} bytes",
                self.max_frame_len
            )))),
        }
        items
    }

    /// Lets every submitted job finish, then stops the workers and reaps them. Returns when
    /// they are all gone. Later submissions fail with [`ProcessError::ShutDown`].
    pub fn shutdown(&self) {
        self.stop(Stop::Drain);
    }

    /// Fails the jobs not started yet with [`ProcessError::ShutDown`], lets the running ones
    /// finish, then stops and reaps the workers.
    pub fn shutdown_now(&self) {
        self.stop(Stop::Cancel);
    }

    /// Kills every worker at once (`SIGKILL`) and reaps them; every unfinished job fails
    /// with [`ProcessError::ShutDown`]. Dropping the pool does this.
    pub fn kill(&self) {
        self.stop(Stop::Kill);
    }

    fn stop(&self, stop: Stop) {
        self.shared.request_stop(stop);
        // Holding the lock while joining makes a second caller wait until the supervisor
        // is really gone (its own stop request is already in).
        let mut supervisor = self
            .supervisor
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(handle) = supervisor.take() {
            let _ = handle.join();
        }
    }
}

impl Drop for ProcessPool {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Builder {
    /// The number of worker processes (default: the number of available cores).
    pub fn workers(mut self, workers: usize) -> Builder {
        self.workers = Some(workers);
        self
    }

    /// Replaces a worker after it has run `tasks` requests (a `map` chunk is one request),
    /// as Python's `maxtasksperchild`. Default: never.
    pub fn max_tasks_per_child(mut self, tasks: u64) -> Builder {
        self.max_tasks_per_child = Some(tasks);
        self
    }

    /// A request running longer than `limit` fails with [`ProcessError::Timeout`]; its
    /// worker is killed, reaped and replaced. Default: no limit. (For `map`, the limit is
    /// per chunk.) Zero is refused by [`build`](Self::build), as a zero `start_timeout` is:
    /// no job can finish in no time, and a limit of zero would only race the worker.
    pub fn job_timeout(mut self, limit: Duration) -> Builder {
        self.job_timeout = Some(limit);
        self
    }

    /// How long a starting worker may take to report ready (default 10 s; zero is refused
    /// by [`build`](Self::build)).
    pub fn start_timeout(mut self, limit: Duration) -> Builder {
        self.start_timeout = limit;
        self
    }

    /// The largest frame, request or reply, in bytes (default 64 MiB, at most 4 GiB - 1).
    /// A worker sending a larger one is killed and replaced
    /// ([`ProcessError::Protocol`]); a larger request is refused before it is sent.
    pub fn max_frame_len(mut self, bytes: usize) -> Builder {
        self.max_frame_len = bytes;
        self
    }

    /// The program the workers run (default: the current executable). Its `main` must call
    /// [`run_worker_if_child`](super::run_worker_if_child) first.
    pub fn worker_program(mut self, path: impl Into<PathBuf>) -> Builder {
        self.program = Some(path.into());
        self
    }

    /// Adds an argument to the workers' command line.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Builder {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments to the workers' command line.
    pub fn args(mut self, args: impl IntoIterator<Item = impl AsRef<OsStr>>) -> Builder {
        self.args
            .extend(args.into_iter().map(|arg| arg.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable for the workers (they inherit the rest of this
    /// process's environment).
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Builder {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Not part of the API: notice workers' deaths through the SIGCHLD pipe even where
    /// pidfds exist, to test the path other Unixes and old Linux kernels take.
    #[doc(hidden)]
    pub fn __without_pidfd(mut self) -> Builder {
        self.use_pidfd = false;
        self
    }

    /// Starts the workers and waits until each has reported ready.
    ///
    /// # Errors
    /// [`ProcessError::InvalidConfig`] for zero workers, zero `max_tasks_per_child`, a zero
    /// `start_timeout` or a zero `job_timeout` (one rule for both limits: a zero duration is
    /// a mistake, not a request),
    /// [`ProcessError::Spawn`] if a worker cannot be started or exits before it is ready,
    /// for example because its `main` does not call `run_worker_if_child`.
    pub fn build(self) -> Result<ProcessPool, ProcessError> {
        crate::reactor::refuse_under_loom().map_err(ProcessError::Spawn)?;
        let workers = match self.workers {
            Some(0) => {
                return Err(ProcessError::InvalidConfig(
                    "a pool needs at least one worker".to_owned(),
                ))
            }
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        if self.max_tasks_per_child == Some(0) {
            return Err(ProcessError::InvalidConfig(
                "max_tasks_per_child must be at least 1".to_owned(),
            ));
        }
        // No worker can report ready in no time: refuse it rather than race the workers.
        if self.start_timeout.is_zero() {
            return Err(ProcessError::InvalidConfig(
                "start_timeout must be longer than zero".to_owned(),
            ));
        }
        if self.job_timeout.is_some_and(|limit| limit.is_zero()) {
            return Err(ProcessError::InvalidConfig(
                "job_timeout must be longer than zero".to_owned(),
            ));
        }
        if self.max_frame_len > u32::MAX as usize {
            return Err(ProcessError::InvalidConfig(format!(
                "max_frame_len {} exceeds the protocol's limit of {}",
                self.max_frame_len,
                u32::MAX
            )));
        }
        let program = match self.program {
            Some(path) => path,
            None => std::env::current_exe().map_err(ProcessError::Spawn)?,
        };
        let plan = exec_plan(&program, &self.args, &self.env, Some(self.max_frame_len))?;
        let config = Config {
            workers,
            max_tasks_per_child: self.max_tasks_per_child,
            job_timeout: self.job_timeout,
            start_timeout: self.start_timeout,
            max_frame_len: self.max_frame_len,
            use_pidfd: self.use_pidfd,
            plan,
            program: program.display().to_string(),
        };

        let (wake_tx, wake_rx) = UnixStream::pair().map_err(ProcessError::Spawn)?;
        wake_tx.set_nonblocking(true).map_err(ProcessError::Spawn)?;
        wake_rx.set_nonblocking(true).map_err(ProcessError::Spawn)?;
        let shared = Arc::new(Shared::new(wake_tx));
        let started = Arc::new(ResultSlot::new());
        let report = StartReport(Some(started.clone()));
        let supervisor_shared = shared.clone();
        let handle = thread::Builder::new()
            .name("spindle-process-pool".to_owned())
            .spawn(move || {
                // Workers are forked from this thread, which lives as long as the pool:
                // their parent-death signal (Linux) fires when it ends.
                let mut supervisor = Supervisor::new(supervisor_shared, wake_rx, config);
                let started = supervisor.start();
                let ok = started.is_ok();
                report.send(started);
                if ok {
                    supervisor.run();
                }
            })
            .map_err(ProcessError::Spawn)?;
        match started.wait_take(SLOT_SPIN) {
            Ok(()) => Ok(ProcessPool {
                shared,
                supervisor: Mutex::new(Some(handle)),
                signatures: self.signatures,
                workers,
                max_frame_len: self.max_frame_len,
            }),
            Err(err) => {
                let _ = handle.join();
                Err(err)
            }
        }
    }
}

/// Delivers the supervisor's start result exactly once, even if it panics before.
struct StartReport(Option<Arc<ResultSlot<Result<(), ProcessError>>>>);

impl StartReport {
    fn send(mut self, result: Result<(), ProcessError>) {
        if let Some(slot) = self.0.take() {
            slot.complete(result);
        }
    }
}

impl Drop for StartReport {
    fn drop(&mut self) {
        if let Some(slot) = self.0.take() {
            slot.complete(Err(ProcessError::Spawn(std::io::Error::other(
                "the pool's supervisor thread panicked while starting workers",
            ))));
        }
    }
}

fn c_string(bytes: &[u8], what: &str) -> Result<CString, ProcessError> {
    CString::new(bytes).map_err(|_| {
        ProcessError::InvalidConfig(format!(
            "{what} {:?} contains a NUL byte",
            String::from_utf8_lossy(bytes)
        ))
    })
}

/// A program, argv and environment (this process's, plus `env`, plus the worker marker
/// for a pool worker of the given maximum frame length), as C strings ready for `execve`.
pub(super) fn exec_plan(
    program: &std::path::Path,
    args: &[OsString],
    env: &[(OsString, OsString)],
    worker_max_frame_len: Option<usize>,
) -> Result<ExecPlan, ProcessError> {
    let program_c = c_string(program.as_os_str().as_bytes(), "worker program")?;
    let mut argv = vec![program_c.clone()];
    for arg in args {
        argv.push(c_string(arg.as_bytes(), "worker argument")?);
    }
    let mut vars: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(key, _)| key != WORKER_ENV && !env.iter().any(|(k, _)| k == key))
        .collect();
    vars.extend(env.iter().filter(|(key, _)| key != WORKER_ENV).cloned());
    if let Some(max_frame_len) = worker_max_frame_len {
        vars.push((WORKER_ENV.into(), marker_value(max_frame_len).into()));
    }
    let mut envp = Vec::with_capacity(vars.len());
    for (key, value) in vars {
        if key.is_empty() || key.as_bytes().contains(&b'=') {
            return Err(ProcessError::InvalidConfig(format!(
                "{key:?} is not an environment variable name"
            )));
        }
        let mut entry = key.into_vec();
        entry.push(b'=');
        entry.extend_from_slice(value.as_bytes());
        envp.push(c_string(&entry, "environment entry")?);
    }
    Ok(ExecPlan {
        program: program_c,
        argv,
        envp,
    })
}

/// Turns one reply item into the job's result.
fn item_result<O: Decode>(tag: u8, payload: &[u8]) -> Result<O, ProcessError> {
    match tag {
        TAG_OK => decode_exact::<O>(payload).map_err(|err| {
            ProcessError::Decode(format!("output is not a {}: {err}", type_name::<O>()))
        }),
        TAG_PANICKED => Err(ProcessError::Panicked(
            String::from_utf8_lossy(payload).into_owned(),
        )),
        _ => Err(ProcessError::Decode(
            String::from_utf8_lossy(payload).into_owned(),
        )),
    }
}

/// Turns a chunk's outcome into one result per input.
fn chunk_results<O: Decode>(outcome: Outcome, items: u32) -> Vec<Result<O, ProcessError>> {
    match outcome {
        Ok(body) => reply_items(&body.0)
            .map(|(tag, payload)| item_result(tag, payload))
            .collect(),
        Err(err) => (0..items).map(|_| Err(err.clone())).collect(),
    }
}

fn single_result<O: Decode>(outcome: Outcome) -> Result<O, ProcessError> {
    let body = outcome?;
    let first = reply_items(&body.0).next();
    match first {
        Some((tag, payload)) => item_result(tag, payload),
        None => Err(ProcessError::Protocol("a reply without results".to_owned())),
    }
}

/// A job submitted to a [`ProcessPool`]: await it, or block on it with
/// [`wait`](ProcessJob::wait).
///
/// Awaiting needs no reactor: the pool's supervisor thread wakes the task when the result
/// arrives.
#[must_use = "a ProcessJob does nothing unless waited for or awaited (the job runs anyway)"]
pub struct ProcessJob<O> {
    slot: Arc<ResultSlot<Outcome>>,
    output: PhantomData<fn() -> O>,
}

impl<O> fmt::Debug for ProcessJob<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessJob")
            .field("finished", &self.slot.is_complete())
            .finish()
    }
}

impl<O: Decode> ProcessJob<O> {
    /// Blocks this thread until the job's result is there.
    ///
    /// # Panics
    /// If the job was already awaited to completion (its result was returned then).
    #[track_caller]
    pub fn wait(self) -> Result<O, ProcessError> {
        single_result(self.slot.wait_take(SLOT_SPIN))
    }

    /// Blocks for at most `timeout`; `None` if the job has not finished by then (it keeps
    /// running, and can be waited for again).
    ///
    /// # Panics
    /// If called again after it returned `Some`, or after the job was awaited to completion.
    #[track_caller]
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<Result<O, ProcessError>> {
        self.slot
            .wait_take_timeout(timeout, SLOT_SPIN)
            .map(single_result)
    }

    /// Whether the result is there (waiting would not block).
    pub fn is_finished(&self) -> bool {
        self.slot.is_complete()
    }
}

impl<O: Decode> Future for ProcessJob<O> {
    type Output = Result<O, ProcessError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.slot.poll_take(cx).map(single_result)
    }
}

/// The results of [`ProcessPool::map`], in input order.
pub struct Map<'a, It, O> {
    pool: &'a ProcessPool,
    name: String,
    inputs: std::iter::Fuse<It>,
    chunksize: usize,
    in_flight: VecDeque<(Arc<ResultSlot<Outcome>>, u32)>,
    ready: std::vec::IntoIter<Result<O, ProcessError>>,
}

impl<It, O> fmt::Debug for Map<'_, It, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map")
            .field("name", &self.name)
            .field("chunksize", &self.chunksize)
            .field("chunks_in_flight", &self.in_flight.len())
            .finish_non_exhaustive()
    }
}

impl<It, O> Iterator for Map<'_, It, O>
where
    It: Iterator,
    It::Item: Encode + 'static,
    O: Decode + 'static,
{
    type Item = Result<O, ProcessError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(result) = self.ready.next() {
                return Some(result);
            }
            while self.in_flight.len() < self.pool.window() {
                let slot = Arc::new(ResultSlot::new());
                let reply_slot = slot.clone();
                let items = self.pool.send_chunk::<It::Item, O>(
                    &self.name,
                    &mut self.inputs,
                    self.chunksize,
                    |_| Box::new(move |outcome| reply_slot.complete(outcome)),
                );
                if items == 0 {
                    break;
                }
                self.in_flight.push_back((slot, items));
            }
            let (slot, items) = self.in_flight.pop_front()?;
            self.ready = chunk_results(slot.wait_take(SLOT_SPIN), items).into_iter();
        }
    }
}

/// Where the chunks of an [`ImapUnordered`] land as they complete.
#[derive(Debug)]
struct Completions {
    chunks: Mutex<VecDeque<(usize, u32, Outcome)>>,
    arrived: Condvar,
}

/// The results of [`ProcessPool::imap_unordered`], as `(input index, result)` in completion
/// order.
pub struct ImapUnordered<'a, It, O> {
    pool: &'a ProcessPool,
    name: String,
    inputs: std::iter::Fuse<It>,
    next_index: usize,
    chunksize: usize,
    in_flight: usize,
    done: Arc<Completions>,
    ready: std::vec::IntoIter<(usize, Result<O, ProcessError>)>,
}

impl<It, O> fmt::Debug for ImapUnordered<'_, It, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImapUnordered")
            .field("name", &self.name)
            .field("chunksize", &self.chunksize)
            .field("chunks_in_flight", &self.in_flight)
            .finish_non_exhaustive()
    }
}

impl<It, O> Iterator for ImapUnordered<'_, It, O>
where
    It: Iterator,
    It::Item: Encode + 'static,
    O: Decode + 'static,
{
    type Item = (usize, Result<O, ProcessError>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(result) = self.ready.next() {
                return Some(result);
            }
            while self.in_flight < self.pool.window() {
                let done = self.done.clone();
                let first = self.next_index;
                let items = self.pool.send_chunk::<It::Item, O>(
                    &self.name,
                    &mut self.inputs,
                    self.chunksize,
                    |items| {
                        Box::new(move |outcome| {
                            let mut chunks = done
                                .chunks
                                .lock()
                                .unwrap_or_else(|poisoned| poisoned.into_inner());
                            chunks.push_back((first, items, outcome));
                            drop(chunks);
                            done.arrived.notify_one();
                        })
                    },
                );
                if items == 0 {
                    break;
                }
                self.next_index += items as usize;
                self.in_flight += 1;
            }
            if self.in_flight == 0 {
                return None;
            }
            let (first, items, outcome) = self.wait_chunk();
            self.in_flight -= 1;
            self.ready = chunk_results(outcome, items)
                .into_iter()
                .enumerate()
                .map(|(offset, result)| (first + offset, result))
                .collect::<Vec<_>>()
                .into_iter();
        }
    }
}

impl<It, O> ImapUnordered<'_, It, O> {
    fn wait_chunk(&self) -> (usize, u32, Outcome) {
        let mut chunks = self
            .done
            .chunks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        loop {
            if let Some(chunk) = chunks.pop_front() {
                return chunk;
            }
            chunks = self
                .done
                .arrived
                .wait(chunks)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }
}
