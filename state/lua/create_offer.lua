-- KEYS: offer, alert index, unposted index, then one offer index per
--       item key
-- ARGV: offer id, record, ttl ms, score, offers kept per key, "1" if the
--       offer has no message in Slack yet
local want = {KEYS[1], 'string', KEYS[2], 'string', KEYS[3], 'zset'}
for i = 4, #KEYS do table.insert(want, KEYS[i]); table.insert(want, 'zset') end
local bad = mistyped(want)
if bad then return {'corrupt', bad} end
local cur = redis.call('GET', KEYS[1])
if cur then return {'exists'} end
local other = redis.call('GET', KEYS[2])
if other then return {'answered', other} end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
if ARGV[6] == '1' then
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
  redis.call('PEXPIRE', KEYS[3], ARGV[3])
end
for i = 4, #KEYS do
  redis.call('ZADD', KEYS[i], ARGV[4], ARGV[1])
  redis.call('ZREMRANGEBYRANK', KEYS[i], 0, -1 - tonumber(ARGV[5]))
  redis.call('PEXPIRE', KEYS[i], ARGV[3])
end
return {'ok'}
