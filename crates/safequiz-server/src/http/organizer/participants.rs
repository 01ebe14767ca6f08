//! Participant search and a participant's attempts, from the SQL record.
//!
//! The search lists the participants of a subtree within the organizer's scope, best first,
//! with their totals, a page at a time: each page names where the next starts (`next`, a
//! cursor), so every page costs the same however far the organizer goes, and the total is
//! counted up to `COUNT_LIMIT` ("more than" beyond). The same filters drive the participant
//! export. A participant's attempts show every question as it was shown, the answer and the
//! key.

use actix_web::{HttpResponse, web};
use jiff::Timestamp;
use jiff::civil::Date;
use safequiz_domain::bank::{Choices, Question, QuestionKind};
use safequiz_domain::calendar;
use safequiz_domain::campaign::Campaign;
use safequiz_domain::draw::OptionOrder;
use safequiz_sql::reports::{
    AnswerDetail, AttemptDetail, ParticipantCursor, ParticipantFilter, ParticipantSummary,
};
use serde::{Deserialize, Serialize};

use super::period::{date_of, given, parse_date, parse_number};
use super::{Organizer, Session, Target};
use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody};

/// Most participants one page lists.
pub const MAX_PER_PAGE: u32 = 100;

/// Participants one page lists unless asked otherwise.
pub const DEFAULT_PER_PAGE: u32 = 20;

/// A unit on a participant's path, root first.
#[derive(Serialize, utoipa::ToSchema)]
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

/// The query of participant searches and of the participant export.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ParticipantQuery {
    /// A unit within the organizer's scope; their own without it.
    unit: Option<String>,
    /// A part of the name.
    name: Option<String>,
    /// The last 1 to 4 digits of the phone.
    phone: Option<String>,
    /// A day with an attempt, `YYYY-MM-DD`.
    day: Option<String>,
    /// Fewest total points (a whole number).
    min_points: Option<String>,
    /// Most total points (a whole number).
    max_points: Option<String>,
    /// Where the page starts: the `next` of the previous page.
    after: Option<String>,
    /// Participants per page, 1 to 100 (20 without it).
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
        let text = |value: &Option<String>| given(value.as_deref()).map(str::to_owned);
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
            unit_id: target
                .scope
                .unit_id()
                .filter(|_| target.scope != *session.scope())
                .map(str::to_owned),
            day,
            min_points: parse_number("min_points", self.min_points.as_deref())?,
            max_points: parse_number("max_points", self.max_points.as_deref())?,
        })
    }

    /// The page asked for: where it starts (`None`: the first page) and how many it lists.
    fn page(&self) -> Result<(Option<ParticipantCursor>, u32), ApiError> {
        let after = match given(self.after.as_deref()) {
            Some(text) => Some(ParticipantCursor::parse(text).ok_or_else(|| {
                ApiError::BadRequest("after: 翻页位置无效，请从第一页重新查询".to_owned())
            })?),
            None => None,
        };
        let per_page =
            parse_number("per_page", self.per_page.as_deref())?.unwrap_or(DEFAULT_PER_PAGE.into());
        let per_page = u32::try_from(per_page)
            .ok()
            .filter(|per_page| (1..=MAX_PER_PAGE).contains(per_page))
            .ok_or_else(|| {
                ApiError::BadRequest(format!("per_page: 应在 1 到 {MAX_PER_PAGE} 之间"))
            })?;
        Ok((after, per_page))
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = OrganizerParticipant)]
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

#[derive(Serialize, utoipa::ToSchema)]
struct ParticipantPage<'c> {
    unit_id: &'c str,
    /// Participants found, counted up to `COUNT_LIMIT`.
    total: i64,
    /// Whether there are more than `total`.
    more_than_total: bool,
    per_page: u32,
    /// The `after` of the next page; `null` on the last.
    next: Option<String>,
    items: Vec<ParticipantItem<'c>>,
}

/// `GET /api/v1/organizer/participants?unit=&name=&phone=&day=&min_points=&max_points=&after=&
/// per_page=`: one page of the participants of a subtree, best first, with their totals; the
/// next page is asked for with the `next` of this one as `after`.
#[utoipa::path(
    get,
    path = "/api/v1/organizer/participants",
    tag = "organizer",
    summary = "Search the participants of a subtree, best first, a page at a time",
    security(("organizer" = []), ("organizer_cookie" = [])),
    params(ParticipantQuery),
    responses(
        (status = 200, description = "One page", body = ParticipantPage<'_>),
        (status = 400, description = "`bad_request`: a malformed query or date", body = ErrorBody<'_>),
        (status = 401, description = "`unauthorized`: no session, or an ended one", body = ErrorBody<'_>),
        (status = 403, description = "`out_of_scope`, or `password_change_required`", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`: the campaign has no such unit", body = ErrorBody<'_>),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn participants(
    state: web::Data<AppState>,
    Organizer(session): Organizer,
    query: web::Query<ParticipantQuery>,
) -> Result<HttpResponse, ApiError> {
    let campaign = session.campaign()?;
    let target = Target::resolve(&session, campaign, query.unit()).await?;
    let filter = query.filter(&session, &target)?;
    let (after, per_page) = query.page()?;
    let page = state
        .store
        .participants_page(
            &campaign.id,
            session.scope(),
            &filter,
            per_page,
            after.as_ref(),
        )
        .await?;
    Ok(HttpResponse::Ok().json(ParticipantPage {
        unit_id: target.scope.as_str(),
        total: page.total,
        more_than_total: page.more_than_total,
        per_page,
        next: page.next.map(|next| next.encode()),
        items: page
            .items
            .into_iter()
            .map(|row| participant_item(campaign, row))
            .collect(),
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = RecordedOption)]
struct OptionView<'q> {
    key: char,
    text: Option<&'q str>,
}

#[derive(Serialize, utoipa::ToSchema)]
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

#[derive(Serialize, utoipa::ToSchema)]
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

#[derive(Serialize, utoipa::ToSchema)]
struct ParticipantAttempts<'q> {
    participant_id: i64,
    attempts: Vec<AttemptView<'q>>,
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
#[utoipa::path(
    get,
    path = "/api/v1/organizer/participants/{pid}/attempts",
    tag = "organizer",
    summary = "Every final attempt of a participant, question by question",
    security(("organizer" = []), ("organizer_cookie" = [])),
    params(("pid" = i64, Path, description = "The participant id")),
    responses(
        (status = 200, description = "The attempts", body = ParticipantAttempts<'_>),
        (status = 400, description = "`bad_request`: a malformed participant id", body = ErrorBody<'_>),
        (status = 401, description = "`unauthorized`: no session, or an ended one", body = ErrorBody<'_>),
        (status = 403, description = "`password_change_required`", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`: no such participant in the organizer's subtree", body = ErrorBody<'_>),
    )
)]
#[tracing::instrument(skip_all, fields(participant = *participant))]
pub async fn participant_attempts(
    state: web::Data<AppState>,
    Organizer(session): Organizer,
    participant: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let campaign = session.campaign()?;
    let target = Target::resolve(&session, campaign, None).await?;
    let participant = participant.into_inner();
    let attempts = state
        .store
        .participant_attempts(&campaign.id, &target.scope, participant)
        .await?
        .ok_or(ApiError::NotFound("no such participant"))?;
    session
        .audit(
            safequiz_sql::audit::action::VIEW_ATTEMPTS,
            target.scope.as_str(),
            format!("participant={participant} attempts={}", attempts.len()),
        )
        .await?;
    Ok(HttpResponse::Ok().json(ParticipantAttempts {
        participant_id: participant,
        attempts: attempts
            .into_iter()
            .map(|attempt| attempt_view(campaign, attempt))
            .collect(),
    }))
}
