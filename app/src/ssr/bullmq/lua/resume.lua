-- Resumes a BullMQ queue (v5 and v6 alike), atomically.
-- KEYS: 1 meta, 2 wait, 3 paused, 4 marker, 5 events, 6 prioritized, 7 delayed
-- Returns 1 when the queue was resumed now, 0 when it was not paused (idempotent, no event).
local meta, wait, paused, marker, events = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local prioritized, delayed = KEYS[6], KEYS[7]
if redis.call('HEXISTS', meta, 'paused') == 0 then
  return 0
end
redis.call('HDEL', meta, 'paused')
if redis.call('EXISTS', paused) == 1 then
  if redis.call('EXISTS', wait) == 0 then
    redis.call('RENAME', paused, wait)
  else
    -- Append the paused jobs to wait's tail in head-to-tail order: nothing is overwritten.
    while true do
      local batch = redis.call('LRANGE', paused, 0, 999)
      if #batch == 0 then break end
      redis.call('RPUSH', wait, unpack(batch))
      redis.call('LTRIM', paused, #batch, -1)
    end
    redis.call('DEL', paused)
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
local max_len = redis.call('HGET', meta, 'opts.maxLenEvents') or 10000
redis.call('XADD', events, 'MAXLEN', '~', max_len, '*', 'event', 'resumed')
return 1
