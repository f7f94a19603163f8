-- A playbook's action on one stuck job, only if it is still active and no worker holds its lock
-- (checked here, in the same atomic step as the action).
-- KEYS: 1 the queue's meta.
-- ARGV: 1 the queue's key base, 2 job id, 3 'wait' | 'fail' ('retry' only for a dry run: the
-- retry itself is retry.lua's), 4 the failed reason, 5 now (ms),
-- 6 mode ('v5' | 'v6'), 7 '1' for a dry run (only say what it would do).
-- Returns 'moved' | 'failed' | 'would-move' | 'would-fail' | 'would-retry' | 'skipped-gone' |
-- 'skipped-locked'.
local base, id, action, reason, now, mode, dry =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local job = base .. id
if not redis.call('LPOS', base .. 'active', id) then
  return 'skipped-gone'
end
if redis.call('EXISTS', job .. ':lock') == 1 then
  return 'skipped-locked'
end
if dry == '1' then
  if action == 'wait' then
    return 'would-move'
  elseif action == 'retry' then
    return 'would-retry'
  end
  return 'would-fail'
end
if action ~= 'wait' and action ~= 'fail' then
  return 'skipped-unknown'
end
local max_len = redis.call('HGET', KEYS[1], 'opts.maxLenEvents') or 10000
local events = base .. 'events'
redis.call('LREM', base .. 'active', 0, id)
if action == 'wait' then
  -- As BullMQ's stalled check: the stalled counter up, the job next in line (the tail of
  -- `wait`, where workers take from), or by its priority.
  redis.call('HINCRBY', job, 'stc', 1)
  local priority = tonumber(redis.call('HGET', job, 'priority') or '0') or 0
  local paused = redis.call('HEXISTS', KEYS[1], 'paused') == 1
  if priority > 0 then
    local counter = redis.call('INCR', base .. 'pc')
    redis.call('ZADD', base .. 'prioritized', priority * 4294967296 + (counter % 4294967296), id)
  elseif paused and mode == 'v5' then
    redis.call('RPUSH', base .. 'paused', id)
  else
    redis.call('RPUSH', base .. 'wait', id)
  end
  if not paused then
    redis.call('ZADD', base .. 'marker', 0, '0')
  end
  redis.call('XADD', events, 'MAXLEN', '~', max_len, '*', 'event', 'stalled', 'jobId', id)
  redis.call('XADD', events, 'MAXLEN', '~', max_len, '*', 'event', 'waiting', 'jobId', id,
    'prev', 'active')
  return 'moved'
end
redis.call('HINCRBY', job, 'atm', 1)
redis.call('HSET', job, 'failedReason', reason, 'finishedOn', now)
redis.call('ZADD', base .. 'failed', now, id)
redis.call('XADD', events, 'MAXLEN', '~', max_len, '*', 'event', 'failed', 'jobId', id,
  'failedReason', reason, 'prev', 'active')
return 'failed'
