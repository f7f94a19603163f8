-- One batch of a running operation, atomically: the next `size` ids taken off its list, each
-- acted on when the action still accepts it (else counted as skipped), the counts added, the
-- lease renewed. A batch happens entirely or not at all, so an operation continued by another
-- instance never acts on a job twice.
-- KEYS: 1 the operation's hash, 2 its remaining ids, 3 the queue's running-operation key.
-- ARGV: 1 token, 2 lease ms, 3 batch size, 4 the queue's key base, 5 mode ('v5' | 'v6'),
-- 6 finished at (RFC 3339, used when this batch is the last).
-- Returns {1, done, skipped, remaining} (remaining 0: done now), {0, state} when it is no
-- longer running, {-1} when another instance holds it.
local op, todo = KEYS[1], KEYS[2]
local refused = batch_begin(op, ARGV[1], ARGV[2])
if refused then
  return refused
end
local size, base, mode = tonumber(ARGV[3]), ARGV[4], ARGV[5]
local action = redis.call('HGET', op, 'action')
local source = redis.call('HGET', op, 'source') or ''
local ids = redis.call('LRANGE', todo, 0, size - 1)
local done, skipped = 0, 0
for _, id in ipairs(ids) do
  local reply
  -- The action's own script checks that it is a job in a state the action takes (and not
  -- locked); what is left to check is the target's state. An action this script does not
  -- know (retry-with-changes has changed.lua) acts on nothing.
  if source == '' or in_state(base, id, source) then
    if action == 'retry' then
      reply = retry_one({base .. id}, {base, id, mode})
    elseif action == 'promote' then
      reply = promote_one({base .. id}, {base, id, mode})
    elseif action == 'remove' then
      reply = remove_one({base .. id}, {base, id, '1'})
    end
  end
  if reply and reply[1] == 1 then
    done = done + 1
  else
    skipped = skipped + 1
  end
end
return batch_end(op, todo, KEYS[3], #ids, done, skipped, ARGV[6])
