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
-- Invariant: nothing is written unless the answer is valid and in time. One read, one write:
-- an `LSET` of the answers list (the prelude's layout), or `n:a` of an attempt started before
-- the list existed. (A save with a valid save ticket skips this script: the service checks
-- the ticket's deadline and kinds, and sends the `LSET` alone; src/attempts.rs, `save_listed`.)
--
-- Cost: 18.6-19.5 µs of Redis CPU run alone (`EVALSHA`), about 14 inside a group commit; the
-- plain `LSET` of a ticket's save 2-5 µs (docs/performance.md, "Save tickets").

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
if 2 * i > #f[4] then return {'bad_index'} end
local bits = choice(f[4], i, tonumber(ARGV[REST + 2]), tonumber(ARGV[REST + 3]))
if not bits then return {'bad_choice'} end
if f[3] then
  redis.call('HSET', P, n .. ':a', with_answer(f[3], i, bits))
else
  redis.call('LSET', answers_list(n), i - 1, string.char(48 + bits))
end
return {'saved'}
