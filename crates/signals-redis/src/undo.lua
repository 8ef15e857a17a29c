-- Undoes what features.lua recorded in the payee history for a transfer that was then blocked
-- (or whose hold the user cancelled): a payee first recorded by it is forgotten, or given its
-- earlier first payment back; its spending leaves the day's sum.
-- KEYS: the pair key, the spending key. ARGV: event ms, the first payment before it ('' none),
-- Korea-time day, won to take off, how long an unused payee is remembered (ms).
local at, before, day, spend, forget = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local raw = redis.call('GET', KEYS[1])
if raw then
  local p = cmsgpack.unpack(raw)
  if before == '' then
    if p[1] == at then redis.call('DEL', KEYS[1]) end
  elseif p[1] == at and tonumber(before) > at then
    p[1] = tonumber(before)
    redis.call('SET', KEYS[1], cmsgpack.pack(p), 'PX', forget)
  end
end
if spend > 0 then
  local raw2 = redis.call('GET', KEYS[2])
  if raw2 then
    local d = cmsgpack.unpack(raw2)
    if d[1] == day then
      d[2] = math.max(0, d[2] - spend)
      redis.call('SET', KEYS[2], cmsgpack.pack(d), 'PX', 2 * 86400000)
    end
  end
end
return 1
