-- Pauses a BullMQ queue the way BullMQ itself does, atomically.
-- KEYS: 1 meta, 2 wait, 3 paused, 4 marker, 5 events
-- ARGV: 1 mode ("v5": the wait list moves to `paused`, as BullMQ 5 does; "v6": flag only)
-- Returns 1 when the queue was paused now, 0 when it already was (idempotent, no event).
local meta, wait, paused, marker, events = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
if redis.call('HEXISTS', meta, 'paused') == 1 then
  return 0
end
redis.call('HSET', meta, 'paused', 1)
if ARGV[1] == 'v5' and redis.call('EXISTS', wait) == 1 then
  if redis.call('EXISTS', paused) == 0 then
    redis.call('RENAME', wait, paused)
  else
    -- Both lists exist (left by an earlier inconsistency): append wait's jobs to paused's tail
    -- in their head-to-tail order, so the oldest still runs first; batches keep unpack small.
    while true do
      local batch = redis.call('LRANGE', wait, 0, 999)
      if #batch == 0 then break end
      redis.call('RPUSH', paused, unpack(batch))
      redis.call('LTRIM', wait, #batch, -1)
    end
    redis.call('DEL', wait)
  end
end
redis.call('DEL', marker)
local max_len = redis.call('HGET', meta, 'opts.maxLenEvents') or 10000
redis.call('XADD', events, 'MAXLEN', '~', max_len, '*', 'event', 'paused')
return 1
