-- KEYS: offer, alert index, unposted index, then one offer index per
--       item key
-- ARGV: offer id, record, expected version, schema, ttl ms, score,
--       alert channel, alert ts, "1" if the offer has no message in Slack
local want = {KEYS[1], 'string', KEYS[2], 'string', KEYS[3], 'zset'}
for i = 4, #KEYS do table.insert(want, KEYS[i]); table.insert(want, 'zset') end
local bad = mistyped(want)
if bad then return {'corrupt', bad} end
local cur = redis.call('GET', KEYS[1])
if not cur then return {'missing'} end
local rec = decode(cur, tonumber(ARGV[4]))
if not rec or type(rec.alert) ~= 'table' then return {'corrupt', KEYS[1]} end
if rec.version ~= tonumber(ARGV[3]) then
  return {'conflict', tostring(rec.version)}
end
if rec.alert.channel ~= ARGV[7] or rec.alert.ts ~= ARGV[8] then
  return {'alert'}
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[5])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[5])
if ARGV[9] ~= '1' then redis.call('ZREM', KEYS[3], ARGV[1]) end
for i = 4, #KEYS do
  redis.call('ZADD', KEYS[i], ARGV[6], ARGV[1])
  redis.call('PEXPIRE', KEYS[i], ARGV[5])
end
return {'ok'}
