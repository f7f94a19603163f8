-- Prepended to the scripts that need a job's state: BullMQ's own `getState` order.
-- `base` is the queue's key base ("prefix:queue:").
local function job_state(base, id)
  if redis.call('ZSCORE', base .. 'completed', id) then
    return 'completed'
  elseif redis.call('ZSCORE', base .. 'failed', id) then
    return 'failed'
  elseif redis.call('ZSCORE', base .. 'delayed', id) then
    return 'delayed'
  elseif redis.call('ZSCORE', base .. 'prioritized', id) then
    return 'prioritized'
  elseif redis.call('LPOS', base .. 'active', id) then
    return 'active'
  elseif redis.call('LPOS', base .. 'wait', id) then
    return 'waiting'
  elseif redis.call('LPOS', base .. 'paused', id) then
    -- BullMQ 5's paused list: `getState` calls it waiting too.
    return 'waiting'
  elseif redis.call('ZSCORE', base .. 'waiting-children', id) then
    return 'waiting-children'
  end
  return 'unknown'
end

-- Whether `key` holds a job: a hash with a job's `timestamp` (not the queue's `meta`, say).
local function is_job(key)
  return redis.call('TYPE', key).ok == 'hash' and redis.call('HEXISTS', key, 'timestamp') == 1
end
