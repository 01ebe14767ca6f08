-- Fair play (docs/fair-play.md): what the service observed of each participant's requests, the
-- signals computed from it for organizers to review, and the exclusions organizers decided.
--
-- `observations` is written by every replica's fair-play worker from a replica-local buffer,
-- once a second, never on the request path: kind 0 registration, 1 start, 2 answer saved,
-- 3 submit. `device` is the first-party token the participant page keeps in localStorage
-- ('' when the request carried none); `net` the client address's network (/24 for IPv4, /48 for
-- IPv6), never the full address; `page` 1 when the request carried a valid page-load token.
CREATE TABLE observations (
    campaign_id    TEXT    NOT NULL,
    participant_id INTEGER NOT NULL,
    unit_id        TEXT    NOT NULL,
    kind           INTEGER NOT NULL,
    at_ms          INTEGER NOT NULL,
    attempt        INTEGER NOT NULL,
    device         TEXT    NOT NULL,
    net            TEXT    NOT NULL,
    page           INTEGER NOT NULL
);

CREATE INDEX observations_by_participant ON observations (campaign_id, participant_id, at_ms);
CREATE INDEX observations_by_device ON observations (campaign_id, device, at_ms);
CREATE INDEX observations_by_net ON observations (campaign_id, net, at_ms);

-- One row per participant and reason: a signal raised, with its evidence (JSON) and when it was
-- last computed. Never a penalty by itself: organizers review and decide.
CREATE TABLE flags (
    campaign_id    TEXT    NOT NULL,
    participant_id INTEGER NOT NULL,
    unit_id        TEXT    NOT NULL,
    reason         TEXT    NOT NULL,
    evidence       TEXT    NOT NULL,
    computed_at_ms INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, participant_id, reason)
);

CREATE INDEX flags_by_unit ON flags (campaign_id, unit_id, participant_id);

-- Organizers' exclusions, with their undo: a row per decision, never deleted; the participant
-- is excluded while their newest row has no `undone_at_ms`.
CREATE TABLE exclusions (
    campaign_id    TEXT    NOT NULL,
    participant_id INTEGER NOT NULL,
    reason         TEXT    NOT NULL,
    by_account     TEXT    NOT NULL,
    at_ms          INTEGER NOT NULL,
    undone_at_ms   INTEGER,
    undo_reason    TEXT,
    undone_by      TEXT,
    PRIMARY KEY (campaign_id, participant_id, at_ms)
);
