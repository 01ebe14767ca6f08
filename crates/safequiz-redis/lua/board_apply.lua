-- board_apply: adds the unit totals of the stream entries a writer has read to the shard's
-- totals, exactly once (src/board_writer.rs).
--
-- KEYS[1] the shard's board lease, KEYS[2] its unit totals, KEYS[3] the id of the last entry
-- whose totals are applied
-- ARGV[1] this writer's name, ARGV[2] that id as lease.lua returned it to the writer,
-- ARGV[3] the id of the last entry read, then pairs of a totals field and its increment (the
-- sums over the entries read after ARGV[2])
-- Returns 1 when it applied them and moved the id to ARGV[3]; 0 when the writer no longer
-- holds the lease or the id is no longer ARGV[2] (another writer applied entries meanwhile):
-- then it writes nothing, and the writer's pass ends without touching the boards.
--
-- Invariant: the increments are applied in the same script that moves the id past their
-- entries, and only from the id they were summed from, so a pass repeated after a failed board
-- write, or by another writer, adds nothing twice.

if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if (redis.call('GET', KEYS[3]) or '0-0') ~= ARGV[2] then return 0 end
for i = 4, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[2], ARGV[i], ARGV[i + 1])
end
redis.call('SET', KEYS[3], ARGV[3])
return 1
