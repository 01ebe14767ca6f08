//! The boards: what a final attempt adds to a participant's totals and to a unit's roll-up, and
//! the order of an individual board with its encoding as a Redis sorted set's score and member.
//!
//! The published order of an individual board is: more points first, then less time used, then
//! the earlier last finish, then the smaller participant id. It is a total order, so boards
//! merged from shards and ranks summed over shards are exact.
//!
//! Redis sorts a board ascending by score, then by member as bytes. [`BoardScore`] makes the score
//! `time_used_ms - points × 10^10` (more points first, then less time) and [`BoardMember`] the
//! member `<last finish ms, 13 digits><participant id, 12 digits>` (then the earlier finish, then
//! the smaller id), so Redis's own order is the published order. That holds while time used stays
//! below 10^10 ms (115 days), points times 10^10 within 2^53 (scores are exact in the f64 Redis
//! replies with: under 900,000 points), last finishes below 10^13 ms (the year 2286) and ids below
//! 10^12.
//!
//! This module is the one home of these rules. `finalize` in
//! `crates/safequiz-redis/lua/attempt_prelude.lua` runs them on the hot path; a property test in
//! `crates/safequiz-redis/tests/it/` requires the script and this module to agree. The Redis
//! reads, the restore and the reconcile call this module.
//!
//! It must not know Redis keys or commands: it only says what the numbers and texts are.

use std::cmp::Ordering;

/// How many milliseconds of time used one point outweighs on a board score.
pub const POINT_WEIGHT: i64 = 10_000_000_000;

/// The digits of a board member's last finish (Unix ms).
const FINISH_DIGITS: usize = 13;

/// The digits of a board member's participant id.
const PARTICIPANT_DIGITS: usize = 12;

/// What places a participant on a board before the tie-breaks: points and time used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct BoardScore {
    /// Points over all final attempts.
    pub points: i64,
    /// Time used over all final attempts, ms (below [`POINT_WEIGHT`]).
    pub time_used_ms: i64,
}

impl BoardScore {
    /// The sorted-set score: `time_used_ms - points × 10^10`, lower is better.
    pub fn to_redis_score(self) -> i64 {
        self.time_used_ms - self.points * POINT_WEIGHT
    }

    /// The points and time used a sorted-set score stands for.
    pub fn from_redis_score(score: i64) -> BoardScore {
        let negated = -score;
        // Time used is in [0, 10^10), so the points are the negated score divided by the weight,
        // rounded up.
        let points = (negated + POINT_WEIGHT - 1).div_euclid(POINT_WEIGHT);
        BoardScore {
            points,
            time_used_ms: points * POINT_WEIGHT - negated,
        }
    }
}

/// Who a board entry is, with the first tie-break: their last finish and their id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct BoardMember {
    /// When the participant's last final attempt finished, Unix ms.
    pub last_finished_ms: i64,
    /// The participant.
    pub participant: u64,
}

impl BoardMember {
    /// The sorted-set member: the last finish in 13 digits, then the id in 12 digits.
    pub fn encode(&self) -> String {
        format!(
            "{:0finish$}{:0participant$}",
            self.last_finished_ms,
            self.participant,
            finish = FINISH_DIGITS,
            participant = PARTICIPANT_DIGITS
        )
    }

    /// Reads a member [`BoardMember::encode`] wrote; `None` for anything else.
    pub fn parse(member: &str) -> Option<BoardMember> {
        if member.len() != FINISH_DIGITS + PARTICIPANT_DIGITS
            || !member.bytes().all(|byte| byte.is_ascii_digit())
        {
            return None;
        }
        let (last, participant) = member.split_at(FINISH_DIGITS);
        Some(BoardMember {
            last_finished_ms: last.parse().ok()?,
            participant: participant.parse().ok()?,
        })
    }
}

/// A participant's place on a board: their score and who they are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Placing {
    /// Points and time used.
    pub score: BoardScore,
    /// Last finish and id.
    pub member: BoardMember,
}

impl Ord for Placing {
    /// The published order: more points, less time used, earlier last finish, smaller id.
    fn cmp(&self, other: &Placing) -> Ordering {
        other
            .score
            .points
            .cmp(&self.score.points)
            .then(self.score.time_used_ms.cmp(&other.score.time_used_ms))
            .then(
                self.member
                    .last_finished_ms
                    .cmp(&other.member.last_finished_ms),
            )
            .then(self.member.participant.cmp(&other.member.participant))
    }
}

impl PartialOrd for Placing {
    fn partial_cmp(&self, other: &Placing) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// When an attempt finished and how much of its time counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Finish {
    /// When it counts as submitted, Unix ms.
    pub finished_ms: i64,
    /// Time counted, ms: from the start to the submit, at most the time limit.
    pub time_used_ms: i64,
}

impl Finish {
    /// A submit at `now_ms` (within the deadline and its grace): it finished then, and the time
    /// counted stops at the deadline, so the grace is never held against anyone.
    pub fn submitted(started_ms: i64, deadline_ms: i64, now_ms: i64) -> Finish {
        Finish {
            finished_ms: now_ms,
            time_used_ms: now_ms.min(deadline_ms) - started_ms,
        }
    }

    /// An automatic submission by the server's rules: at the deadline, whenever the sweep or
    /// the read that finalized it happened to run.
    pub fn automatic(started_ms: i64, deadline_ms: i64) -> Finish {
        Finish {
            finished_ms: deadline_ms,
            time_used_ms: deadline_ms - started_ms,
        }
    }
}

/// A participant's totals over their final attempts: what places them on the boards.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ParticipantTotals {
    /// Points of all final attempts.
    pub points: i64,
    /// Time used over all final attempts, ms.
    pub time_used_ms: i64,
    /// Final attempts.
    pub attempts: u32,
    /// When the last final attempt finished, Unix ms (0 before any).
    pub last_finished_ms: i64,
}

impl ParticipantTotals {
    /// Counts one more final attempt.
    pub fn add(&mut self, points: u32, finish: Finish) {
        self.points += i64::from(points);
        self.time_used_ms += finish.time_used_ms;
        self.attempts += 1;
        self.last_finished_ms = self.last_finished_ms.max(finish.finished_ms);
    }

    /// The score these totals put on every board of the participant.
    pub fn score(&self) -> BoardScore {
        BoardScore {
            points: self.points,
            time_used_ms: self.time_used_ms,
        }
    }

    /// The member these totals put on every board of `participant`.
    pub fn member(&self, participant: u64) -> BoardMember {
        BoardMember {
            last_finished_ms: self.last_finished_ms,
            participant,
        }
    }

    /// The participant's place on their boards.
    pub fn placing(&self, participant: u64) -> Placing {
        Placing {
            score: self.score(),
            member: self.member(participant),
        }
    }
}

/// A unit's figures, rolled up from its whole subtree (or the whole campaign's).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnitTotals {
    /// Points of all final attempts.
    pub points: u64,
    /// Final attempts.
    pub attempts: u64,
    /// Participants with at least one final attempt.
    pub participants: u64,
    /// Final attempts with full marks (see [`crate::score::is_full_marks`]).
    pub full_marks: u64,
}

impl UnitTotals {
    /// Counts a final attempt of a participant of the unit's subtree; `first` when it is that
    /// participant's first final attempt (they start counting among the participants).
    pub fn add_attempt(&mut self, points: u32, full_marks: bool, first: bool) {
        self.points += u64::from(points);
        self.attempts += 1;
        self.participants += u64::from(first);
        self.full_marks += u64::from(full_marks);
    }

    /// The totals of two disjoint parts added (shards, or sibling subtrees).
    pub fn merge(self, other: UnitTotals) -> UnitTotals {
        UnitTotals {
            points: self.points + other.points,
            attempts: self.attempts + other.attempts,
            participants: self.participants + other.participants,
            full_marks: self.full_marks + other.full_marks,
        }
    }
}

/// Which individual boards a campaign keeps live (docs/design.md §3.8): the whole campaign's
/// always, and one per unit of a participant's path (the unit ids from the entry's root down to
/// their own) down to `levels` levels, every level when `levels` is absent. Each kept level costs
/// every participant one board entry in Redis (about 120 B), so the national campaign keeps its
/// national board only (issue 15): a unit's own best are then read from the record by its
/// organizers, and `me` tells the national rank.
///
/// This is the one home of the rule: the board writer, the restore, `me`, the public board and
/// the reconcile all ask it which boards of a path exist.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndividualBoards {
    levels: Option<usize>,
}

impl IndividualBoards {
    /// A board for the campaign and for every unit of every path.
    pub const EVERY_LEVEL: IndividualBoards = IndividualBoards { levels: None };

    /// A board for the campaign and for the units of the first `levels` levels of a path (0: the
    /// campaign's board only).
    pub fn down_to(levels: usize) -> IndividualBoards {
        IndividualBoards {
            levels: Some(levels),
        }
    }

    /// How many levels below the campaign keep a board; `None`: every level.
    pub fn levels(self) -> Option<usize> {
        self.levels
    }

    /// The units of `path` (from the entry's root down) whose boards are kept: its first levels.
    pub fn kept<T>(self, path: &[T]) -> &[T] {
        &path[..path.len().min(self.depth())]
    }

    /// The same for a path read one unit at a time (a stream entry's comma-joined path).
    pub fn kept_units<'a>(
        self,
        path: impl Iterator<Item = &'a str>,
    ) -> impl Iterator<Item = &'a str> {
        path.take(self.depth())
    }

    /// Whether a unit whose path from the entry's root has `length` units (1: a root unit)
    /// has a board of its own.
    pub fn keeps(self, length: usize) -> bool {
        length <= self.depth()
    }

    fn depth(self) -> usize {
        self.levels.unwrap_or(usize::MAX)
    }
}

#[cfg(test)]
mod tests;
