-- One batch of a retry-with-changes operation, atomically. The runner read the next jobs of
-- the operation's list and prepared each one's copy (data with the overrides, options with the
-- changes: plain Rust, `retry::prepare`); here each job that is still finished and unchanged
-- since that read (the fingerprint of its fields) gets its new job, made by the one-job retry
-- with changes (`retry.lua` as `retry_changed`, without a request record: the list says what
-- was done); any other is counted as skipped. Ids, counts and lease as in batch.lua.
-- KEYS: 1 the operation's hash, 2 its remaining ids, 3 the queue's running-operation key.
-- ARGV: 1 token, 2 lease ms, 3 the queue's key base, 4 mode ('v5' | 'v6'), 5 finished at,
-- 6 remove the original ('1' | '0'), then 6 values per job: id, fingerprint ('' when it
-- cannot be copied), name, data, opts, priority.
-- Returns as batch.lua.
local op, todo = KEYS[1], KEYS[2]
local refused, now = batch_begin(op, ARGV[1], ARGV[2])
if refused then
  return refused
end
local base, mode, remove = ARGV[3], ARGV[4], ARGV[6]
local source = redis.call('HGET', op, 'source') or ''
local listed = math.floor((#ARGV - 6) / 6)
local ids = {}
if listed > 0 then
  ids = redis.call('LRANGE', todo, 0, listed - 1)
end
local done, skipped, taken = 0, 0, 0
for i, id in ipairs(ids) do
  local at = 6 + (i - 1) * 6
  if ARGV[at + 1] ~= id then
    -- Not the list the runner read (it cannot change while this lease holds): stop here.
    break
  end
  taken = i
  local job = base .. id
  local acted = false
  if ARGV[at + 2] ~= '' and is_job(job) and (source == '' or in_state(base, id, source)) and
    (redis.call('ZSCORE', base .. 'failed', id) or redis.call('ZSCORE', base .. 'completed', id)) then
    local fields = redis.call('HMGET', job, 'name', 'data', 'opts', 'priority', 'finishedOn')
    for k = 1, 5 do
      fields[k] = fields[k] or ''
    end
    if redis.sha1hex(table.concat(fields, '\0')) == ARGV[at + 2] then
      local reply = retry_changed(
        {base .. 'id', base .. 'meta', base .. 'wait', base .. 'paused', base .. 'prioritized',
          base .. 'marker', base .. 'events', base .. 'pc', job, base .. 'completed',
          base .. 'failed', base .. 'active', ''},
        {base, ARGV[at + 3], ARGV[at + 4], ARGV[at + 5], tostring(now), ARGV[at + 6], id, remove,
          mode, '0'})
      acted = reply[2] ~= 'missing'
    end
  end
  if acted then
    done = done + 1
  else
    skipped = skipped + 1
  end
end
return batch_end(op, todo, KEYS[3], taken, done, skipped, ARGV[5])
