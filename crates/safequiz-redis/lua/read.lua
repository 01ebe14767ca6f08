-- read: returns an attempt, finalizing it first when its time (with grace) has run out.
--
-- KEYS and ARGV[1..REST-1]: the prelude's (attempt_prelude.lua).
-- ARGV[REST]: attempt number n.
-- Returns the record with status "open" or "final"; {"archived"} when the attempt was final,
-- written to SQL and forgotten here (forget.lua: its fields are gone but n <= seq), which the
-- server then reads from SQL; or {"missing"}.
--
-- Invariant: a reader never sees an attempt as open after deadline + grace; finalizing here
-- gives exactly the result the sweeper would have given (auto-submitted at the deadline).

local n = ARGV[REST]
local f = load(n)
if not f[1] then
  if forgotten(n) then return {'archived'} end
  return {'missing'}
end
if f[2] then return record('final', n, f) end
if NOW <= accepts_until(f[1]) then return record('open', n, f) end
finalize(n, 1, f, f[3])
return record('final', n, f)
