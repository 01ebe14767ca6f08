-- A participant's own fair-play signals (no page load, the same start minute) are made of their
-- starts alone, read for every participant who starts (safequiz_sql::fair_play): an index of the
-- starts only, so that the read skips the day's saves and submits.
CREATE INDEX observations_starts ON observations (campaign_id, participant_id, at_ms) WHERE kind = 1;
