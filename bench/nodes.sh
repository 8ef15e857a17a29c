#!/usr/bin/env bash
# Scale-out load, one run, three deployments of the same binary on this machine: the embedded
# mode (SQLite in a data directory), one node on the services (PostgreSQL, Redis, NATS) and two
# nodes on them. Each is measured with the project's own `ansim load` (simulated traffic of
# five affiliates, connections spread over the nodes) and with Debian's `wrk` and
# bench/events.lua (unique transfer events; with two nodes, one wrk per node with half the
# connections each, figures added up and the worse p99 kept), at the same connection count.
#
#   bench/nodes.sh [--connections C] [--seconds S] [--events E] BIN
#
# Services from ANSIM_BENCH_POSTGRES (default postgres://postgres@127.0.0.1:5432/test),
# ANSIM_BENCH_REDIS (redis://127.0.0.1:6379/3: a database of the benchmark's own, emptied at the
# start, since the demo's affiliates have the same names in every run) and ANSIM_BENCH_NATS
# (nats://127.0.0.1:4222). Each run uses a PostgreSQL schema of its own and drops it at the end.
# During each wrk phase, bench/cpu.py says how many cores each program kept busy.
set -euo pipefail
conns=32 secs=20 events=100000
while [ $# -gt 0 ]; do
  case "$1" in
    --connections) conns=$2; shift 2 ;;
    --seconds) secs=$2; shift 2 ;;
    --events) events=$2; shift 2 ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || { echo "usage: bench/nodes.sh [options] BIN" >&2; exit 2; }
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 2; }
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
pg=${ANSIM_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}
redis=${ANSIM_BENCH_REDIS:-redis://127.0.0.1:6379/3}
nats=${ANSIM_BENCH_NATS:-nats://127.0.0.1:4222}
schema="ansim_bench_$$"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$pg" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
psql "$pg" -qc "CREATE SCHEMA $schema" >/dev/null
redis-cli -u "$redis" FLUSHDB >/dev/null
case "$pg" in *\?*) sep='&' ;; *) sep='?' ;; esac
store="${pg}${sep}options=-c%20search_path%3D${schema}"

wait_up() { for _ in $(seq 1 150); do curl -sf "http://$1/healthz" >/dev/null && return 0; sleep 0.2; done; echo "no server at $1" >&2; exit 1; }
rps() { awk '/Requests\/sec/ {print $2}'; }
p99() { awk '$1=="99%" {print $2}'; }
non2xx() { awk '/Non-2xx/ {print $NF}'; }

# measure NAME KEYS ADDR... : ansim load over every address, then wrk (one per address).
measure() {
  local name=$1 keys=$2; shift 2
  local args=() addr
  for addr in "$@"; do args+=(--addr "$addr"); done
  local load
  load=$("$bin" load "${args[@]}" --keys "$keys" --events "$events" --connections "$conns" 2>/dev/null | tail -1)
  echo "$name: ansim load ($conns connections): $load"
  local key per=$((conns / $#)) i=0 outs=() wrks=()
  key=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pay"])' "$keys")
  python3 "$here/cpu.py" snap "$work/cpu.json"
  for addr in "$@"; do
    i=$((i + 1))
    ANSIM_KEY=$key ANSIM_PREFIX="$name-$i-$$" wrk -t$((2 / $# > 0 ? 2 / $# : 1)) -c"$per" -d"${secs}s" --latency \
      -s "$here/events.lua" "http://$addr" >"$work/wrk-$name-$i.txt" 2>&1 &
    wrks+=($!)
    outs+=("$work/wrk-$name-$i.txt")
  done
  wait "${wrks[@]}"
  local cpu
  cpu=$(python3 "$here/cpu.py" diff "$work/cpu.json" "$secs")
  local total=0 worst=0 bad=0 f r p
  for f in "${outs[@]}"; do
    r=$(rps <"$f"); p=$(p99 <"$f"); total=$(python3 -c "print(round($total + ${r:-0}, 1))")
    worst=$(python3 -c "
import re,sys
def ms(s):
    m = re.match(r'([0-9.]+)(us|ms|s)', s or '0ms'); v = float(m.group(1))
    return v / 1000 if m.group(2) == 'us' else v * 1000 if m.group(2) == 's' else v
print(max(ms('$p'), float('$worst')))")
    n=$(non2xx <"$f"); bad=$((bad + ${n:-0}))
  done
  echo "$name: wrk events ($conns connections): $total req/s, p99 ${worst} ms, non-2xx $bad"
  echo "$name: during wrk, $cpu"
}

# 1. Embedded: the demo's own SQLite store.
"$bin" demo --rate 0 --data "$work/embedded" --listen 127.0.0.1:18090 >"$work/embedded.log" 2>&1 &
pids+=($!); wait_up 127.0.0.1:18090
measure embedded "$work/embedded/demo-keys.json" 127.0.0.1:18090
kill -INT "${pids[-1]}"; wait "${pids[-1]}" || true

# The services: the demo's affiliates and keys made once in PostgreSQL, then nodes.
ANSIM_STORE=$store "$bin" demo --rate 0 --data "$work/node0" --listen 127.0.0.1:18091 >"$work/setup.log" 2>&1 &
setup=$!; wait_up 127.0.0.1:18091; kill -INT "$setup"; wait "$setup" || true
node() {
  ANSIM_STORE=$store ANSIM_REDIS=$redis ANSIM_NATS=$nats ANSIM_GROUP_KEY_FILE="$work/node0/group.key" ANSIM_LOG=warn \
    ANSIM_OPEN_METRICS=true \
    "$bin" serve --data "$work/node$1" --listen "127.0.0.1:$2" >"$work/node$1.log" 2>&1 &
  pids+=($!); wait_up "127.0.0.1:$2"
}

# Where a node's time went: mean time per call of each dependency, from its /metrics.
spent() {
  curl -sf "http://$1/metrics" | awk -v node="$1" '
    /^ansim_dependency_calls_total/ { split($1, a, "\""); calls[a[2]] = $2 }
    /^ansim_dependency_seconds_total/ { split($1, a, "\""); secs[a[2]] = $2 }
    /^ansim_commits_total/ { commits = $2 } /^ansim_committed_writes_total/ { writes = $2 }
    END {
      line = node ":"
      for (d in calls) if (calls[d] > 0) line = line sprintf(" %s %d calls, %.0f µs each;", d, calls[d], secs[d] / calls[d] * 1e6)
      if (commits > 0) line = line sprintf(" %.1f events per commit", writes / commits)
      print line
    }'
}

# 2. One node on the services.
node 0 18091
measure one-node "$work/node0/demo-keys.json" 127.0.0.1:18091
spent 127.0.0.1:18091
# 3. Two nodes (the first keeps running; the second joins).
node 1 18092
measure two-nodes "$work/node0/demo-keys.json" 127.0.0.1:18091 127.0.0.1:18092
spent 127.0.0.1:18091
spent 127.0.0.1:18092
echo "stored events: $(psql "$pg" -tAc "SELECT COUNT(*) FROM $schema.event")"
