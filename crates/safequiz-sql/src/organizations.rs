//! Self-registered organizations (issue 18; docs/design.md §7): registration (the organization
//! and its 五进 group become units, with their closure rows, in one transaction), search by name
//! or pinyin initials, principal persons and 五进 kinds, the per-organization figures, and
//! administrator applications with their decision.
//!
//! Nothing here is on the attempt hot path: an organization's unit id carries its region
//! (`safequiz_domain::organization`), so starts, saves and submits never look one up. Reads here
//! serve registration, search and the back office.

use safequiz_domain::organization::{organization_unit_id, public_unit_id, public_unit_name};
use safequiz_domain::scope::Scope;

use crate::statement::{Statement, Transaction};
use crate::{Store, StoreError};

/// The `units.kind` of an organization.
pub const ORGANIZATION_KIND: &str = "organization";
/// The `units.kind` of a 五进 group.
pub const PUBLIC_KIND: &str = "public";

/// An organization to register.
#[derive(Clone, Debug)]
pub struct NewOrganization<'a> {
    /// The campaign.
    pub campaign_id: &'a str,
    /// The checked 统一社会信用代码, in capitals.
    pub credit_code: &'a str,
    /// The checked full name.
    pub name: &'a str,
    /// The name's pinyin initials.
    pub initials: &'a str,
    /// The region unit it registers under (a unit of an organizations entry).
    pub region_id: &'a str,
    /// The staff it declares (`organization::staff_count`): its unit's headcount, the
    /// denominator of its participation rate.
    pub staff: i64,
    /// Now, Unix ms.
    pub created_at_ms: i64,
}

/// An organization as the record keeps it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct OrganizationRecord {
    /// Its number, unique over all campaigns.
    pub org_id: i64,
    /// The campaign.
    pub campaign_id: String,
    /// 统一社会信用代码.
    pub credit_code: String,
    /// Full name.
    pub name: String,
    /// Pinyin initials of the name.
    pub initials: String,
    /// The region it registered under.
    pub region_id: String,
    /// When, Unix ms.
    pub created_at_ms: i64,
}

impl OrganizationRecord {
    /// Its unit id, `region~org_id`.
    pub fn unit_id(&self) -> String {
        organization_unit_id(&self.region_id, self.org_id)
    }
}

/// Why an organization could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum RegisterOrganizationError {
    /// The campaign has an organization with this credit code.
    #[error("credit code already registered")]
    CreditCodeTaken(Box<OrganizationRecord>),
    /// The region has an organization with this name.
    #[error("name already registered in the region")]
    NameTaken(Box<OrganizationRecord>),
    /// The region is not in the units table (the units were not synced).
    #[error("region {0} is not a unit of the campaign")]
    UnknownRegion(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for RegisterOrganizationError {
    fn from(error: sqlx::Error) -> Self {
        RegisterOrganizationError::Store(error.into())
    }
}

const ORG_COLUMNS: &str = "CAST(org_id AS BIGINT) AS org_id, campaign_id, credit_code, name, \
                           initials, region_id, created_at_ms";

#[derive(sqlx::FromRow)]
struct RegionRow {
    entry_id: String,
    depth: i32,
}

/// Inserts one unit (with its headcount, if any) and its closure rows: itself, and every
/// ancestor of `parent`.
async fn insert_unit(
    tx: &mut Transaction,
    campaign_id: &str,
    unit: (&str, &str, &str, Option<i64>),
    parent: &str,
    entry_id: &str,
    depth: i32,
) -> Result<(), sqlx::Error> {
    let (unit_id, name, kind, headcount) = unit;
    Statement::new(
        "INSERT INTO units (campaign_id, unit_id, parent_id, name, kind, entry_id, depth, \
         headcount) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(campaign_id)
    .bind(unit_id)
    .bind(parent)
    .bind(name)
    .bind(kind)
    .bind(entry_id)
    .bind(depth)
    .bind(headcount)
    .execute_in(tx)
    .await?;
    Statement::new(
        "INSERT INTO unit_ancestors (campaign_id, unit_id, ancestor_id) \
         SELECT campaign_id, $2, ancestor_id FROM unit_ancestors \
         WHERE campaign_id = $1 AND unit_id = $3 UNION ALL SELECT $1, $2, $2",
    )
    .bind(campaign_id)
    .bind(unit_id)
    .bind(parent)
    .execute_in(tx)
    .await?;
    Ok(())
}

/// One search of a campaign's organizations.
#[derive(Clone, Debug)]
pub struct OrganizationQuery<'a> {
    /// The campaign.
    pub campaign_id: &'a str,
    /// A substring of the name, or (ASCII letters and digits) a prefix of the pinyin initials;
    /// empty: every organization.
    pub text: &'a str,
    /// Only organizations within this unit's subtree.
    pub within: Option<&'a str>,
    /// Keyset paging: only organizations numbered above this.
    pub after: Option<i64>,
    /// At most this many rows.
    pub limit: u32,
}

/// Whether a search text is read as pinyin initials.
pub fn is_initials_query(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl Store {
    /// Registers an organization under its region: the organization's row, its unit and its
    /// 五进 group's unit (`units` and `unit_ancestors`), in one transaction. A credit code the
    /// campaign has, or a name the region has, is refused with the organization that holds it.
    #[tracing::instrument(skip_all, fields(campaign.id = new.campaign_id))]
    pub async fn register_organization(
        &self,
        new: &NewOrganization<'_>,
    ) -> Result<OrganizationRecord, RegisterOrganizationError> {
        let mut tx = self.begin_write().await?;
        let taken: Vec<OrganizationRecord> = Statement::new(&format!(
            "SELECT {ORG_COLUMNS} FROM organizations WHERE campaign_id = $1 \
             AND (credit_code = $2 OR (region_id = $3 AND name = $4))"
        ))
        .bind(new.campaign_id)
        .bind(new.credit_code)
        .bind(new.region_id)
        .bind(new.name)
        .fetch_all_in(&mut tx)
        .await?;
        if let Some(by_code) = taken.iter().find(|o| o.credit_code == new.credit_code) {
            return Err(RegisterOrganizationError::CreditCodeTaken(Box::new(
                by_code.clone(),
            )));
        }
        if let Some(by_name) = taken.into_iter().next() {
            return Err(RegisterOrganizationError::NameTaken(Box::new(by_name)));
        }
        let region: Vec<RegionRow> = Statement::new(
            "SELECT entry_id, CAST(depth AS INTEGER) AS depth FROM units \
             WHERE campaign_id = $1 AND unit_id = $2",
        )
        .bind(new.campaign_id)
        .bind(new.region_id)
        .fetch_all_in(&mut tx)
        .await?;
        let Some(region) = region.into_iter().next() else {
            return Err(RegisterOrganizationError::UnknownRegion(
                new.region_id.to_owned(),
            ));
        };
        let inserted: Vec<OrganizationRecord> = Statement::new(&format!(
            "INSERT INTO organizations \
             (campaign_id, credit_code, name, initials, region_id, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {ORG_COLUMNS}"
        ))
        .bind(new.campaign_id)
        .bind(new.credit_code)
        .bind(new.name)
        .bind(new.initials)
        .bind(new.region_id)
        .bind(new.created_at_ms)
        .fetch_all_in(&mut tx)
        .await?;
        let record = inserted
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::from(sqlx::Error::RowNotFound))?;
        let unit_id = record.unit_id();
        let public_id = public_unit_id(&unit_id);
        insert_unit(
            &mut tx,
            new.campaign_id,
            (&unit_id, new.name, ORGANIZATION_KIND, Some(new.staff)),
            new.region_id,
            &region.entry_id,
            region.depth + 1,
        )
        .await?;
        insert_unit(
            &mut tx,
            new.campaign_id,
            (&public_id, &public_unit_name(new.name), PUBLIC_KIND, None),
            &unit_id,
            &region.entry_id,
            region.depth + 2,
        )
        .await?;
        tx.commit().await?;
        Ok(record)
    }

    /// The organizations of the campaign within `within`'s subtree (all of them for `None`),
    /// with the staff they declared, for the public board of organizations: one read of `units`
    /// (organizations are units of kind `organization`, their staff the unit's headcount), by
    /// unit id.
    pub async fn organizations_on_board(
        &self,
        campaign_id: &str,
        within: Option<&str>,
    ) -> Result<Vec<OrganizationOnBoard>, StoreError> {
        let mut st = Statement::new(
            "SELECT u.unit_id, u.name, u.parent_id AS region_id, \
             CAST(u.headcount AS BIGINT) AS staff FROM units u \
             WHERE u.campaign_id = $1 AND u.kind = $2",
        )
        .bind(campaign_id)
        .bind(ORGANIZATION_KIND);
        if let Some(ancestor) = within {
            st.push(
                " AND u.unit_id IN (SELECT a.unit_id FROM unit_ancestors a \
                 WHERE a.campaign_id = u.campaign_id AND a.ancestor_id = ",
            )
            .push_bind(ancestor)
            .push(")");
        }
        st.push(" ORDER BY u.unit_id");
        Ok(st.fetch_all(self).await?)
    }

    /// The organization numbered `org_id` of the campaign.
    pub async fn organization(
        &self,
        campaign_id: &str,
        org_id: i64,
    ) -> Result<Option<OrganizationRecord>, StoreError> {
        Ok(Statement::new(&format!(
            "SELECT {ORG_COLUMNS} FROM organizations WHERE campaign_id = $1 AND org_id = $2"
        ))
        .bind(campaign_id)
        .bind(org_id)
        .fetch_optional(self)
        .await?)
    }

    /// One page of a search, by number. An ASCII text is a prefix of the initials (a range on
    /// `organizations_by_initials`); any other a substring of the name (the trigram index on
    /// PostgreSQL, a scan of the campaign's rows on SQLite). `%`, `_` and `\` in the text match
    /// themselves.
    pub async fn search_organizations(
        &self,
        query: &OrganizationQuery<'_>,
    ) -> Result<Vec<OrganizationRecord>, StoreError> {
        let mut st = Statement::new(&format!(
            "SELECT {ORG_COLUMNS} FROM organizations WHERE campaign_id = $1"
        ))
        .bind(query.campaign_id);
        let text = query.text.trim();
        if is_initials_query(text) {
            let prefix = text.to_ascii_lowercase();
            st.push(" AND initials >= ").push_bind(prefix.clone());
            // `~` sorts after every letter and digit: the end of the prefix's range.
            st.push(" AND initials < ").push_bind(format!("{prefix}~"));
        } else if !text.is_empty() {
            let escaped: String = text
                .chars()
                .flat_map(|c| match c {
                    '%' | '_' | '\\' => vec!['\\', c],
                    c => vec![c],
                })
                .collect();
            st.push(" AND name LIKE ")
                .push_bind(format!("%{escaped}%"))
                .push(" ESCAPE '\\'");
        }
        if let Some(within) = query.within {
            st.push(
                " AND region_id IN (SELECT unit_id FROM unit_ancestors \
                 WHERE campaign_id = organizations.campaign_id AND ancestor_id = ",
            )
            .push_bind(within)
            .push(")");
        }
        if let Some(after) = query.after {
            st.push(" AND org_id > ").push_bind(after);
        }
        st.push(" ORDER BY org_id LIMIT ")
            .push_bind(i64::from(query.limit));
        Ok(st.fetch_all(self).await?)
    }

    /// Records that participant `participant_id` registered as a principal person (with
    /// `post`) or a 五进 participant (with `public_kind`); a later registration replaces it.
    pub async fn record_organization_person(
        &self,
        person: &OrganizationPerson<'_>,
    ) -> Result<(), StoreError> {
        Statement::new(
            "INSERT INTO organization_people \
             (campaign_id, participant_id, unit_id, principal_post, public_kind, registered_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (campaign_id, participant_id) DO UPDATE \
             SET unit_id = excluded.unit_id, principal_post = excluded.principal_post, \
             public_kind = excluded.public_kind",
        )
        .bind(person.campaign_id)
        .bind(person.participant_id)
        .bind(person.unit_id)
        .bind(person.principal_post)
        .bind(person.public_kind)
        .bind(person.registered_at_ms)
        .execute(self)
        .await?;
        Ok(())
    }

    /// The organizations within `scope`, each with its staff and 五进 figures apart and
    /// whether its principal person registered and took part; keyset pages by number.
    pub async fn organization_figures(
        &self,
        campaign_id: &str,
        scope: &Scope,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<OrganizationFigures>, StoreError> {
        let unit = "o.region_id || '~' || CAST(o.org_id AS TEXT)";
        let totals = |suffix: &str, condition: &str| {
            format!(
                "(SELECT CAST(COUNT(*) AS BIGINT) FROM participant_totals t \
                 WHERE t.campaign_id = o.campaign_id AND t.unit_id = {unit}{suffix}{condition})"
            )
        };
        let points = |suffix: &str| {
            format!(
                "(SELECT CAST(COALESCE(SUM(t.points), 0) AS BIGINT) FROM participant_totals t \
                 WHERE t.campaign_id = o.campaign_id AND t.unit_id = {unit}{suffix})"
            )
        };
        let mut st = Statement::new(&format!(
            "SELECT CAST(o.org_id AS BIGINT) AS org_id, {unit} AS unit_id, o.name, \
             o.credit_code, o.region_id, \
             {} AS staff_registered, {} AS staff_took_part, {} AS staff_points, \
             {} AS public_registered, {} AS public_took_part, {} AS public_points, \
             (SELECT MIN(p.principal_post) FROM organization_people p \
              WHERE p.campaign_id = o.campaign_id AND p.unit_id = {unit} \
              AND p.principal_post IS NOT NULL) AS principal_post, \
             (SELECT CAST(COUNT(*) AS BIGINT) FROM organization_people p \
              JOIN participant_totals t ON t.campaign_id = p.campaign_id \
              AND t.participant_id = p.participant_id \
              WHERE p.campaign_id = o.campaign_id AND p.unit_id = {unit} \
              AND p.principal_post IS NOT NULL AND t.attempts > 0) AS principal_took_part \
             FROM organizations o WHERE o.campaign_id = $1",
            totals("", ""),
            totals("", " AND t.attempts > 0"),
            points(""),
            totals(" || '~public'", ""),
            totals(" || '~public'", " AND t.attempts > 0"),
            points(" || '~public'"),
        ))
        .bind(campaign_id);
        if let Some(ancestor) = scope.unit_id() {
            st.push(&format!(
                " AND {unit} IN (SELECT unit_id FROM unit_ancestors \
                 WHERE campaign_id = o.campaign_id AND ancestor_id = "
            ))
            .push_bind(ancestor)
            .push(")");
        }
        if let Some(after) = after {
            st.push(" AND o.org_id > ").push_bind(after);
        }
        st.push(" ORDER BY o.org_id LIMIT ")
            .push_bind(i64::from(limit));
        Ok(st.fetch_all(self).await?)
    }
}

/// A principal person or a 五进 participant, as registered.
#[derive(Clone, Debug)]
pub struct OrganizationPerson<'a> {
    /// The campaign.
    pub campaign_id: &'a str,
    /// The participant.
    pub participant_id: i64,
    /// Their unit (the organization, or its 五进 group).
    pub unit_id: &'a str,
    /// The post of a principal person.
    pub principal_post: Option<&'a str>,
    /// The kind of a 五进 participant (`enterprise`, `village`, ...).
    pub public_kind: Option<&'a str>,
    /// Now, Unix ms.
    pub registered_at_ms: i64,
}

/// An organization as the public board of organizations lists it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct OrganizationOnBoard {
    /// Its unit id (`region~org_id`).
    pub unit_id: String,
    /// Full name.
    pub name: String,
    /// The region it registered under.
    pub region_id: String,
    /// The staff it declared; `None` for one registered before staff were asked.
    pub staff: Option<i64>,
}

/// One organization's figures: staff and 五进 apart, and its principal person.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct OrganizationFigures {
    /// Its number.
    pub org_id: i64,
    /// Its unit id.
    pub unit_id: String,
    /// Full name.
    pub name: String,
    /// 统一社会信用代码.
    pub credit_code: String,
    /// The region it registered under.
    pub region_id: String,
    /// Staff registered (the flushed record).
    pub staff_registered: i64,
    /// Staff with at least one final attempt.
    pub staff_took_part: i64,
    /// The staff's points.
    pub staff_points: i64,
    /// 五进 participants registered.
    pub public_registered: i64,
    /// 五进 participants with at least one final attempt.
    pub public_took_part: i64,
    /// The 五进 participants' points.
    pub public_points: i64,
    /// The post a principal person gave, if one registered.
    pub principal_post: Option<String>,
    /// Principal persons with at least one final attempt.
    pub principal_took_part: i64,
}

/// An application to administer an organization.
#[derive(Clone, Debug)]
pub struct NewAdminApplication<'a> {
    /// The campaign.
    pub campaign_id: &'a str,
    /// The organization.
    pub org_id: i64,
    /// Its unit id.
    pub unit_id: &'a str,
    /// The applicant's name.
    pub applicant_name: &'a str,
    /// The applicant's phone, normalized.
    pub phone: &'a str,
    /// `application/pdf`, `image/jpeg` or `image/png`.
    pub file_type: &'a str,
    /// The authorization file.
    pub file_bytes: Vec<u8>,
    /// Now, Unix ms.
    pub submitted_at_ms: i64,
}

/// An application as the back office lists it (without its file).
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct AdminApplication {
    /// Its id.
    pub application_id: i64,
    /// The organization.
    pub org_id: i64,
    /// Its unit id.
    pub unit_id: String,
    /// Its name.
    pub org_name: String,
    /// The applicant.
    pub applicant_name: String,
    /// The applicant's phone.
    pub phone: String,
    /// The file's type.
    pub file_type: String,
    /// The file's size in bytes.
    pub file_size: i64,
    /// `pending`, `approved` or `refused`.
    pub status: String,
    /// Why it was refused.
    pub reason: Option<String>,
    /// When it was submitted, Unix ms.
    pub submitted_at_ms: i64,
    /// When it was decided.
    pub decided_at_ms: Option<i64>,
    /// Who decided (`organizer:<username>`).
    pub decided_by: Option<String>,
    /// The organizer account an approval created.
    pub organizer_id: Option<i64>,
}

/// Why an application could not be filed or decided.
#[derive(Debug, thiserror::Error)]
pub enum ApplicationError {
    /// The organization has a pending application or an administrator.
    #[error("the organization has a pending application or an administrator")]
    AlreadyLive,
    /// No pending application with this id.
    #[error("no pending application")]
    NotPending,
    /// The administrator's login name is taken.
    #[error("the username is taken")]
    UsernameTaken,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ApplicationError {
    fn from(error: sqlx::Error) -> Self {
        ApplicationError::Store(error.into())
    }
}

const APPLICATION_COLUMNS: &str = "CAST(a.application_id AS BIGINT) AS application_id, \
     CAST(a.org_id AS BIGINT) AS org_id, a.unit_id, o.name AS org_name, a.applicant_name, \
     a.phone, a.file_type, CAST(LENGTH(a.file_bytes) AS BIGINT) AS file_size, a.status, a.reason, \
     a.submitted_at_ms, a.decided_at_ms, a.decided_by, CAST(a.organizer_id AS BIGINT) AS organizer_id";

/// The file of an application.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ApplicationFile {
    /// The organization's unit, for the scope check.
    pub unit_id: String,
    /// Its type.
    pub file_type: String,
    /// Its bytes.
    pub file_bytes: Vec<u8>,
}

/// An approval: the account it creates.
#[derive(Clone, Debug)]
pub struct Approval<'a> {
    /// Who decides (`organizer:<username>`).
    pub decided_by: &'a str,
    /// The new account's login name.
    pub username: &'a str,
    /// The argon2id hash of its one-time password.
    pub password_hash: &'a str,
    /// Now, Unix ms.
    pub at_ms: i64,
}

impl Store {
    /// Files an application; refused while the organization has a pending one or an
    /// administrator.
    pub async fn submit_admin_application(
        &self,
        new: &NewAdminApplication<'_>,
    ) -> Result<i64, ApplicationError> {
        let inserted: Result<i64, sqlx::Error> = Statement::new(
            "INSERT INTO admin_applications (campaign_id, org_id, unit_id, applicant_name, phone, \
             file_type, file_bytes, status, submitted_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8) \
             RETURNING CAST(application_id AS BIGINT)",
        )
        .bind(new.campaign_id)
        .bind(new.org_id)
        .bind(new.unit_id)
        .bind(new.applicant_name)
        .bind(new.phone)
        .bind(new.file_type)
        .bind(new.file_bytes.clone())
        .bind(new.submitted_at_ms)
        .fetch_scalar(self)
        .await;
        match inserted {
            Ok(id) => Ok(id),
            Err(error) => {
                let error = StoreError::from(error);
                if error.is_data_error() {
                    Err(ApplicationError::AlreadyLive)
                } else {
                    Err(error.into())
                }
            }
        }
    }

    /// The applications of organizations within `scope`, `status` only when given, the
    /// newest first, at most `limit`.
    pub async fn admin_applications(
        &self,
        campaign_id: &str,
        scope: &Scope,
        status: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AdminApplication>, StoreError> {
        let mut st = Statement::new(&format!(
            "SELECT {APPLICATION_COLUMNS} FROM admin_applications a \
             JOIN organizations o ON o.org_id = a.org_id WHERE a.campaign_id = $1"
        ))
        .bind(campaign_id);
        if let Some(ancestor) = scope.unit_id() {
            st.push(
                " AND a.unit_id IN (SELECT unit_id FROM unit_ancestors \
                 WHERE campaign_id = a.campaign_id AND ancestor_id = ",
            )
            .push_bind(ancestor)
            .push(")");
        }
        if let Some(status) = status {
            st.push(" AND a.status = ").push_bind(status);
        }
        st.push(" ORDER BY a.application_id DESC LIMIT ")
            .push_bind(i64::from(limit));
        Ok(st.fetch_all(self).await?)
    }

    /// One application of the campaign.
    pub async fn admin_application(
        &self,
        campaign_id: &str,
        application_id: i64,
    ) -> Result<Option<AdminApplication>, StoreError> {
        Ok(Statement::new(&format!(
            "SELECT {APPLICATION_COLUMNS} FROM admin_applications a \
             JOIN organizations o ON o.org_id = a.org_id \
             WHERE a.campaign_id = $1 AND a.application_id = $2"
        ))
        .bind(campaign_id)
        .bind(application_id)
        .fetch_optional(self)
        .await?)
    }

    /// The file of one application of the campaign.
    pub async fn admin_application_file(
        &self,
        campaign_id: &str,
        application_id: i64,
    ) -> Result<Option<ApplicationFile>, StoreError> {
        Ok(Statement::new(
            "SELECT unit_id, file_type, file_bytes FROM admin_applications \
             WHERE campaign_id = $1 AND application_id = $2",
        )
        .bind(campaign_id)
        .bind(application_id)
        .fetch_optional(self)
        .await?)
    }

    /// Approves a pending application: the organizer account scoped to the organization is
    /// created and the application marked, in one transaction; returns the account's id.
    pub async fn approve_admin_application(
        &self,
        campaign_id: &str,
        application_id: i64,
        approval: &Approval<'_>,
    ) -> Result<i64, ApplicationError> {
        let mut tx = self.begin_write().await?;
        let units: Vec<String> = Statement::new(
            "SELECT unit_id FROM admin_applications \
             WHERE campaign_id = $1 AND application_id = $2 AND status = 'pending'",
        )
        .bind(campaign_id)
        .bind(application_id)
        .fetch_scalars_in(&mut tx)
        .await?;
        let Some(unit_id) = units.into_iter().next() else {
            return Err(ApplicationError::NotPending);
        };
        let created: Result<Vec<i64>, sqlx::Error> = Statement::new(
            "INSERT INTO organizers \
             (campaign_id, unit_id, username, password_hash, must_change_password, created_at_ms) \
             VALUES ($1, $2, $3, $4, 1, $5) RETURNING CAST(organizer_id AS BIGINT)",
        )
        .bind(campaign_id)
        .bind(unit_id)
        .bind(approval.username)
        .bind(approval.password_hash)
        .bind(approval.at_ms)
        .fetch_scalars_in(&mut tx)
        .await;
        let organizer_id = match created {
            Ok(ids) => ids.into_iter().next().ok_or(ApplicationError::NotPending)?,
            Err(error) => {
                let error = StoreError::from(error);
                return Err(if error.is_data_error() {
                    ApplicationError::UsernameTaken
                } else {
                    error.into()
                });
            }
        };
        Statement::new(
            "UPDATE admin_applications SET status = 'approved', decided_at_ms = $3, \
             decided_by = $4, organizer_id = $5 WHERE campaign_id = $1 AND application_id = $2",
        )
        .bind(campaign_id)
        .bind(application_id)
        .bind(approval.at_ms)
        .bind(approval.decided_by)
        .bind(organizer_id)
        .execute_in(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(organizer_id)
    }

    /// Refuses a pending application with `reason`.
    pub async fn refuse_admin_application(
        &self,
        campaign_id: &str,
        application_id: i64,
        decided_by: &str,
        reason: &str,
        at_ms: i64,
    ) -> Result<(), ApplicationError> {
        let changed = Statement::new(
            "UPDATE admin_applications SET status = 'refused', reason = $3, decided_at_ms = $4, \
             decided_by = $5 WHERE campaign_id = $1 AND application_id = $2 AND status = 'pending'",
        )
        .bind(campaign_id)
        .bind(application_id)
        .bind(reason)
        .bind(at_ms)
        .bind(decided_by)
        .execute(self)
        .await?;
        if changed == 0 {
            return Err(ApplicationError::NotPending);
        }
        Ok(())
    }
}

/// One organization of a synthetic seed (the search bench, the load kit): the row only, no
/// units, so that 100,000 go in within seconds.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SeedOrganization {
    /// 统一社会信用代码 (unique per campaign; the seed need not check it).
    pub credit_code: String,
    /// Full name.
    pub name: String,
    /// Pinyin initials.
    pub initials: String,
    /// Region.
    pub region_id: String,
}

impl Store {
    /// Inserts `rows` into `organizations` of `campaign_id`, 500 a statement, in one
    /// transaction. For synthetic records only (benches, load runs): no units are added.
    pub async fn seed_organizations(
        &self,
        campaign_id: &str,
        rows: &[SeedOrganization],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for chunk in rows.chunks(500) {
            let mut st = Statement::new(
                "INSERT INTO organizations \
                 (campaign_id, credit_code, name, initials, region_id, created_at_ms) VALUES ",
            );
            for (n, row) in chunk.iter().enumerate() {
                st.push(if n == 0 { "(" } else { ", (" })
                    .push_bind(campaign_id)
                    .push(", ")
                    .push_bind(row.credit_code.as_str())
                    .push(", ")
                    .push_bind(row.name.as_str())
                    .push(", ")
                    .push_bind(row.initials.as_str())
                    .push(", ")
                    .push_bind(row.region_id.as_str())
                    .push(", 0)");
            }
            st.execute_in(&mut tx).await?;
        }
        tx.commit().await?;
        // Fresh statistics, as autovacuum (PostgreSQL) or an operator's `ANALYZE` (SQLite)
        // keeps them on a live record: the planner's choice between the indexes depends on it.
        Statement::new("ANALYZE organizations")
            .execute(self)
            .await?;
        Ok(())
    }
}
