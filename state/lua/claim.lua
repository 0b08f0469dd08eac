-- KEYS: lease. ARGV: owner, ttl ms, and the owner's name followed by '#'
-- when the owner is name#incarnation (else ''): another incarnation of
-- the same name (or the name alone) is a restart of the same process,
-- whose lease is taken at once.
local cur = redis.call('GET', KEYS[1])
local sameName = cur and ARGV[3] ~= '' and cur ~= ARGV[1] and
  (string.sub(cur, 1, #ARGV[3]) == ARGV[3] or cur .. '#' == ARGV[3])
if not cur or sameName then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
