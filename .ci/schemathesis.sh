#!/usr/bin/env bash
# Schemathesis (from PyPI) against a live `ansim demo` with every check on: zero 5xx, zero
# undocumented statuses, zero schema mismatches. Settings and the few per-operation exceptions,
# each with its reason, are in .ci/schemathesis.toml. Usage: .ci/schemathesis.sh [ANSIM_BINARY]
set -euo pipefail
# One worker: schemathesis' generator is not thread-safe on every Python (a lambda-source cache
# raced in runs here), and one worker keeps the seeded run repeatable.
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-$root/target/release/ansim}"
python3 -m pip install --quiet --disable-pip-version-check "schemathesis==4.32.5"
work="$(mktemp -d)"
port="${ANSIM_SCHEMATHESIS_PORT:-18093}"
"$bin" demo --listen "127.0.0.1:$port" --data "$work/data" --rate 0 >"$work/demo.log" 2>&1 &
demo=$!
trap 'kill $demo 2>/dev/null || true; rm -rf "$work"' EXIT
# Up to two minutes for the demo to set up (a loaded machine is slow), then say why not.
for _ in $(seq 1 600); do
  [ -s "$work/data/demo-keys.json" ] && curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 "$demo" 2>/dev/null || { echo "ansim demo exited:" >&2; cat "$work/demo.log" >&2; exit 1; }
  sleep 0.2
done
[ -s "$work/data/demo-keys.json" ] || { echo "ansim demo did not start in 2 minutes:" >&2; cat "$work/demo.log" >&2; exit 1; }
key() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$work/data/demo-keys.json" "$1"; }
cd "$work"
export SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH="$root/.ci"
run() {
  schemathesis --config-file "$root/.ci/schemathesis.toml" --no-color run "http://127.0.0.1:$port/openapi.json" \
    --phases examples,coverage,fuzzing --workers 1 "$@"
}
# An affiliate's key with every scope, on every operation; then the safety table's key on the
# group's own operations (cases, holdings, dead letters, alerts, registry totals, metrics).
run -H "Authorization: Bearer $(key bank)"
run -H "Authorization: Bearer $(key group)" \
  --include-path-regex '^/(v1/(cases|holdings|actions|alerts|registry)|metrics)'
