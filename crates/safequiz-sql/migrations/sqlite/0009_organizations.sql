-- Self-registered organizations (issue 18; docs/design.md §7). An organization registered under
-- region unit R is the unit `R~<org_id>` in `units` (kind `organization`) with its 五进 group
-- `R~<org_id>~public` (kind `public`) below it, both added to `unit_ancestors` when it
-- registers, so reports, exports and organizer scopes treat it as any other unit.
CREATE TABLE organizations (
    org_id        INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id   TEXT    NOT NULL,
    credit_code   TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    -- Pinyin initials of the name, lowercase (safequiz_domain::organization::initials).
    initials      TEXT    NOT NULL,
    -- The unit id is `region_id~org_id` (safequiz_domain::organization::organization_unit_id).
    region_id     TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL,
    UNIQUE (campaign_id, credit_code),
    UNIQUE (campaign_id, region_id, name)
);

-- Search by initials prefix is a range on this index; by name substring a scan of the campaign's
-- rows (bounded: docs/design.md §7.3 gives the measured time on 100,000 organizations).
CREATE INDEX organizations_by_initials ON organizations (campaign_id, initials);

-- Who registered as a principal person (单位主要负责人, with their post) or as a 五进 participant
-- (with the kind of 五进). Written by the registration handler once the participant exists;
-- staff who are neither have no row.
CREATE TABLE organization_people (
    campaign_id      TEXT    NOT NULL,
    participant_id   INTEGER NOT NULL,
    unit_id          TEXT    NOT NULL,
    principal_post   TEXT,
    public_kind      TEXT,
    registered_at_ms INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, participant_id)
);

CREATE INDEX organization_people_by_unit ON organization_people (campaign_id, unit_id);

-- Applications to administer an organization. At most one application per organization is
-- pending or approved at a time (the partial unique index): one administrator per organization.
-- The authorization file is kept in the record itself (at most 5 MB, PDF, JPEG or PNG).
CREATE TABLE admin_applications (
    application_id  INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id     TEXT    NOT NULL,
    org_id          INTEGER NOT NULL,
    unit_id         TEXT    NOT NULL,
    applicant_name  TEXT    NOT NULL,
    -- The full number: the approving organizer calls the applicant to hand over the one-time
    -- password. Shown only to organizers whose scope holds the organization.
    phone           TEXT    NOT NULL,
    file_type       TEXT    NOT NULL,
    file_bytes      BLOB    NOT NULL,
    status          TEXT    NOT NULL,
    reason          TEXT,
    submitted_at_ms INTEGER NOT NULL,
    decided_at_ms   INTEGER,
    decided_by      TEXT,
    organizer_id    INTEGER
);

CREATE UNIQUE INDEX admin_applications_one_live
    ON admin_applications (campaign_id, org_id) WHERE status <> 'refused';
CREATE INDEX admin_applications_by_status ON admin_applications (campaign_id, status, application_id);
