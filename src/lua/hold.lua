-- Takes each name's key (KEYS[i]) for its holder (ARGV[i]) under a fresh lease
-- (ARGV[#KEYS + 1], in ms) if it is free or the holder's already, and counts those held
-- by others: 0 answers a claim with yes.
local n = 0
local px = ARGV[#KEYS + 1]
for i, k in ipairs(KEYS) do
  local v = redis.call('get', k)
  if not v or v == ARGV[i] then
    redis.call('set', k, ARGV[i], 'px', px)
  else
    n = n + 1
  end
end
return n
