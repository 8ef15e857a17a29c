#!/usr/bin/env bash
# Instructions per durable decision over HTTP, counted with callgrind: a measure that a shared,
# noisy machine does not move (two runs of one build agree within about 0.3 %), for changes too
# small to see by timing. Each binary gets a fresh embedded store from its own `demo --rate 0`,
# then serves under `valgrind --tool=callgrind`, counting only inside the connection tasks and the
# writer thread, while `wrk` posts unique transfers (bench/events.lua) for a fixed time; the count
# is divided by the requests answered. User space only (the kernel's TCP and file system are not
# counted), and SHA-256 runs in software under valgrind, so hashing weighs more than for real.
#
#   bench/instructions.sh [--seconds S] BIN [BIN ...]     (needs valgrind and wrk from Debian)
set -euo pipefail
secs=12
[ "${1:-}" = --seconds ] && { secs=$2; shift 2; }
[ $# -ge 1 ] || { echo "usage: bench/instructions.sh [--seconds S] BIN [BIN ...]" >&2; exit 2; }
command -v valgrind >/dev/null && command -v wrk >/dev/null || { echo "needs valgrind and wrk" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
. "$here/demo.sh"
port=18180
for bin in "$@"; do
  fresh_demo "$bin" "$port" demo.log
  kill -INT "$pid"; wait "$pid" || true
  valgrind --tool=callgrind --callgrind-out-file="$data/callgrind.out" --collect-atstart=no \
    --toggle-collect='*conn::serve*' --toggle-collect='*writer::run*' \
    "$bin" serve --data "$data" --listen "127.0.0.1:$port" >"$data/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.5; done
  out=$(ANSIM_KEY=$key ANSIM_PREFIX="i$RANDOM" wrk -t1 -c8 -d"${secs}s" -s "$here/events.lua" "http://127.0.0.1:$port" 2>&1)
  kill -INT "$pid"; wait "$pid" || true
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  bad=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  count=$(grep -oE 'Collected : [0-9]+' "$data/serve.log" | awk '{print $3}')
  echo "$(basename "$bin"): $n requests (non-2xx ${bad:-0}), $((count / n)) instructions per decision"
  rm -rf "$data"
done
