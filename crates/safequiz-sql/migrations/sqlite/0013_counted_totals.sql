-- Under a campaign's `counted = best | last` (docs/design.md §3.4), a participant's totals row
-- keeps the counted score: `points` and `time_used_ms` are the counted attempt's, and
-- `counted_attempt` its number (NULL under `sum`, or before a final attempt), which the next
-- batch compares its attempts with. `campaign_scoring` holds each campaign's policy, written at
-- every start from the configuration (absent: `sum`), so the writers of the roll-ups need no
-- argument for it.
ALTER TABLE participant_totals ADD COLUMN counted_attempt BIGINT;
CREATE TABLE campaign_scoring (
    campaign_id TEXT PRIMARY KEY,
    counted     TEXT NOT NULL
);
