//! Unit figures for a period (the statistics forms) and the per-day series, from the SQL
//! record.

use actix_web::{HttpResponse, web};
use jiff::civil::Date;
use safequiz_domain::calendar;
use safequiz_domain::campaign::Campaign;
use safequiz_sql::reports::{DayFigures, UnitFigure, UnitFigures};
use serde::{Deserialize, Serialize};

use super::period::{Period, PeriodQuery, date_of};
use super::{Organizer, Target};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::{AppState, round2};

#[cfg(test)]
mod tests;

/// Which figure orders the children of a unit's figures, larger first.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FigureSort {
    /// Unit id order.
    Unit,
    /// Total points.
    #[default]
    Points,
    /// Distinct participants (参与人数).
    Participants,
    /// Attempts (参与人次).
    Attempts,
    /// Full-mark attempts.
    FullMarks,
    /// Points per attempt.
    AvgScore,
    /// Participants per head of the headcount; units without a headcount last.
    ParticipationRate,
}

/// Orders `children` by `sort`, larger first; equal figures keep unit id order.
pub(crate) fn sort_children(children: &mut [UnitFigure], sort: FigureSort) {
    let rate = |figure: &UnitFigure| figure.participation_rate().unwrap_or(-1.0);
    let average = |figure: &UnitFigure| figure.average_points().unwrap_or(-1.0);
    match sort {
        FigureSort::Unit => {}
        FigureSort::Points => children.sort_by_key(|c| std::cmp::Reverse(c.points)),
        FigureSort::Participants => children.sort_by_key(|c| std::cmp::Reverse(c.participants)),
        FigureSort::Attempts => children.sort_by_key(|c| std::cmp::Reverse(c.attempts)),
        FigureSort::FullMarks => children.sort_by_key(|c| std::cmp::Reverse(c.full_marks)),
        FigureSort::AvgScore => children.sort_by(|a, b| average(b).total_cmp(&average(a))),
        FigureSort::ParticipationRate => children.sort_by(|a, b| rate(b).total_cmp(&rate(a))),
    }
}

/// A unit's figures over a period as the API shows them.
#[derive(Serialize, utoipa::ToSchema)]
struct FigureView {
    unit_id: String,
    name: String,
    kind: String,
    headcount: Option<i64>,
    participants: i64,
    attempts: i64,
    points: i64,
    full_marks: i64,
    avg_score: f64,
    participation_rate: Option<f64>,
}

impl From<UnitFigure> for FigureView {
    fn from(figure: UnitFigure) -> FigureView {
        FigureView {
            avg_score: figure.average_points().map_or(0.0, round2),
            participation_rate: figure
                .participation_rate()
                .map(|rate| (rate * 10_000.0).round() / 10_000.0),
            unit_id: figure.unit_id,
            name: figure.name,
            kind: figure.kind,
            headcount: figure.headcount,
            participants: figure.participants,
            attempts: figure.attempts,
            points: figure.points,
            full_marks: figure.full_marks,
        }
    }
}

/// One day's figures as the API shows them.
#[derive(Serialize, utoipa::ToSchema)]
struct DayView {
    date: Option<Date>,
    participants: i64,
    attempts: i64,
    points: i64,
    full_marks: i64,
    avg_score: f64,
}

impl From<DayFigures> for DayView {
    fn from(day: DayFigures) -> DayView {
        DayView {
            date: date_of(day.day),
            participants: day.participants,
            attempts: day.attempts,
            points: day.points,
            full_marks: day.full_marks,
            avg_score: if day.attempts == 0 {
                0.0
            } else {
                round2(day.points as f64 / day.attempts as f64)
            },
        }
    }
}

/// The figures of a target over a period, its children sorted; what the figures endpoint and
/// the unit export show.
pub(crate) async fn unit_figures(
    state: &AppState,
    campaign: &Campaign,
    target: &Target<'_>,
    period: Period,
    sort: FigureSort,
) -> Result<UnitFigures, ApiError> {
    let (from, to) = period.days();
    let mut figures = state
        .store
        .unit_figures(&campaign.id, &target.scope, from, to)
        .await?;
    sort_children(&mut figures.children, sort);
    if figures.total.name.is_empty() {
        figures.total.name = target.name.to_string();
    }
    Ok(figures)
}

/// The per-day series of a target over a period.
pub(crate) async fn daily_series(
    state: &AppState,
    campaign: &Campaign,
    target: &Target<'_>,
    period: Period,
) -> Result<Vec<DayFigures>, ApiError> {
    let (from, to) = period.days();
    Ok(state
        .store
        .daily_series(&campaign.id, &target.scope, from, to)
        .await?)
}

#[derive(Serialize, utoipa::ToSchema)]
struct FiguresAnswer<'c> {
    unit_id: &'c str,
    name: &'c str,
    from: Date,
    to: Date,
    sort: FigureSort,
    total: FigureView,
    children: Vec<FigureView>,
    not_started: Vec<String>,
    today: DayView,
    yesterday: DayView,
}

/// `GET /api/v1/organizer/figures?unit=&from=&to=&sort=`: the statistics-form figures
/// (参与人数, 参与人次, 满分人次, 平均分, headcount and participation rate) of a unit and each
/// of its children over a period, with today's and yesterday's totals beside them.
#[utoipa::path(
    get,
    path = "/api/v1/organizer/figures",
    tag = "organizer",
    summary = "The statistics-form figures of a unit and its children over a period",
    security(("organizer" = []), ("organizer_cookie" = [])),
    params(PeriodQuery),
    responses(
        (status = 200, description = "The figures", body = FiguresAnswer<'_>),
        (status = 400, description = "`bad_request`: a malformed query or date", body = ErrorBody<'_>),
        (status = 401, description = "`unauthorized`: no session, or an ended one", body = ErrorBody<'_>),
        (status = 403, description = "`out_of_scope`, or `password_change_required`", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`: the campaign has no such unit", body = ErrorBody<'_>),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn figures(
    state: web::Data<AppState>,
    Organizer(session): Organizer,
    query: web::Query<PeriodQuery>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let (campaign, target, period) = query.resolve(&session, now).await?;
    let figures = unit_figures(&state, campaign, &target, period, query.sort).await?;
    let today = calendar::day_number(campaign.day_of(now));
    let mut days = state
        .store
        .daily_series(&campaign.id, &target.scope, today - 1, today)
        .await?
        .into_iter();
    let (yesterday, today) = (
        days.next().unwrap_or_default(),
        days.next().unwrap_or_default(),
    );
    Ok(HttpResponse::Ok().json(FiguresAnswer {
        unit_id: target.scope.as_str(),
        name: &target.name,
        from: period.from,
        to: period.to,
        sort: query.sort,
        not_started: figures
            .children
            .iter()
            .filter(|child| child.attempts == 0)
            .map(|child| child.name.clone())
            .collect(),
        total: figures.total.into(),
        children: figures.children.into_iter().map(Into::into).collect(),
        today: today.into(),
        yesterday: yesterday.into(),
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct DailyAnswer<'c> {
    unit_id: &'c str,
    name: &'c str,
    from: Date,
    to: Date,
    days: Vec<DayView>,
}

/// `GET /api/v1/organizer/daily?unit=&from=&to=`: the figures of a subtree for every day of a
/// period, days without attempts included.
#[utoipa::path(
    get,
    path = "/api/v1/organizer/daily",
    tag = "organizer",
    summary = "A subtree's figures for every day of a period",
    security(("organizer" = []), ("organizer_cookie" = [])),
    params(PeriodQuery),
    responses(
        (status = 200, description = "The series", body = DailyAnswer<'_>),
        (status = 400, description = "`bad_request`: a malformed query or date", body = ErrorBody<'_>),
        (status = 401, description = "`unauthorized`: no session, or an ended one", body = ErrorBody<'_>),
        (status = 403, description = "`out_of_scope`, or `password_change_required`", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`: the campaign has no such unit", body = ErrorBody<'_>),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn daily(
    state: web::Data<AppState>,
    Organizer(session): Organizer,
    query: web::Query<PeriodQuery>,
) -> Result<HttpResponse, ApiError> {
    let (campaign, target, period) = query.resolve(&session, state.clock.now()).await?;
    let series = daily_series(&state, campaign, &target, period).await?;
    Ok(HttpResponse::Ok().json(DailyAnswer {
        unit_id: target.scope.as_str(),
        name: &target.name,
        from: period.from,
        to: period.to,
        days: series.into_iter().map(Into::into).collect(),
    }))
}
