-- The lease tick of one node. ARGV: 1 its origin, 2 the key prefix (the stream's key),
-- 3 the lease in ms, 4 the stream's MAXLEN, 5 "1" if it may sweep, 6 "1" if its members
-- follow, then a holder for each name key in KEYS, then its members.
--
-- It renews the names as hold.lua does (a key a Redis lost comes back; one another took
-- meanwhile is counted), its liveness key and registration, and, given its members, sets
-- its member set to exactly those (in the room, or with their arrival sent: every batch
-- sent before this command has run, and the batches after it change the set from there,
-- in order). The first tick after a reconnect, before batches in flight are sent again,
-- cannot know which of them had run, and leaves the set alone. A set it had to correct
-- (Redis lost its data, or was restored from an older copy) is said in the stream as this
-- node's census, an entry of field c whose events are its members' arrivals in order,
-- which every node's roster takes as the whole of this node's members at that place in
-- the order. A node that was swept learns it first, and takes nothing back: it must stop,
-- and its members must not be swept (and told to leave) a second time.
--
-- Then, if it may, it sweeps each registered node whose liveness key is gone: the leaves
-- of that node's members go to the stream as one entry of origin "ORIGIN/swept" whose
-- field x names the dead node (whose later entries nobody applies), its member set,
-- registration and members' names go, and a marker tells the node, should it come back,
-- that it was swept. All in one step, so one survivor sweeps, and a lost reply loses
-- nothing. Returns {names held by others, this node was swept, {origin, count}...}.
local me, p, px, maxlen, may_sweep, exact, n = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], #KEYS
if redis.call('exists', p .. ':swept:' .. me) == 1 then
  return {0, 1}
end
local taken = 0
for i, k in ipairs(KEYS) do
  local v = redis.call('get', k)
  if not v or v == ARGV[6 + i] then
    redis.call('set', k, ARGV[6 + i], 'px', px)
  else
    taken = taken + 1
  end
end
redis.call('set', p .. ':node:' .. me, '1', 'px', px)
redis.call('sadd', p .. ':nodes', me)
local mine, want, changed = p .. ':members:' .. me, {}, false
if exact == '1' then
  for i = 7 + n, #ARGV do
    want[ARGV[i]] = true
  end
  for _, m in ipairs(redis.call('zrange', mine, 0, -1)) do
    if want[m] then
      want[m] = nil
    else
      redis.call('zrem', mine, m)
      changed = true
    end
  end
  for i = 7 + n, #ARGV do
    if want[ARGV[i]] then
      redis.call('zadd', mine, redis.call('incr', p .. ':arrivals'), ARGV[i])
      changed = true
    end
  end
end
if changed then
  local census = {}
  for _, m in ipairs(redis.call('zrange', mine, 0, -1)) do
    table.insert(census, encode_event('a', m, ''))
  end
  redis.call('xadd', p, 'maxlen', '~', maxlen, '*', 'o', me, 's', '0', 'e', table.concat(census), 'c', '1')
end
local out = {taken, 0}
if may_sweep ~= '1' then
  return out
end
for _, o in ipairs(redis.call('smembers', p .. ':nodes')) do
  if redis.call('exists', p .. ':node:' .. o) == 0 then
    local ms = redis.call('zrange', p .. ':members:' .. o, 0, -1)
    local events = {}
    for _, m in ipairs(ms) do
      table.insert(events, encode_event('l', m, ''))
      local k = p .. ':name:' .. m
      local v = redis.call('get', k)
      if v and v:sub(1, #o + 1) == o .. '/' then
        redis.call('del', k)
      end
    end
    redis.call('xadd', p, 'maxlen', '~', maxlen, '*', 'o', o .. '/swept', 's', '1', 'e', table.concat(events), 'x', o)
    redis.call('set', p .. ':swept:' .. o, '1', 'px', 86400000)
    redis.call('del', p .. ':members:' .. o)
    redis.call('srem', p .. ':nodes', o)
    table.insert(out, o)
    table.insert(out, #ms)
  end
end
return out
