-- Reports read from indexes alone (the indexes on PostgreSQL only: SQLite serves small
-- campaigns, and gets the new column alone). Measured in docs/performance.md.

-- A unit's `unit_days` rows are written a day at a time for every unit, so they lie on as many
-- heap pages as there are rows: the national figures of 16 days touched one page per row
-- (15,000 of them). With the counts in the primary key's leaf entries, a unit's
-- rows are one short index range. The price: an update of the counts can no longer be HOT, so
-- each writes one index entry (about 2 per flushed attempt).
ALTER TABLE unit_days DROP CONSTRAINT unit_days_pkey;
ALTER TABLE unit_days ADD PRIMARY KEY (campaign_id, unit_id, day, prev_day)
    INCLUDE (participants, attempts, points, full_marks);

-- The rank indexes hold registered participants only, with the points themselves: a page's
-- first pass and a search's count are index-only scans (`reports::participants`), a few index
-- pages per unit instead of a heap page per row. Every query of them says `registered`.
DROP INDEX participant_totals_by_rank;
CREATE INDEX participant_totals_by_rank
    ON participant_totals (campaign_id, (-points), time_used_ms, participant_id)
    INCLUDE (points) WHERE registered;
DROP INDEX participant_totals_by_unit_rank;
CREATE INDEX participant_totals_by_unit_rank
    ON participant_totals (campaign_id, unit_id, (-points), time_used_ms, participant_id)
    INCLUDE (points) WHERE registered;

-- A day's row says whether the participant's registration is recorded (as their totals row
-- does), so that a search by day reads the day's rank indexes alone too; they hold registered
-- rows only and carry the points.
ALTER TABLE participant_days ADD COLUMN registered BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE participant_days d SET registered = TRUE FROM participant_totals t
WHERE t.campaign_id = d.campaign_id AND t.participant_id = d.participant_id AND t.registered;
DROP INDEX participant_days_by_rank;
CREATE INDEX participant_days_by_rank
    ON participant_days (campaign_id, day, (-points), time_used_ms, participant_id)
    INCLUDE (points) WHERE registered;
DROP INDEX participant_days_by_unit_rank;
CREATE INDEX participant_days_by_unit_rank
    ON participant_days (campaign_id, unit_id, day, (-points), time_used_ms, participant_id)
    INCLUDE (points) WHERE registered;
