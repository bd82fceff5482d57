#!/usr/bin/env bash
# The test command from README.md: the unit, integration and doc tests, then the loom models.
set -euo pipefail
cd "$(dirname "$0")"
cargo test --all-targets
cargo test --doc
# Loom: every model explores all interleavings up to LOOM_MAX_PREEMPTIONS preemptions. Its own
# target dir keeps `--cfg loom` from rebuilding the normal build.
LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}" RUSTFLAGS="--cfg loom" \
  CARGO_TARGET_DIR=target/loom cargo test --release --lib loom_
