-- wrk script: POST unique transfer events to /v1/events, for an outside measurement of the
-- decision API beside `ansim load`. Every request has a new event id (thread number and a
-- counter), so no request is answered from the idempotency path; 5,000 subjects send to
-- 20,000 accounts of one affiliate.
--
--   ANSIM_KEY=$(jq -r .pay DIR/demo-keys.json) wrk -t2 -c32 -d20s --latency \
--       -s bench/events.lua http://127.0.0.1:8080
--
-- ANSIM_PREFIX (default "wrk") keeps ids unique across runs against the same store.

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
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer " .. key
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"id":"%s-%d-%d","kind":"transfer","at":"%s","subject":{"id":"u%d"},' ..
    '"transfer":{"amount":%d,"counterparty":{"bank":"088","account":"110%09d"}}}',
    prefix, tid, counter, at, counter % 5000, 10000 + (counter % 97) * 1000, counter % 20000)
  return wrk.format(nil, "/v1/events", nil, body)
end
