#!/usr/bin/env bash
# Runs every spindle-vs-peer benchmark with short settings and prints ONE markdown table:
# workload | spindle median | peer median | ratio (spindle / peer; below 1 means spindle is
# faster, except for rows marked "higher is better").
#
#   benches/report.sh                # all suites
#   WARMUP=1 MEASURE=3 benches/report.sh
#   CARGO_FLAGS="--no-default-features --features futures-io" benches/report.sh
#   WORKERS=1,2,4,8,16 benches/report.sh   # multi_thread worker counts (default 1,2)
#
# Every number comes from a run made by this script: criterion's
# `<target>/criterion/<group>/<function>/new/{benchmark,estimates}.json` (median point
# estimate; only results written during this run are read), the lines printed by the
# non-criterion benches (multi_thread's lifo_stall, alloc_per_task, process_pool) and by the
# Python scripts. The raw logs stay in the directory printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
export WARMUP="${WARMUP:-1}"
export MEASURE="${MEASURE:-3}"
read -r -a cargo_flags <<<"${CARGO_FLAGS:-}"
logs="$(mktemp -d /tmp/spindle-bench-report.XXXXXX)"
touch "$logs/started"

criterion_args=(--warm-up-time "$WARMUP" --measurement-time "$MEASURE")
for suite in current_thread multi_thread reactor thread_pool; do
    echo "running $suite ..." >&2
    cargo bench "${cargo_flags[@]}" --bench "$suite" -- "${criterion_args[@]}" \
        >"$logs/$suite.log" 2>&1
done
echo "running process_pool, alloc_per_task, Python ..." >&2
cargo bench "${cargo_flags[@]}" --bench process_pool -- quick >"$logs/process_pool.log" 2>&1
cargo bench "${cargo_flags[@]}" --bench alloc_per_task >"$logs/alloc_per_task.log" 2>&1
python3 benches/python/thread_pool.py >"$logs/py_thread_pool.log" 2>&1
python3 benches/python/process_pool.py quick >"$logs/py_process_pool.log" 2>&1

python3 - "$CARGO_TARGET_DIR/criterion" "$logs" <<'PY'
import glob, json, os, re, subprocess, sys, datetime

criterion_dir, logs = sys.argv[1], sys.argv[2]
started = os.path.getmtime(os.path.join(logs, "started"))
suites = ["current_thread", "multi_thread", "reactor", "thread_pool"]

def fmt_ns(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"

def read_log(name):
    with open(os.path.join(logs, name)) as f:
        return f.read()

# Which suite printed which benchmark id.
suite_of = {}
for suite in suites:
    for line in read_log(f"{suite}.log").splitlines():
        m = re.match(r"Benchmarking (\S+?)(: .*)?$", line)
        if m:
            suite_of.setdefault(m.group(1), suite)

# Criterion medians (ns per iteration, and per element when a throughput is set).
results = {}
for path in glob.glob(os.path.join(criterion_dir, "**", "new", "estimates.json"), recursive=True):
    if os.path.getmtime(path) < started:
        continue
    with open(os.path.join(os.path.dirname(path), "benchmark.json")) as f:
        bench = json.load(f)
    with open(path) as f:
        median = json.load(f)["median"]["point_estimate"]
    elements = (bench.get("throughput") or {}).get("Elements")
    results[bench["full_id"]] = (median, elements)

rows = []  # (suite order, workload, spindle, peer, ratio)
suites.append("process_pool")

def add(suite, workload, spindle, peer, ratio):
    order = suites.index(suite) if suite in suites else len(suites)
    rows.append((order, workload, spindle, peer, f"{ratio:.2f}" if ratio is not None else "n/a"))

paired = []
for full_id in results:
    parts = full_id.split("/")
    peer_id = "/".join("tokio" if p == "spindle" else p for p in parts)
    if "spindle" not in parts or peer_id not in results:
        continue
    rest = [p for p in parts if p != "spindle"]
    suite = suite_of.get(full_id, "?")
    # multi_thread ids end in the worker count (`multi_thread/<workload>/spindle/<workers>`);
    # older runs' ids (`multi_thread/<workload>/spindle`) have none.
    workers = None
    if suite == "multi_thread" and parts[-1].isdigit():
        workers = int(rest.pop())
    workload = "/".join(rest)
    if not workload.startswith(suite + "/"):
        workload = f"{suite}/{workload}"
    sort_key = (workload, workers or 0)
    if workers is not None:
        workload += f" ({workers} worker{'' if workers == 1 else 's'})"
    paired.append((sort_key, suite, workload, results[full_id][0], results[peer_id][0]))
for _, suite, workload, spindle, peer in sorted(paired):
    add(suite, workload, fmt_ns(spindle), fmt_ns(peer) + " (tokio)", spindle / peer)

# multi_thread's LIFO stall: send-to-run latency while the sender computes.
stall = dict(
    (m.group(1), (float(m.group(2)), float(m.group(3)), m.group(4), m.group(5)))
    for m in re.finditer(r"lifo_stall (\w+) median_us (\S+) max_us (\S+) stall_us (\d+) "
                         r"ran_during_stall_pct (\d+)", read_log("multi_thread.log"))
)
if "spindle" in stall and "tokio" in stall:
    s, t = stall["spindle"], stall["tokio"]
    add("multi_thread", f"multi_thread/lifo_stall (latency, sender busy {int(s[2]) // 1000} ms; "
        "% of rounds the receiver ran during the stall)",
        f"{fmt_ns(s[0] * 1e3)} ({s[3]}%)", f"{fmt_ns(t[0] * 1e3)} ({t[3]}%) (tokio)", s[0] / t[0])

# Heap bytes per idle task.
alloc = dict(
    (m.group(1), (float(m.group(2)), float(m.group(3))))
    for m in re.finditer(r"alloc_per_task (\w+) bytes_per_task (\S+) allocs_per_task (\S+)",
                         read_log("alloc_per_task.log"))
)
if "spindle" in alloc and "tokio" in alloc:
    s, t = alloc["spindle"], alloc["tokio"]
    add("multi_thread", "multi_thread/alloc_per_idle_task (bytes)", f"{s[0]:.1f} B ({s[1]:.2f} allocs)",
        f"{t[0]:.1f} B ({t[1]:.2f} allocs) (tokio)", s[0] / t[0])

# Thread pool against Python's ThreadPoolExecutor: seconds per item.
py_threads = {}
for line in read_log("py_thread_pool.log").splitlines():
    fields = line.split()
    if len(fields) == 3:
        py_threads[fields[0]] = float(fields[1]) * 1e9
for name in ("submit_wait", "map_100k"):
    rust = results.get(f"{name}/spindle")
    if rust and name in py_threads:
        per_item = rust[0] / (rust[1] or 1)
        add("thread_pool", f"thread_pool/{name} vs Python (per item)", fmt_ns(per_item),
            fmt_ns(py_threads[name]) + " (Python)", per_item / py_threads[name])

# Process pool against Python's pools: `<name> <value> <unit>` lines from both.
def value_lines(text):
    out = {}
    for line in text.splitlines():
        m = re.match(r"(\w+)\s+([\d.]+)\s+(.*)$", line.strip())
        if m:
            out[m.group(1)] = (float(m.group(2)), m.group(3))
    return out

rust_pp, py_pp = value_lines(read_log("process_pool.log")), value_lines(read_log("py_process_pool.log"))
pairs = [("submit_wait", "submit_wait_pool"), ("submit_wait", "submit_wait_ppe"),
         ("map_100k", "map_100k"), ("startup", "startup"), ("primes_1", "primes_1"),
         ("primes_2", "primes_2"), ("speedup", "speedup")]
for rust_name, py_name in pairs:
    if rust_name in rust_pp and py_name in py_pp:
        (r, unit), (p, _) = rust_pp[rust_name], py_pp[py_name]
        label = f"process_pool/{rust_name}" + (f" (vs {py_name})" if py_name != rust_name else "")
        if rust_name == "speedup":
            label += " (higher is better)"
        add("process_pool", label, f"{r:.3f} {unit}", f"{p:.3f} {unit} (Python)", r / p if p else None)

cpu = "unknown"
with open("/proc/cpuinfo") as f:
    for line in f:
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
with open("/proc/loadavg") as f:
    load = " ".join(f.read().split()[:3])
print(f"- date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}")
print(f"- machine: {nproc} CPUs (nproc), {cpu}; load average at the end: {load}")
print(f"- criterion: --warm-up-time {os.environ.get('WARMUP', '1')} "
      f"--measurement-time {os.environ.get('MEASURE', '3')}; medians; ratio = spindle / peer")
print()
print("| workload | spindle median | peer median | ratio |")
print("|---|---|---|---|")
for row in sorted(rows, key=lambda r: r[0]):
    print("| " + " | ".join(row[1:]) + " |")
print()
print("Printed by the reactor bench before criterion ran:")
print()
for line in read_log("reactor.log").splitlines():
    if line.startswith(("idle_cpu", "timer_lateness", "idle_wakeup:")):
        print(f"- {line}")
print()
print(f"raw logs: {logs}")
PY
