//! Participants of a scope with their totals (search pages by cursor and the export stream),
//! and one participant's attempts with every answer.
//!
//! The totals are the roll-ups `participant_totals` (all days) and `participant_days` (one
//! day), each with an index in the published order: points descending, then less time used,
//! then participant id. The order is kept as `-points`, so a position in it is one row value
//! and the page after a [`ParticipantCursor`] is one index range: the first page and every
//! next one cost the same whatever the number of participants, with no `OFFSET`.
//!
//! Per search shape: the whole campaign reads the campaign's index; a unit reads each unit of
//! its subtree's index and merges them (on PostgreSQL, a `LATERAL` join, so each unit gives at
//! most a page); a day reads the per-day index the same way; a range of points is a range of
//! the index. A part of a name or phone is checked on the rows in order: a rare one in a large
//! scope reads that scope's participants. The number found is counted up to
//! [`COUNT_LIMIT`] and reported as "more than" beyond it, so no page counts a whole subtree.

use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use safequiz_domain::bank::Choices;
use safequiz_domain::scope::Scope;
use safequiz_domain::score;

use super::{ReportError, for_campaign, option_order, stored_questions, within};
use crate::statement::Statement;
use crate::{Backend, Store, StoreError};

/// Searches count the participants they find up to this many; beyond, they say "more than".
pub const COUNT_LIMIT: i64 = 1_000;

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

/// A position in the published order (points descending, time used, participant id): a page
/// lists the participants after it. Its text form, `points.time_used_ms.participant_id`, is
/// what the API hands out and takes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParticipantCursor {
    /// The points of the last participant listed.
    pub points: i64,
    /// Their time used, ms.
    pub time_used_ms: i64,
    /// Their id.
    pub participant_id: i64,
}

impl ParticipantCursor {
    /// The position of `participant` in the order.
    pub fn after(participant: &ParticipantSummary) -> ParticipantCursor {
        ParticipantCursor {
            points: participant.points,
            time_used_ms: participant.time_used_ms,
            participant_id: participant.participant_id,
        }
    }

    /// The text form: `points.time_used_ms.participant_id`.
    pub fn encode(&self) -> String {
        format!(
            "{}.{}.{}",
            self.points, self.time_used_ms, self.participant_id
        )
    }

    /// The cursor `text` spells, if it spells one.
    pub fn parse(text: &str) -> Option<ParticipantCursor> {
        let mut parts = text.split('.').map(str::parse::<i64>);
        let cursor = ParticipantCursor {
            points: parts.next()?.ok()?,
            time_used_ms: parts.next()?.ok()?,
            participant_id: parts.next()?.ok()?,
        };
        parts.next().is_none().then_some(cursor)
    }
}

/// One page of a search.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParticipantPage {
    /// The participants, best first.
    pub items: Vec<ParticipantSummary>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<ParticipantCursor>,
    /// How many participants the search finds in all, counted up to [`COUNT_LIMIT`].
    pub total: i64,
    /// Whether there are more than `total` (`total` is then [`COUNT_LIMIT`]).
    pub more_than_total: bool,
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

/// Which rows a participant statement reads, and how many.
enum Shape<'a> {
    /// The capped count.
    Count,
    /// A page of `limit` rows after the cursor.
    Page {
        limit: i64,
        after: Option<&'a ParticipantCursor>,
    },
    /// Every row, in order.
    All,
}

/// The columns of a listed participant: registration `{p}`, totals `x`.
const SUMMARY_COLUMNS: &str = "x.participant_id AS participant_id, {p}.name AS name, \
     {p}.phone_masked AS phone_masked, {p}.unit_id AS unit_id, \
     {p}.registered_at_ms AS registered_at_ms, x.attempts AS attempts, x.points AS points, \
     x.full_marks AS full_marks, x.time_used_ms AS time_used_ms, \
     x.last_finished_at_ms AS last_finished_at_ms";

/// The columns of [`ParticipantSummary`] over listed rows `x` and their unit `u`.
const LISTED_COLUMNS: &str = "x.participant_id AS participant_id, x.name AS name, \
     x.phone_masked AS phone_masked, x.unit_id AS unit_id, COALESCE(u.name, '') AS unit_name, \
     x.registered_at_ms AS registered_at_ms, x.attempts AS attempts, x.points AS points, \
     x.full_marks AS full_marks, x.time_used_ms AS time_used_ms, \
     x.last_finished_at_ms AS last_finished_at_ms";

/// The published order over totals `x`, as the indexes keep it.
const ORDER: &str = " ORDER BY -x.points, x.time_used_ms, x.participant_id";

/// The columns of a participant's place in the published order, over totals `x`: all a count
/// or the first pass of a page needs, and all the rank indexes hold (PostgreSQL reads them from
/// the index alone, migration `0015_covering_rollups`).
const RANK_COLUMNS: &str = "x.participant_id AS participant_id, x.points AS points, \
     x.time_used_ms AS time_used_ms";

/// What the rows of a search select.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Columns {
    /// Every column of [`ParticipantSummary`] but the unit's name.
    Summary,
    /// [`RANK_COLUMNS`] only.
    Rank,
}

/// Whether `filter` looks at the registration's columns (a name or a phone).
fn searches_registration(filter: &ParticipantFilter) -> bool {
    filter.name.is_some() || filter.phone_suffix.is_some()
}

/// The rows of the search: totals `x` with their registration (the same row without a day),
/// their scope and every condition of `filter` and `shape`.
/// `unit` is the unit a lateral join gives, on PostgreSQL; otherwise the scope is a subquery.
fn push_rows(
    st: &mut Statement,
    scope: &Scope,
    filter: &ParticipantFilter,
    shape: &Shape<'_>,
    unit: Option<&str>,
    selected: Columns,
) {
    let columns = |p: &str| match selected {
        Columns::Summary => SUMMARY_COLUMNS.replace("{p}", p),
        Columns::Rank => RANK_COLUMNS.to_owned(),
    };
    // The registration is the totals row itself over all days; a day's totals join it.
    let p = match filter.day {
        None => {
            let columns = columns("x");
            st.push(&format!(
                "SELECT {columns} FROM participant_totals x WHERE x.campaign_id = $1"
            ));
            "x"
        }
        // The registration joins only when its columns are listed or searched: the day's row
        // says whether it is recorded.
        Some(day) if selected == Columns::Rank && !searches_registration(filter) => {
            st.push(&format!(
                "SELECT {RANK_COLUMNS} FROM participant_days x WHERE x.campaign_id = $1 \
                 AND x.day = "
            ))
            .push_bind(day);
            "x"
        }
        Some(day) => {
            let columns = columns("p");
            st.push(&format!(
                "SELECT {columns} FROM participant_days x \
                 JOIN participant_totals p ON p.campaign_id = x.campaign_id \
                 AND p.participant_id = x.participant_id WHERE x.campaign_id = $1 AND x.day = "
            ))
            .push_bind(day);
            "p"
        }
    };
    match unit {
        Some(column) => {
            st.push(&format!(" AND x.unit_id = {column}"));
        }
        None => {
            within(st, "x.unit_id", scope);
        }
    }
    st.push(" AND x.registered");
    if let Some(name) = &filter.name {
        st.push(&format!(" AND {p}.name LIKE "))
            .push_bind(format!("%{}%", like_literal(name)))
            .push(" ESCAPE '\\'");
    }
    if let Some(suffix) = &filter.phone_suffix {
        st.push(&format!(" AND {p}.phone_masked LIKE "))
            .push_bind(format!("%{}", like_literal(suffix)))
            .push(" ESCAPE '\\'");
    }
    if let Some(min) = filter.min_points {
        st.push(" AND x.points >= ").push_bind(min);
    }
    if let Some(max) = filter.max_points {
        st.push(" AND x.points <= ").push_bind(max);
    }
    if let Shape::Page {
        after: Some(cursor),
        ..
    } = shape
    {
        st.push(" AND (-x.points, x.time_used_ms, x.participant_id) > (")
            .push_bind(-cursor.points)
            .push(", ")
            .push_bind(cursor.time_used_ms)
            .push(", ")
            .push_bind(cursor.participant_id)
            .push(")");
    }
}

/// The statement of `shape` over the participants of `scope` that `filter` lets through.
fn participants_statement(
    backend: Backend,
    campaign_id: &str,
    scope: &Scope,
    filter: &ParticipantFilter,
    shape: &Shape<'_>,
) -> Statement {
    let mut st = for_campaign(campaign_id);
    match shape {
        Shape::Count => {
            st.push("SELECT CAST(COUNT(*) AS BIGINT) FROM (");
            push_rows(&mut st, scope, filter, shape, None, Columns::Rank);
            st.push(" LIMIT ")
                .push_bind(COUNT_LIMIT + 1)
                .push(") AS found");
        }
        Shape::Page { limit, .. } if backend == Backend::Postgres => {
            // Two passes: the page's places in the order, from the rank indexes alone (each
            // unit of the subtree gives at most a page from its own index, and the pages are
            // merged), then the page's rows by their keys. A page reads a few index pages per
            // unit of the scope, however large the tables behind them.
            let registration = if filter.day.is_some() { "p" } else { "x" };
            let columns = SUMMARY_COLUMNS.replace("{p}", registration);
            st.push(&format!(
                "SELECT {LISTED_COLUMNS} FROM (SELECT {columns} FROM ("
            ));
            match scope.unit_id() {
                Some(unit) => {
                    st.push("SELECT l.* FROM unit_ancestors s CROSS JOIN LATERAL (");
                    push_rows(
                        &mut st,
                        scope,
                        filter,
                        shape,
                        Some("s.unit_id"),
                        Columns::Rank,
                    );
                    st.push(ORDER)
                        .push(" LIMIT ")
                        .push_bind(*limit)
                        .push(") AS l WHERE s.campaign_id = $1 AND s.ancestor_id = ");
                    st.push_bind(unit)
                        .push(" ORDER BY -l.points, l.time_used_ms, l.participant_id");
                }
                None => {
                    push_rows(&mut st, scope, filter, shape, None, Columns::Rank);
                    st.push(ORDER);
                }
            }
            st.push(" LIMIT ").push_bind(*limit).push(") AS k");
            // The listed row: the totals row itself, or a day's totals and the registration.
            match filter.day {
                None => st.push(
                    " JOIN participant_totals x ON x.campaign_id = $1 \
                     AND x.participant_id = k.participant_id) AS x",
                ),
                Some(day) => st
                    .push(
                        " JOIN participant_days x ON x.campaign_id = $1 \
                         AND x.participant_id = k.participant_id AND x.day = ",
                    )
                    .push_bind(day)
                    .push(
                        " JOIN participant_totals p ON p.campaign_id = $1 \
                         AND p.participant_id = k.participant_id) AS x",
                    ),
            };
            st.push(" LEFT JOIN units u ON u.campaign_id = $1 AND u.unit_id = x.unit_id")
                .push(ORDER);
        }
        Shape::Page { limit, .. } => {
            st.push(&format!("SELECT {LISTED_COLUMNS} FROM ("));
            push_rows(&mut st, scope, filter, shape, None, Columns::Summary);
            st.push(ORDER)
                .push(" LIMIT ")
                .push_bind(*limit)
                .push(") AS x LEFT JOIN units u ON u.campaign_id = $1 AND u.unit_id = x.unit_id")
                .push(ORDER);
        }
        Shape::All => {
            st.push(&format!("SELECT {LISTED_COLUMNS} FROM ("));
            push_rows(&mut st, scope, filter, shape, None, Columns::Summary);
            st.push(") AS x LEFT JOIN units u ON u.campaign_id = $1 AND u.unit_id = x.unit_id")
                .push(ORDER);
        }
    }
    st
}

impl Store {
    /// The scope a search of `scope` with `filter` lists: the filter's unit when it lies
    /// within `scope` (or `scope` itself without one); `None` when the filter's unit is not
    /// within it, or not a unit of the campaign, which lists nobody.
    async fn search_scope(
        &self,
        campaign_id: &str,
        scope: &Scope,
        filter: &ParticipantFilter,
    ) -> Result<Option<Scope>, StoreError> {
        let Some(unit) = &filter.unit_id else {
            return Ok(Some(scope.clone()));
        };
        let found: i64 = Statement::new(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM unit_ancestors \
             WHERE campaign_id = $1 AND unit_id = $2 AND ancestor_id = $3",
        )
        .bind(campaign_id)
        .bind(unit.as_str())
        .bind(scope.unit_id().unwrap_or(unit))
        .fetch_scalar(self)
        .await?;
        Ok((found > 0).then(|| Scope::unit(unit.as_str())))
    }

    /// One page of the participants of `scope` that `filter` lets through, best first (points
    /// descending, then less time used, then participant id): the `limit` after `after` (from
    /// the first without), where the next page starts, and how many there are up to
    /// [`COUNT_LIMIT`].
    ///
    /// The count and the page are two statements, not one snapshot: while attempts are
    /// flushed, they may be a few rows apart, and a participant whose totals change between
    /// two pages may move across the cursor.
    #[tracing::instrument(skip_all, fields(campaign.id = campaign_id, scope = %scope))]
    pub async fn participants_page(
        &self,
        campaign_id: &str,
        scope: &Scope,
        filter: &ParticipantFilter,
        limit: u32,
        after: Option<&ParticipantCursor>,
    ) -> Result<ParticipantPage, StoreError> {
        let Some(scope) = self.search_scope(campaign_id, scope, filter).await? else {
            return Ok(ParticipantPage {
                items: Vec::new(),
                next: None,
                total: 0,
                more_than_total: false,
            });
        };
        let counted: i64 =
            participants_statement(self.backend(), campaign_id, &scope, filter, &Shape::Count)
                .fetch_scalar(self)
                .await?;
        // One more than a page, to know whether another follows.
        let shape = Shape::Page {
            limit: i64::from(limit) + 1,
            after,
        };
        let mut items: Vec<ParticipantSummary> =
            participants_statement(self.backend(), campaign_id, &scope, filter, &shape)
                .fetch_all(self)
                .await?;
        let next = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(ParticipantCursor::after)
        } else {
            None
        };
        Ok(ParticipantPage {
            items,
            next,
            total: counted.min(COUNT_LIMIT),
            more_than_total: counted > COUNT_LIMIT,
        })
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
        let (campaign_id, scope, filter) = (campaign_id.to_owned(), scope.clone(), filter.clone());
        futures_util::stream::once(async move {
            let rows = match self.search_scope(&campaign_id, &scope, &filter).await? {
                Some(scope) => participants_statement(
                    self.backend(),
                    &campaign_id,
                    &scope,
                    &filter,
                    &Shape::All,
                )
                .fetch(self)
                .map_err(StoreError::from)
                .boxed(),
                None => futures_util::stream::empty().boxed(),
            };
            Ok::<_, StoreError>(rows)
        })
        .try_flatten()
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
        st.push("SELECT CAST(COUNT(*) AS BIGINT) FROM participants p WHERE p.campaign_id = $1");
        within(&mut st, "p.unit_id", scope)
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
