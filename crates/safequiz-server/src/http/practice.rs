//! The practice room (练功房, docs/api.md "Practice"): practice attempts drawn like real ones
//! from the practice pool, reviewed at once, and never counted.
//!
//! A practice attempt lives only in its own Redis hash (`safequiz_redis::practice`), which its
//! grace's end expires and its submit deletes; it never reaches the participant's attempts, the
//! totals, the boards, the streams, SQL or any organizer figure. The day's finished practice is
//! a short history that expires at the end of the campaign's day. The participant holds the
//! answers until the submit, which sends them all: there is nothing to save one by one.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use jiff::Timestamp;
use safequiz_domain::calendar;
use safequiz_domain::campaign::{Campaign, Practice};
use safequiz_domain::draw::draw;
use safequiz_redis::attempts::{EncodedQuestions, NewAttempt};
use safequiz_redis::practice::{
    OpenPractice, PracticeActor, PracticeLine, PracticeStart, PracticeSubmit,
};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::attempts::{
    QuestionView, ReviewItem, Shown, campaign_of_path, local_time, question_view, timestamp,
};
use super::error::{ApiError, ErrorBody};
use super::extract::Participant;
use crate::auth::ParticipantClaims;

fn practice_of(campaign: &Campaign) -> Result<&Practice, ApiError> {
    campaign
        .practice
        .as_ref()
        .ok_or(ApiError::NotFound("this campaign has no practice room"))
}

fn actor<'a>(
    state: &AppState,
    campaign: &'a Campaign,
    claims: &ParticipantClaims,
) -> PracticeActor<'a> {
    PracticeActor {
        campaign: &campaign.id,
        shards: state.shards,
        participant: claims.participant,
    }
}

/// The day number of `now` and the milliseconds left in that day, in the campaign's zone.
fn day_and_rest(campaign: &Campaign, now: Timestamp) -> (i32, i64) {
    let day = calendar::day_number(campaign.day_of(now));
    let next = calendar::start_of_next_day(now, &campaign.time_zone);
    (day, (next.as_millisecond() - now.as_millisecond()).max(1))
}

/// An open practice attempt: its questions, never the key.
#[derive(Serialize, utoipa::ToSchema)]
struct OpenPracticeView<'a> {
    status: &'static str,
    started_at: Timestamp,
    deadline: Timestamp,
    server_time: Timestamp,
    remaining_ms: i64,
    time_limit_secs: u32,
    questions: Vec<QuestionView<'a>>,
}

/// A submitted practice attempt with its review.
#[derive(Serialize, utoipa::ToSchema)]
struct PracticeResultView<'a> {
    status: &'static str,
    /// Always true: a practice attempt is never counted anywhere.
    practice: bool,
    score: u32,
    max_score: u32,
    correct_count: u32,
    time_used_ms: i64,
    finished_at: Timestamp,
    review: Vec<ReviewItem<'a>>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct HistoryItem {
    started_at: Timestamp,
    finished_at: Timestamp,
    time_used_ms: i64,
    correct_count: u32,
    question_count: u32,
    score: u32,
}

/// The practice room as the participant's page shows it.
#[derive(Serialize, utoipa::ToSchema)]
struct PracticeRoom<'a> {
    /// Whether a practice attempt may start now.
    open_now: bool,
    opens_at: Timestamp,
    closes_at: Timestamp,
    /// Practice attempts per day; `null`: unlimited.
    per_day: Option<u32>,
    /// Practice attempts finished today (at most the last 20 are listed).
    history: Vec<HistoryItem>,
    /// The open practice attempt, if any.
    open: Option<OpenPracticeView<'a>>,
}

/// The body of a practice submit: every answer, in display order.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct PracticeAnswers {
    /// One list of display keys per question (`[]`: unanswered).
    answers: Vec<Vec<String>>,
}

/// The questions of a practice attempt with their bank entries, in display order.
fn questions<'p>(
    practice: &'p Practice,
    encoded: EncodedQuestions<'p>,
) -> Result<Vec<Shown<'p>>, ApiError> {
    encoded
        .decode()
        .map(|stored| {
            let stored = stored.ok_or_else(|| {
                ApiError::Internal("a practice question is unreadable".to_owned())
            })?;
            let (question, texts) = practice.pool.find_with_texts(stored.id).ok_or_else(|| {
                ApiError::Internal(format!(
                    "practice question {} is no longer in the banks",
                    stored.id
                ))
            })?;
            Ok(Shown {
                stored,
                question,
                texts,
            })
        })
        .collect()
}

fn open_view<'p>(
    campaign: &Campaign,
    practice: &'p Practice,
    open: &'p OpenPractice,
    answers: &'p str,
    now: Timestamp,
) -> Result<OpenPracticeView<'p>, ApiError> {
    let items = questions(
        practice,
        EncodedQuestions::new(&open.questions, "", answers),
    )?;
    Ok(OpenPracticeView {
        status: "open",
        started_at: timestamp(open.started_ms),
        deadline: timestamp(open.deadline_ms),
        server_time: now,
        remaining_ms: (open.deadline_ms - now.as_millisecond()).max(0),
        time_limit_secs: campaign.time_limit_secs,
        questions: items
            .iter()
            .enumerate()
            .map(|(index, shown)| question_view(index, shown))
            .collect(),
    })
}

/// Unanswered answers for `questions` questions, as the decoder reads them.
fn blank_answers(questions: &str) -> String {
    "0".repeat(questions.split(',').count())
}

fn history_view(lines: Vec<PracticeLine>) -> Vec<HistoryItem> {
    lines
        .into_iter()
        .map(|line| HistoryItem {
            started_at: timestamp(line.started_ms),
            finished_at: timestamp(line.finished_ms),
            time_used_ms: line.time_used_ms,
            correct_count: line.correct,
            question_count: line.questions,
            score: line.points,
        })
        .collect()
}

/// `GET /api/v1/campaigns/{cid}/practice`: the practice room, today's history and the open
/// practice attempt.
#[utoipa::path(
    get,
    path = "/api/v1/campaigns/{cid}/practice",
    tag = "participant",
    summary = "The practice room: its window, today's practice history and the open practice attempt",
    security(("participant" = [])),
    params(("cid" = String, Path, description = "The campaign id")),
    responses(
        (status = 200, description = "The practice room", body = PracticeRoom<'_>),
        (status = 401, description = "`unauthorized`", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`: no such campaign, or it has no practice room", body = ErrorBody<'_>),
    )
)]
pub async fn room(
    state: web::Data<AppState>,
    campaign: web::Path<String>,
    Participant(claims): Participant,
) -> Result<HttpResponse, ApiError> {
    let campaign = campaign_of_path(&state, &campaign, &claims)?;
    let practice = practice_of(campaign)?;
    let now = state.clock.now();
    let actor = actor(&state, campaign, &claims);
    let (day, _) = day_and_rest(campaign, now);
    let history = state.hot.practice_history(&actor, day).await?;
    let open = state
        .hot
        .practice_open(&actor, now.as_millisecond())
        .await?;
    let blank = open
        .as_ref()
        .map(|open| blank_answers(&open.questions))
        .unwrap_or_default();
    let open = match &open {
        Some(open) => Some(open_view(campaign, practice, open, &blank, now)?),
        None => None,
    };
    Ok(HttpResponse::Ok().json(PracticeRoom {
        open_now: practice.is_open(now),
        opens_at: practice.opens_at,
        closes_at: practice.closes_at,
        per_day: practice.per_day,
        history: history_view(history),
        open,
    }))
}

/// `POST /api/v1/campaigns/{cid}/practice`: starts a practice attempt (`201`) or returns the
/// open one (`200`).
#[utoipa::path(
    post,
    path = "/api/v1/campaigns/{cid}/practice",
    tag = "participant",
    summary = "Start a practice attempt (never counted), or resume the open one",
    security(("participant" = [])),
    params(("cid" = String, Path, description = "The campaign id")),
    responses(
        (status = 201, description = "A new practice attempt", body = OpenPracticeView<'_>),
        (status = 200, description = "The open practice attempt", body = OpenPracticeView<'_>),
        (status = 401, description = "`unauthorized`", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`: no such campaign, or it has no practice room", body = ErrorBody<'_>),
        (status = 409, description = "`campaign_closed`: outside the practice room's hours; `daily_limit_reached`: today's practice cap is used (with `next_attempt_at`)", body = ErrorBody<'_>),
    )
)]
pub async fn start(
    state: web::Data<AppState>,
    campaign: web::Path<String>,
    Participant(claims): Participant,
) -> Result<HttpResponse, ApiError> {
    let campaign = campaign_of_path(&state, &campaign, &claims)?;
    let practice = practice_of(campaign)?;
    let now = state.clock.now();
    if !practice.is_open(now) {
        return Err(ApiError::CampaignClosed(format!(
            "练功房开放时间：{} 至 {}",
            local_time(campaign, practice.opens_at),
            local_time(campaign, practice.closes_at)
        )));
    }
    let (day, rest_ms) = day_and_rest(campaign, now);
    let deadline = campaign.deadline(now);
    let mut attempt = NewAttempt::new(
        day,
        now.as_millisecond(),
        deadline.as_millisecond(),
        campaign.accepts_until(deadline).as_millisecond(),
    );
    for drawn in draw(&practice.pool, &practice.plan, &mut rand::rng()) {
        let question = practice
            .pool
            .get(drawn.question)
            .expect("draw yields indices into the pool it was given");
        attempt.push(
            &question.id,
            question.kind,
            drawn.options,
            drawn.options.shown(question.answer),
        );
    }
    let actor = actor(&state, campaign, &claims);
    let (open, status) = match state
        .hot
        .practice_start(&actor, practice.per_day, &attempt, rest_ms)
        .await?
    {
        PracticeStart::Created(open) => (open, StatusCode::CREATED),
        PracticeStart::Resumed(open) => (open, StatusCode::OK),
        PracticeStart::DailyLimitReached => {
            let next = calendar::start_of_next_day(now, &campaign.time_zone);
            return Err(ApiError::DailyLimitReached {
                next_attempt_at: next,
                local: local_time(campaign, next),
            });
        }
    };
    let blank = blank_answers(&open.questions);
    let view = open_view(campaign, practice, &open, &blank, now)?;
    Ok(HttpResponse::build(status).json(view))
}

/// `POST /api/v1/campaigns/{cid}/practice/submit`: scores the open practice attempt with all its
/// answers and answers the review at once.
#[utoipa::path(
    post,
    path = "/api/v1/campaigns/{cid}/practice/submit",
    tag = "participant",
    summary = "Submit the practice attempt's answers and get its review at once",
    security(("participant" = [])),
    params(("cid" = String, Path, description = "The campaign id")),
    request_body = PracticeAnswers,
    responses(
        (status = 200, description = "The result and the review", body = PracticeResultView<'_>),
        (status = 400, description = "`bad_request`: a malformed body", body = ErrorBody<'_>),
        (status = 401, description = "`unauthorized`", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`: no open practice attempt (submitted, or its time ran out)", body = ErrorBody<'_>),
        (status = 409, description = "`attempt_closed`: submitted after the time and grace", body = ErrorBody<'_>),
        (status = 422, description = "`invalid_choice`: an answer that is not one of the question's options, or the wrong count of answers", body = ErrorBody<'_>),
    )
)]
pub async fn submit(
    state: web::Data<AppState>,
    campaign: web::Path<String>,
    Participant(claims): Participant,
    body: web::Json<PracticeAnswers>,
) -> Result<HttpResponse, ApiError> {
    let campaign = campaign_of_path(&state, &campaign, &claims)?;
    let practice = practice_of(campaign)?;
    let now = state.clock.now();
    if body.answers.len() > 100 {
        return Err(ApiError::invalid(
            "invalid_choice",
            "答案数量与题目数量不符",
        ));
    }
    let mut answers = Vec::with_capacity(body.answers.len());
    for (index, keys) in body.answers.iter().enumerate() {
        if keys.len() > safequiz_domain::bank::MAX_OPTIONS {
            return Err(ApiError::invalid(
                "invalid_choice",
                format!("第 {index} 题选项过多"),
            ));
        }
        answers.push(
            safequiz_redis::attempts::ChoiceArg::parse(keys.iter().map(String::as_str))
                .ok_or_else(|| ApiError::invalid("invalid_choice", "同一选项重复提交"))?,
        );
    }
    let (day, rest_ms) = day_and_rest(campaign, now);
    let actor = actor(&state, campaign, &claims);
    let result = match state
        .hot
        .practice_submit(
            &actor,
            now.as_millisecond(),
            day,
            rest_ms,
            campaign.points_per_question,
            &answers,
        )
        .await?
    {
        PracticeSubmit::Done(result) => result,
        PracticeSubmit::Gone => return Err(ApiError::NotFound("no open practice attempt")),
        PracticeSubmit::Late => return Err(ApiError::AttemptClosed),
        PracticeSubmit::Invalid(None) => {
            return Err(ApiError::invalid(
                "invalid_choice",
                "答案数量与题目数量不符",
            ));
        }
        PracticeSubmit::Invalid(Some(index)) => {
            return Err(ApiError::invalid(
                "invalid_choice",
                format!("第 {index} 题没有所选的选项，或该题只能选一项"),
            ));
        }
    };
    let items = questions(
        practice,
        EncodedQuestions::new(&result.questions, &result.key, &result.answers),
    )?;
    let review = items
        .iter()
        .enumerate()
        .map(|(index, shown)| ReviewItem::of(index, shown))
        .collect();
    Ok(HttpResponse::Ok().json(PracticeResultView {
        status: "final",
        practice: true,
        score: result.points,
        max_score: campaign.points_per_question * items.len() as u32,
        correct_count: result.correct,
        time_used_ms: result.time_used_ms,
        finished_at: timestamp(result.finished_ms),
        review,
    }))
}
