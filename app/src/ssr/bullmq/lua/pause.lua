-- Pauses a BullMQ queue the way BullMQ itself does, one bounded step per call.
-- KEYS: 1 meta, 2 wait, 3 paused, 4 marker, 5 events
-- ARGV: 1 mode ("v5": the wait list moves to `paused`, as BullMQ 5 does; "v6": flag only),
--       2 "start" (set the flag) or "continue" (go on moving), 3 most jobs moved per call
-- Returns {1 when this call paused the queue else 0, jobs still to move (call again with
-- "continue" while > 0)}. "start" on a paused queue changes nothing (idempotent, no event);
-- "continue" stops when the queue was resumed meanwhile.
local meta, wait, paused, marker, events = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local mode, step, batch = ARGV[1], ARGV[2], tonumber(ARGV[3])
local is_paused = redis.call('HEXISTS', meta, 'paused') == 1
local changed = 0
if step == 'start' then
  if is_paused then
    return {0, 0}
  end
  redis.call('HSET', meta, 'paused', 1)
  redis.call('DEL', marker)
  local max_len = redis.call('HGET', meta, 'opts.maxLenEvents') or 10000
  redis.call('XADD', events, 'MAXLEN', '~', max_len, '*', 'event', 'paused')
  changed = 1
elseif not is_paused then
  return {0, 0}
end
if mode ~= 'v5' or redis.call('EXISTS', wait) == 0 then
  return {changed, 0}
end
if redis.call('EXISTS', paused) == 0 then
  redis.call('RENAME', wait, paused)
  return {changed, 0}
end
-- Both lists exist (left by an earlier inconsistency): append wait's jobs to paused's tail in
-- their head-to-tail order, a batch per call, so Redis serves others in between.
local jobs = redis.call('LRANGE', wait, 0, batch - 1)
if #jobs > 0 then
  redis.call('RPUSH', paused, unpack(jobs))
  redis.call('LTRIM', wait, #jobs, -1)
end
return {changed, redis.call('LLEN', wait)}
