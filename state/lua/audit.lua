-- KEYS: run, run's audit stream, global audit stream
-- ARGV: retention ms, global cap, per-run cap, then field, value, ...
local bad = mistyped({KEYS[1], 'string', KEYS[2], 'stream', KEYS[3], 'stream'})
if bad then return {'corrupt', bad} end
local fields = {}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', unpack(fields))
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], '*', unpack(fields))
redis.call('PEXPIRE', KEYS[3], ARGV[1])
-- A trail lives as long as its run: forever while it is active, the
-- run's own remaining time once it ended, the retention if it is gone.
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -2 then
  redis.call('PEXPIRE', KEYS[2], ARGV[1])
elseif ttl > 0 then
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return {'ok', id}
