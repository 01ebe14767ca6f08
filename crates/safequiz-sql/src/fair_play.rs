//! Fair play (issue 21; docs/fair-play.md): observations of participants' requests, the signals
//! computed from them, the flags organizers review and the exclusions they decide.
//!
//! Observations never cost the request path a database or Redis call: each replica appends
//! them to a buffer in memory ([`wire`]) and ships it to Redis once a second; the fair-play
//! worker, which runs beside the flusher, writes what was shipped
//! ([`Store::insert_observations`]) and then recomputes the signals of the devices, networks and
//! participants it touched ([`Store::compute_flags`]). The rules themselves are the pure
//! [`signals`].
//!
//! Tables: migration `0010_fair_play`.

pub mod signals;
#[cfg(test)]
mod tests;
pub mod wire;

use std::collections::{BTreeMap, BTreeSet};

use safequiz_domain::scope::Scope;
use serde::Serialize;

use crate::statement::{SqlType, Statement, json_rows};
use crate::{Store, StoreError};

/// What a request was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Kind {
    /// A registration (or a participant found again).
    Register = 0,
    /// An attempt started or resumed.
    Start = 1,
    /// An answer saved.
    Save = 2,
    /// An attempt submitted by the participant.
    Submit = 3,
}

/// One observed request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Observation {
    /// The campaign.
    pub campaign_id: String,
    /// The participant.
    pub participant_id: i64,
    /// Their unit.
    pub unit_id: String,
    /// A [`Kind`] as its number.
    pub kind: i32,
    /// When, Unix ms.
    pub at_ms: i64,
    /// The attempt's number (0 for a registration).
    pub attempt: i32,
    /// The page's device token, '' when none was sent.
    pub device: String,
    /// The client's network: `a.b.c.0/24` or the /48 of an IPv6 address.
    pub net: String,
    /// 1 when the request carried a valid page-load token.
    pub page: i32,
}

/// The devices, networks and participants a batch of observations touched: whose signals to
/// compute again.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Touched {
    /// Device tokens (never '').
    pub devices: BTreeSet<String>,
    /// Networks.
    pub nets: BTreeSet<String>,
    /// Participants.
    pub participants: BTreeSet<i64>,
}

impl Touched {
    /// Adds what `observation` touches: its device and network, and its participant when it is
    /// a start, since a participant's own signals ([`signals::participant_flags`]) are made of
    /// their starts alone and nothing else changes them.
    pub fn add(&mut self, observation: &Observation) {
        if !observation.device.is_empty() {
            self.devices.insert(observation.device.clone());
        }
        self.nets.insert(observation.net.clone());
        if observation.kind == Kind::Start as i32 {
            self.participants.insert(observation.participant_id);
        }
    }

    /// Adds everything `other` touched.
    pub fn merge(&mut self, other: Touched) {
        self.devices.extend(other.devices);
        self.nets.extend(other.nets);
        self.participants.extend(other.participants);
    }

    /// Whether nothing was touched.
    pub fn is_empty(&self) -> bool {
        self.participants.is_empty() && self.devices.is_empty() && self.nets.is_empty()
    }
}

/// A device's or network's group signals read the group's whole recent window (a day) again
/// each time they are computed; a network carrying tens of thousands of people (a mobile
/// operator's carrier-grade NAT) would make every pass read all of its day. So a group is
/// computed again no sooner than its last read allows at this many rows a second: a group of a
/// few hundred observations every pass, as before; a factory's day of 2,000 every second or
/// two; a carrier's 100,000 every 50 s. Flags are reasons to look, not a live signal: a busy
/// group's flags come up to a minute late, never missed, since each computation covers the
/// whole window again.
pub const GROUP_ROWS_PER_SECOND: usize = 2_000;

/// The longest a touched group waits for its next computation.
pub const GROUP_MAX_WAIT_MS: i64 = 60_000;

/// How long after a computation that read `rows` observations its group may be computed again.
pub fn group_wait_ms(rows: usize) -> i64 {
    let wait = rows.saturating_mul(1_000) / GROUP_ROWS_PER_SECOND;
    i64::try_from(wait)
        .unwrap_or(GROUP_MAX_WAIT_MS)
        .min(GROUP_MAX_WAIT_MS)
}

/// One device (`device`: true) or network, as a group whose signals are computed together.
pub type Group = (bool, String);

/// What one [`Store::compute_flags`] did: the flags written and, per group computed, how many
/// observations it read (what [`GroupSchedule`] spaces the group's next computation by).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Computed {
    /// Flags written (raised or brought up to date).
    pub flags: usize,
    /// Observations read per group.
    pub group_rows: BTreeMap<Group, usize>,
}

/// When each group of one campaign may be computed again, and the groups touched meanwhile,
/// which wait for it ([`GROUP_ROWS_PER_SECOND`]). Participants are always computed at once: a
/// participant's starts are a few a day.
#[derive(Clone, Debug, Default)]
pub struct GroupSchedule {
    due: BTreeMap<Group, i64>,
    waiting: Touched,
}

impl GroupSchedule {
    /// What to compute at `now_ms` of `touched` and of the groups waiting: every participant,
    /// and the groups that are due; the others wait.
    pub fn take_due(&mut self, touched: Touched, now_ms: i64) -> Touched {
        let mut candidates = std::mem::take(&mut self.waiting);
        candidates.merge(touched);
        let mut now = Touched {
            participants: candidates.participants,
            ..Touched::default()
        };
        for (device, set) in [(true, candidates.devices), (false, candidates.nets)] {
            for key in set {
                let due = self
                    .due
                    .get(&(device, key.clone()))
                    .is_none_or(|at| *at <= now_ms);
                let (into_now, into_waiting) = if device {
                    (&mut now.devices, &mut self.waiting.devices)
                } else {
                    (&mut now.nets, &mut self.waiting.nets)
                };
                if due {
                    into_now.insert(key);
                } else {
                    into_waiting.insert(key);
                }
            }
        }
        // A group not touched since its wait ended needs no entry.
        self.due.retain(|_, at| *at > now_ms);
        now
    }

    /// Spaces the next computation of each group `computed` read.
    pub fn computed(&mut self, computed: &Computed, now_ms: i64) {
        for (group, rows) in &computed.group_rows {
            let wait = group_wait_ms(*rows);
            if wait > 0 {
                self.due.insert(group.clone(), now_ms + wait);
            }
        }
    }

    /// Whether groups are waiting.
    pub fn has_waiting(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// Whether it holds nothing: no group waiting and none whose wait still runs (then it can
    /// be dropped and made again at no loss).
    pub fn is_idle(&self) -> bool {
        self.waiting.is_empty() && self.due.is_empty()
    }
}

/// Group signals (bursts, chains, regular gaps) look at this much of a device's or network's
/// recent past: a day, so a group's cost is bounded by a day's traffic.
pub const GROUP_WINDOW_MS: i64 = 86_400_000;

/// Observations per statement (SQLite parses one JSON parameter; PostgreSQL one too).
const ROWS_PER_STATEMENT: usize = 1_000;

/// One flag as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct FlagRow {
    /// The participant.
    pub participant_id: i64,
    /// Their unit.
    pub unit_id: String,
    /// The reason code (`signals::REASONS`).
    pub reason: String,
    /// The evidence, JSON.
    pub evidence: String,
    /// When it was last computed, Unix ms.
    pub computed_at_ms: i64,
}

/// One exclusion decision, with its undo if any.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ExclusionRow {
    /// The participant.
    pub participant_id: i64,
    /// Why, in the organizer's words.
    pub reason: String,
    /// `organizer:<username>`.
    pub by_account: String,
    /// When, Unix ms.
    pub at_ms: i64,
    /// When it was undone.
    pub undone_at_ms: Option<i64>,
    /// Why it was undone.
    pub undo_reason: Option<String>,
    /// Who undid it.
    pub undone_by: Option<String>,
}

/// A flagged participant with every reason, as the review lists them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FlaggedParticipant {
    /// The participant.
    pub participant_id: i64,
    /// Their unit.
    pub unit_id: String,
    /// Their name as registered ('' before their registration is flushed).
    pub name: String,
    /// Their counted attempts and points (none while excluded: the roll-ups leave them out).
    pub points: i64,
    /// Their counted attempts.
    pub attempts: i64,
    /// Their flags, by reason.
    pub flags: Vec<FlagRow>,
    /// Their exclusion in force, if any.
    pub exclusion: Option<ExclusionRow>,
}

/// One unit's share of flagged participation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnitShare {
    /// The unit (its whole subtree counts).
    pub unit_id: String,
    /// Participants with at least one attempt recorded.
    pub participants: i64,
    /// Of them (or of any registered), those flagged.
    pub flagged: i64,
}

#[derive(sqlx::FromRow)]
struct Member {
    device: String,
    participant_id: i64,
    unit_id: String,
}

#[derive(sqlx::FromRow)]
struct Named {
    participant_id: i64,
    name: String,
    points: i64,
    attempts: i64,
}

#[derive(sqlx::FromRow)]
struct Counted {
    unit_id: String,
    n: i64,
}

#[derive(Serialize)]
struct Text<'a> {
    v: &'a str,
}

#[derive(Serialize)]
struct Int {
    v: i64,
}

const COLUMNS: &str =
    "campaign_id, participant_id, unit_id, kind, at_ms, attempt, device, net, page";

impl Store {
    /// Appends observations, in statements of at most a thousand rows, one transaction.
    pub async fn insert_observations(&self, rows: &[Observation]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let mut st = Statement::new(&format!(
                "INSERT INTO observations ({COLUMNS}) SELECT {} FROM ",
                COLUMNS
                    .split(", ")
                    .map(|c| format!("r.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            st.push_json_rows(
                tx.backend(),
                "r",
                &[
                    ("campaign_id", SqlType::Text),
                    ("participant_id", SqlType::Int8),
                    ("unit_id", SqlType::Text),
                    ("kind", SqlType::Int4),
                    ("at_ms", SqlType::Int8),
                    ("attempt", SqlType::Int4),
                    ("device", SqlType::Text),
                    ("net", SqlType::Text),
                    ("page", SqlType::Int4),
                ],
                json_rows(chunk),
            );
            st.execute_in(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Computes, through `schedule`, what `touched` and the groups waiting in it come to at
    /// `now_ms`: the participants and the due groups now ([`GroupSchedule::take_due`]), the
    /// others left waiting; with `drain` (a worker's last pass), every group waiting too. Then
    /// spaces the computed groups' next turn.
    pub async fn compute_scheduled(
        &self,
        campaign_id: &str,
        schedule: &mut GroupSchedule,
        touched: Touched,
        now_ms: i64,
        drain: bool,
    ) -> Result<Computed, StoreError> {
        let due = schedule.take_due(touched, if drain { i64::MAX } else { now_ms });
        if due.is_empty() {
            return Ok(Computed::default());
        }
        let computed = self.compute_flags(campaign_id, &due, now_ms).await?;
        schedule.computed(&computed, now_ms);
        Ok(computed)
    }

    /// Recomputes the signals of what `touched` names in `campaign_id` and stores the flags
    /// raised (a flag once raised stays, its evidence brought up to date). `now_ms` bounds the
    /// group window. Returns how many flags were written and what each group read.
    pub async fn compute_flags(
        &self,
        campaign_id: &str,
        touched: &Touched,
        now_ms: i64,
    ) -> Result<Computed, StoreError> {
        let since = now_ms - GROUP_WINDOW_MS;
        let mut flags = Vec::new();
        let mut computed = Computed::default();
        let devices: Vec<Text<'_>> = touched.devices.iter().map(|v| Text { v }).collect();
        let nets: Vec<Text<'_>> = touched.nets.iter().map(|v| Text { v }).collect();
        let participants: Vec<Int> = touched.participants.iter().map(|&v| Int { v }).collect();
        if !devices.is_empty() {
            let rows = self
                .observations_where(
                    campaign_id,
                    "device",
                    SqlType::Text,
                    json_rows(&devices),
                    since,
                    None,
                )
                .await?;
            let mut groups: BTreeMap<&str, Vec<&Observation>> = BTreeMap::new();
            for row in &rows {
                groups.entry(&row.device).or_default().push(row);
            }
            for (device, rows) in groups {
                computed
                    .group_rows
                    .insert((true, device.to_owned()), rows.len());
                flags.extend(signals::group_flags("device", device, &rows));
            }
            let mut st = Statement::new(
                "SELECT DISTINCT device, participant_id, unit_id FROM observations \
                 WHERE campaign_id = $1 AND device IN (SELECT r.v FROM ",
            )
            .bind(campaign_id);
            st.push_json_rows(
                self.backend(),
                "r",
                &[("v", SqlType::Text)],
                json_rows(&devices),
            )
            .push(")");
            let members: Vec<Member> = st.fetch_all(self).await?;
            let mut by_device: BTreeMap<&str, Vec<(i64, String)>> = BTreeMap::new();
            for m in &members {
                by_device
                    .entry(&m.device)
                    .or_default()
                    .push((m.participant_id, m.unit_id.clone()));
            }
            for (device, members) in by_device {
                flags.extend(signals::device_members_flags(device, &members));
            }
        }
        if !nets.is_empty() {
            let rows = self
                .observations_where(
                    campaign_id,
                    "net",
                    SqlType::Text,
                    json_rows(&nets),
                    since,
                    None,
                )
                .await?;
            let mut groups: BTreeMap<&str, Vec<&Observation>> = BTreeMap::new();
            for row in &rows {
                groups.entry(&row.net).or_default().push(row);
            }
            for (net, rows) in groups {
                computed
                    .group_rows
                    .insert((false, net.to_owned()), rows.len());
                flags.extend(signals::group_flags("net", net, &rows));
            }
        }
        if !participants.is_empty() {
            let rows = self
                .observations_where(
                    campaign_id,
                    "participant_id",
                    SqlType::Int8,
                    json_rows(&participants),
                    i64::MIN,
                    Some(Kind::Start),
                )
                .await?;
            let mut own: BTreeMap<i64, Vec<&Observation>> = BTreeMap::new();
            for row in &rows {
                own.entry(row.participant_id).or_default().push(row);
            }
            for rows in own.values_mut() {
                rows.sort_by_key(|o| o.at_ms);
                flags.extend(signals::participant_flags(rows));
            }
        }
        // One row per participant and reason: the last computed evidence wins.
        let mut unique: BTreeMap<(i64, &str), &signals::Flag> = BTreeMap::new();
        for flag in &flags {
            unique.insert((flag.participant_id, flag.reason), flag);
        }
        #[derive(Serialize)]
        struct Out<'a> {
            p: i64,
            u: &'a str,
            r: &'a str,
            e: String,
        }
        let out: Vec<Out<'_>> = unique
            .values()
            .map(|f| Out {
                p: f.participant_id,
                u: &f.unit_id,
                r: f.reason,
                e: f.evidence.to_string(),
            })
            .collect();
        computed.flags = out.len();
        if out.is_empty() {
            return Ok(computed);
        }
        let mut tx = self.begin_write().await?;
        for chunk in out.chunks(ROWS_PER_STATEMENT) {
            let mut st = Statement::new(
                "INSERT INTO flags (campaign_id, participant_id, unit_id, reason, evidence, \
                 computed_at_ms) SELECT $1, r.p, r.u, r.r, r.e, $2 FROM ",
            )
            .bind(campaign_id)
            .bind(now_ms);
            st.push_json_rows(
                tx.backend(),
                "r",
                &[
                    ("p", SqlType::Int8),
                    ("u", SqlType::Text),
                    ("r", SqlType::Text),
                    ("e", SqlType::Text),
                ],
                json_rows(chunk),
            )
            .push(
                " WHERE true ON CONFLICT (campaign_id, participant_id, reason) DO UPDATE SET \
                 evidence = excluded.evidence, computed_at_ms = excluded.computed_at_ms",
            );
            st.execute_in(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(computed)
    }

    /// The observations since `since` whose `column` is one of `json`'s values, of kind `only`
    /// when given (a literal, so that the partial index of starts serves it: migration 0012).
    async fn observations_where(
        &self,
        campaign_id: &str,
        column: &str,
        kind: SqlType,
        json: String,
        since: i64,
        only: Option<Kind>,
    ) -> Result<Vec<Observation>, StoreError> {
        let only = only.map_or(String::new(), |kind| format!(" AND kind = {}", kind as i32));
        let mut st = Statement::new(&format!(
            "SELECT {COLUMNS} FROM observations WHERE campaign_id = $1 AND at_ms >= $2{only} \
             AND {column} IN (SELECT r.v FROM "
        ))
        .bind(campaign_id)
        .bind(since);
        st.push_json_rows(self.backend(), "r", &[("v", kind)], json)
            .push(") ORDER BY at_ms");
        Ok(st.fetch_all(self).await?)
    }

    /// Flagged participants of `scope`, by participant id after `after`, at most `limit`, with
    /// every flag, their name and points and their exclusion in force.
    pub async fn flagged_page(
        &self,
        campaign_id: &str,
        scope: &Scope,
        after: i64,
        limit: i64,
    ) -> Result<Vec<FlaggedParticipant>, StoreError> {
        let mut st = Statement::new(
            "SELECT participant_id, unit_id, reason, evidence, computed_at_ms FROM flags \
             WHERE campaign_id = $1 AND participant_id IN (SELECT DISTINCT f.participant_id \
             FROM flags f WHERE f.campaign_id = $1 AND f.participant_id > ",
        )
        .bind(campaign_id);
        st.push_bind(after);
        within_scope(&mut st, "f.unit_id", scope);
        st.push(" ORDER BY f.participant_id LIMIT ")
            .push_bind(limit)
            .push(") ORDER BY participant_id, reason");
        let rows: Vec<FlagRow> = st.fetch_all(self).await?;
        let mut out: Vec<FlaggedParticipant> = Vec::new();
        for row in rows {
            match out.last_mut() {
                Some(last) if last.participant_id == row.participant_id => last.flags.push(row),
                _ => out.push(FlaggedParticipant {
                    participant_id: row.participant_id,
                    unit_id: row.unit_id.clone(),
                    name: String::new(),
                    points: 0,
                    attempts: 0,
                    flags: vec![row],
                    exclusion: None,
                }),
            }
        }
        if out.is_empty() {
            return Ok(out);
        }
        let ids: Vec<Int> = out
            .iter()
            .map(|p| Int {
                v: p.participant_id,
            })
            .collect();
        let mut st = Statement::new(
            "SELECT participant_id, name, points, attempts FROM participant_totals WHERE campaign_id = $1 \
             AND participant_id IN (SELECT r.v FROM ",
        )
        .bind(campaign_id);
        st.push_json_rows(
            self.backend(),
            "r",
            &[("v", SqlType::Int8)],
            json_rows(&ids),
        )
        .push(")");
        let named: BTreeMap<i64, Named> = st
            .fetch_all::<Named>(self)
            .await?
            .into_iter()
            .map(|n| (n.participant_id, n))
            .collect();
        let excluded = self.exclusions_in_force(campaign_id, &ids).await?;
        for p in &mut out {
            if let Some(n) = named.get(&p.participant_id) {
                p.name = n.name.clone();
                p.points = n.points;
                p.attempts = n.attempts;
            }
            p.exclusion = excluded.get(&p.participant_id).cloned();
        }
        Ok(out)
    }

    async fn exclusions_in_force(
        &self,
        campaign_id: &str,
        ids: &[Int],
    ) -> Result<BTreeMap<i64, ExclusionRow>, StoreError> {
        let mut st = Statement::new(
            "SELECT participant_id, reason, by_account, at_ms, undone_at_ms, undo_reason, \
             undone_by FROM exclusions WHERE campaign_id = $1 AND undone_at_ms IS NULL \
             AND participant_id IN (SELECT r.v FROM ",
        )
        .bind(campaign_id);
        st.push_json_rows(self.backend(), "r", &[("v", SqlType::Int8)], json_rows(ids))
            .push(")");
        Ok(st
            .fetch_all::<ExclusionRow>(self)
            .await?
            .into_iter()
            .map(|e| (e.participant_id, e))
            .collect())
    }

    /// For each of `units` (each with its whole subtree): participants with an attempt
    /// recorded, and participants flagged.
    pub async fn flagged_shares(
        &self,
        campaign_id: &str,
        units: &[String],
    ) -> Result<Vec<UnitShare>, StoreError> {
        let json = json_rows(&units.iter().map(|v| Text { v }).collect::<Vec<_>>());
        let count = |table: &str, filter: &str| {
            let mut st = Statement::new(&format!(
                "SELECT a.ancestor_id AS unit_id, CAST(COUNT(DISTINCT t.participant_id) AS BIGINT) \
                 AS n FROM {table} t JOIN unit_ancestors a ON a.campaign_id = t.campaign_id \
                 AND a.unit_id = t.unit_id WHERE t.campaign_id = $1{filter} AND a.ancestor_id \
                 IN (SELECT r.v FROM "
            ))
            .bind(campaign_id);
            st.push_json_rows(self.backend(), "r", &[("v", SqlType::Text)], json.clone())
                .push(") GROUP BY a.ancestor_id");
            st
        };
        let participants: BTreeMap<String, i64> =
            count("participant_totals", " AND t.attempts > 0")
                .fetch_all::<Counted>(self)
                .await?
                .into_iter()
                .map(|c| (c.unit_id, c.n))
                .collect();
        let flagged: BTreeMap<String, i64> = count("flags", "")
            .fetch_all::<Counted>(self)
            .await?
            .into_iter()
            .map(|c| (c.unit_id, c.n))
            .collect();
        Ok(units
            .iter()
            .map(|unit| UnitShare {
                unit_id: unit.clone(),
                participants: participants.get(unit).copied().unwrap_or(0),
                flagged: flagged.get(unit).copied().unwrap_or(0),
            })
            .collect())
    }

    /// Every flag of a campaign (tests, the load kit's figures).
    pub async fn flags(&self, campaign_id: &str) -> Result<Vec<FlagRow>, StoreError> {
        Ok(Statement::new(
            "SELECT participant_id, unit_id, reason, evidence, computed_at_ms FROM flags \
             WHERE campaign_id = $1 ORDER BY participant_id, reason",
        )
        .bind(campaign_id)
        .fetch_all(self)
        .await?)
    }

    /// The unit a participant is recorded under (registration or flags), if recorded.
    pub async fn participant_unit(
        &self,
        campaign_id: &str,
        participant_id: i64,
    ) -> Result<Option<String>, StoreError> {
        Ok(Statement::new(
            "SELECT unit_id FROM participant_totals WHERE campaign_id = $1 AND participant_id = $2 \
             UNION SELECT unit_id FROM flags WHERE campaign_id = $1 AND participant_id = $2",
        )
        .bind(campaign_id)
        .bind(participant_id)
        .fetch_all::<(String,)>(self)
        .await?
        .into_iter()
        .next()
        .map(|(unit,)| unit))
    }

    /// Every device, network and participant observed in a campaign: to recompute all of its
    /// signals (after a threshold change, or in tests once every observation is written).
    pub async fn everything_observed(&self, campaign_id: &str) -> Result<Touched, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Keys {
            participant_id: i64,
            device: String,
            net: String,
        }
        let keys: Vec<Keys> = Statement::new(
            "SELECT DISTINCT participant_id, device, net FROM observations WHERE campaign_id = $1",
        )
        .bind(campaign_id)
        .fetch_all(self)
        .await?;
        let mut touched = Touched::default();
        for k in keys {
            if !k.device.is_empty() {
                touched.devices.insert(k.device);
            }
            touched.nets.insert(k.net);
            touched.participants.insert(k.participant_id);
        }
        Ok(touched)
    }

    /// How many observations a campaign has (tests).
    pub async fn observation_count(&self, campaign_id: &str) -> Result<i64, StoreError> {
        Ok(Statement::new(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM observations WHERE campaign_id = $1",
        )
        .bind(campaign_id)
        .fetch_scalar(self)
        .await?)
    }

    /// The exclusion in force of a participant, if any.
    pub async fn exclusion(
        &self,
        campaign_id: &str,
        participant_id: i64,
    ) -> Result<Option<ExclusionRow>, StoreError> {
        Ok(self
            .exclusions_in_force(campaign_id, &[Int { v: participant_id }])
            .await?
            .remove(&participant_id))
    }

    /// Every exclusion in force, by participant (a rebuild or reconcile of the hot state reads
    /// them once: exclusions are a handful, not a share of the campaign).
    pub async fn excluded_participants(
        &self,
        campaign_id: &str,
    ) -> Result<BTreeMap<i64, ExclusionRow>, StoreError> {
        Ok(Statement::new(
            "SELECT participant_id, reason, by_account, at_ms, undone_at_ms, undo_reason, \
             undone_by FROM exclusions WHERE campaign_id = $1 AND undone_at_ms IS NULL",
        )
        .bind(campaign_id)
        .fetch_all::<ExclusionRow>(self)
        .await?
        .into_iter()
        .map(|e| (e.participant_id, e))
        .collect())
    }

    /// Records an exclusion; `false` when the participant is already excluded.
    pub async fn exclude_participant(
        &self,
        campaign_id: &str,
        participant_id: i64,
        reason: &str,
        by: &str,
        at_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let open: Vec<i64> = Statement::new(
            "SELECT participant_id FROM exclusions WHERE campaign_id = $1 AND participant_id = $2 \
             AND undone_at_ms IS NULL",
        )
        .bind(campaign_id)
        .bind(participant_id)
        .fetch_scalars_in(&mut tx)
        .await?;
        if !open.is_empty() {
            return Ok(false);
        }
        // The roll-up lock first, as a flusher takes it: the rebuild below then sees every
        // attempt committed before, and a flusher after sees the exclusion.
        crate::rollups::lock_campaign(&mut tx, campaign_id).await?;
        Statement::new(
            "INSERT INTO exclusions (campaign_id, participant_id, reason, by_account, at_ms) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(campaign_id)
        .bind(participant_id)
        .bind(reason)
        .bind(by)
        .bind(at_ms)
        .execute_in(&mut tx)
        .await?;
        crate::rollups::remove_participant(&mut tx, campaign_id, participant_id).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Undoes the exclusion in force; `false` when there is none.
    pub async fn undo_exclusion(
        &self,
        campaign_id: &str,
        participant_id: i64,
        reason: &str,
        by: &str,
        at_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        crate::rollups::lock_campaign(&mut tx, campaign_id).await?;
        let changed = Statement::new(
            "UPDATE exclusions SET undone_at_ms = $3, undo_reason = $4, undone_by = $5 \
             WHERE campaign_id = $1 AND participant_id = $2 AND undone_at_ms IS NULL",
        )
        .bind(campaign_id)
        .bind(participant_id)
        .bind(at_ms)
        .bind(reason)
        .bind(by)
        .execute_in(&mut tx)
        .await?;
        if changed == 0 {
            return Ok(false);
        }
        crate::rollups::restore_participant(&mut tx, campaign_id, participant_id).await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// `attempts` without those of participants excluded now, read in `tx` (the flusher's insert,
/// under the campaign's roll-up lock).
pub(crate) async fn without_excluded<'a>(
    tx: &mut crate::statement::Transaction,
    campaign_id: &str,
    attempts: Vec<&'a crate::record::AttemptRow>,
) -> Result<Vec<&'a crate::record::AttemptRow>, StoreError> {
    let excluded: BTreeSet<i64> = Statement::new(
        "SELECT participant_id FROM exclusions WHERE campaign_id = $1 AND undone_at_ms IS NULL",
    )
    .bind(campaign_id)
    .fetch_scalars_in(tx)
    .await?
    .into_iter()
    .collect();
    if excluded.is_empty() {
        return Ok(attempts);
    }
    Ok(attempts
        .into_iter()
        .filter(|a| !excluded.contains(&a.participant_id))
        .collect())
}

/// Restricts `column` to `scope`'s subtree (nothing for the whole campaign).
fn within_scope(st: &mut Statement, column: &str, scope: &Scope) {
    if let Some(unit) = scope.unit_id() {
        st.push(&format!(
            " AND {column} IN (SELECT s.unit_id FROM unit_ancestors s WHERE s.campaign_id = $1 \
             AND s.ancestor_id = "
        ))
        .push_bind(unit)
        .push(")");
    }
}
