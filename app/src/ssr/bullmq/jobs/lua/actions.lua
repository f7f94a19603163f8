-- Prepended to the action scripts (after parent.lua and state.lua): how BullMQ puts a job back
-- in line.

-- What one script run learns about a queue once (its event cap, whether it takes jobs, whether
-- its workers were woken): a bulk batch acts on many jobs of one queue and changes none of it.
local queue_facts = {}

-- The events stream's cap, as BullMQ keeps it in `meta` (set to 10,000 when missing).
local function max_events(meta)
  local known = queue_facts[meta .. '|max']
  if known then
    return known
  end
  local max_len = redis.call('HGET', meta, 'opts.maxLenEvents')
  if not max_len then
    max_len = 10000
    redis.call('HSET', meta, 'opts.maxLenEvents', max_len)
  end
  queue_facts[meta .. '|max'] = max_len
  return max_len
end

-- Whether the queue takes no job now: paused, or at its global concurrency.
local function paused_or_maxed(base)
  local known = queue_facts[base .. '|held']
  if known ~= nil then
    return known
  end
  local held = false
  local meta = redis.call('HMGET', base .. 'meta', 'paused', 'concurrency')
  if meta[1] then
    held = true
  elseif meta[2] then
    held = redis.call('LLEN', base .. 'active') >= tonumber(meta[2])
  end
  queue_facts[base .. '|held'] = held
  return held
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
  if not held and not queue_facts[base .. '|woken'] then
    redis.call('ZADD', base .. 'marker', 0, '0')
    queue_facts[base .. '|woken'] = true
  end
  return state
end
