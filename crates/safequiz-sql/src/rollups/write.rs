//! Adding to the roll-ups inside the transaction that writes the rows they count.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use safequiz_domain::scope::WHOLE_CAMPAIGN;
use safequiz_domain::score::{Candidate, Counted};
use serde::Serialize;

use super::fold::lock_fold;
use super::increments::{AnswerCounts, Increments, ParticipantCounts, answers, increments, levels};
use crate::record::{AttemptRow, ParticipantRow, attempt_number};
use crate::statement::{Bind, Record, SqlType, Statement, Transaction, json_rows, sqlite_chunks};
use crate::{Backend, StoreError};

/// Makes the other writers of `campaign`'s roll-ups wait until this transaction ends: flushers
/// take it after inserting their attempts, the rebuild before reading any. On PostgreSQL, a
/// transaction-scoped advisory lock; SQLite has one writer at a time anyway.
///
/// It serializes little that was not serialized already: every batch adds to the whole
/// campaign's rows, whose row locks would order the flushers the same way. What it adds is that
/// reading a participant's active days and adding the new ones is atomic, so two flushers with
/// attempts of one participant on different days count the days in one order.
pub(crate) async fn lock_campaign(
    tx: &mut Transaction,
    campaign_id: &str,
) -> Result<(), StoreError> {
    if let Transaction::Postgres(_) = tx {
        Statement::new(
            "SELECT pg_advisory_xact_lock(hashtextextended('safequiz rollups ' || $1, 0))",
        )
        .bind(campaign_id)
        .execute_in(tx)
        .await?;
    }
    Ok(())
}

/// The rows `head` selects for `campaign_id` (bound as `$1`) whose key is one of `keys`: `head`
/// ends inside `IN (SELECT r.<column> FROM `, and the keys follow as one JSON parameter.
pub(crate) async fn select_in<R: Record, K: Serialize>(
    tx: &mut Transaction,
    head: &str,
    campaign_id: &str,
    column: (&'static str, SqlType),
    keys: &[K],
) -> Result<Vec<R>, StoreError> {
    let mut st = Statement::new(head).bind(campaign_id);
    st.push_json_rows(tx.backend(), "r", &[column], json_rows(keys))
        .push(")");
    Ok(st.fetch_all_in::<R>(tx).await?)
}

/// A participant's active day.
#[derive(sqlx::FromRow)]
struct ActiveDay {
    participant_id: i64,
    day: i32,
}

/// A unit and one of its ancestors (or itself).
#[derive(sqlx::FromRow)]
struct Ancestor {
    unit_id: String,
    ancestor_id: String,
}

#[derive(Serialize)]
struct IdRow {
    i: i64,
}

/// A unit id as a JSON row of a `u` column.
#[derive(Serialize)]
pub(crate) struct UnitRow<'a> {
    pub(crate) u: &'a str,
}

/// When the question counters of attempts added to the roll-ups are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Questions {
    /// Later, by the question fold: the attempts are queued in `question_pending` (the flush).
    Fold,
    /// Now, in this transaction (a rebuild, an exclusion undone).
    Now,
}

/// Adds `attempts` (new to the record this transaction, all of `campaign_id`) to the roll-ups,
/// their question counters as `questions` says.
pub(crate) async fn add_attempts(
    tx: &mut Transaction,
    campaign_id: &str,
    attempts: &[&AttemptRow],
    questions: Questions,
) -> Result<(), StoreError> {
    if attempts.is_empty() {
        return Ok(());
    }
    lock_campaign(tx, campaign_id).await?;
    let participants: BTreeSet<i64> = attempts.iter().map(|a| a.participant_id).collect();
    let units: BTreeSet<&str> = attempts.iter().map(|a| a.unit_id.as_str()).collect();
    let known = known_days(tx, campaign_id, &participants).await?;
    let paths = unit_paths(tx, campaign_id, &units).await?;
    let mut increments = increments(WHOLE_CAMPAIGN, attempts, &known, &paths);
    let counted = super::recorded_counting(tx, campaign_id).await?;
    if counted != Counted::Sum {
        count_totals(tx, campaign_id, counted, attempts, &mut increments).await?;
    }
    write(tx, campaign_id, &increments).await?;
    match questions {
        Questions::Fold => super::fold::queue(tx, campaign_id, attempts).await,
        Questions::Now => {
            count_questions(tx, campaign_id, attempts, &paths, 1, Malformed::Refuse).await
        }
    }
}

/// A participant's counted attempt as `participant_totals` holds it.
#[derive(sqlx::FromRow)]
struct CountedRow {
    participant_id: i64,
    points: i64,
    time_used_ms: i64,
    counted_attempt: Option<i64>,
}

/// Under `best` or `last`, makes the batch's participant totals the counted scores: each
/// participant's counted attempt so far (read from `participant_totals`) and the batch's
/// attempts of theirs compared by `Counted::prefers`, the one rule (docs/design.md §3.4), in
/// whatever order they come. Attempts, full marks and the last finish still count every attempt.
async fn count_totals(
    tx: &mut Transaction,
    campaign_id: &str,
    counted: Counted,
    attempts: &[&AttemptRow],
    increments: &mut Increments,
) -> Result<(), StoreError> {
    let ids: Vec<IdRow> = increments
        .participant_totals
        .keys()
        .map(|&i| IdRow { i })
        .collect();
    let rows: Vec<CountedRow> = select_in(
        tx,
        "SELECT participant_id, points, time_used_ms, counted_attempt FROM participant_totals \
         WHERE campaign_id = $1 AND participant_id IN (SELECT r.i FROM ",
        campaign_id,
        ("i", SqlType::Int8),
        &ids,
    )
    .await?;
    let mut kept: HashMap<i64, Candidate> = rows
        .into_iter()
        .filter_map(|row| {
            let number = u32::try_from(row.counted_attempt?).ok()?;
            Some((
                row.participant_id,
                Candidate {
                    number,
                    points: u32::try_from(row.points).unwrap_or(0),
                    time_used_ms: row.time_used_ms,
                },
            ))
        })
        .collect();
    for attempt in attempts {
        let new = Candidate {
            number: attempt_number(&attempt.attempt_id),
            points: u32::try_from(attempt.points).unwrap_or(0),
            time_used_ms: attempt.time_used_ms,
        };
        kept.entry(attempt.participant_id)
            .and_modify(|current| {
                if counted.prefers(new, *current) {
                    *current = new;
                }
            })
            .or_insert(new);
    }
    for (participant, totals) in &mut increments.participant_totals {
        if let Some(candidate) = kept.get(participant) {
            totals.points = i64::from(candidate.points);
            totals.time_used_ms = candidate.time_used_ms;
            totals.counted_attempt = Some(candidate.number);
        }
    }
    increments.counted_totals = true;
    Ok(())
}

/// Takes every recorded attempt of `participant_id` out of `campaign_id`'s roll-ups (an
/// organizer's exclusion, issue 21): what those attempts add counted from nothing (the order
/// they arrived in changes only which `prev_day` row of a day holds them, never a day's sums or
/// its participants per previous day) is subtracted from the unit and question figures, their
/// `participant_days` rows go and their `participant_totals` row is left registered with no
/// attempt, as a rebuild without them would. Reads and writes only this participant's rows
/// and the figures they touched, whatever the campaign's size. Returns the attempts removed.
pub(crate) async fn remove_participant(
    tx: &mut Transaction,
    campaign_id: &str,
    participant_id: i64,
) -> Result<usize, StoreError> {
    lock_campaign(tx, campaign_id).await?;
    // What is subtracted must have been added: the campaign's pending question counters first.
    super::fold::fold_campaign_in(tx, campaign_id).await?;
    let rows = participant_attempts(tx, campaign_id, participant_id).await?;
    let attempts: Vec<&AttemptRow> = rows.iter().collect();
    if !attempts.is_empty() {
        let units: BTreeSet<&str> = attempts.iter().map(|a| a.unit_id.as_str()).collect();
        let paths = unit_paths(tx, campaign_id, &units).await?;
        let mut minus = increments(WHOLE_CAMPAIGN, &attempts, &HashMap::new(), &paths);
        for counts in minus.unit_days.values_mut() {
            counts.participants = -counts.participants;
            counts.attempts = -counts.attempts;
            counts.points = -counts.points;
            counts.full_marks = -counts.full_marks;
        }
        minus.participant_totals.clear();
        minus.participant_days.clear();
        write(tx, campaign_id, &minus).await?;
        count_questions(tx, campaign_id, &attempts, &paths, -1, Malformed::Refuse).await?;
    }
    Statement::new("DELETE FROM participant_days WHERE campaign_id = $1 AND participant_id = $2")
        .bind(campaign_id)
        .bind(participant_id)
        .execute_in(tx)
        .await?;
    Statement::new(
        "UPDATE participant_totals SET attempts = 0, points = 0, full_marks = 0, \
         time_used_ms = 0, last_finished_at_ms = CAST(NULL AS BIGINT), \
         counted_attempt = CAST(NULL AS BIGINT) \
         WHERE campaign_id = $1 AND participant_id = $2",
    )
    .bind(campaign_id)
    .bind(participant_id)
    .execute_in(tx)
    .await?;
    Ok(attempts.len())
}

/// Counts every recorded attempt of `participant_id` in `campaign_id`'s roll-ups again (the
/// undo of [`remove_participant`]), as the flusher would have: attempts recorded while they
/// were excluded included. Returns the attempts added.
pub(crate) async fn restore_participant(
    tx: &mut Transaction,
    campaign_id: &str,
    participant_id: i64,
) -> Result<usize, StoreError> {
    let rows = participant_attempts(tx, campaign_id, participant_id).await?;
    let attempts: Vec<&AttemptRow> = rows.iter().collect();
    add_attempts(tx, campaign_id, &attempts, Questions::Now).await?;
    Ok(attempts.len())
}

/// Every recorded attempt of one participant, in `tx`.
async fn participant_attempts(
    tx: &mut Transaction,
    campaign_id: &str,
    participant_id: i64,
) -> Result<Vec<AttemptRow>, StoreError> {
    Ok(Statement::new(&format!(
        "SELECT {} FROM attempts WHERE campaign_id = $1 AND participant_id = $2",
        super::ATTEMPT_COLUMNS
    ))
    .bind(campaign_id)
    .bind(participant_id)
    .fetch_all_in(tx)
    .await?)
}

/// The active days of `participants` as the roll-ups have them.
async fn known_days(
    tx: &mut Transaction,
    campaign_id: &str,
    participants: &BTreeSet<i64>,
) -> Result<HashMap<i64, BTreeSet<i32>>, StoreError> {
    let ids: Vec<IdRow> = participants.iter().map(|&i| IdRow { i }).collect();
    let rows: Vec<ActiveDay> = select_in(
        tx,
        "SELECT participant_id, day FROM participant_days WHERE campaign_id = $1 \
         AND participant_id IN (SELECT r.i FROM ",
        campaign_id,
        ("i", SqlType::Int8),
        &ids,
    )
    .await?;
    let mut known: HashMap<i64, BTreeSet<i32>> = HashMap::new();
    for row in rows {
        known.entry(row.participant_id).or_default().insert(row.day);
    }
    Ok(known)
}

/// Each of `units` with itself and its ancestors, as `unit_ancestors` has them.
pub(crate) async fn unit_paths(
    tx: &mut Transaction,
    campaign_id: &str,
    units: &BTreeSet<&str>,
) -> Result<HashMap<String, Vec<String>>, StoreError> {
    let units: Vec<UnitRow<'_>> = units.iter().map(|&u| UnitRow { u }).collect();
    let rows: Vec<Ancestor> = select_in(
        tx,
        "SELECT unit_id, ancestor_id FROM unit_ancestors WHERE campaign_id = $1 \
         AND unit_id IN (SELECT r.u FROM ",
        campaign_id,
        ("u", SqlType::Text),
        &units,
    )
    .await?;
    let mut paths: HashMap<String, Vec<String>> = HashMap::new();
    for row in rows {
        paths.entry(row.unit_id).or_default().push(row.ancestor_id);
    }
    Ok(paths)
}

/// One column of the rows an upsert writes.
enum Column {
    Text(Vec<String>),
    Int4(Vec<i32>),
    Int8(Vec<i64>),
    Bool(Vec<bool>),
}

impl Column {
    fn sql_type(&self) -> SqlType {
        match self {
            Column::Text(_) => SqlType::Text,
            Column::Int4(_) => SqlType::Int4,
            Column::Int8(_) => SqlType::Int8,
            Column::Bool(_) => SqlType::Bool,
        }
    }

    /// Row `row`'s value as a parameter (a boolean as SQLite stores it, 0 or 1).
    fn bind(&self, row: usize) -> Bind {
        match self {
            Column::Text(values) => Bind::Text(values[row].clone()),
            Column::Int4(values) => Bind::Int4(values[row]),
            Column::Int8(values) => Bind::Int8(values[row]),
            Column::Bool(values) => Bind::Int4(i32::from(values[row])),
        }
    }

    fn len(&self) -> usize {
        match self {
            Column::Text(values) => values.len(),
            Column::Int4(values) => values.len(),
            Column::Int8(values) => values.len(),
            Column::Bool(values) => values.len(),
        }
    }
}

/// One statement writing many rows: `head` (ending in `FROM `, its `$1` the campaign when
/// `campaign` says so), the rows as `r` with `columns`, and `tail` (the conflict clause).
struct Upsert {
    head: &'static str,
    campaign: bool,
    columns: &'static [&'static str],
    tail: &'static str,
}

impl Upsert {
    /// Runs the statement over `values` (one per column, of equal lengths). On PostgreSQL the
    /// rows are arrays turned back into rows by `UNNEST`, which it reads faster than JSON; on
    /// SQLite they are typed parameters of a `VALUES` list, up to 256 rows a statement (as one
    /// JSON parameter, `jsonb_each` and `json_extract` of every value were about a tenth of
    /// the flusher's CPU, docs/performance.md).
    async fn run(
        &self,
        tx: &mut Transaction,
        campaign_id: &str,
        values: Vec<Column>,
    ) -> Result<(), StoreError> {
        if values.first().is_none_or(|column| column.len() == 0) {
            return Ok(());
        }
        match tx {
            Transaction::Postgres(tx) => {
                let arrays: Vec<String> = values
                    .iter()
                    .enumerate()
                    .map(|(n, column)| {
                        format!(
                            "${}::{}[]",
                            n + 1 + usize::from(self.campaign),
                            column.sql_type().postgres()
                        )
                    })
                    .collect();
                let text = format!(
                    "{}UNNEST({}) AS r ({}){}",
                    self.head,
                    arrays.join(", "),
                    self.columns.join(", "),
                    self.tail
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(text));
                if self.campaign {
                    query = query.bind(campaign_id);
                }
                for column in values {
                    query = match column {
                        Column::Text(values) => query.bind(values),
                        Column::Int4(values) => query.bind(values),
                        Column::Int8(values) => query.bind(values),
                        Column::Bool(values) => query.bind(values),
                    };
                }
                query.execute(&mut **tx).await?;
            }
            Transaction::Sqlite(_) => {
                // The rows as typed parameters of a `VALUES` list, a chunk per statement.
                for chunk in sqlite_chunks(values[0].len()) {
                    let mut st =
                        Statement::anonymous(self.head, self.campaign.then_some(campaign_id));
                    st.push_values_rows(
                        "r",
                        self.columns,
                        chunk.map(|row| values.iter().map(move |column| column.bind(row))),
                    )
                    .push(self.tail);
                    st.execute_in(tx).await?;
                }
            }
        }
        Ok(())
    }
}

const UNIT_DAYS: Upsert = Upsert {
    head: "INSERT INTO unit_days (campaign_id, unit_id, day, prev_day, participants, attempts, \
           points, full_marks) SELECT $1, r.u, r.d, r.p, r.np, r.na, r.pt, r.fm FROM ",
    campaign: true,
    columns: &["u", "d", "p", "np", "na", "pt", "fm"],
    // `WHERE true`: SQLite's grammar needs it between a SELECT and its upsert clause.
    tail: " WHERE true ON CONFLICT (campaign_id, unit_id, day, prev_day) DO UPDATE SET \
           participants = unit_days.participants + excluded.participants, \
           attempts = unit_days.attempts + excluded.attempts, \
           points = unit_days.points + excluded.points, \
           full_marks = unit_days.full_marks + excluded.full_marks",
};

/// Question counters by `rollup_keys`: no campaign column (a unit key belongs to one campaign),
/// and a key of integers, which a database compares several times faster than the ids' text
/// (docs/performance.md). SQLite's layout, a row per day; PostgreSQL's is [`QUESTION_CELLS`].
const QUESTION_COUNTS: Upsert = Upsert {
    head: "INSERT INTO question_counts (unit_key, day, question_key, chosen, correct, options, \
           answers) SELECT r.u, r.d, r.q, r.ch, r.ok, r.o, r.n FROM ",
    campaign: false,
    columns: &["u", "d", "q", "ch", "ok", "o", "n"],
    tail: " WHERE true ON CONFLICT (unit_key, day, question_key, chosen, correct) \
           DO UPDATE SET answers = question_counts.answers + excluded.answers, \
           options = CASE WHEN excluded.options > question_counts.options \
           THEN excluded.options ELSE question_counts.options END",
};

/// A new day row copies whether the participant's registration is recorded (their
/// `participant_totals` row, written first when the registration is in the same batch), so
/// that the searches by day need not read the totals row of each candidate;
/// [`add_registrations`] marks the rows of a registration that arrives after them.
const PARTICIPANT_DAYS: Upsert = Upsert {
    head: "INSERT INTO participant_days (campaign_id, participant_id, day, unit_id, attempts, \
           points, full_marks, time_used_ms, last_finished_at_ms, registered) \
           SELECT $1, r.i, r.d, r.u, r.na, r.pt, r.fm, r.t, r.l, \
           COALESCE((SELECT t.registered FROM participant_totals t \
           WHERE t.campaign_id = $1 AND t.participant_id = r.i), FALSE) FROM ",
    campaign: true,
    columns: &["i", "d", "u", "na", "pt", "fm", "t", "l"],
    tail: " WHERE true ON CONFLICT (campaign_id, participant_id, day) DO UPDATE SET \
           attempts = participant_days.attempts + excluded.attempts, \
           points = participant_days.points + excluded.points, \
           full_marks = participant_days.full_marks + excluded.full_marks, \
           time_used_ms = participant_days.time_used_ms + excluded.time_used_ms, \
           last_finished_at_ms = CASE \
           WHEN excluded.last_finished_at_ms > participant_days.last_finished_at_ms \
           THEN excluded.last_finished_at_ms ELSE participant_days.last_finished_at_ms END",
};

/// A participant whose registration is not recorded yet gets a row without it (not listed by
/// searches), which the registration completes when it arrives.
const PARTICIPANT_TOTALS: Upsert = Upsert {
    head: "INSERT INTO participant_totals (campaign_id, participant_id, unit_id, name, \
           phone_masked, registered_at_ms, registered, attempts, points, full_marks, \
           time_used_ms, last_finished_at_ms) \
           SELECT $1, r.i, r.u, '', '', 0, FALSE, r.na, r.pt, r.fm, r.t, r.l FROM ",
    campaign: true,
    columns: &["i", "u", "na", "pt", "fm", "t", "l"],
    tail: " WHERE true ON CONFLICT (campaign_id, participant_id) DO UPDATE SET \
           attempts = participant_totals.attempts + excluded.attempts, \
           points = participant_totals.points + excluded.points, \
           full_marks = participant_totals.full_marks + excluded.full_marks, \
           time_used_ms = participant_totals.time_used_ms + excluded.time_used_ms, \
           last_finished_at_ms = CASE WHEN participant_totals.last_finished_at_ms IS NULL \
           OR excluded.last_finished_at_ms > participant_totals.last_finished_at_ms \
           THEN excluded.last_finished_at_ms ELSE participant_totals.last_finished_at_ms END",
};

/// [`PARTICIPANT_TOTALS`] under `best` or `last`: the counted attempt's points and time, and
/// its number, replace what the row held; attempts and full marks still add up.
const COUNTED_PARTICIPANT_TOTALS: Upsert = Upsert {
    head: "INSERT INTO participant_totals (campaign_id, participant_id, unit_id, name, \
           phone_masked, registered_at_ms, registered, attempts, points, full_marks, \
           time_used_ms, last_finished_at_ms, counted_attempt) \
           SELECT $1, r.i, r.u, '', '', 0, FALSE, r.na, r.pt, r.fm, r.t, r.l, r.ca FROM ",
    campaign: true,
    columns: &["i", "u", "na", "pt", "fm", "t", "l", "ca"],
    tail: " WHERE true ON CONFLICT (campaign_id, participant_id) DO UPDATE SET \
           attempts = participant_totals.attempts + excluded.attempts, \
           points = excluded.points, \
           full_marks = participant_totals.full_marks + excluded.full_marks, \
           time_used_ms = excluded.time_used_ms, \
           counted_attempt = excluded.counted_attempt, \
           last_finished_at_ms = CASE WHEN participant_totals.last_finished_at_ms IS NULL \
           OR excluded.last_finished_at_ms > participant_totals.last_finished_at_ms \
           THEN excluded.last_finished_at_ms ELSE participant_totals.last_finished_at_ms END",
};

// The terms of [`QUESTION_CELLS`]'s conflict clause: the day `d` the row adds to, the cell's
// last day, the count `n` added and the cell's total on its last day.
macro_rules! cell_day {
    () => {
        "array_lower(excluded.answers, 1)"
    };
}
macro_rules! cell_last {
    () => {
        "array_upper(question_counts.answers, 1)"
    };
}
macro_rules! cell_n {
    () => {
        "excluded.answers[array_lower(excluded.answers, 1)]"
    };
}
macro_rules! cell_total {
    () => {
        "question_counts.answers[array_upper(question_counts.answers, 1)]"
    };
}

/// PostgreSQL's layout (migrations `0016_question_counts_by_cell` and
/// `0017_question_counts_running`): a row per unit, question, options chosen and correctness,
/// `answers` an array indexed by the day number holding the cell's running total (the answers
/// of its first day up to each day, no gaps), so that a period's count is two elements.
///
/// A row comes as a one-day array `[d:d]={n}`: made as it is, or added to the cell's days from
/// `d` on. The assignment is to the slice the addition changes, `[min(d, last + 1) : max(d,
/// last)]`, where `last` is the cell's last day:
/// - `d = last` (a cell met again the same day, the usual case): the last element plus `n`;
/// - `d > last` (the first time that day): the days between carry the last total, `d` adds `n`;
/// - `d < last` (a batch of an earlier day folded late, or an exclusion): every day from `d`
///   adds `n`, days before the array's first being 0; a subquery, only on this rare path.
///
/// A statement may not touch a row twice, so it takes one day's cells at a time.
const QUESTION_CELLS: Upsert = Upsert {
    head: "INSERT INTO question_counts (unit_key, question_key, chosen, correct, options, \
           answers) SELECT r.u, r.q, r.ch, r.ok, r.o, array_fill(r.n, ARRAY[1], ARRAY[r.d]) FROM ",
    campaign: false,
    columns: &["u", "d", "q", "ch", "ok", "o", "n"],
    tail: concat!(
        " ON CONFLICT (unit_key, question_key, chosen, correct) DO UPDATE SET answers[LEAST(",
        cell_day!(),
        ", ",
        cell_last!(),
        " + 1) : GREATEST(",
        cell_day!(),
        ", ",
        cell_last!(),
        ")] = CASE WHEN ",
        cell_day!(),
        " = ",
        cell_last!(),
        " THEN ARRAY[",
        cell_total!(),
        " + ",
        cell_n!(),
        "] WHEN ",
        cell_day!(),
        " > ",
        cell_last!(),
        " THEN array_fill(",
        cell_total!(),
        ", ARRAY[",
        cell_day!(),
        " - ",
        cell_last!(),
        " - 1]) || (",
        cell_total!(),
        " + ",
        cell_n!(),
        ") ELSE ARRAY(SELECT COALESCE(question_counts.answers[i], 0) + ",
        cell_n!(),
        " FROM generate_series(",
        cell_day!(),
        ", ",
        cell_last!(),
        ") AS i ORDER BY i) END, \
         options = GREATEST(question_counts.options, excluded.options)"
    ),
};

/// `question_counts` key: unit key, day, question key, options chosen, correct.
type CountKey = (i32, i32, i32, i32, bool);

/// A name's key in `rollup_keys`.
#[derive(sqlx::FromRow)]
struct NameKey {
    name: String,
    id: i32,
}

#[derive(Serialize)]
struct NameRow<'a> {
    n: &'a str,
}

/// The `rollup_keys` of `names` (units or questions, by `kind`) of `campaign_id`, numbering
/// those that have none yet. Called under the question fold's lock ([`lock_fold`]), so no other
/// writer numbers the same names meanwhile; a key once given never changes.
async fn rollup_keys<'n>(
    tx: &mut Transaction,
    campaign_id: &str,
    kind: &'static str,
    names: &BTreeSet<&'n str>,
) -> Result<HashMap<&'n str, i32>, StoreError> {
    let mut keys = select_keys(tx, campaign_id, kind, names).await?;
    let missing: BTreeSet<&str> = names
        .iter()
        .copied()
        .filter(|name| !keys.contains_key(name))
        .collect();
    if missing.is_empty() {
        return Ok(keys);
    }
    let rows: Vec<NameRow<'_>> = missing.iter().map(|&n| NameRow { n }).collect();
    let mut st = Statement::new(
        "INSERT INTO rollup_keys (campaign_id, kind, name) SELECT $1, $2, r.n FROM ",
    )
    .bind(campaign_id)
    .bind(kind);
    st.push_json_rows(tx.backend(), "r", &[("n", SqlType::Text)], json_rows(&rows))
        .push(" WHERE true ON CONFLICT (campaign_id, kind, name) DO NOTHING");
    st.execute_in(tx).await?;
    keys.extend(select_keys(tx, campaign_id, kind, &missing).await?);
    Ok(keys)
}

/// The keys `rollup_keys` already has for `names`.
///
/// On PostgreSQL the names are one array compared with `= ANY`, in a statement planned for each
/// batch (not kept prepared): a plan kept from the first batches, when the table was nearly
/// empty, scanned the whole table once per name as it grew, 26-52 ms a batch (also with a
/// `json_to_recordset` subquery, as elsewhere); planned with the array at hand, it is an index
/// lookup per name, or one scan with the names hashed.
async fn select_keys<'n>(
    tx: &mut Transaction,
    campaign_id: &str,
    kind: &'static str,
    names: &BTreeSet<&'n str>,
) -> Result<HashMap<&'n str, i32>, StoreError> {
    let found: Vec<NameKey> = match tx {
        Transaction::Postgres(tx) => {
            sqlx::query_as(
                "SELECT name, id FROM rollup_keys WHERE campaign_id = $1 AND kind = $2 \
                 AND name = ANY($3::text[])",
            )
            .bind(campaign_id)
            .bind(kind)
            .bind(names.iter().copied().collect::<Vec<&str>>())
            .persistent(false)
            .fetch_all(&mut **tx)
            .await?
        }
        Transaction::Sqlite(_) => {
            let rows: Vec<NameRow<'_>> = names.iter().map(|&n| NameRow { n }).collect();
            let mut st = Statement::new(
                "SELECT name, id FROM rollup_keys WHERE campaign_id = $1 AND kind = $2 \
                 AND name IN (SELECT r.n FROM ",
            )
            .bind(campaign_id)
            .bind(kind);
            st.push_json_rows(tx.backend(), "r", &[("n", SqlType::Text)], json_rows(&rows))
                .push(")");
            st.fetch_all_in(tx).await?
        }
    };
    Ok(found
        .into_iter()
        .filter_map(|row| names.get(row.name.as_str()).map(|&name| (name, row.id)))
        .collect())
}

/// What [`count_questions`] does with an attempt whose questions do not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Malformed {
    /// Fails, so nothing of the transaction is written (a data error).
    Refuse,
    /// Logs it and counts the others (the fold, whose attempts are recorded already).
    LeaveOut,
}

/// Adds what `attempts` add to `question_counts` (`sign` 1), or takes it away (`sign` -1):
/// each answer ([`answers`], the rule) at every level of its attempt's unit (`paths`) and the
/// whole campaign, on its day. Units and questions are numbered first, so the cells are summed
/// under integer keys; then one upsert writes each cell once, by day then key (two writers
/// touch rows in the same order; PostgreSQL's statement takes one day at a time). Under the question fold's lock, which every writer of the counters
/// holds (the fold, a rebuild, an exclusion and its undo).
pub(crate) async fn count_questions(
    tx: &mut Transaction,
    campaign_id: &str,
    attempts: &[&AttemptRow],
    paths: &HashMap<String, Vec<String>>,
    sign: i64,
    malformed: Malformed,
) -> Result<(), StoreError> {
    lock_fold(tx).await?;
    let mut read = Vec::with_capacity(attempts.len());
    for &attempt in attempts {
        match answers(attempt) {
            Ok(answers) => read.push((attempt, answers)),
            Err(error) if malformed == Malformed::LeaveOut => {
                tracing::error!(error = %error, "an attempt left out of the question counters");
            }
            Err(error) => return Err(error),
        }
    }
    if read.is_empty() {
        return Ok(());
    }
    let mut unit_levels: HashMap<&str, Vec<&str>> = HashMap::new();
    let mut questions: BTreeSet<&str> = BTreeSet::new();
    for (attempt, answers) in &read {
        unit_levels
            .entry(attempt.unit_id.as_str())
            .or_insert_with(|| levels(WHOLE_CAMPAIGN, &attempt.unit_id, paths));
        questions.extend(answers.iter().map(|a| a.question_id.as_str()));
    }
    let units: BTreeSet<&str> = unit_levels.values().flatten().copied().collect();
    let unit_keys = rollup_keys(tx, campaign_id, "unit", &units).await?;
    let question_keys = rollup_keys(tx, campaign_id, "question", &questions).await?;
    let level_keys: HashMap<&str, Vec<i32>> = unit_levels
        .iter()
        .map(|(&unit, levels)| (unit, levels.iter().map(|level| unit_keys[level]).collect()))
        .collect();
    let mut cells: HashMap<CountKey, AnswerCounts> = HashMap::new();
    for (attempt, answers) in &read {
        let levels = &level_keys[attempt.unit_id.as_str()];
        for answer in answers {
            let question = question_keys[answer.question_id.as_str()];
            let chosen = i32::from(answer.chosen);
            for &unit in levels {
                let cell = cells
                    .entry((unit, attempt.day, question, chosen, answer.correct))
                    .or_default();
                cell.answers += sign;
                cell.options = cell.options.max(answer.options);
            }
        }
    }
    // By day, then key: every writer writes the cells in the same order, and a day's cells
    // are one run of rows.
    let mut rows: Vec<(CountKey, AnswerCounts)> = cells.into_iter().collect();
    rows.sort_unstable_by_key(|&((unit, day, question, chosen, correct), _)| {
        (day, unit, question, chosen, correct)
    });
    match tx.backend() {
        Backend::Postgres => {
            for day in rows.chunk_by(|a, b| a.0.1 == b.0.1) {
                QUESTION_CELLS
                    .run(tx, campaign_id, count_columns(day))
                    .await?;
            }
            Ok(())
        }
        Backend::Sqlite => {
            QUESTION_COUNTS
                .run(tx, campaign_id, count_columns(&rows))
                .await
        }
    }
}

/// The columns of [`QUESTION_COUNTS`] and [`QUESTION_CELLS`] for `rows`.
fn count_columns(rows: &[(CountKey, AnswerCounts)]) -> Vec<Column> {
    vec![
        Column::Int4(rows.iter().map(|(k, _)| k.0).collect()),
        Column::Int4(rows.iter().map(|(k, _)| k.1).collect()),
        Column::Int4(rows.iter().map(|(k, _)| k.2).collect()),
        Column::Int4(rows.iter().map(|(k, _)| k.3).collect()),
        Column::Bool(rows.iter().map(|(k, _)| k.4).collect()),
        Column::Int4(rows.iter().map(|(_, c)| c.options).collect()),
        Column::Int8(rows.iter().map(|(_, c)| c.answers).collect()),
    ]
}

/// Writes `increments`: three upserts, whatever the batch.
async fn write(
    tx: &mut Transaction,
    campaign_id: &str,
    increments: &Increments,
) -> Result<(), StoreError> {
    let rows = &increments.unit_days;
    UNIT_DAYS
        .run(
            tx,
            campaign_id,
            vec![
                Column::Text(rows.keys().map(|(u, _, _)| u.clone()).collect()),
                Column::Int4(rows.keys().map(|(_, d, _)| *d).collect()),
                Column::Int4(rows.keys().map(|(_, _, p)| *p).collect()),
                Column::Int8(rows.values().map(|c| c.participants).collect()),
                Column::Int8(rows.values().map(|c| c.attempts).collect()),
                Column::Int8(rows.values().map(|c| c.points).collect()),
                Column::Int8(rows.values().map(|c| c.full_marks).collect()),
            ],
        )
        .await?;
    let rows = &increments.participant_days;
    let mut columns = vec![
        Column::Int8(rows.keys().map(|(i, _)| *i).collect()),
        Column::Int4(rows.keys().map(|(_, d)| *d).collect()),
    ];
    columns.extend(counts_columns(rows.values()));
    PARTICIPANT_DAYS.run(tx, campaign_id, columns).await?;
    let rows = &increments.participant_totals;
    let mut columns = vec![Column::Int8(rows.keys().copied().collect())];
    columns.extend(counts_columns(rows.values()));
    if increments.counted_totals {
        columns.push(Column::Int8(
            rows.values()
                .map(|c| c.counted_attempt.map_or(0, i64::from))
                .collect(),
        ));
        COUNTED_PARTICIPANT_TOTALS
            .run(tx, campaign_id, columns)
            .await
    } else {
        PARTICIPANT_TOTALS.run(tx, campaign_id, columns).await
    }
}

/// The columns of participant figures (`participant_totals`, `participant_days`) after their
/// key: unit, attempts, points, full marks, time used, last finish.
fn counts_columns<'a>(counts: impl Iterator<Item = &'a ParticipantCounts> + Clone) -> [Column; 6] {
    [
        Column::Text(counts.clone().map(|c| c.unit_id.clone()).collect()),
        Column::Int8(counts.clone().map(|c| c.attempts).collect()),
        Column::Int8(counts.clone().map(|c| c.points).collect()),
        Column::Int8(counts.clone().map(|c| c.full_marks).collect()),
        Column::Int8(counts.clone().map(|c| c.time_used_ms).collect()),
        Column::Int8(counts.map(|c| c.last_finished_at_ms).collect()),
    ]
}

#[derive(Serialize)]
struct RegistrationRow<'a> {
    c: &'a str,
    i: i64,
    u: &'a str,
    n: &'a str,
    ph: &'a str,
    at: i64,
}

/// Puts `participants` (registrations of this batch) into `participant_totals`, with zero
/// totals when they have no attempt yet, and marks registered the `participant_days` rows of
/// attempts recorded before them. A registration already there is kept as it is, as the
/// `participants` table keeps the first.
pub(crate) async fn add_registrations(
    tx: &mut Transaction,
    participants: &[&ParticipantRow],
) -> Result<(), StoreError> {
    if participants.is_empty() {
        return Ok(());
    }
    // One row per participant: an upsert may not touch a row twice.
    let unique: BTreeMap<(&str, i64), &ParticipantRow> = participants
        .iter()
        .rev()
        .map(|p| ((p.campaign_id.as_str(), p.participant_id), *p))
        .collect();
    let rows: Vec<RegistrationRow<'_>> = unique
        .values()
        .map(|p| RegistrationRow {
            c: &p.campaign_id,
            i: p.participant_id,
            u: &p.unit_id,
            n: &p.name,
            ph: &p.phone_masked,
            at: p.registered_at_ms,
        })
        .collect();
    let mut st = Statement::new(
        "INSERT INTO participant_totals (campaign_id, participant_id, unit_id, name, \
         phone_masked, registered_at_ms, registered, attempts, points, full_marks, time_used_ms, \
         last_finished_at_ms) \
         SELECT r.c, r.i, r.u, r.n, r.ph, r.at, TRUE, 0, 0, 0, 0, CAST(NULL AS BIGINT) FROM ",
    );
    let columns = [
        ("c", SqlType::Text),
        ("i", SqlType::Int8),
        ("u", SqlType::Text),
        ("n", SqlType::Text),
        ("ph", SqlType::Text),
        ("at", SqlType::Int8),
    ];
    let json = json_rows(&rows);
    st.push_json_rows(tx.backend(), "r", &columns, json.clone())
        .push(
            " WHERE true ON CONFLICT (campaign_id, participant_id) DO UPDATE SET \
         unit_id = excluded.unit_id, name = excluded.name, \
         phone_masked = excluded.phone_masked, registered_at_ms = excluded.registered_at_ms, \
         registered = TRUE WHERE NOT participant_totals.registered",
        );
    st.execute_in(tx).await?;
    // Usually none: a participant registers before their first attempt, and the flusher
    // writes the registration first when both are in one batch. An index probe per
    // registration.
    let mut st = Statement::new(
        "UPDATE participant_days SET registered = TRUE WHERE NOT registered \
         AND (campaign_id, participant_id) IN (SELECT r.c, r.i FROM ",
    );
    st.push_json_rows(tx.backend(), "r", &columns[..2], json)
        .push(")");
    st.execute_in(tx).await?;
    Ok(())
}
