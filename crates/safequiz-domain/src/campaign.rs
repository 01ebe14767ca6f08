//! Campaigns: one competition's rules, its question pool and its unit tree.
//!
//! A campaign file (`config/campaigns/*.toml`, see [`CampaignFile`]) is parsed from text, then
//! [`Campaign::build`] checks every key against the banks and unit files the caller loaded and
//! reports all problems at once, each naming its key. Deadlines, grace and the campaign window are
//! decided here from instants the caller passes.

use std::collections::BTreeMap;
use std::fmt;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;

use crate::bank::Bank;
use crate::calendar;
use crate::draw::{DrawPlan, QuestionPool};
use crate::units::{UnitFile, UnitTree};

/// A campaign file as written, before validation.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignFile {
    /// Short id used in URLs and keys: lowercase letters, digits, `-`.
    pub id: String,
    /// The title participants see.
    pub title: String,
    /// First instant attempts may start (RFC 3339 with offset).
    pub opens_at: String,
    /// Instant from which no attempt may start (RFC 3339 with offset).
    pub closes_at: String,
    /// IANA time zone whose calendar days count "once a day".
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// Seconds an attempt lasts from its start.
    pub time_limit_secs: i64,
    /// Seconds after the deadline in which answers and submits still count.
    #[serde(default = "default_grace_secs")]
    pub grace_secs: i64,
    /// Questions drawn per attempt.
    pub questions_per_attempt: i64,
    /// Attempts a participant may start per calendar day.
    pub attempts_per_day: i64,
    /// Points per correctly answered question.
    pub points_per_question: i64,
    /// Ids of the banks the draw uses.
    pub banks: Vec<String>,
    /// The optional draw plan.
    #[serde(default)]
    pub draw: DrawSection,
    /// The entries (地区, 央企, ...), each with its unit file.
    pub entries: Vec<EntrySection>,
}

/// The `[draw]` table of a campaign file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrawSection {
    /// Exact number of questions per attempt from a category; the rest come from the others.
    #[serde(default)]
    pub quotas: BTreeMap<String, i64>,
}

/// One `[[entries]]` table of a campaign file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntrySection {
    /// Short id: `region`, `enterprise`, ...
    pub id: String,
    /// The name participants see: 地区, 央企.
    pub name: String,
    /// The unit file, relative to the configuration folder.
    pub units: String,
}

fn default_time_zone() -> String {
    "Asia/Shanghai".to_owned()
}

fn default_grace_secs() -> i64 {
    2
}

/// One problem in a campaign file: the key and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The key, e.g. `time_limit_secs` or `entries[1].units`; empty for the file as a whole.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "key `{}`: {}", self.key, self.message)
        }
    }
}

/// Parses a campaign file's text; a syntax or type error names the line and key it found.
pub fn parse_campaign_file(text: &str) -> Result<CampaignFile, ConfigProblem> {
    toml::from_str(text).map_err(|error| {
        let Some(span) = error.span() else {
            return ConfigProblem {
                key: String::new(),
                message: error.message().to_owned(),
            };
        };
        let start = span.start.min(text.len());
        let line = crate::bank::check::line_of(text, start);
        // The key is what stands before `=` on the line the error points at, when it is a
        // key-value line; a table header or a broken line has none.
        let line_text = text.lines().nth(line - 1).unwrap_or("");
        let key = line_text
            .split_once('=')
            .map(|(key, _)| key.trim())
            .filter(|key| !key.starts_with('['));
        ConfigProblem {
            key: key.unwrap_or("").to_owned(),
            message: format!("line {line}: {}", error.message()),
        }
    })
}

/// An entry of a validated campaign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Short id.
    pub id: String,
    /// Name participants see.
    pub name: String,
}

/// A validated campaign, ready to serve.
#[derive(Clone, Debug)]
pub struct Campaign {
    /// Short id.
    pub id: String,
    /// Title.
    pub title: String,
    /// First instant attempts may start.
    pub opens_at: Timestamp,
    /// Instant from which no attempt may start.
    pub closes_at: Timestamp,
    /// The zone's IANA name, as configured.
    pub time_zone_name: String,
    /// The zone whose days count.
    pub time_zone: TimeZone,
    /// Seconds per attempt.
    pub time_limit_secs: u32,
    /// Seconds of grace after the deadline.
    pub grace_secs: u32,
    /// Attempts per calendar day.
    pub attempts_per_day: u32,
    /// Points per correct answer.
    pub points_per_question: u32,
    /// Ids of the banks drawn from.
    pub banks: Vec<String>,
    /// How many questions and from which categories.
    pub plan: DrawPlan,
    /// The questions of those banks.
    pub pool: QuestionPool,
    /// The entries, in file order; [`crate::units::Unit::entry`] indexes this.
    pub entries: Vec<Entry>,
    /// All entries' units.
    pub units: UnitTree,
}

/// Where an instant stands relative to a campaign's window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// Before `opens_at`.
    NotYetOpen,
    /// Attempts may start.
    Open,
    /// At or after `closes_at`.
    Closed,
}

impl Campaign {
    /// Validates `file` against the loaded banks and the unit files of its entries (in entry
    /// order), reporting every problem.
    pub fn build(
        file: CampaignFile,
        unit_files: &[UnitFile],
        banks: &[Bank],
    ) -> Result<Campaign, Vec<ConfigProblem>> {
        let mut problems = Vec::new();
        let mut report = |key: &str, message: String| {
            problems.push(ConfigProblem {
                key: key.to_owned(),
                message,
            })
        };

        if file.id.is_empty()
            || file.id.len() > 32
            || !file
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            report(
                "id",
                format!(
                    "`{}` must be 1 to 32 lowercase letters, digits or `-`",
                    file.id
                ),
            );
        }
        if file.title.trim().is_empty() {
            report("title", "must not be empty".to_owned());
        }
        let opens_at = parse_instant("opens_at", &file.opens_at, &mut report);
        let closes_at = parse_instant("closes_at", &file.closes_at, &mut report);
        if let (Some(opens), Some(closes)) = (opens_at, closes_at)
            && opens >= closes
        {
            report(
                "closes_at",
                format!("{closes} is not after opens_at {opens}"),
            );
        }
        let time_zone = TimeZone::get(&file.time_zone).map_err(|_| {
            report(
                "time_zone",
                format!(
                    "`{}` is not a known IANA time zone (e.g. Asia/Shanghai)",
                    file.time_zone
                ),
            );
        });
        let time_limit_secs = in_range(
            "time_limit_secs",
            file.time_limit_secs,
            10,
            3600,
            &mut report,
        );
        let grace_secs = in_range("grace_secs", file.grace_secs, 0, 30, &mut report);
        let questions_per_attempt = in_range(
            "questions_per_attempt",
            file.questions_per_attempt,
            1,
            50,
            &mut report,
        );
        let attempts_per_day = in_range(
            "attempts_per_day",
            file.attempts_per_day,
            1,
            100,
            &mut report,
        );
        let points_per_question = in_range(
            "points_per_question",
            file.points_per_question,
            1,
            100,
            &mut report,
        );

        let mut questions = Vec::new();
        if file.banks.is_empty() {
            report("banks", "must name at least one bank".to_owned());
        }
        for (index, bank_id) in file.banks.iter().enumerate() {
            match banks.iter().find(|bank| bank.id == *bank_id) {
                Some(bank) if !file.banks[..index].contains(bank_id) => {
                    questions.extend(bank.questions.iter().cloned())
                }
                Some(_) => report("banks", format!("bank `{bank_id}` is listed twice")),
                None => {
                    let known: Vec<&str> = banks.iter().map(|bank| bank.id.as_str()).collect();
                    report(
                        "banks",
                        format!("no bank has id `{bank_id}` (loaded: {})", known.join(", ")),
                    );
                }
            }
        }
        let mut quotas = Vec::new();
        for (category, count) in &file.draw.quotas {
            let key = format!("draw.quotas.{category}");
            let Some(count) = in_range(&key, *count, 1, 50, &mut report) else {
                continue;
            };
            if !questions
                .iter()
                .any(|question| question.category == *category)
            {
                report(
                    &key,
                    format!("the campaign's banks have no question of category `{category}`"),
                );
            }
            quotas.push((category.clone(), count as usize));
        }

        if file.entries.is_empty() {
            report(
                "entries",
                "must list at least one entry (e.g. 地区)".to_owned(),
            );
        }
        if unit_files.len() != file.entries.len() {
            report(
                "entries",
                format!(
                    "{} entries but {} unit files were loaded",
                    file.entries.len(),
                    unit_files.len()
                ),
            );
        }
        let mut entries = Vec::new();
        for (index, entry) in file.entries.iter().enumerate() {
            if entry.id.is_empty() || !entry.id.chars().all(|c| c.is_ascii_lowercase() || c == '-')
            {
                report(
                    &format!("entries[{index}].id"),
                    format!("`{}` must be lowercase letters or `-`", entry.id),
                );
            } else if file.entries[..index]
                .iter()
                .any(|earlier| earlier.id == entry.id)
            {
                report(
                    &format!("entries[{index}].id"),
                    format!("`{}` is used by two entries", entry.id),
                );
            }
            if entry.name.trim().is_empty() {
                report(
                    &format!("entries[{index}].name"),
                    "must not be empty".to_owned(),
                );
            }
            if unit_files
                .get(index)
                .is_some_and(|units| units.rows.is_empty())
            {
                report(
                    &format!("entries[{index}].units"),
                    format!("{} lists no units", entry.units),
                );
            }
            entries.push(Entry {
                id: entry.id.clone(),
                name: entry.name.trim().to_owned(),
            });
        }
        let unit_refs: Vec<&UnitFile> = unit_files.iter().collect();
        let units = UnitTree::build(&unit_refs).map_err(|error| report("entries", error.message));

        let plan = DrawPlan {
            questions_per_attempt: questions_per_attempt.unwrap_or(1) as usize,
            quotas,
        };
        let pool = if questions.is_empty() {
            Err(())
        } else {
            QuestionPool::new(questions, &plan).map_err(|error| report("draw", error.to_string()))
        };

        match (
            opens_at,
            closes_at,
            time_zone,
            time_limit_secs,
            grace_secs,
            questions_per_attempt,
            attempts_per_day,
            points_per_question,
            units,
            pool,
        ) {
            (
                Some(opens_at),
                Some(closes_at),
                Ok(time_zone),
                Some(time_limit_secs),
                Some(grace_secs),
                Some(_),
                Some(attempts_per_day),
                Some(points_per_question),
                Ok(units),
                Ok(pool),
            ) if problems.is_empty() => Ok(Campaign {
                id: file.id,
                title: file.title.trim().to_owned(),
                opens_at,
                closes_at,
                time_zone_name: file.time_zone,
                time_zone,
                time_limit_secs,
                grace_secs,
                attempts_per_day,
                points_per_question,
                banks: file.banks,
                plan,
                pool,
                entries,
                units,
            }),
            _ => Err(problems),
        }
    }

    /// Where `now` stands relative to the campaign's window.
    pub fn window(&self, now: Timestamp) -> Window {
        if now < self.opens_at {
            Window::NotYetOpen
        } else if now < self.closes_at {
            Window::Open
        } else {
            Window::Closed
        }
    }

    /// The calendar day `now` falls on in the campaign's zone.
    pub fn day_of(&self, now: Timestamp) -> Date {
        calendar::day_of(now, &self.time_zone)
    }

    /// The deadline of an attempt started at `started_at`.
    pub fn deadline(&self, started_at: Timestamp) -> Timestamp {
        started_at
            .saturating_add(SignedDuration::from_secs(i64::from(self.time_limit_secs)))
            .unwrap_or(Timestamp::MAX)
    }

    /// The last instant an answer or submit for an attempt with `deadline` is accepted.
    pub fn accepts_until(&self, deadline: Timestamp) -> Timestamp {
        deadline
            .saturating_add(SignedDuration::from_secs(i64::from(self.grace_secs)))
            .unwrap_or(Timestamp::MAX)
    }

    /// The questions per attempt.
    pub fn questions_per_attempt(&self) -> usize {
        self.plan.questions_per_attempt
    }

    /// Points of a perfect attempt.
    pub fn max_points(&self) -> u32 {
        self.points_per_question * self.plan.questions_per_attempt as u32
    }
}

fn parse_instant(
    key: &str,
    text: &str,
    report: &mut impl FnMut(&str, String),
) -> Option<Timestamp> {
    match text.parse::<Timestamp>() {
        Ok(instant) => Some(instant),
        Err(_) => {
            report(
                key,
                format!(
                    "`{text}` is not an instant with an offset, e.g. 2026-06-01T00:00:00+08:00"
                ),
            );
            None
        }
    }
}

fn in_range(
    key: &str,
    value: i64,
    min: i64,
    max: i64,
    report: &mut impl FnMut(&str, String),
) -> Option<u32> {
    if (min..=max).contains(&value) {
        Some(value as u32)
    } else {
        report(
            key,
            format!("{value} is out of range; it must be between {min} and {max}"),
        );
        None
    }
}

#[cfg(test)]
mod tests;
