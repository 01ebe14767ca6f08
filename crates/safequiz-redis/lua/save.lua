-- save: saves the answer to one question of an open attempt.
--
-- KEYS and ARGV[1..REST-1]: the prelude's (attempt_prelude.lua).
-- ARGV[REST..]: attempt number n, question index (0-based), the option set as letters and as
-- true/false (see `choice` in the prelude).
-- Returns {"saved"}, {"missing"} (no such attempt), {"closed"} (final, or past deadline + grace:
-- then it is finalized now with what was saved before; also for an attempt final, written to SQL
-- and forgotten here by forget.lua, whose fields are gone but n <= seq), {"bad_index"} or
-- {"bad_choice"}.
--
-- Invariant: nothing is written unless the answer is valid and in time. One read, one write.

local n = ARGV[REST]
local f = redis.call('HMGET', P, n .. ':t', n .. ':r', n .. ':a', n .. ':v')
if not f[1] then
  if forgotten(n) then return {'closed'} end
  return {'missing'}
end
if f[2] then return {'closed'} end
if NOW > accepts_until(f[1]) then
  local all = load(n)
  finalize(n, 1, all, all[3])
  return {'closed'}
end
local i = tonumber(ARGV[REST + 1]) + 1
if i > #f[3] then return {'bad_index'} end
local bits = choice(f[4], i, tonumber(ARGV[REST + 2]), tonumber(ARGV[REST + 3]))
if not bits then return {'bad_choice'} end
redis.call('HSET', P, n .. ':a', with_answer(f[3], i, bits))
return {'saved'}
