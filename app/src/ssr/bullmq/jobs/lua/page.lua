-- One page of a state's jobs, with the fields a row shows, in one round trip.
-- KEYS: the state's keys in order (a BullMQ 5 queue's `waiting` is `wait` then `paused`)
-- ARGV: 1 key base, 2 kind ("list" | "zset"), 3 order ("desc" | "asc"), 4 page size,
--       5 cursor segment (index into KEYS, "" for the first page), 6 cursor member,
--       7 cursor score (sorted sets) or position (lists), 8 preview bytes
-- A page continues after the cursor's job: found by its rank (sorted sets) or position
-- (lists) now, so jobs added or removed elsewhere neither repeat nor skip; when that job has
-- left, a sorted set continues after its score (members of equal score by member, as Redis
-- orders them), a list at its old position.
-- Returns {total, rows, next} where each row is {segment, id, score, summary fields…} and next
-- is {segment, member, score or position} or {} at the end.
local base, kind, desc = ARGV[1], ARGV[2], ARGV[3] == 'desc'
local limit, preview = tonumber(ARGV[4]), tonumber(ARGV[8])
local cursor_segment, cursor_member, cursor_at = tonumber(ARGV[5]), ARGV[6], ARGV[7]

local total = 0
local lengths = {}
for i, key in ipairs(KEYS) do
  local n
  if kind == 'zset' then
    n = redis.call('ZCARD', key)
  else
    n = redis.call('LLEN', key)
  end
  lengths[i] = n
  total = total + n
end

local rows = {}
local last = nil

-- Collects rows from one sorted set, starting at rank `pos`; skips, while `skip_score` is
-- given, the members of that score already shown (those at or before `skip_member`).
-- Returns the rank after the last one looked at.
local function from_zset(segment, key, pos, skip_score, skip_member)
  while #rows < limit do
    local chunk
    if desc then
      chunk = redis.call('ZREVRANGE', key, pos, pos + limit * 2 - 1, 'WITHSCORES')
    else
      chunk = redis.call('ZRANGE', key, pos, pos + limit * 2 - 1, 'WITHSCORES')
    end
    if #chunk == 0 then
      return pos
    end
    for i = 1, #chunk, 2 do
      local id, score = chunk[i], chunk[i + 1]
      pos = pos + 1
      local shown = skip_score and tonumber(score) == skip_score and
        ((desc and id >= skip_member) or ((not desc) and id <= skip_member))
      if not shown then
        local fields = summary(base .. id, preview)
        if fields then
          rows[#rows + 1] = {tostring(segment), id, score, unpack(fields)}
          last = {tostring(segment), id, score}
          if #rows >= limit then
            return pos
          end
        end
      end
    end
  end
  return pos
end

-- Collects rows from one list, from position `pos` (0 = head) towards the tail (desc) or the
-- head (asc). Returns the position after the last one looked at.
local function from_list(segment, key, pos, length)
  while #rows < limit do
    local ids = {}
    if desc then
      if pos >= length then
        return pos
      end
      ids = redis.call('LRANGE', key, pos, pos + limit * 2 - 1)
    else
      if pos < 0 then
        return pos
      end
      local from = math.max(0, pos - limit * 2 + 1)
      local chunk = redis.call('LRANGE', key, from, pos)
      for i = #chunk, 1, -1 do
        ids[#ids + 1] = chunk[i]
      end
    end
    if #ids == 0 then
      return pos
    end
    for _, id in ipairs(ids) do
      local here = pos
      if desc then
        pos = pos + 1
      else
        pos = pos - 1
      end
      if not is_marker(id) then
        local fields = summary(base .. id, preview)
        if fields then
          rows[#rows + 1] = {tostring(segment), id, '', unpack(fields)}
          last = {tostring(segment), id, tostring(here)}
          if #rows >= limit then
            return pos
          end
        end
      end
    end
  end
  return pos
end

local first_segment = cursor_segment or 1
local more = false
for segment = first_segment, #KEYS do
  if #rows >= limit then
    -- Full: anything in a later segment follows.
    more = more or lengths[segment] > 0
  else
  local key = KEYS[segment]
  local resumed = segment == cursor_segment and cursor_member ~= ''
  if kind == 'zset' then
    local pos, skip_score = 0, nil
    if resumed then
      local rank
      if desc then
        rank = redis.call('ZREVRANK', key, cursor_member)
      else
        rank = redis.call('ZRANK', key, cursor_member)
      end
      if rank then
        pos = rank + 1
      else
        skip_score = tonumber(cursor_at)
        if desc then
          pos = redis.call('ZCOUNT', key, '(' .. cursor_at, '+inf')
        else
          pos = redis.call('ZCOUNT', key, '-inf', '(' .. cursor_at)
        end
      end
    end
    local after = from_zset(segment, key, pos, skip_score, cursor_member)
    more = after < lengths[segment]
  else
    local length = lengths[segment]
    local pos
    if desc then
      pos = 0
    else
      pos = length - 1
    end
    if resumed then
      local found = redis.call('LPOS', key, cursor_member)
      if found then
        if desc then
          pos = found + 1
        else
          pos = found - 1
        end
      else
        pos = tonumber(cursor_at) or pos
      end
    end
    local after = from_list(segment, key, pos, length)
    if desc then
      more = after < length
    else
      more = after >= 0
    end
  end
  end
end

local next = {}
if last and #rows >= limit and more then
  next = last
end
return {total, rows, next}
