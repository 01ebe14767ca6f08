//! Headcounts: how many people each unit expects to take part, the denominator of the
//! participation rate organizers are ranked by. Set one unit at a time, or many at once by
//! uploading the CSV file a spreadsheet saves.
//!
//! Who may set a headcount: an organizer sets those of the units below their own, never their
//! own unit's (its participation rate is what the level above judges them by, so the level
//! above sets it); a national account (the whole campaign) sets any (`Scope::check_below`). A unit outside that answers `403
//! out_of_scope` and nothing is written.
//!
//! An upload is all or nothing: the whole table is parsed and checked first, and either every
//! row is written in one transaction or none is (`422 invalid_headcount` with every bad row,
//! or `403` naming the rows outside the organizer's reach).

use std::collections::HashMap;

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use safequiz_domain::campaign::Campaign;
use safequiz_domain::encoding::decode_csv;
use safequiz_domain::scope::{Scope, ScopeError};
use safequiz_domain::units::UnitIx;
use serde::{Deserialize, Deserializer, Serialize};

use super::{Organizer, Session};
use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody, RowProblem};

/// The largest headcount accepted (more than any unit's population).
pub const MAX_HEADCOUNT: i64 = 1_000_000_000;

/// The largest upload accepted: a national table of every region (about 3,400 rows) is under
/// 100 KiB.
pub const MAX_UPLOAD_BYTES: usize = 1024 * 1024;

/// The unit `unit` names, when this organizer may set its headcount: a unit below the
/// organizer's own (any unit for the whole campaign). [`ScopeError::UnknownUnit`] for a unit
/// the campaign does not have (and for the whole campaign), [`ScopeError::OutOfScope`] outside
/// the subtree and [`ScopeError::OwnUnit`] for the organizer's own unit.
fn settable(session: &Session, campaign: &Campaign, unit: &str) -> Result<UnitIx, ScopeError> {
    session
        .scope()
        .check_below(&campaign.units, &Scope::parse(unit)?)
}

/// The body of `PUT /organizer/units/{unit}/headcount`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeadcountBody {
    /// `Some(None)` for an explicit `null` (clear it); `None` when the field is missing.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, required = true, minimum = 0, maximum = 1_000_000_000)]
    headcount: Option<Option<i64>>,
}

fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(deserializer).map(Some)
}

fn check_headcount(headcount: i64) -> Result<i64, String> {
    if (0..=MAX_HEADCOUNT).contains(&headcount) {
        Ok(headcount)
    } else {
        Err(format!("应参与人数应为 0 到 {MAX_HEADCOUNT} 之间的整数"))
    }
}

#[derive(Serialize, utoipa::ToSchema)]
struct HeadcountAnswer<'c> {
    unit_id: &'c str,
    name: &'c str,
    headcount: Option<i64>,
}

/// `PUT /api/v1/organizer/units/{unit}/headcount` `{headcount: n | null}`: sets (or clears) the
/// headcount of a unit below the organizer's own.
#[utoipa::path(
    put,
    path = "/api/v1/organizer/units/{unit}/headcount",
    tag = "organizer",
    summary = "Set or clear the headcount of a unit below the organizer's own",
    security(("organizer" = []), ("organizer_cookie" = [])),
    params(("unit" = String, Path, description = "The unit id")),
    request_body = HeadcountBody,
    responses(
        (status = 200, description = "Set", body = HeadcountAnswer<'_>),
        (status = 400, description = "`bad_request`: a malformed body, or the cookie without `X-Requested-With`", body = ErrorBody<'_>),
        (status = 401, description = "`unauthorized`: no session, or an ended one", body = ErrorBody<'_>),
        (status = 403, description = "`out_of_scope` (also the organizer's own unit), or `password_change_required`", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`: the campaign has no such unit", body = ErrorBody<'_>),
        (status = 413, description = "`payload_too_large`", body = ErrorBody<'_>),
        (status = 422, description = "`invalid_headcount`: outside 0 to 1,000,000,000", body = ErrorBody<'_>),
    )
)]
#[tracing::instrument(skip_all, fields(unit.code = %unit))]
pub async fn set_headcount(
    state: web::Data<AppState>,
    Organizer(session): Organizer,
    unit: web::Path<String>,
    body: web::Json<HeadcountBody>,
) -> Result<HttpResponse, ApiError> {
    let campaign = session.campaign()?;
    let unit = campaign.units.get(settable(&session, campaign, &unit)?);
    let headcount = body
        .headcount
        .ok_or_else(|| ApiError::BadRequest("headcount: 必填（清除时为 null）".to_owned()))?
        .map(check_headcount)
        .transpose()
        .map_err(|message| ApiError::invalid("invalid_headcount", message))?;
    state
        .store
        .set_headcounts(
            &campaign.id,
            session.scope(),
            &[(unit.id.as_str(), headcount)],
        )
        .await?;
    session
        .audit(
            safequiz_sql::audit::action::HEADCOUNT,
            &unit.id,
            format!(
                "{}={}",
                unit.id,
                headcount.map_or("null".to_owned(), |h| h.to_string())
            ),
        )
        .await?;
    tracing::info!(
        organizer = session.account.organizer_id,
        "organizer set a headcount"
    );
    Ok(HttpResponse::Ok().json(HeadcountAnswer {
        unit_id: &unit.id,
        name: &unit.name,
        headcount,
    }))
}

/// One data row of an uploaded headcount table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeadcountRow {
    /// The row's number as the spreadsheet shows it.
    pub row: usize,
    /// The unit id as written (trimmed).
    pub unit_id: String,
    /// The headcount.
    pub headcount: i64,
}

/// A parsed headcount table: the rows to write, and the rows left out because their headcount
/// cell is empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeadcountTable {
    /// Rows with a unit and a headcount, in file order.
    pub rows: Vec<HeadcountRow>,
    /// Rows naming a unit with an empty headcount (left unchanged).
    pub skipped: Vec<usize>,
}

/// A unit id cell as a spreadsheet may have written it: `="0123"` (how our own CSV exports keep
/// codes as text) is read as `0123`.
fn unit_cell(cell: &str) -> &str {
    let cell = cell.trim();
    cell.strip_prefix("=\"")
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or(cell)
        .trim()
}

/// A headcount cell: digits, perhaps with thousands separators (`1,200`, as Excel writes a
/// number formatted with them).
fn headcount_cell(cell: &str) -> Option<i64> {
    let digits: String = cell
        .trim()
        .chars()
        .filter(|&c| c != ',' && c != '，')
        .collect();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The line (from 1) of the record the CSV reader reports at `byte`. The reader's own line
/// count is off by the blank lines and CRLF pairs before a record, and its byte offset may point
/// at the previous line's end, so the record's first character is found and its line counted.
fn line_at(text: &str, byte: u64) -> usize {
    let byte = usize::try_from(byte).unwrap_or(usize::MAX).min(text.len());
    let rest = &text.as_bytes()[byte..];
    let start = byte
        + rest
            .iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count();
    1 + text.as_bytes()[..start]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

/// Parses the text of a headcount CSV: columns unit id and headcount (further columns are
/// ignored), an optional header line (a first line whose headcount cell is not a number), empty
/// lines ignored, rows with an empty headcount left out (listed as skipped). Every problem is
/// reported with its row, and no row is returned when there is any.
pub fn parse_headcount_csv(text: &str) -> Result<HeadcountTable, Vec<RowProblem>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut table = HeadcountTable::default();
    let mut problems = Vec::new();
    let mut first_row_of: HashMap<String, usize> = HashMap::new();
    let mut first = true;
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                let row = error.position().map_or(0, |p| line_at(text, p.byte()));
                problems.push(RowProblem {
                    row,
                    message: format!("无法读取此行：{error}"),
                });
                break;
            }
        };
        let row = record.position().map_or(0, |p| line_at(text, p.byte()));
        let unit = unit_cell(record.get(0).unwrap_or(""));
        let count = record.get(1).unwrap_or("").trim();
        // A header names its columns: text where the first row's headcount would be.
        let is_header = first && !count.is_empty() && headcount_cell(count).is_none();
        first = false;
        if is_header || (unit.is_empty() && count.is_empty()) {
            continue;
        }
        if unit.is_empty() {
            problems.push(RowProblem {
                row,
                message: "缺少单位代码".to_owned(),
            });
            continue;
        }
        if count.is_empty() {
            table.skipped.push(row);
            continue;
        }
        let headcount = match headcount_cell(count)
            .ok_or(())
            .and_then(|n| check_headcount(n).map_err(|_| ()))
        {
            Ok(headcount) => headcount,
            Err(()) => {
                problems.push(RowProblem {
                    row,
                    message: format!("应参与人数“{count}”应为 0 到 {MAX_HEADCOUNT} 之间的整数"),
                });
                continue;
            }
        };
        if let Some(earlier) = first_row_of.get(unit) {
            problems.push(RowProblem {
                row,
                message: format!("单位 {unit} 已在第 {earlier} 行出现"),
            });
            continue;
        }
        first_row_of.insert(unit.to_owned(), row);
        table.rows.push(HeadcountRow {
            row,
            unit_id: unit.to_owned(),
            headcount,
        });
    }
    if table.rows.is_empty() && problems.is_empty() {
        problems.push(RowProblem {
            row: 1,
            message: "文件中没有可导入的行（每行：单位代码,应参与人数）".to_owned(),
        });
    }
    if problems.is_empty() {
        Ok(table)
    } else {
        Err(problems)
    }
}

/// A `422` listing `problems`.
fn invalid_rows(problems: Vec<RowProblem>) -> ApiError {
    let rows: Vec<String> = problems.iter().map(|p| p.row.to_string()).collect();
    ApiError::InvalidRows {
        code: "invalid_headcount",
        message: format!("第 {} 行有误，未导入任何数据", rows.join("、")),
        rows: problems,
    }
}

/// Reads a request body of at most [`MAX_UPLOAD_BYTES`].
async fn read_body(mut payload: web::Payload) -> Result<Vec<u8>, ApiError> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|error| ApiError::BadRequest(format!("unreadable body: {error}")))?;
        if body.len() + chunk.len() > MAX_UPLOAD_BYTES {
            return Err(ApiError::PayloadTooLarge(MAX_UPLOAD_BYTES));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[derive(Serialize, utoipa::ToSchema)]
struct UploadAnswer {
    updated: usize,
    skipped: Vec<usize>,
}

/// Refuses a body that is not the CSV file itself (a form upload, JSON).
fn check_csv_body(request: &HttpRequest) -> Result<(), ApiError> {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("multipart/") || content_type.starts_with("application/json") {
        return Err(ApiError::BadRequest(
            "the body must be the CSV file itself (Content-Type: text/csv)".to_owned(),
        ));
    }
    Ok(())
}

/// Checks that this organizer may set every row's headcount: `403 out_of_scope` naming the
/// rows outside their reach, else `422` naming the rows of units the campaign does not have.
///
/// Authorization before validation: a table reaching outside the organizer's units is refused
/// as a whole, whatever else is wrong with it.
fn check_rows(
    session: &Session,
    campaign: &Campaign,
    table: &HeadcountTable,
) -> Result<(), ApiError> {
    let mut unknown = Vec::new();
    let mut outside = Vec::new();
    for row in &table.rows {
        match settable(session, campaign, &row.unit_id) {
            Ok(_) => {}
            Err(ScopeError::Empty | ScopeError::UnknownUnit(_)) => unknown.push(RowProblem {
                row: row.row,
                message: format!("单位代码 {} 不存在", row.unit_id),
            }),
            Err(ScopeError::OutOfScope(_) | ScopeError::OwnUnit(_)) => {
                outside.push(row.row.to_string());
            }
        }
    }
    if !outside.is_empty() {
        return Err(ApiError::Forbidden {
            code: "out_of_scope",
            message: format!(
                "第 {} 行的单位不在您可设置的范围内，未导入任何数据",
                outside.join("、")
            ),
        });
    }
    if !unknown.is_empty() {
        return Err(invalid_rows(unknown));
    }
    Ok(())
}

/// `POST /api/v1/organizer/headcounts` with a CSV body (UTF-8 with or without BOM, or GB18030;
/// columns unit id, headcount): sets every headcount it lists, or none.
#[utoipa::path(
    post,
    path = "/api/v1/organizer/headcounts",
    tag = "organizer",
    summary = "Upload a CSV of headcounts (unit id, headcount): all rows or none",
    security(("organizer" = []), ("organizer_cookie" = [])),
    request_body(content = String, content_type = "text/csv", description = "The CSV file itself: UTF-8 (with or without BOM) or GB18030"),
    responses(
        (status = 200, description = "Every row written", body = UploadAnswer),
        (status = 400, description = "`bad_request`: a form or JSON body, or the cookie without `X-Requested-With`", body = ErrorBody<'_>),
        (status = 401, description = "`unauthorized`: no session, or an ended one", body = ErrorBody<'_>),
        (status = 403, description = "`out_of_scope`: rows outside the organizer's reach, or `password_change_required`", body = ErrorBody<'_>),
        (status = 413, description = "`payload_too_large`: over 1 MiB", body = ErrorBody<'_>),
        (status = 422, description = "`invalid_headcount` with `rows`: nothing was written", body = ErrorBody<'_>),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn upload_headcounts(
    request: HttpRequest,
    state: web::Data<AppState>,
    Organizer(session): Organizer,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    check_csv_body(&request)?;
    let campaign = session.campaign()?;
    let bytes = read_body(payload).await?;
    let table = parse_headcount_csv(&decode_csv(&bytes)).map_err(invalid_rows)?;
    check_rows(&session, campaign, &table)?;
    let headcounts: Vec<(&str, Option<i64>)> = table
        .rows
        .iter()
        .map(|row| (row.unit_id.as_str(), Some(row.headcount)))
        .collect();
    state
        .store
        .set_headcounts(&campaign.id, session.scope(), &headcounts)
        .await?;
    let mut detail = format!("upload units={}", headcounts.len());
    for (unit, headcount) in headcounts.iter().take(50) {
        detail.push_str(&format!(" {unit}={}", headcount.unwrap_or(0)));
    }
    if headcounts.len() > 50 {
        detail.push_str(" ...");
    }
    session
        .audit(
            safequiz_sql::audit::action::HEADCOUNT,
            session.scope().as_str(),
            detail,
        )
        .await?;
    tracing::info!(
        organizer = session.account.organizer_id,
        units = headcounts.len(),
        "organizer uploaded headcounts"
    );
    Ok(HttpResponse::Ok().json(UploadAnswer {
        updated: headcounts.len(),
        skipped: table.skipped,
    }))
}

#[cfg(test)]
mod tests;
