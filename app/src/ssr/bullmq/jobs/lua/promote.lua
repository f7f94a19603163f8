-- A delayed job made ready now, as BullMQ's `job.promote()` does: out of `delayed`, pushed on
-- `wait` (BullMQ 5: `paused` while paused) or prioritized by its priority, `delay` set to 0, a
-- `waiting` event.
-- KEYS: 1 the job's hash; ARGV: 1 the queue's key base, 2 the job id, 3 mode ("v5" | "v6").
-- Returns {1, "delayed", state now}, {-1} when there is no such job, {-3, state} when it is
-- not delayed.
local job, base, id, mode = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
if not is_job(job) then
  return {-1}
end
if redis.call('ZREM', base .. 'delayed', id) == 0 then
  return {-3, job_state(base, id)}
end
-- A legacy marker at the head of the target list goes (BullMQ does the same).
local target = base .. 'wait'
if mode == 'v5' and redis.call('HEXISTS', base .. 'meta', 'paused') == 1 then
  target = base .. 'paused'
end
local head = redis.call('LINDEX', target, 0)
if head and string.sub(head, 1, 2) == '0:' then
  redis.call('LPOP', target)
end
local now = enqueue(base, id, 'LPUSH', mode, false)
redis.call('XADD', base .. 'events', '*', 'event', 'waiting', 'jobId', id, 'prev', 'delayed')
redis.call('HSET', job, 'delay', 0)
return {1, 'delayed', now}
