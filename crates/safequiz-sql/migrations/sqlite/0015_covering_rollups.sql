-- A day's row says whether the participant's registration is recorded (as their totals row
-- does), so that a search by day need not read the totals row of each candidate (PostgreSQL's
-- migration also makes the rank indexes cover the searches).
ALTER TABLE participant_days ADD COLUMN registered BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE participant_days SET registered = TRUE WHERE EXISTS (
    SELECT 1 FROM participant_totals t
    WHERE t.campaign_id = participant_days.campaign_id
      AND t.participant_id = participant_days.participant_id AND t.registered
);
