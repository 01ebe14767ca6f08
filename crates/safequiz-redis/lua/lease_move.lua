-- lease_move: moves a shard's cursor past the entries a worker has done with, if it still
-- holds the shard's lease (lease.lua): the board writer's after its board writes, the
-- flusher's after its SQL commit.
--
-- KEYS[1] the shard's lease, KEYS[2] the cursor
-- ARGV[1] this worker's name, ARGV[2] the id of the last entry done
-- Returns 1 when the cursor moved, 0 when the lease has passed to another worker, which then
-- does the same entries again, in the same order: harmless for both (board writes set the same
-- members; SQL inserts are idempotent and the roll-ups count only rows new to SQL).
--
-- Only the holder moves a cursor, and only to where it has done: a worker whose lease ran out
-- during a pass cannot move it back or past what another did.
--
-- Cost: a GET and a SET, once per pass and shard that had entries.

if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
return 1
