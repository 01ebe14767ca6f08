-- The SQL-only journey of `loadtest/run compare`: the same participant journey as safequiz's
-- (start, 5 saves, submit; one attempt a day; unit totals at every level and exact individual
-- boards kept up to date by the submit), done the obvious way on PostgreSQL with no Redis and no
-- HTTP in front. It exists only to be measured against safequiz's ceiling; nothing in the service
-- reads it. One campaign, so no table carries a campaign id.
--
-- Every statement of the journey is served by an index below and no index is kept that the
-- journey does not need (reports and exports are not part of it, in either system). Instants are
-- Unix milliseconds and `day` counts calendar days, as in safequiz's record.

-- The unit tree (config/units/regions.tsv, loaded by seed.sql): unit "*" is the whole campaign.
CREATE TABLE units (
    unit_id   TEXT    PRIMARY KEY,
    parent_id TEXT    REFERENCES units,
    kind      TEXT    NOT NULL,
    depth     INTEGER NOT NULL
);

-- One row per participant: who they are, where they count, the open attempt, and their totals
-- over final attempts (what safequiz keeps in the participant's hash: open, att, pts, ms, last).
-- level1_id .. level3_id are the unit path below the campaign, root first (province, city,
-- county; a county directly under a province leaves level3_id empty), copied at registration so
-- that a submit reaches every level without walking the tree.
CREATE TABLE participants (
    participant_id  BIGINT  PRIMARY KEY,
    name            TEXT    NOT NULL,
    phone_hash      TEXT    NOT NULL,
    unit_id         TEXT    NOT NULL REFERENCES units,
    level1_id       TEXT    NOT NULL,
    level2_id       TEXT,
    level3_id       TEXT,
    -- The open attempt's id, 0 when none: a start resumes it, a submit clears it.
    open_attempt_id BIGINT  NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    points          INTEGER NOT NULL DEFAULT 0,
    time_used_ms    BIGINT  NOT NULL DEFAULT 0,
    last_finish_ms  BIGINT  NOT NULL DEFAULT 0
) WITH (fillfactor = 80);
-- The fillfactor leaves room on each page so that a start (which changes only open_attempt_id,
-- no indexed column) is a HOT update that touches no index.

-- The individual boards, campaign-wide and of every level of the unit path, in safequiz's order
-- (docs/api.md): more points first, then less time used, then the earlier last finish, then the
-- smaller id. A board lists only participants with a final attempt, hence the partial indexes;
-- "the top 100 of a city" and "my rank" are index range scans on these.
CREATE INDEX participants_board ON participants
    (points DESC, time_used_ms, last_finish_ms, participant_id) WHERE attempts > 0;
CREATE INDEX participants_board_level1 ON participants
    (level1_id, points DESC, time_used_ms, last_finish_ms, participant_id) WHERE attempts > 0;
CREATE INDEX participants_board_level2 ON participants
    (level2_id, points DESC, time_used_ms, last_finish_ms, participant_id) WHERE attempts > 0;
CREATE INDEX participants_board_level3 ON participants
    (level3_id, points DESC, time_used_ms, last_finish_ms, participant_id) WHERE attempts > 0;

-- Every attempt, open or final: the durable record and the hot state in one row.
-- key and answers are safequiz's encodings (one character per question, "0" + a bit set over
-- display order; "0" is unanswered), kinds two characters per question ("s4": single choice of
-- four options), so scoring is the same comparison safequiz's finalize makes.
CREATE TABLE attempts (
    attempt_id       BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    participant_id   BIGINT  NOT NULL REFERENCES participants,
    day              INTEGER NOT NULL,
    started_at_ms    BIGINT  NOT NULL,
    deadline_ms      BIGINT  NOT NULL,
    -- The deadline plus the grace: answers and submits are taken until then.
    accepts_until_ms BIGINT  NOT NULL,
    questions        TEXT    NOT NULL,
    key              TEXT    NOT NULL,
    kinds            TEXT    NOT NULL,
    answers          TEXT    NOT NULL,
    finished_at_ms   BIGINT,
    time_used_ms     BIGINT,
    points           INTEGER,
    correct          INTEGER,
    auto_submitted   BOOLEAN,
    -- One attempt per participant and day (the campaign's attempts_per_day = 1): a second start
    -- on the same day finds this row instead of making another.
    UNIQUE (participant_id, day)
) WITH (fillfactor = 70);
-- The five saves of an attempt rewrite only `answers`, which no index covers: with room on the
-- page they are HOT updates, as cheap as an update gets.

-- The sweeper's index (safequiz's deadline sorted set): open attempts by the instant after which
-- they are finalized automatically. Final attempts leave it.
CREATE INDEX attempts_open_by_deadline ON attempts (accepts_until_ms) WHERE finished_at_ms IS NULL;

-- Unit totals over final attempts (safequiz's unit totals hash): points, attempts, participants
-- (counted at their first final attempt) and full-mark attempts, for "*" and every unit.
-- Each unit's totals are split over `slot` (participant id modulo the slot count, seed.sql), as
-- safequiz splits them over shards: otherwise every submit would update the one "*" row and
-- submits would queue on its row lock. A board of units sums the slots of each unit.
CREATE TABLE unit_totals (
    unit_id      TEXT    NOT NULL,
    slot         INTEGER NOT NULL,
    points       BIGINT  NOT NULL DEFAULT 0,
    attempts     BIGINT  NOT NULL DEFAULT 0,
    participants BIGINT  NOT NULL DEFAULT 0,
    full_marks   BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (unit_id, slot)
) WITH (fillfactor = 50);
-- Totals change no indexed column, so with room on the page every increment is a HOT update.

-- The statement's clock in Unix milliseconds. safequiz's service passes its own clock to Redis;
-- here the database's clock stands in for the application server's.
CREATE FUNCTION now_ms() RETURNS BIGINT LANGUAGE sql STABLE
    AS $$ SELECT (extract(epoch FROM statement_timestamp()) * 1000)::BIGINT $$;
