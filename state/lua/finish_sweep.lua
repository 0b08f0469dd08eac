-- KEYS: sweep lease, last sweep. ARGV: owner, day (YYYY-MM-DD), record.
-- The record replaces the last sweep only for the lease's holder and only
-- if it is for a later day: a replica that lost its lease, or a second
-- sweep of a day, changes nothing.
local bad = mistyped({KEYS[1], 'string', KEYS[2], 'string'})
if bad then
  return {'corrupt', bad}
end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return {'lost'}
end
local cur = redis.call('GET', KEYS[2])
if cur then
  local ok, rec = pcall(cjson.decode, cur)
  if not ok or type(rec) ~= 'table' or type(rec.day) ~= 'string' then
    return {'corrupt', KEYS[2]}
  end
  if rec.day >= ARGV[2] then
    return {'done', rec.day}
  end
end
redis.call('SET', KEYS[2], ARGV[3])
return {'ok'}
