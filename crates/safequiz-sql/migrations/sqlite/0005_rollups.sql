-- Roll-ups kept as the record is written, so that organizer reports read a few rows per unit
-- and day instead of every attempt (docs/design.md, "Reports at scale"). `insert_batch` adds a
-- batch's new attempts to them in the transaction that inserts the attempts, so they are exactly
-- as durable as the rows and count each attempt once; `Store::rebuild_rollups` recomputes them
-- from the raw rows. `unit_id` '*' is the whole campaign (`safequiz_domain::scope`).

-- Every unit with itself and each of its ancestors, kept by `sync_units`: a subtree is the
-- units whose ancestors include its root, found by one index range instead of a recursive walk.
CREATE TABLE unit_ancestors (
    campaign_id TEXT NOT NULL,
    unit_id     TEXT NOT NULL,
    ancestor_id TEXT NOT NULL,
    PRIMARY KEY (campaign_id, unit_id, ancestor_id)
);

CREATE INDEX unit_ancestors_by_ancestor ON unit_ancestors (campaign_id, ancestor_id, unit_id);

WITH RECURSIVE up (campaign_id, unit_id, ancestor_id, parent_id) AS (
    SELECT campaign_id, unit_id, unit_id, parent_id FROM units
    UNION ALL
    SELECT up.campaign_id, up.unit_id, u.unit_id, u.parent_id
    FROM up JOIN units u ON u.campaign_id = up.campaign_id AND u.unit_id = up.parent_id
)
INSERT INTO unit_ancestors (campaign_id, unit_id, ancestor_id)
SELECT campaign_id, unit_id, ancestor_id FROM up;

-- Per unit (at every level of the attempt's unit, and '*') and day: attempts, points and
-- full-mark attempts, and the participants whose active days include that day, counted by the
-- participant's previous active day (`prev_day`, -2147483648 when there is none). The
-- participants active in days f..t are those with a day in f..t whose previous day is before
-- f, so their number is the sum of `participants` over `day BETWEEN f AND t AND prev_day < f`.
-- A day flushed after a later one moves that later day's participant to the new previous day;
-- attempts, points and full marks stay in the row they were added to (sums over days need no
-- particular `prev_day`).
CREATE TABLE unit_days (
    campaign_id  TEXT    NOT NULL,
    unit_id      TEXT    NOT NULL,
    day          INTEGER NOT NULL,
    prev_day     INTEGER NOT NULL,
    participants INTEGER NOT NULL,
    attempts     INTEGER NOT NULL,
    points       INTEGER NOT NULL,
    full_marks   INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, unit_id, day, prev_day)
);

-- Per unit (every level, and '*'), day and question: how often each answer was given, as the
-- set of options chosen over the bank's option order (0: not answered) and whether it scored;
-- `options` is the most options the question was shown with.
CREATE TABLE question_days (
    campaign_id TEXT    NOT NULL,
    unit_id     TEXT    NOT NULL,
    day         INTEGER NOT NULL,
    question_id TEXT    NOT NULL,
    chosen      INTEGER NOT NULL,
    correct     INTEGER NOT NULL,
    options     INTEGER NOT NULL,
    answers     INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, unit_id, day, question_id, chosen, correct)
);

-- One row per participant: the registration (once it is flushed; `registered`) and the totals
-- of every attempt, for the participant search and export. Ordered by points descending, time
-- used, then id: `-points` keeps the index in one direction, so a page after a cursor is one
-- index range.
CREATE TABLE participant_totals (
    campaign_id         TEXT    NOT NULL,
    participant_id      INTEGER NOT NULL,
    unit_id             TEXT    NOT NULL,
    name                TEXT    NOT NULL,
    phone_masked        TEXT    NOT NULL,
    registered_at_ms    INTEGER NOT NULL,
    registered          INTEGER NOT NULL,
    attempts            INTEGER NOT NULL,
    points              INTEGER NOT NULL,
    full_marks          INTEGER NOT NULL,
    time_used_ms        INTEGER NOT NULL,
    last_finished_at_ms INTEGER,
    PRIMARY KEY (campaign_id, participant_id)
);

CREATE INDEX participant_totals_by_rank
    ON participant_totals (campaign_id, (-points), time_used_ms, participant_id);
CREATE INDEX participant_totals_by_unit_rank
    ON participant_totals (campaign_id, unit_id, (-points), time_used_ms, participant_id);

-- One row per participant and day with an attempt: that day's totals (the search by day), and
-- the participant's active days (the previous day of `unit_days`).
CREATE TABLE participant_days (
    campaign_id         TEXT    NOT NULL,
    participant_id      INTEGER NOT NULL,
    day                 INTEGER NOT NULL,
    unit_id             TEXT    NOT NULL,
    attempts            INTEGER NOT NULL,
    points              INTEGER NOT NULL,
    full_marks          INTEGER NOT NULL,
    time_used_ms        INTEGER NOT NULL,
    last_finished_at_ms INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, participant_id, day)
);

CREATE INDEX participant_days_by_rank
    ON participant_days (campaign_id, day, (-points), time_used_ms, participant_id);
CREATE INDEX participant_days_by_unit_rank
    ON participant_days (campaign_id, unit_id, day, (-points), time_used_ms, participant_id);

-- Campaigns whose roll-ups must be built from their raw rows: every campaign recorded before
-- this migration. `Store::migrate` builds them and empties this table.
CREATE TABLE rollup_rebuilds (
    campaign_id TEXT NOT NULL PRIMARY KEY
);

INSERT INTO rollup_rebuilds (campaign_id)
SELECT campaign_id FROM attempts UNION SELECT campaign_id FROM participants;

-- No report reads attempts by unit any more; one index less to write per flushed attempt.
DROP INDEX attempts_by_unit_day;
