-- Shared prelude of the attempt scripts (start, save, submit, read); the Rust wrapper
-- (src/scripts.rs) puts it in front of each of them, so every script sees the same argument
-- layout and the same finalize. Each body is wrapped as `local function body(KEYS, ARGV)`
-- and given the script's own KEYS and ARGV, whether it runs alone (attempt_one.lua) or as one
-- operation of a group commit (attempt_batch.lua runs many operations in one call): `bind`
-- sets the per-operation locals below before each body runs, among them REST, the absolute
-- index of the operation's own first argument, so that a body reads ARGV[REST + i] in place
-- and no operation's arguments are copied into tables of their own. The layouts below count
-- from the operation's first key and argument.
--
-- An operation's KEYS, all carrying the participant's shard hash tag {campaign:shard}:
--   KEYS[1]      the participant's hash (totals, day counter, every attempt's fields)
--   KEYS[2]      the shard's deadline index (sorted set: accepts-until ms -> "pid-n unit")
--   KEYS[3]      the shard's stream (finalized attempts and registrations, for the SQL flusher)
-- (The unit totals and the individual boards are not among them: the board writer applies the
-- attempt entries finalize appends to both, many attempts at a time; src/board_writer.rs.)
-- ARGV:
--   ARGV[1]      now, in Unix milliseconds (the server's clock decides, never Redis's or the client's)
--   ARGV[2]      the scoring (safequiz_domain::score::Scoring::script_arg): the points per
--                correct answer when every kind earns the same and attempts are summed (the
--                national rule), else "single,multiple,judge,counted" (counted: sum|best|last)
--   ARGV[3]      the participant id
--   ARGV[4]      the participant's path: the unit ids, root first, joined by ","; the last is
--                their own unit (one argument rather than one per unit: every argument costs
--                Redis its parsing and a Lua string, docs/performance.md)
--   ARGV[5..]    the script's own arguments (REST is their first index)
-- Return: each script's own (see its header); an attempt's record is `record` below.
--
-- Attempt n of a participant lives in fields of KEYS[1] (src/attempts/encoding.rs reads and
-- writes the same text in Rust) from its start until the flusher has committed its row to SQL;
-- then forget.lua removes them (src/archive.rs), and a read or submit of n finds no fields while
-- n <= seq and answers "archived" (the service reads SQL):
--   n:t  "day,started,deadline,accepts_until" (day number; instants in ms)
--   n:q  the drawn questions in display order, "id/option-order" joined by ","
--   n:k  the correct options per question, one character each: "0" + bit set over display order
--   n:v  kind and option count per question, two characters each: "s4", "m5", "t2"
--   n:a  the final answers, encoded like n:k; "0" is unanswered (written by finalize)
-- and, while attempt n is open, its saved answers in a list of their own beside the hash,
-- `answers_list(n)` (KEYS[1] .. ":a:" .. n: the same hash tag, so the same slot): one element
-- per question, the character n:a would hold. A save with a valid save ticket writes it with
-- one plain `LSET` and no script (src/attempts.rs, `save_listed`): LSET fails on a missing key,
-- so such a save can never write to an attempt that is final. Finalize copies the list into
-- n:a and deletes it. (An attempt started before the list existed keeps its answers in n:a
-- while open; every script reads and writes it there.)
--   n:r  once final: "points,correct,finished,time_used,auto"
-- and the participant's own fields are: seq (attempts started), open (the open attempt's n, "0"
-- when none), day and dn (day of the last start and starts on that day), and the totals of
-- final attempts: pts (points), ms (time used), att (attempts), last (when the last one
-- finished) and pl (when the one before finished, 0 before a second: the member the boards hold
-- until the board writer applies the last one, which `boards::my_standing` must not count
-- against the participant). pts and ms are counted by the campaign's policy (safequiz_domain::score::Scoring::
-- count): summed, the best attempt's (more points, then less time) or the last attempt's.
-- fm counts the full-mark attempts (absent: none). While an organizer excludes the participant
-- (exclusion.lua), x holds when and xr why, and each attempt entry says `excluded`.
--
-- The rules finalize runs are written once in Rust and mirrored here for speed: scoring and
-- full marks are safequiz_domain::score's, the time counted, the totals and the board order
-- (score and member) safequiz_domain::board's; crates/safequiz-redis/tests/it/ drives these
-- scripts and those functions over the same generated attempts and requires equal results.
-- The stream entry finalize appends is documented once, in src/streams.rs.
--
-- PACKED_ENTRIES, set by src/scripts.rs in front of this text (`redis.packed_entries`): whether
-- finalize writes the attempt entry packed into one field, or as the named fields a release
-- before the packing reads (for a rolling upgrade while such replicas still run;
-- docs/operations.md).
--
-- Cost: every redis.call, and above all every write (which is also appended to the AOF), is
-- the bulk of a script's CPU, so each script reads the participant's hash once and writes it
-- once; finalize works on the fields its caller read. Finalize's one write that nothing in the
-- same script reads (the deadline index) is deferred and written by `flush` once at the end of
-- the script, one ZREM per deadline index, so a group commit of many finalizes pays it once.
-- Each argument, of the script call or of a command it calls, costs Redis about 0.2 µs (parsed
-- into an object, made a Lua string, appended to the AOF): the path is one argument and the
-- stream entry packs its figures (docs/performance.md, "Arguments, not data").
--
-- Invariant: an attempt is finalized exactly once, because finalize returns early when n:r
-- exists; the participant's totals and the stream change only inside that one branch.

-- The operation being run, set by `bind`: its keys (P, DEADLINES, STREAM), now, points per
-- question, participant id, path, REST (the index of the body's own first argument) and LAST
-- (the index of its last argument).
local P, DEADLINES, STREAM
local NOW, PPQ, SCORING, PID, PATH, REST, LAST

-- Binds the operation whose keys follow KEYS[key_at] and whose `count` arguments follow
-- ARGV[arg_at] (both 0 for a script's only operation).
local function bind(key_at, arg_at, count)
  P, DEADLINES, STREAM = KEYS[key_at + 1], KEYS[key_at + 2], KEYS[key_at + 3]
  NOW = tonumber(ARGV[arg_at + 1])
  -- nil unless ARGV[2] is one number; finalize then reads the points by kind from SCORING.
  PPQ = tonumber(ARGV[arg_at + 2])
  SCORING = ARGV[arg_at + 2]
  PID = ARGV[arg_at + 3]
  PATH = ARGV[arg_at + 4]
  REST = arg_at + 5
  LAST = arg_at + count
end

-- The participant's own unit, the last of the path (read only by the scripts that need it).
-- Patterns here are anchored at the start: an unanchored one ending in `$` is tried from every
-- position of the text, which cost 1.1-1.5 µs a call against 0.3 (docs/performance.md,
-- "Patterns anchored").
local function own_unit()
  return string.match(PATH, '^.*,(.*)$') or PATH
end

-- The operation's own argument i (0-based from REST), nil past its last.
local function own(i)
  if REST + i > LAST then return nil end
  return ARGV[REST + i]
end

-- The list of open attempt n's saved answers (see the layout above).
local function answers_list(n)
  return P .. ':a:' .. n
end

-- Attempt n and the participant's totals in one read:
-- {t, r, a, v, k, q, open, att, last, pts, ms, fm, x}; for an open attempt a is its answers
-- list joined (f.listed then says that finalize deletes the list).
local function load(n)
  local f = redis.call('HMGET', P, n .. ':t', n .. ':r', n .. ':a', n .. ':v', n .. ':k', n .. ':q',
    'open', 'att', 'last', 'pts', 'ms', 'fm', 'x')
  if f[1] and not f[2] and not f[3] then
    f[3] = table.concat(redis.call('LRANGE', answers_list(n), 0, -1))
    f.listed = true
  end
  return f
end

-- Whether attempt n, whose fields are absent, was started and then forgotten once its row was
-- in SQL (forget.lua) rather than never started: n is at most the participant's `seq`.
local function forgotten(n)
  return tonumber(n) <= tonumber(redis.call('HGET', P, 'seq') or 0)
end

-- The scoring ARGV[2] spells when it is not one number, read once per distinct text:
-- {s = points, m = points, t = points, counted = 'sum'|'best'|'last'}.
local POLICIES = {}
local NO_FIELDS = {}
local function policy(text)
  local p = POLICIES[text]
  if not p then
    local s, m, t, counted = string.match(text, '^(%d+),(%d+),(%d+),(%a+)$')
    if not counted then error('bad scoring argument ' .. text) end
    p = {s = tonumber(s), m = tonumber(m), t = tonumber(t), counted = counted}
    POLICIES[text] = p
  end
  return p
end

-- The accepts-until instant (ms) of a times field "day,started,deadline,accepts".
local function accepts_until(t)
  return tonumber(string.match(t, '^.*,(%d+)$'))
end

-- The record of attempt n from the fields `load` read, as every script returns it: status, n,
-- times, questions, answers, kinds, key and result. The key is returned only once it is final.
local function record(status, n, f)
  local key, result = '', ''
  if f[2] then key, result = f[5], f[2] end
  return {status, tostring(n), f[1], f[6], f[3], f[4], key, result}
end

-- Writes deferred to the end of the script, in first-use order (so the script's effects are
-- the same on every run): per deadline index the members to remove. Nothing in a script reads
-- the index, so deferring the writes is invisible to every body.
local INDEX_KEYS, INDEX_DROP = {}, {}

local function pending(keys, by_key, key)
  local p = by_key[key]
  if not p then
    p = {order = {}, value = {}}
    by_key[key] = p
    keys[#keys + 1] = key
  end
  return p
end

-- ZREM of a deadline index member, deferred.
local function defer_unindex(key, member)
  local p = pending(INDEX_KEYS, INDEX_DROP, key)
  p.order[#p.order + 1] = member
end

-- Writes what finalize deferred: one ZREM per deadline index.
local function flush()
  -- Each write under redis.pcall: a key that refuses (WRONGTYPE on a damaged key) must not keep
  -- the other keys of the call from their writes; the first refusal is logged and returned, and
  -- the caller answers it for the whole call as before.
  local failure = nil
  local function write(...)
    local reply = redis.pcall(...)
    if type(reply) == 'table' and reply.err then
      redis.log(redis.LOG_WARNING, 'safequiz: a deferred write to ' .. select(2, ...) ..
        ' failed: ' .. reply.err)
      failure = failure or reply
    end
  end
  for _, key in ipairs(INDEX_KEYS) do
    write('ZREM', key, unpack(INDEX_DROP[key].order))
  end
  INDEX_KEYS, INDEX_DROP = {}, {}
  return failure
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
  local correct, points = 0, 0
  local p = nil
  if PPQ then
    for i = 1, #key do
      local chosen = string.byte(answers, i)
      if chosen ~= 48 and chosen == string.byte(key, i) then correct = correct + 1 end
    end
    points = correct * PPQ
  else
    -- score::Scoring::score: each right answer earns its kind's points (n:v, f[4]).
    p = policy(SCORING)
    local kinds = f[4]
    for i = 1, #key do
      local chosen = string.byte(answers, i)
      if chosen ~= 48 and chosen == string.byte(key, i) then
        correct = correct + 1
        points = points + p[string.sub(kinds, 2 * i - 1, 2 * i - 1)]
      end
    end
  end
  -- board::Finish: automatic submissions finish at the deadline, whenever the sweep happened to
  -- run; a submit's time counts up to the deadline at most.
  local finished, used
  if auto == 1 then
    finished, used = deadline, deadline - started
  else
    finished, used = NOW, math.min(NOW, deadline) - started
  end
  local attempts = tonumber(f[8] or 0) + 1
  local previous_last = tonumber(f[9] or 0)
  local last = math.max(previous_last, finished)
  -- score::Scoring::count: the totals by the counted policy.
  local previous_pts = tonumber(f[10] or 0)
  local pts = previous_pts + points
  local ms = tonumber(f[11] or 0) + used
  -- Counted by one attempt (best or last) rather than summed.
  local by_one = p and p.counted ~= 'sum'
  if by_one then
    if p.counted == 'last' or attempts == 1 or points > previous_pts
      or (points == previous_pts and used < tonumber(f[11] or 0)) then
      pts, ms = points, used
    else
      pts, ms = previous_pts, tonumber(f[11] or 0)
    end
  end
  local result = string.format('%d,%d,%d,%d,%d', points, correct, finished, used, auto)
  local open = f[7]
  if open == tostring(n) then open = '0' end
  -- score::is_full_marks: the count an exclusion takes off the units (exclusion.lua).
  local full = NO_FIELDS
  if #key > 0 and correct == #key then
    full = {'fm', string.format('%d', tonumber(f[12] or 0) + 1)}
  end
  redis.call('HSET', P, n .. ':r', result, n .. ':a', answers,
    'att', string.format('%d', attempts), 'pts', string.format('%d', pts),
    'ms', string.format('%d', ms), 'last', string.format('%d', last), 'open', open or '0',
    'pl', string.format('%d', previous_last), unpack(full))
  if f.listed then
    redis.call('DEL', answers_list(n))
    f.listed = nil
  end
  f[2], f[3], f[7] = result, answers, open
  local unit = own_unit()
  defer_unindex(DEADLINES, PID .. '-' .. n .. ' ' .. unit)

  -- The attempt entry; its layout is documented in src/streams.rs (AttemptEntry): the
  -- attempt's figures and the participant's totals after it packed into one `values` field
  -- (every argument of a script's command costs Redis about 0.2 µs to take, store, append to
  -- the AOF and hand to each reader: 15 arguments instead of 46 took an XADD from 9.9 to
  -- 2.3 µs, docs/performance.md). Its last two values: under best or last, `unit_points`, the
  -- change of the participant's counted points, which the board writer adds to their units
  -- instead of the attempt's points (empty under sum); and `1` while an organizer excludes
  -- the participant, when the board writer applies nothing of it (empty otherwise). An
  -- excluded participant's attempt is still recorded and still changes their totals.
  local unit_points = ''
  if by_one then unit_points = string.format('%d', pts - previous_pts) end
  local values = string.format('%s,%s,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%s,%s',
    unit, day, started, deadline, finished, used, points, correct, auto, attempts, pts, ms,
    last, previous_last, unit_points, f[13] and '1' or '')
  if PACKED_ENTRIES then
    -- One field, `attempt`, its six parts joined by tabs: each reader (the board writer and
    -- the flusher) parses 5 values of a reply per entry instead of 17, which cost redis-rs
    -- about 0.35 µs each, and XADD takes 2 arguments instead of 14.
    redis.call('XADD', STREAM, '*', 'attempt', PID .. '-' .. n .. '\t' .. values .. '\t' ..
      f[6] .. '\t' .. key .. '\t' .. answers .. '\t' .. PATH)
  else
    redis.call('XADD', STREAM, '*', 'type', 'attempt', 'attempt', PID .. '-' .. n,
      'values', values, 'questions', f[6], 'key', key, 'answers', answers,
      'path', PATH)
  end
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

-- Runs one operation: binds its keys and arguments, then its body under pcall, so that an
-- error answers that operation only (writes it did before the error stay, as they would in a
-- script of its own). Returns the body's reply packed into one string, its fields joined by
-- "\31" (src/batch.rs splits it); or {"!error", message} for an error (the Rust side turns it
-- into that operation's error); or nil and an error reply for the errors a cluster client
-- answers by retrying the whole call elsewhere (READONLY: a primary demoted by a failover),
-- which must fail the whole call as before.
--
-- Why packed: the service's Redis client parses a reply with a general parser that costs about
-- 0.35 µs per value, so an attempt record of eight fields cost about 3 µs to parse, against
-- well under 1 µs as one bulk string; Redis, too, writes one bulk reply instead of eight
-- (docs/performance.md, "Replies and entries packed"). No field holds "\31": they are digits, letters,
-- the bank's ids (letters, digits, "-", "_", ".") and the separators "," "/" ".".
local function run(body, key_at, arg_at, count)
  bind(key_at, arg_at, count)
  local ok, reply = pcall(body, KEYS, ARGV)
  -- A field that is not a string or a number fails this operation alone, as it did when the
  -- client converted the array.
  if ok then ok, reply = pcall(table.concat, reply, '\31') end
  if ok then return reply end
  local message
  if type(reply) == 'table' and reply.err then
    message = reply.err
  else
    message = 'ERR ' .. tostring(reply)
  end
  if string.sub(message, 1, 8) == 'READONLY' then return nil, {err = message} end
  return {'!error', message}
end
