-- Prepended to every script. Redis does not roll a script back when it
-- stops half way, so every script checks, before its first write, that
-- each key it touches is absent or of the type it expects, and names the
-- first that is not.
local function mistyped(want)
  for i = 1, #want, 2 do
    local t = redis.call('TYPE', want[i])['ok']
    if t ~= 'none' and t ~= want[i + 1] then
      return want[i]
    end
  end
  return false
end

-- decode returns the stored record if it is JSON of the expected schema
-- with a numeric version, else nil.
local function decode(raw, schema)
  local ok, rec = pcall(cjson.decode, raw)
  if not ok or type(rec) ~= 'table' or rec.schema ~= schema or type(rec.version) ~= 'number' then
    return nil
  end
  return rec
end
