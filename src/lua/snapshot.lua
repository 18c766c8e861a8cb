-- The room as Redis holds it, in one atomic read (KEYS[1]: the stream, which is also the
-- keys' prefix): the stream's state (XINFO STREAM's reply, or 0 while there is no stream)
-- and, for each registered node, its members with their place in the order of arrival,
-- {info, origin, name, place, origin, name, place, ...}. A node loads the roster from
-- it and applies what the stream says after that state, so it misses no change and
-- counts none twice.
local p = KEYS[1]
local out = {0}
if redis.call('exists', p) == 1 then
  out[1] = redis.call('xinfo', 'stream', p)
end
for _, o in ipairs(redis.call('smembers', p .. ':nodes')) do
  local ms = redis.call('zrange', p .. ':members:' .. o, 0, -1, 'withscores')
  for i = 1, #ms, 2 do
    table.insert(out, o)
    table.insert(out, ms[i])
    table.insert(out, ms[i + 1])
  end
end
return out
