-- Prize draws (docs/prizes.md): one draw per campaign, never redrawn, so a published result
-- cannot be replaced by a luckier one. The row keeps what an auditor needs to recompute it: the
-- public value the seed came from, the eligible list's SHA-256 and the seed (hex).

CREATE TABLE prize_draws (
    campaign_id  TEXT    NOT NULL PRIMARY KEY,
    seed_from    TEXT    NOT NULL,
    list_digest  TEXT    NOT NULL,
    seed         TEXT    NOT NULL,
    eligible     BIGINT  NOT NULL,
    drawn_at_ms  BIGINT  NOT NULL
);

-- The winners of a draw: prize by prize in file order, each prize's winners by award (tier
-- order) then rank; `rank` is the participant's line on the eligible list.
CREATE TABLE prize_winners (
    campaign_id    TEXT    NOT NULL,
    prize_index    INTEGER NOT NULL,
    position       INTEGER NOT NULL,
    prize          TEXT    NOT NULL,
    award          TEXT    NOT NULL,
    participant_id BIGINT  NOT NULL,
    rank           BIGINT  NOT NULL,
    PRIMARY KEY (campaign_id, prize_index, position)
);

CREATE INDEX prize_winners_by_participant ON prize_winners (campaign_id, participant_id);
