//! The attempt: start (or resume), save an answer, submit, read.
//!
//! Each handler verifies the token, parses its input, and makes one call into hot state (one
//! Lua script). Correct answers, explanations and sources are only ever rendered for a final
//! attempt. Option keys are display keys: the options of each question are shuffled per
//! attempt and then labelled `A`, `B`, ... in the order shown (`T`/`F` for true/false, which is
//! never shuffled), so a key means the option the participant saw under it.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use jiff::Timestamp;
use safequiz_domain::bank::{Choices, Question, QuestionKind};
use safequiz_domain::calendar;
use safequiz_domain::campaign::{Campaign, Window};
use safequiz_domain::draw::{OptionOrder, QuestionTexts};
use safequiz_domain::organization::UnitPath;
use safequiz_redis::attempts::{
    Actor, AttemptId, AttemptRecord, AttemptResult, ChoiceArg, FinalQuestion, NewAttempt,
    ReadOutcome, SaveOutcome, SaveTicket, StartOutcome, StoredQuestion, SubmitOutcome,
};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::fmt;

use super::AppState;
use super::campaigns::find_campaign;
use super::error::{ApiError, ErrorBody};
use super::extract::{Participant, Text, body_bytes, json_body, optional_json, path_segments};
use super::json_writer::{JsonWriter, WriteJson, json_response};
use crate::auth::{AuthKeys, ParticipantClaims};
use safequiz_sql::fair_play::Kind;

/// Unit ids from the entry's root down to `unit`, an organization's and a 五进 group's
/// included (their ids carry their region: `safequiz_domain::organization::unit_path`, no
/// lookup); a token naming a unit the campaign no longer has cannot be served.
pub fn unit_path<'c>(campaign: &'c Campaign, unit: &'c str) -> Result<UnitPath<'c>, ApiError> {
    safequiz_domain::organization::unit_path(&campaign.units, unit)
        .ok_or_else(|| ApiError::Unauthorized("凭证中的单位已不在本竞赛中，请重新报名".to_owned()))
}

fn actor<'a>(
    state: &AppState,
    campaign: &'a Campaign,
    claims: &ParticipantClaims,
    path: &'a [&'a str],
) -> Actor<'a> {
    Actor {
        campaign: &campaign.id,
        shards: state.shards,
        participant: claims.participant,
        path,
        scoring: campaign.scoring,
    }
}

/// The campaign a token was issued for (attempt URLs do not name it).
fn token_campaign<'s>(
    state: &'s AppState,
    claims: &ParticipantClaims,
) -> Result<&'s Campaign, ApiError> {
    find_campaign(state, claims.campaign())
        .map_err(|_| ApiError::Unauthorized("凭证所属的竞赛已不存在".to_owned()))
}

/// The campaign the path names (`{cid}`), when the token was issued for it.
pub(crate) fn campaign_of_path<'s>(
    state: &'s AppState,
    campaign: &str,
    claims: &ParticipantClaims,
) -> Result<&'s Campaign, ApiError> {
    let campaign = find_campaign(state, campaign)?;
    if claims.campaign() != campaign.id {
        return Err(ApiError::Unauthorized("凭证不属于该竞赛".to_owned()));
    }
    Ok(campaign)
}

/// `409 campaign_closed` outside the campaign's window.
fn check_open(campaign: &Campaign, now: Timestamp) -> Result<(), ApiError> {
    match campaign.window(now) {
        Window::Open => Ok(()),
        Window::NotYetOpen => Err(ApiError::CampaignClosed(format!(
            "竞赛尚未开始，开始时间：{}",
            local_time(campaign, campaign.opens_at)
        ))),
        Window::Closed => Err(ApiError::CampaignClosed(format!(
            "竞赛已于 {} 结束",
            local_time(campaign, campaign.closes_at)
        ))),
    }
}

/// `POST /api/v1/campaigns/{cid}/attempts`: starts today's attempt (`201`) or returns the open
/// one with its saved answers and unchanged deadline (`200`).
#[utoipa::path(
    post,
    path = "/api/v1/campaigns/{cid}/attempts",
    tag = "participant",
    summary = "Start today's attempt, or resume the open one",
    security(("participant" = [])),
    params(("cid" = String, Path, description = "The campaign id")),
    responses(
        (status = 201, description = "A new attempt", body = OpenAttempt<'_>),
        (status = 200, description = "The open attempt, resumed", body = OpenAttempt<'_>),
        (status = 401, description = "`unauthorized`: no token, a bad one, or another campaign's", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`: no such campaign", body = ErrorBody<'_>),
        (status = 409, description = "`campaign_closed`, `daily_limit_reached` (with `next_attempt_at`) or `total_limit_reached` (the campaign's `attempts_total` used)", body = ErrorBody<'_>),
    )
)]
pub async fn start(
    request: actix_web::HttpRequest,
    state: web::Data<AppState>,
    Participant(claims): Participant,
) -> Result<HttpResponse, ApiError> {
    let CampaignSegment { cid } = path_segments(&request)?;
    let campaign = campaign_of_path(&state, cid.as_ref(), &claims)?;
    let path = unit_path(campaign, claims.unit())?;
    let now = state.clock.now();
    check_open(campaign, now)?;
    let attempt = NewAttempt::draw(campaign, now, &mut rand::rng());
    let actor = actor(&state, campaign, &claims, &path);
    match state
        .hot
        .start(&actor, campaign.attempts_per_day, &attempt)
        .await?
    {
        StartOutcome::Created(record) => {
            state.fair_play.observe(
                &state,
                &request,
                campaign,
                &claims,
                Kind::Start,
                record.id.number,
                now,
            );
            render_open(&state.auth, campaign, &record, now, StatusCode::CREATED)
        }
        StartOutcome::Resumed(record) => {
            render_open(&state.auth, campaign, &record, now, StatusCode::OK)
        }
        StartOutcome::DailyLimitReached => {
            let next = calendar::start_of_next_day(now, &campaign.time_zone);
            Err(ApiError::DailyLimitReached {
                next_attempt_at: next,
                local: local_time(campaign, next),
            })
        }
        StartOutcome::TotalLimitReached => Err(ApiError::TotalLimitReached {
            total: campaign.scoring.attempts_total.unwrap_or(0),
        }),
    }
}

/// The body of `PUT /api/v1/attempts/{aid}/answers/{index}`.
// Read in place from the request's bytes (`extract::json_body`): keys and tickets have no
// escapes, so neither is copied into a `String` of its own.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerBody<'a> {
    /// Display keys (`A`, `B`, ... or `T`/`F`); an empty list clears the answer.
    #[serde(borrow)]
    #[schema(value_type = Vec<String>)]
    choices: Vec<Text<'a>>,
    /// The attempt's `save_ticket`, as its start or read returned it (optional).
    #[serde(default, borrow)]
    #[schema(value_type = Option<String>)]
    ticket: Option<Text<'a>>,
}

// The attempt routes' segments, read in place (`extract::path_segments`).
#[derive(Deserialize)]
struct CampaignSegment<'a> {
    #[serde(borrow)]
    cid: Text<'a>,
}

#[derive(Deserialize)]
struct AttemptSegment<'a> {
    #[serde(borrow)]
    aid: Text<'a>,
}

#[derive(Deserialize)]
struct AnswerSegments<'a> {
    #[serde(borrow)]
    aid: Text<'a>,
    index: u32,
}

/// `PUT /api/v1/attempts/{aid}/answers/{index}`: saves one answer (`204`); an empty list clears
/// it.
#[utoipa::path(
    put,
    path = "/api/v1/attempts/{aid}/answers/{index}",
    tag = "participant",
    summary = "Save one answer of the open attempt",
    security(("participant" = [])),
    params(
        ("aid" = String, Path, description = "The attempt id (`<participant>-<number>`)"),
        ("index" = u32, Path, description = "The question's index, from 0"),
    ),
    request_body = AnswerBody<'_>,
    responses(
        (status = 204, description = "Saved"),
        (status = 400, description = "`bad_request`: a malformed path or body", body = ErrorBody<'_>),
        (status = 401, description = "`unauthorized`", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`: no such attempt of this participant", body = ErrorBody<'_>),
        (status = 409, description = "`attempt_closed`: final, or its time is up", body = ErrorBody<'_>),
        (status = 413, description = "`payload_too_large`", body = ErrorBody<'_>),
        (status = 422, description = "`invalid_index` or `invalid_choice`", body = ErrorBody<'_>),
    )
)]
pub async fn save(
    request: actix_web::HttpRequest,
    state: web::Data<AppState>,
    Participant(claims): Participant,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let AnswerSegments { aid, index } = path_segments(&request)?;
    let bytes = body_bytes(payload, state.max_body_bytes).await?;
    let body: AnswerBody<'_> = json_body(&request, &bytes)?;
    let id = own_attempt(&claims, aid.as_ref())?;
    let campaign = token_campaign(&state, &claims)?;
    let units = unit_path(campaign, claims.unit())?;
    let choice = parse_choice(&body.choices)?;
    let now = state.clock.now();
    let actor = actor(&state, campaign, &claims, &units);
    let outcome = match save_by_ticket(&state, &actor, id, index, choice, &body, now).await? {
        Some(outcome) => outcome,
        None => {
            state
                .hot
                .save(&actor, id.number, index, choice, now.as_millisecond())
                .await?
        }
    };
    match outcome {
        SaveOutcome::Saved => {
            state.fair_play.observe(
                &state,
                &request,
                campaign,
                &claims,
                Kind::Save,
                id.number,
                now,
            );
            Ok(HttpResponse::NoContent().finish())
        }
        SaveOutcome::Missing => Err(no_such_attempt()),
        SaveOutcome::Closed => Err(ApiError::AttemptClosed),
        SaveOutcome::BadIndex => Err(bad_index(index)),
        SaveOutcome::BadChoice => Err(bad_choice(index)),
    }
}

/// A save checked by its ticket and written without a script (docs/design.md, "Save
/// tickets"): `None` when the save must take the checked way instead, because it came without
/// a ticket, the ticket does not verify for this attempt (another attempt's, a forged one, or
/// one signed before a key rotation), its attempt no longer takes answers (the script then
/// finalizes it and answers `closed`), the answer is not valid (the script names what is
/// wrong, after what else may be), or the list is gone (final, or started before answers lists
/// existed: the script tells which). So it only ever answers `Saved`, where the script would.
async fn save_by_ticket(
    state: &AppState,
    actor: &Actor<'_>,
    id: AttemptId,
    index: u32,
    choice: ChoiceArg,
    body: &AnswerBody<'_>,
    now: Timestamp,
) -> Result<Option<SaveOutcome>, ApiError> {
    let Some(ticket) = body.ticket.as_ref().map(AsRef::as_ref) else {
        return Ok(None);
    };
    let bound = ticket_bound(actor.campaign, id);
    let Some(ticket) = state
        .auth
        .verify_save_ticket(&bound, ticket)
        .and_then(SaveTicket::parse)
    else {
        return Ok(None);
    };
    if now.as_millisecond() > ticket.accepts_until_ms {
        return Ok(None);
    }
    let Some(answer) = ticket.answer(index, choice) else {
        return Ok(None);
    };
    Ok(state
        .hot
        .save_listed(actor, id.number, index, answer)
        .await?
        .then_some(SaveOutcome::Saved))
}

/// What a save ticket's MAC binds besides its fields: the campaign and the attempt, whose
/// number names the participant too; its text is "<campaign>\n<attempt id>".
fn ticket_bound(campaign: &str, id: AttemptId) -> impl fmt::Display + '_ {
    TicketBound { campaign, id }
}

struct TicketBound<'a> {
    campaign: &'a str,
    id: AttemptId,
}

impl fmt::Display for TicketBound<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\n{}", self.campaign, self.id)
    }
}

/// The optional body of a submit: answers to save first, by question index.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitBody {
    /// Display keys by question index (`"0"`, `"1"`, ...).
    #[serde(default)]
    answers: BTreeMap<String, Vec<String>>,
}

/// `POST /api/v1/attempts/{aid}/submit`: saves the answers sent (all or none), finalizes and
/// returns the result with the review. Idempotent: a final attempt returns the same result.
#[utoipa::path(
    post,
    path = "/api/v1/attempts/{aid}/submit",
    tag = "participant",
    summary = "Submit the attempt (saving the answers sent) and get the result",
    security(("participant" = [])),
    params(("aid" = String, Path, description = "The attempt id (`<participant>-<number>`)")),
    request_body(content = Option<SubmitBody>, description = "Optional: answers to save first"),
    responses(
        (status = 200, description = "The final result with the review", body = FinalAttempt<'_>),
        (status = 400, description = "`bad_request`: a malformed body", body = ErrorBody<'_>),
        (status = 401, description = "`unauthorized`", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`: no such attempt of this participant", body = ErrorBody<'_>),
        (status = 409, description = "`attempt_closed`: its time is up and answers were sent", body = ErrorBody<'_>),
        (status = 413, description = "`payload_too_large`", body = ErrorBody<'_>),
        (status = 422, description = "`invalid_index` or `invalid_choice`", body = ErrorBody<'_>),
    )
)]
pub async fn submit(
    request: actix_web::HttpRequest,
    state: web::Data<AppState>,
    Participant(claims): Participant,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let AttemptSegment { aid } = path_segments(&request)?;
    let id = own_attempt(&claims, aid.as_ref())?;
    let body: Option<SubmitBody> = optional_json(payload, state.max_body_bytes).await?;
    let campaign = token_campaign(&state, &claims)?;
    let units = unit_path(campaign, claims.unit())?;
    let mut answers = Vec::new();
    for (index, choices) in body.map(|body| body.answers).unwrap_or_default() {
        let index: u32 = index.parse().map_err(|_| {
            ApiError::invalid(
                "invalid_index",
                format!("`{index}` is not a question index"),
            )
        })?;
        answers.push((index, parse_choice(&choices)?));
    }
    let now = state.clock.now();
    let actor = actor(&state, campaign, &claims, &units);
    match state
        .hot
        .submit(&actor, id.number, &answers, now.as_millisecond())
        .await?
    {
        SubmitOutcome::Final(record) => {
            state.fair_play.observe(
                &state,
                &request,
                campaign,
                &claims,
                Kind::Submit,
                id.number,
                now,
            );
            render_final(campaign, &record, now)
        }
        SubmitOutcome::Archived => render_archived(&state, campaign, id, now).await,
        SubmitOutcome::Missing => Err(no_such_attempt()),
        SubmitOutcome::Closed => Err(ApiError::AttemptClosed),
        SubmitOutcome::BadIndex(index) => Err(bad_index(index)),
        SubmitOutcome::BadChoice(index) => Err(bad_choice(index)),
    }
}

/// `GET /api/v1/attempts/{aid}`: the open attempt (questions, saved answers, deadline) or the
/// final result; an attempt whose time has run out is finalized first.
#[utoipa::path(
    get,
    path = "/api/v1/attempts/{aid}",
    tag = "participant",
    summary = "Read an attempt: open (questions, answers, deadline) or final (result, review)",
    security(("participant" = [])),
    params(("aid" = String, Path, description = "The attempt id (`<participant>-<number>`)")),
    responses(
        (status = 200, description = "The attempt", body = AttemptState<'_>),
        (status = 401, description = "`unauthorized`", body = ErrorBody<'_>),
        (status = 404, description = "`not_found`: no such attempt of this participant", body = ErrorBody<'_>),
    )
)]
pub async fn read(
    request: actix_web::HttpRequest,
    state: web::Data<AppState>,
    Participant(claims): Participant,
) -> Result<HttpResponse, ApiError> {
    let AttemptSegment { aid } = path_segments(&request)?;
    let id = own_attempt(&claims, aid.as_ref())?;
    let campaign = token_campaign(&state, &claims)?;
    let units = unit_path(campaign, claims.unit())?;
    let now = state.clock.now();
    let actor = actor(&state, campaign, &claims, &units);
    match state
        .hot
        .read(&actor, id.number, now.as_millisecond())
        .await?
    {
        ReadOutcome::Open(record) => {
            render_open(&state.auth, campaign, &record, now, StatusCode::OK)
        }
        ReadOutcome::Final(record) => render_final(campaign, &record, now),
        ReadOutcome::Archived => render_archived(&state, campaign, id, now).await,
        ReadOutcome::Missing => Err(no_such_attempt()),
    }
}

/// A final attempt hot state has forgotten once its row was in SQL (`safequiz_redis::archive`),
/// rendered from that row by the same code and so with the same body as before: a review, or a
/// repeated submit. Only flushed attempts come here; an attempt in play never reads SQL.
async fn render_archived(
    state: &AppState,
    campaign: &Campaign,
    id: AttemptId,
    now: Timestamp,
) -> Result<HttpResponse, ApiError> {
    let participant = i64::try_from(id.participant).map_err(|_| no_such_attempt())?;
    let archived = state
        .store
        .archived_attempt(&campaign.id, participant, id.number)
        .await?
        .ok_or_else(|| {
            // Hot state has no fields for it and the record no row: an attempt the flusher
            // dead-lettered before a rebuild raised `seq` past it. Nothing can be shown.
            tracing::warn!(attempt = %id, "a forgotten attempt is not in the record");
            no_such_attempt()
        })?;
    let row = &archived.row;
    let unreadable = || ApiError::Internal(format!("attempt {id}: the record's row is unreadable"));
    let questions = archived
        .questions
        .iter()
        .map(|question| {
            Ok(FinalQuestion {
                id: &question.id,
                order: OptionOrder::from_slice(&question.order).ok_or_else(unreadable)?,
                key: Choices::from_bits(question.key),
                chosen: Choices::from_bits(question.chosen),
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let result = AttemptResult {
        points: u32::try_from(row.points).map_err(|_| unreadable())?,
        correct: u32::try_from(row.correct).map_err(|_| unreadable())?,
        finished_ms: row.finished_at_ms,
        time_used_ms: row.time_used_ms,
        auto_submitted: row.auto_submitted,
    };
    let record = AttemptRecord::archived(
        id,
        row.day,
        row.started_at_ms,
        row.deadline_ms,
        result,
        questions,
    );
    render_final(campaign, &record, now)
}

/// The attempt `text` names, if it is the caller's; another participant's attempt is reported
/// exactly like a missing one, so ids reveal nothing.
fn own_attempt(claims: &ParticipantClaims, text: &str) -> Result<AttemptId, ApiError> {
    AttemptId::parse(text)
        .filter(|id| id.participant == claims.participant)
        .ok_or_else(no_such_attempt)
}

fn no_such_attempt() -> ApiError {
    ApiError::NotFound("no such attempt of this participant")
}

fn bad_index(index: u32) -> ApiError {
    ApiError::invalid(
        "invalid_index",
        format!("本次答题没有第 {index} 题（从 0 起计）"),
    )
}

fn bad_choice(index: u32) -> ApiError {
    ApiError::invalid(
        "invalid_choice",
        format!("第 {index} 题没有所选的选项，或该题只能选一项"),
    )
}

fn parse_choice(choices: &[impl AsRef<str>]) -> Result<ChoiceArg, ApiError> {
    if choices.len() > safequiz_domain::bank::MAX_OPTIONS {
        return Err(ApiError::invalid("invalid_choice", "选项过多"));
    }
    ChoiceArg::parse(choices.iter().map(AsRef::as_ref))
        .ok_or_else(|| ApiError::invalid("invalid_choice", "同一选项重复提交"))
}

/// `at` as the campaign's local date and minute, for messages (attempts and practice alike).
pub(super) fn local_time(campaign: &Campaign, at: Timestamp) -> String {
    at.to_zoned(campaign.time_zone.clone())
        .strftime("%Y-%m-%d %H:%M")
        .to_string()
}

/// An instant of the hot state (Unix ms) as a timestamp.
pub(super) fn timestamp(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// One option of a question as shown: its display key and text (attempts and practice alike).
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct OptionView<'a> {
    key: char,
    /// Escaped once, when the banks were loaded (`QuestionTexts`).
    #[schema(value_type = String)]
    text: &'a RawValue,
}

/// A question as shown, options in display order, never its key (attempts and practice alike).
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct QuestionView<'a> {
    index: usize,
    id: &'a str,
    kind: &'static str,
    #[schema(value_type = String)]
    stem: &'a RawValue,
    #[schema(value_type = Vec<OptionView<'_>>)]
    options: ShownOptions<'a>,
}

/// A question's options in display order, written when the body is: its kind, its drawn order
/// (a copy, a few bytes) and the bank's texts, where a `Vec<OptionView>` was an allocation per
/// question of every start and every review.
#[derive(Clone, Copy)]
pub(super) struct ShownOptions<'a> {
    kind: QuestionKind,
    order: OptionOrder,
    texts: &'a [Box<RawValue>],
}

impl<'a> ShownOptions<'a> {
    fn iter(self) -> impl Iterator<Item = OptionView<'a>> {
        (0..self.order.as_slice().len()).map(move |shown| OptionView {
            key: self.kind.option_key(shown),
            text: self
                .texts
                .get(usize::from(self.order.as_slice()[shown]))
                // Never empty: a drawn order holds indices of the question's options.
                .map_or(RawValue::NULL, |text| &**text),
        })
    }
}

impl Serialize for ShownOptions<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl WriteJson for ShownOptions<'_> {
    fn write_json(&self, out: &mut JsonWriter) {
        out.array(self.iter());
    }
}

#[derive(Serialize, utoipa::ToSchema)]
struct OpenAttempt<'a> {
    attempt_id: String,
    status: &'static str,
    started_at: Timestamp,
    deadline: Timestamp,
    server_time: Timestamp,
    remaining_ms: i64,
    time_limit_secs: u32,
    questions: Vec<QuestionView<'a>>,
    /// Saved display keys by question index.
    #[schema(value_type = BTreeMap<String, Vec<String>>)]
    answers: BTreeMap<usize, Vec<char>>,
    /// Send it back with each save of this attempt (`ticket` of the save's body): the save is
    /// then checked without reading the attempt, which is cheaper for the server. Opaque; a
    /// save without it, or with one the server no longer accepts, is checked the usual way.
    save_ticket: String,
}

/// One question of a finished attempt's review (a counted or a practice attempt alike).
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct ReviewItem<'a> {
    #[serde(flatten)]
    question: QuestionView<'a>,
    #[schema(value_type = Vec<String>)]
    choices: DisplayKeys,
    #[schema(value_type = Vec<String>)]
    correct_choices: DisplayKeys,
    correct: bool,
    #[schema(value_type = String)]
    explanation: &'a RawValue,
    #[schema(value_type = String)]
    source: &'a RawValue,
}

impl<'a> ReviewItem<'a> {
    /// Question `index` of a finished attempt: what was chosen, the key, and whether it counts
    /// as correct (`score::is_correct`, the one rule).
    pub(super) fn of(index: usize, shown: &Shown<'a>) -> ReviewItem<'a> {
        let Shown {
            stored,
            question,
            texts,
        } = shown;
        let key = stored.key.unwrap_or(Choices::NONE);
        ReviewItem {
            question: question_view(index, shown),
            choices: keys(question.kind, stored.answer),
            correct_choices: keys(question.kind, key),
            correct: safequiz_domain::score::is_correct(key, stored.answer),
            explanation: &texts.explanation,
            source: &texts.source,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
struct FinalAttempt<'a> {
    attempt_id: String,
    status: &'static str,
    score: u32,
    max_score: u32,
    correct_count: u32,
    time_used_ms: i64,
    auto_submitted: bool,
    started_at: Timestamp,
    finished_at: Timestamp,
    server_time: Timestamp,
    review: Vec<ReviewItem<'a>>,
}

// The hand-written JSON of the attempt bodies (`json_writer`): each writes its fields in the
// order declared above, which its serde derive defines; `tests` holds the two equal.

impl WriteJson for OptionView<'_> {
    fn write_json(&self, out: &mut JsonWriter) {
        out.object(|out| {
            out.field("key", &self.key);
            out.field("text", self.text);
        });
    }
}

impl QuestionView<'_> {
    /// The fields without the braces around them: a review item flattens them into its own.
    fn write_fields(&self, out: &mut JsonWriter) {
        out.field("index", &self.index);
        out.field("id", self.id);
        out.field("kind", self.kind);
        out.field("stem", self.stem);
        out.field("options", &self.options);
    }

    /// About how long the question's JSON is, to size a body's buffer once.
    fn json_len(&self) -> usize {
        let texts: usize = self.options.iter().map(|o| o.text.get().len() + 24).sum();
        texts + self.stem.get().len() + 64
    }
}

impl WriteJson for QuestionView<'_> {
    fn write_json(&self, out: &mut JsonWriter) {
        out.object(|out| self.write_fields(out));
    }
}

impl WriteJson for OpenAttempt<'_> {
    fn write_json(&self, out: &mut JsonWriter) {
        out.object(|out| {
            out.field("attempt_id", &self.attempt_id);
            out.field("status", self.status);
            out.field("started_at", &self.started_at);
            out.field("deadline", &self.deadline);
            out.field("server_time", &self.server_time);
            out.field("remaining_ms", &self.remaining_ms);
            out.field("time_limit_secs", &self.time_limit_secs);
            out.field("questions", &self.questions);
            out.field("answers", &self.answers);
            out.field("save_ticket", &self.save_ticket);
        });
    }
}

impl OpenAttempt<'_> {
    fn json_len(&self) -> usize {
        self.questions
            .iter()
            .map(QuestionView::json_len)
            .sum::<usize>()
            + self.save_ticket.len()
            + 320
    }
}

impl WriteJson for ReviewItem<'_> {
    fn write_json(&self, out: &mut JsonWriter) {
        out.object(|out| {
            self.question.write_fields(out);
            out.field("choices", &self.choices);
            out.field("correct_choices", &self.correct_choices);
            out.field("correct", &self.correct);
            out.field("explanation", self.explanation);
            out.field("source", self.source);
        });
    }
}

impl WriteJson for FinalAttempt<'_> {
    fn write_json(&self, out: &mut JsonWriter) {
        out.object(|out| {
            out.field("attempt_id", &self.attempt_id);
            out.field("status", self.status);
            out.field("score", &self.score);
            out.field("max_score", &self.max_score);
            out.field("correct_count", &self.correct_count);
            out.field("time_used_ms", &self.time_used_ms);
            out.field("auto_submitted", &self.auto_submitted);
            out.field("started_at", &self.started_at);
            out.field("finished_at", &self.finished_at);
            out.field("server_time", &self.server_time);
            out.field("review", &self.review);
        });
    }
}

impl FinalAttempt<'_> {
    fn json_len(&self) -> usize {
        let review: usize = self
            .review
            .iter()
            .map(|item| {
                item.question.json_len()
                    + item.explanation.get().len()
                    + item.source.get().len()
                    + 96
            })
            .sum();
        review + 320
    }
}

/// What `GET /api/v1/attempts/{aid}` answers (documentation only): an open attempt or a final
/// one, told apart by `status`.
#[derive(Serialize, utoipa::ToSchema)]
#[allow(dead_code)]
#[serde(untagged)]
enum AttemptState<'a> {
    Open(OpenAttempt<'a>),
    Final(FinalAttempt<'a>),
}

/// A question of an attempt as stored, with its bank entry and its texts as JSON.
pub(super) struct Shown<'a> {
    pub(super) stored: StoredQuestion<'a>,
    pub(super) question: &'a Question,
    pub(super) texts: &'a QuestionTexts,
}

/// The questions of `record` with their bank entries, in display order.
fn questions<'a>(
    campaign: &'a Campaign,
    record: &'a AttemptRecord,
) -> Result<Vec<Shown<'a>>, ApiError> {
    record
        .questions()
        .map(|stored| {
            let stored = stored.ok_or_else(|| {
                ApiError::Internal(format!("attempt {} has an unreadable question", record.id))
            })?;
            let (question, texts) = campaign.pool.find_with_texts(stored.id).ok_or_else(|| {
                ApiError::Internal(format!(
                    "attempt {} names question {} which the banks no longer have",
                    record.id, stored.id
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

/// `question` as shown at `index`, its options in the order `stored` drew.
pub(super) fn question_view<'a>(index: usize, shown: &Shown<'a>) -> QuestionView<'a> {
    let Shown {
        stored,
        question,
        texts,
    } = shown;
    QuestionView {
        index,
        id: &question.id,
        kind: question.kind.as_str(),
        stem: &texts.stem,
        options: ShownOptions {
            kind: question.kind,
            order: stored.order,
            texts: &texts.options,
        },
    }
}

/// The display keys of `choices`.
pub(super) fn keys(kind: QuestionKind, choices: Choices) -> DisplayKeys {
    DisplayKeys { kind, choices }
}

/// The display keys of a set of choices (`A`, `B`, ... or `T`/`F`), ascending, written as a
/// list of one-letter strings when the body is: the set and its question's kind are two bytes,
/// where a `Vec<char>` was an allocation per list (three per question of a review).
#[derive(Clone, Copy, Debug)]
pub(super) struct DisplayKeys {
    kind: QuestionKind,
    choices: Choices,
}

impl DisplayKeys {
    fn iter(self) -> impl Iterator<Item = char> {
        self.choices.indices().map(move |i| self.kind.option_key(i))
    }
}

impl Serialize for DisplayKeys {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl WriteJson for DisplayKeys {
    fn write_json(&self, out: &mut JsonWriter) {
        out.array(self.iter());
    }
}

/// The response of an open attempt: its questions in display order and the saved answers, never
/// the key. Public so that the hot-path benchmark measures exactly what a handler sends.
pub fn render_open(
    auth: &AuthKeys,
    campaign: &Campaign,
    record: &AttemptRecord,
    now: Timestamp,
    status: StatusCode,
) -> Result<HttpResponse, ApiError> {
    let questions = questions(campaign, record)?;
    let body = open_attempt(auth, campaign, record, &questions, now);
    Ok(json_response(status, &body, body.json_len()))
}

/// The body of an open attempt whose questions are `questions`.
fn open_attempt<'a>(
    auth: &AuthKeys,
    campaign: &Campaign,
    record: &AttemptRecord,
    questions: &[Shown<'a>],
    now: Timestamp,
) -> OpenAttempt<'a> {
    let answers = questions
        .iter()
        .enumerate()
        .filter(|(_, shown)| !shown.stored.answer.is_empty())
        .map(|(index, shown)| {
            let keys = keys(shown.question.kind, shown.stored.answer);
            (index, keys.iter().collect())
        })
        .collect();
    OpenAttempt {
        attempt_id: record.id.to_string(),
        status: "open",
        started_at: timestamp(record.started_ms),
        deadline: timestamp(record.deadline_ms),
        server_time: now,
        remaining_ms: (record.deadline_ms - now.as_millisecond()).max(0),
        time_limit_secs: campaign.time_limit_secs,
        questions: questions
            .iter()
            .enumerate()
            .map(|(index, shown)| question_view(index, shown))
            .collect(),
        answers,
        // The ticket for its saves (see `save_by_ticket`).
        save_ticket: auth.sign_save_ticket(
            &ticket_bound(&campaign.id, record.id),
            &record.save_ticket_fields(),
        ),
    }
}

/// The response of a final attempt: the result and the review with the correct answers.
pub fn render_final(
    campaign: &Campaign,
    record: &AttemptRecord,
    now: Timestamp,
) -> Result<HttpResponse, ApiError> {
    let questions = questions(campaign, record)?;
    let body = final_attempt(campaign, record, &questions, now)?;
    Ok(json_response(StatusCode::OK, &body, body.json_len()))
}

/// The body of a final attempt whose questions are `questions`.
fn final_attempt<'a>(
    campaign: &Campaign,
    record: &AttemptRecord,
    questions: &[Shown<'a>],
    now: Timestamp,
) -> Result<FinalAttempt<'a>, ApiError> {
    let result = record
        .result
        .ok_or_else(|| ApiError::Internal(format!("attempt {} has no result", record.id)))?;
    Ok(FinalAttempt {
        attempt_id: record.id.to_string(),
        status: "final",
        score: result.points,
        max_score: campaign
            .scoring
            .max_points(questions.iter().map(|shown| shown.question.kind)),
        correct_count: result.correct,
        time_used_ms: result.time_used_ms,
        auto_submitted: result.auto_submitted,
        started_at: timestamp(record.started_ms),
        finished_at: timestamp(result.finished_ms),
        server_time: now,
        review: questions
            .iter()
            .enumerate()
            .map(|(index, shown)| ReviewItem::of(index, shown))
            .collect(),
    })
}

#[cfg(test)]
mod tests;
