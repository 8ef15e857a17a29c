-- wrk script: POST unique transfer events to /v1/events, for an outside measurement of the
-- decision API beside `ansim load`. Every request has a new event id (thread number and a
-- counter), so no request is answered from the idempotency path; 5,000 subjects send to
-- 20,000 accounts of one affiliate.
--
--   ANSIM_KEY=$(jq -r .pay DIR/demo-keys.json) wrk -t2 -c32 -d20s --latency \
--       -s bench/events.lua http://127.0.0.1:8080
--
-- ANSIM_PREFIX (default "wrk") keeps ids unique across runs against the same store. With
-- ANSIM_RANDOM_IDS=1 (set for wrk only: the server refuses ANSIM_ variables it does not know)
-- every id starts with 16 random hex digits, as UUIDv4 ids would, so the id index's inserts
-- land all over it (bench/wal.sh shows what that writes).

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  local key = os.getenv("ANSIM_KEY") or error("set ANSIM_KEY to a decide key of the affiliate")
  prefix = os.getenv("ANSIM_PREFIX") or "wrk"
  -- Event time: now, in UTC; the server refuses times more than an hour ahead of its clock.
  at = os.date("!%Y-%m-%dT%H:%M:%S+00:00")
  counter = 0
  random_ids = os.getenv("ANSIM_RANDOM_IDS") == "1"
  math.randomseed(os.time() + tid)
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer " .. key
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local id = string.format("%s-%d-%d", prefix, tid, counter)
  if random_ids then
    id = string.format("%08x%08x-%s", math.random(0, 0x7fffffff), math.random(0, 0x7fffffff), id)
  end
  local body = string.format(
    '{"id":"%s","kind":"transfer","at":"%s","subject":{"id":"u%d"},' ..
    '"transfer":{"amount":%d,"counterparty":{"bank":"088","account":"110%09d"}}}',
    id, at, counter % 5000, 10000 + (counter % 97) * 1000, counter % 20000)
  return wrk.format(nil, "/v1/events", nil, body)
end
