-- Takes or renews the collector lease. KEYS[1] lease; ARGV[1] token, ARGV[2] time to live (ms).
-- Returns 1 when the caller holds the lease afterwards, 0 when another collector does.
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
