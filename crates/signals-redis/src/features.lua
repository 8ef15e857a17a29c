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
-- State per key, a string: "newest;id,v;id,v..." (window: bucket, amount; set: value, bucket),
-- items in the in-memory vector's order.
-- Returns {'ok', answer...} (answer '' = absent) or {'taken', the claim's value}.

local function sat_sub(a, b)
  if a > b then return a - b end
  return 0
end

local function load(k)
  local raw = redis.call('GET', k)
  if not raw then return nil end
  local newest, rest = string.match(raw, '^(%d+);?(.*)$')
  local items = {}
  for a, b in string.gmatch(rest, '(-?%d+),(-?%d+)') do
    items[#items + 1] = {tonumber(a), tonumber(b)}
  end
  return {newest = tonumber(newest), items = items}
end

local function save(k, st, keep)
  local parts = {string.format('%.0f', st.newest)}
  for _, it in ipairs(st.items) do
    parts[#parts + 1] = string.format('%.0f,%.0f', it[1], it[2])
  end
  redis.call('SET', k, table.concat(parts, ';'), 'PX', keep)
end

-- The bucket a late event lands in: no earlier than the tolerance allows.
local function place(st, b, late, fresh)
  if fresh then
    st.newest = b
    return b
  end
  local lo = sat_sub(st.newest, late)
  if b < lo then b = lo end
  if b > st.newest then st.newest = b end
  return b
end

local function seen_from(st, b0, late)
  local lo = sat_sub(st.newest, late)
  if lo > b0 then return lo end
  return b0
end

local function window_sum(items, b, nb)
  local s = 0
  for _, it in ipairs(items) do
    if it[1] <= b and it[1] + nb > b then s = s + it[2] end
  end
  return s
end

local function window(k, update, b0, nb, late, add, keep)
  local st = load(k)
  if add == nil or not update then
    if not st then return 0 end
    return window_sum(st.items, seen_from(st, b0, late), nb)
  end
  local fresh = (st == nil)
  if fresh then st = {newest = 0, items = {}} end
  local b = place(st, b0, late, fresh)
  local pos = nil
  for i = #st.items, 1, -1 do
    if st.items[i][1] <= b then pos = i break end
  end
  if pos and st.items[pos][1] == b then
    st.items[pos][2] = st.items[pos][2] + add
  elseif pos then
    table.insert(st.items, pos + 1, {b, add})
  else
    table.insert(st.items, 1, {b, add})
  end
  local floor = sat_sub(st.newest, nb + late)
  if floor > 0 then
    while #st.items > 0 and st.items[1][1] <= floor do table.remove(st.items, 1) end
  end
  save(k, st, keep)
  return window_sum(st.items, b, nb)
end

local function set_count(st, b, nb)
  local c = 0
  for _, it in ipairs(st.items) do
    if it[2] + nb > b then c = c + 1 end
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
        for _, it in ipairs(st.items) do
          if it[1] == v and it[2] + nb > b then return 0 end
        end
      end
      return 1
    end
    if st then return set_count(st, seen_from(st, b0, late), nb) end
    return 0
  end
  local fresh = (st == nil)
  if fresh then st = {newest = 0, items = {}} end
  local b = place(st, b0, late, fresh)
  local first = true
  local found = nil
  for _, it in ipairs(st.items) do
    if it[1] == v then
      if it[2] + nb > b then first = false end
      found = it
      break
    end
  end
  if found then
    if b > found[2] then found[2] = b end
  else
    if #st.items >= 64 then
      -- Forget the value seen least recently (the first of equals), as swap_remove does.
      local mi = 1
      for i = 2, #st.items do
        if st.items[i][2] < st.items[mi][2] then mi = i end
      end
      st.items[mi] = st.items[#st.items]
      st.items[#st.items] = nil
    end
    st.items[#st.items + 1] = {v, b}
  end
  local floor = sat_sub(st.newest, nb + late)
  if floor > 0 then
    local kept = {}
    for _, it in ipairs(st.items) do
      if it[2] > floor then kept[#kept + 1] = it end
    end
    st.items = kept
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
return out
