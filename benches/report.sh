#!/usr/bin/env bash
# Runs every spindle-vs-peer benchmark with short settings and prints ONE markdown table:
# workload | spindle median | peer median | ratio (spindle / peer; below 1 means spindle is
# faster, except for rows marked "higher is better").
#
#   benches/report.sh                # all suites
#   HYPER=0 benches/report.sh        # without the hyper/wrk rows (benches/hyper.sh)
#   HYPER_ONLY=1 benches/report.sh   # only the hyper/wrk rows
#   WARMUP=1 MEASURE=3 benches/report.sh
#   CARGO_FLAGS="--no-default-features --features futures-io" benches/report.sh
#   WORKERS=1,2,4,8,16 benches/report.sh   # multi_thread worker counts (default 1,2)
#
# Every number comes from a run made by this script: criterion's
# `<target>/criterion/<group>/<function>/new/{benchmark,estimates}.json` (median point
# estimate; only results written during this run are read), the lines printed by the
# non-criterion benches (multi_thread's lifo_stall, alloc_per_task, process_pool) and by the
# Python scripts, and the hyper_summary/hyper_syscalls lines of benches/hyper.sh (hyper under
# wrk; its own DUR, ROUNDS, WORKERS settings apply). The raw logs stay in the directory printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
export WARMUP="${WARMUP:-1}"
export MEASURE="${MEASURE:-3}"
read -r -a cargo_flags <<<"${CARGO_FLAGS:-}"
logs="$(mktemp -d /tmp/spindle-bench-report.XXXXXX)"
touch "$logs/started"
for log in current_thread multi_thread reactor thread_pool process_pool alloc_per_task \
    py_thread_pool py_process_pool hyper; do
    touch "$logs/$log.log"
done

criterion_args=(--warm-up-time "$WARMUP" --measurement-time "$MEASURE")
[[ "${HYPER_ONLY:-0}" == 1 ]] && criterion_suites=() ||
    criterion_suites=(current_thread multi_thread reactor thread_pool)
for suite in "${criterion_suites[@]}"; do
    echo "running $suite ..." >&2
    cargo bench "${cargo_flags[@]}" --bench "$suite" -- "${criterion_args[@]}" \
        >"$logs/$suite.log" 2>&1
done
if [[ "${HYPER_ONLY:-0}" != 1 ]]; then
echo "running process_pool, alloc_per_task, Python ..." >&2
cargo bench "${cargo_flags[@]}" --bench process_pool -- quick >"$logs/process_pool.log" 2>&1
cargo bench "${cargo_flags[@]}" --bench alloc_per_task >"$logs/alloc_per_task.log" 2>&1
python3 benches/python/thread_pool.py >"$logs/py_thread_pool.log" 2>&1
python3 benches/python/process_pool.py quick >"$logs/py_process_pool.log" 2>&1
fi
if [[ "${HYPER:-1}" != 0 ]]; then
    echo "running hyper under wrk (benches/hyper.sh) ..." >&2
    # A failure here (no wrk, no network for apt-get) costs the hyper rows, not the report.
    benches/hyper.sh >"$logs/hyper.log" 2>&1 || echo "benches/hyper.sh failed: see $logs/hyper.log" >&2
fi

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

# hyper plaintext under wrk (benches/hyper.sh): medians of alternating rounds; the ratio is
# the median of the per-round spindle/tokio ratios.
hyper_loads = {"c64": "keep-alive, 64 connections", "c256": "keep-alive, 256 connections",
               "close64": "a new connection per request, 64 at a time"}
suites.append("hyper")
def fields(line):
    return dict(f.split("=", 1) for f in line.split()[1:])
for line in read_log("hyper.log").splitlines():
    if line.startswith("hyper_summary "):
        f = fields(line)
        where = f"hyper/{f['workers']} workers/{hyper_loads.get(f['load'], f['load'])}"
        load = f"load {f['load_avg'].replace('/', ' ')}"
        add("hyper", f"{where}: requests/s (higher is better; {load})", f"{float(f['spindle_rps']):.0f}",
            f"{float(f['tokio_rps']):.0f} (tokio)", float(f["rps_ratio"]))
        add("hyper", f"{where}: CPU per request", f"{f['spindle_cpu_us']} µs",
            f"{f['tokio_cpu_us']} µs (tokio)", float(f["cpu_ratio"]))
        add("hyper", f"{where}: p50 / p99 latency (ratio of p99)",
            f"{fmt_ns(float(f['spindle_p50_us']) * 1e3)} / {fmt_ns(float(f['spindle_p99_us']) * 1e3)}",
            f"{fmt_ns(float(f['tokio_p50_us']) * 1e3)} / {fmt_ns(float(f['tokio_p99_us']) * 1e3)} (tokio)",
            float(f["spindle_p99_us"]) / float(f["tokio_p99_us"]))
syscalls = {}
for line in read_log("hyper.log").splitlines():
    if line.startswith("hyper_syscalls "):
        f = fields(line)
        syscalls[(f["workers"], f["load"], f["runtime"])] = f
def per_request(f):
    return (f"{float(f['read']) + float(f['recvfrom']):.2f} read, "
            f"{float(f['write']) + float(f['writev']) + float(f['sendto']):.2f} write, "
            f"{f['futex']} futex, {f['epoll_wait']} epoll_wait")
for (workers, load, runtime), f in sorted(syscalls.items()):
    t = syscalls.get((workers, load, "tokio"))
    if runtime != "spindle" or t is None:
        continue
    add("hyper", f"hyper/{workers} workers/{hyper_loads.get(load, load)}: syscalls per request "
        f"({f['tool']}; ratio of all syscalls)", per_request(f), per_request(t) + " (tokio)",
        float(f["all"]) / float(t["all"]) if float(t["all"]) else None)

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
