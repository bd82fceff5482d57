//! A process pool whose workers run serde jobs (feature `serde`). This test binary is its own
//! worker program, as a user's program is: `main` calls `run_worker_if_child` first, so it
//! has its own `main` instead of the test harness (`harness = false` in Cargo.toml). Like
//! `tests/process_pool.rs`, it ends by checking that no child is left unreaped and that the
//! fd count is back where it started.
//!
//! `cargo test --features serde --test process_serde [-- FILTER]`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use spindle::process::{Jobs, ProcessError, ProcessPool, Serde};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Point {
    x: i32,
    y: i32,
}

impl Point {
    fn scaled(&self, factor: i32) -> Point {
        Point {
            x: self.x * factor,
            y: self.y * factor,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Shape {
    Empty,
    Circle(f64),
    Segment(Point, Point),
    Polygon { name: String, corners: Vec<Point> },
}

/// A shape's kind (a codec.rs integer) and its area (serde), if it has one.
fn area(shape: Shape) -> (u8, Serde<Option<f64>>) {
    let (kind, area) = match shape {
        Shape::Empty => (0, Some(0.0)),
        Shape::Circle(radius) => (1, Some(std::f64::consts::PI * radius * radius)),
        Shape::Segment(..) => (2, None),
        Shape::Polygon { corners, .. } => {
            // The shoelace formula.
            let twice: i64 = corners
                .iter()
                .zip(corners.iter().cycle().skip(1))
                .map(|(a, b)| i64::from(a.x) * i64::from(b.y) - i64::from(b.x) * i64::from(a.y))
                .sum();
            (3, Some(twice.abs() as f64 / 2.0))
        }
    };
    (kind, Serde(area))
}

fn jobs() -> Jobs {
    Jobs::new()
        .register("scale", |Serde(p): Serde<Point>| Serde(p.scaled(2)))
        .register("area", |Serde(shape): Serde<Shape>| area(shape))
        .register("positions", |Serde(words): Serde<Vec<String>>| {
            let mut positions = BTreeMap::<String, Vec<usize>>::new();
            for (index, word) in words.into_iter().enumerate() {
                positions.entry(word).or_default().push(index);
            }
            Serde(positions)
        })
        // `n` zero-sized elements: more than none cannot be encoded, so the job panics.
        .register("units", |n: u8| Serde(vec![(); usize::from(n)]))
        .register("pid", |_: u8| std::process::id())
}

fn pool(workers: usize) -> ProcessPool {
    ProcessPool::builder(&jobs())
        .workers(workers)
        .build()
        .expect("a pool of this test binary starts")
}

fn submit_wait_and_await() {
    let pool = pool(2);
    let job = pool.submit::<Serde<Point>, Serde<Point>>("scale", Serde(Point { x: 3, y: -4 }));
    assert_eq!(job.wait().unwrap().0, Point { x: 6, y: -8 });

    let words = ["a", "rose", "is", "a", "rose"].map(String::from).to_vec();
    let positions = spindle::block_on(
        pool.submit::<Serde<Vec<String>>, Serde<BTreeMap<String, Vec<usize>>>>(
            "positions",
            Serde(words),
        ),
    )
    .unwrap()
    .into_inner();
    let expected = BTreeMap::from([
        ("a".to_owned(), vec![0, 3]),
        ("is".to_owned(), vec![2]),
        ("rose".to_owned(), vec![1, 4]),
    ]);
    assert_eq!(positions, expected);
    pool.shutdown();
}

fn map_over_every_variant() {
    let pool = pool(2);
    let square = |side| {
        let corners = [(0, 0), (side, 0), (side, side), (0, side)];
        corners.map(|(x, y)| Point { x, y }).to_vec()
    };
    let shapes: Vec<Serde<Shape>> = (0..40)
        .map(|n| {
            Serde(match n % 4 {
                0 => Shape::Empty,
                1 => Shape::Circle(f64::from(n)),
                2 => Shape::Segment(Point { x: n, y: 0 }, Point { x: 0, y: n }),
                _ => Shape::Polygon {
                    name: format!("square {n}"),
                    corners: square(n),
                },
            })
        })
        .collect();
    let expected: Vec<(u8, Serde<Option<f64>>)> =
        shapes.iter().map(|shape| area(shape.0.clone())).collect();
    let results: Vec<(u8, Serde<Option<f64>>)> = pool
        .map::<Serde<Shape>, (u8, Serde<Option<f64>>), _>("area", shapes, 3)
        .map(Result::unwrap)
        .collect();
    assert_eq!(results, expected);
    assert_eq!(results[3], (3, Serde(Some(9.0))));
    pool.shutdown();
}

fn encode_failures_in_a_worker_fail_that_job_only() {
    let pool = pool(1);
    let pid = pool.submit::<u8, u32>("pid", 0).wait().unwrap();
    assert!(pool
        .submit::<u8, Serde<Vec<()>>>("units", 0)
        .wait()
        .unwrap()
        .0
        .is_empty());
    match pool.submit::<u8, Serde<Vec<()>>>("units", 2).wait() {
        Err(ProcessError::Panicked(message)) => {
            assert!(message.contains("encodes to no bytes"), "{message}");
        }
        other => panic!("expected a panicked job, got {other:?}"),
    }
    // The panic was caught in the job: the same worker serves the next one.
    assert_eq!(pool.submit::<u8, u32>("pid", 0).wait().unwrap(), pid);
    let job = pool.submit::<Serde<Point>, Serde<Point>>("scale", Serde(Point { x: 1, y: 1 }));
    assert_eq!(job.wait().unwrap().0, Point { x: 2, y: 2 });
    pool.shutdown();
}

fn mismatched_types_are_refused_in_the_parent() {
    let pool = pool(2);
    // Registered as Serde<Point> -> Serde<Point>; submitted as the same shape in codec.rs
    // types, which would encode the same bytes, but the pool checks the types.
    let err = pool
        .submit::<(i32, i32), (i32, i32)>("scale", (1, 2))
        .wait()
        .unwrap_err();
    assert!(matches!(err, ProcessError::TypeMismatch(_)), "{err:?}");
    pool.shutdown();
}

#[path = "common/children.rs"]
mod children;

use children::{assert_no_children, fd_count};

fn main() {
    // In a worker (this binary, started again by a pool) this serves `jobs()` and exits.
    spindle::process::run_worker_if_child(&jobs());

    let tests: [(&str, fn()); 4] = [
        ("submit_wait_and_await", submit_wait_and_await),
        ("map_over_every_variant", map_over_every_variant),
        (
            "encode_failures_in_a_worker_fail_that_job_only",
            encode_failures_in_a_worker_fail_that_job_only,
        ),
        (
            "mismatched_types_are_refused_in_the_parent",
            mismatched_types_are_refused_in_the_parent,
        ),
    ];
    // The harness's flags are ignored, except `--list`; any other argument is a filter.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|arg| arg == "--list") {
        for (name, _) in tests {
            println!("{name}: test");
        }
        return;
    }
    let filters: Vec<&String> = args.iter().filter(|arg| !arg.starts_with('-')).collect();
    let selected: Vec<_> = tests
        .into_iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())))
        .collect();

    println!("\nrunning {} tests", selected.len());
    for (name, test) in &selected {
        let fds = fd_count();
        test();
        assert_no_children();
        assert_eq!(fd_count(), fds, "{name} leaked fds");
        println!("test {name} ... ok");
    }
    println!("\ntest result: ok. {} passed\n", selected.len());
}
