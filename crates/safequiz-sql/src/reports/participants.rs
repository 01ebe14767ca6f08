//! Participants of a scope with their totals (search pages and the export stream), and one
//! participant's attempts with every answer.

use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use safequiz_domain::bank::Choices;
use safequiz_domain::scope::Scope;
use safequiz_domain::score;

use super::{FULL_MARK, ReportError, for_campaign, option_order, stored_questions};
use super::{visible_units, within};
use crate::statement::Statement;
use crate::{Store, StoreError};

/// Which participants a search or an export lists; every field narrows the list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParticipantFilter {
    /// A part of the name, matched anywhere in it; `%` and `_` are literal. (SQLite's `LIKE`
    /// ignores the case of ASCII letters, PostgreSQL's does not; Chinese has no case.)
    pub name: Option<String>,
    /// The last digits of the phone: matched against the end of the masked phone
    /// (`138****1234`), so only its last four digits can match.
    pub phone_suffix: Option<String>,
    /// A unit whose whole subtree is listed. It must lie within the scope; a unit outside it
    /// lists nobody.
    pub unit_id: Option<String>,
    /// A calendar day number: lists only participants who finished an attempt that day, and
    /// their figures (attempts, points, full marks, time, last finish) count that day's attempts
    /// only, so the list answers "who took part on day D and how did they do".
    pub day: Option<i32>,
    /// The least total points (of the day, when `day` is set), inclusive.
    pub min_points: Option<i64>,
    /// The most total points (of the day, when `day` is set), inclusive.
    pub max_points: Option<i64>,
}

/// One participant with the totals of their attempts.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ParticipantSummary {
    /// The participant.
    pub participant_id: i64,
    /// The name as registered.
    pub name: String,
    /// `138****1234`.
    pub phone_masked: String,
    /// The leaf unit registered with.
    pub unit_id: String,
    /// That unit's name (empty when the unit is not in the `units` table).
    pub unit_name: String,
    /// Unix ms.
    pub registered_at_ms: i64,
    /// Finalized attempts.
    pub attempts: i64,
    /// Their points.
    pub points: i64,
    /// Attempts with every question correct.
    pub full_marks: i64,
    /// Time used over those attempts, ms.
    pub time_used_ms: i64,
    /// When the last of them finished, Unix ms; `None` without attempts.
    pub last_finished_at_ms: Option<i64>,
}

/// One question of an attempt as the participant saw it, with sets in the bank's option order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnswerDetail {
    /// The question's id in the banks.
    pub question_id: String,
    /// The bank's option indices in display order (`order[shown] = original`).
    pub option_order: Vec<u8>,
    /// The correct options, over the bank's option order.
    pub key: Choices,
    /// The options chosen, over the bank's option order (empty: not answered).
    pub chosen: Choices,
    /// Whether the answer scored: something chosen, and exactly the key.
    pub correct: bool,
}

/// One finalized attempt with its answers, questions in display order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptDetail {
    /// `<participant>-<n>`.
    pub attempt_id: String,
    /// Calendar day number of the start.
    pub day: i32,
    /// Unix ms.
    pub started_at_ms: i64,
    /// Unix ms.
    pub deadline_ms: i64,
    /// Unix ms.
    pub finished_at_ms: i64,
    /// ms.
    pub time_used_ms: i64,
    /// Points earned.
    pub points: i32,
    /// Questions answered correctly.
    pub correct: i32,
    /// Submitted by the server when time ran out.
    pub auto_submitted: bool,
    /// The questions in the order they were shown.
    pub answers: Vec<AnswerDetail>,
}

/// An attempt as the record has it, its questions still JSON.
#[derive(sqlx::FromRow)]
struct AttemptDetailRow {
    attempt_id: String,
    day: i32,
    started_at_ms: i64,
    deadline_ms: i64,
    finished_at_ms: i64,
    time_used_ms: i64,
    points: i32,
    correct: i32,
    auto_submitted: bool,
    questions: String,
}

impl AttemptDetailRow {
    /// The attempt with its answers over the bank's option order.
    fn detail(self) -> Result<AttemptDetail, ReportError> {
        let mut answers = Vec::new();
        for question in stored_questions(&self.attempt_id, &self.questions)? {
            let order = option_order(&self.attempt_id, &question)?;
            let (key, chosen) = (
                Choices::from_bits(question.key),
                Choices::from_bits(question.chosen),
            );
            answers.push(AnswerDetail {
                correct: score::is_correct(key, chosen),
                key: order.original(key),
                chosen: order.original(chosen),
                option_order: question.order,
                question_id: question.id,
            });
        }
        Ok(AttemptDetail {
            attempt_id: self.attempt_id,
            day: self.day,
            started_at_ms: self.started_at_ms,
            deadline_ms: self.deadline_ms,
            finished_at_ms: self.finished_at_ms,
            time_used_ms: self.time_used_ms,
            points: self.points,
            correct: self.correct,
            auto_submitted: self.auto_submitted,
            answers,
        })
    }
}

/// A `LIKE` pattern matching `text` literally (escape character `\`).
fn like_literal(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// What a participant statement returns.
enum Shape {
    Count,
    Page { limit: i64, offset: i64 },
    All,
}

/// The `totals` expression: each participant's attempts of the scope (of the day, when the
/// filter has one) summed.
fn push_totals(st: &mut Statement, visible: Option<&str>, day: Option<i32>) {
    st.cte(&format!(
        "totals AS (SELECT a.participant_id, COUNT(*) AS t_attempts, \
         SUM(a.points) AS t_points, SUM({FULL_MARK}) AS t_full, \
         SUM(a.time_used_ms) AS t_time, MAX(a.finished_at_ms) AS t_last \
         FROM attempts a WHERE a.campaign_id = $1"
    ));
    within(st, "a.unit_id", visible);
    if let Some(day) = day {
        st.push(" AND a.day = ").push_bind(day);
    }
    st.push(" GROUP BY a.participant_id)");
}

/// The conditions of `filter` on participants `p` and their totals `t`.
fn push_filter(st: &mut Statement, filter: &ParticipantFilter) {
    if let Some(name) = &filter.name {
        st.push(" AND p.name LIKE ")
            .push_bind(format!("%{}%", like_literal(name)))
            .push(" ESCAPE '\\'");
    }
    if let Some(suffix) = &filter.phone_suffix {
        st.push(" AND p.phone_masked LIKE ")
            .push_bind(format!("%{}", like_literal(suffix)))
            .push(" ESCAPE '\\'");
    }
    if let Some(min) = filter.min_points {
        st.push(" AND COALESCE(t.t_points, 0) >= ").push_bind(min);
    }
    if let Some(max) = filter.max_points {
        st.push(" AND COALESCE(t.t_points, 0) <= ").push_bind(max);
    }
}

fn participants_statement(
    campaign_id: &str,
    scope: &Scope,
    filter: &ParticipantFilter,
    shape: &Shape,
) -> Statement {
    let mut st = for_campaign(campaign_id);
    let visible = visible_units(&mut st, scope, filter.unit_id.as_deref());
    let by_points = filter.min_points.is_some() || filter.max_points.is_some();
    let totals = !matches!(shape, Shape::Count) || filter.day.is_some() || by_points;
    if totals {
        push_totals(&mut st, visible, filter.day);
    }
    st.end_ctes();
    match shape {
        Shape::Count => st.push("SELECT CAST(COUNT(*) AS BIGINT) FROM participants p"),
        Shape::Page { .. } | Shape::All => st.push(
            "SELECT p.participant_id AS participant_id, p.name AS name, \
             p.phone_masked AS phone_masked, p.unit_id AS unit_id, \
             COALESCE(u.name, '') AS unit_name, p.registered_at_ms AS registered_at_ms, \
             CAST(COALESCE(t.t_attempts, 0) AS BIGINT) AS attempts, \
             CAST(COALESCE(t.t_points, 0) AS BIGINT) AS points, \
             CAST(COALESCE(t.t_full, 0) AS BIGINT) AS full_marks, \
             CAST(COALESCE(t.t_time, 0) AS BIGINT) AS time_used_ms, \
             CAST(t.t_last AS BIGINT) AS last_finished_at_ms \
             FROM participants p \
             LEFT JOIN units u ON u.campaign_id = p.campaign_id AND u.unit_id = p.unit_id",
        ),
    };
    if totals {
        // With a day, only that day's participants are listed (an inner join); otherwise
        // everyone registered, with zeros when they never finished an attempt.
        st.push(if filter.day.is_some() {
            " JOIN totals t ON t.participant_id = p.participant_id"
        } else {
            " LEFT JOIN totals t ON t.participant_id = p.participant_id"
        });
    }
    st.push(" WHERE p.campaign_id = $1");
    within(&mut st, "p.unit_id", visible);
    push_filter(&mut st, filter);
    match *shape {
        Shape::Count => {}
        Shape::Page { limit, offset } => {
            st.push(" ORDER BY points DESC, time_used_ms, p.participant_id LIMIT ")
                .push_bind(limit)
                .push(" OFFSET ")
                .push_bind(offset);
        }
        Shape::All => {
            st.push(" ORDER BY points DESC, time_used_ms, p.participant_id");
        }
    }
    st
}

impl Store {
    /// One page of the participants of `scope` that `filter` lets through, with the number of
    /// them all: best first (points descending, then less time used, then participant id).
    ///
    /// The two statements are not one snapshot: while attempts are flushed, the count may be a
    /// few rows off the pages.
    #[tracing::instrument(skip_all, fields(campaign.id = campaign_id, scope = %scope))]
    pub async fn participants_page(
        &self,
        campaign_id: &str,
        scope: &Scope,
        filter: &ParticipantFilter,
        limit: u32,
        offset: u64,
    ) -> Result<(i64, Vec<ParticipantSummary>), StoreError> {
        let total = participants_statement(campaign_id, scope, filter, &Shape::Count)
            .fetch_scalar(self)
            .await?;
        let shape = Shape::Page {
            limit: i64::from(limit),
            offset: i64::try_from(offset).unwrap_or(i64::MAX),
        };
        let page = participants_statement(campaign_id, scope, filter, &shape)
            .fetch_all(self)
            .await?;
        Ok((total, page))
    }

    /// Every participant [`Store::participants_page`] would list, in the same order, streamed
    /// from the database as it reads them: memory stays bounded whatever the number of rows.
    ///
    /// The stream holds one pooled connection until it ends or is dropped.
    pub fn participant_stream<'a>(
        &'a self,
        campaign_id: &str,
        scope: &Scope,
        filter: &ParticipantFilter,
    ) -> BoxStream<'a, Result<ParticipantSummary, StoreError>> {
        participants_statement(campaign_id, scope, filter, &Shape::All)
            .fetch(self)
            .map_err(StoreError::from)
            .boxed()
    }

    /// The attempts of a participant of `scope`, in the order they started, with every answer;
    /// `None` when no such participant is registered within the scope (so an organizer cannot
    /// tell a participant outside their scope from one that does not exist).
    #[tracing::instrument(skip_all, fields(campaign.id = campaign_id, scope = %scope))]
    pub async fn participant_attempts(
        &self,
        campaign_id: &str,
        scope: &Scope,
        participant_id: i64,
    ) -> Result<Option<Vec<AttemptDetail>>, ReportError> {
        let mut st = for_campaign(campaign_id);
        let visible = visible_units(&mut st, scope, None);
        st.end_ctes()
            .push("SELECT CAST(COUNT(*) AS BIGINT) FROM participants p WHERE p.campaign_id = $1");
        within(&mut st, "p.unit_id", visible)
            .push(" AND p.participant_id = ")
            .push_bind(participant_id);
        let found: i64 = st.fetch_scalar(self).await?;
        if found == 0 {
            return Ok(None);
        }
        let rows: Vec<AttemptDetailRow> = Statement::new(
            "SELECT attempt_id, day, started_at_ms, deadline_ms, finished_at_ms, time_used_ms, \
             points, correct, auto_submitted, CAST(questions AS TEXT) AS questions \
             FROM attempts WHERE campaign_id = $1 AND participant_id = $2 \
             ORDER BY started_at_ms, attempt_id",
        )
        .bind(campaign_id)
        .bind(participant_id)
        .fetch_all(self)
        .await?;
        rows.into_iter()
            .map(AttemptDetailRow::detail)
            .collect::<Result<_, _>>()
            .map(Some)
    }
}
