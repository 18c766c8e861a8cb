-- A batch that changes who is in the room: the entry (KEYS[1]; ARGV: 1 MAXLEN, 2 origin,
-- 3 the first event's sequence number, 4 the events), and this node's member set (KEYS[2])
-- changed with it atomically, "+NAME" added and "-NAME" taken out in order (ARGV[5...]),
-- so that whoever sweeps a dead node's members finds exactly those the stream has in the
-- room.
local id = redis.call('xadd', KEYS[1], 'maxlen', '~', ARGV[1], '*', 'o', ARGV[2], 's', ARGV[3], 'e', ARGV[4])
for i = 5, #ARGV do
  local op, name = ARGV[i]:sub(1, 1), ARGV[i]:sub(2)
  if op == '+' then
    redis.call('sadd', KEYS[2], name)
  else
    redis.call('srem', KEYS[2], name)
  end
end
return id
