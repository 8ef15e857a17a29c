-- ansim's streaming features in Redis: one call updates and reads every feature of one
-- event, atomically, exactly as signals::FeatureState::observe does in memory (the crate's
-- tests check both on the same scenarios). Optionally it first claims the event id, so two
-- nodes never both count one event.
--
-- KEYS: the feature state keys the ops name by index, then the claim key when claiming.
-- ARGV[1]: number of ops; ARGV[2]: claim value ('' = no claim); ARGV[3]: claim lifetime, ms.
-- Then 10 fields per op: kind (c count, s sum, d distinct, f first_seen), update key index
-- (0 none), read key index (0 none), answer from the update (1/0), bucket, buckets per
-- window, late buckets, add ('' none), value digest ('' none), keep ms.
-- State per key, MessagePack (parsed in C, not in Lua): {newest, a1, b1, a2, b2, ...} with
-- (bucket, amount) pairs for a window and (value, bucket) pairs for a set, in the in-memory
-- vector's order.
-- Then, optionally, the payee history of a transfer (7 fields: '1', the pair key's index (0
-- none), the spending key's index, event ms, Korea-time day, won to add to the day's spending,
-- how long an unused payee is remembered, ms): its first payment to this payee before this one
-- and the day's spending before this one are returned, then this transfer is recorded (the
-- caller undoes it if the transfer is blocked).
-- Returns {'ok', answer..., [first ms ('' none), spent]} (answer '' = absent) or {'taken', the
-- claim's value}.

local function sat_sub(a, b)
  if a > b then return a - b end
  return 0
end

-- A state is one flat array: st[1] is the newest bucket, then pairs at (2, 3), (4, 5), ...
local function load(k)
  local raw = redis.call('GET', k)
  if not raw then return nil end
  return cmsgpack.unpack(raw)
end

local function save(k, st, keep)
  redis.call('SET', k, cmsgpack.pack(st), 'PX', keep)
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
  local pos = nil
  for i = #st - 1, 2, -2 do
    if st[i] <= b then pos = i break end
  end
  if pos and st[pos] == b then
    st[pos + 1] = st[pos + 1] + add
  elseif pos then
    table.insert(st, pos + 2, add)
    table.insert(st, pos + 2, b)
  else
    table.insert(st, 2, add)
    table.insert(st, 2, b)
  end
  local floor = sat_sub(st[1], nb + late)
  if floor > 0 then
    while #st >= 3 and st[2] <= floor do
      table.remove(st, 2)
      table.remove(st, 2)
    end
  end
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

local function set(k, kind, update, b0, nb, late, v, keep)
  local st = load(k)
  if v == nil then
    if kind == 'd' then
      if st then return set_count(st, seen_from(st, b0, late), nb) end
      return 0
    end
    return nil
  end
  if not update then
    if kind == 'f' then
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
    local kept = {st[1]}
    for i = 2, #st - 1, 2 do
      if st[i + 1] > floor then
        kept[#kept + 1] = st[i]
        kept[#kept + 1] = st[i + 1]
      end
    end
    st = kept
  end
  save(k, st, keep)
  if kind == 'f' then
    if first then return 1 end
    return 0
  end
  return set_count(st, b, nb)
end

if ARGV[2] ~= '' then
  local ck = KEYS[#KEYS]
  if not redis.call('SET', ck, ARGV[2], 'NX', 'PX', tonumber(ARGV[3])) then
    return {'taken', redis.call('GET', ck) or ''}
  end
end

local out = {'ok'}
for i = 0, tonumber(ARGV[1]) - 1 do
  local a = 4 + i * 10
  local kind = ARGV[a]
  local upd, rd = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local b0, nb, late = tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5]), tonumber(ARGV[a + 6])
  local add, v = nil, nil
  if ARGV[a + 7] ~= '' then add = tonumber(ARGV[a + 7]) end
  if ARGV[a + 8] ~= '' then v = tonumber(ARGV[a + 8]) end
  local keep = tonumber(ARGV[a + 9])
  local function run(k, update)
    if kind == 'c' or kind == 's' then return window(k, update, b0, nb, late, add, keep) end
    return set(k, kind, update, b0, nb, late, v, keep)
  end
  local r = nil
  if upd > 0 then
    local u = run(KEYS[upd], true)
    if ARGV[a + 3] == '1' then r = u end
  end
  if rd > 0 then r = run(KEYS[rd], false) end
  if r == nil then out[#out + 1] = '' else out[#out + 1] = string.format('%.0f', r) end
end

local h = 4 + tonumber(ARGV[1]) * 10
if ARGV[h] == '1' then
  local pk, sk = tonumber(ARGV[h + 1]), tonumber(ARGV[h + 2])
  local at, day, spend, forget = tonumber(ARGV[h + 3]), tonumber(ARGV[h + 4]), tonumber(ARGV[h + 5]), tonumber(ARGV[h + 6])
  local first = ''
  if pk > 0 then
    local p = load(KEYS[pk])
    if p then
      first = string.format('%.0f', p[1])
      if at < p[1] then p[1] = at end
      if at > p[2] then p[2] = at end
    else
      p = {at, at}
    end
    save(KEYS[pk], p, forget)
  end
  local spent = 0
  if sk > 0 then
    local d = load(KEYS[sk])
    if d and d[1] == day then spent = d[2] end
    if spend > 0 then save(KEYS[sk], {day, spent + spend}, 2 * 86400000) end
  end
  out[#out + 1] = first
  out[#out + 1] = string.format('%.0f', spent)
end
return out
