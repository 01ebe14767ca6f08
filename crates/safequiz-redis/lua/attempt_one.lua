-- One attempt operation in a script of its own: the tail src/scripts.rs puts after the prelude
-- and one body (wrapped as `body`), for an operation that went to Redis alone (no other was
-- waiting; see src/batch.rs).
--
-- KEYS and ARGV: the prelude's and the body's (attempt_prelude.lua and the body's header).
-- Returns the body's reply, packed into one string by `run`; an error the body raised is this
-- script's error reply, as before.
--
-- Cost (Redis 7.0, AOF everysec, `loadtest/run ceiling`, each kind run apart, where requests
-- that meet in flight share a batch call; medians of 3 on this machine, `22ff49d`): Redis CPU
-- per request about 12 µs for a save, 23 µs for a start, 41 µs for a submit (finalize); a
-- whole attempt 136 µs under the ceiling's mixed load; see docs/performance.md.

local reply, failure = run(body, 0, 0, #ARGV)
local refused = flush()
if failure then return failure end
if refused then return refused end
if type(reply) == 'table' and reply[1] == '!error' then return {err = reply[2]} end
return reply
