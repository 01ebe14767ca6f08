//! What a batch of new attempts adds to the roll-ups: pure, so that the rule is tested without
//! a database and the insert path, the rebuild and the seed all run the same code.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use safequiz_domain::bank::{Choices, MAX_OPTIONS};
use safequiz_domain::draw::OptionOrder;
use safequiz_domain::score;

use crate::StoreError;
use crate::record::{AttemptRow, StoredQuestion};

/// The `prev_day` of a participant's first active day: below every day, so it is before the
/// start of any period.
pub const NO_PREVIOUS_DAY: i32 = i32::MIN;

/// A `unit_days` row's counters (or what to add to them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct DayCounts {
    /// Participants whose active day this is, with this previous day.
    pub(crate) participants: i64,
    /// Attempts.
    pub(crate) attempts: i64,
    /// Their points.
    pub(crate) points: i64,
    /// Those with full marks.
    pub(crate) full_marks: i64,
}

/// A participant's totals (over all days, or one day), or what to add to them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ParticipantCounts {
    /// The unit of the attempts.
    pub(crate) unit_id: String,
    /// Attempts.
    pub(crate) attempts: i64,
    /// Their points.
    pub(crate) points: i64,
    /// Those with full marks.
    pub(crate) full_marks: i64,
    /// Time used over them, ms.
    pub(crate) time_used_ms: i64,
    /// When the last finished, Unix ms (a maximum, not a sum).
    pub(crate) last_finished_at_ms: i64,
    /// Under `best` or `last`, the number of the attempt counted: `points` and `time_used_ms`
    /// are then that attempt's, not sums (`write::count_totals`). `None` under `sum`.
    pub(crate) counted_attempt: Option<u32>,
}

impl ParticipantCounts {
    fn add(&mut self, attempt: &AttemptRow) {
        if self.attempts == 0 {
            self.unit_id.clone_from(&attempt.unit_id);
        }
        self.attempts += 1;
        self.points += i64::from(attempt.points);
        self.full_marks += i64::from(attempt.full_marks);
        self.time_used_ms += attempt.time_used_ms;
        self.last_finished_at_ms = if self.attempts == 1 {
            attempt.finished_at_ms
        } else {
            self.last_finished_at_ms.max(attempt.finished_at_ms)
        };
    }
}

/// A question counter (`question_counts`), or what to add to it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct AnswerCounts {
    /// How often the answer was given.
    pub(crate) answers: i64,
    /// The most options the question was shown with (a maximum, not a sum).
    pub(crate) options: i32,
}

/// `unit_days` key: unit (or the whole campaign), day, previous active day.
pub(crate) type UnitDay = (String, i32, i32);

/// Everything a batch adds but its question counters ([`answers`]), keyed as the tables are; every map is ordered, so two writers always touch rows in the same order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Increments {
    /// Per unit at every level of the attempt's unit (and the whole campaign), day and previous
    /// day.
    pub(crate) unit_days: BTreeMap<UnitDay, DayCounts>,
    /// Per participant.
    pub(crate) participant_totals: BTreeMap<i64, ParticipantCounts>,
    /// Per participant and day.
    pub(crate) participant_days: BTreeMap<(i64, i32), ParticipantCounts>,
    /// Whether `participant_totals` holds counted scores to write as they are (`best`, `last`)
    /// rather than sums to add (`sum`).
    pub(crate) counted_totals: bool,
}

impl Increments {
    /// Adds `counts` to the row `(level, day, prev)` of every level.
    fn add_day(&mut self, levels: &[&str], day: i32, prev: i32, counts: DayCounts) {
        for level in levels {
            let row = self
                .unit_days
                .entry(((*level).to_owned(), day, prev))
                .or_default();
            row.participants += counts.participants;
            row.attempts += counts.attempts;
            row.points += counts.points;
            row.full_marks += counts.full_marks;
        }
    }
}

/// What `attempts` (new to the record, all of one campaign) add to the roll-ups.
///
/// `known_days` holds each participant's active days before these attempts; `paths` each
/// unit's own id and its ancestors' (a unit missing from it, which the `units` table does not
/// have, counts for the whole campaign only, as a scope can only name units of the table);
/// `campaign` is how the whole campaign is keyed.
///
/// The participants of a period are counted by their previous active day (see the
/// `unit_days` migration): a new day `d` of a participant whose days before it end with `p`
/// adds one participant to `(d, p)`, and when the participant already had a later day `n`,
/// moves that day's participant from `(n, p)` to `(n, d)`. New days are taken in order, each
/// seeing the ones before it, so a batch is counted as if its days arrived one by one.
/// Attempts, points and full marks go to their day's row with the day's previous day.
///
/// A participant's attempts all carry the unit they registered with (the hot state never
/// changes it), which is what makes one set of days per participant right for every level.
pub(crate) fn increments(
    campaign: &str,
    attempts: &[&AttemptRow],
    known_days: &HashMap<i64, BTreeSet<i32>>,
    paths: &HashMap<String, Vec<String>>,
) -> Increments {
    let mut by_participant: BTreeMap<i64, BTreeMap<i32, Vec<&AttemptRow>>> = BTreeMap::new();
    for attempt in attempts {
        by_participant
            .entry(attempt.participant_id)
            .or_default()
            .entry(attempt.day)
            .or_default()
            .push(attempt);
    }
    let mut increments = Increments::default();
    for (participant, days) in by_participant {
        let mut active = known_days.get(&participant).cloned().unwrap_or_default();
        for (day, attempts) in days {
            let day_levels = levels(campaign, &attempts[0].unit_id, paths);
            if !active.contains(&day) {
                let prev = previous(&active, day);
                let one = DayCounts {
                    participants: 1,
                    ..DayCounts::default()
                };
                increments.add_day(&day_levels, day, prev, one);
                if let Some(&next) = active.range(day + 1..).next() {
                    let minus = DayCounts {
                        participants: -1,
                        ..DayCounts::default()
                    };
                    increments.add_day(&day_levels, next, prev, minus);
                    increments.add_day(&day_levels, next, day, one);
                }
                active.insert(day);
            }
            let prev = previous(&active, day);
            for attempt in attempts {
                let levels = levels(campaign, &attempt.unit_id, paths);
                let counts = DayCounts {
                    participants: 0,
                    attempts: 1,
                    points: i64::from(attempt.points),
                    full_marks: i64::from(attempt.full_marks),
                };
                increments.add_day(&levels, day, prev, counts);
                increments
                    .participant_totals
                    .entry(participant)
                    .or_default()
                    .add(attempt);
                increments
                    .participant_days
                    .entry((participant, day))
                    .or_default()
                    .add(attempt);
            }
        }
    }
    increments
}

/// The last active day before `day`, or [`NO_PREVIOUS_DAY`].
fn previous(active: &BTreeSet<i32>, day: i32) -> i32 {
    active
        .range(..day)
        .next_back()
        .copied()
        .unwrap_or(NO_PREVIOUS_DAY)
}

/// The roll-up keys of `unit`: the unit, its ancestors, and the whole campaign.
pub(crate) fn levels<'a>(
    campaign: &'a str,
    unit: &str,
    paths: &'a HashMap<String, Vec<String>>,
) -> Vec<&'a str> {
    let mut levels: Vec<&str> = paths
        .get(unit)
        .map(|path| path.iter().map(String::as_str).collect())
        .unwrap_or_default();
    levels.push(campaign);
    levels
}

/// One answer of an attempt as the question counters count it: the question, the options
/// chosen over the bank's option order (0: not answered), whether it scored, and how many
/// options the question was shown with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Answer {
    pub(crate) question_id: String,
    pub(crate) chosen: u8,
    pub(crate) correct: bool,
    pub(crate) options: i32,
}

/// The answers of `attempt`, each counted at every level of its unit (see [`levels`]) on its
/// day. Every question is read before any is returned, so a malformed one refuses the whole
/// attempt (a data error).
pub(crate) fn answers(attempt: &AttemptRow) -> Result<Vec<Answer>, StoreError> {
    let malformed = |problem: String| StoreError::Record {
        attempt_id: attempt.attempt_id.clone(),
        problem,
    };
    let questions = StoredQuestion::decode_all(&attempt.questions)
        .map_err(|error| malformed(error.to_string()))?;
    let mut answers = Vec::with_capacity(questions.len());
    for question in questions {
        let order = OptionOrder::from_slice(&question.order).ok_or_else(|| {
            malformed(format!(
                "the option order of {} is not a permutation",
                question.id
            ))
        })?;
        let key = Choices::from_bits(question.key);
        let shown = Choices::from_bits(question.chosen);
        answers.push(Answer {
            chosen: order.original(shown).bits(),
            correct: score::is_correct(key, shown),
            options: question.order.len().min(MAX_OPTIONS) as i32,
            question_id: question.id,
        });
    }
    Ok(answers)
}
