-- Self-registered organizations (issue 18; docs/design.md §7). An organization registered under
-- region unit R is the unit `R~<org_id>` in `units` (kind `organization`) with its 五进 group
-- `R~<org_id>~public` (kind `public`) below it, both added to `unit_ancestors` when it
-- registers, so reports, exports and organizer scopes treat it as any other unit.
CREATE TABLE organizations (
    org_id        BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id   TEXT    NOT NULL,
    credit_code   TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    -- Pinyin initials of the name, lowercase (safequiz_domain::organization::initials).
    initials      TEXT    NOT NULL,
    -- The unit id is `region_id~org_id` (safequiz_domain::organization::organization_unit_id).
    region_id     TEXT    NOT NULL,
    created_at_ms BIGINT  NOT NULL,
    UNIQUE (campaign_id, credit_code),
    UNIQUE (campaign_id, region_id, name)
);

-- Search by initials prefix is a range on this index (text_pattern_ops: byte order, whatever
-- the database's collation).
CREATE INDEX organizations_by_initials ON organizations (campaign_id, initials text_pattern_ops);

-- Search by name substring: a trigram index when the server has pg_trgm (contrib, present on
-- the usual packages and managed services); without it the search scans the campaign's rows,
-- as on SQLite (docs/design.md §7.3).
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE INDEX organizations_by_name_trgm ON organizations USING gin (name gin_trgm_ops);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm unavailable (%): organization search by name scans', SQLERRM;
END
$$;

-- Who registered as a principal person (单位主要负责人, with their post) or as a 五进 participant
-- (with the kind of 五进). Written by the registration handler once the participant exists;
-- staff who are neither have no row.
CREATE TABLE organization_people (
    campaign_id      TEXT    NOT NULL,
    participant_id   BIGINT  NOT NULL,
    unit_id          TEXT    NOT NULL,
    principal_post   TEXT,
    public_kind      TEXT,
    registered_at_ms BIGINT  NOT NULL,
    PRIMARY KEY (campaign_id, participant_id)
);

CREATE INDEX organization_people_by_unit ON organization_people (campaign_id, unit_id);

-- Applications to administer an organization. At most one application per organization is
-- pending or approved at a time (the partial unique index): one administrator per organization.
-- The authorization file is kept in the record itself (at most 5 MB, PDF, JPEG or PNG).
CREATE TABLE admin_applications (
    application_id  BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id     TEXT    NOT NULL,
    org_id          BIGINT  NOT NULL,
    unit_id         TEXT    NOT NULL,
    applicant_name  TEXT    NOT NULL,
    -- The full number: the approving organizer calls the applicant to hand over the one-time
    -- password. Shown only to organizers whose scope holds the organization.
    phone           TEXT    NOT NULL,
    file_type       TEXT    NOT NULL,
    file_bytes      BYTEA   NOT NULL,
    status          TEXT    NOT NULL,
    reason          TEXT,
    submitted_at_ms BIGINT  NOT NULL,
    decided_at_ms   BIGINT,
    decided_by      TEXT,
    organizer_id    BIGINT
);

CREATE UNIQUE INDEX admin_applications_one_live
    ON admin_applications (campaign_id, org_id) WHERE status <> 'refused';
CREATE INDEX admin_applications_by_status ON admin_applications (campaign_id, status, application_id);
