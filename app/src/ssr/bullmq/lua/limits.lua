-- Sets or removes a queue's global concurrency and rate limit in its `meta` hash, as BullMQ's
-- setGlobalConcurrency / removeGlobalConcurrency / setGlobalRateLimit / removeGlobalRateLimit
-- do, in one step; then reads them back.
-- KEYS[1] meta
-- ARGV[1] concurrency: '' unchanged, '-' remove, else the value
-- ARGV[2] rate limit max: '' unchanged, '-' remove (max and duration), else the value
-- ARGV[3] rate limit duration (ms), with a value in ARGV[2]
-- Returns {0} when the queue is gone, else {1, concurrency, max, duration} (false when unset).
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {0}
end
if ARGV[1] == '-' then
  redis.call('HDEL', KEYS[1], 'concurrency')
elseif ARGV[1] ~= '' then
  redis.call('HSET', KEYS[1], 'concurrency', ARGV[1])
end
if ARGV[2] == '-' then
  redis.call('HDEL', KEYS[1], 'max', 'duration')
elseif ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], 'max', ARGV[2], 'duration', ARGV[3])
end
local now = redis.call('HMGET', KEYS[1], 'concurrency', 'max', 'duration')
return {1, now[1], now[2], now[3]}
