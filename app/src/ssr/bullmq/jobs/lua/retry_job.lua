-- A failed or completed job back in line, in place, as BullMQ's `job.retry(state)` does: out
-- of its finished set, `finishedOn`, `processedOn` and its `failedReason` or `returnvalue`
-- dropped, pushed (`LPUSH`, `RPUSH` for a `lifo` job) or prioritized, back among its parent's
-- pending children, a `waiting` event.
-- KEYS: 1 the job's hash; ARGV: 1 the queue's key base, 2 the job id, 3 mode ("v5" | "v6").
-- Returns {1, state before, state now}, {-1} when there is no such job, {-3, state} when it
-- has not finished.
local job, base, id, mode = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
if not is_job(job) then
  return {-1}
end
local prev
if redis.call('ZREM', base .. 'failed', id) == 1 then
  prev = 'failed'
elseif redis.call('ZREM', base .. 'completed', id) == 1 then
  prev = 'completed'
else
  return {-3, job_state(base, id)}
end
redis.call('HDEL', job, 'finishedOn', 'processedOn',
  prev == 'failed' and 'failedReason' or 'returnvalue')
local push = 'LPUSH'
local ok, opts = pcall(cjson.decode, redis.call('HGET', job, 'opts') or '{}')
if ok and type(opts) == 'table' and opts.lifo then
  push = 'RPUSH'
end
local now = enqueue(base, id, push, mode, true)
local parent = redis.call('HGET', job, 'parentKey')
if parent and redis.call('EXISTS', parent) == 1 then
  if prev == 'failed' then
    if redis.call('ZREM', parent .. ':unsuccessful', job) == 1 or
      redis.call('HDEL', parent .. ':failed', job) == 1 then
      redis.call('SADD', parent .. ':dependencies', job)
    end
  elseif redis.call('HDEL', parent .. ':processed', job) == 1 then
    redis.call('SADD', parent .. ':dependencies', job)
  end
end
redis.call('XADD', base .. 'events', 'MAXLEN', '~', max_events(base .. 'meta'), '*', 'event',
  'waiting', 'jobId', id, 'prev', prev)
return {1, prev, now}
