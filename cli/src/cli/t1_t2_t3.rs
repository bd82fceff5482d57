//! Tour step: the article's T1/T2/T3 story, live.
//!
//! Three tasks each wait for their data. The data arrives from another OS thread (think: a
//! network card) in the order T3, T2, T1. The same three futures run first under
//! [`NaiveExecutor`], which polls every pending task whenever anything wakes, then under
//! spindle's current-thread runtime, which polls a task only when its own waker fired. Each
//! task prints every poll it receives; at the end both schedulers' own counters are shown.
//!
//! Then the same story one level down, inside a single task: the three futures become three
//! branches of one `spindle::join!`, which gives each branch its own waker, against a
//! combinator that polls every branch on any wake (the shape of tokio's and futures-util's
//! `join!`, which the binary cannot depend on; `tests/differential/combinators.rs` and
//! `benches/combinators.rs` measure tokio's own). The branches are wrapped in
//! `spindle::macros::audit_polls`, so `Metrics::wasted_branch_polls` counts the waste.

use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use spindle::executor::naive::NaiveExecutor;
use spindle::runtime::{Builder, Metrics};

/// The tasks, in spawn order.
const TASKS: [&str; 3] = ["T1", "T2", "T3"];
/// The order their data arrives in (indices into `TASKS`), as in the article.
const ARRIVAL: [usize; 3] = [2, 1, 0];
/// A pause before each arrival so a reader can follow along. The order of events does not
/// rest on it: each arrival waits for the previous task to finish (see [`deliver_data`]).
const GAP: Duration = Duration::from_millis(150);

/// Something a task waits for: a flag and the waker to call when it is set.
#[derive(Clone, Default)]
struct Event(Arc<Mutex<(bool, Option<Waker>)>>);

impl Event {
    /// Sets the flag and wakes whoever waits; callable from any thread.
    fn fire(&self) {
        let waker = {
            let mut state = self.0.lock().unwrap();
            state.0 = true;
            state.1.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// What the tasks tell the thread that delivers the data.
enum Progress {
    /// The task was polled for the first time and registered its waker.
    Registered,
    /// The task got its data and completed.
    Done(usize),
}

/// A task's body: wait for `event`, saying what every poll found.
struct WaitForData {
    task: usize,
    event: Event,
    polled_before: bool,
    progress: Sender<Progress>,
    clock: Instant,
}

impl Future for WaitForData {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let name = TASKS[this.task];
        let mut state = this.event.0.lock().unwrap();
        if state.0 {
            drop(state);
            say(this.clock, &format!("poll {name}: data ready"));
            // The receiver may be gone if the run is being torn down; nothing to report then.
            let _ = this.progress.send(Progress::Done(this.task));
            return Poll::Ready(());
        }
        state.1 = Some(cx.waker().clone());
        drop(state);
        if this.polled_before {
            // Nothing fired for this task since its last poll: this poll was for nothing.
            say(this.clock, &format!("poll {name}: still waiting (wasted)"));
        } else {
            this.polled_before = true;
            say(
                this.clock,
                &format!("poll {name}: first poll, waiting for its data"),
            );
            let _ = this.progress.send(Progress::Registered);
        }
        Poll::Pending
    }
}

fn say(clock: Instant, line: &str) {
    println!("   {:>5} ms  {line}", clock.elapsed().as_millis());
}

/// Three tasks waiting on fresh events, and the receiving end of their progress reports.
fn scenario(clock: Instant) -> (Vec<WaitForData>, Vec<Event>, Receiver<Progress>) {
    let (progress, reports) = mpsc::channel();
    let events: Vec<Event> = TASKS.iter().map(|_| Event::default()).collect();
    let tasks = events
        .iter()
        .enumerate()
        .map(|(task, event)| WaitForData {
            task,
            event: event.clone(),
            polled_before: false,
            progress: progress.clone(),
            clock,
        })
        .collect();
    (tasks, events, reports)
}

/// Runs on the "io" thread: once every task is waiting, delivers the data in `ARRIVAL`
/// order, each arrival after the previous task completed, so both schedulers see the same
/// sequence of events however the threads are scheduled.
fn deliver_data(events: Vec<Event>, reports: Receiver<Progress>, clock: Instant) {
    let mut registered = 0;
    while registered < TASKS.len() {
        match reports.recv() {
            Ok(Progress::Registered) => registered += 1,
            Ok(Progress::Done(_)) => {}
            Err(_) => return, // the executor stopped early
        }
    }
    for task in ARRIVAL {
        thread::sleep(GAP);
        say(
            clock,
            &format!("  (io thread: data for {} arrives)", TASKS[task]),
        );
        events[task].fire();
        loop {
            match reports.recv() {
                Ok(Progress::Done(done)) if done == task => break,
                Ok(_) => {}
                Err(_) => return,
            }
        }
    }
}

fn spawn_io_thread(
    events: Vec<Event>,
    reports: Receiver<Progress>,
    clock: Instant,
) -> Result<thread::JoinHandle<()>, String> {
    thread::Builder::new()
        .name("io".into())
        .spawn(move || deliver_data(events, reports, clock))
        .map_err(|error| format!("cannot start the io thread: {error}"))
}

fn run_naive() -> Result<Metrics, String> {
    let clock = Instant::now();
    let (tasks, events, reports) = scenario(clock);
    let mut executor = NaiveExecutor::new();
    for task in tasks {
        executor.spawn(task);
    }
    let io = spawn_io_thread(events, reports, clock)?;
    executor.run();
    io.join()
        .map_err(|_| "the io thread panicked".to_string())?;
    Ok(executor.metrics())
}

fn run_spindle() -> Result<Metrics, String> {
    let clock = Instant::now();
    let (tasks, events, reports) = scenario(clock);
    let runtime = Builder::new_current_thread()
        .build()
        .map_err(|error| format!("cannot build the runtime: {error}"))?;
    let io = spawn_io_thread(events, reports, clock)?;
    runtime.block_on(async {
        let handles: Vec<_> = tasks.into_iter().map(spindle::spawn).collect();
        for handle in handles {
            handle
                .await
                .map_err(|error| format!("a task failed: {error}"))?;
        }
        Ok::<(), String>(())
    })?;
    io.join()
        .map_err(|_| "the io thread panicked".to_string())?;
    Ok(runtime.metrics())
}

/// Three branches in one task, polled all at once on any wake: what tokio's and
/// futures-util's `join!` do.
struct PollEveryBranch {
    branches: Vec<Option<Pin<Box<dyn Future<Output = ()> + Send>>>>,
}

impl Future for PollEveryBranch {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        for branch in self.branches.iter_mut() {
            if let Some(future) = branch {
                if future.as_mut().poll(cx).is_ready() {
                    *branch = None;
                }
            }
        }
        if self.branches.iter().all(Option::is_none) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// The three futures as branches of one task: `spindle::join!`, or [`PollEveryBranch`].
fn run_join(spindle_join: bool) -> Result<Metrics, String> {
    let clock = Instant::now();
    let (tasks, events, reports) = scenario(clock);
    let runtime = Builder::new_current_thread()
        .build()
        .map_err(|error| format!("cannot build the runtime: {error}"))?;
    let io = spawn_io_thread(events, reports, clock)?;
    let mut branches = tasks.into_iter().map(spindle::macros::audit_polls);
    let (t1, t2, t3) = match (branches.next(), branches.next(), branches.next()) {
        (Some(t1), Some(t2), Some(t3)) => (t1, t2, t3),
        _ => return Err("the scenario has three tasks".to_string()),
    };
    runtime.block_on(async move {
        let joiner = spindle::spawn(async move {
            if spindle_join {
                spindle::join!(t1, t2, t3);
            } else {
                PollEveryBranch {
                    branches: vec![Some(Box::pin(t1)), Some(Box::pin(t2)), Some(Box::pin(t3))],
                }
                .await;
            }
        });
        joiner
            .await
            .map_err(|error| format!("the joining task failed: {error}"))
    })?;
    io.join()
        .map_err(|_| "the io thread panicked".to_string())?;
    Ok(runtime.metrics())
}

/// The step: both runs, then both schedulers' counters.
pub fn run() -> Result<(), String> {
    println!("   Naive scheduler (polls every pending task whenever anything wakes):");
    let naive = run_naive()?;
    println!();
    println!("   spindle current-thread runtime (polls only the task whose waker fired):");
    let spindle = run_spindle()?;
    println!();
    println!(
        "   {:<26} {:>6} {:>13}",
        "scheduler", "polls", "wasted_polls"
    );
    for (name, metrics) in [("naive", naive), ("spindle current-thread", spindle)] {
        println!(
            "   {:<26} {:>6} {:>13}",
            name, metrics.polls, metrics.wasted_polls
        );
    }
    println!();
    println!(
        "   Same tasks, same events: the naive scheduler polled {} times, {} of them for \
         nothing; spindle polled {} times, {} for nothing.",
        naive.polls, naive.wasted_polls, spindle.polls, spindle.wasted_polls
    );
    println!();
    println!("   One level down: the three as branches of one task.");
    println!(
        "   A combinator that polls every branch on any wake (tokio's and futures-util's join!):"
    );
    let every = run_join(false)?;
    println!();
    println!("   spindle::join! (one waker per branch):");
    let join = run_join(true)?;
    println!();
    println!(
        "   {:<26} {:>11} {:>20}",
        "combinator", "task polls", "wasted_branch_polls"
    );
    for (name, metrics) in [("poll every branch", every), ("spindle::join!", join)] {
        println!(
            "   {:<26} {:>11} {:>20}",
            name, metrics.polls, metrics.wasted_branch_polls
        );
    }
    println!();
    println!(
        "   The task itself was never polled for nothing (wasted_polls {} and {}); inside it, \
         the poll-everything combinator polled a waiting branch {} times for nothing, \
         spindle's join! {} times.",
        every.wasted_polls, join.wasted_polls, every.wasted_branch_polls, join.wasted_branch_polls
    );
    Ok(())
}
