//! The article's `Pool(5).map(f, [1, 2, 3])`, with `f(x) = x * x`: prints `[1, 4, 9]`.
//!
//! ```text
//! cargo run --release --example pool_map
//! ```
//!
//! ```python
//! from multiprocessing import Pool
//!
//! def f(x):
//!     return x * x
//!
//! if __name__ == '__main__':
//!     p = Pool(5)
//!     print(p.map(f, [1, 2, 3]))
//! ```
//!
//! `run_worker_if_child` plays the part of `if __name__ == '__main__'`: the workers are this
//! same program started again, and in them it serves jobs instead of running the rest of
//! `main`.

use spindle::process::{Jobs, ProcessPool};

fn f(x: u64) -> u64 {
    x * x
}

fn jobs() -> Jobs {
    Jobs::new().register("f", f)
}

fn main() {
    spindle::process::run_worker_if_child(&jobs());

    let p = ProcessPool::builder(&jobs())
        .workers(5)
        .build()
        .expect("five worker processes start");
    let squares: Vec<u64> = p
        .map("f", [1u64, 2, 3], None)
        .collect::<Result<_, _>>()
        .expect("every f(x) succeeds");
    println!("{squares:?}");
    p.shutdown();
}
