-- standing: a participant's totals and their rank counts on every board of one shard, in one
-- call per shard (GET .../me), instead of one rank.lua call per board per shard.
--
-- Two forms, by ARGV[1]:
--   ARGV[1] == ''  (the participant's own shard, asked first)
--     KEYS[1]      the participant's hash
--     KEYS[2..]    the shard's individual boards to count on (the campaign's first, then the
--                  units of the path, root first)
--     ARGV[2]      the participant id
--     Returns {pts, ms, att, last, open, day, dn, c1, c2, ...}: the participant's own fields
--     (nil when missing) and, only when att > 0, one count per board. The score and member
--     counted against are made here from pts, ms, last and the id, exactly as finalize makes
--     them (attempt_prelude.lua), so the count includes an attempt finished a moment ago.
--   ARGV[1] == the score, ARGV[2] == the member  (every other shard, asked second)
--     KEYS[1..]    the shard's individual boards
--     Returns {c1, c2, ...}.
-- Each count is the number of members ordered strictly before (score, member), whether or not
-- the member is on this board, so ranks are sums over shards plus one. The tie rule is
-- rank.lua's: members with equal scores are ordered by member (byte order).
--
-- Invariant: read-only; it never changes a board or a hash.
--
-- Cost per board. Without a tie, three cheap calls: a ZRANGEBYSCORE of the first member at or
-- above the score with its score (one skiplist descent, one score formatted), a ZRANK of it (a
-- hash lookup and one descent), and nothing else; ZCOUNT (four descents) and long WITHSCORES
-- replies (a formatted double per member) are avoided. With members tied on exactly this score,
-- a ZRANGEBYSCORE of up to TIES of them (members only) settles a short tie; a longer one is
-- binary-searched with single-member ZRANGEs down to WINDOW positions, read at once: O(log
-- ties) calls. On the participant's own shard the member is on the board: a ZSCORE (a hash
-- lookup) confirms its score and a ZRANK gives the count in one descent.

local TIES = 16
local WINDOW = 32
local POINT_WEIGHT = 10000000000

-- How many members of `board` come before (score, member): see the header.
local function before(board, score, member, own)
  local value = tonumber(score)
  if own then
    local stored = redis.call('ZSCORE', board, member)
    if stored and tonumber(stored) == value then
      return redis.call('ZRANK', board, member)
    end
  end
  local first = redis.call('ZRANGEBYSCORE', board, score, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if #first == 0 then return redis.call('ZCARD', board) end
  local lo = redis.call('ZRANK', board, first[1])
  if tonumber(first[2]) ~= value or first[1] >= member then return lo end
  -- first[1] ties and comes before the member: count the tie's other members before it.
  local tied = redis.call('ZRANGEBYSCORE', board, score, score, 'LIMIT', 1, TIES)
  for i = 1, #tied do
    if tied[i] >= member then return lo + i end
  end
  if #tied < TIES then return lo + 1 + #tied end
  lo = lo + 1 + TIES
  local hi = lo - 1 - TIES + redis.call('ZCOUNT', board, score, score)
  while hi - lo > WINDOW do
    local mid = math.floor((lo + hi) / 2)
    local at = redis.call('ZRANGE', board, mid, mid)[1]
    if at < member then lo = mid + 1 else hi = mid end
  end
  if hi > lo then
    local window = redis.call('ZRANGE', board, lo, hi - 1)
    for i = 1, #window do
      if window[i] >= member then return lo + i - 1 end
    end
    return hi
  end
  return lo
end

local reply, first = {}, 1
local score, member = ARGV[1], ARGV[2]
if score == '' then
  reply = redis.call('HMGET', KEYS[1], 'pts', 'ms', 'att', 'last', 'open', 'day', 'dn')
  local attempts = tonumber(reply[3])
  if not attempts or attempts == 0 then return reply end
  -- BoardScore::to_redis_score and BoardMember::encode, as finalize spells them.
  score = string.format('%d', tonumber(reply[2]) - tonumber(reply[1]) * POINT_WEIGHT)
  member = string.format('%013d%012d', tonumber(reply[4]), tonumber(member))
  first = 2
end
for i = first, #KEYS do
  reply[#reply + 1] = before(KEYS[i], score, member, first == 2)
end
return reply
