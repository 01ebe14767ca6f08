-- submit: saves the answers sent with the submit, then finalizes the attempt.
--
-- KEYS and ARGV[1..REST-1]: the prelude's (attempt_prelude.lua).
-- ARGV[REST..]: attempt number n, the count c of answers sent, then c triples (question index
-- 0-based, letters set, true/false set).
-- Returns the record with status "final"; {"archived"} when it was final, written to SQL and
-- forgotten here (forget.lua), so the server answers from SQL; {"missing"}; {"closed"} when the
-- attempt was still
-- open past deadline + grace (it is finalized now, automatically, without the answers sent);
-- {"bad_index", i} or {"bad_choice", i} naming the first invalid answer.
--
-- Invariants: idempotent (a final attempt returns its result unchanged); all answers are checked
-- before any is written, so an invalid one changes nothing. One read, and finalize's writes.
--
-- Cost: one HMGET and one LRANGE, then finalize's writes (the result, the answers and the
-- participant's totals in one HSET, the answers list deleted, the stream entry, the deferred
-- ZREM). Inside the group commit's calls a submit costs Redis 24-66 µs of CPU, median 34, the
-- request and the AOF included (`loadtest/run`'s per-script phase: 3,000 submits alone, six
-- ceilings, 2026-12-07; docs/performance.md). A save with a ticket is a plain LSET, 2.5-5.1 µs
-- (median 4.0) the same way.

local n = ARGV[REST]
local f = load(n)
if not f[1] then
  if forgotten(n) then return {'archived'} end
  return {'missing'}
end
if f[2] then return record('final', n, f) end
if NOW > accepts_until(f[1]) then
  finalize(n, 1, f, f[3])
  return {'closed'}
end
local answers = f[3]
local count = tonumber(ARGV[REST + 1])
for j = 0, count - 1 do
  local at = REST + 2 + 3 * j
  local i = tonumber(ARGV[at]) + 1
  if i > #answers then return {'bad_index', ARGV[at]} end
  local bits = choice(f[4], i, tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2]))
  if not bits then return {'bad_choice', ARGV[at]} end
  answers = with_answer(answers, i, bits)
end
finalize(n, 0, f, answers)
return record('final', n, f)
