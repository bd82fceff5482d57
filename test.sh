#!/usr/bin/env bash
# The test command from README.md: unit, integration, example and doc tests, then the loom
# models. Benchmarks are compiled (by clippy in CI) but not run here.
set -euo pipefail
cd "$(dirname "$0")"
# Every package of the workspace: the library `spindle`, the binary `spindle-cli` (cli/, with
# its tests/cli.rs) and the teaching examples `spindle-examples` (examples/).
# `--examples` also runs the tests inside examples (lines_over_tcp and request_loop call
# their `main`).
cargo test --workspace --lib --bins --tests --examples
cargo test --workspace --doc
# The features (all off by default). `futures-io`: the futures-io traits driving sockets, and
# spindle's io traits next to futures-util's.
cargo test -p spindle --features futures-io --test net futures_io
cargo test -p spindle --features futures-io --test futures_util
# `serde`: its unit tests, the format tests, a pool running serde jobs, and the doc tests that
# need it (`Serde`'s and the README's).
cargo test -p spindle --features serde --lib serde_codec
cargo test -p spindle --features serde --test serde_format --test process_serde
cargo test -p spindle --features serde --doc -- Serde ReadmeDoctests
# `hyper`: the compat unit tests, hyper serving over spindle (tests/hyper.rs) and the
# hello_http example's self-test.
cargo test -p spindle --features hyper --lib compat::hyper
cargo test -p spindle --features hyper --test hyper --example hello_http
# Loom: every model explores all interleavings up to LOOM_MAX_PREEMPTIONS preemptions (the
# multi-worker models set a lower bound of their own). Its own target dir keeps `--cfg loom`
# from rebuilding the normal build.
LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}" RUSTFLAGS="--cfg loom" \
  CARGO_TARGET_DIR=target/loom cargo test --release -p spindle --lib loom_ -- --test-threads 2
