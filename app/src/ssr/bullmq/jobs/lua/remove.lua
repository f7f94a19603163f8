-- A job removed as BullMQ's `job.remove()` does: refused while it (or, when its children go
-- too, any of theirs) is locked by a worker, or when it is a job scheduler's next run; else out
-- of whatever state it is in, with its keys, its children (pending, processed and failed, in
-- any queue; unless ARGV[3] is "0"), its deduplication key, its parent moving on as BullMQ's
-- removal moves it (parent.lua, "soft"), a `removed` event.
-- KEYS: 1 the job's hash; ARGV: 1 the queue's key base, 2 the job id, 3 remove children.
-- Returns {1, state before}, {-1} when there is no such job, {0, state} when locked, {-8}
-- when it is a scheduler's next run.
local job, base, id, with_children = KEYS[1], ARGV[1], ARGV[2], ARGV[3] == '1'
if not is_job(job) then
  return {-1}
end
local scheduler = redis.call('HGET', job, 'rjk')
if scheduler then
  local millis = redis.call('ZSCORE', base .. 'repeat', scheduler)
  if millis and id == 'repeat:' .. scheduler .. ':' .. millis then
    return {-8}
  end
end

local function split(key)
  local child_id = job_id_of(key)
  return string.sub(key, 1, #key - #child_id), child_id
end

local function locked(prefix, job_id)
  if redis.call('EXISTS', prefix .. job_id .. ':lock') == 1 then
    return true
  end
  if with_children then
    for _, child in ipairs(redis.call('SMEMBERS', prefix .. job_id .. ':dependencies')) do
      local child_prefix, child_id = split(child)
      if locked(child_prefix, child_id) then
        return true
      end
    end
  end
  return false
end

local function from_any_state(prefix, job_id)
  for _, set in ipairs({'completed', 'waiting-children', 'delayed', 'failed', 'prioritized'}) do
    if redis.call('ZREM', prefix .. set, job_id) == 1 then
      return set
    end
  end
  for _, list in ipairs({'wait', 'paused', 'active'}) do
    if redis.call('LREM', prefix .. list, 1, job_id) == 1 then
      return list
    end
  end
  return 'unknown'
end

local remove
-- Removes a job (and, asked to, its children first); `of_parent` is set for a child removed
-- with its parent, whose own parent link needs no care.
remove = function(prefix, job_id, of_parent)
  local key = prefix .. job_id
  if not of_parent then
    unlink_from_parent(key, prefix, false)
  end
  if with_children then
    local children = {}
    local processed = redis.call('HKEYS', key .. ':processed')
    local failed = redis.call('HKEYS', key .. ':failed')
    local unsuccessful = redis.call('ZRANGE', key .. ':unsuccessful', 0, -1)
    local pending = redis.call('SMEMBERS', key .. ':dependencies')
    for _, list in ipairs({processed, failed, unsuccessful, pending}) do
      for _, child in ipairs(list) do
        children[#children + 1] = child
      end
    end
    for _, child in ipairs(children) do
      local child_prefix, child_id = split(child)
      remove(child_prefix, child_id, true)
    end
  end
  local prev = from_any_state(prefix, job_id)
  release_dedup(key, prefix, job_id)
  if redis.call('DEL', key, key .. ':logs', key .. ':dependencies', key .. ':processed',
    key .. ':failed', key .. ':unsuccessful') > 0 then
    local max_len = redis.call('HGET', prefix .. 'meta', 'opts.maxLenEvents') or 10000
    redis.call('XADD', prefix .. 'events', 'MAXLEN', '~', max_len, '*', 'event', 'removed',
      'jobId', job_id, 'prev', prev)
  end
  return prev
end

if locked(base, id) then
  return {0, job_state(base, id)}
end
return {1, remove(base, id, false)}
