-- KEYS: batch, active batches set
-- ARGV: batch id, record, expected version, schema, "1" if still active,
--       ttl ms once ended
local bad = mistyped({KEYS[1], 'string', KEYS[2], 'set'})
if bad then return {'corrupt', bad} end
local cur = redis.call('GET', KEYS[1])
if not cur then return {'missing'} end
local rec = decode(cur, tonumber(ARGV[4]))
if not rec then return {'corrupt', KEYS[1]} end
if rec.version ~= tonumber(ARGV[3]) then
  return {'conflict', tostring(rec.version)}
end
if rec.ended and ARGV[5] == '1' then return {'ended'} end
if ARGV[5] == '1' then
  redis.call('SET', KEYS[1], ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[6])
  redis.call('SREM', KEYS[2], ARGV[1])
end
return {'ok'}
