//! Organizer downloads: the participant list, the unit figures and the per-day series of a
//! subtree, as CSV (UTF-8 with BOM, for Excel and WPS) or XLSX.
//!
//! Each handler checks the unit with [`Session::check_scope`](super::Session) before reading
//! anything, then hands what it may export to [`crate::export`]. CSV is streamed as it
//! is read, so a province's million participants never sit in memory; XLSX is written row by
//! row into a temporary file (a zip archive cannot be sent before it is complete), then
//! streamed. Plain `GET`s, so a link in the pages downloads with the session cookie.
//!
//! File names are Chinese (`参与人员-长安区-2026-06-10.csv`), sent as RFC 6266 `filename*` in
//! UTF-8 with an ASCII `filename` for clients that cannot read it.

use std::convert::Infallible;

use actix_web::http::header::{
    CacheControl, CacheDirective, Charset, ContentDisposition, DispositionParam, DispositionType,
    ExtendedValue,
};
use actix_web::{HttpResponse, web};
use futures_util::{Stream, StreamExt};

use super::figures::{daily_series, unit_figures};
use super::participants::ParticipantQuery;
use super::period::PeriodQuery;
use super::{Organizer, Target};
use crate::export::{
    self, DAILY_SERIES, Layout, PARTICIPANTS, Row, UNIT_FIGURES, csv_chunks, file_chunks, xlsx_file,
};
use crate::http::AppState;
use crate::http::audit::count_then_audit;
use crate::http::error::{ApiError, ErrorBody};
use crate::telemetry::RequestId;
use safequiz_sql::audit::action;

/// The content type of an XLSX workbook.
const XLSX_CONTENT_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The two file formats of every export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `.csv`: UTF-8 with BOM, streamed.
    Csv,
    /// `.xlsx`.
    Xlsx,
}

impl Format {
    /// The format a path's extension names; any other extension is not a resource.
    pub fn parse(extension: &str) -> Result<Format, ApiError> {
        match extension {
            "csv" => Ok(Format::Csv),
            "xlsx" => Ok(Format::Xlsx),
            _ => Err(ApiError::NotFound("exports are .csv or .xlsx")),
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }
}

/// The `{format}` of an export's path (documentation only: [`Format::parse`] reads it).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
#[serde(rename_all = "lowercase")]
enum ExportFormat {
    Csv,
    Xlsx,
}

/// An export's file name: `title` in Chinese, `ascii` for the fallback, both without extension.
struct FileName {
    title: String,
    ascii: String,
}

impl FileName {
    /// `<zh>-<unit name>-<suffix>` and `<en>-<unit id>-<suffix>` (`all` for the whole
    /// campaign).
    fn new(zh: &str, en: &str, target: &Target<'_>, suffix: &str) -> FileName {
        let id = target.scope.unit_id().unwrap_or("all");
        let ascii: String = format!("{en}-{id}-{suffix}")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        FileName {
            title: format!("{zh}-{}-{suffix}", target.name),
            ascii,
        }
    }

    fn disposition(&self, format: Format) -> ContentDisposition {
        let extension = format.extension();
        ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![
                DispositionParam::Filename(format!("{}.{extension}", self.ascii)),
                DispositionParam::FilenameExt(ExtendedValue {
                    charset: Charset::Ext("UTF-8".to_owned()),
                    language_tag: None,
                    value: format!("{}.{extension}", self.title).into_bytes(),
                }),
            ],
        }
    }
}

/// Answers `rows` as a download of `format`.
async fn download<S, E>(
    layout: Layout,
    rows: S,
    format: Format,
    name: &FileName,
) -> Result<HttpResponse, ApiError>
where
    S: Stream<Item = Result<Row, E>> + 'static,
    E: std::error::Error + Send + Sync + 'static,
{
    // A failure after the first byte cannot change the status any more: it is logged and the
    // response is cut off, so the client sees a failed download, not a short file.
    // The body is streamed after the handler returned, outside the request's scope: the
    // failure is logged under the request's id all the same.
    let request = RequestId::current();
    let rows = rows.map(move |row| {
        if let Err(error) = &row {
            let log =
                || tracing::error!(error = %error, "an export stopped: reading its rows failed");
            match request {
                Some(id) => id.sync_scope(log),
                None => log(),
            }
        }
        row
    });
    let mut response = HttpResponse::Ok();
    response
        .insert_header(name.disposition(format))
        // Personal data: no shared cache keeps a copy.
        .insert_header(CacheControl(vec![CacheDirective::NoStore]));
    match format {
        Format::Csv => Ok(response
            .content_type("text/csv; charset=utf-8")
            .streaming(csv_chunks(layout, rows))),
        Format::Xlsx => {
            let (file, _) = xlsx_file(layout, rows).await?;
            let length = file
                .metadata()
                .map_err(|error| ApiError::Internal(error.to_string()))?
                .len();
            Ok(response
                .content_type(XLSX_CONTENT_TYPE)
                .no_chunking(length)
                .streaming(file_chunks(file)))
        }
    }
}

/// `GET /api/v1/organizer/exports/participants.{csv|xlsx}` with the filters of the participant
/// search: every participant it finds, best first, with their totals.
#[utoipa::path(
    get,
    path = "/api/v1/organizer/exports/participants.{format}",
    tag = "organizer",
    summary = "Download the participants a search finds, as CSV or XLSX",
    security(("organizer" = []), ("organizer_cookie" = [])),
    params(("format" = inline(ExportFormat), Path, description = "`csv` or `xlsx`"), ParticipantQuery),
    responses(
        (status = 200, description = "The file, with a Chinese file name (`Content-Disposition`)", content(
            (String = "text/csv"),
            (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        )),
        (status = 400, description = "`bad_request`: a malformed query or date", body = ErrorBody<'_>),
        (status = 401, description = "`unauthorized`: no session, or an ended one", body = ErrorBody<'_>),
        (status = 403, description = "`out_of_scope`, or `password_change_required`", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`: no such unit, or a format other than csv and xlsx", body = ErrorBody<'_>),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn participants(
    state: web::Data<AppState>,
    Organizer(session): Organizer,
    format: web::Path<String>,
    query: web::Query<ParticipantQuery>,
) -> Result<HttpResponse, ApiError> {
    let format = Format::parse(&format)?;
    let campaign = session.campaign()?;
    let target = Target::resolve(&session, campaign, query.unit()).await?;
    let filter = query.filter(&session, &target)?;
    let today = campaign.day_of(state.clock.now()).to_string();
    let name = FileName::new("参与人员", "participants", &target, &today);
    let rows = export::participant_rows(
        state.store.clone(),
        campaign.id.clone(),
        session.scope().clone(),
        filter,
        campaign.time_zone.clone(),
    );
    // Audit (issue 20): a row before the first byte, and one with the count after the last.
    let what = format!("participants.{}", format_name(format));
    let scope = target.scope.as_str();
    session
        .audit(action::EXPORT, scope, format!("{what} started"))
        .await?;
    let done = session.audit_entry(action::EXPORT, scope, what);
    let rows = count_then_audit(state.clone(), done, rows);
    tracing::info!(
        organizer = session.account.organizer_id,
        "organizer exported participants"
    );
    download(PARTICIPANTS, rows, format, &name).await
}

/// `GET /api/v1/organizer/exports/units.{csv|xlsx}?unit=&from=&to=&sort=`: the figures of a
/// unit's children over a period, ranked, then the unit's total.
#[utoipa::path(
    get,
    path = "/api/v1/organizer/exports/units.{format}",
    tag = "organizer",
    summary = "Download a unit's children's figures over a period, as CSV or XLSX",
    security(("organizer" = []), ("organizer_cookie" = [])),
    params(("format" = inline(ExportFormat), Path, description = "`csv` or `xlsx`"), PeriodQuery),
    responses(
        (status = 200, description = "The file, with a Chinese file name (`Content-Disposition`)", content(
            (String = "text/csv"),
            (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        )),
        (status = 400, description = "`bad_request`: a malformed query or date", body = ErrorBody<'_>),
        (status = 401, description = "`unauthorized`: no session, or an ended one", body = ErrorBody<'_>),
        (status = 403, description = "`out_of_scope`, or `password_change_required`", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`: no such unit, or a format other than csv and xlsx", body = ErrorBody<'_>),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn units(
    state: web::Data<AppState>,
    Organizer(session): Organizer,
    format: web::Path<String>,
    query: web::Query<PeriodQuery>,
) -> Result<HttpResponse, ApiError> {
    let format = Format::parse(&format)?;
    let (campaign, target, period) = query.resolve(&session, state.clock.now()).await?;
    let figures = unit_figures(&state, campaign, &target, period, query.sort).await?;
    let rows = export::unit_figure_rows(&figures);
    let name = FileName::new("单位统计", "units", &target, &period.file_suffix());
    session
        .audit(
            action::EXPORT,
            target.scope.as_str(),
            format!(
                "units.{} {} rows={}",
                format_name(format),
                period.file_suffix(),
                rows.len()
            ),
        )
        .await?;
    let rows = futures_util::stream::iter(rows.into_iter().map(Ok::<_, Infallible>));
    download(UNIT_FIGURES, rows, format, &name).await
}

/// `GET /api/v1/organizer/exports/daily.{csv|xlsx}?unit=&from=&to=`: a subtree's figures for
/// every day of a period.
#[utoipa::path(
    get,
    path = "/api/v1/organizer/exports/daily.{format}",
    tag = "organizer",
    summary = "Download a subtree's figures for every day of a period, as CSV or XLSX",
    security(("organizer" = []), ("organizer_cookie" = [])),
    params(("format" = inline(ExportFormat), Path, description = "`csv` or `xlsx`"), PeriodQuery),
    responses(
        (status = 200, description = "The file, with a Chinese file name (`Content-Disposition`)", content(
            (String = "text/csv"),
            (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        )),
        (status = 400, description = "`bad_request`: a malformed query or date", body = ErrorBody<'_>),
        (status = 401, description = "`unauthorized`: no session, or an ended one", body = ErrorBody<'_>),
        (status = 403, description = "`out_of_scope`, or `password_change_required`", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`: no such unit, or a format other than csv and xlsx", body = ErrorBody<'_>),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn daily(
    state: web::Data<AppState>,
    Organizer(session): Organizer,
    format: web::Path<String>,
    query: web::Query<PeriodQuery>,
) -> Result<HttpResponse, ApiError> {
    let format = Format::parse(&format)?;
    let (campaign, target, period) = query.resolve(&session, state.clock.now()).await?;
    let series = daily_series(&state, campaign, &target, period).await?;
    let name = FileName::new("每日统计", "daily", &target, &period.file_suffix());
    let rows = export::daily_rows(&series);
    session
        .audit(
            action::EXPORT,
            target.scope.as_str(),
            format!(
                "daily.{} {} rows={}",
                format_name(format),
                period.file_suffix(),
                rows.len()
            ),
        )
        .await?;
    let rows = futures_util::stream::iter(rows.into_iter().map(Ok::<_, Infallible>));
    download(DAILY_SERIES, rows, format, &name).await
}

/// The file extension of `format`, for the audit trail.
fn format_name(format: Format) -> &'static str {
    match format {
        Format::Csv => "csv",
        Format::Xlsx => "xlsx",
    }
}
