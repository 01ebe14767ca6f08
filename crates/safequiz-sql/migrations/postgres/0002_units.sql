-- The units of every campaign, synced from the configuration's unit files at start, so that
-- exports and reports can join names and levels, and organizers can record headcounts (the
-- denominator of participation rates), which the sync never overwrites.

CREATE TABLE units (
    campaign_id TEXT    NOT NULL,
    unit_id     TEXT    NOT NULL,
    parent_id   TEXT,
    name        TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    entry_id    TEXT    NOT NULL,
    depth       INTEGER NOT NULL,
    headcount   BIGINT,
    PRIMARY KEY (campaign_id, unit_id)
);

CREATE INDEX units_by_parent ON units (campaign_id, parent_id);
