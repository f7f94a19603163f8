-- Prepended to the action scripts (after parent.lua and state.lua): how BullMQ puts a job back
-- in line.

-- The events stream's cap, as BullMQ keeps it in `meta` (set to 10,000 when missing).
local function max_events(meta)
  local max_len = redis.call('HGET', meta, 'opts.maxLenEvents')
  if not max_len then
    max_len = 10000
    redis.call('HSET', meta, 'opts.maxLenEvents', max_len)
  end
  return max_len
end

-- Whether the queue takes no job now: paused, or at its global concurrency.
local function paused_or_maxed(base)
  local meta = redis.call('HMGET', base .. 'meta', 'paused', 'concurrency')
  if meta[1] then
    return true
  end
  if meta[2] then
    return redis.call('LLEN', base .. 'active') >= tonumber(meta[2])
  end
  return false
end

-- Puts job `id` in line as BullMQ `mode` does: v6 by its priority (`prioritized` with a
-- fresh counter, or pushed on `wait`), v5 pushed on its target list (`paused` while paused)
-- whatever its priority when `v5_ignores_priority`; then wakes the workers unless the queue
-- is paused or maxed. Returns the state it is in now.
local function enqueue(base, id, push, mode, v5_ignores_priority)
  local held = paused_or_maxed(base)
  local priority = tonumber(redis.call('HGET', base .. id, 'priority')) or 0
  local target = base .. 'wait'
  if mode == 'v5' and redis.call('HEXISTS', base .. 'meta', 'paused') == 1 then
    target = base .. 'paused'
  end
  local state = 'waiting'
  if priority > 0 and not (mode == 'v5' and v5_ignores_priority) then
    local counter = redis.call('INCR', base .. 'pc')
    redis.call('ZADD', base .. 'prioritized', priority * 4294967296 + counter % 4294967296, id)
    state = 'prioritized'
  else
    redis.call(push, target, id)
  end
  if not held then
    redis.call('ZADD', base .. 'marker', 0, '0')
  end
  return state
end
