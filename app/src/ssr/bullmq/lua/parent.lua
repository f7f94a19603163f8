-- Shared by clear.lua and retry.lua (prepended to them): what BullMQ does to a job's parent
-- when the job is removed. The job leaves the parent's `:dependencies`; if that was the
-- parent's last pending child and the parent waits for its children, the parent moves on:
-- * "hard" (Queue.clean's way): a parent in the same queue is removed too (and, the same way,
--   from its own parent); a parent in another queue moves to wait, without an event;
-- * "soft" (Job.remove's way): the parent moves to wait and its queue gets a `waiting` event.
-- A parent moves to its queue's `wait` (a BullMQ 5 queue's `paused` list while paused), and its
-- workers are woken unless the queue is paused or at its global concurrency.

local function job_id_of(key)
  return string.match(key, '.*:(.*)')
end

local function move_parent_to_wait(parent_base, parent_id, emit)
  local meta = redis.call('HMGET', parent_base .. 'meta', 'paused', 'concurrency', 'version',
    'opts.maxLenEvents')
  local paused, concurrency, version = meta[1], meta[2], meta[3]
  local held = false
  if paused then
    held = true
  elseif concurrency then
    held = redis.call('LLEN', parent_base .. 'active') >= tonumber(concurrency)
  end
  local target = parent_base .. 'wait'
  local v6 = version and string.match(version, '^bullmq:(%d+)')
  if paused and not (v6 and tonumber(v6) >= 6) then
    target = parent_base .. 'paused'
  end
  redis.call('RPUSH', target, parent_id)
  if not held then
    redis.call('ZADD', parent_base .. 'marker', 0, '0')
  end
  if emit then
    redis.call('XADD', parent_base .. 'events', 'MAXLEN', '~', meta[4] or 10000, '*',
      'event', 'waiting', 'jobId', parent_id, 'prev', 'waiting-children')
  end
end

local function remove_job_keys(job)
  redis.call('DEL', job, job .. ':logs', job .. ':dependencies', job .. ':processed',
    job .. ':failed', job .. ':unsuccessful')
end

-- Unlinks `job` (a full job key) of the queue whose key base is `base` from its parent.
local function unlink_from_parent(job, base, hard)
  local parent = redis.call('HGET', job, 'parentKey')
  if (not parent) or parent == '' or redis.call('EXISTS', parent) == 0 then
    return
  end
  local dependencies = parent .. ':dependencies'
  if redis.call('SREM', dependencies, job) == 0 or redis.call('SCARD', dependencies) > 0 then
    return
  end
  local parent_id = job_id_of(parent)
  local parent_base = string.sub(parent, 1, #parent - #parent_id)
  if redis.call('ZREM', parent_base .. 'waiting-children', parent_id) ~= 1 then
    return
  end
  if hard and parent_base == base then
    unlink_from_parent(parent, base, hard)
    remove_job_keys(parent)
  else
    move_parent_to_wait(parent_base, parent_id, not hard)
  end
end

-- Removes a job's deduplication keys if they still point at it.
local function release_dedup(job, base, id)
  local dedup_id = redis.call('HGET', job, 'deid')
  if dedup_id and redis.call('GET', base .. 'de:' .. dedup_id) == id then
    redis.call('DEL', base .. 'de:' .. dedup_id, base .. 'dn:' .. dedup_id)
  end
end
