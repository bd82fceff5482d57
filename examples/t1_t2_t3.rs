//! The article's T1/T2/T3 story: three tasks wait for data that arrives T3 first, then T2,
//! then T1. A naive scheduler polls every waiting task whenever anything happens; spindle
//! polls only the task whose waker fired. Try changing `ARRIVAL`, adding tasks, or removing
//! the pause: the naive scheduler's wasted polls change, spindle's stay 0.
//!
//! Run with `cargo run --release --example t1_t2_t3`.

use std::future::{poll_fn, Future};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Poll, Waker};
use std::thread;
use std::time::Duration;

use spindle::executor::naive::NaiveExecutor;
use spindle::runtime::{Builder, Metrics};

const TASKS: [&str; 3] = ["T1", "T2", "T3"];
/// The order the data arrives in (indices into `TASKS`).
const ARRIVAL: [usize; 3] = [2, 1, 0];
const PAUSE: Duration = Duration::from_millis(150);

/// Data that arrives from another thread: a flag, and the waker of whoever waits for it.
#[derive(Clone, Default)]
struct Event(Arc<Mutex<(bool, Option<Waker>)>>);

impl Event {
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

/// A task: wait for `event`, printing what each poll finds. Tells the io thread when it has
/// registered its waker (`None`) and when it is done (`Some(index)`), so the story does not
/// depend on timing.
fn task(index: usize, event: Event, done: mpsc::Sender<Option<usize>>) -> impl Future<Output = ()> {
    let mut polls = 0;
    poll_fn(move |cx| {
        polls += 1;
        let mut state = event.0.lock().unwrap();
        if state.0 {
            println!("  poll {}: data ready", TASKS[index]);
            done.send(Some(index)).unwrap();
            return Poll::Ready(());
        }
        state.1 = Some(cx.waker().clone());
        if polls == 1 {
            println!("  poll {}: first poll, waiting", TASKS[index]);
            done.send(None).unwrap();
        } else {
            println!("  poll {}: still waiting (wasted)", TASKS[index]);
        }
        Poll::Pending
    })
}

/// The io thread: once all tasks wait, deliver the data in `ARRIVAL` order, one at a time.
fn deliver(events: Vec<Event>, reports: mpsc::Receiver<Option<usize>>) {
    for _ in 0..TASKS.len() {
        assert_eq!(reports.recv().unwrap(), None);
    }
    for index in ARRIVAL {
        thread::sleep(PAUSE);
        println!("  (data for {} arrives)", TASKS[index]);
        events[index].fire();
        while reports.recv().unwrap() != Some(index) {}
    }
}

/// Builds the tasks, starts the io thread, and lets `run` drive the tasks.
fn scenario(
    run: impl FnOnce(Vec<Box<dyn Future<Output = ()> + Send + Unpin>>) -> Metrics,
) -> Metrics {
    let (done, reports) = mpsc::channel();
    let events: Vec<Event> = TASKS.iter().map(|_| Event::default()).collect();
    let tasks = (0..TASKS.len())
        .map(|i| Box::new(Box::pin(task(i, events[i].clone(), done.clone()))) as _)
        .collect();
    let io = thread::spawn(move || deliver(events, reports));
    let metrics = run(tasks);
    io.join().unwrap();
    metrics
}

fn main() {
    println!("naive scheduler:");
    let naive = scenario(|tasks| {
        let mut executor = NaiveExecutor::new();
        for task in tasks {
            executor.spawn(task);
        }
        executor.run();
        executor.metrics()
    });

    println!("spindle current-thread runtime:");
    let spindle = scenario(|tasks| {
        let runtime = Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            let handles: Vec<_> = tasks.into_iter().map(spindle::spawn).collect();
            for handle in handles {
                handle.await.unwrap();
            }
        });
        runtime.metrics()
    });

    for (name, metrics) in [("naive", naive), ("spindle", spindle)] {
        println!(
            "{name:>8}: {} polls, {} wasted",
            metrics.polls, metrics.wasted_polls
        );
    }
}
