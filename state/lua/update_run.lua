-- KEYS: run, lock of its key, active set, thread index, run's audit
--       stream, heads
-- ARGV: run id, record, expected version, schema, "1" if the new phase is
--       active, retention ms, thread channel, thread ts, thread score,
--       environment, api user, application, head
local bad = mistyped({KEYS[1], 'string', KEYS[2], 'string', KEYS[3], 'set', KEYS[4], 'zset', KEYS[5], 'stream', KEYS[6], 'hash'})
if bad then return {'corrupt', bad} end
local cur = redis.call('GET', KEYS[1])
if not cur then return {'missing'} end
local rec = decode(cur, tonumber(ARGV[4]))
if not rec or type(rec.key) ~= 'table' or type(rec.thread) ~= 'table' then
  return {'corrupt', KEYS[1]}
end
if rec.version ~= tonumber(ARGV[3]) then
  return {'conflict', tostring(rec.version)}
end
local k = rec.key
if k.environment ~= ARGV[10] or k.api_user ~= ARGV[11] or k.application ~= ARGV[12] then
  return {'key'}
end
local oldc, oldt = rec.thread.channel or '', rec.thread.ts or ''
-- A thread is placed once it has a ts; before that only its channel is
-- fixed.
if (oldc ~= '' and oldc ~= ARGV[7]) or (oldt ~= '' and oldt ~= ARGV[8]) then
  return {'thread'}
end
local wasActive = redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1
local active = ARGV[5] == '1'
if active and not wasActive then return {'ended'} end

local hasThread = ARGV[7] ~= '' and ARGV[8] ~= ''
if hasThread and oldt == '' then
  redis.call('ZADD', KEYS[4], ARGV[9], ARGV[1])
end
if active then
  redis.call('SET', KEYS[1], ARGV[2])
  redis.call('HSET', KEYS[6], ARGV[1], ARGV[13])
  if hasThread then redis.call('PERSIST', KEYS[4]) end
  return {'ok'}
end

redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[6])
redis.call('HDEL', KEYS[6], ARGV[1])
if redis.call('EXISTS', KEYS[5]) == 1 then redis.call('PEXPIRE', KEYS[5], ARGV[6]) end
if wasActive then
  if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
  redis.call('SREM', KEYS[3], ARGV[1])
end
if hasThread then
  -- The index outlives its last active run by the retention time.
  local busy = false
  for _, id in ipairs(redis.call('ZRANGE', KEYS[4], 0, -1)) do
    if redis.call('SISMEMBER', KEYS[3], id) == 1 then busy = true break end
  end
  if not busy then redis.call('PEXPIRE', KEYS[4], ARGV[6]) end
end
return {'ok'}
