-- One batch of a search: looks at up to ARGV[5] jobs of one state from position ARGV[4]
-- (newest first), matching each against the query inside Redis, so only matches travel.
-- KEYS: 1 the state's key; ARGV: 1 the queue's key base, 2 kind ("list" | "zset"),
-- 3 order ("desc" | "asc"), 4 start position, 5 batch size, 6 the query (JSON, see
-- `jobs::query::Query::to_script`), 7 the most matches wanted.
-- Returns {position after the last job looked at, jobs looked at, matching ids…}.
local key, base, kind, desc = KEYS[1], ARGV[1], ARGV[2], ARGV[3] == 'desc'
local start, batch, wanted = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[7])
local q = cjson.decode(ARGV[6])

local ids
if kind == 'zset' then
  if desc then
    ids = redis.call('ZREVRANGE', key, start, start + batch - 1)
  else
    ids = redis.call('ZRANGE', key, start, start + batch - 1)
  end
else
  if desc then
    ids = redis.call('LRANGE', key, start, start + batch - 1)
  else
    local length = redis.call('LLEN', key)
    local chunk = redis.call('LRANGE', key, math.max(0, length - start - batch), length - start - 1)
    ids = {}
    for i = #chunk, 1, -1 do
      ids[#ids + 1] = chunk[i]
    end
  end
end

-- Whether `path` (keys from the root) lies under a redacted path: never matched on.
local function redacted(path)
  for _, masked in ipairs(q.redact) do
    if #masked <= #path then
      local under = true
      for i = 1, #masked do
        if masked[i] ~= path[i] then
          under = false
          break
        end
      end
      if under then
        return true
      end
    end
  end
  return false
end

-- A leaf as lower-case text; nil for objects, arrays and null.
local function text(value)
  local t = type(value)
  if t == 'string' then
    return string.lower(value)
  elseif t == 'number' or t == 'boolean' then
    return string.lower(tostring(value))
  end
  return nil
end

-- Whether a leaf at `path` (below `node`, arrays walked through) matches the pattern.
local function at_path(node, path, i, pattern)
  if type(node) ~= 'table' then
    if i <= #path then
      return false
    end
    local leaf = text(node)
    return leaf ~= nil and string.find(leaf, pattern) ~= nil
  end
  if node[1] ~= nil or next(node) == nil then
    -- An array (or empty): each element stands at the same path.
    for _, element in ipairs(node) do
      if at_path(element, path, i, pattern) then
        return true
      end
    end
    if i > #path then
      return false
    end
  end
  if i > #path then
    return false
  end
  local child = node[path[i]]
  if child == nil then
    return false
  end
  return at_path(child, path, i + 1, pattern)
end

-- Whether any leaf not under a redacted path contains `needle`.
local function contains(node, path, needle)
  if redacted(path) then
    return false
  end
  if type(node) == 'table' then
    for k, v in pairs(node) do
      local below = {unpack(path)}
      if type(k) == 'string' then
        below[#below + 1] = k
      end
      if contains(v, below, needle) then
        return true
      end
    end
    return false
  end
  local leaf = text(node)
  return leaf ~= nil and string.find(leaf, needle, 1, true) ~= nil
end

local function decoded(raw)
  if not raw then
    return nil
  end
  local ok, value = pcall(cjson.decode, raw)
  if ok then
    return value
  end
  return raw
end

local function matches(id)
  if q.id and id ~= q.id then
    return false
  end
  local f = redis.call('HMGET', base .. id, 'timestamp', 'name', 'data', 'failedReason',
    'stacktrace', 'returnvalue')
  if not f[1] then
    return false
  end
  local name = string.lower(f[2] or '')
  if q.name and not string.find(name, q.name) then
    return false
  end
  local data = nil
  if #q.data > 0 or #q.free > 0 then
    data = decoded(f[3])
  end
  for _, term in ipairs(q.data) do
    if redacted(term.path) or not at_path(data, term.path, 1, term.pattern) then
      return false
    end
  end
  local failure = nil
  if q.failed or #q.free > 0 then
    failure = string.lower((f[4] or '') .. '\n' .. (f[5] or ''))
  end
  if q.failed and not string.find(failure, q.failed, 1, true) then
    return false
  end
  if q.returned then
    if not contains(decoded(f[6]), {}, q.returned) then
      return false
    end
  end
  for _, needle in ipairs(q.free) do
    local found = string.find(string.lower(id), needle, 1, true) or string.find(name, needle, 1, true)
      or string.find(failure, needle, 1, true) or contains(data, {}, needle)
    if not found then
      return false
    end
  end
  return true
end

local out = {start, 0}
local looked = 0
for _, id in ipairs(ids) do
  looked = looked + 1
  if string.sub(id, 1, 2) ~= '0:' and matches(id) then
    out[#out + 1] = id
    if #out - 2 >= wanted then
      break
    end
  end
end
out[1] = start + looked
out[2] = looked
return out
