-- ansim's streaming features in Redis: one call updates and reads every feature of each of a
-- batch of events, one event after the other, atomically, exactly as
-- signals::FeatureState::observe does in memory (the crate's tests check both on the same
-- scenarios). Optionally it first claims each event's id, so two nodes never both count one
-- event.
--
-- State is kept per entity, not per feature: one key per (affiliate, key digest) holds every
-- feature's state for that key (a subject's transfer count, sum, payees, devices...), so a
-- decision reads and writes a few keys instead of one per feature. Each feature's state in it
-- expires on its own, window + tolerance + one bucket after its last update, as a key of its
-- own would; the key lives as long as its longest-lived feature.
--
-- KEYS: the entity keys, payee history keys and claim keys the events name by index.
-- ARGV: two per event. First the claim's value ('' = no claim). Then a MessagePack array of
-- numbers (decoded in C; parsing hundreds of string arguments in Lua cost more than the
-- features themselves): number of ops, claim lifetime (ms), claim key index, then 11 numbers
-- per op: kind (1 count, 2 sum,
-- 3 distinct, 4 first_seen), update entity index (0 none), read entity index (0 none), flags
-- (1: answer from the update, 2: has an amount to add, 4: has a value digest), bucket,
-- buckets per window, late buckets, amount to add, value digest, keep ms, and the feature's
-- slot (its fingerprint's top 52 bits: exact as a Lua number).
-- Then, optionally, the payee history of a transfer (7 numbers: 1, the pair key's index (0
-- none), the spending key's index, event ms, Korea-time day, won to add to the day's spending,
-- how long an unused payee is remembered, ms): its first payment to this payee before this one
-- and the day's spending before this one are returned, then this transfer is recorded (the
-- caller undoes it if the transfer is blocked); 0 when there is none.
-- An entity, MessagePack: a map from slot to the feature's state and from minus the slot to
-- when that state expires (ms, Redis clock). A state is {newest, a1, b1, a2, b2, ...} with
-- (bucket, amount) pairs for a window and (value, bucket) pairs for a set, in the in-memory
-- vector's order.
-- Returns one array per event: {1, answer..., [first ms, spent]} (an absent answer or first
-- payment is nil, sent as false so the array keeps its length) or {0, the claim's value}.

local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)

-- Entities read so far (index -> map), and which were changed.
local entities, dirty = {}, {}

local function entity(i)
  local e = entities[i]
  if e then return e end
  local raw = redis.call('GET', KEYS[i])
  if raw then
    e = cmsgpack.unpack(raw)
    for k, v in pairs(e) do
      if k < 0 and v <= now then
        e[k] = nil
        e[-k] = nil
      end
    end
  else
    e = {}
  end
  entities[i] = e
  return e
end

-- The payee history's keys hold one state each.
local function load_key(k)
  local raw = redis.call('GET', k)
  if not raw then return nil end
  return cmsgpack.unpack(raw)
end

local function save_key(k, st, keep)
  redis.call('SET', k, cmsgpack.pack(st), 'PX', keep)
end

local function sat_sub(a, b)
  if a > b then return a - b end
  return 0
end

-- A state is one flat array: st[1] is the newest bucket, then pairs at (2, 3), (4, 5), ...
-- `k` names it: {entity index, slot}.
local function load(k)
  return entity(k[1])[k[2]]
end

local function save(k, st, keep)
  local e = entity(k[1])
  e[k[2]] = st
  e[-k[2]] = now + keep
  dirty[k[1]] = true
end

-- The bucket a late event lands in: no earlier than the tolerance allows.
local function place(st, b, late, fresh)
  if fresh then
    st[1] = b
    return b
  end
  local lo = sat_sub(st[1], late)
  if b < lo then b = lo end
  if b > st[1] then st[1] = b end
  return b
end

local function seen_from(st, b0, late)
  local lo = sat_sub(st[1], late)
  if lo > b0 then return lo end
  return b0
end

-- The state without the pairs whose bucket (the pair's first number for a window, `at` = 0;
-- its second for a set, `at` = 1) is at or before `floor`.
local function prune(st, floor, at)
  local kept = {st[1]}
  for i = 2, #st - 1, 2 do
    if st[i + at] > floor then
      kept[#kept + 1] = st[i]
      kept[#kept + 1] = st[i + 1]
    end
  end
  return kept
end

local function window_sum(st, b, nb)
  local s = 0
  for i = 2, #st - 1, 2 do
    local id = st[i]
    if id <= b and id + nb > b then s = s + st[i + 1] end
  end
  return s
end

local function window(k, update, b0, nb, late, add, keep)
  local st = load(k)
  if add == nil or not update then
    if not st then return 0 end
    return window_sum(st, seen_from(st, b0, late), nb)
  end
  local fresh = (st == nil)
  if fresh then st = {0} end
  local b = place(st, b0, late, fresh)
  local n = #st
  local pos = nil
  for i = n - 1, 2, -2 do
    if st[i] <= b then pos = i break end
  end
  if pos and st[pos] == b then
    st[pos + 1] = st[pos + 1] + add
  elseif pos == n - 1 or (pos == nil and n == 1) then
    -- The newest bucket (the common case): append.
    st[n + 1] = b
    st[n + 2] = add
  elseif pos then
    table.insert(st, pos + 2, add)
    table.insert(st, pos + 2, b)
  else
    table.insert(st, 2, add)
    table.insert(st, 2, b)
  end
  local floor = sat_sub(st[1], nb + late)
  -- Buckets are in order: only the oldest can have left the horizon.
  if floor > 0 and st[2] <= floor then st = prune(st, floor, 0) end
  save(k, st, keep)
  return window_sum(st, b, nb)
end

local function set_count(st, b, nb)
  local c = 0
  for i = 3, #st, 2 do
    if st[i] + nb > b then c = c + 1 end
  end
  return c
end

-- kind 3 distinct, 4 first_seen
local function set(k, kind, update, b0, nb, late, v, keep)
  local st = load(k)
  if v == nil then
    if kind == 3 then
      if st then return set_count(st, seen_from(st, b0, late), nb) end
      return 0
    end
    return nil
  end
  if not update then
    if kind == 4 then
      if st then
        local b = seen_from(st, b0, late)
        for i = 2, #st - 1, 2 do
          if st[i] == v and st[i + 1] + nb > b then return 0 end
        end
      end
      return 1
    end
    if st then return set_count(st, seen_from(st, b0, late), nb) end
    return 0
  end
  local fresh = (st == nil)
  if fresh then st = {0} end
  local b = place(st, b0, late, fresh)
  local first = true
  local found = nil
  for i = 2, #st - 1, 2 do
    if st[i] == v then
      if st[i + 1] + nb > b then first = false end
      found = i
      break
    end
  end
  if found then
    if b > st[found + 1] then st[found + 1] = b end
  else
    if (#st - 1) / 2 >= 64 then
      -- Forget the value seen least recently (the first of equals), as swap_remove does.
      local mi = 2
      for i = 4, #st - 1, 2 do
        if st[i + 1] < st[mi + 1] then mi = i end
      end
      local last = #st - 1
      st[mi], st[mi + 1] = st[last], st[last + 1]
      st[last + 1] = nil
      st[last] = nil
    end
    st[#st + 1] = v
    st[#st + 1] = b
  end
  local floor = sat_sub(st[1], nb + late)
  if floor > 0 then
    -- Rebuild only when a value has gone out of the horizon.
    for i = 3, #st, 2 do
      if st[i] <= floor then
        st = prune(st, floor, 1)
        break
      end
    end
  end
  save(k, st, keep)
  if kind == 4 then
    if first then return 1 end
    return 0
  end
  return set_count(st, b, nb)
end

local function run(kind, k, update, b0, nb, late, add, v, keep)
  if kind <= 2 then return window(k, update, b0, nb, late, add, keep) end
  return set(k, kind, update, b0, nb, late, v, keep)
end

-- One event: claim, features, payee history.
local function one(claim, a)
  local nops = a[1]

  if claim ~= '' then
    local ck = KEYS[a[3]]
    if not redis.call('SET', ck, claim, 'NX', 'PX', a[2]) then
      return {0, redis.call('GET', ck) or ''}
    end
  end

  local out = {1}
  for i = 0, nops - 1 do
    local o = 4 + i * 11
    local kind, upd, rd, flags = a[o], a[o + 1], a[o + 2], a[o + 3]
    local b0, nb, late = a[o + 4], a[o + 5], a[o + 6]
    local add, v = nil, nil
    if flags % 4 >= 2 then add = a[o + 7] end
    if flags >= 4 then v = a[o + 8] end
    local keep, slot = a[o + 9], a[o + 10]
    local r = nil
    if upd > 0 then
      local u = run(kind, {upd, slot}, true, b0, nb, late, add, v, keep)
      if flags % 2 == 1 then r = u end
    end
    if rd > 0 then r = run(kind, {rd, slot}, false, b0, nb, late, add, v, keep) end
    if r == nil then out[#out + 1] = false else out[#out + 1] = r end
  end

  local h = 4 + nops * 11
  if a[h] == 1 then
    local pk, sk = a[h + 1], a[h + 2]
    local at, day, spend, forget = a[h + 3], a[h + 4], a[h + 5], a[h + 6]
    local first = false
    if pk > 0 then
      local p = load_key(KEYS[pk])
      if p then
        first = p[1]
        if at < p[1] then p[1] = at end
        if at > p[2] then p[2] = at end
      else
        p = {at, at}
      end
      save_key(KEYS[pk], p, forget)
    end
    local spent = 0
    if sk > 0 then
      local d = load_key(KEYS[sk])
      if d and d[1] == day then spent = d[2] end
      if spend > 0 then save_key(KEYS[sk], {day, spent + spend}, 2 * 86400000) end
    end
    out[#out + 1] = first
    out[#out + 1] = spent
  end
  return out
end

local results = {}
for e = 1, #ARGV / 2 do
  results[e] = one(ARGV[2 * e - 1], cmsgpack.unpack(ARGV[2 * e]))
end

-- Each changed entity written once, living as long as its longest-lived feature.
for i in pairs(dirty) do
  local e, last = entities[i], now + 1
  for k, v in pairs(e) do
    if k < 0 and v > last then last = v end
  end
  redis.call('SET', KEYS[i], cmsgpack.pack(e), 'PX', last - now)
end

return results
