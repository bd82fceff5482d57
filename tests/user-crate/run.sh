#!/usr/bin/env bash
# Builds and runs the user crate's loom models (issue 15): a crate outside spindle that
# model-checks its own async code with spindle under `--cfg loom`. Each buggy model must
# fail (asserted by the tests themselves: they run it in a child process and check loom's
# report) and each fixed one must pass; the two-worker lost update is found, and its fixed
# version passes, within a bound on the interleavings (tests/lost_update.rs). About a minute
# from a warm target dir on 2 cores, most of it the build.
#
#   tests/user-crate/run.sh                        # every model (seconds, after the build)
#   SPINDLE_SLOW_MODELS=1 tests/user-crate/run.sh  # also any #[ignore]d slow model (none today)
set -euo pipefail
cd "$(dirname "$0")"
export RUSTFLAGS="--cfg loom"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-../../target/user-crate-loom}"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}"
# Offline when the registry cache has everything (it does in CI); online otherwise.
offline=()
if cargo fetch --offline -q 2>/dev/null; then offline=(--offline); fi
ignored=()
if [[ -n "${SPINDLE_SLOW_MODELS:-}" ]]; then ignored=(--include-ignored); fi
timeout 1200 cargo test "${offline[@]}" --release -- --test-threads 1 --nocapture "${ignored[@]}"
