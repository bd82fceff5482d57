#!/usr/bin/env bash
# A quick wall-clock comparison of the multi-thread workloads without criterion, for a
# machine whose load drifts: ROUNDS rounds, each running every workload on spindle and then
# on tokio (REPS timed runs each, examples/multi_thread_profile.rs), so both runtimes see
# the same load; prints, per workload, the median over rounds of each runtime's median run
# and their ratio (spindle / tokio, below 1 means spindle is faster).
#
#   benches/wallclock.sh                         # every workload
#   ROUNDS=9 REPS=50 benches/wallclock.sh yield_many
#   WORKERS=1 benches/wallclock.sh               # 1-worker runtimes (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
export WORKERS="${WORKERS:-2}"
ROUNDS="${ROUNDS:-5}"
REPS="${REPS:-30}"
workloads=("$@")
if [ ${#workloads[@]} -eq 0 ]; then
    workloads=(spawn_many_local spawn_many_remote_idle spawn_many_remote_busy yield_many ping_pong chained_spawn)
fi
cargo build --quiet --release --example multi_thread_profile
binary="$CARGO_TARGET_DIR/release/examples/multi_thread_profile"

for _ in $(seq "$ROUNDS"); do
    for workload in "${workloads[@]}"; do
        "$binary" spindle "$workload" "$REPS"
        "$binary" tokio "$workload" "$REPS"
    done
done | python3 -c '
import statistics, sys
runs = {}
for line in sys.stdin:
    runtime, workload, _, us = line.split()
    runs.setdefault(workload, {}).setdefault(runtime, []).append(float(us))
print("%-24s %11s %11s %6s" % ("workload", "spindle_us", "tokio_us", "ratio"))
for workload, by_runtime in runs.items():
    spindle = statistics.median(by_runtime["spindle"])
    tokio = statistics.median(by_runtime["tokio"])
    print("%-24s %11.1f %11.1f %6.2f" % (workload, spindle, tokio, spindle / tokio))
'
