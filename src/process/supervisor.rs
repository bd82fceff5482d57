//! The supervisor: one thread per pool that owns every worker.
//!
//! It is the only thread that forks, writes requests, reads replies and reaps. Submitters
//! hand it requests through the [`Shared`] inbox (a mutex-guarded queue plus a wake-up
//! socket); the workers never share anything: each has its own socket, its own read buffer
//! and at most one request in flight, so a worker that dies can take nothing with it but
//! its own job.
//!
//! One loop: take new requests, replace missing workers, hand requests to idle workers,
//! `poll(2)` the wake-up socket, every worker socket and every worker's exit watch (until
//! the nearest deadline), read replies and resolve their jobs, then enforce deadlines. A
//! worker leaves the pool by [`Supervisor::remove_worker`] only, which kills it if needed,
//! reaps it with `waitpid` and resolves its job, if any, with the reason.
//!
//! # Knowing a worker died
//! A worker's death is learnt from the process, not from its socket: a job that forks
//! leaves a grandchild holding the socket open, and end-of-file then never comes. Each
//! worker has a pidfd (readable once the process has exited); where `pidfd_open` is
//! missing (other Unixes, Linux before 5.3), the supervisor's SIGCHLD self-pipe (shared
//! with `Command`, see `sys.rs`) wakes it to `waitpid(WNOHANG)` each such worker, and with
//! no pipe slot free it re-checks them every [`UNWATCHED_CHECK`]. On an exit the supervisor
//! reaps at once, reads what the socket still holds (a reply written just before the exit
//! still counts), and resolves the job with `WorkerDied`. A reaped pid is never signalled
//! or waited for again (it may belong to another process by then). Since this one thread
//! both reaps and signals, and records each reap before it does anything else, no kill can
//! fall between a reap and its record (the window `Command`'s waiting thread had; see
//! `reap_lock.rs`). A retiring worker has [`RETIRE_TIMEOUT`] to exit after it is told to,
//! then it is killed, so `shutdown` never waits on a worker that does not exit. When the
//! supervisor ends, for any reason including a panic, its `Drop` kills and reaps every
//! worker still there and fails every job not yet resolved: no zombie, no fd and no waiter
//! is left behind.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use libc::pid_t;

use super::error::{ExitReason, ProcessError};
use super::frame::{parse_reply, FrameReader, Reply, PROTOCOL_VERSION};
use super::sys::{self, ExecPlan, SigchldSlot, WaitStatus};
use super::wake::WakeFlag;
use crate::loom::sync::atomic::{AtomicU64, Ordering};
use crate::loom::sync::{Mutex, MutexGuard};

/// A validated ITEMS reply body.
#[derive(Debug)]
pub(crate) struct ReplyBody(pub(crate) Vec<u8>);

/// What a request resolves to.
pub(crate) type Outcome = Result<ReplyBody, ProcessError>;

/// Called once, on the supervisor thread, with the request's outcome.
pub(crate) type ReplyTo = Box<dyn FnOnce(Outcome) + Send>;

/// One RUN frame on its way to a worker.
pub(crate) struct Request {
    pub(crate) name: String,
    pub(crate) frame: Vec<u8>,
    pub(crate) job_id: u64,
    pub(crate) items: u32,
    pub(crate) reply: ReplyTo,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("name", &self.name)
            .field("job_id", &self.job_id)
            .field("items", &self.items)
            .finish_non_exhaustive()
    }
}

/// How far the pool is from stopping; only ever increases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Stop {
    Running,
    /// `shutdown`: finish every job submitted, then let the workers go.
    Drain,
    /// `shutdown_now`: fail the jobs not started, finish the running ones.
    Cancel,
    /// `kill` (and drop): kill the workers now, fail everything unresolved.
    Kill,
}

#[derive(Debug)]
pub(crate) struct Inbox {
    requests: VecDeque<Request>,
    stop: Stop,
}

/// What submitters and the supervisor share.
#[derive(Debug)]
pub(crate) struct Shared {
    inbox: Mutex<Inbox>,
    wake_tx: UnixStream,
    wake: WakeFlag,
    next_job_id: AtomicU64,
}

impl Shared {
    pub(crate) fn new(wake_tx: UnixStream) -> Shared {
        Shared {
            inbox: Mutex::new(Inbox {
                requests: VecDeque::new(),
                stop: Stop::Running,
            }),
            wake_tx,
            wake: WakeFlag::default(),
            next_job_id: AtomicU64::new(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inbox> {
        self.inbox
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn next_job_id(&self) -> u64 {
        self.next_job_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Queues `request`; if the pool is stopping, resolves it with `ShutDown` instead.
    pub(crate) fn submit(&self, request: Request) {
        let refused = {
            let mut inbox = self.lock();
            if inbox.stop == Stop::Running {
                inbox.requests.push_back(request);
                None
            } else {
                Some(request)
            }
        };
        match refused {
            None => self.wake(),
            Some(request) => (request.reply)(Err(ProcessError::ShutDown)),
        }
    }

    /// Asks the supervisor to stop (never lowers an earlier, stronger request).
    pub(crate) fn request_stop(&self, stop: Stop) {
        {
            let mut inbox = self.lock();
            inbox.stop = inbox.stop.max(stop);
        }
        self.wake();
    }

    fn wake(&self) {
        self.wake.ring_if_needed(|| {
            // A full socket buffer means unread bytes: the supervisor wakes anyway.
            let _ = sys::send(self.wake_tx.as_fd(), &[1]);
        });
    }
}

/// What the supervisor needs to start and run workers.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) workers: usize,
    pub(crate) max_tasks_per_child: Option<u64>,
    pub(crate) job_timeout: Option<Duration>,
    pub(crate) start_timeout: Duration,
    pub(crate) max_frame_len: usize,
    /// Watch workers' exits through pidfds where the kernel has them (tests turn it off to
    /// exercise the SIGCHLD path).
    pub(crate) use_pidfd: bool,
    pub(crate) plan: ExecPlan,
    /// The worker program, for messages.
    pub(crate) program: String,
}

struct InFlight {
    name: String,
    job_id: u64,
    items: u32,
    reply: ReplyTo,
    deadline: Option<Instant>,
}

impl std::fmt::Debug for InFlight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InFlight")
            .field("name", &self.name)
            .field("job_id", &self.job_id)
            .field("items", &self.items)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
enum WorkerState {
    /// Started, HELLO not yet received.
    Starting {
        deadline: Instant,
    },
    Idle,
    Busy(InFlight),
    /// Told to exit (its socket is shut for writing); waiting for it to exit, and killed
    /// if it has not by `deadline`.
    Retiring {
        deadline: Instant,
    },
}

#[derive(Debug)]
struct Worker {
    pid: pid_t,
    socket: UnixStream,
    state: WorkerState,
    reader: FrameReader,
    outbox: Vec<u8>,
    sent: usize,
    tasks_done: u64,
    /// Readable once the process has exited (a pidfd); `None` where pidfds are missing,
    /// and the supervisor's SIGCHLD pipe or periodic check stands in.
    exit_watch: Option<OwnedFd>,
    /// Set once `waitpid` has reaped the process. From then on its pid may name another
    /// process: it is never signalled or waited for again.
    reaped: Option<WaitStatus>,
}

/// Why a worker leaves the pool.
#[derive(Debug)]
enum Gone {
    /// Its socket reached end-of-file or failed: it exited or is exiting.
    Closed,
    /// The process exited (and is reaped: see `Worker::reaped`).
    Exited,
    /// Told to exit, it had not by its deadline.
    RetireTimeout,
    /// It broke the protocol.
    Protocol(String),
    /// Its job ran past the timeout.
    JobTimeout(Duration),
    /// No HELLO in time.
    StartTimeout,
}

#[derive(Debug)]
pub(crate) struct Supervisor {
    shared: crate::loom::sync::Arc<Shared>,
    wake_rx: UnixStream,
    config: Config,
    workers: Vec<Worker>,
    pending: VecDeque<Request>,
    stop: Stop,
    /// After a failed start, no new worker before this instant.
    spawn_backoff_until: Option<Instant>,
    /// Workers that must leave, with the reason; processed by `remove_gone`.
    gone: Vec<(pid_t, Gone)>,
    /// True while `start` runs: a worker failing to start then fails the whole build.
    starting: bool,
    start_error: Option<ProcessError>,
    /// Workers in a row that died before their HELLO; a HELLO resets it.
    failed_starts_in_a_row: u32,
    pollfds: Vec<libc::pollfd>,
    /// Where each worker's socket and exit watch sit in `pollfds`.
    poll_slots: Vec<(usize, Option<usize>)>,
    /// Registered when the first worker without a pidfd starts: readable after every
    /// SIGCHLD.
    sigchld: Option<SigchldSlot>,
    /// Check the workers without a pidfd at the next wake-up even without a SIGCHLD (one
    /// may have died before the pipe was registered).
    check_unwatched: bool,
}

/// How long a worker told to exit may take before it is killed. Exiting after end-of-file
/// takes a worker microseconds; this bounds `shutdown` against one that hangs on its way
/// out (an `atexit` handler that blocks, say).
pub(crate) const RETIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// Workers with no exit watch at all (no pidfd, every SIGCHLD pipe slot taken) are checked
/// with `waitpid(WNOHANG)` this often.
const UNWATCHED_CHECK: Duration = Duration::from_millis(50);

/// Pause before retrying after a replacement worker failed to start.
const SPAWN_BACKOFF: Duration = Duration::from_millis(100);

/// Once the pool runs, one worker dying before its HELLO (killed from outside, say) is
/// replaced at once like any dead worker; this many in a row mean the program cannot start,
/// and the pool backs off and fails the queued jobs if no worker is left to run them.
const MAX_FAILED_STARTS_IN_A_ROW: u32 = 3;

impl Supervisor {
    pub(crate) fn new(
        shared: crate::loom::sync::Arc<Shared>,
        wake_rx: UnixStream,
        config: Config,
    ) -> Supervisor {
        Supervisor {
            shared,
            wake_rx,
            config,
            workers: Vec::new(),
            pending: VecDeque::new(),
            stop: Stop::Running,
            spawn_backoff_until: None,
            gone: Vec::new(),
            starting: false,
            start_error: None,
            failed_starts_in_a_row: 0,
            pollfds: Vec::new(),
            poll_slots: Vec::new(),
            sigchld: None,
            check_unwatched: false,
        }
    }

    /// Starts the configured number of workers and waits for each one's HELLO.
    pub(crate) fn start(&mut self) -> Result<(), ProcessError> {
        self.starting = true;
        let result = self.start_workers();
        self.starting = false;
        result
    }

    fn start_workers(&mut self) -> Result<(), ProcessError> {
        for _ in 0..self.config.workers {
            self.spawn_worker()?;
        }
        while self
            .workers
            .iter()
            .any(|w| matches!(w.state, WorkerState::Starting { .. }))
        {
            self.poll_once().map_err(ProcessError::Spawn)?;
            self.enforce_deadlines(Instant::now());
            self.remove_gone();
            if let Some(err) = self.start_error.take() {
                return Err(err);
            }
            if self.shared.lock().stop == Stop::Kill {
                return Err(ProcessError::ShutDown);
            }
        }
        Ok(())
    }

    /// Serves requests until told to stop. Returning (or unwinding) hands the rest to `Drop`.
    pub(crate) fn run(&mut self) {
        loop {
            self.take_inbox();
            if self.stop == Stop::Kill {
                return;
            }
            if self.stop == Stop::Cancel {
                for request in self.pending.drain(..) {
                    (request.reply)(Err(ProcessError::ShutDown));
                }
            }
            self.replace_workers();
            self.dispatch();
            self.remove_gone();
            if self.stop >= Stop::Drain && self.pending.is_empty() {
                self.retire_idle_workers();
                if self.workers.is_empty() {
                    return;
                }
            }
            if let Err(err) = self.poll_once() {
                // poll itself failing (EINVAL, ENOMEM) leaves nothing sensible to do: stop,
                // and let `Drop` kill, reap and fail what is left.
                eprintln!("spindle process pool: poll failed: {err}");
                return;
            }
            self.enforce_deadlines(Instant::now());
            self.remove_gone();
        }
    }

    fn take_inbox(&mut self) {
        let mut inbox = self.shared.lock();
        self.stop = inbox.stop;
        if self.pending.is_empty() {
            std::mem::swap(&mut self.pending, &mut inbox.requests);
        } else {
            self.pending.append(&mut inbox.requests);
        }
    }

    fn spawn_worker(&mut self) -> Result<(), ProcessError> {
        let spawn_error = |err: io::Error| {
            ProcessError::Spawn(io::Error::new(
                err.kind(),
                format!("{}: {err}", self.config.program),
            ))
        };
        let (socket, child_end) = UnixStream::pair().map_err(spawn_error)?;
        let pid = sys::spawn(
            &self.config.plan,
            &[(child_end.as_fd(), sys::WORKER_FD)],
            true,
        )
        .map_err(spawn_error)?;
        drop(child_end); // the worker's end now lives in the worker only
        if let Err(err) = socket.set_nonblocking(true) {
            let _ = sys::kill(pid);
            let _ = sys::wait(pid);
            return Err(spawn_error(err));
        }
        let exit_watch = self.watch_exit(pid);
        self.workers.push(Worker {
            pid,
            socket,
            state: WorkerState::Starting {
                deadline: deadline_after(self.config.start_timeout),
            },
            reader: FrameReader::default(),
            outbox: Vec::new(),
            sent: 0,
            tasks_done: 0,
            exit_watch,
            reaped: None,
        });
        Ok(())
    }

    /// A pidfd for the new worker `pid`; failing that, makes sure the SIGCHLD pipe is
    /// registered and that the worker is checked at the next wake-up.
    fn watch_exit(&mut self, pid: pid_t) -> Option<OwnedFd> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if self.config.use_pidfd {
            if let Ok(pidfd) = sys::pidfd_open(pid) {
                return Some(pidfd);
            }
        }
        let _ = pid;
        if self.sigchld.is_none() {
            // Every slot taken: `UNWATCHED_CHECK` polling stands in.
            self.sigchld = SigchldSlot::register().ok();
        }
        // It may have exited before the pipe was registered: look once without a signal.
        self.check_unwatched = true;
        None
    }

    /// Reaps worker `index` if its process has exited, and reports it gone.
    fn check_exit(&mut self, index: usize) {
        let worker = &mut self.workers[index];
        if worker.reaped.is_some() {
            return;
        }
        let status = match sys::try_wait(worker.pid) {
            Ok(Some(status)) => status,
            Ok(None) => return, // still running (the SIGCHLD was another child's)
            // ECHILD: something else reaped it (a stray `waitpid(-1)`): the status is lost.
            Err(_) => WaitStatus::Exited(-1),
        };
        worker.reaped = Some(status);
        let pid = worker.pid;
        // A reply written just before the exit is still in the socket: take it, so a job
        // that finished is not reported lost (`dispatch` gives a reaped worker nothing).
        let gone = match self.read_worker(index) {
            Err(Gone::Protocol(message)) => Gone::Protocol(message),
            _ => Gone::Exited,
        };
        self.gone.push((pid, gone));
    }
    fn active_workers(&self) -> usize {
        self.workers
            .iter()
            .filter(|w| !matches!(w.state, WorkerState::Retiring { .. }))
            .count()
    }

    /// Brings the pool back to its size after deaths and retirements (while stopping, only
    /// as far as the remaining jobs need).
    fn replace_workers(&mut self) {
        let wanted = if self.stop == Stop::Running {
            self.config.workers
        } else {
            self.config.workers.min(self.pending.len())
        };
        if let Some(until) = self.spawn_backoff_until {
            if Instant::now() < until {
                return;
            }
            self.spawn_backoff_until = None;
        }
        while self.active_workers() < wanted {
            if let Err(err) = self.spawn_worker() {
                self.spawn_failed(err);
                return;
            }
        }
    }

    /// A worker could not be started: retry later; meanwhile, with no worker left to run
    /// them, the queued jobs fail with the reason.
    fn spawn_failed(&mut self, err: ProcessError) {
        self.spawn_backoff_until = Some(Instant::now() + SPAWN_BACKOFF);
        if self.active_workers() == 0 {
            for request in self.pending.drain(..) {
                (request.reply)(Err(err.clone()));
            }
        }
    }

    fn dispatch(&mut self) {
        for index in 0..self.workers.len() {
            let worker = &self.workers[index];
            if !matches!(worker.state, WorkerState::Idle) || worker.reaped.is_some() {
                continue;
            }
            let Some(request) = self.pending.pop_front() else {
                return;
            };
            let worker = &mut self.workers[index];
            worker.state = WorkerState::Busy(InFlight {
                name: request.name,
                job_id: request.job_id,
                items: request.items,
                reply: request.reply,
                deadline: self.config.job_timeout.map(deadline_after),
            });
            worker.outbox = request.frame;
            worker.sent = 0;
            if let Err(gone) = flush(worker) {
                self.gone.push((worker.pid, gone));
            }
        }
    }

    fn retire_idle_workers(&mut self) {
        for worker in &mut self.workers {
            if matches!(worker.state, WorkerState::Idle) {
                retire(worker);
            }
        }
    }

    /// Waits for the wake-up socket, a worker's reply, a worker's exit, or the nearest
    /// deadline, and handles what arrived.
    fn poll_once(&mut self) -> io::Result<()> {
        let now = Instant::now();
        let timeout = self
            .next_deadline()
            .map(|deadline| deadline.saturating_duration_since(now));
        self.pollfds.clear();
        self.pollfds.push(libc::pollfd {
            fd: self.wake_rx.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        });
        let sigchld_at = self.sigchld.as_ref().map(|slot| {
            self.pollfds.push(libc::pollfd {
                fd: slot.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
            self.pollfds.len() - 1
        });
        self.poll_slots.clear();
        for worker in &self.workers {
            let mut events = libc::POLLIN;
            if worker.sent < worker.outbox.len() {
                events |= libc::POLLOUT;
            }
            self.pollfds.push(libc::pollfd {
                fd: worker.socket.as_raw_fd(),
                events,
                revents: 0,
            });
            let socket_at = self.pollfds.len() - 1;
            let exit_at = worker.exit_watch.as_ref().map(|pidfd| {
                self.pollfds.push(libc::pollfd {
                    fd: pidfd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                });
                self.pollfds.len() - 1
            });
            self.poll_slots.push((socket_at, exit_at));
        }
        sys::poll_spinning(&mut self.pollfds, timeout, sys::SPIN)?;

        if self.pollfds[0].revents != 0 {
            self.drain_wake();
        }
        for index in 0..self.workers.len() {
            let revents = self.pollfds[self.poll_slots[index].0].revents;
            if revents == 0 {
                continue;
            }
            let result = if revents & libc::POLLOUT != 0 {
                flush(&mut self.workers[index])
            } else {
                Ok(())
            };
            let result = result.and_then(|()| {
                if revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
                    self.read_worker(index)
                } else {
                    Ok(())
                }
            });
            if let Err(gone) = result {
                self.gone.push((self.workers[index].pid, gone));
            }
        }

        // Exits, after the sockets: what a worker wrote before it died is read first.
        let mut check_unwatched = std::mem::take(&mut self.check_unwatched);
        if let Some(at) = sigchld_at {
            if self.pollfds[at].revents != 0 {
                if let Some(slot) = &self.sigchld {
                    slot.drain();
                }
                check_unwatched = true;
            }
        } else {
            // No pipe: the periodic check (see `next_deadline`).
            check_unwatched = true;
        }
        for index in 0..self.workers.len() {
            let exited = match self.poll_slots[index].1 {
                Some(at) => self.pollfds[at].revents != 0,
                None => check_unwatched,
            };
            if exited {
                self.check_exit(index);
            }
        }
        Ok(())
    }

    /// Empties the wake-up socket and rearms the flag; `take_inbox` (top of the loop) then
    /// sees every request whose wake-up was drained (see `wake.rs`).
    fn drain_wake(&mut self) {
        let wake_rx = &self.wake_rx;
        self.shared.wake.drain_and_rearm(|| {
            let mut sink = [0u8; 64];
            loop {
                match (&*wake_rx).read(&mut sink) {
                    Ok(n) if n > 0 => continue,
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                    // WouldBlock: drained (end-of-file cannot happen: `Shared` holds wake_tx)
                    _ => break,
                }
            }
        });
    }

    /// Reads what the worker sent and handles each complete frame.
    fn read_worker(&mut self, index: usize) -> Result<(), Gone> {
        loop {
            let worker = &mut self.workers[index];
            match worker.reader.read_from(&mut &worker.socket) {
                Ok(0) => return Err(Gone::Closed),
                Ok(_) => loop {
                    let worker = &mut self.workers[index];
                    let frame = worker
                        .reader
                        .next_frame(self.config.max_frame_len)
                        .map_err(Gone::Protocol)?;
                    match frame {
                        Some(body) => self.handle_frame(index, body)?,
                        None => break,
                    }
                },
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(Gone::Closed),
            }
        }
    }

    fn handle_frame(&mut self, index: usize, body: Vec<u8>) -> Result<(), Gone> {
        let reply = parse_reply(&body).map_err(Gone::Protocol)?;
        let worker = &mut self.workers[index];
        match reply {
            Reply::Hello { version, .. } => {
                if !matches!(worker.state, WorkerState::Starting { .. }) {
                    return Err(Gone::Protocol("HELLO from a running worker".to_owned()));
                }
                if version != PROTOCOL_VERSION {
                    return Err(Gone::Protocol(format!(
                        "worker speaks protocol {version}, the pool {PROTOCOL_VERSION} \
                         (worker program built against another spindle?)"
                    )));
                }
                worker.state = WorkerState::Idle;
                self.failed_starts_in_a_row = 0;
                Ok(())
            }
            Reply::Items { job_id, .. } | Reply::UnknownJob { job_id } => {
                let expected = match &worker.state {
                    WorkerState::Busy(job) if job.job_id == job_id => job.items,
                    _ => {
                        return Err(Gone::Protocol(format!(
                            "reply for job {job_id}, which this worker is not running"
                        )))
                    }
                };
                if let Reply::Items { count, .. } = reply {
                    if count != expected {
                        return Err(Gone::Protocol(format!(
                            "{count} results for a request of {expected} items"
                        )));
                    }
                }
                let WorkerState::Busy(job) =
                    std::mem::replace(&mut worker.state, WorkerState::Idle)
                else {
                    unreachable!("checked Busy above");
                };
                worker.tasks_done += 1;
                if self
                    .config
                    .max_tasks_per_child
                    .is_some_and(|max| worker.tasks_done >= max)
                {
                    retire(worker);
                }
                let outcome = match reply {
                    Reply::UnknownJob { .. } => Err(ProcessError::UnknownJob(job.name)),
                    _ => Ok(ReplyBody(body)),
                };
                (job.reply)(outcome);
                // Give the freed worker its next request at once.
                self.dispatch();
                Ok(())
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let workers = self.workers.iter().filter_map(|w| match &w.state {
            WorkerState::Starting { deadline } | WorkerState::Retiring { deadline } => {
                Some(*deadline)
            }
            WorkerState::Busy(job) => job.deadline,
            WorkerState::Idle => None,
        });
        let unwatched = if self.check_unwatched {
            // A worker may have died before the SIGCHLD pipe was there to hear it.
            Some(Instant::now())
        } else {
            (self.sigchld.is_none() && self.workers.iter().any(|w| w.exit_watch.is_none()))
                .then(|| Instant::now() + UNWATCHED_CHECK)
        };
        workers
            .chain(self.spawn_backoff_until)
            .chain(unwatched)
            .min()
    }

    fn enforce_deadlines(&mut self, now: Instant) {
        for worker in &self.workers {
            let gone = match &worker.state {
                WorkerState::Starting { deadline } if *deadline <= now => Gone::StartTimeout,
                WorkerState::Retiring { deadline } if *deadline <= now => Gone::RetireTimeout,
                WorkerState::Busy(InFlight {
                    deadline: Some(deadline),
                    ..
                }) if *deadline <= now => Gone::JobTimeout(
                    self.config
                        .job_timeout
                        .expect("a job deadline comes from job_timeout"),
                ),
                _ => continue,
            };
            self.gone.push((worker.pid, gone));
        }
    }

    /// Removes every worker in `gone`: kill if needed, reap, resolve its job.
    fn remove_gone(&mut self) {
        while let Some((pid, gone)) = self.gone.pop() {
            // A worker can be reported twice in one pass (say, a write and a read failing);
            // the first report removes it.
            if let Some(index) = self.workers.iter().position(|w| w.pid == pid) {
                let worker = self.workers.swap_remove(index);
                self.remove_worker(worker, gone);
            }
        }
    }

    fn remove_worker(&mut self, worker: Worker, gone: Gone) {
        let reason = reap(&worker, &gone);
        let pid = worker.pid as u32;
        drop(worker.socket);
        match worker.state {
            WorkerState::Busy(job) => {
                let error = match gone {
                    Gone::Closed | Gone::Exited | Gone::StartTimeout | Gone::RetireTimeout => {
                        ProcessError::WorkerDied { pid, reason }
                    }
                    Gone::Protocol(message) => ProcessError::Protocol(message),
                    Gone::JobTimeout(limit) => ProcessError::Timeout(limit),
                };
                (job.reply)(Err(error));
            }
            WorkerState::Starting { .. } => {
                let why = match gone {
                    Gone::StartTimeout => format!(
                        "did not say hello within {:?} and was killed",
                        self.config.start_timeout
                    ),
                    Gone::Protocol(message) => format!("broke the protocol: {message}"),
                    _ => reason.to_string(),
                };
                let err = ProcessError::Spawn(io::Error::other(format!(
                    "worker process {pid} of {} {why} before it was ready (does the \
                     program's main call spindle::process::run_worker_if_child first?)",
                    self.config.program
                )));
                if self.starting && self.start_error.is_none() {
                    self.start_error = Some(err.clone());
                }
                self.failed_starts_in_a_row += 1;
                if self.starting || self.failed_starts_in_a_row >= MAX_FAILED_STARTS_IN_A_ROW {
                    self.spawn_failed(err);
                }
            }
            WorkerState::Idle | WorkerState::Retiring { .. } => {}
        }
    }
}

/// `now + limit`, or a deadline decades away if that overflows (`Duration::MAX`: no limit
/// in practice, not a panic in the supervisor).
fn deadline_after(limit: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(limit)
        .or_else(|| now.checked_add(Duration::from_secs(30 * 365 * 86_400)))
        .unwrap_or(now)
}

/// Writes as much of the worker's outbox as the socket takes.
fn flush(worker: &mut Worker) -> Result<(), Gone> {
    while worker.sent < worker.outbox.len() {
        match sys::send(worker.socket.as_fd(), &worker.outbox[worker.sent..]) {
            Ok(n) => worker.sent += n,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Err(Gone::Closed), // EPIPE, ECONNRESET: the worker is gone
        }
    }
    worker.outbox = Vec::new();
    worker.sent = 0;
    Ok(())
}

/// Tells the worker to exit: it reads end-of-file and exits, and its exit (or its socket's
/// end-of-file) brings it to `remove_worker`; past [`RETIRE_TIMEOUT`] it is killed.
fn retire(worker: &mut Worker) {
    let _ = sys::shutdown_write(worker.socket.as_fd());
    worker.state = WorkerState::Retiring {
        deadline: deadline_after(RETIRE_TIMEOUT),
    };
}

/// Reaps `worker`, killing it first unless it is already on its way out, and says how it
/// ended.
fn reap(worker: &Worker, gone: &Gone) -> ExitReason {
    if let Some(status) = worker.reaped {
        // Reaped already: its pid is no longer ours to signal or wait for.
        return ExitReason::from_wait(status);
    }
    let exiting = matches!(gone, Gone::Closed);
    // End-of-file means the worker's fds were closed: it is exiting. If it is not a zombie
    // yet, it is in the middle of exit (a kill then changes nothing) or it closed its
    // socket on purpose (then it must go).
    let status = match exiting.then(|| sys::try_wait(worker.pid)) {
        Some(Ok(Some(status))) => Ok(status),
        // ECHILD: reaped by someone else, so its pid is not ours to signal (below).
        Some(Err(err)) => Err(err),
        _ => {
            let _ = sys::kill(worker.pid);
            sys::wait(worker.pid)
        }
    };
    match status {
        Ok(status) => ExitReason::from_wait(status),
        // ECHILD: someone else (a SIGCHLD handler set to SIG_IGN, a stray waitpid(-1))
        // reaped it; the status is lost.
        Err(_) => ExitReason::Code(-1),
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        // Kill first, all at once, then reap: the workers die in parallel. A reaped one's pid
        // is not ours any more.
        for worker in self.workers.iter().filter(|w| w.reaped.is_none()) {
            let _ = sys::kill(worker.pid);
        }
        for worker in std::mem::take(&mut self.workers) {
            if worker.reaped.is_none() {
                let _ = sys::wait(worker.pid);
            }
            if let WorkerState::Busy(job) = worker.state {
                (job.reply)(Err(ProcessError::ShutDown));
            }
        }
        // Refuse new requests, then fail the ones queued.
        let queued = {
            let mut inbox = self.shared.lock();
            inbox.stop = Stop::Kill;
            std::mem::take(&mut inbox.requests)
        };
        for request in self.pending.drain(..).chain(queued) {
            (request.reply)(Err(ProcessError::ShutDown));
        }
    }
}
