-- The durable record: every registration and every finalized attempt, copied from the Redis
-- streams by the flusher. Rows are inserted once (the primary keys make a redelivered stream
-- entry change nothing) and never updated. Instants are Unix milliseconds; `day` counts calendar
-- days since 1970-01-01 in the campaign's time zone.

CREATE TABLE participants (
    campaign_id      TEXT    NOT NULL,
    participant_id   INTEGER NOT NULL,
    name             TEXT    NOT NULL,
    phone_masked     TEXT    NOT NULL,
    -- Hex of a keyed HMAC of the number; the number itself is never stored.
    phone_hash       TEXT    NOT NULL,
    unit_id          TEXT    NOT NULL,
    registered_at_ms INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, participant_id)
);

CREATE INDEX participants_by_unit ON participants (campaign_id, unit_id);

CREATE TABLE attempts (
    campaign_id    TEXT    NOT NULL,
    attempt_id     TEXT    NOT NULL,
    participant_id INTEGER NOT NULL,
    unit_id        TEXT    NOT NULL,
    day            INTEGER NOT NULL,
    started_at_ms  INTEGER NOT NULL,
    deadline_ms    INTEGER NOT NULL,
    finished_at_ms INTEGER NOT NULL,
    time_used_ms   INTEGER NOT NULL,
    points         INTEGER NOT NULL,
    correct        INTEGER NOT NULL,
    auto_submitted INTEGER NOT NULL,
    -- JSON array, display order: [{"id", "order", "key", "chosen"}], keys as display letters.
    questions      TEXT    NOT NULL,
    PRIMARY KEY (campaign_id, attempt_id)
);

CREATE INDEX attempts_by_participant ON attempts (campaign_id, participant_id);
CREATE INDEX attempts_by_unit_day ON attempts (campaign_id, unit_id, day);
