-- KEYS: name. ARGV: incarnation, ttl ms. Keeps the name for the
-- incarnation holding it, takes it back if it lapsed (nobody took it),
-- and reports 0 if another incarnation holds it.
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
