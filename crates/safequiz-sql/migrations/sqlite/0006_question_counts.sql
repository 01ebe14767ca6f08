-- The question counters keyed by small integers instead of text (docs/design.md §5.5).
--
-- `question_days` kept one row per unit, day, question and answer, keyed by the campaign, unit
-- and question ids as text: an attempt's 5 questions add about 16 rows (one per
-- question at each level of its unit), and each row's insert into that six-column text key cost
-- most of a flush (docs/performance.md, "What the roll-ups cost on flush"). The same counters
-- keyed by integers write the same rows with a smaller key that compares faster.

-- A number for each unit (and '*', the whole campaign) and each question a campaign's counters
-- name, given the first time a flushed attempt needs it and never changed. Keys are unique over
-- all campaigns, so a counter row needs no campaign column.
CREATE TABLE rollup_keys (
    id          INTEGER PRIMARY KEY,
    campaign_id TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('unit', 'question')),
    name        TEXT NOT NULL,
    UNIQUE (campaign_id, kind, name)
);

-- Per unit (every level, and '*'), day and question: how often each answer was given, as the
-- set of options chosen over the bank's option order (0: not answered) and whether it scored;
-- `options` is the most options the question was shown with. `unit_key` and `question_key` are
-- `rollup_keys` of the campaign.
CREATE TABLE question_counts (
    unit_key     INTEGER NOT NULL,
    day          INTEGER NOT NULL,
    question_key INTEGER NOT NULL,
    chosen       INTEGER NOT NULL,
    correct      INTEGER NOT NULL,
    options      INTEGER NOT NULL,
    answers      INTEGER NOT NULL,
    PRIMARY KEY (unit_key, day, question_key, chosen, correct)
) WITHOUT ROWID;

INSERT INTO rollup_keys (campaign_id, kind, name)
SELECT DISTINCT campaign_id, 'unit', unit_id FROM question_days;

INSERT INTO rollup_keys (campaign_id, kind, name)
SELECT DISTINCT campaign_id, 'question', question_id FROM question_days;

INSERT INTO question_counts (unit_key, day, question_key, chosen, correct, options, answers)
SELECT u.id, q.day, k.id, q.chosen, q.correct, q.options, q.answers
FROM question_days q
JOIN rollup_keys u ON u.campaign_id = q.campaign_id AND u.kind = 'unit' AND u.name = q.unit_id
JOIN rollup_keys k
    ON k.campaign_id = q.campaign_id AND k.kind = 'question' AND k.name = q.question_id;

DROP TABLE question_days;
