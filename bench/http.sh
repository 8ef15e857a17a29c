#!/usr/bin/env bash
# HTTP load of the decision API, measured two ways in one run: the project's own `ansim load`
# (simulated traffic of five affiliates) and Debian's `wrk` with bench/events.lua (unique
# transfer events of one affiliate), both at the same connection count, plus `GET /healthz`
# under wrk as the HTTP stack's own ceiling at that moment. Each binary given gets a fresh
# embedded store from `ansim demo --rate 0`; with two binaries (before, after) the rounds
# alternate A B A B so both see the same machine. `--campaigns "0 2"` runs each binary once per
# count of prevention campaigns running (created through the API before the load; every
# transfer is in their segment, which reads a feature; `--segment TEXT` gives another segment), in
# the same alternation. The wrk events line also gives what one request cost the server: its CPU
# time and bytes written (from /proc) and the mean decisions per group commit (from /metrics).
#
#   bench/http.sh [--rounds N] [--connections C] [--seconds S] [--events E] [--campaigns "0 2"]
#                 [--segment TEXT] BIN [BIN ...]
set -euo pipefail
rounds=2 conns=32 secs=20 events=100000 campaigns=0
segment="event.kind == 'transfer' && features.sent_24h >= 0"
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --connections) conns=$2; shift 2 ;;
    --seconds) secs=$2; shift 2 ;;
    --events) events=$2; shift 2 ;;
    --campaigns) campaigns=$2; shift 2 ;;
    --segment) segment=$2; shift 2 ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { echo "usage: bench/http.sh [options] BIN [BIN ...]" >&2; exit 2; }
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
. "$here/demo.sh"
port=18080
for r in $(seq 1 "$rounds"); do
  for bin in "$@"; do
  for ncamp in $campaigns; do
    fresh_demo "$bin" "$port" out.log
    for c in $(seq 1 "$ncamp"); do
      python3 - "$c" "$segment" >"$data/campaign.json" <<'PY'
import json, sys, datetime
now = datetime.datetime.now(datetime.timezone.utc)
print(json.dumps({
    "id": f"bench-{sys.argv[1]}", "name": "bench", "segment": sys.argv[2],
    "ko": {"title": "t", "body": "b"}, "en": {"title": "t", "body": "b"},
    "starts_at": (now - datetime.timedelta(days=1)).isoformat(), "ends_at": (now + datetime.timedelta(days=1)).isoformat(),
}))
PY
      curl -sf "http://127.0.0.1:$port/v1/campaigns" -H "Authorization: Bearer $group" -H "Content-Type: application/json" \
        --data @"$data/campaign.json" >/dev/null
    done
    label="$(basename "$bin")$([ "$ncamp" = 0 ] || echo " (campaigns $ncamp)")"
    load=$("$bin" load --addr "127.0.0.1:$port" --keys "$data/demo-keys.json" --events "$events" --connections "$conns" 2>/dev/null | tail -1)
    # The server's CPU time (user + system, in clock ticks), bytes written and group commits,
    # read around the wrk run: what one decision costs the server, whatever the client took.
    counters() {
      local m
      m=$(curl -sf -H "Authorization: Bearer $group" "http://127.0.0.1:$port/metrics")
      echo "$(awk '{print $14 + $15}' "/proc/$pid/stat") $(awk '/^write_bytes/ {print $2}' "/proc/$pid/io")" \
        "$(echo "$m" | awk '/^ansim_commits_total/ {print $2}') $(echo "$m" | awk '/^ansim_committed_writes_total/ {print $2}')"
    }
    read -r cpu0 bytes0 commits0 writes0 < <(counters)
    events_wrk=$(ANSIM_KEY=$key ANSIM_PREFIX="r$r" wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$here/events.lua" "http://127.0.0.1:$port" 2>&1)
    read -r cpu1 bytes1 commits1 writes1 < <(counters)
    n=$(echo "$events_wrk" | awk '/requests in/ {print $1}')
    cost=$(awk -v c=$((cpu1 - cpu0)) -v b=$((bytes1 - bytes0)) -v k=$((commits1 - commits0)) -v w=$((writes1 - writes0)) \
      -v n="$n" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "server CPU %.1f µs, %.1f KB written per request, %.1f decisions per commit", c * 1e6 / hz / n, b / 1024 / n, w / (k ? k : 1) }')
    health=$(wrk -t2 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$port/healthz" 2>&1)
    kill -INT "$pid"; wait "$pid" || true
    rps() { awk '/Requests\/sec/ {print $2}'; }
    p99() { awk '$1=="99%" {print $2}'; }
    non2xx() { awk '/Non-2xx/ {print $NF}'; }
    echo "round $r $label: ansim load: $load"
    echo "round $r $label: wrk events: $(echo "$events_wrk" | rps) req/s, p99 $(echo "$events_wrk" | p99), non-2xx $(echo "$events_wrk" | non2xx); $cost"
    echo "round $r $label: wrk healthz: $(echo "$health" | rps) req/s, p99 $(echo "$health" | p99)"
    rm -rf "$data"
  done
  done
done
