#!/usr/bin/env python3
"""Python's process pools on the workloads of benches/process_pool.rs.

Run: python3 benches/python/process_pool.py [quick] [--primes-below N]
Prints one line per workload: `<name> <median> <unit>`, as the Rust bench does.
- submit_wait_ppe:  ProcessPoolExecutor(2): submit(square, x).result(), one at a time.
- submit_wait_pool: Pool(2): apply_async(square, (x,)).get(), one at a time.
- map_100k:         Pool(2).map(square, range(100000)) with the default chunksize.
- startup:          ProcessPoolExecutor(2) (fork start method) to its first result.
- primes_1/2:       Pool(1)/Pool(2).map(count_primes, 16 chunks, chunksize=1);
                    speedup is their ratio.
"""

import multiprocessing
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor

ROUND_TRIPS = 2_000
MAP_ITEMS = 100_000
PRIME_CHUNKS = 16


def square(x):
    return x * x


def count_primes(bounds):
    """Primes in [start, end), by trial division with odd divisors (same as the Rust bench)."""
    start, end = bounds
    count = 0
    for n in range(max(start, 2), end):
        if n < 4:
            count += 1
            continue
        if n % 2 == 0:
            continue
        divisor = 3
        prime = True
        while divisor * divisor <= n:
            if n % divisor == 0:
                prime = False
                break
            divisor += 2
        count += prime
    return count


def report(name, value, unit):
    print(f"{name:<16} {value:>10.3f} {unit}", flush=True)


def main():
    quick = "quick" in sys.argv
    runs = 3 if quick else 7
    primes_below = 2_000_000
    if "--primes-below" in sys.argv:
        primes_below = int(sys.argv[sys.argv.index("--primes-below") + 1])
    ctx = multiprocessing.get_context("fork")

    with ProcessPoolExecutor(2, mp_context=ctx) as executor:
        for x in range(200):
            executor.submit(square, x).result()
        samples = []
        for _ in range(runs):
            start = time.perf_counter()
            for x in range(ROUND_TRIPS):
                assert executor.submit(square, x).result() == x * x
            samples.append((time.perf_counter() - start) / ROUND_TRIPS)
        report("submit_wait_ppe", statistics.median(samples) * 1e6, "us/job")

    with ctx.Pool(2) as pool:
        for x in range(200):
            pool.apply_async(square, (x,)).get()
        samples = []
        for _ in range(runs):
            start = time.perf_counter()
            for x in range(ROUND_TRIPS):
                assert pool.apply_async(square, (x,)).get() == x * x
            samples.append((time.perf_counter() - start) / ROUND_TRIPS)
        report("submit_wait_pool", statistics.median(samples) * 1e6, "us/job")

        samples = []
        for _ in range(runs):
            start = time.perf_counter()
            total = sum(pool.map(square, range(MAP_ITEMS)))
            samples.append((time.perf_counter() - start) / MAP_ITEMS)
            assert total == sum(x * x for x in range(MAP_ITEMS))
        report("map_100k", statistics.median(samples) * 1e9, "ns/item")

    samples = []
    for _ in range(runs * 3):
        start = time.perf_counter()
        with ProcessPoolExecutor(2, mp_context=ctx) as executor:
            executor.submit(square, 3).result()
            samples.append(time.perf_counter() - start)
    report("startup", statistics.median(samples) * 1e3, "ms")

    step = primes_below // PRIME_CHUNKS
    chunks = [(i * step, (i + 1) * step) for i in range(PRIME_CHUNKS)]
    medians = []
    for workers in (1, 2):
        with ctx.Pool(workers) as pool:
            samples = []
            for _ in range(min(runs, 3)):
                start = time.perf_counter()
                pool.map(count_primes, chunks, chunksize=1)
                samples.append(time.perf_counter() - start)
            medians.append(statistics.median(samples))
            report(f"primes_{workers}", medians[-1], f"s (below {primes_below})")
    report("speedup", medians[0] / medians[1], "x (2 workers over 1)")


if __name__ == "__main__":
    main()
