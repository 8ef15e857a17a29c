#!/usr/bin/env bash
# What a group commit writes, by B-tree: serves a fresh embedded store (from the build's own
# `demo --rate 0`) under `wrk -t2 -c32` posting bench/events.lua's transfers for a few seconds,
# kills the server with SIGKILL (so the WAL is left as the last commits wrote it), reads the WAL
# frame by frame (each frame's page number; a commit ends at its commit frame) and names each
# page's table or index with SQLite's `dbstat`. Prints frames per commit over the second half
# of the commits in the WAL, in all and per B-tree. `--random-ids` posts ids that start with
# random digits, as UUIDv4 ids would.
#
#   bench/wal.sh [--seconds S] [--random-ids] BIN [BIN ...]      (needs wrk from Debian and python3)
set -euo pipefail
secs=3 random=0
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) secs=$2; shift 2 ;;
    --random-ids) random=1; shift ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { echo "usage: bench/wal.sh [--seconds S] [--random-ids] BIN [BIN ...]" >&2; exit 2; }
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
. "$here/demo.sh"
port=18190
for bin in "$@"; do
  fresh_demo "$bin" "$port" demo.log
  rps=$(ANSIM_KEY=$key ANSIM_PREFIX="wal$RANDOM" ANSIM_RANDOM_IDS=$random wrk -t2 -c32 -d"${secs}s" -s "$here/events.lua" "http://127.0.0.1:$port" | awk '/Requests\/sec/ {print $2}')
  kill -KILL "$pid"; wait "$pid" 2>/dev/null || true
  echo "$(basename "$bin"): wrk $rps req/s; $(python3 - "$data/ansim.db" <<'PY'
import collections, sqlite3, struct, sys
db = sys.argv[1]
wal = open(db + "-wal", "rb").read()
_, _, size, _, salt1, salt2, _, _ = struct.unpack(">8I", wal[:32])
commits, current, off = [], [], 32
while off + 24 + size <= len(wal):
    page, commit, s1, s2 = struct.unpack(">4I", wal[off:off + 16])
    if (s1, s2) != (salt1, salt2):
        break
    current.append(page)
    if commit:
        commits.append(current)
        current = []
    off += 24 + size
late = commits[len(commits) // 2:]
if not late:
    sys.exit("no commit in the WAL")
con = sqlite3.connect(db)
name = dict(con.execute("SELECT pageno, name FROM dbstat"))
by = collections.Counter(name.get(p, "?") for c in late for p in c)
total = sum(len(c) for c in late) / len(late)
print(f"{len(late)} commits, {total:.1f} frames of {size // 1024} KiB per commit: "
      + ", ".join(f"{k} {v / len(late):.2f}" for k, v in by.most_common()))
PY
)"
  rm -rf "$data"
done
