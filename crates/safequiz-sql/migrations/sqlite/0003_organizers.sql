-- Organizer accounts. An organizer sees one unit's subtree of one campaign ("*": the whole
-- campaign). The password is kept only as an argon2id hash (PHC string). Raising
-- session_epoch ends every session token issued before (logout, password change).

CREATE TABLE organizers (
    organizer_id         INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id          TEXT    NOT NULL,
    unit_id              TEXT    NOT NULL,
    username             TEXT    NOT NULL UNIQUE,
    password_hash        TEXT    NOT NULL,
    -- 1 until the organizer replaces the one-time password they were given.
    must_change_password INTEGER NOT NULL,
    session_epoch        INTEGER NOT NULL DEFAULT 0,
    created_at_ms        INTEGER NOT NULL
);
