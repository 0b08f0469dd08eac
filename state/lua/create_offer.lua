-- KEYS: offer, alert index, then one offer index per item key
-- ARGV: offer id, record, ttl ms, score, offers kept per key
local want = {KEYS[1], 'string', KEYS[2], 'string'}
for i = 3, #KEYS do table.insert(want, KEYS[i]); table.insert(want, 'zset') end
local bad = mistyped(want)
if bad then return {'corrupt', bad} end
local cur = redis.call('GET', KEYS[1])
if cur then return {'exists'} end
local other = redis.call('GET', KEYS[2])
if other then return {'answered', other} end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
for i = 3, #KEYS do
  redis.call('ZADD', KEYS[i], ARGV[4], ARGV[1])
  redis.call('ZREMRANGEBYRANK', KEYS[i], 0, -1 - tonumber(ARGV[5]))
  redis.call('PEXPIRE', KEYS[i], ARGV[3])
end
return {'ok'}
