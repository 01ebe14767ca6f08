-- board_feed: the next entries of one shard's stream for the board writer, if this writer holds
-- the shard, with their unit totals applied to the shard's totals exactly once
-- (src/board_writer.rs).
--
-- KEYS[1] the shard's board lease, KEYS[2] its board cursor, KEYS[3] its stream, KEYS[4] its
-- unit totals, KEYS[5] the id of the last entry whose totals are applied
-- ARGV[1] this writer's name, ARGV[2] the lease in ms, ARGV[3] how many entries at most
-- Returns false when another writer holds the lease. Otherwise it takes or extends the lease,
-- applies the unit totals of the entries read that are after KEYS[5] and moves KEYS[5] past
-- them, and returns {cursor, last, n, then 6 strings per attempt entry: participant, path,
-- total_points, total_time, last, previous_last}: `cursor` the board cursor, `last` the id of
-- the last entry read ('' when none), n the number of entries read. Registrations are read
-- past, since they change no total and no board. An attempt entry written before these fields
-- existed (its totals were applied by the finalize of that version) gives empty strings, which
-- the writer counts and skips.
--
-- Exclusions (exclusion.lua, issue 21): an attempt entry marked `excluded` applies nothing and
-- returns no row. An `exclusion` entry takes the participant's totals as it carries them off
-- the unit totals (their attempts, counted points, one participant, their full-mark attempts)
-- and returns the row {participant, path, 'x', '0', '0', last}: their member off every board of
-- the path. An `inclusion` entry adds the same back and returns {participant, path, points,
-- time, last, '0'}: their member added, as a first attempt's row would. A participant with no
-- final attempt has nothing on the boards: neither returns a row.
--
-- Unit totals pack two counters into one integer field, high * 2^32 + low: "<unit>:pa" is
-- attempts (high) and points (low), "<unit>:nf" participants (high) and full-mark attempts
-- (low); unit "*" is the whole campaign. Each low counter stays far below 2^32 within one shard
-- (points: 2^32 / 10 points is 429 million attempts of one unit in one shard). src/boards.rs
-- unpacks them. An attempt adds one attempt and its points to every unit of its path and the
-- campaign, a participant when it is their first final attempt, and a full-mark attempt when
-- every question was answered right (safequiz_domain::score::is_full_marks, mirrored here;
-- the property test in tests/it/finalize.rs holds them equal).
--
-- Invariants: reads the stream in id order from just after the board cursor and never moves
-- it (board_commit.lua does, after the boards are written); totals are applied in this same
-- script as their marker moves, so a pass repeated after a failed board write adds nothing
-- twice.
--
-- Cost: one XRANGE of up to ARGV[3] entries (7 fields an attempt, its figures packed in
-- `values`) and one HINCRBY per distinct totals field they touch (a campaign's attempts share
-- the upper units' fields); only the six values the boards need cross the network, not the
-- attempt's questions and answers. An attempt entry in finalize's layout is read by position
-- and its packed values by one match, without a table: 8.9-10.8 against 13.0-15.7 µs of Redis
-- CPU per attempt entry read by name (docs/performance.md, "The board feed by position").

local WORD = 4294967296

-- Whether stream id a comes after b ("ms-seq", both parts below 2^53).
local function after(a, b)
  local ams, aseq = string.match(a, '^(%d+)-(%d+)$')
  local bms, bseq = string.match(b, '^(%d+)-(%d+)$')
  ams, bms = tonumber(ams), tonumber(bms)
  return ams > bms or (ams == bms and tonumber(aseq) > tonumber(bseq))
end

local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return false end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local cursor = redis.call('GET', KEYS[2]) or '0-0'
local applied = redis.call('GET', KEYS[5]) or '0-0'
local entries = redis.call('XRANGE', KEYS[3], '(' .. cursor, '+', 'COUNT', ARGV[3])
-- The named fields of an attempt entry that its `values` field packs (src/streams.rs), in
-- the packed order; an entry written before the packing has them as fields of their own.
local PACKED = {'unit', 'day', 'started', 'deadline', 'finished', 'time_used', 'points',
  'correct', 'auto', 'attempts', 'total_points', 'total_time', 'last', 'previous_last',
  'unit_points', 'excluded'}
-- The packed values the boards and totals need, in one match: points, correct, attempts,
-- total_points, total_time, last, previous_last, unit_points, excluded.
local V = '([^,]*),'
local SKIP = '[^,]*,'
local NEEDED = '^' .. SKIP:rep(6) .. V .. V .. SKIP .. V:rep(6) .. '([^,]*)$'
local function unpack_values(named)
  local i = 1
  for value in string.gmatch(named.values .. ',', '([^,]*),') do
    if value ~= '' then named[PACKED[i]] = value end
    i = i + 1
  end
  named.participant = string.match(named.attempt or '', '^(%d+)-')
end
local reply = {cursor, '', #entries}
local order, sums = {}, {}
local function add(field, delta)
  local v = sums[field]
  if v then
    sums[field] = v + delta
  else
    order[#order + 1] = field
    sums[field] = delta
  end
end
-- Adds the packed increments pa and nf to the whole campaign and every unit of `path`.
local function add_path(path, pa, nf)
  add('*:pa', pa)
  if nf ~= 0 then add('*:nf', nf) end
  for unit in string.gmatch(path, '[^,]+') do
    add(unit .. ':pa', pa)
    if nf ~= 0 then add(unit .. ':nf', nf) end
  end
end
-- A value absent from an entry (nil, or empty in the packed `values`).
local function present(value)
  if value == '' then return nil end
  return value
end
-- An attempt entry that is not excluded: its board row, and its unit totals once.
local function apply_attempt(id, participant, path, questions, points, correct, attempts,
    total_points, total_time, last, previous_last, unit_points)
  reply[#reply + 1] = participant or ''
  reply[#reply + 1] = path or ''
  reply[#reply + 1] = total_points or ''
  reply[#reply + 1] = total_time or ''
  reply[#reply + 1] = last or ''
  reply[#reply + 1] = previous_last or ''
  if total_points and after(id, applied) then
    -- Under `counted = best|last` the entry's `unit_points` is the change of the
    -- participant's counted points (finalize in attempt_prelude.lua), which is what a unit's
    -- points add; absent (`sum`), the attempt's points. A negative change is exact: the
    -- packed low counter is the true sum, never below 0, once every entry is applied.
    local pa = WORD + tonumber(unit_points or points)
    local nf = 0
    if attempts == '1' then nf = WORD end
    if questions > 0 and tonumber(correct) == questions then nf = nf + 1 end
    add_path(path, pa, nf)
  end
end
for _, entry in ipairs(entries) do
  local id, fields = entry[1], entry[2]
  reply[2] = id
  -- Every writer puts `type` first; a registration (half the entries when people register as
  -- they answer) is passed without reading its fields into a table.
  local kind = fields[1] == 'type' and fields[2] or nil
  local points, correct, attempts, total_points, total_time, last, previous_last, unit_points,
    excluded
  if kind == 'attempt' and fields[3] == 'attempt' and fields[5] == 'values'
      and fields[9] == 'key' and fields[13] == 'path' then
    -- An attempt entry as finalize writes it (most entries), read by position: no table.
    points, correct, attempts, total_points, total_time, last, previous_last, unit_points,
      excluded = string.match(fields[6], NEEDED)
  end
  if points then
    if excluded == '' then
      apply_attempt(id, string.match(fields[4], '^(%d+)-'), fields[14], #fields[10], points,
        correct, attempts, present(total_points), present(total_time), present(last),
        present(previous_last), present(unit_points))
    end
  elseif kind ~= 'participant' then
    -- Any other entry, or an attempt entry of an older layout, read by name.
    local named = {}
    for i = 1, #fields, 2 do named[fields[i]] = fields[i + 1] end
    kind = named.type
    if kind == 'attempt' and named.values then unpack_values(named) end
    if kind == 'attempt' and not named.excluded then
      apply_attempt(id, named.participant, named.path, #(named.key or ''), named.points,
        named.correct, named.attempts, named.total_points, named.total_time, named.last,
        named.previous_last, named.unit_points)
    elseif (kind == 'exclusion' or kind == 'inclusion') and named.attempts ~= '0' then
      local sign, board_row = 1, nil
      if kind == 'exclusion' then
        sign = -1
        board_row = {named.participant, named.path, 'x', '0', '0', named.last}
      else
        board_row = {named.participant, named.path, named.total_points, named.total_time,
          named.last, '0'}
      end
      for i = 1, 6 do reply[#reply + 1] = board_row[i] end
      if after(id, applied) then
        local pa = sign * (tonumber(named.attempts) * WORD + tonumber(named.total_points))
        add_path(named.path, pa, sign * (WORD + tonumber(named.full_marks)))
      end
    end
  end
end
for _, field in ipairs(order) do
  redis.call('HINCRBY', KEYS[4], field, string.format('%d', sums[field]))
end
if reply[2] ~= '' and after(reply[2], applied) then
  redis.call('SET', KEYS[5], reply[2])
end
return reply
