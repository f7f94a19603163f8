-- Ends an operation that is not finished yet: `cancelled` (by a user) or `failed` (with a
-- reason); its remaining jobs are forgotten, the queue is free for the next.
-- KEYS: 1 the operation's hash, 2 its remaining ids, 3 the queue's running-operation key.
-- ARGV: 1 new state, 2 finished at (RFC 3339), 3 error ('' = none), 4 token ('' = anyone).
-- Returns {1} when this call ended it, {0, state} when it had ended already or another holds it.
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'running' and state ~= 'preparing' then
  return {0, state or 'missing'}
end
if ARGV[4] ~= '' and redis.call('HGET', KEYS[1], 'owner') ~= ARGV[4] then
  return {0, state}
end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'finishedAt', ARGV[2])
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'error', ARGV[3])
end
redis.call('DEL', KEYS[2])
local id = redis.call('HGET', KEYS[1], 'id')
if redis.call('GET', KEYS[3]) == id then
  redis.call('DEL', KEYS[3])
end
return {1}
