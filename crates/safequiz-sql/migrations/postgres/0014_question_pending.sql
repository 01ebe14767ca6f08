-- Question counters folded after the flush (docs/design.md §5.5).
--
-- A flushed batch's attempts add about 16 `question_counts` rows each (5 questions at every
-- level of the unit), which cost more than everything else the flush writes together. The flush
-- now writes one row here instead, in the same transaction as the attempts (so a batch is
-- folded exactly once, and only if its attempts are recorded), and the question fold
-- (`rollups::fold`) turns pending batches into counters later, many batches at a time, deleting
-- them in the same transaction as it adds them.
CREATE TABLE question_pending (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id TEXT    NOT NULL,
    -- How many attempts the batch counts (what the question analysis says is still waiting).
    attempts    INTEGER NOT NULL,
    -- Their ids, a JSON array of strings; the fold reads their answers from `attempts`.
    attempt_ids TEXT    NOT NULL
);
CREATE INDEX question_pending_by_campaign ON question_pending (campaign_id, id);
