-- batch: a group commit of attempt operations (start, save, submit, read, mixed), run one after
-- the other in the order given, in one script call (src/batch.rs sends it when requests
-- arrived while the previous call was in flight). The tail src/scripts.rs puts after the
-- prelude and every body, each wrapped as `body_<kind>`.
--
-- KEYS: every operation's keys (the prelude's layout), concatenated in order. On a Redis
-- Cluster they all carry one shard's hash tag, so one slot.
-- ARGV[1]: N, the number of operations; then per operation: its kind ("start", "save",
-- "submit" or "read") and its number of arguments a, then its a arguments (the prelude's
-- layout and the body's own). Every operation has the prelude's three keys.
-- Returns one reply per operation, in order: the body's reply packed into one string (`run`
-- in the prelude), or {"!error", message} when that operation raised an error (the others are
-- not affected, and writes it did before the error stay, as in a script of its own). A
-- READONLY error fails the whole call, so that a cluster client retries it on the new primary.
--
-- Invariant: the result equals running the operations one script each in the same order:
-- every body reads and writes the participant's hash at once; finalize's deferred writes
-- (totals, deadline index) are read by no body and flushed once at the end.
--
-- Cost: the request, the invocation and the prelude's setup are paid once per call instead of
-- once per operation; each operation adds its slice of arguments (about 20 strings, read in
-- place: `bind` points the body at them, nothing is copied), one bind and one pcall, and its
-- own commands; the totals writes of its finalizes are shared
-- with the other finalizes of the call. Measured (docs/performance.md, "Group commit (issue
-- 16)"): a save about 14 µs inside a batch call at the ceiling (the same as alone); a whole
-- attempt 126 µs inside batch calls of 32 against 233 µs alone, with an otherwise idle Redis.

local BODIES = {start = body_start, save = body_save, submit = body_submit, read = body_read}
local replies = {}
local key_at, arg_at = 0, 2
for op = 1, tonumber(ARGV[1]) do
  local kind, nargs = ARGV[arg_at], tonumber(ARGV[arg_at + 1])
  arg_at = arg_at + 2
  local body = BODIES[kind]
  local op_keys, op_args = key_at, arg_at - 1
  key_at, arg_at = key_at + 3, arg_at + nargs
  if not body then
    replies[op] = {'!error', 'ERR unknown attempt operation ' .. tostring(kind)}
  else
    local reply, failure = run(body, op_keys, op_args, nargs)
    if failure then
      flush()
      return failure
    end
    replies[op] = reply
  end
end
-- A deferred write a key refused fails the whole call (its operations' callers cannot tell
-- whose writes it held), after every other key's writes are done.
local refused = flush()
if refused then return refused end
return replies
