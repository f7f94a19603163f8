-- Removes up to ARGV[2] of the oldest jobs of one finished set (completed or failed), with every
-- per-job key BullMQ would remove, in one atomic step, unlinking each from its parent the way
-- BullMQ's `Queue.clean` does (parent.lua, "hard"). Never touches locks or any other state.
-- KEYS: 1 the finished set, 2 meta, 3 events
-- ARGV: 1 the queue's key base ("prefix:queue:"), 2 batch size
-- Returns how many jobs were removed (fewer than the batch size means the set is now empty).
local set, meta, events = KEYS[1], KEYS[2], KEYS[3]
local base, limit = ARGV[1], tonumber(ARGV[2])
local ids = redis.call('ZRANGE', set, 0, limit - 1)
if #ids == 0 then
  return 0
end
for _, id in ipairs(ids) do
  local job = base .. id
  unlink_from_parent(job, base, true)
  release_dedup(job, base, id)
  remove_job_keys(job)
end
for i = 1, #ids, 1000 do
  redis.call('ZREM', set, unpack(ids, i, math.min(i + 999, #ids)))
end
local max_len = redis.call('HGET', meta, 'opts.maxLenEvents') or 10000
redis.call('XADD', events, 'MAXLEN', '~', max_len, '*', 'event', 'cleaned', 'count', #ids)
return #ids
