#!/usr/bin/env bash
# Instructions per run of each multi-thread workload, spindle and tokio, counted by callgrind
# (deterministic enough to tune by, unlike wall-clock on a shared machine).
#
#   benches/callgrind.sh                       # every workload
#   benches/callgrind.sh yield_many ping_pong  # some
#   WORKERS=1 benches/callgrind.sh chained_spawn  # on a 1-worker runtime (default 2)
#
# Each workload runs under `valgrind --tool=callgrind` twice, with LOW and HIGH repetitions
# (after one warm-up run, see examples/multi_thread_profile.rs); the per-run cost is the
# difference divided by HIGH - LOW, which cancels the runtime's start-up and shutdown. The
# callgrind output files of the HIGH runs stay in the directory printed at the end, for
# `callgrind_annotate`. Valgrind runs one thread at a time, so steals and parks differ from a
# real run; `spawn_many_remote_busy` depends on timing and varies from run to run.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
export WORKERS="${WORKERS:-2}"
LOW="${LOW:-1}"
HIGH="${HIGH:-3}"
workloads=("$@")
if [ ${#workloads[@]} -eq 0 ]; then
    workloads=(spawn_many_local spawn_many_remote_idle spawn_many_remote_busy yield_many ping_pong chained_spawn)
fi
cargo build --quiet --release --example multi_thread_profile
binary="$CARGO_TARGET_DIR/release/examples/multi_thread_profile"
out="$(mktemp -d /tmp/spindle-callgrind.XXXXXX)"

# Total instructions of one callgrind run.
count() {
    local file="$1"
    shift
    valgrind --tool=callgrind --callgrind-out-file="$file" "$binary" "$@" >/dev/null 2>"$file.log"
    sed -n 's/^summary: *//p' "$file"
}

echo "workers: $WORKERS"
printf '%-24s %15s %15s %7s\n' workload spindle tokio ratio
for workload in "${workloads[@]}"; do
    per_run=()
    for runtime in spindle tokio; do
        low=$(count "$out/$runtime.$workload.low" "$runtime" "$workload" "$LOW")
        high=$(count "$out/$runtime.$workload.out" "$runtime" "$workload" "$HIGH")
        per_run+=($(((high - low) / (HIGH - LOW))))
    done
    printf '%-24s %15d %15d %7.2f\n' "$workload" "${per_run[0]}" "${per_run[1]}" \
        "$(echo "${per_run[0]} / ${per_run[1]}" | bc -l)"
done
echo "callgrind outputs: $out" >&2
