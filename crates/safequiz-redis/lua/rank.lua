-- rank: how many members of one individual board come before a given score and member.
--
-- KEYS[1] an individual board of one shard (its order: safequiz_domain::board, the prelude)
-- ARGV[1] the score, ARGV[2] the member
-- Returns the count of members ordered strictly before (score, member), whether or not the
-- member is on this board, so ranks can be summed over shards.
--
-- Invariant: read-only; it never changes a board.
--
-- Members with equal scores are sorted by member; a binary search over their positions keeps
-- this O(log^2 n) even when thousands share a score (every attempt left to run out of time with
-- the same points has the same time used).

local board, score, member = KEYS[1], ARGV[1], ARGV[2]
local lo = redis.call('ZCOUNT', board, '-inf', '(' .. score)
local hi = lo + redis.call('ZCOUNT', board, score, score)
while lo < hi do
  local mid = math.floor((lo + hi) / 2)
  local at = redis.call('ZRANGE', board, mid, mid)[1]
  if at < member then lo = mid + 1 else hi = mid end
end
return lo
