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

use crate::bank::{Bank, Question};
use crate::board::IndividualBoards;
use crate::calendar;
use crate::certificate::Certificate;
use crate::draw::{DrawPlan, QuestionPool};
use crate::prizes::{Prize, PrizeRule, Tier};
use crate::score::{Counted, KindPoints, Scoring};
use crate::units::{UnitFile, UnitTree};

pub mod notice;

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
    /// The personal-information notice shown before registration (issue 20); without it
    /// registration asks for no consent.
    #[serde(default)]
    pub notice: Option<notice::NoticeSection>,
    /// Whether every organizer of the campaign must log in with a second factor (TOTP), whatever
    /// `auth.organizer_totp_required` says (issue 20).
    #[serde(default)]
    pub organizer_totp_required: bool,
    /// The prizes, drawn in file order after the close (docs/prizes.md).
    #[serde(default)]
    pub prizes: Vec<PrizeSection>,
    /// The practice room (练功房); absent means none.
    #[serde(default)]
    pub practice: Option<PracticeSection>,
    /// Attempts a participant may start over the whole campaign (issue 18); absent: no cap
    /// beyond `attempts_per_day`.
    #[serde(default)]
    pub attempts_total: Option<i64>,
    /// Which final attempts make a participant's score: `sum` (default), `best` or `last`.
    #[serde(default)]
    pub counted: Option<String>,
    /// Points per correct answer by kind; absent: `points_per_question` for every kind.
    #[serde(default)]
    pub points: Option<PointsSection>,
    /// The study-hour certificate (学时证明); absent means none.
    #[serde(default)]
    pub certificate: Option<CertificateSection>,
    /// Which rankings the public sees (`public_rankings = { units = false, individuals =
    /// false }`); absent: both shown.
    #[serde(default)]
    pub public_rankings: PublicRankings,
    /// Fair-play signals (issue 21, docs/fair-play.md): observe each participant request's
    /// device token, network and page load, and compute the signals. Absent: off.
    #[serde(default)]
    pub fair_play: bool,
    /// How many levels of the unit trees keep an individual board below the whole campaign's
    /// (0: the campaign's only); absent: every level (`IndividualBoards`).
    #[serde(default)]
    pub individual_board_levels: Option<i64>,
}

/// Which public rankings a campaign shows (issue 21: current national rules discourage
/// compulsory point rankings in government apps). Hidden rankings answer `404 rankings_hidden`
/// on the public board endpoints and live streams and leave the participant's ranks out of
/// `me`; organizers' figures are unchanged. Both shown by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicRankings {
    /// The units' board.
    #[serde(default = "shown")]
    pub units: bool,
    /// The individuals' boards.
    #[serde(default = "shown")]
    pub individuals: bool,
}

fn shown() -> bool {
    true
}

impl Default for PublicRankings {
    fn default() -> PublicRankings {
        PublicRankings {
            units: true,
            individuals: true,
        }
    }
}

/// The `[points]` table of a campaign file: points per correct answer by kind. A kind left out
/// earns `points_per_question`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointsSection {
    /// A single-choice question.
    #[serde(default)]
    pub single: Option<i64>,
    /// A multiple-choice question.
    #[serde(default)]
    pub multiple: Option<i64>,
    /// A true/false question.
    #[serde(default)]
    pub judge: Option<i64>,
}

/// The `[certificate]` table of a campaign file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateSection {
    /// The counted score at or above which a participant earns one.
    pub min_score: i64,
    /// The study hours it certifies.
    pub hours: i64,
    /// Days after `closes_at` during which it can be downloaded.
    pub available_days: i64,
}

/// One `[[prizes]]` table of a campaign file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrizeSection {
    /// The prize's name, e.g. 个人优胜奖.
    pub name: String,
    /// `full_marks_then_rank`, `rank_tiers` or `lottery`.
    pub rule: String,
    /// Winners; for `rank_tiers`, optional and then the sum of the tiers.
    #[serde(default)]
    pub count: Option<i64>,
    /// The tiers of `rank_tiers`, best first.
    #[serde(default)]
    pub tiers: Vec<TierSection>,
    /// The lottery's threshold: eligible with points strictly greater than this.
    #[serde(default)]
    pub min_points: Option<i64>,
    /// Leave out the winners of the prizes above in the file.
    #[serde(default)]
    pub exclude_earlier_winners: bool,
}

/// One `[[prizes.tiers]]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierSection {
    /// What the tier awards, e.g. 一等奖.
    pub name: String,
    /// Its winners.
    pub count: i64,
}

/// The `[practice]` table of a campaign file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PracticeSection {
    /// Whether practice attempts may start at all.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// First instant practice may start; may be before the campaign opens. Default: `opens_at`.
    #[serde(default)]
    pub opens_at: Option<String>,
    /// Instant from which no practice may start. Default: `closes_at`.
    #[serde(default)]
    pub closes_at: Option<String>,
    /// Practice attempts per participant and calendar day; absent means unlimited.
    #[serde(default)]
    pub per_day: Option<i64>,
    /// Banks practice draws from; absent means the campaign's own pool and draw plan.
    #[serde(default)]
    pub banks: Option<Vec<String>>,
}

fn default_true() -> bool {
    true
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
    /// The unit file, relative to the configuration folder. For `kind = "organizations"`, the
    /// region tree the organizations register under.
    pub units: String,
    /// `units` (the default: participants pick a leaf of the file) or `organizations`
    /// (organizations register under the file's regions at run time and participants under
    /// them: docs/design.md §7).
    #[serde(default)]
    pub kind: EntryKind,
}

/// How an entry's units come to be.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// Every unit is in the entry's file.
    #[default]
    Units,
    /// Organizations register themselves under the file's regions (issue 18).
    Organizations,
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
    /// Whether its units are the file's, or organizations registered under the file's regions.
    pub kind: EntryKind,
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
    /// The personal-information notice and the under-14 path (`None`: no consent asked).
    pub notice: Option<notice::Notice>,
    /// Every organizer must log in with a second factor.
    pub organizer_totp_required: bool,
    /// The prizes in file order.
    pub prizes: Vec<Prize>,
    /// The practice room, when the file enables one.
    pub practice: Option<Practice>,
    /// Points by kind, counted attempts and the cap over the campaign (docs/design.md §3.4).
    pub scoring: Scoring,
    /// The study-hour certificate, when the file has one.
    pub certificate: Option<Certificate>,
    /// Which public rankings are shown (`PublicRankings`).
    pub public_rankings: PublicRankings,
    /// Whether participant requests are observed for the fair-play signals; off by default
    /// because the observations cost the service and the record (docs/fair-play.md "Cost").
    pub fair_play: bool,
    /// Which individual boards are kept live: the campaign's and its units' down to a level.
    pub individual_boards: IndividualBoards,
}

/// A campaign's practice room (练功房): attempts that are reviewed at once and never counted.
#[derive(Clone, Debug)]
pub struct Practice {
    /// First instant practice may start.
    pub opens_at: Timestamp,
    /// Instant from which no practice may start.
    pub closes_at: Timestamp,
    /// Practice attempts per participant and day; `None` is unlimited.
    pub per_day: Option<u32>,
    /// The questions practice draws from, with the draw plan.
    pub pool: QuestionPool,
    /// The plan of a practice draw.
    pub plan: DrawPlan,
}

impl Practice {
    /// Whether a practice attempt may start at `now`.
    pub fn is_open(&self, now: Timestamp) -> bool {
        self.opens_at <= now && now < self.closes_at
    }
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
        let mut problems = Problems::default();
        check_id(&file.id, &mut problems);
        check_title(&file.title, &mut problems);
        let window = check_window(&file.opens_at, &file.closes_at, &mut problems);
        let time_zone = check_time_zone(&file.time_zone, &mut problems);
        let limits = Limits::check(&file, &mut problems);
        let questions = collect_questions(&file.banks, banks, &mut problems);
        let quotas = check_quotas(&file.draw.quotas, &questions, &mut problems);
        let entries = check_entries(&file.entries, unit_files, &mut problems);
        let units = build_units(unit_files, &mut problems);
        // An invalid size was reported above; one question still lets the pool check quotas.
        let plan = DrawPlan {
            questions_per_attempt: limits.questions_per_attempt.unwrap_or(1) as usize,
            quotas,
        };
        let pool = build_pool(questions, &plan, &mut problems);
        let notice = notice::check_notice(
            file.notice.as_ref(),
            window.map(|(_, closes)| closes),
            time_zone.as_ref(),
            &mut problems,
        );
        let prizes = check_prizes(&file.prizes, &mut problems);
        let practice = check_practice(
            file.practice.as_ref(),
            window,
            &plan,
            pool.as_ref(),
            banks,
            &mut problems,
        );
        let scoring = check_scoring(&file, limits.points_per_question, &mut problems);
        let certificate = check_certificate(
            file.certificate.as_ref(),
            scoring.as_ref(),
            pool.as_ref(),
            &plan,
            &mut problems,
        );
        let individual_boards = match file.individual_board_levels {
            None => IndividualBoards::EVERY_LEVEL,
            Some(levels) => in_range("individual_board_levels", levels, 0, 16, &mut problems)
                .map_or(IndividualBoards::EVERY_LEVEL, |levels| {
                    IndividualBoards::down_to(levels as usize)
                }),
        };

        match (
            window,
            time_zone,
            limits.time_limit_secs,
            limits.grace_secs,
            limits.questions_per_attempt,
            limits.attempts_per_day,
            limits.points_per_question,
            units,
            pool,
            scoring,
        ) {
            (
                Some((opens_at, closes_at)),
                Some(time_zone),
                Some(time_limit_secs),
                Some(grace_secs),
                Some(_),
                Some(attempts_per_day),
                Some(points_per_question),
                Some(units),
                Some(pool),
                Some(scoring),
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
                notice,
                organizer_totp_required: file.organizer_totp_required,
                prizes,
                practice,
                scoring,
                certificate,
                public_rankings: file.public_rankings,
                fair_play: file.fair_play,
                individual_boards,
            }),
            _ => Err(problems.into_vec()),
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

    /// Points of a perfect attempt. With points by kind, the most an attempt of the campaign's
    /// size can earn: every question of the kind worth most that the pool can give (an attempt
    /// scores out of its own questions' points, [`Scoring::max_points`]).
    pub fn max_points(&self) -> u32 {
        max_attempt_points(&self.scoring, &self.pool, &self.plan)
    }
}

/// The problems found while building a campaign, in the order the keys are checked.
#[derive(Default)]
struct Problems(Vec<ConfigProblem>);

impl Problems {
    /// Records that `key` is wrong, and why.
    fn report(&mut self, key: &str, message: String) {
        self.0.push(ConfigProblem {
            key: key.to_owned(),
            message,
        });
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn into_vec(self) -> Vec<ConfigProblem> {
        self.0
    }
}

/// The numeric settings of a campaign file, each `None` when out of its range.
struct Limits {
    time_limit_secs: Option<u32>,
    grace_secs: Option<u32>,
    questions_per_attempt: Option<u32>,
    attempts_per_day: Option<u32>,
    points_per_question: Option<u32>,
}

impl Limits {
    /// Checks each setting against its range, reporting every one outside it.
    fn check(file: &CampaignFile, problems: &mut Problems) -> Limits {
        Limits {
            time_limit_secs: in_range("time_limit_secs", file.time_limit_secs, 10, 3600, problems),
            grace_secs: in_range("grace_secs", file.grace_secs, 0, 30, problems),
            questions_per_attempt: in_range(
                "questions_per_attempt",
                file.questions_per_attempt,
                1,
                50,
                problems,
            ),
            attempts_per_day: in_range("attempts_per_day", file.attempts_per_day, 1, 100, problems),
            points_per_question: in_range(
                "points_per_question",
                file.points_per_question,
                1,
                100,
                problems,
            ),
        }
    }
}

/// The id appears in URLs and Redis keys, so it is short and plain.
fn check_id(id: &str, problems: &mut Problems) {
    if id.is_empty()
        || id.len() > 32
        || !id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        problems.report(
            "id",
            format!("`{id}` must be 1 to 32 lowercase letters, digits or `-`"),
        );
    }
}

fn check_title(title: &str, problems: &mut Problems) {
    if title.trim().is_empty() {
        problems.report("title", "must not be empty".to_owned());
    }
}

/// The opening and closing instants, when both parse; a window that closes before it opens is
/// reported.
fn check_window(
    opens_at: &str,
    closes_at: &str,
    problems: &mut Problems,
) -> Option<(Timestamp, Timestamp)> {
    let opens = parse_instant("opens_at", opens_at, problems);
    let closes = parse_instant("closes_at", closes_at, problems);
    let (opens, closes) = (opens?, closes?);
    if opens >= closes {
        problems.report(
            "closes_at",
            format!("{closes} is not after opens_at {opens}"),
        );
    }
    Some((opens, closes))
}

fn check_time_zone(name: &str, problems: &mut Problems) -> Option<TimeZone> {
    match TimeZone::get(name) {
        Ok(zone) => Some(zone),
        Err(_) => {
            problems.report(
                "time_zone",
                format!("`{name}` is not a known IANA time zone (e.g. Asia/Shanghai)"),
            );
            None
        }
    }
}

/// The questions of the listed banks, each bank once; unknown and repeated banks are reported.
fn collect_questions(
    bank_ids: &[String],
    banks: &[Bank],
    problems: &mut Problems,
) -> Vec<Question> {
    let mut questions = Vec::new();
    if bank_ids.is_empty() {
        problems.report("banks", "must name at least one bank".to_owned());
    }
    for (index, bank_id) in bank_ids.iter().enumerate() {
        match banks.iter().find(|bank| bank.id == *bank_id) {
            Some(bank) if !bank_ids[..index].contains(bank_id) => {
                questions.extend(bank.questions.iter().cloned())
            }
            Some(_) => problems.report("banks", format!("bank `{bank_id}` is listed twice")),
            None => {
                let known: Vec<&str> = banks.iter().map(|bank| bank.id.as_str()).collect();
                problems.report(
                    "banks",
                    format!("no bank has id `{bank_id}` (loaded: {})", known.join(", ")),
                );
            }
        }
    }
    questions
}

/// The draw plan's quotas in range; a quota for a category no question has is reported but
/// kept, so that the pool reports nothing more about it.
fn check_quotas(
    quotas: &BTreeMap<String, i64>,
    questions: &[Question],
    problems: &mut Problems,
) -> Vec<(String, usize)> {
    let mut checked = Vec::new();
    for (category, count) in quotas {
        let key = format!("draw.quotas.{category}");
        let Some(count) = in_range(&key, *count, 1, 50, problems) else {
            continue;
        };
        if !questions
            .iter()
            .any(|question| question.category == *category)
        {
            problems.report(
                &key,
                format!("the campaign's banks have no question of category `{category}`"),
            );
        }
        checked.push((category.clone(), count as usize));
    }
    checked
}

/// The entries in file order: one unit file each, distinct plain ids, a name, some units.
fn check_entries(
    sections: &[EntrySection],
    unit_files: &[UnitFile],
    problems: &mut Problems,
) -> Vec<Entry> {
    if sections.is_empty() {
        problems.report(
            "entries",
            "must list at least one entry (e.g. 地区)".to_owned(),
        );
    }
    if unit_files.len() != sections.len() {
        problems.report(
            "entries",
            format!(
                "{} entries but {} unit files were loaded",
                sections.len(),
                unit_files.len()
            ),
        );
    }
    let mut entries = Vec::new();
    for (index, entry) in sections.iter().enumerate() {
        if entry.id.is_empty() || !entry.id.chars().all(|c| c.is_ascii_lowercase() || c == '-') {
            problems.report(
                &format!("entries[{index}].id"),
                format!("`{}` must be lowercase letters or `-`", entry.id),
            );
        } else if sections[..index]
            .iter()
            .any(|earlier| earlier.id == entry.id)
        {
            problems.report(
                &format!("entries[{index}].id"),
                format!("`{}` is used by two entries", entry.id),
            );
        }
        if entry.name.trim().is_empty() {
            problems.report(
                &format!("entries[{index}].name"),
                "must not be empty".to_owned(),
            );
        }
        if unit_files
            .get(index)
            .is_some_and(|units| units.rows.is_empty())
        {
            problems.report(
                &format!("entries[{index}].units"),
                format!("{} lists no units", entry.units),
            );
        }
        entries.push(Entry {
            id: entry.id.clone(),
            name: entry.name.trim().to_owned(),
            kind: entry.kind,
        });
    }
    entries
}

/// One tree over every entry's units; unit ids must be unique across the entries.
fn build_units(unit_files: &[UnitFile], problems: &mut Problems) -> Option<UnitTree> {
    let unit_refs: Vec<&UnitFile> = unit_files.iter().collect();
    match UnitTree::build(&unit_refs) {
        Ok(units) => Some(units),
        Err(error) => {
            problems.report("entries", error.message);
            None
        }
    }
}

/// The pool the draws come from. Without questions there is none; the missing banks were
/// reported already.
fn build_pool(
    questions: Vec<Question>,
    plan: &DrawPlan,
    problems: &mut Problems,
) -> Option<QuestionPool> {
    if questions.is_empty() {
        return None;
    }
    match QuestionPool::new(questions, plan) {
        Ok(pool) => Some(pool),
        Err(error) => {
            problems.report("draw", error.to_string());
            None
        }
    }
}

/// The prizes in file order: a known rule, a name used once, counts in range, tiers for
/// `rank_tiers` only, a threshold for `lottery` only.
fn check_prizes(sections: &[PrizeSection], problems: &mut Problems) -> Vec<Prize> {
    let mut prizes = Vec::new();
    for (index, section) in sections.iter().enumerate() {
        let key = |field: &str| format!("prizes[{index}].{field}");
        let name = section.name.trim();
        if name.is_empty() {
            problems.report(&key("name"), "must not be empty".to_owned());
        } else if sections[..index]
            .iter()
            .any(|earlier| earlier.name.trim() == name)
        {
            problems.report(&key("name"), format!("`{name}` names two prizes"));
        }
        let count = section
            .count
            .map(|count| in_range(&key("count"), count, 1, 1_000_000, problems));
        if section.rule != "rank_tiers" && !section.tiers.is_empty() {
            problems.report(
                &key("tiers"),
                "only a `rank_tiers` prize has tiers".to_owned(),
            );
        }
        if section.rule != "lottery" && section.min_points.is_some() {
            problems.report(
                &key("min_points"),
                "only a `lottery` prize has a threshold".to_owned(),
            );
        }
        let rule = match section.rule.as_str() {
            "full_marks_then_rank" => match count {
                Some(Some(count)) => Some(PrizeRule::FullMarksThenRank { count }),
                Some(None) => None,
                None => {
                    problems.report(&key("count"), "is required for this rule".to_owned());
                    None
                }
            },
            "lottery" => {
                let min_points = section.min_points;
                if min_points.is_none() {
                    problems.report(
                        &key("min_points"),
                        "is required: winners are drawn among those with more points".to_owned(),
                    );
                }
                if count.is_none() {
                    problems.report(&key("count"), "is required for this rule".to_owned());
                }
                match (count, min_points) {
                    (Some(Some(count)), Some(min_points)) => {
                        Some(PrizeRule::Lottery { count, min_points })
                    }
                    _ => None,
                }
            }
            "rank_tiers" => {
                let mut tiers = Vec::new();
                if section.tiers.is_empty() {
                    problems.report(&key("tiers"), "a `rank_tiers` prize needs tiers".to_owned());
                }
                for (position, tier) in section.tiers.iter().enumerate() {
                    let tier_key = format!("prizes[{index}].tiers[{position}]");
                    if tier.name.trim().is_empty() {
                        problems
                            .report(&format!("{tier_key}.name"), "must not be empty".to_owned());
                    } else if section.tiers[..position]
                        .iter()
                        .any(|earlier| earlier.name.trim() == tier.name.trim())
                    {
                        problems.report(
                            &format!("{tier_key}.name"),
                            format!("`{}` names two tiers", tier.name.trim()),
                        );
                    }
                    if let Some(count) = in_range(
                        &format!("{tier_key}.count"),
                        tier.count,
                        1,
                        1_000_000,
                        problems,
                    ) {
                        tiers.push(Tier {
                            name: tier.name.trim().to_owned(),
                            count,
                        });
                    }
                }
                let sum: u32 = tiers.iter().map(|tier| tier.count).sum();
                if let Some(Some(count)) = count
                    && count != sum
                {
                    problems.report(
                        &key("count"),
                        format!("{count} is not the sum of the tiers' counts, {sum}"),
                    );
                }
                Some(PrizeRule::RankTiers { tiers })
            }
            other => {
                problems.report(
                    &key("rule"),
                    format!(
                        "`{other}` is not a rule; use `full_marks_then_rank`, `rank_tiers` or \
                         `lottery`"
                    ),
                );
                None
            }
        };
        if let Some(rule) = rule {
            prizes.push(Prize {
                name: name.to_owned(),
                rule,
                exclude_earlier_winners: section.exclude_earlier_winners,
            });
        }
    }
    prizes
}

/// The practice room: its window (by default the campaign's), cap and pool.
fn check_practice(
    section: Option<&PracticeSection>,
    window: Option<(Timestamp, Timestamp)>,
    plan: &DrawPlan,
    pool: Option<&QuestionPool>,
    banks: &[Bank],
    problems: &mut Problems,
) -> Option<Practice> {
    let section = section.filter(|section| section.enabled)?;
    let opens_at = match &section.opens_at {
        Some(text) => parse_instant("practice.opens_at", text, problems),
        None => window.map(|(opens, _)| opens),
    };
    let closes_at = match &section.closes_at {
        Some(text) => parse_instant("practice.closes_at", text, problems),
        None => window.map(|(_, closes)| closes),
    };
    if let (Some(opens), Some(closes)) = (opens_at, closes_at)
        && opens >= closes
    {
        problems.report(
            "practice.closes_at",
            format!("{closes} is not after practice.opens_at {opens}"),
        );
    }
    let per_day = match section.per_day {
        Some(cap) => Some(in_range("practice.per_day", cap, 1, 1000, problems)?),
        None => None,
    };
    let (pool, plan) = match &section.banks {
        None => (pool?.clone(), plan.clone()),
        Some(ids) => {
            let mut inner = Problems::default();
            let questions = collect_questions(ids, banks, &mut inner);
            // Another bank need not have the campaign's categories: no quotas.
            let plan = DrawPlan {
                questions_per_attempt: plan.questions_per_attempt,
                quotas: Vec::new(),
            };
            let pool = build_pool(questions, &plan, &mut inner);
            for problem in inner.into_vec() {
                problems.report(&format!("practice.{}", problem.key), problem.message);
            }
            (pool?, plan)
        }
    };
    Some(Practice {
        opens_at: opens_at?,
        closes_at: closes_at?,
        per_day,
        pool,
        plan,
    })
}

/// The most points one attempt of `plan` can earn from `pool`: its questions taken from the kinds
/// worth most first. Quotas are ignored (an upper bound then); with one value for every kind it
/// is exact: points × questions.
fn max_attempt_points(scoring: &Scoring, pool: &QuestionPool, plan: &DrawPlan) -> u32 {
    if let Some(points) = scoring.points.as_uniform() {
        return points * plan.questions_per_attempt as u32;
    }
    let mut worth: Vec<u32> = pool
        .questions()
        .iter()
        .map(|question| scoring.points.of(question.kind))
        .collect();
    worth.sort_unstable_by(|a, b| b.cmp(a));
    worth.iter().take(plan.questions_per_attempt).sum()
}

/// The scoring policy: `[points]` (each in 1..=100; a kind left out earns
/// `points_per_question`), `counted` and `attempts_total`.
fn check_scoring(
    file: &CampaignFile,
    points_per_question: Option<u32>,
    problems: &mut Problems,
) -> Option<Scoring> {
    let fallback = points_per_question.unwrap_or(1);
    let section = file.points.clone().unwrap_or_default();
    let mut kind = |name: &str, value: Option<i64>| match value {
        Some(value) => in_range(&format!("points.{name}"), value, 1, 100, problems),
        None => Some(fallback),
    };
    let single = kind("single", section.single);
    let multiple = kind("multiple", section.multiple);
    let judge = kind("judge", section.judge);
    let counted = match file.counted.as_deref() {
        None => Some(Counted::Sum),
        Some(text) => {
            let counted = Counted::parse(text);
            if counted.is_none() {
                problems.report(
                    "counted",
                    format!("`{text}` is not a policy; use `sum`, `best` or `last`"),
                );
            }
            counted
        }
    };
    let attempts_total = match file.attempts_total {
        None => Some(None),
        Some(total) => in_range("attempts_total", total, 1, 10_000, problems).map(Some),
    };
    Some(Scoring {
        points: KindPoints {
            single: single?,
            multiple: multiple?,
            judge: judge?,
        },
        counted: counted?,
        attempts_total: attempts_total?,
    })
}

/// The certificate: a threshold someone can reach (for `best` and `last`, at most one attempt's
/// full marks; for `sum` at most the full marks of every attempt allowed over the campaign, when
/// `attempts_total` caps it), hours and a window in range.
fn check_certificate(
    section: Option<&CertificateSection>,
    scoring: Option<&Scoring>,
    pool: Option<&QuestionPool>,
    plan: &DrawPlan,
    problems: &mut Problems,
) -> Option<Certificate> {
    let section = section?;
    let min_score = in_range(
        "certificate.min_score",
        section.min_score,
        1,
        1_000_000,
        problems,
    );
    let hours = in_range("certificate.hours", section.hours, 1, 1000, problems);
    let available_days = in_range(
        "certificate.available_days",
        section.available_days,
        1,
        366,
        problems,
    );
    if let (Some(min_score), Some(scoring), Some(pool)) = (min_score, scoring, pool) {
        let attempt = max_attempt_points(scoring, pool, plan);
        let reachable = match (scoring.counted, scoring.attempts_total) {
            (Counted::Best | Counted::Last, _) => Some(attempt),
            (Counted::Sum, Some(total)) => Some(attempt.saturating_mul(total)),
            (Counted::Sum, None) => None,
        };
        if let Some(reachable) = reachable
            && min_score > reachable
        {
            problems.report(
                "certificate.min_score",
                format!("{min_score} cannot be reached: the counted score is at most {reachable}"),
            );
        }
    }
    Some(Certificate {
        min_score: min_score?,
        hours: hours?,
        available_days: available_days?,
    })
}

fn parse_instant(key: &str, text: &str, problems: &mut Problems) -> Option<Timestamp> {
    match text.parse::<Timestamp>() {
        Ok(instant) => Some(instant),
        Err(_) => {
            problems.report(
                key,
                format!(
                    "`{text}` is not an instant with an offset, e.g. 2026-06-01T00:00:00+08:00"
                ),
            );
            None
        }
    }
}

fn in_range(key: &str, value: i64, min: i64, max: i64, problems: &mut Problems) -> Option<u32> {
    if (min..=max).contains(&value) {
        Some(value as u32)
    } else {
        problems.report(
            key,
            format!("{value} is out of range; it must be between {min} and {max}"),
        );
        None
    }
}

#[cfg(test)]
mod tests;
