//! Scheduler tracing: what each worker thread did, poll by poll, in Chrome's trace event
//! format (open the file in <https://ui.perfetto.dev> or `chrome://tracing`).
//!
//! Turned on with [`Builder::trace`](crate::runtime::Builder::trace), collected with
//! [`Runtime::take_trace`](crate::runtime::Runtime::take_trace) (while it runs) or
//! [`Runtime::shutdown_and_take_trace`](crate::runtime::Runtime::shutdown_and_take_trace)
//! (everything, once the workers have stopped):
//!
//! ```
//! let rt = spindle::runtime::Builder::new_multi_thread()
//!     .worker_threads(2)
//!     .trace(true)
//!     .build()
//!     .unwrap();
//! rt.block_on(async {
//!     let task = spindle::spawn(async { spindle::task::yield_now().await });
//!     task.await.unwrap();
//! });
//! let trace = rt.shutdown_and_take_trace().expect("built with trace(true)");
//! assert!(trace.polls() >= 2); // the task's first poll and the one after its yield
//! let mut json = Vec::new();
//! trace.write_chrome_json(&mut json).unwrap();
//! assert!(json.starts_with(b"{\"traceEvents\":["));
//! ```
//!
//! # What is recorded
//! - every run of a task: a complete event (`"ph": "X"`) on the track of the worker that ran
//!   it, named `task <id>`, with the task id, where it was spawned (`file:line:col`, from
//!   `#[track_caller]`), what woke it (`task <id>`, `driver` for the reactor or a timer,
//!   `runtime thread` for scheduler code outside any task such as `block_on`'s own future,
//!   `remote` for a thread outside the runtime, or `spawn` for the first poll) and whether the
//!   poll was wasted;
//! - steals (`from` worker, `count` tasks), parks, unparks and reactor turns, as instant
//!   events (`"ph": "i"`).
//!
//! # Cost
//! Off (the default), the scheduler pays one branch on an `Option` it already has in cache at
//! each hook: nothing is allocated, no clock is read, the spawn site is not looked at.
//! On, each event is two clock reads and a push under the recording worker's own mutex (one
//! per worker, uncontended except while [`take_trace`](crate::runtime::Runtime::take_trace)
//! drains it), so workers never contend with each other. Spawns and wakes from threads
//! outside the runtime share one further mutex. Buffers grow without bound while tracing is
//! on: trace short runs, or call `take_trace` periodically.

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::io::{self, Write};
use std::panic::Location;
use std::sync::Mutex;
use std::time::Instant;

use crossbeam_utils::CachePadded;

use super::metrics::WorkerCounters;
use crate::task::Notified;

/// Who made a task runnable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// Code running on a runtime thread outside any task poll or driver turn.
    RuntimeThread,
    /// A task's poll (its id).
    Task(u64),
    /// The reactor or timer wheel, during a driver turn.
    Driver,
    /// A thread outside the runtime.
    Remote,
}

crate::loom::thread_local! {
    /// What this thread is doing, for attributing the wakes it makes. Written only while a
    /// traced runtime runs something on this thread.
    static DOING: Cell<Option<Source>> = const { Cell::new(None) };
}

/// Sets [`DOING`] for a scope, restoring the previous value on drop (also on unwind).
struct Doing(Option<Source>);

impl Doing {
    fn enter(source: Source) -> Doing {
        Doing(DOING.with(|doing| doing.replace(Some(source))))
    }
}

impl Drop for Doing {
    fn drop(&mut self) {
        DOING.with(|doing| doing.set(self.0));
    }
}

/// One recorded event; times are nanoseconds since the tracer started.
#[derive(Debug, Clone, Copy)]
enum Event {
    Run {
        task: u64,
        start: u64,
        end: u64,
        polled: bool,
        wasted: bool,
    },
    Spawn {
        task: u64,
        at: u64,
        site: &'static Location<'static>,
        by: Source,
    },
    Wake {
        task: u64,
        at: u64,
        by: Source,
    },
    Steal {
        at: u64,
        from: usize,
        count: u32,
    },
    Park {
        at: u64,
    },
    Unpark {
        at: u64,
        slept: u64,
        in_driver: bool,
    },
    ReactorTurn {
        at: u64,
        took: u64,
    },
}

/// The recording side, owned by a traced scheduler. Worker `i` records into `workers[i]`;
/// threads outside the runtime record into `remote`.
pub(crate) struct Tracer {
    epoch: Instant,
    workers: Box<[CachePadded<Mutex<Vec<Event>>>]>,
    remote: Mutex<Vec<Event>>,
    names: Vec<String>,
}

impl Tracer {
    /// A tracer for threads named `names` (index = worker index).
    pub(crate) fn new(names: Vec<String>) -> Tracer {
        Tracer {
            epoch: Instant::now(),
            workers: names
                .iter()
                .map(|_| CachePadded::new(Mutex::new(Vec::with_capacity(1024))))
                .collect(),
            remote: Mutex::new(Vec::new()),
            names,
        }
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    fn record(&self, worker: Option<usize>, event: Event) {
        let buffer = match worker {
            Some(index) => &*self.workers[index],
            None => &self.remote,
        };
        buffer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(event);
    }

    /// Runs a queue entry on worker `worker`, recording the run as a slice. The poll and
    /// wasted-poll counters tell whether the entry was polled (rather than cancelled or
    /// skipped): only this thread writes `counters`, so their difference is exact.
    #[inline(never)]
    pub(crate) fn run<S: 'static>(
        &self,
        worker: usize,
        task: Notified<S>,
        counters: &WorkerCounters,
    ) {
        let id = task.id().as_u64();
        let before = counters.snapshot();
        let start = self.now();
        {
            let _doing = Doing::enter(Source::Task(id));
            task.run(counters);
        }
        let end = self.now();
        let after = counters.snapshot();
        self.record(
            Some(worker),
            Event::Run {
                task: id,
                start,
                end,
                polled: after.polls > before.polls,
                wasted: after.wasted_polls > before.wasted_polls,
            },
        );
    }

    /// A task was spawned from `worker` (`None`: from outside the runtime) at `site`.
    #[inline(never)]
    pub(crate) fn spawn(&self, worker: Option<usize>, task: u64, site: &'static Location<'static>) {
        let by = self.source(worker);
        let at = self.now();
        self.record(worker, Event::Spawn { task, at, site, by });
    }

    /// A wake made `task` runnable. Called before the entry is queued, so the wake's time is
    /// before the poll it causes, whichever thread runs it.
    #[inline(never)]
    pub(crate) fn wake(&self, worker: Option<usize>, task: u64) {
        let by = self.source(worker);
        let at = self.now();
        self.record(worker, Event::Wake { task, at, by });
    }

    fn source(&self, worker: Option<usize>) -> Source {
        match (DOING.try_with(Cell::get).unwrap_or(None), worker) {
            (Some(source), _) => source,
            (None, Some(_)) => Source::RuntimeThread,
            (None, None) => Source::Remote,
        }
    }

    /// Worker `worker` stole `count` tasks from worker `from`.
    #[inline(never)]
    pub(crate) fn steal(&self, worker: usize, from: usize, count: u32) {
        let at = self.now();
        self.record(Some(worker), Event::Steal { at, from, count });
    }

    /// Runs `park` (which returns whether the thread slept in the driver), recording a park
    /// and an unpark around it. Wakes the driver makes meanwhile are attributed to it.
    #[inline(never)]
    pub(crate) fn park(&self, worker: usize, park: impl FnOnce() -> bool) {
        let at = self.now();
        self.record(Some(worker), Event::Park { at });
        let in_driver = {
            let _doing = Doing::enter(Source::Driver);
            park()
        };
        let now = self.now();
        self.record(
            Some(worker),
            Event::Unpark {
                at: now,
                slept: now - at,
                in_driver,
            },
        );
    }

    /// Runs `turn` (a non-blocking look at the driver, which returns whether it got the
    /// driver), recording it as a reactor turn if it did.
    #[inline(never)]
    pub(crate) fn reactor_turn(&self, worker: usize, turn: impl FnOnce() -> bool) {
        let at = self.now();
        let turned = {
            let _doing = Doing::enter(Source::Driver);
            turn()
        };
        if turned {
            let took = self.now() - at;
            self.record(Some(worker), Event::ReactorTurn { at, took });
        }
    }

    /// Everything recorded so far, leaving the buffers empty.
    pub(crate) fn take(&self) -> Trace {
        let drain = |buffer: &Mutex<Vec<Event>>| {
            std::mem::take(&mut *buffer.lock().unwrap_or_else(|p| p.into_inner()))
        };
        let mut tracks: Vec<Track> = self
            .workers
            .iter()
            .zip(&self.names)
            .map(|(buffer, name)| Track {
                name: name.clone(),
                events: drain(buffer),
            })
            .collect();
        tracks.push(Track {
            name: "outside the runtime".to_owned(),
            events: drain(&self.remote),
        });
        Trace { tracks }
    }
}

impl fmt::Debug for Tracer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracer")
            .field("threads", &self.names)
            .finish_non_exhaustive()
    }
}

/// The events of one thread.
#[derive(Debug, Clone)]
struct Track {
    name: String,
    events: Vec<Event>,
}

/// A scheduler trace, from [`Runtime::take_trace`](crate::runtime::Runtime::take_trace).
///
/// One track per worker thread (a current-thread runtime has one, for whichever thread drives
/// it), plus one for spawns and wakes from threads outside the runtime. See the
/// [module docs](self) for what is recorded.
#[derive(Debug, Clone)]
pub struct Trace {
    tracks: Vec<Track>,
}

/// How a task became runnable before one of its polls.
#[derive(Clone, Copy)]
struct Cause {
    at: u64,
    by: Source,
    spawn: bool,
}

impl Trace {
    /// Task polls recorded (runs that cancelled or skipped a task are not counted).
    pub fn polls(&self) -> usize {
        self.polls_per_thread().iter().map(|(_, polls)| polls).sum()
    }

    /// Each thread's name and the number of task polls it ran, worker threads first.
    pub fn polls_per_thread(&self) -> Vec<(String, usize)> {
        self.tracks
            .iter()
            .map(|track| {
                let polls = track
                    .events
                    .iter()
                    .filter(|event| matches!(event, Event::Run { polled: true, .. }))
                    .count();
                (track.name.clone(), polls)
            })
            .collect()
    }

    /// Turns of the driver that did not block (a busy worker letting I/O and timers in
    /// between polls), over every thread; sleeps in the driver are not counted.
    pub fn reactor_turns(&self) -> usize {
        (self.tracks.iter())
            .flat_map(|track| &track.events)
            .filter(|event| matches!(event, Event::ReactorTurn { .. }))
            .count()
    }

    /// Writes the trace as a Chrome trace event JSON object (`{"traceEvents": [...]}`), for
    /// Perfetto or `chrome://tracing`. Times are microseconds since the runtime was built.
    ///
    /// # Errors
    /// Those of `writer`.
    pub fn write_chrome_json<W: Write>(&self, writer: W) -> io::Result<()> {
        let mut out = io::BufWriter::new(writer);
        let (sites, causes) = self.index();
        out.write_all(b"{\"traceEvents\":[")?;
        let mut first = true;
        let mut sep = |out: &mut io::BufWriter<W>| -> io::Result<()> {
            if !std::mem::take(&mut first) {
                out.write_all(b",\n")?;
            }
            Ok(())
        };
        sep(&mut out)?;
        write!(
            out,
            r#"{{"name":"process_name","ph":"M","pid":1,"tid":0,"args":{{"name":"spindle runtime"}}}}"#
        )?;
        for (index, track) in self.tracks.iter().enumerate() {
            let tid = index + 1;
            sep(&mut out)?;
            write!(
                out,
                r#"{{"name":"thread_name","ph":"M","pid":1,"tid":{tid},"args":{{"name":{}}}}}"#,
                json_string(&track.name)
            )?;
            sep(&mut out)?;
            write!(
                out,
                r#"{{"name":"thread_sort_index","ph":"M","pid":1,"tid":{tid},"args":{{"sort_index":{tid}}}}}"#
            )?;
            for event in &track.events {
                match *event {
                    Event::Run {
                        task,
                        start,
                        end,
                        polled,
                        wasted,
                    } => {
                        sep(&mut out)?;
                        let name = if polled {
                            format!("task {task}")
                        } else {
                            format!("task {task} (cancelled or skipped)")
                        };
                        write!(
                            out,
                            r#"{{"name":{},"cat":"poll","ph":"X","pid":1,"tid":{tid},"ts":{},"dur":{},"args":{{"task":{task},"wasted":{wasted}"#,
                            json_string(&name),
                            micros(start),
                            micros(end - start)
                        )?;
                        if let Some(site) = sites.get(&task) {
                            write!(out, r#","spawned_at":{}"#, json_string(&site.to_string()))?;
                        }
                        if let Some(cause) = cause_before(&causes, task, start) {
                            let by = describe(cause.by);
                            let by = if cause.spawn {
                                format!("spawn by {by}")
                            } else {
                                by
                            };
                            write!(out, r#","woken_by":{}"#, json_string(&by))?;
                        }
                        out.write_all(b"}}")?;
                    }
                    Event::Steal { at, from, count } => {
                        sep(&mut out)?;
                        write!(
                            out,
                            r#"{{"name":"steal","cat":"scheduler","ph":"i","s":"t","pid":1,"tid":{tid},"ts":{},"args":{{"from_worker":{from},"count":{count}}}}}"#,
                            micros(at)
                        )?;
                    }
                    Event::Park { at } => {
                        sep(&mut out)?;
                        write!(
                            out,
                            r#"{{"name":"park","cat":"scheduler","ph":"i","s":"t","pid":1,"tid":{tid},"ts":{}}}"#,
                            micros(at)
                        )?;
                    }
                    Event::Unpark {
                        at,
                        slept,
                        in_driver,
                    } => {
                        sep(&mut out)?;
                        let name = if in_driver {
                            "reactor turn (unpark)"
                        } else {
                            "unpark"
                        };
                        write!(
                            out,
                            r#"{{"name":"{name}","cat":"scheduler","ph":"i","s":"t","pid":1,"tid":{tid},"ts":{},"args":{{"slept_us":{},"in_reactor":{in_driver}}}}}"#,
                            micros(at),
                            micros(slept)
                        )?;
                    }
                    Event::ReactorTurn { at, took } => {
                        sep(&mut out)?;
                        write!(
                            out,
                            r#"{{"name":"reactor turn","cat":"scheduler","ph":"i","s":"t","pid":1,"tid":{tid},"ts":{},"args":{{"took_us":{}}}}}"#,
                            micros(at),
                            micros(took)
                        )?;
                    }
                    Event::Spawn { .. } | Event::Wake { .. } => {}
                }
            }
        }
        out.write_all(b"],\"displayTimeUnit\":\"ns\"}\n")?;
        out.flush()
    }

    /// Spawn sites by task, and each task's wakes and spawn in time order.
    #[allow(clippy::type_complexity)]
    fn index(
        &self,
    ) -> (
        HashMap<u64, &'static Location<'static>>,
        HashMap<u64, Vec<Cause>>,
    ) {
        let mut sites = HashMap::new();
        let mut causes: HashMap<u64, Vec<Cause>> = HashMap::new();
        for event in self.tracks.iter().flat_map(|track| &track.events) {
            match *event {
                Event::Spawn { task, at, site, by } => {
                    sites.insert(task, site);
                    causes.entry(task).or_default().push(Cause {
                        at,
                        by,
                        spawn: true,
                    });
                }
                Event::Wake { task, at, by } => causes.entry(task).or_default().push(Cause {
                    at,
                    by,
                    spawn: false,
                }),
                _ => {}
            }
        }
        for list in causes.values_mut() {
            list.sort_by_key(|cause| cause.at);
        }
        (sites, causes)
    }
}

/// The last wake or spawn of `task` at or before `start`.
fn cause_before(causes: &HashMap<u64, Vec<Cause>>, task: u64, start: u64) -> Option<Cause> {
    let list = causes.get(&task)?;
    let after = list.partition_point(|cause| cause.at <= start);
    after.checked_sub(1).map(|index| list[index])
}

fn describe(source: Source) -> String {
    match source {
        Source::Task(id) => format!("task {id}"),
        Source::Driver => "driver".to_owned(),
        Source::RuntimeThread => "runtime thread".to_owned(),
        Source::Remote => "remote".to_owned(),
    }
}

/// Nanoseconds as microseconds with three decimals, as Chrome's `ts` expects.
fn micros(nanos: u64) -> String {
    format!("{}.{:03}", nanos / 1000, nanos % 1000)
}

/// `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn json_strings_escape_quotes_backslashes_and_controls() {
        assert_eq!(json_string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(json_string("x\ny\u{1}"), "\"x\\ny\\u0001\"");
    }

    #[test]
    fn micros_keep_nanosecond_precision() {
        assert_eq!(micros(1_234_567), "1234.567");
        assert_eq!(micros(5), "0.005");
    }

    #[test]
    fn a_poll_is_attributed_to_the_last_wake_before_it() {
        let mut causes = HashMap::new();
        causes.insert(
            7,
            vec![
                Cause {
                    at: 10,
                    by: Source::Remote,
                    spawn: true,
                },
                Cause {
                    at: 20,
                    by: Source::Task(3),
                    spawn: false,
                },
            ],
        );
        assert!(cause_before(&causes, 7, 5).is_none());
        assert!(cause_before(&causes, 7, 15).unwrap().spawn);
        assert_eq!(cause_before(&causes, 7, 20).unwrap().by, Source::Task(3));
        assert!(cause_before(&causes, 8, 20).is_none());
    }
}
