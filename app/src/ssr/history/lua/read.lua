-- Reads a queue's events after a cursor together with the stream's counters, atomically (so
-- the entries' ordinal numbers are exact). KEYS[1] the events stream;
-- ARGV[1] XRANGE start ('-' or '(<id>'), ARGV[2] count.
-- Returns {entries-added, length, last-generated-id, entries}; {0, 0, '0-0', {}} when the stream
-- does not exist.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {0, 0, '0-0', {}}
end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local added, length, last = 0, 0, '0-0'
for i = 1, #info, 2 do
  if info[i] == 'entries-added' then
    added = info[i + 1]
  elseif info[i] == 'length' then
    length = info[i + 1]
  elseif info[i] == 'last-generated-id' then
    last = info[i + 1]
  end
end
return {added, length, last, redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', ARGV[2])}
