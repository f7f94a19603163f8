-- Prepended to check.lua and batch.lua (after parent.lua, state.lua, actions.lua and the three
-- action scripts wrapped as `retry_one`, `promote_one`, `remove_one`): what an action accepts.

-- Whether job `id` is in `state` now (BullMQ's names; waiting covers a v5 `paused` list).
local function in_state(base, id, state)
  if state == 'waiting' then
    return redis.call('LPOS', base .. 'wait', id) ~= false or
      redis.call('LPOS', base .. 'paused', id) ~= false
  elseif state == 'active' or state == 'paused' then
    return redis.call('LPOS', base .. state, id) ~= false
  end
  return redis.call('ZSCORE', base .. state, id) ~= false
end

-- Whether `action` would act on job `id`: it is a job, in `source` when one is given, and in a
-- state the action takes (retry and retry-with-changes: failed or completed; promote: delayed;
-- remove: not locked).
local function acceptable(base, id, action, source)
  if not is_job(base .. id) then
    return false
  end
  if source ~= '' and not in_state(base, id, source) then
    return false
  end
  if action == 'retry' or action == 'retry-with-changes' then
    return redis.call('ZSCORE', base .. 'failed', id) ~= false or
      redis.call('ZSCORE', base .. 'completed', id) ~= false
  elseif action == 'promote' then
    return redis.call('ZSCORE', base .. 'delayed', id) ~= false
  end
  return redis.call('EXISTS', base .. id .. ':lock') == 0
end
