-- Seeds the SQL-only journey's database (schema.sql): the unit tree read from standard input
-- (config/units/regions.tsv without its comment and header lines), a totals row per unit and
-- slot, and :participants registered participants spread at random, with a fixed seed, over the
-- tree's leaves (about 3,000 counties, districts and zones), so that rows are not all hot on one
-- key, and one day of history. psql variables: participants, slots, points_per_question,
-- time_limit_ms, grace_ms.
\set ON_ERROR_STOP on

CREATE TEMP TABLE unit_file (unit_id TEXT, parent_id TEXT, name TEXT, kind TEXT);
\copy unit_file FROM pstdin
UPDATE unit_file SET parent_id = NULL WHERE parent_id = '';

INSERT INTO units VALUES ('*', NULL, 'campaign', 0);
WITH RECURSIVE tree AS (
    SELECT unit_id, parent_id, kind, 1 AS depth FROM unit_file WHERE parent_id IS NULL
    UNION ALL
    SELECT f.unit_id, f.parent_id, f.kind, t.depth + 1
      FROM unit_file f JOIN tree t ON f.parent_id = t.unit_id
)
INSERT INTO units SELECT unit_id, coalesce(parent_id, '*'), kind, depth FROM tree ORDER BY depth;

INSERT INTO unit_totals (unit_id, slot)
SELECT unit_id, slot FROM units, generate_series(0, :slots - 1) AS slot;

SELECT setseed(0.16) \gset
CREATE TEMP TABLE leaves AS
SELECT row_number() OVER (ORDER BY unit_id) AS i, unit_id
  FROM units u WHERE NOT EXISTS (SELECT 1 FROM units c WHERE c.parent_id = u.unit_id);

-- Each leaf's path below the campaign, root first.
CREATE TEMP TABLE paths AS
WITH RECURSIVE up AS (
    SELECT l.unit_id AS leaf, u.unit_id, u.parent_id, u.depth
      FROM leaves l JOIN units u USING (unit_id)
    UNION ALL
    SELECT up.leaf, u.unit_id, u.parent_id, u.depth
      FROM up JOIN units u ON u.unit_id = up.parent_id WHERE u.depth > 0
)
SELECT leaf, array_agg(unit_id ORDER BY depth) AS path FROM up GROUP BY leaf;

INSERT INTO participants (participant_id, name, phone_hash, unit_id, level1_id, level2_id, level3_id)
SELECT p, '压测者', md5(p::text), l.unit_id, x.path[1], x.path[2], x.path[3]
  FROM generate_series(1, :participants) AS p
  CROSS JOIN LATERAL (SELECT 1 + floor(random() * (SELECT count(*) FROM leaves))::INT + 0 * p AS i) r
  JOIN leaves l ON l.i = r.i
  JOIN paths x ON x.leaf = l.unit_id;

-- One day of history (day 0): every participant has one final attempt, and the totals are
-- what those attempts add up to, so that the measured runs start from a campaign in progress
-- (indexes of realistic depth, plans made on realistic statistics) rather than empty tables.
INSERT INTO attempts (participant_id, day, started_at_ms, deadline_ms, accepts_until_ms,
                      questions, key, kinds, answers, finished_at_ms, time_used_ms, points,
                      correct, auto_submitted)
SELECT participant_id, 0, started, started + :time_limit_ms, started + :time_limit_ms + :grace_ms,
       '1/0123,2/1302,3/2031,4/3210,5/0321', key, 's4s4s4s4s4', answers, started + used, used,
       correct * :points_per_question, correct, false
  FROM (SELECT participant_id, key, answers, started, used,
               (SELECT count(*)::INT FROM generate_series(1, 5) AS i
                 WHERE substr(answers, i, 1) <> '0'
                   AND substr(answers, i, 1) = substr(key, i, 1)) AS correct
          FROM (SELECT participant_id,
                       (SELECT string_agg(chr(48 + (1 << floor(random() * 4)::INT)), '')
                          FROM generate_series(1, 5) WHERE participant_id > 0) AS key,
                       (SELECT string_agg(chr(48 + (1 << floor(random() * 4)::INT)), '')
                          FROM generate_series(1, 5) WHERE participant_id > 0) AS answers,
                       (extract(epoch FROM now()) * 1000)::BIGINT - 86400000
                           - floor(random() * 36000000)::BIGINT AS started,
                       10000 + floor(random() * 140000)::BIGINT AS used
                  FROM participants) AS drawn) AS scored;

UPDATE participants p
   SET attempts = a.attempts, points = a.points, time_used_ms = a.time_used_ms,
       last_finish_ms = a.last_finish_ms
  FROM (SELECT participant_id, count(*) AS attempts, sum(points) AS points,
               sum(time_used_ms) AS time_used_ms, max(finished_at_ms) AS last_finish_ms
          FROM attempts GROUP BY participant_id) a
 WHERE a.participant_id = p.participant_id;

UPDATE unit_totals u
   SET points = x.points, attempts = x.attempts, participants = x.participants,
       full_marks = x.full_marks
  FROM (SELECT path.unit_id, (a.participant_id % :slots)::INT AS slot, sum(a.points) AS points,
               count(*) AS attempts, count(DISTINCT a.participant_id) AS participants,
               count(*) FILTER (WHERE a.correct = length(a.key)) AS full_marks
          FROM attempts a
          JOIN participants p USING (participant_id)
          CROSS JOIN LATERAL unnest(ARRAY['*', p.level1_id, p.level2_id, p.level3_id]) AS path (unit_id)
         WHERE path.unit_id IS NOT NULL
         GROUP BY 1, 2) x
 WHERE u.unit_id = x.unit_id AND u.slot = x.slot;

VACUUM ANALYZE;
SELECT (SELECT count(*) FROM units) AS units,
       (SELECT count(*) FROM leaves) AS leaves,
       (SELECT max(depth) FROM units) AS depth,
       (SELECT count(*) FROM participants) AS participants,
       (SELECT count(*) FROM attempts) AS attempts,
       (SELECT count(*) FROM unit_totals) AS unit_total_rows;
