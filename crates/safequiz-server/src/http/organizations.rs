//! Self-registered organizations (issue 18; docs/design.md §7): registration and search (public),
//! the unit a participant registers with when it is an organization or its 五进 group, the
//! administrator applications (public, multipart with an authorization file) and the back
//! office's queue, decisions and per-organization figures.
//!
//! SQL is read here at registration time only (the organization must exist); the attempt hot
//! path never is: an organization's unit id carries its region (`safequiz_domain::organization`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use jiff::Timestamp;
use safequiz_domain::campaign::Campaign;
use safequiz_domain::organization::{
    CreditCode, OrganizationName, PublicKind, dynamic_unit, initials, principal_post,
    public_unit_id, staff_count,
};
use safequiz_domain::participant::{PersonName, Phone};
use safequiz_domain::scope::Scope;
use safequiz_sql::organizations::{
    AdminApplication, ApplicationError, Approval, NewAdminApplication, NewOrganization,
    OrganizationFigures, OrganizationPerson, OrganizationQuery, OrganizationRecord,
    RegisterOrganizationError,
};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::campaigns::find_campaign;
use super::error::{ApiError, ErrorBody};
use super::organizer::Organizer;
use crate::accounts;

/// Most organizations one search page returns.
pub const MAX_PAGE: u32 = 20;

/// Largest authorization file accepted (5 MiB).
pub const MAX_FILE_BYTES: usize = 5 * 1024 * 1024;

/// Room for the multipart framing and the text fields around the file.
const MAX_FORM_OVERHEAD: usize = 64 * 1024;

/// The body of an organization's registration.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationBody {
    /// The full name (单位全称), 2 to 60 characters.
    name: String,
    /// 统一社会信用代码 (GB 32100-2015), 18 characters.
    credit_code: String,
    /// The region it registers under: a unit of the campaign's organizations entry
    /// (`GET .../units`).
    region_id: String,
    /// Its staff (在职职工人数), 1 to 1,000,000: the denominator of its participation rate on
    /// the board of organizations (its staff who took part, 五进 participants not counted).
    #[schema(minimum = 1, maximum = 1_000_000)]
    staff: i64,
}

/// An organization as the public API shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OrganizationView {
    /// Its number.
    org_id: i64,
    /// Its unit id (`<region>~<org_id>`): what a participant registers with.
    unit_id: String,
    /// Full name.
    name: String,
    /// 统一社会信用代码.
    credit_code: String,
    /// The region it registered under.
    region_id: String,
    /// The region's path, from the root, as names (`山西省 / 长治市 / 上党区`).
    region_path: Vec<String>,
}

fn view(campaign: &Campaign, record: OrganizationRecord) -> OrganizationView {
    let region_path = campaign
        .units
        .find(&record.region_id)
        .map(|ix| {
            campaign
                .units
                .path(ix)
                .into_iter()
                .map(|u| campaign.units.get(u).name.clone())
                .collect()
        })
        .unwrap_or_default();
    OrganizationView {
        org_id: record.org_id,
        unit_id: record.unit_id(),
        name: record.name,
        credit_code: record.credit_code,
        region_id: record.region_id,
        region_path,
    }
}

/// The campaign of the path, when it takes organizations (`404` otherwise).
fn organizations_campaign<'s>(state: &'s AppState, id: &str) -> Result<&'s Campaign, ApiError> {
    let campaign = find_campaign(state, id)?;
    if !campaign.has_organizations() {
        return Err(ApiError::NotFound("this campaign takes no organizations"));
    }
    Ok(campaign)
}

/// `POST /api/v1/campaigns/{cid}/organizations`: registers an organization under a region.
#[utoipa::path(
    post,
    path = "/api/v1/campaigns/{cid}/organizations",
    tag = "organization",
    summary = "Register an organization (单位注册) under a region",
    params(("cid" = String, Path, description = "The campaign id")),
    request_body = OrganizationBody,
    responses(
        (status = 201, description = "The organization registered", body = OrganizationView),
        (status = 400, description = "`bad_request`: a malformed body", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`: no such campaign, or it takes no organizations", body = ErrorBody<'_>),
        (status = 409, description = "`already_registered`: the credit code is registered in the campaign, or the name in the region", body = ErrorBody<'_>),
        (status = 422, description = "`invalid_credit_code` (length, character, check character), `invalid_name`, `invalid_region`, `invalid_staff` (outside 1 to 1,000,000)", body = ErrorBody<'_>),
        (status = 429, description = "`rate_limited`: too many registrations from this address", body = ErrorBody<'_>),
    )
)]
#[tracing::instrument(skip_all, fields(campaign = %campaign))]
pub async fn register(
    request: HttpRequest,
    state: web::Data<AppState>,
    campaign: web::Path<String>,
    body: web::Json<OrganizationBody>,
) -> Result<HttpResponse, ApiError> {
    let campaign = organizations_campaign(&state, &campaign)?;
    let name = OrganizationName::parse(&body.name)
        .map_err(|e| ApiError::invalid("invalid_name", e.to_string()))?;
    let code = CreditCode::parse(&body.credit_code)
        .map_err(|e| ApiError::invalid("invalid_credit_code", e.to_string()))?;
    let region = campaign
        .units
        .find(body.region_id.trim())
        .filter(|&ix| campaign.is_organization_region(ix))
        .ok_or_else(|| ApiError::invalid("invalid_region", "所选地区不存在，请重新选择"))?;
    let region = &campaign.units.get(region).id;
    let staff =
        staff_count(body.staff).map_err(|message| ApiError::invalid("invalid_staff", message))?;
    // Counted like a participant's registration: per client address, and per credit code.
    let key = format!("org:{}", code.as_str());
    super::limits::check_registration(&state, &request, &campaign.id, key.as_bytes()).await?;
    let registered = state
        .store
        .register_organization(&NewOrganization {
            campaign_id: &campaign.id,
            credit_code: code.as_str(),
            name: name.as_str(),
            initials: &initials(name.as_str()),
            region_id: region,
            staff,
            created_at_ms: state.clock.now().as_millisecond(),
        })
        .await;
    match registered {
        Ok(record) => Ok(HttpResponse::Created().json(view(campaign, record))),
        Err(RegisterOrganizationError::CreditCodeTaken(holder)) => Err(ApiError::Conflict {
            code: "already_registered",
            message: format!(
                "该统一社会信用代码已登记（{}），请直接搜索选择该单位",
                holder.name
            ),
        }),
        Err(RegisterOrganizationError::NameTaken(_)) => Err(ApiError::Conflict {
            code: "already_registered",
            message: "该地区已有同名单位登记，请直接搜索选择该单位".to_owned(),
        }),
        Err(RegisterOrganizationError::UnknownRegion(_)) => Err(ApiError::NotReady(
            "单位数据尚未就绪，请稍后重试".to_owned(),
        )),
        Err(RegisterOrganizationError::Store(error)) => Err(error.into()),
    }
}

/// The query of a search.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// A part of the name (水利局), or the pinyin initials' beginning (`czs`); empty lists all.
    #[serde(default)]
    q: String,
    /// Only organizations within this region's subtree.
    #[serde(default)]
    region: Option<String>,
    /// The `next` of the previous page.
    #[serde(default)]
    after: Option<i64>,
    /// At most this many (1 to 20, default 20).
    #[serde(default)]
    limit: Option<u32>,
}

/// A page of a search.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SearchPage {
    /// The organizations, by number.
    items: Vec<OrganizationView>,
    /// The `after` of the next page; `None` on the last.
    next: Option<i64>,
}

/// `GET /api/v1/campaigns/{cid}/organizations?q=`: searches organizations by a part of the
/// name or the beginning of the pinyin initials, a page at a time (at most 20).
#[utoipa::path(
    get,
    path = "/api/v1/campaigns/{cid}/organizations",
    tag = "organization",
    summary = "Search organizations by name or pinyin initials",
    params(("cid" = String, Path, description = "The campaign id"), SearchQuery),
    responses(
        (status = 200, description = "One page of organizations", body = SearchPage),
        (status = 400, description = "`bad_request`: a malformed query", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`: no such campaign, or it takes no organizations", body = ErrorBody<'_>),
    )
)]
#[tracing::instrument(skip_all, fields(campaign = %campaign))]
pub async fn search(
    state: web::Data<AppState>,
    campaign: web::Path<String>,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, ApiError> {
    let campaign = organizations_campaign(&state, &campaign)?;
    let limit = query.limit.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE);
    if query.q.chars().count() > 60 {
        return Err(ApiError::BadRequest("q: 最多60个字".to_owned()));
    }
    let within = query.region.as_deref().filter(|r| !r.trim().is_empty());
    if let Some(region) = within
        && campaign.units.find(region).is_none()
    {
        return Err(ApiError::NotFound("the campaign has no unit with this id"));
    }
    let rows = state
        .store
        .search_organizations(&OrganizationQuery {
            campaign_id: &campaign.id,
            text: &query.q,
            within,
            after: query.after,
            limit: limit + 1,
        })
        .await?;
    let more = rows.len() > limit as usize;
    let items: Vec<OrganizationView> = rows
        .into_iter()
        .take(limit as usize)
        .map(|record| view(campaign, record))
        .collect();
    let next = if more {
        items.last().map(|item| item.org_id)
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(SearchPage { items, next }))
}

/// What a registration says about the person's role (issue 18 items 5 and 6).
#[derive(Clone, Debug, Default)]
pub struct Role {
    /// 五进: the kind, registering under the unit's 五进 group.
    pub public_kind: Option<PublicKind>,
    /// 单位主要负责人: their post.
    pub principal_post: Option<String>,
}

impl Role {
    /// Reads the registration's role fields.
    pub fn parse(
        public_kind: Option<&str>,
        principal: bool,
        post: Option<&str>,
    ) -> Result<Role, ApiError> {
        let public_kind = match public_kind.map(str::trim).filter(|k| !k.is_empty()) {
            Some(kind) => Some(PublicKind::parse(kind).ok_or_else(|| {
                ApiError::invalid(
                    "invalid_public_kind",
                    "“五进”类别应为企业、农村、社区、学校或家庭",
                )
            })?),
            None => None,
        };
        let principal_post = if principal {
            if public_kind.is_some() {
                return Err(ApiError::invalid(
                    "invalid_post",
                    "“五进”人员不能勾选“单位主要负责人”",
                ));
            }
            Some(
                principal_post(post.unwrap_or(""))
                    .map_err(|message| ApiError::invalid("invalid_post", message))?,
            )
        } else {
            None
        };
        Ok(Role {
            public_kind,
            principal_post,
        })
    }

    /// Whether the record keeps a row for this person.
    pub fn is_recorded(&self) -> bool {
        self.public_kind.is_some() || self.principal_post.is_some()
    }
}

/// The unit id a participant registers with: a leaf of a file entry, an organization (checked
/// in SQL: it must exist), or with a 五进 kind the organization's 五进 group. A region of an
/// organizations entry is refused: participants belong to an organization there.
pub async fn registration_unit(
    state: &AppState,
    campaign: &Campaign,
    unit_id: &str,
    role: &Role,
) -> Result<String, ApiError> {
    let unit_id = unit_id.trim();
    let invalid = || ApiError::invalid("invalid_unit", "所选单位不存在，请重新选择");
    if let Some(ix) = campaign.units.find(unit_id) {
        if campaign.is_organization_region(ix) {
            return Err(ApiError::invalid(
                "invalid_unit",
                "请搜索并选择您所在的单位（搜索不到请先注册单位）",
            ));
        }
        let unit = super::participants::registration_unit(campaign, unit_id)?;
        if role.public_kind.is_some() {
            return Err(ApiError::invalid(
                "invalid_public_kind",
                "“五进”注册请选择关联的水利单位",
            ));
        }
        return Ok(unit.id.clone());
    }
    let dynamic = dynamic_unit(&campaign.units, unit_id).ok_or_else(invalid)?;
    // Participants name the organization; `~public` is chosen with a 五进 kind, not typed.
    let (Some(organization), false) = (dynamic.organization, dynamic.public) else {
        return Err(invalid());
    };
    let org_id: i64 = organization
        .rsplit_once(safequiz_domain::organization::SEPARATOR)
        .and_then(|(_, n)| n.parse().ok())
        .ok_or_else(invalid)?;
    let record = state
        .store
        .organization(&campaign.id, org_id)
        .await?
        .filter(|record| record.unit_id() == organization)
        .ok_or_else(invalid)?;
    Ok(match role.public_kind {
        Some(_) => public_unit_id(&record.unit_id()),
        None => record.unit_id(),
    })
}

/// Records the role of a participant who registered as a principal person or a 五进
/// participant; nothing for the others.
pub async fn record_role(
    state: &AppState,
    campaign: &Campaign,
    participant: u64,
    unit: &str,
    role: &Role,
    now: Timestamp,
) -> Result<(), ApiError> {
    if !role.is_recorded() {
        return Ok(());
    }
    state
        .store
        .record_organization_person(&OrganizationPerson {
            campaign_id: &campaign.id,
            participant_id: i64::try_from(participant)
                .map_err(|_| ApiError::Internal("participant id out of range".to_owned()))?,
            unit_id: unit,
            principal_post: role.principal_post.as_deref(),
            public_kind: role.public_kind.map(PublicKind::as_str),
            registered_at_ms: now.as_millisecond(),
        })
        .await?;
    Ok(())
}

/// The kind of an authorization file, by its first bytes (never by its name or declared type).
pub fn file_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some("image/png")
    } else {
        None
    }
}

/// One part of a `multipart/form-data` body.
struct Part<'a> {
    name: String,
    is_file: bool,
    body: &'a [u8],
}

/// The parts of a `multipart/form-data` body with `boundary` (RFC 7578): what browsers and
/// `curl -F` send. Refuses anything it cannot read rather than guess.
fn multipart_parts<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<Part<'a>>, ApiError> {
    let bad = || ApiError::BadRequest("unreadable multipart body".to_owned());
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let find = |haystack: &[u8], needle: &[u8], from: usize| -> Option<usize> {
        haystack
            .get(from..)?
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|p| p + from)
    };
    let mut at = find(body, delimiter, 0).ok_or_else(bad)? + delimiter.len();
    let mut parts = Vec::new();
    loop {
        if body.get(at..at + 2) == Some(b"--") {
            return Ok(parts);
        }
        if body.get(at..at + 2) != Some(b"\r\n") {
            return Err(bad());
        }
        at += 2;
        let headers_end = find(body, b"\r\n\r\n", at).ok_or_else(bad)?;
        let headers = std::str::from_utf8(&body[at..headers_end]).map_err(|_| bad())?;
        let content = headers_end + 4;
        let mut next_delimiter = b"\r\n".to_vec();
        next_delimiter.extend_from_slice(delimiter);
        let end = find(body, &next_delimiter, content).ok_or_else(bad)?;
        let disposition = headers
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))
            .ok_or_else(bad)?;
        let param = |key: &str| {
            disposition.split(';').find_map(|p| {
                let (k, v) = p.trim().split_once('=')?;
                (k.trim().eq_ignore_ascii_case(key)).then(|| v.trim().trim_matches('"').to_owned())
            })
        };
        parts.push(Part {
            name: param("name").ok_or_else(bad)?,
            is_file: param("filename").is_some(),
            body: &body[content..end],
        });
        at = end + next_delimiter.len();
    }
}

/// The answer to an application.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ApplicationFiled {
    /// Its id.
    application_id: i64,
    /// `pending`.
    status: &'static str,
}

/// `POST /api/v1/campaigns/{cid}/organizations/{oid}/admin-applications`: applies to
/// administer an organization, as `multipart/form-data` with the fields `name`, `phone` and
/// `file` (the letter of authorization: PDF, JPEG or PNG, at most 5 MB, judged by its bytes).
#[utoipa::path(
    post,
    path = "/api/v1/campaigns/{cid}/organizations/{oid}/admin-applications",
    tag = "organization",
    summary = "Apply to administer an organization (multipart: name, phone, file)",
    params(
        ("cid" = String, Path, description = "The campaign id"),
        ("oid" = i64, Path, description = "The organization's number"),
    ),
    request_body(content_type = "multipart/form-data", description = "Fields `name`, `phone` and `file` (PDF, JPEG or PNG, at most 5 MB)"),
    responses(
        (status = 201, description = "The application, pending", body = ApplicationFiled),
        (status = 400, description = "`bad_request`: not a readable multipart body, or a field missing", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`: no such campaign or organization", body = ErrorBody<'_>),
        (status = 409, description = "`application_exists`: the organization has a pending application or an administrator", body = ErrorBody<'_>),
        (status = 413, description = "`payload_too_large`: the file is over 5 MB", body = ErrorBody<'_>),
        (status = 422, description = "`invalid_name`, `invalid_phone`, `invalid_file` (not a PDF, JPEG or PNG)", body = ErrorBody<'_>),
        (status = 429, description = "`rate_limited`", body = ErrorBody<'_>),
    )
)]
#[tracing::instrument(skip_all, fields(campaign = %path.0))]
pub async fn apply(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, i64)>,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (campaign, org_id) = path.into_inner();
    let campaign = organizations_campaign(&state, &campaign)?;
    let boundary = request
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"))
        .and_then(|v| {
            v.split(';').find_map(|p| {
                p.trim()
                    .strip_prefix("boundary=")
                    .map(|b| b.trim_matches('"').to_owned())
            })
        })
        .filter(|b| !b.is_empty() && b.len() <= 70)
        .ok_or_else(|| {
            ApiError::BadRequest("the body must be multipart/form-data with a boundary".to_owned())
        })?;
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("unreadable body: {e}")))?;
        if body.len() + chunk.len() > MAX_FILE_BYTES + MAX_FORM_OVERHEAD {
            return Err(ApiError::PayloadTooLarge(MAX_FILE_BYTES));
        }
        body.extend_from_slice(&chunk);
    }
    let parts = multipart_parts(&body, &boundary)?;
    let field = |name: &str| parts.iter().find(|p| p.name == name && !p.is_file);
    let text = |name: &str| -> Result<String, ApiError> {
        let part = field(name)
            .ok_or_else(|| ApiError::BadRequest(format!("the field `{name}` is missing")))?;
        String::from_utf8(part.body.to_vec())
            .map_err(|_| ApiError::BadRequest(format!("the field `{name}` is not UTF-8")))
    };
    let name = PersonName::parse(&text("name")?)
        .map_err(|e| ApiError::invalid("invalid_name", e.to_string()))?;
    let phone = Phone::parse(&text("phone")?)
        .map_err(|e| ApiError::invalid("invalid_phone", e.to_string()))?;
    let file = parts
        .iter()
        .find(|p| p.name == "file" && p.is_file)
        .ok_or_else(|| ApiError::BadRequest("the file `file` is missing".to_owned()))?;
    if file.body.len() > MAX_FILE_BYTES {
        return Err(ApiError::PayloadTooLarge(MAX_FILE_BYTES));
    }
    let file_type = file_type(file.body)
        .ok_or_else(|| ApiError::invalid("invalid_file", "授权文件须为 PDF、JPG 或 PNG 格式"))?;
    let organization = state
        .store
        .organization(&campaign.id, org_id)
        .await?
        .ok_or(ApiError::NotFound("no organization has this number"))?;
    let phone_hash = state.auth.phone_hash(&campaign.id, &phone);
    super::limits::check_registration(&state, &request, &campaign.id, &phone_hash).await?;
    let filed = state
        .store
        .submit_admin_application(&NewAdminApplication {
            campaign_id: &campaign.id,
            org_id,
            unit_id: &organization.unit_id(),
            applicant_name: name.as_str(),
            phone: phone.digits(),
            file_type,
            file_bytes: file.body.to_vec(),
            submitted_at_ms: state.clock.now().as_millisecond(),
        })
        .await;
    match filed {
        Ok(application_id) => Ok(HttpResponse::Created().json(ApplicationFiled {
            application_id,
            status: "pending",
        })),
        Err(ApplicationError::AlreadyLive) => Err(ApiError::Conflict {
            code: "application_exists",
            message: "该单位已有待审核的申请或已有管理员".to_owned(),
        }),
        Err(ApplicationError::Store(error)) => Err(error.into()),
        Err(other) => Err(ApiError::Internal(other.to_string())),
    }
}

/// The query of the queue.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    /// `pending` (the default), `approved`, `refused` or `all`.
    #[serde(default)]
    status: Option<String>,
}

/// The queue.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Queue {
    /// The applications of organizations within the organizer's scope, the newest first (at
    /// most 200).
    #[schema(value_type = Vec<Object>)]
    items: Vec<AdminApplication>,
}

/// The applications an organizer may decide: those of organizations strictly below their own
/// scope (an administrator cannot approve their own organization's).
fn decidable(
    session: &super::organizer::Session,
    campaign: &Campaign,
    unit: &str,
) -> Result<(), ApiError> {
    let wanted = Scope::unit(unit);
    session.check_scope(campaign, &wanted)?;
    if session.scope().unit_id() == Some(unit) {
        return Err(ApiError::Forbidden {
            code: "out_of_scope",
            message: "本单位的管理员申请由上级单位审核".to_owned(),
        });
    }
    Ok(())
}

/// `GET /api/v1/organizer/admin-applications?status=pending`: the applications of
/// organizations within the organizer's scope.
#[utoipa::path(
    get,
    path = "/api/v1/organizer/admin-applications",
    tag = "organizer",
    summary = "The administrator applications within my scope",
    security(("organizer" = []), ("organizer_cookie" = [])),
    params(QueueQuery),
    responses(
        (status = 200, description = "The applications", body = Queue),
        (status = 400, description = "`bad_request`: an unknown status", body = ErrorBody<'_>),
        (status = 401, description = "`unauthorized`", body = ErrorBody<'_>),
        (status = 403, description = "`password_change_required`", body = ErrorBody<'_>),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn queue(
    state: web::Data<AppState>,
    Organizer(session): Organizer,
    query: web::Query<QueueQuery>,
) -> Result<HttpResponse, ApiError> {
    let campaign = session.campaign()?;
    let status = match query.status.as_deref().unwrap_or("pending") {
        "all" => None,
        status @ ("pending" | "approved" | "refused") => Some(status),
        _ => {
            return Err(ApiError::BadRequest(
                "status: pending, approved, refused or all".to_owned(),
            ));
        }
    };
    let mut items = state
        .store
        .admin_applications(&campaign.id, session.scope(), status, 200)
        .await?;
    // An administrator sees no application of their own organization.
    items.retain(|a| session.scope().unit_id() != Some(a.unit_id.as_str()));
    Ok(HttpResponse::Ok().json(Queue { items }))
}

async fn application_in_scope(
    state: &AppState,
    session: &super::organizer::Session,
    campaign: &Campaign,
    id: i64,
) -> Result<AdminApplication, ApiError> {
    let application = state
        .store
        .admin_application(&campaign.id, id)
        .await?
        .ok_or(ApiError::NotFound("no application has this id"))?;
    decidable(session, campaign, &application.unit_id)?;
    Ok(application)
}

/// `GET /api/v1/organizer/admin-applications/{id}/file`: the authorization file.
#[utoipa::path(
    get,
    path = "/api/v1/organizer/admin-applications/{id}/file",
    tag = "organizer",
    summary = "An application's authorization file",
    security(("organizer" = []), ("organizer_cookie" = [])),
    params(("id" = i64, Path, description = "The application")),
    responses(
        (status = 200, description = "The file (PDF, JPEG or PNG)", content_type = "application/octet-stream"),
        (status = 400, description = "`bad_request`: a malformed id", body = ErrorBody<'_>),
        (status = 401, description = "`unauthorized`", body = ErrorBody<'_>),
        (status = 403, description = "`out_of_scope`", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`", body = ErrorBody<'_>),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn file(
    state: web::Data<AppState>,
    Organizer(session): Organizer,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let campaign = session.campaign()?;
    let id = id.into_inner();
    let application = application_in_scope(&state, &session, campaign, id).await?;
    let stored = state
        .store
        .admin_application_file(&campaign.id, id)
        .await?
        .ok_or(ApiError::NotFound("no application has this id"))?;
    session
        .audit(
            safequiz_sql::audit::action::ADMIN_FILE,
            &application.unit_id,
            format!("application {id}"),
        )
        .await?;
    Ok(HttpResponse::Ok()
        .content_type(stored.file_type)
        .insert_header(("Content-Disposition", "inline"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(stored.file_bytes))
}

/// The answer to an approval: the account, with its one-time password shown this once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Approved {
    /// The application.
    application_id: i64,
    /// The new organizer account's id.
    organizer_id: i64,
    /// Its login name.
    username: String,
    /// Its one-time password: hand it to the applicant; it must be changed at first login.
    one_time_password: String,
    /// The organization's unit: the account's scope.
    unit_id: String,
}

/// `POST /api/v1/organizer/admin-applications/{id}/approval`: approves a pending application;
/// the organizer account scoped to the organization is created, with a one-time password
/// shown once.
#[utoipa::path(
    post,
    path = "/api/v1/organizer/admin-applications/{id}/approval",
    tag = "organizer",
    summary = "Approve an administrator application",
    security(("organizer" = []), ("organizer_cookie" = [])),
    params(("id" = i64, Path, description = "The application")),
    responses(
        (status = 201, description = "The account created", body = Approved),
        (status = 400, description = "`bad_request`: a malformed id or body", body = ErrorBody<'_>),
        (status = 401, description = "`unauthorized`", body = ErrorBody<'_>),
        (status = 403, description = "`out_of_scope`", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`", body = ErrorBody<'_>),
        (status = 409, description = "`not_pending`: already decided", body = ErrorBody<'_>),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn approve(
    state: web::Data<AppState>,
    Organizer(session): Organizer,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let campaign = session.campaign()?;
    let id = id.into_inner();
    let application = application_in_scope(&state, &session, campaign, id).await?;
    let password = accounts::one_time_password();
    let hash = {
        let password = password.clone();
        web::block(move || accounts::hash_password(&password))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .map_err(ApiError::Internal)?
    };
    let username = format!("org{}-{}", application.org_id, id);
    let decided_by = format!("organizer:{}", session.account.username);
    let approved = state
        .store
        .approve_admin_application(
            &campaign.id,
            id,
            &Approval {
                decided_by: &decided_by,
                username: &username,
                password_hash: &hash,
                at_ms: state.clock.now().as_millisecond(),
            },
        )
        .await;
    let organizer_id = match approved {
        Ok(organizer_id) => organizer_id,
        Err(ApplicationError::NotPending) => return Err(not_pending()),
        Err(ApplicationError::Store(error)) => return Err(error.into()),
        Err(other) => return Err(ApiError::Internal(other.to_string())),
    };
    session
        .audit(
            safequiz_sql::audit::action::ADMIN_APPROVE,
            &application.unit_id,
            format!("application {id}, account {username}"),
        )
        .await?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(Approved {
        application_id: id,
        organizer_id,
        username,
        one_time_password: password,
        unit_id: application.unit_id,
    }))
}

fn not_pending() -> ApiError {
    ApiError::Conflict {
        code: "not_pending",
        message: "该申请已处理".to_owned(),
    }
}

/// The body of a refusal.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefusalBody {
    /// Why, for the applicant (1 to 200 characters).
    reason: String,
}

/// `POST /api/v1/organizer/admin-applications/{id}/refusal`: refuses a pending application
/// with a reason.
#[utoipa::path(
    post,
    path = "/api/v1/organizer/admin-applications/{id}/refusal",
    tag = "organizer",
    summary = "Refuse an administrator application with a reason",
    security(("organizer" = []), ("organizer_cookie" = [])),
    params(("id" = i64, Path, description = "The application")),
    request_body = RefusalBody,
    responses(
        (status = 204, description = "Refused"),
        (status = 400, description = "`bad_request`", body = ErrorBody<'_>),
        (status = 401, description = "`unauthorized`", body = ErrorBody<'_>),
        (status = 403, description = "`out_of_scope`", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`", body = ErrorBody<'_>),
        (status = 409, description = "`not_pending`: already decided", body = ErrorBody<'_>),
        (status = 422, description = "`invalid_name`: the reason is empty or too long", body = ErrorBody<'_>),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn refuse(
    state: web::Data<AppState>,
    Organizer(session): Organizer,
    id: web::Path<i64>,
    body: web::Json<RefusalBody>,
) -> Result<HttpResponse, ApiError> {
    let campaign = session.campaign()?;
    let id = id.into_inner();
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(ApiError::invalid(
            "invalid_name",
            "请填写拒绝理由（不超过200字）",
        ));
    }
    let application = application_in_scope(&state, &session, campaign, id).await?;
    let decided_by = format!("organizer:{}", session.account.username);
    match state
        .store
        .refuse_admin_application(
            &campaign.id,
            id,
            &decided_by,
            reason,
            state.clock.now().as_millisecond(),
        )
        .await
    {
        Ok(()) => {}
        Err(ApplicationError::NotPending) => return Err(not_pending()),
        Err(ApplicationError::Store(error)) => return Err(error.into()),
        Err(other) => return Err(ApiError::Internal(other.to_string())),
    }
    session
        .audit(
            safequiz_sql::audit::action::ADMIN_REFUSE,
            &application.unit_id,
            format!("application {id}"),
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The query of the organizations report.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FiguresQuery {
    /// A unit within the organizer's scope (default: the scope itself).
    #[serde(default)]
    unit: Option<String>,
    /// The `next` of the previous page.
    #[serde(default)]
    after: Option<i64>,
}

/// A page of the organizations report.
#[derive(Serialize, utoipa::ToSchema)]
pub struct FiguresPage {
    /// Each organization: staff and 五进 apart, and its principal person.
    #[schema(value_type = Vec<Object>)]
    items: Vec<OrganizationFigures>,
    /// The `after` of the next page.
    next: Option<i64>,
}

/// `GET /api/v1/organizer/organizations?unit=`: the organizations within a unit of the
/// organizer's scope, each with its staff and 五进 figures apart and whether its principal
/// person registered and took part (from the record: what the flusher has written).
#[utoipa::path(
    get,
    path = "/api/v1/organizer/organizations",
    tag = "organizer",
    summary = "Organizations: staff and 五进 apart, principal persons",
    security(("organizer" = []), ("organizer_cookie" = [])),
    params(FiguresQuery),
    responses(
        (status = 200, description = "One page (100) of organizations", body = FiguresPage),
        (status = 401, description = "`unauthorized`", body = ErrorBody<'_>),
        (status = 403, description = "`out_of_scope`", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`", body = ErrorBody<'_>),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn figures(
    state: web::Data<AppState>,
    Organizer(session): Organizer,
    query: web::Query<FiguresQuery>,
) -> Result<HttpResponse, ApiError> {
    let campaign = session.campaign()?;
    let target =
        super::organizer::Target::resolve(&session, campaign, query.unit.as_deref()).await?;
    const PAGE: u32 = 100;
    let mut items = state
        .store
        .organization_figures(&campaign.id, &target.scope, query.after, PAGE + 1)
        .await?;
    let next = if items.len() > PAGE as usize {
        items.truncate(PAGE as usize);
        items.last().map(|row| row.org_id)
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(FiguresPage { items, next }))
}

/// The name of unit `id`: a configured unit's, a self-registered organization's from the
/// record (`safequiz_domain::organization`), or a 五进 group's; the id itself when none is known.
/// The certificate and the back office's pages about an organization name it so.
pub async fn unit_name(
    state: &AppState,
    campaign: &Campaign,
    id: &str,
) -> Result<String, ApiError> {
    use safequiz_domain::organization::{SEPARATOR, public_unit_name};
    if let Some(ix) = campaign.units.find(id) {
        return Ok(campaign.units.get(ix).name.clone());
    }
    let Some(unit) = dynamic_unit(&campaign.units, id) else {
        return Ok(id.to_owned());
    };
    let name = match unit.organization {
        Some(organization) => {
            let number = organization
                .rsplit(SEPARATOR)
                .next()
                .and_then(|number| number.parse::<i64>().ok());
            match number {
                Some(number) => state
                    .store
                    .organization(&campaign.id, number)
                    .await?
                    .map_or_else(|| id.to_owned(), |record| record.name),
                None => id.to_owned(),
            }
        }
        None => campaign.units.get(unit.anchor).name.clone(),
    };
    Ok(if unit.public {
        public_unit_name(&name)
    } else {
        name
    })
}

/// The kind and the name `me` shows for an organization (`organization`, 本单位) or a 五进
/// group (`public`, 本单位（五进）) on a participant's path.
pub fn dynamic_label(id: &str) -> (&'static str, &'static str) {
    if id.ends_with(safequiz_domain::organization::PUBLIC_SEGMENT) {
        ("public", "本单位（五进）")
    } else {
        ("organization", "本单位")
    }
}
