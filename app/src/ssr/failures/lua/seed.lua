-- Groups retained failed jobs the groups do not hold yet (those that failed before the
-- collector read their events, or whose events were trimmed), under the collector's lease.
-- KEYS[1] the lease; ARGV: 1 lease token, 2 the groups' base, 3 hour retention (ms), 4 the
-- queue to mark seeded when this is the seed's last call ('' otherwise), 5 n, then n
-- operations (see groups.lua). Returns 1, or -1 when the lease is lost.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end
fg_apply(ARGV[2], ARGV, 6, tonumber(ARGV[5]), tonumber(ARGV[3]))
if ARGV[4] ~= '' then
  redis.call('HSET', ARGV[2] .. ':seeded', ARGV[4], 1)
end
return 1
