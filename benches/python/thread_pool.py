#!/usr/bin/env python3
"""Python's ThreadPoolExecutor on the workloads of benches/thread_pool.rs.

Run: python3 benches/python/thread_pool.py
Prints one line per workload: `<name> <median seconds per item> <items per second>`.
- submit_wait: submit one no-op job and wait for its result (a round trip), per job.
- map_100k: 100,000 tiny jobs (x + 1) through Executor.map, per job.
Both use 4 worker threads, as the Rust benches do.
"""

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

WORKERS = 4
ROUND_TRIPS = 20_000
MAP_JOBS = 100_000
RUNS = 5


def noop():
    return 1


def plus_one(x):
    return x + 1


def per_item(run, items):
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) / items)
    return statistics.median(samples)


def main():
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        pool.submit(noop).result()  # start a thread before timing

        def submit_wait():
            for _ in range(ROUND_TRIPS):
                pool.submit(noop).result()

        def map_100k():
            total = sum(pool.map(plus_one, range(MAP_JOBS)))
            assert total == MAP_JOBS * (MAP_JOBS + 1) // 2

        for name, run, items in (
            ("submit_wait", submit_wait, ROUND_TRIPS),
            ("map_100k", map_100k, MAP_JOBS),
        ):
            seconds = per_item(run, items)
            print(f"{name} {seconds:.9f} {1 / seconds:.0f}", flush=True)


if __name__ == "__main__":
    main()
