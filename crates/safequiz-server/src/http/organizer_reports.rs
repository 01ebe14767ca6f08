//! The organizer back office's reports from the SQL record: participant search, a participant's
//! attempts, unit figures for a period (the statistics forms), the per-day series and the
//! question analysis.
//!
//! Every handler first resolves the unit it is asked about with [`Session::check_scope`]
//! (`403 out_of_scope` outside the organizer's subtree, `404` for a unit the campaign does not
//! have), and only then reads; the SQL reports also limit every statement to the scope they are
//! given, so a row outside it cannot come back whatever the filters say. Everything here reads;
//! headcounts are written in `organizer_headcounts` and files made in `organizer_exports`.
//!
//! Days are calendar days in the campaign's zone, given as `YYYY-MM-DD`: the day an attempt
//! started on there, as the flusher records it. The record trails the hot state by the flush
//! delay (a fraction of a second when healthy); the live figures are `progress`.

use actix_web::{HttpResponse, web};
use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use safequiz_domain::bank::{Categories, Choices, Question, QuestionKind};
use safequiz_domain::calendar;
use safequiz_domain::campaign::Campaign;
use safequiz_domain::draw::OptionOrder;
use safequiz_sql::reports::{
    AnswerDetail, AttemptDetail, DayFigures, MAX_DAYS, ParticipantFilter, ParticipantSummary,
    QuestionStat, UnitFigure, UnitFigures,
};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::ApiError;
use super::organizer::{Organizer, Session};

/// Most participants one page lists.
pub const MAX_PER_PAGE: u32 = 100;

/// Participants one page lists unless asked otherwise.
pub const DEFAULT_PER_PAGE: u32 = 20;

/// The name shown for the whole campaign's scope.
pub const WHOLE_CAMPAIGN_NAME: &str = "全部单位";

/// The unit a report is about, once checked: its id (`*`: the whole campaign) and name.
pub(crate) struct Target<'c> {
    pub(crate) id: &'c str,
    pub(crate) name: &'c str,
}

impl<'c> Target<'c> {
    /// Checks `unit` (the organizer's own unit when absent) against the session's scope.
    pub(crate) fn resolve(
        session: &Session,
        campaign: &'c Campaign,
        unit: Option<&str>,
    ) -> Result<Target<'c>, ApiError> {
        let unit = unit.filter(|unit| !unit.is_empty());
        let ix = session.check_scope(unit.unwrap_or(&session.account.unit_id))?;
        Ok(match ix {
            Some(ix) => {
                let unit = campaign.units.get(ix);
                Target {
                    id: &unit.id,
                    name: &unit.name,
                }
            }
            None => Target {
                id: "*",
                name: WHOLE_CAMPAIGN_NAME,
            },
        })
    }
}

/// A unit on a participant's path, root first.
#[derive(Serialize)]
pub(crate) struct PathUnit<'c> {
    id: &'c str,
    name: &'c str,
    kind: &'static str,
}

/// The path from the entry's root down to `unit`; empty for a unit the campaign no longer has.
pub(crate) fn unit_path<'c>(campaign: &'c Campaign, unit: &str) -> Vec<PathUnit<'c>> {
    let tree = &campaign.units;
    tree.find(unit)
        .map(|ix| {
            tree.path(ix)
                .into_iter()
                .map(|ix| {
                    let unit = tree.get(ix);
                    PathUnit {
                        id: &unit.id,
                        name: &unit.name,
                        kind: unit.kind.as_str(),
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A `YYYY-MM-DD` query value.
pub(crate) fn parse_date(field: &str, text: &str) -> Result<Date, ApiError> {
    text.trim()
        .parse::<Date>()
        .map_err(|_| ApiError::BadRequest(format!("{field}: 日期格式应为 YYYY-MM-DD")))
}

/// A whole-number query value; an empty value is no value (what an empty form field sends).
fn parse_number(field: &str, text: Option<&str>) -> Result<Option<i64>, ApiError> {
    match given(text) {
        None => Ok(None),
        Some(text) => text
            .parse()
            .map(Some)
            .map_err(|_| ApiError::BadRequest(format!("{field}: 应为整数"))),
    }
}

/// A query value that is there and not blank.
fn given(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|text| !text.is_empty())
}

/// An inclusive range of calendar days in the campaign's zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Period {
    pub(crate) from: Date,
    pub(crate) to: Date,
}

impl Period {
    /// The period `from`..=`to`; each end defaults to the campaign's window up to today (the
    /// window's first day, and today or the window's last day, whichever is earlier), and the
    /// default start is moved up so that the period is at most [`MAX_DAYS`] long.
    pub(crate) fn parse(
        campaign: &Campaign,
        now: Timestamp,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<Period, ApiError> {
        let first = campaign.day_of(campaign.opens_at);
        // `closes_at` is the first instant after the window.
        let last = campaign
            .day_of(campaign.closes_at - 1.millisecond())
            .max(first);
        let to = match given(to) {
            Some(text) => parse_date("to", text)?,
            None => campaign.day_of(now).clamp(first, last),
        };
        let from = match given(from) {
            Some(text) => parse_date("from", text)?,
            None => first.max(to.checked_sub((MAX_DAYS - 1).days()).unwrap_or(first)),
        };
        let days = i64::from(calendar::day_number(to)) - i64::from(calendar::day_number(from));
        if days < 0 || days >= i64::from(MAX_DAYS) {
            return Err(ApiError::BadRequest(format!(
                "统计区间有误：开始日期不能晚于结束日期，且最长 {MAX_DAYS} 天"
            )));
        }
        Ok(Period { from, to })
    }

    /// The day numbers the record keeps.
    pub(crate) fn days(self) -> (i32, i32) {
        (
            calendar::day_number(self.from),
            calendar::day_number(self.to),
        )
    }
}

/// The query of participant searches and of the participant export.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParticipantQuery {
    unit: Option<String>,
    name: Option<String>,
    phone: Option<String>,
    day: Option<String>,
    min_points: Option<String>,
    max_points: Option<String>,
    page: Option<String>,
    per_page: Option<String>,
}

impl ParticipantQuery {
    /// The unit asked about, when given.
    pub(crate) fn unit(&self) -> Option<&str> {
        self.unit.as_deref()
    }

    /// The search as the record's filter: the subtree of `target` within the organizer's scope,
    /// a part of the name, up to the last 4 digits of the phone, a day, a range of points.
    pub(crate) fn filter(
        &self,
        session: &Session,
        target: &Target<'_>,
    ) -> Result<ParticipantFilter, ApiError> {
        let text = |value: &Option<String>| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        let phone_suffix = text(&self.phone);
        if let Some(suffix) = &phone_suffix
            && (suffix.len() > 4 || !suffix.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(ApiError::BadRequest(
                "phone: 只能按手机号后 1 至 4 位数字查询".to_owned(),
            ));
        }
        let day = match text(&self.day) {
            Some(day) => Some(calendar::day_number(parse_date("day", &day)?)),
            None => None,
        };
        Ok(ParticipantFilter {
            name: text(&self.name),
            phone_suffix,
            // The organizer's scope is the statement's scope; the unit narrows within it.
            unit_id: (target.id != session.account.unit_id).then(|| target.id.to_owned()),
            day,
            min_points: parse_number("min_points", self.min_points.as_deref())?,
            max_points: parse_number("max_points", self.max_points.as_deref())?,
        })
    }

    fn page(&self) -> Result<(u32, u32), ApiError> {
        let page = parse_number("page", self.page.as_deref())?.unwrap_or(1);
        let per_page =
            parse_number("per_page", self.per_page.as_deref())?.unwrap_or(DEFAULT_PER_PAGE.into());
        let page = u32::try_from(page)
            .ok()
            .filter(|&page| page >= 1)
            .ok_or_else(|| ApiError::BadRequest("page: 应为正整数".to_owned()))?;
        let per_page = u32::try_from(per_page)
            .ok()
            .filter(|per_page| (1..=MAX_PER_PAGE).contains(per_page))
            .ok_or_else(|| {
                ApiError::BadRequest(format!("per_page: 应在 1 到 {MAX_PER_PAGE} 之间"))
            })?;
        Ok((page, per_page))
    }
}

#[derive(Serialize)]
struct ParticipantItem<'c> {
    participant_id: i64,
    name: String,
    phone_masked: String,
    unit_id: String,
    unit_name: String,
    unit_path: Vec<PathUnit<'c>>,
    registered_at: Option<Timestamp>,
    attempts: i64,
    points: i64,
    full_marks: i64,
    time_used_ms: i64,
    last_finished_at: Option<Timestamp>,
}

fn participant_item(campaign: &Campaign, summary: ParticipantSummary) -> ParticipantItem<'_> {
    ParticipantItem {
        unit_path: unit_path(campaign, &summary.unit_id),
        participant_id: summary.participant_id,
        name: summary.name,
        phone_masked: summary.phone_masked,
        unit_id: summary.unit_id,
        unit_name: summary.unit_name,
        registered_at: Timestamp::from_millisecond(summary.registered_at_ms).ok(),
        attempts: summary.attempts,
        points: summary.points,
        full_marks: summary.full_marks,
        time_used_ms: summary.time_used_ms,
        last_finished_at: summary
            .last_finished_at_ms
            .and_then(|ms| Timestamp::from_millisecond(ms).ok()),
    }
}

#[derive(Serialize)]
struct ParticipantPage<'c> {
    unit_id: &'c str,
    total: i64,
    page: u32,
    per_page: u32,
    items: Vec<ParticipantItem<'c>>,
}

/// `GET /api/v1/organizer/participants?unit=&name=&phone=&day=&min_points=&max_points=&page=&
/// per_page=`: one page of the participants of a subtree, best first, with their totals.
#[tracing::instrument(skip_all)]
pub async fn participants(
    state: web::Data<AppState>,
    Organizer(session): Organizer,
    query: web::Query<ParticipantQuery>,
) -> Result<HttpResponse, ApiError> {
    let campaign = session.campaign()?;
    let target = Target::resolve(&session, campaign, query.unit())?;
    let filter = query.filter(&session, &target)?;
    let (page, per_page) = query.page()?;
    let offset = u64::from(page - 1) * u64::from(per_page);
    let (total, rows) = state
        .store
        .participants_page(
            &campaign.id,
            &session.account.unit_id,
            &filter,
            per_page,
            offset,
        )
        .await?;
    Ok(HttpResponse::Ok().json(ParticipantPage {
        unit_id: target.id,
        total,
        page,
        per_page,
        items: rows
            .into_iter()
            .map(|row| participant_item(campaign, row))
            .collect(),
    }))
}

#[derive(Serialize)]
struct OptionView<'q> {
    key: char,
    text: Option<&'q str>,
}

#[derive(Serialize)]
struct AnswerView<'q> {
    index: usize,
    id: String,
    kind: Option<&'static str>,
    stem: Option<&'q str>,
    options: Vec<OptionView<'q>>,
    choices: Vec<char>,
    correct_choices: Vec<char>,
    correct: bool,
    explanation: Option<&'q str>,
    source: Option<&'q str>,
}

#[derive(Serialize)]
struct AttemptView<'q> {
    attempt_id: String,
    date: Option<Date>,
    started_at: Option<Timestamp>,
    deadline: Option<Timestamp>,
    finished_at: Option<Timestamp>,
    time_used_ms: i64,
    score: i32,
    correct_count: i32,
    auto_submitted: bool,
    questions: Vec<AnswerView<'q>>,
}

#[derive(Serialize)]
struct ParticipantAttempts<'q> {
    participant_id: i64,
    attempts: Vec<AttemptView<'q>>,
}

/// The calendar date of a day number.
pub(crate) fn date_of(day: i32) -> Option<Date> {
    Date::constant(1970, 1, 1).checked_add(day.days()).ok()
}

/// Display keys of `set` (over the bank's order) as the participant saw them under `order`.
fn shown_keys(kind: QuestionKind, order: Option<&OptionOrder>, set: Choices) -> Vec<char> {
    let shown = order.map_or(set, |order| order.shown(set));
    shown.indices().map(|i| kind.option_key(i)).collect()
}

fn answer_view(campaign: &Campaign, index: usize, answer: AnswerDetail) -> AnswerView<'_> {
    // A question the banks no longer have keeps its record; only its text is gone.
    let question: Option<&Question> = campaign.pool.find(&answer.question_id);
    let kind = question.map_or(QuestionKind::Single, |q| q.kind);
    let order = OptionOrder::from_slice(&answer.option_order);
    AnswerView {
        index,
        kind: question.map(|q| q.kind.as_str()),
        stem: question.map(|q| q.stem.as_str()),
        options: answer
            .option_order
            .iter()
            .enumerate()
            .map(|(shown, &original)| OptionView {
                key: kind.option_key(shown),
                text: question
                    .and_then(|q| q.options.get(usize::from(original)))
                    .map(String::as_str),
            })
            .collect(),
        choices: shown_keys(kind, order.as_ref(), answer.chosen),
        correct_choices: shown_keys(kind, order.as_ref(), answer.key),
        correct: answer.correct,
        explanation: question.map(|q| q.explanation.as_str()),
        source: question.map(|q| q.source.as_str()),
        id: answer.question_id,
    }
}

fn attempt_view(campaign: &Campaign, attempt: AttemptDetail) -> AttemptView<'_> {
    let instant = |ms: i64| Timestamp::from_millisecond(ms).ok();
    AttemptView {
        date: date_of(attempt.day),
        started_at: instant(attempt.started_at_ms),
        deadline: instant(attempt.deadline_ms),
        finished_at: instant(attempt.finished_at_ms),
        time_used_ms: attempt.time_used_ms,
        score: attempt.points,
        correct_count: attempt.correct,
        auto_submitted: attempt.auto_submitted,
        questions: attempt
            .answers
            .into_iter()
            .enumerate()
            .map(|(index, answer)| answer_view(campaign, index, answer))
            .collect(),
        attempt_id: attempt.attempt_id,
    }
}

/// `GET /api/v1/organizer/participants/{pid}/attempts`: every final attempt of a participant
/// of the organizer's subtree with each question as it was shown, the answer and the key;
/// `404` for a participant outside the subtree, exactly as for one that does not exist.
#[tracing::instrument(skip_all, fields(participant = *participant))]
pub async fn participant_attempts(
    state: web::Data<AppState>,
    Organizer(session): Organizer,
    participant: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let campaign = session.campaign()?;
    let target = Target::resolve(&session, campaign, None)?;
    let participant = participant.into_inner();
    let attempts = state
        .store
        .participant_attempts(&campaign.id, target.id, participant)
        .await?
        .ok_or(ApiError::NotFound("no such participant"))?;
    Ok(HttpResponse::Ok().json(ParticipantAttempts {
        participant_id: participant,
        attempts: attempts
            .into_iter()
            .map(|attempt| attempt_view(campaign, attempt))
            .collect(),
    }))
}

/// Which figure orders the children of a unit's figures, larger first.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
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

/// Two decimals, as the pages show averages.
fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// A unit's figures over a period as the API shows them.
#[derive(Serialize)]
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
#[derive(Serialize)]
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

/// The query of figures, the daily series and the question analysis.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodQuery {
    pub(crate) unit: Option<String>,
    pub(crate) from: Option<String>,
    pub(crate) to: Option<String>,
    #[serde(default)]
    pub(crate) sort: FigureSort,
}

impl PeriodQuery {
    /// The session's campaign, the unit asked for (checked against the session's scope) and
    /// the period asked for, defaults filled in: what every period report starts from.
    pub(crate) fn resolve<'s>(
        &self,
        session: &'s Session,
        now: Timestamp,
    ) -> Result<(&'s Campaign, Target<'s>, Period), ApiError> {
        let campaign = session.campaign()?;
        let target = Target::resolve(session, campaign, self.unit.as_deref())?;
        let period = Period::parse(campaign, now, self.from.as_deref(), self.to.as_deref())?;
        Ok((campaign, target, period))
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
        .unit_figures(&campaign.id, target.id, from, to)
        .await?;
    sort_children(&mut figures.children, sort);
    if figures.total.name.is_empty() {
        figures.total.name = target.name.to_owned();
    }
    Ok(figures)
}

#[derive(Serialize)]
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
#[tracing::instrument(skip_all)]
pub async fn figures(
    state: web::Data<AppState>,
    Organizer(session): Organizer,
    query: web::Query<PeriodQuery>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let (campaign, target, period) = query.resolve(&session, now)?;
    let figures = unit_figures(&state, campaign, &target, period, query.sort).await?;
    let today = calendar::day_number(campaign.day_of(now));
    let mut days = state
        .store
        .daily_series(&campaign.id, target.id, today - 1, today)
        .await?
        .into_iter();
    let (yesterday, today) = (
        days.next().unwrap_or_default(),
        days.next().unwrap_or_default(),
    );
    Ok(HttpResponse::Ok().json(FiguresAnswer {
        unit_id: target.id,
        name: target.name,
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

#[derive(Serialize)]
struct DailyAnswer<'c> {
    unit_id: &'c str,
    name: &'c str,
    from: Date,
    to: Date,
    days: Vec<DayView>,
}

/// `GET /api/v1/organizer/daily?unit=&from=&to=`: the figures of a subtree for every day of a
/// period, days without attempts included.
#[tracing::instrument(skip_all)]
pub async fn daily(
    state: web::Data<AppState>,
    Organizer(session): Organizer,
    query: web::Query<PeriodQuery>,
) -> Result<HttpResponse, ApiError> {
    let (campaign, target, period) = query.resolve(&session, state.clock.now())?;
    let (from, to) = period.days();
    let series = state
        .store
        .daily_series(&campaign.id, target.id, from, to)
        .await?;
    Ok(HttpResponse::Ok().json(DailyAnswer {
        unit_id: target.id,
        name: target.name,
        from: period.from,
        to: period.to,
        days: series.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Serialize)]
struct AnalysisOption<'q> {
    key: char,
    text: &'q str,
    chosen: u64,
}

#[derive(Serialize)]
struct WrongView<'q> {
    choices: Vec<char>,
    texts: Vec<&'q str>,
    count: u64,
}

#[derive(Serialize)]
struct QuestionAnalysis<'q> {
    question_id: String,
    in_bank: bool,
    kind: Option<&'static str>,
    category: Option<&'q str>,
    /// The category's Chinese name, as organizers know it.
    category_name: Option<&'q str>,
    stem: Option<&'q str>,
    options: Vec<AnalysisOption<'q>>,
    correct_choices: Vec<char>,
    drawn: u64,
    answered: u64,
    correct: u64,
    share_correct: f64,
    most_chosen_wrong: Option<WrongView<'q>>,
}

/// A question's tallies with its text; keys are the bank's option order (`A` is the bank's
/// first option), since each participant saw the options shuffled.
fn question_analysis<'q>(
    campaign: &'q Campaign,
    categories: &'q Categories,
    stat: QuestionStat,
) -> QuestionAnalysis<'q> {
    let question = campaign.pool.find(&stat.question_id);
    let kind = question.map_or(QuestionKind::Single, |q| q.kind);
    let text = |index: usize| {
        question
            .and_then(|q| q.options.get(index))
            .map_or("", String::as_str)
    };
    QuestionAnalysis {
        in_bank: question.is_some(),
        kind: question.map(|q| q.kind.as_str()),
        category: question.map(|q| q.category.as_str()),
        category_name: question.and_then(|q| categories.name(&q.category)),
        stem: question.map(|q| q.stem.as_str()),
        options: stat
            .option_counts
            .iter()
            .enumerate()
            .map(|(index, &chosen)| AnalysisOption {
                key: kind.option_key(index),
                text: text(index),
                chosen,
            })
            .collect(),
        correct_choices: question.map_or_else(Vec::new, |q| {
            q.answer.indices().map(|i| kind.option_key(i)).collect()
        }),
        share_correct: (stat.share_correct() * 10_000.0).round() / 10_000.0,
        most_chosen_wrong: stat.most_chosen_wrong.map(|wrong| WrongView {
            choices: wrong.chosen.indices().map(|i| kind.option_key(i)).collect(),
            texts: wrong.chosen.indices().map(text).collect(),
            count: wrong.count,
        }),
        drawn: stat.drawn,
        answered: stat.answered,
        correct: stat.correct,
        question_id: stat.question_id,
    }
}

#[derive(Serialize)]
struct AnalysisAnswer<'c> {
    unit_id: &'c str,
    name: &'c str,
    from: Date,
    to: Date,
    items: Vec<QuestionAnalysis<'c>>,
}

/// `GET /api/v1/organizer/questions?unit=&from=&to=`: how each question fared in a subtree's
/// attempts of a period, the least often answered correctly first, so that ambiguous or wrong
/// questions surface during the campaign.
#[tracing::instrument(skip_all)]
pub async fn questions(
    state: web::Data<AppState>,
    Organizer(session): Organizer,
    query: web::Query<PeriodQuery>,
) -> Result<HttpResponse, ApiError> {
    let (campaign, target, period) = query.resolve(&session, state.clock.now())?;
    let (from, to) = period.days();
    let stats = state
        .store
        .question_stats(&campaign.id, target.id, from, to)
        .await?;
    let mut items: Vec<QuestionAnalysis<'_>> = stats
        .into_iter()
        .map(|stat| question_analysis(campaign, &state.catalogue.categories, stat))
        .collect();
    // The worst first; among equals the most drawn (the surest figure), then by id.
    items.sort_by(|a, b| {
        a.share_correct
            .total_cmp(&b.share_correct)
            .then(b.drawn.cmp(&a.drawn))
    });
    Ok(HttpResponse::Ok().json(AnalysisAnswer {
        unit_id: target.id,
        name: target.name,
        from: period.from,
        to: period.to,
        items,
    }))
}

#[cfg(test)]
mod tests;
