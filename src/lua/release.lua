-- Deletes a name's key (KEYS[1]) only if its holder (ARGV[1]) still has it.
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
