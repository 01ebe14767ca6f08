-- Personal information and accountability (issue 20, docs/privacy.md).
--
-- audit_log: one row per security-relevant action (organizer logins, exports, views of a
-- participant's attempts, headcount changes, password changes, self-deletions, purges). It is
-- append-only in the database itself: a trigger refuses every UPDATE, DELETE and TRUNCATE, so
-- neither the service nor a mistaken statement can rewrite the trail; rows are kept at least
-- 180 days (here: for ever; `purge` never touches them). `detail` never holds a full name or a
-- full phone number.
CREATE TABLE audit_log (
    audit_id    BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_ms       BIGINT  NOT NULL,
    campaign_id TEXT    NOT NULL,
    -- "organizer:<username>", "participant:<id>", "cli:<user>".
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    -- The unit id, "*" for the whole campaign, or "" when the action has no scope.
    scope       TEXT    NOT NULL,
    detail      TEXT    NOT NULL,
    -- The client address the request came from ("" for the command line).
    address     TEXT    NOT NULL,
    -- "ok", or why it failed ("bad_password", "locked", ...).
    outcome     TEXT    NOT NULL
);

CREATE INDEX audit_log_by_campaign_time ON audit_log (campaign_id, at_ms, audit_id);
CREATE INDEX audit_log_by_time ON audit_log (at_ms, audit_id);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END
$$;

CREATE TRIGGER audit_log_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- The consent given at registration: the campaign notice's version and when; for a child under
-- 14, the guardian's name (who consented). `erased_at_ms` is set when the person deleted their
-- registration or the campaign was purged: name, masked phone, phone hash and guardian name are
-- then emptied, the row itself stays so that attempts and roll-ups keep counting.
ALTER TABLE participants ADD COLUMN consent_version TEXT;
ALTER TABLE participants ADD COLUMN consented_at_ms BIGINT;
ALTER TABLE participants ADD COLUMN under_14 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE participants ADD COLUMN guardian_name TEXT;
ALTER TABLE participants ADD COLUMN erased_at_ms BIGINT;

-- Organizer logins at 等保 level 3: failures counted here so every replica agrees, the lockout's
-- end, when the password was last set (expiry), and the optional TOTP second factor (the
-- secret in hex; enabled once a first code was confirmed; the last time step used, so a code is never
-- accepted twice).
ALTER TABLE organizers ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE organizers ADD COLUMN locked_until_ms BIGINT;
ALTER TABLE organizers ADD COLUMN password_set_at_ms BIGINT;
UPDATE organizers SET password_set_at_ms = created_at_ms;
ALTER TABLE organizers ADD COLUMN totp_secret TEXT;
ALTER TABLE organizers ADD COLUMN totp_enabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE organizers ADD COLUMN totp_last_step BIGINT;
-- The last request of any session of the account (written at most once a minute), for the
-- idle logout.
ALTER TABLE organizers ADD COLUMN last_active_ms BIGINT;

-- One-time recovery codes of the second factor, kept only as argon2id hashes.
CREATE TABLE organizer_recovery_codes (
    organizer_id BIGINT NOT NULL,
    code_hash    TEXT   NOT NULL,
    used_at_ms   BIGINT,
    PRIMARY KEY (organizer_id, code_hash)
);
