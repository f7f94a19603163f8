-- Creates a new job from a prepared copy of an original, the way BullMQ adds jobs (new id from
-- the queue's counter, wait/paused or prioritized, marker, events), and optionally retires the
-- original in the same atomic step. The same request repeated while its record lives returns
-- the first one's job instead of creating another.
-- KEYS: 1 id counter, 2 meta, 3 wait, 4 paused, 5 prioritized, 6 marker, 7 events, 8 pc,
--       9 original job, 10 completed, 11 failed, 12 active, 13 this request's record ('' when
--       the caller keeps count itself: a bulk operation's batch, which runs once per job)
-- ARGV: 1 key base, 2 name, 3 data (JSON), 4 opts (JSON), 5 now (ms), 6 priority,
--       7 original id, 8 remove original ("1"/"0"), 9 mode ("v5"/"v6"),
--       10 how long the record lives (ms), 11 "1": only an active original no worker holds
--       (a playbook's retry of a dead worker's job), 12 "0": keep no record (KEYS[13] unused)
-- Returns {new id, what happened to the original: "kept" | "removed" | "failed", and
-- "repeated" when the job was made by an earlier identical request}, or {'', 'missing'} when
-- the original is not a job (gone, or a key of the queue that is no job hash); with ARGV[11],
-- {'', 'gone'} when it is no longer active and {'', 'locked'} when a worker holds it.
local id_key, meta, wait, paused, prioritized = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local marker, events, pc, original = KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local completed, failed, active, record = KEYS[10], KEYS[11], KEYS[12], KEYS[13]
local base, name, data, opts, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local priority, original_id, remove, mode = tonumber(ARGV[6]), ARGV[7], ARGV[8], ARGV[9]
local record_ms = ARGV[10]
if ARGV[12] == '0' then
  record = ''
end
if ARGV[11] == '1' then
  if not redis.call('LPOS', active, original_id) then
    return {'', 'gone'}
  end
  if redis.call('EXISTS', original .. ':lock') == 1 then
    return {'', 'locked'}
  end
end

if record ~= '' then
  local earlier = redis.call('GET', record)
  if earlier then
    local space = string.find(earlier, ' ', 1, true)
    return {string.sub(earlier, 1, space - 1), string.sub(earlier, space + 1), 'repeated'}
  end
end
if redis.call('TYPE', original).ok ~= 'hash' or redis.call('HEXISTS', original, 'timestamp') == 0 then
  return {'', 'missing'}
end
local max_len = redis.call('HGET', meta, 'opts.maxLenEvents')
if not max_len then
  max_len = 10000
  redis.call('HSETNX', meta, 'opts.maxLenEvents', max_len)
end

-- The queue's counter, as BullMQ numbers new jobs; past any id taken already (a custom job id
-- that is a number, a counter reset by hand), so no job is ever overwritten.
local new_id, job
repeat
  new_id = tostring(redis.call('INCR', id_key))
  job = base .. new_id
until redis.call('EXISTS', job) == 0
redis.call('HSET', job, 'name', name, 'data', data, 'opts', opts, 'timestamp', now,
  'delay', 0, 'priority', priority)
redis.call('XADD', events, 'MAXLEN', '~', max_len, '*', 'event', 'added', 'jobId', new_id,
  'name', name)
local is_paused = redis.call('HEXISTS', meta, 'paused') == 1
if priority > 0 then
  local counter = redis.call('INCR', pc)
  redis.call('ZADD', prioritized, priority * 4294967296 + (counter % 4294967296), new_id)
elseif is_paused and mode == 'v5' then
  redis.call('LPUSH', paused, new_id)
else
  redis.call('LPUSH', wait, new_id)
end
if not is_paused then
  redis.call('ZADD', marker, 0, '0')
end
redis.call('XADD', events, 'MAXLEN', '~', max_len, '*', 'event', 'waiting', 'jobId', new_id)

local fate = 'kept'
if remove == '1' then
  local finished_set = nil
  if redis.call('ZSCORE', completed, original_id) then
    finished_set = completed
  elseif redis.call('ZSCORE', failed, original_id) then
    finished_set = failed
  end
  if finished_set then
    -- A finished original goes entirely, with its per-job keys, as BullMQ's Job.remove does
    -- (its parent, if this was the last child it waited for, moves on: parent.lua, "soft").
    unlink_from_parent(original, base, false)
    release_dedup(original, base, original_id)
    redis.call('ZREM', finished_set, original_id)
    remove_job_keys(original)
    redis.call('XADD', events, 'MAXLEN', '~', max_len, '*', 'event', 'removed', 'jobId',
      original_id, 'prev', finished_set == completed and 'completed' or 'failed')
    fate = 'removed'
  elseif redis.call('LREM', active, 0, original_id) > 0 then
    -- An active original may still be held by its worker: it is not deleted but failed, with a
    -- reason naming its replacement, and its lock is left alone.
    local reason = 'retried by the monitor as job ' .. new_id
    redis.call('HSET', original, 'failedReason', reason, 'finishedOn', now)
    redis.call('ZADD', failed, now, original_id)
    redis.call('XADD', events, 'MAXLEN', '~', max_len, '*', 'event', 'failed', 'jobId',
      original_id, 'failedReason', reason, 'prev', 'active')
    fate = 'failed'
  end
end
if record ~= '' then
  redis.call('SET', record, new_id .. ' ' .. fate, 'PX', record_ms)
end
return {new_id, fate}
