-- KEYS: batch, active batches set
-- ARGV: batch id, record
local bad = mistyped({KEYS[1], 'string', KEYS[2], 'set'})
if bad then return {'corrupt', bad} end
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists'} end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
return {'ok'}
