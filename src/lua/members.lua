-- A batch that changes who is in the room: the entry (KEYS[1]; ARGV: 1 MAXLEN, 2 origin,
-- 3 the first event's sequence number, 4 the events), and this node's member set (KEYS[2])
-- changed with it atomically, in order (ARGV[5...]): "+NAME" added, "-NAME" taken out,
-- ">OLD\nNEW" renamed in its place. The set is sorted by place in the order of arrival,
-- drawn from the room's counter (KEYS[3]), so that whoever sweeps a dead node's members
-- finds exactly those the stream has in the room, and a node that loads the room
-- (snapshot.lua) finds them in order.
local id = redis.call('xadd', KEYS[1], 'maxlen', '~', ARGV[1], '*', 'o', ARGV[2], 's', ARGV[3], 'e', ARGV[4])
for i = 5, #ARGV do
  local op, name = ARGV[i]:sub(1, 1), ARGV[i]:sub(2)
  if op == '+' then
    redis.call('zadd', KEYS[2], 'nx', redis.call('incr', KEYS[3]), name)
  elseif op == '-' then
    redis.call('zrem', KEYS[2], name)
  else
    local old, new = name:match('^([^\n]*)\n(.*)$')
    local place = redis.call('zscore', KEYS[2], old)
    if place then
      redis.call('zrem', KEYS[2], old)
      redis.call('zadd', KEYS[2], place, new)
    end
  end
end
return id
