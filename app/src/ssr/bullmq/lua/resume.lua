-- Resumes a BullMQ queue (v5 and v6 alike), one bounded step per call.
-- KEYS: 1 meta, 2 wait, 3 paused, 4 marker, 5 events, 6 prioritized, 7 delayed
-- ARGV: 1 "start" (clear the flag) or "continue" (go on merging), 2 most jobs moved per call
-- Returns {1 when this call resumed the queue else 0, jobs still in the legacy `paused` list
-- (call again with "continue" while > 0)}. "start" on a running queue changes nothing
-- (idempotent, no event); "continue" stops when the queue was paused again meanwhile.
local meta, wait, paused, marker, events = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local prioritized, delayed = KEYS[6], KEYS[7]
local step, batch = ARGV[1], tonumber(ARGV[2])
local is_paused = redis.call('HEXISTS', meta, 'paused') == 1
local changed = 0
if step == 'start' then
  if not is_paused then
    return {0, 0}
  end
  redis.call('HDEL', meta, 'paused')
  changed = 1
elseif is_paused then
  return {0, 0}
end
local left = 0
if redis.call('EXISTS', paused) == 1 then
  if redis.call('EXISTS', wait) == 0 then
    redis.call('RENAME', paused, wait)
  else
    -- Append the paused jobs to wait's tail in head-to-tail order, a batch per call: nothing
    -- is overwritten, and Redis serves others in between.
    local jobs = redis.call('LRANGE', paused, 0, batch - 1)
    if #jobs > 0 then
      redis.call('RPUSH', wait, unpack(jobs))
      redis.call('LTRIM', paused, #jobs, -1)
    end
    left = redis.call('LLEN', paused)
  end
end
-- Wake the workers: "jobs ready now", or "next delayed job due at …".
if redis.call('LLEN', wait) > 0 or redis.call('ZCARD', prioritized) > 0 then
  redis.call('ZADD', marker, 0, '0')
else
  local first = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
  if first[2] then
    redis.call('ZADD', marker, math.floor(tonumber(first[2]) / 4096), '1')
  end
end
if changed == 1 then
  local max_len = redis.call('HGET', meta, 'opts.maxLenEvents') or 10000
  redis.call('XADD', events, 'MAXLEN', '~', max_len, '*', 'event', 'resumed')
end
return {changed, left}
