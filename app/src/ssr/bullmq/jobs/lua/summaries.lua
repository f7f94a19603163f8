-- The row fields of some jobs of one queue (after a search found them).
-- KEYS: 1 the queue's `meta` (for the slot); ARGV: 1 key base, 2 preview bytes, 3… job ids.
-- Returns one row per id: {id, summary fields…}, or {id} when the job is gone.
local base, preview = ARGV[1], tonumber(ARGV[2])
local out = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local fields = summary(base .. id, preview)
  if fields then
    out[#out + 1] = {id, unpack(fields)}
  else
    out[#out + 1] = {id}
  end
end
return out
