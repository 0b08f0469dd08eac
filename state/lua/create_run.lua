-- KEYS: run, lock of its key, active set, thread index, heads
-- ARGV: run id, record, thread score, "1" if it has a thread, run key
--       prefix, head
local bad = mistyped({KEYS[1], 'string', KEYS[2], 'string', KEYS[3], 'set', KEYS[4], 'zset', KEYS[5], 'hash'})
if bad then return {'corrupt', bad} end
local cur = redis.call('GET', KEYS[1])
if cur then return {'exists'} end
local holder = redis.call('GET', KEYS[2])
if holder then
  -- The holder's key shares the hash tag, so it is in this slot.
  if redis.call('EXISTS', ARGV[5] .. holder) == 1 then
    return {'locked', holder}
  end
  -- A lock whose run is gone (deleted, evicted) guards nothing.
  redis.call('SREM', KEYS[3], holder)
  redis.call('HDEL', KEYS[5], holder)
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('HSET', KEYS[5], ARGV[1], ARGV[6])
if ARGV[4] == '1' then
  redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
  redis.call('PERSIST', KEYS[4])
end
return {'ok'}
