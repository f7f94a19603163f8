-- Jobs per priority: priority 0 is the `wait` list; the others are counted in `prioritized`,
-- whose score is priority × 2^32 + a counter, one ZCOUNT per distinct priority.
-- KEYS: 1 wait, 2 prioritized; ARGV: 1 the most distinct priorities returned.
-- Returns {truncated (0/1), priority, count, priority, count, …}.
local most = tonumber(ARGV[1])
local out = {0}
local waiting = redis.call('LLEN', KEYS[1])
if waiting > 0 then
  out[#out + 1] = 0
  out[#out + 1] = waiting
end
local span = 4294967296
-- Scores as exact integers (Lua would print a large number in exponent form).
local function exact(n)
  return string.format('%.0f', n)
end
local from = 0
local found = 0
while true do
  local next = redis.call('ZRANGEBYSCORE', KEYS[2], exact(from), '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if #next == 0 then
    break
  end
  if found >= most then
    out[1] = 1
    break
  end
  local priority = math.floor(tonumber(next[2]) / span)
  local count = redis.call('ZCOUNT', KEYS[2], exact(priority * span), exact((priority + 1) * span - 1))
  out[#out + 1] = priority
  out[#out + 1] = count
  found = found + 1
  from = (priority + 1) * span
end
return out
