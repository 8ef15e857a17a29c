-- Compare-and-set of the states ansim nodes compute: each key is written only if it still holds
-- the version the node read (the first 8 bytes of its value, a token each write makes anew;
-- '' when the key was absent), so no other node's write between the read and this call is lost.
-- Keys are checked one by one (a state depends on its own key only); a key that changed is
-- left alone and returned with its current value, for the node to compute again from it.
--
-- KEYS: the keys. ARGV: three per key: the token read ('' = absent), the new value, and what to
-- do: a lifetime in ms > 0 writes the value with it, 0 only checks the key (a state that was
-- read and not changed, so the answers read from it are still current), < 0 deletes it.
-- Returns {index, current value or false, ...} for each key that had changed.
local changed = {}
for i = 1, #KEYS do
  local cur = redis.call('GET', KEYS[i])
  local token = ''
  if cur then token = string.sub(cur, 1, 8) end
  local a = 3 * i - 2
  if token ~= ARGV[a] then
    changed[#changed + 1] = i
    changed[#changed + 1] = cur
  else
    local life = tonumber(ARGV[a + 2])
    if life > 0 then
      redis.call('SET', KEYS[i], ARGV[a + 1], 'PX', life)
    elseif life < 0 then
      redis.call('DEL', KEYS[i])
    end
  end
end
return changed
