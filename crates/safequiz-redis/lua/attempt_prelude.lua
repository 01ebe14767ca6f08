-- Shared prelude of the attempt scripts (start, save, submit, read); the Rust wrapper
-- (src/scripts.rs) puts it in front of each of them, so every script sees the same argument
-- layout and the same finalize.
--
-- KEYS, all carrying the participant's shard hash tag {campaign:shard}:
--   KEYS[1]      the participant's hash (totals, day counter, every attempt's fields)
--   KEYS[2]      the shard's deadline index (sorted set: accepts-until ms -> "pid-n unit")
--   KEYS[3]      the shard's stream (finalized attempts and registrations, for the SQL flusher)
--   KEYS[4]      the shard's unit totals (hash: "<unit>:pa" and "<unit>:nf", two packed
--                counters each, see below; unit "*" is the whole campaign)
--   KEYS[5]      the shard's campaign-wide individual board
--   KEYS[6..5+M] the shard's individual boards of the participant's units, root first
-- ARGV:
--   ARGV[1]      now, in Unix milliseconds (the server's clock decides, never Redis's or the client's)
--   ARGV[2]      points per correct answer
--   ARGV[3]      the participant id
--   ARGV[4]      M, the number of units on the participant's path
--   ARGV[5..4+M] the unit ids, root first; the last is the participant's own unit
--   ARGV[5+M..]  the script's own arguments (REST is their first index)
-- Return: each script's own (see its header); an attempt's record is `record` below.
--
-- Attempt n of a participant lives in fields of KEYS[1] (src/attempts/encoding.rs reads and
-- writes the same text in Rust):
--   n:t  "day,started,deadline,accepts_until" (day number; instants in ms)
--   n:q  the drawn questions in display order, "id/option-order" joined by ","
--   n:k  the correct options per question, one character each: "0" + bit set over display order
--   n:v  kind and option count per question, two characters each: "s4", "m5", "t2"
--   n:a  the saved answers, encoded like n:k; "0" is unanswered
--   n:r  once final: "points,correct,finished,time_used,auto"
-- and the participant's own fields are: seq (attempts started), open (the open attempt's n, "0"
-- when none), day and dn (day of the last start and starts on that day), and the totals of
-- final attempts: pts (points), ms (time used), att (attempts) and last (when the last one
-- finished).
--
-- Unit totals pack two counters into one integer field, high * 2^32 + low, so that a finalize
-- increments one field per unit, or two: "<unit>:pa" is attempts (high) and points (low),
-- "<unit>:nf" participants (high) and full-mark attempts (low). Each low counter stays far
-- below 2^32 within one shard (points: 2^32 / 10 points is 429 million attempts of one unit in
-- one shard). src/boards.rs unpacks them.
--
-- The rules finalize runs are written once in Rust and mirrored here for speed: scoring and
-- full marks are safequiz_domain::score's, the time counted, the totals and the board order
-- (score and member) safequiz_domain::board's; crates/safequiz-redis/tests/it/ drives these
-- scripts and those functions over the same generated attempts and requires equal results.
-- The stream entry finalize appends is documented once, in src/streams.rs.
--
-- Cost: every redis.call, and above all every write (which is also appended to the AOF), is
-- the bulk of a script's CPU, so each script reads the participant's hash once and writes it
-- once; finalize works on the fields its caller read.
--
-- Invariant: an attempt is finalized exactly once, because finalize returns early when n:r
-- exists; totals, boards and the stream change only inside that one branch.

local P, DEADLINES, STREAM, TOTALS = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local NOW = tonumber(ARGV[1])
local PPQ = tonumber(ARGV[2])
local PID = ARGV[3]
local M = tonumber(ARGV[4])
local UNIT = ARGV[4 + M]
local REST = 5 + M
-- Individual boards order participants ascending by score, then by member, which is the
-- published order (safequiz_domain::board): the score is time_used_ms - points * 1e10 (more
-- points first, then less time) and the member is the last finish (13 digits) then the
-- participant id (12 digits), so equal scores fall back to the earlier last finish, then the
-- smaller id.
local POINT_WEIGHT = 10000000000
local WORD = 4294967296

-- Attempt n and the participant's totals in one read:
-- {t, r, a, v, k, q, open, att, last, pts, ms}.
local function load(n)
  return redis.call('HMGET', P, n .. ':t', n .. ':r', n .. ':a', n .. ':v', n .. ':k', n .. ':q',
    'open', 'att', 'last', 'pts', 'ms')
end

-- The accepts-until instant (ms) of a times field "day,started,deadline,accepts".
local function accepts_until(t)
  return tonumber(string.match(t, ',(%d+)$'))
end

-- BoardMember::encode.
local function board_member(last, pid)
  return string.format('%013d%012d', last, tonumber(pid))
end

-- The record of attempt n from the fields `load` read, as every script returns it: status, n,
-- times, questions, answers, kinds, key and result. The key is returned only once it is final.
local function record(status, n, f)
  local key, result = '', ''
  if f[2] then key, result = f[5], f[2] end
  return {status, tostring(n), f[1], f[6], f[3], f[4], key, result}
end

-- Finalizes attempt n, whose fields `load` read into f, with the answers `answers` (f[3], or
-- the answers a submit brought); updates f to the final state. `auto` is 1 when the server's
-- clock closed it (the client never submitted in time), 0 for a submit within deadline + grace.
local function finalize(n, auto, f, answers)
  if f[2] then return end
  local day, started, deadline = string.match(f[1], '^(%-?%d+),(%d+),(%d+),')
  started, deadline = tonumber(started), tonumber(deadline)
  local key = f[5]
  -- score::is_correct: an answer counts when it is not empty and equals the key.
  local correct = 0
  for i = 1, #key do
    local chosen = string.byte(answers, i)
    if chosen ~= 48 and chosen == string.byte(key, i) then correct = correct + 1 end
  end
  local points = correct * PPQ
  -- score::is_full_marks: questions, every one correct.
  local full = #key > 0 and correct == #key
  -- board::Finish: automatic submissions finish at the deadline, whenever the sweep happened to
  -- run; a submit's time counts up to the deadline at most.
  local finished, used
  if auto == 1 then
    finished, used = deadline, deadline - started
  else
    finished, used = NOW, math.min(NOW, deadline) - started
  end
  local first = not f[8]
  local attempts = tonumber(f[8] or 0) + 1
  local previous_last = tonumber(f[9] or 0)
  local last = math.max(previous_last, finished)
  local pts = tonumber(f[10] or 0) + points
  local ms = tonumber(f[11] or 0) + used
  local result = string.format('%d,%d,%d,%d,%d', points, correct, finished, used, auto)
  local open = f[7]
  if open == tostring(n) then open = '0' end
  redis.call('HSET', P, n .. ':r', result, n .. ':a', answers,
    'att', string.format('%d', attempts), 'pts', string.format('%d', pts),
    'ms', string.format('%d', ms), 'last', string.format('%d', last), 'open', open or '0')
  f[2], f[3], f[7] = result, answers, open
  redis.call('ZREM', DEADLINES, PID .. '-' .. n .. ' ' .. UNIT)

  local pa = string.format('%d', WORD + points)
  local nf = 0
  if first then nf = WORD end
  if full then nf = nf + 1 end
  nf = string.format('%d', nf)
  for i = 0, M do
    -- "*" is the whole campaign's key in the unit totals (the whole-campaign scope).
    local unit = '*'
    if i > 0 then unit = ARGV[4 + i] end
    redis.call('HINCRBY', TOTALS, unit .. ':pa', pa)
    if nf ~= '0' then redis.call('HINCRBY', TOTALS, unit .. ':nf', nf) end
  end

  -- BoardScore::to_redis_score.
  local score = string.format('%d', ms - pts * POINT_WEIGHT)
  local member = board_member(last, PID)
  local old = nil
  if not first then old = board_member(previous_last, PID) end
  for i = 5, 5 + M do
    if old then redis.call('ZREM', KEYS[i], old) end
    redis.call('ZADD', KEYS[i], score, member)
  end

  -- The attempt entry; its fields are documented in src/streams.rs (AttemptEntry).
  redis.call('XADD', STREAM, '*',
    'type', 'attempt', 'attempt', PID .. '-' .. n, 'participant', PID, 'unit', UNIT,
    'day', day, 'started', string.format('%d', started),
    'deadline', string.format('%d', deadline), 'finished', string.format('%d', finished),
    'time_used', string.format('%d', used), 'points', string.format('%d', points),
    'correct', string.format('%d', correct), 'auto', string.format('%d', auto),
    'questions', f[6], 'key', key, 'answers', answers,
    'attempts', string.format('%d', attempts))
end

-- The answer text with question i (1-based) set to the bit set `bits`.
local function with_answer(answers, i, bits)
  return string.sub(answers, 1, i - 1) .. string.char(48 + bits) .. string.sub(answers, i + 1)
end

-- The bit set a choice makes for question i, or nil when the question has no such options.
-- `letters` is the set the keys A-F name and `tf` the set T/F name; -1 when the keys are not of
-- that alphabet. Single-choice and true/false questions take at most one option.
local function choice(kinds, i, letters, tf)
  local kind = string.sub(kinds, 2 * i - 1, 2 * i - 1)
  local count = tonumber(string.sub(kinds, 2 * i, 2 * i))
  local bits = letters
  if kind == 't' then bits = tf end
  if bits < 0 or bits >= 2 ^ count then return nil end
  if kind ~= 'm' and bits ~= 0 and bit.band(bits, bits - 1) ~= 0 then return nil end
  return bits
end
