#!/usr/bin/env bash
# hyper 1.x plaintext on spindle and on tokio, the same service code (benches/hyper/server.rs),
# driven by wrk over loopback. For each worker count and each load it alternates the two
# servers for ROUNDS rounds (spindle first in odd rounds, tokio first in even ones) and prints
# requests/s, p50/p99 latency and CPU time per request (utime+stime of the server process from
# /proc/PID/stat, before and after the run, over the requests wrk counted), then the medians
# and the median of the per-round spindle/tokio ratios. Then one more run per runtime under
# `perf stat` (or `strace -c -f` without perf) for the syscalls per request.
#
#   benches/hyper.sh                  # quick: workers 1 and 2, DUR=5 s, 3 rounds (~5 minutes + build)
#   DUR=10 ROUNDS=5 benches/hyper.sh  # longer
#   WORKERS=1,2,4,8,16 benches/hyper.sh   # worker counts (commas or spaces)
#   LOADS="c64" SYSCALLS=0 benches/hyper.sh
#
# Loads: c64 and c256 are keep-alive with 64 and 256 connections; close64 sends
# `Connection: close` on 64 connections, so every request is a new connection. wrk runs with
# one thread (`-t1`), leaving the other cores to the server.
#
# Machine-readable lines (benches/report.sh parses them), one per measurement:
#   hyper_run workers=W load=L runtime=R round=N rps=X p50_us=X p99_us=X cpu_us_per_req=X requests=N errors=N
#   hyper_summary workers=W load=L spindle_rps=X tokio_rps=X rps_ratio=X spindle_p50_us=X tokio_p50_us=X spindle_p99_us=X tokio_p99_us=X spindle_cpu_us=X tokio_cpu_us=X cpu_ratio=X load_avg=X
#   hyper_syscalls workers=W load=L runtime=R tool=T requests=N read=X recvfrom=X write=X writev=X sendto=X futex=X epoll_wait=X accept=X all=X
# (medians over the rounds; syscall counts are per request).
set -euo pipefail
cd "$(dirname "$0")/.."

DUR="${DUR:-5}"
ROUNDS="${ROUNDS:-3}"
WORKERS="${WORKERS:-1 2}"
WORKERS="${WORKERS//,/ }"
LOADS="${LOADS:-c64 c256 close64}"
SYSCALLS="${SYSCALLS:-1}"
SYSCALL_DUR="${SYSCALL_DUR:-3}"
BASE_PORT="${BASE_PORT:-18480}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

need() { # command, Debian package
    if ! command -v "$1" >/dev/null 2>&1; then
        echo "hyper.sh: $1 is missing; installing Debian's $2 with apt-get" >&2
        apt-get install -y "$2" >/dev/null 2>&1 || {
            apt-get update >/dev/null 2>&1
            apt-get install -y "$2" >/dev/null
        }
    fi
}
need wrk wrk

syscall_tool=none
if [[ "$SYSCALLS" == 1 ]]; then
    if perf stat -e syscalls:sys_enter_futex -- true >/dev/null 2>&1; then
        syscall_tool=perf
    else
        need strace strace
        syscall_tool=strace
    fi
fi

echo "hyper.sh: building the server (cargo build --profile bench --features hyper --example hyper_server)" >&2
nice -n 5 cargo build --quiet --profile bench --features hyper --example hyper_server >&2
server="$CARGO_TARGET_DIR/release/examples/hyper_server"

logs="$(mktemp -d /tmp/spindle-hyper.XXXXXX)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

# Starts a server and waits for its "listening" line; sets $started_pid.
start_server() { # runtime workers port
    local out="$logs/server-$1-$2.out"
    "$server" "$1" "$2" "127.0.0.1:$3" >"$out" 2>"$logs/server-$1-$2.err" &
    started_pid=$!
    pids+=("$started_pid")
    for _ in $(seq 100); do
        grep -q '^listening' "$out" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "hyper.sh: $1 server did not start" >&2
    cat "$logs/server-$1-$2.err" >&2
    exit 1
}

cpu_ticks() { # pid: utime + stime, in clock ticks (fields 14 and 15; comm has no spaces here)
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

wrk_args() { # load port duration
    local conns="${1//[^0-9]/}"
    local args=(-t1 --latency -d"${3}s" -c"$conns")
    if [[ "$1" == close* ]]; then
        args+=(-H 'Connection: close')
    fi
    args+=("http://127.0.0.1:$2/")
    printf '%s\n' "${args[@]}"
}

# Runs wrk once and prints a hyper_run line.
measure() { # runtime workers load round pid port
    local runtime=$1 workers=$2 load=$3 round=$4 pid=$5 port=$6
    local out="$logs/wrk-$runtime-$workers-$load-$round.txt"
    local before after
    mapfile -t args < <(wrk_args "$load" "$port" "$DUR")
    before=$(cpu_ticks "$pid")
    wrk "${args[@]}" >"$out" 2>&1
    after=$(cpu_ticks "$pid")
    python3 - "$out" "$((after - before))" "$(getconf CLK_TCK)" \
        "workers=$workers load=$load runtime=$runtime round=$round" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
ticks, hz, label = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def us(value):
    m = re.match(r"([\d.]+)(us|ms|s)$", value)
    return float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
requests = int(re.search(r"(\d+) requests in", text).group(1))
p50 = us(re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1))
p99 = us(re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1))
errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", text))
errors += int((re.search(r"Non-2xx or 3xx responses: (\d+)", text) or [0, 0])[1])
cpu = ticks * 1e6 / hz / max(requests, 1)
print(f"hyper_run {label} rps={rps:.0f} p50_us={p50:.1f} p99_us={p99:.1f} "
      f"cpu_us_per_req={cpu:.2f} requests={requests} errors={errors}")
PY
}

# One wrk run with the syscalls counted; prints a hyper_syscalls line.
count_syscalls() { # runtime workers load pid port
    local runtime=$1 workers=$2 load=$3 pid=$4 port=$5
    local out="$logs/sys-wrk-$runtime-$workers-$load.txt" counts="$logs/sys-$runtime-$workers-$load.txt"
    mapfile -t args < <(wrk_args "$load" "$port" "$SYSCALL_DUR")
    local events=read,recvfrom,write,writev,sendto,futex,epoll_wait,epoll_pwait,accept4
    local tracer
    if [[ "$syscall_tool" == perf ]]; then
        perf stat -x, -o "$counts" -p "$pid" \
            -e "raw_syscalls:sys_enter,$(sed 's/\([a-z_0-9]*\)/syscalls:sys_enter_\1/g' <<<"$events")" &
    else
        strace -c -f -p "$pid" -o "$counts" &
    fi
    tracer=$!
    sleep 0.5 # attached before the load starts
    wrk "${args[@]}" >"$out" 2>&1
    kill -INT "$tracer"
    wait "$tracer" || true
    python3 - "$out" "$counts" "$syscall_tool" "workers=$workers load=$load runtime=$runtime" <<'PY'
import re, sys
wrk, counts, tool, label = sys.argv[1:5]
requests = int(re.search(r"(\d+) requests in", open(wrk).read()).group(1))
calls = {}
for line in open(counts):
    if tool == "perf":
        fields = line.strip().split(",")
        if len(fields) > 2 and fields[0].isdigit():
            name = fields[2].split(":")[-1].replace("sys_enter_", "")
            calls["all" if name == "sys_enter" else name] = int(fields[0])
    else:
        fields = line.split()
        if len(fields) >= 5 and fields[-1].isidentifier() and fields[3].isdigit():
            calls[fields[-1]] = int(fields[3])
        elif len(fields) >= 3 and fields[-1] == "total":
            calls["all"] = int(fields[2])
get = lambda *names: sum(calls.get(n, 0) for n in names) / max(requests, 1)
print(f"hyper_syscalls {label} tool={tool} requests={requests} read={get('read'):.3f} "
      f"recvfrom={get('recvfrom'):.3f} write={get('write'):.3f} writev={get('writev'):.3f} "
      f"sendto={get('sendto'):.3f} futex={get('futex'):.3f} "
      f"epoll_wait={get('epoll_wait', 'epoll_pwait'):.3f} accept={get('accept4', 'accept'):.3f} "
      f"all={get('all'):.3f}")
PY
}

port=$BASE_PORT
for workers in $WORKERS; do
    start_server spindle "$workers" "$port"
    spindle_pid=$started_pid spindle_port=$port
    start_server tokio "$workers" "$((port + 1))"
    tokio_pid=$started_pid tokio_port=$((port + 1))
    port=$((port + 2))
    # Warm both up (connections, allocator, page faults) before the first measured run.
    wrk -t1 -d1s -c64 "http://127.0.0.1:$spindle_port/" >/dev/null 2>&1
    wrk -t1 -d1s -c64 "http://127.0.0.1:$tokio_port/" >/dev/null 2>&1
    for load in $LOADS; do
        echo "hyper.sh: $workers worker(s), $load, $ROUNDS rounds of ${DUR}s per runtime" >&2
        rows="$logs/rows-$workers-$load.txt"
        for round in $(seq "$ROUNDS"); do
            if ((round % 2)); then order="spindle tokio"; else order="tokio spindle"; fi
            for runtime in $order; do
                if [[ $runtime == spindle ]]; then
                    measure spindle "$workers" "$load" "$round" "$spindle_pid" "$spindle_port"
                else
                    measure tokio "$workers" "$load" "$round" "$tokio_pid" "$tokio_port"
                fi
            done
        done | tee "$rows"
        python3 - "$rows" "workers=$workers load=$load" <<'PY'
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    fields = dict(f.split("=", 1) for f in line.split()[1:])
    runs.setdefault(fields["runtime"], {})[int(fields["round"])] = fields
s, t = runs["spindle"], runs["tokio"]
med = lambda runs, key: statistics.median(float(r[key]) for r in runs.values())
ratio = lambda key: statistics.median(float(s[n][key]) / float(t[n][key]) for n in s if n in t)
load = " ".join(open("/proc/loadavg").read().split()[:3]).replace(" ", "/")
print(f"hyper_summary {sys.argv[2]} spindle_rps={med(s, 'rps'):.0f} tokio_rps={med(t, 'rps'):.0f} "
      f"rps_ratio={ratio('rps'):.3f} spindle_p50_us={med(s, 'p50_us'):.1f} "
      f"tokio_p50_us={med(t, 'p50_us'):.1f} spindle_p99_us={med(s, 'p99_us'):.1f} "
      f"tokio_p99_us={med(t, 'p99_us'):.1f} spindle_cpu_us={med(s, 'cpu_us_per_req'):.2f} "
      f"tokio_cpu_us={med(t, 'cpu_us_per_req'):.2f} cpu_ratio={ratio('cpu_us_per_req'):.3f} "
      f"load_avg={load}")
PY
    done
    if [[ "$syscall_tool" != none ]]; then
        for load in $LOADS; do
            echo "hyper.sh: $workers worker(s), $load, syscalls ($syscall_tool, ${SYSCALL_DUR}s)" >&2
            count_syscalls spindle "$workers" "$load" "$spindle_pid" "$spindle_port"
            count_syscalls tokio "$workers" "$load" "$tokio_pid" "$tokio_port"
        done
    fi
    kill "$spindle_pid" "$tokio_pid"
    wait "$spindle_pid" "$tokio_pid" 2>/dev/null || true
done
echo "hyper.sh: raw output in $logs" >&2
