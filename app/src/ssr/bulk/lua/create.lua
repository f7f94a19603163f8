-- Registers an operation on a queue, unless one is running there.
-- KEYS: 1 the queue's running-operation key, 2 the operation's hash.
-- ARGV: 1 operation id, 2 lease token, 3 lease ms, 4 the key prefix of operations' hashes
-- (`<queue base>monitor:op:`), then field/value pairs.
-- Returns {1} or {0, id of the running operation}.
local running = redis.call('GET', KEYS[1])
if running then
  local state = redis.call('HGET', ARGV[4] .. running, 'state')
  if state == 'running' or state == 'preparing' then
    return {0, running}
  end
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], 'owner', ARGV[2], 'until', now + tonumber(ARGV[3]),
  'state', 'preparing', 'done', 0, 'skipped', 0)
for i = 5, #ARGV, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
end
return {1}
