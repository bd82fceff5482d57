#!/usr/bin/env bash
# AddressSanitizer with leak detection over every test binary of the workspace (lib unit tests,
# tests/* and cli/tests/*, the `serde` and `futures-io` features' included),
# loom models and doc tests excepted: stable toolchain with RUSTC_BOOTSTRAP=1, as DESIGN.md
# ("Reliability") explains. Zero reports: ASan and LSan make a test binary exit non-zero.
# The stress target runs at its CI size (SPINDLE_STRESS unset). Its own target dir keeps the
# instrumented build apart from the normal one.
set -euo pipefail
cd "$(dirname "$0")/.."

export RUSTC_BOOTSTRAP=1
export RUSTFLAGS="-Zsanitizer=address"
# detect_leaks: LeakSanitizer at exit. abort_on_error: a report fails the binary even if a
# test harness catches the unwind. Worker processes (the process pool's demo worker) are
# built for the same target, so they run instrumented too and report into the same stderr.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/asan}"
unset SPINDLE_STRESS

# Every package of the workspace (the cli's tests/cli.rs included), with the `serde` and
# `futures-io` features, so the serde decoder, its pool tests and the futures-io impls run
# instrumented too (one build: the features only add code).
cargo test --target x86_64-unknown-linux-gnu --workspace --features spindle/serde,spindle/futures-io --tests --lib "$@"
