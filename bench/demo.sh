# Sourced by the bench scripts: `fresh_demo BIN PORT LOG` starts `BIN demo --rate 0` on a new
# data directory and waits until it serves, setting `data` (the directory), `pid`, `key` (the
# pay affiliate's decide key) and `group` (the group key). LOG names its log in the directory.
fresh_demo() {
  data=$(mktemp -d)
  "$1" demo --rate 0 --data "$data" --listen "127.0.0.1:$2" >"$data/$3" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do [ -s "$data/demo-keys.json" ] && curl -sf "http://127.0.0.1:$2/healthz" >/dev/null && break; sleep 0.2; done
  key=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pay"])' "$data/demo-keys.json")
  group=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["group"])' "$data/demo-keys.json")
}
