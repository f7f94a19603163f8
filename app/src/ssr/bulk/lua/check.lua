-- A dry run: which of the given jobs an action would act on now. Changes nothing.
-- ARGV: 1 the queue's key base, 2 action, 3 source state ('' = any the action takes), then ids.
-- Returns the acceptable ids.
local base, action, source = ARGV[1], ARGV[2], ARGV[3]
local out = {}
for i = 4, #ARGV do
  if acceptable(base, ARGV[i], action, source) then
    out[#out + 1] = ARGV[i]
  end
end
return out
