-- register: finds or creates the participant with a phone.
--
-- KEYS[1] the shard's phone index (hash: keyed phone hash -> participant id)
-- KEYS[2] the shard's people (hash: participant id -> "name\tmasked phone\tunit\tregistered ms")
-- KEYS[3] the shard's participant counter
-- KEYS[4] the shard's stream (the participant entry's fields are documented in src/streams.rs)
-- KEYS[5] the phone's registration counter in the current window (`ShardKeys::phone_hits`)
-- ARGV: keyed phone hash (hex), name, masked phone, unit id, now (ms), shard count, shard,
-- registrations allowed per window with one phone (0: no limit), the window (seconds); then
-- field/value pairs for the record only (`participants::RecordFields`: the consent of
-- issue 20, the sealed phone of issue 19): they go to the stream entry (and from there to SQL)
-- and never to the people entry, whose format and size they leave unchanged.
-- Returns {"created", id, unit}, {"existing", id, unit} for the same phone and name,
-- {"taken"} when the phone belongs to someone with another name, or {"limited", ms left in the
-- window} when the phone is over its limit (nothing else written).
--
-- The phone's counter lives here, in the shard the phone picks, so that a registration is one
-- round trip (issue 22; it was a pipeline on `{limits}` first). A phone's first registration,
-- the one that creates its participant, is never over a limit of 1 or more, so it writes no
-- counter (issue 15: a counter per registration was about 100 B of Redis per participant for
-- the window's length). A later one counts itself and, when the counter is fresh and the
-- creation is within the window, the creation too, with the window ending where it would have
-- ended from the creation: the same count and window as a counter started at the first
-- registration. A refused attempt is counted too, so a script that keeps trying stays refused
-- until the window ends.
--
-- Invariants: one participant per phone per campaign; id mod shard count = shard, so the id
-- alone names the shard. The unit of an existing participant never changes (their points stay
-- where they were earned). The plain phone number never reaches Redis.

local allowed, window_ms = tonumber(ARGV[8]), tonumber(ARGV[9]) * 1000
local id = redis.call('HGET', KEYS[1], ARGV[1])
if id then
  local person = redis.call('HGET', KEYS[2], id) or ''
  if allowed > 0 then
    local hits = redis.call('INCR', KEYS[5])
    if hits == 1 then
      local age = tonumber(ARGV[5]) - (tonumber(string.match(person, '^.*\t(%d+)$')) or 0)
      if age < 0 then age = 0 end
      if age < window_ms then
        hits = redis.call('INCR', KEYS[5])
        redis.call('PEXPIRE', KEYS[5], window_ms - age)
      else
        redis.call('PEXPIRE', KEYS[5], window_ms)
      end
    end
    if hits > allowed then
      local left = redis.call('PTTL', KEYS[5])
      if left <= 0 then left = window_ms end
      return {'limited', string.format('%d', left)}
    end
  end
  local name, unit = string.match(person, '^([^\t]*)\t[^\t]*\t([^\t]*)\t')
  if name == ARGV[2] then return {'existing', id, unit} end
  return {'taken'}
end
local n = redis.call('INCR', KEYS[3])
id = string.format('%d', n * tonumber(ARGV[6]) + tonumber(ARGV[7]))
redis.call('HSET', KEYS[1], ARGV[1], id)
redis.call('HSET', KEYS[2], id, ARGV[2] .. '\t' .. ARGV[3] .. '\t' .. ARGV[4] .. '\t' .. ARGV[5])
-- The entry packs the registration into one `person` field, tab-separated (a name holds no
-- tab): 4 arguments instead of 14, each of which XADD, the AOF and both readers pay for.
local entry = {'type', 'participant', 'person', id .. '\t' .. ARGV[2] .. '\t' .. ARGV[3] ..
  '\t' .. ARGV[1] .. '\t' .. ARGV[4] .. '\t' .. ARGV[5]}
for i = 10, #ARGV do table.insert(entry, ARGV[i]) end
redis.call('XADD', KEYS[4], '*', unpack(entry))
return {'created', id, ARGV[4]}
