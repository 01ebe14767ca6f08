//! The signal rules: pure functions from observations to flags (docs/fair-play.md).
//!
//! Each signal has a reason code, a threshold named below and the evidence an organizer reads.
//! A flag is a reason to look, never a penalty: organizers review and decide. The thresholds
//! were chosen against the scripted-crowd generators of the load kit (`safequiz-loadgen crowd`,
//! `crates/safequiz-server/tests/it/fair_play.rs`): scripted accounts on one device flagged,
//! a factory behind one address and scattered people not.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::json;

use super::{Kind, Observation};

/// A device token used by this many participants or more flags each of them (`shared_device`):
/// a family may share one phone, a script runs hundreds of accounts on one.
pub const SHARED_DEVICE_PARTICIPANTS: usize = 5;
/// This many participants registering or starting from one device within
/// [`DEVICE_BURST_WINDOW_MS`] flags them (`device_burst`).
pub const DEVICE_BURST_PARTICIPANTS: usize = 10;
/// The window of a device burst: 10 minutes.
pub const DEVICE_BURST_WINDOW_MS: i64 = 10 * 60_000;
/// This many participants starting from one network (/24 or /48) within
/// [`NET_BURST_WINDOW_MS`], each without a phone and page of their own, flags them
/// (`network_burst`). A start counts when it carries no device token, or no valid page-load
/// token, or a device token another participant of the network also used: a unit told to
/// answer at 9:00 on its people's own phones starts hundreds in a minute and counts none
/// (`safequiz-loadgen crowd`'s meeting); a script starting its list at once, on one device or
/// without the page, counts every account.
pub const NET_BURST_PARTICIPANTS: usize = 30;
/// The window of a network burst: one minute.
pub const NET_BURST_WINDOW_MS: i64 = 60_000;
/// A hand-over links two accounts (`chained_starts`): on the same device or network, the very
/// next request after one participant's submit is another participant's start, within this
/// long. "The very next": on a busy network starts follow others' submits by chance all day
/// (a factory of 3,000 behind one address had 41% of its people in chains of 5 when any start
/// within 5 s of a submit counted, `safequiz-loadgen crowd --factory 3000`), while a script
/// walking its list, one account after the other, does nothing in between.
pub const CHAIN_GAP_MS: i64 = 5_000;
/// Accounts linked start-after-submit into a chain this long or longer are flagged: one person
/// may hand the phone on once; a script walks its list.
pub const CHAIN_MIN_ACCOUNTS: usize = 5;
/// Starts in the same minute of the day (give or take one) on this many distinct days flag the
/// participant (`same_start_minute`): scripts run from a timer, people from a routine that
/// drifts by minutes.
pub const SAME_MINUTE_DAYS: usize = 5;
/// An attempt's answer gaps (start to first answer, answer to answer) whose coefficient of
/// variation is at most this are "regular" (`regular_gaps`). Uniform 6-9 s pauses have 0.115;
/// human pauses about 0.5, and one person in a hundred has six gaps at most this regular.
pub const REGULAR_MAX_CV: f64 = 0.15;
/// An attempt needs this many gaps to be judged regular.
pub const REGULAR_MIN_GAPS: usize = 5;
/// Regular attempts are flagged only when this many accounts on one device or network have
/// them: one metronomic reader is a person, several alike are one script.
pub const REGULAR_MIN_ACCOUNTS: usize = 3;
/// ... and when they are at least this share of the accounts with answers on that device or
/// network: a factory of 300 has its few regular readers, a script's accounts are all alike.
pub const REGULAR_MIN_SHARE: f64 = 0.2;

/// `shared_device`.
pub const SHARED_DEVICE: &str = "shared_device";
/// `device_burst`.
pub const DEVICE_BURST: &str = "device_burst";
/// `network_burst`.
pub const NETWORK_BURST: &str = "network_burst";
/// `chained_starts`.
pub const CHAINED_STARTS: &str = "chained_starts";
/// `same_start_minute`.
pub const SAME_START_MINUTE: &str = "same_start_minute";
/// `regular_gaps`.
pub const REGULAR_GAPS: &str = "regular_gaps";
/// `no_page_load`.
pub const NO_PAGE_LOAD: &str = "no_page_load";

/// Every reason code, for documentation and validation.
pub const REASONS: [&str; 7] = [
    SHARED_DEVICE,
    DEVICE_BURST,
    NETWORK_BURST,
    CHAINED_STARTS,
    SAME_START_MINUTE,
    REGULAR_GAPS,
    NO_PAGE_LOAD,
];

/// One signal raised for one participant.
#[derive(Clone, Debug, PartialEq)]
pub struct Flag {
    /// The participant.
    pub participant_id: i64,
    /// Their unit.
    pub unit_id: String,
    /// One of [`REASONS`].
    pub reason: &'static str,
    /// What was seen, as organizers read it.
    pub evidence: serde_json::Value,
}

/// A device token as evidence: its first 8 characters are enough to tell devices apart.
fn short(device: &str) -> String {
    device.chars().take(8).collect()
}

/// Flags from a group of observations sharing one device or one network: `via` names which.
/// `rows` are the group's observations over the recent window, in any order.
pub fn group_flags(via: &str, key: &str, rows: &[&Observation]) -> Vec<Flag> {
    let mut flags = Vec::new();
    let mut sorted: Vec<&Observation> = rows.to_vec();
    sorted.sort_by_key(|o| (o.at_ms, o.kind));
    let unit_of: HashMap<i64, &str> = sorted
        .iter()
        .map(|o| (o.participant_id, o.unit_id.as_str()))
        .collect();
    let mut push = |participant_id: i64, reason: &'static str, evidence: serde_json::Value| {
        flags.push(Flag {
            participant_id,
            unit_id: unit_of[&participant_id].to_owned(),
            reason,
            evidence,
        });
    };
    let shown_key = if via == "device" {
        short(key)
    } else {
        key.to_owned()
    };

    // Bursts: the most participants starting (or, on a device, registering) in a window.
    let (burst_kinds, window, least, reason): (&[i32], i64, usize, &'static str) =
        if via == "device" {
            (
                &[Kind::Register as i32, Kind::Start as i32],
                DEVICE_BURST_WINDOW_MS,
                DEVICE_BURST_PARTICIPANTS,
                DEVICE_BURST,
            )
        } else {
            (
                &[Kind::Start as i32],
                NET_BURST_WINDOW_MS,
                NET_BURST_PARTICIPANTS,
                NETWORK_BURST,
            )
        };
    // On a network, only the starts nobody's own phone and page account for (see
    // `NET_BURST_PARTICIPANTS`); on a device, every one.
    let mut device_users: HashMap<&str, BTreeSet<i64>> = HashMap::new();
    if via != "device" {
        for o in sorted.iter().filter(|o| !o.device.is_empty()) {
            device_users
                .entry(o.device.as_str())
                .or_default()
                .insert(o.participant_id);
        }
    }
    let unaccounted = |o: &Observation| {
        o.device.is_empty()
            || o.page == 0
            || device_users
                .get(o.device.as_str())
                .is_some_and(|users| users.len() > 1)
    };
    let events: Vec<&&Observation> = sorted
        .iter()
        .filter(|o| burst_kinds.contains(&o.kind) && (via == "device" || unaccounted(o)))
        .collect();
    // One pass with a sliding window: the participants inside it counted by their events, so a
    // network's day of 100,000 starts costs 100,000 steps, not a set rebuilt per start. Windows
    // only move forward, so a window over the threshold adds only the events no earlier one
    // added (`added`).
    let mut bursting: BTreeSet<i64> = BTreeSet::new();
    let mut inside: HashMap<i64, usize> = HashMap::new();
    let mut worst = 0;
    let (mut from, mut added) = (0, 0);
    for (end, last) in events.iter().enumerate() {
        *inside.entry(last.participant_id).or_default() += 1;
        while last.at_ms - events[from].at_ms > window {
            let leaving = events[from].participant_id;
            if let Some(count) = inside.get_mut(&leaving) {
                *count -= 1;
                if *count == 0 {
                    inside.remove(&leaving);
                }
            }
            from += 1;
        }
        if inside.len() >= least {
            worst = worst.max(inside.len());
            bursting.extend(
                events[from.max(added)..=end]
                    .iter()
                    .map(|o| o.participant_id),
            );
            added = end + 1;
        }
    }
    for participant in &bursting {
        push(
            *participant,
            reason,
            json!({ via: shown_key, "most_in_window": worst, "window_secs": window / 1000 }),
        );
    }

    // Chains: a start soon after another participant's submit links the two.
    let mut parent: HashMap<i64, i64> = HashMap::new();
    fn root(parent: &mut HashMap<i64, i64>, p: i64) -> i64 {
        let mut at = p;
        while let Some(&up) = parent.get(&at) {
            if up == at {
                break;
            }
            at = up;
        }
        parent.insert(p, at);
        at
    }
    let mut before: Option<&Observation> = None;
    for o in &sorted {
        let submit = before.replace(o).filter(|b| b.kind == Kind::Submit as i32);
        if o.kind == Kind::Start as i32
            && let Some(submit) = submit
            && submit.participant_id != o.participant_id
            && o.at_ms - submit.at_ms <= CHAIN_GAP_MS
        {
            parent.entry(o.participant_id).or_insert(o.participant_id);
            parent
                .entry(submit.participant_id)
                .or_insert(submit.participant_id);
            let (a, b) = (
                root(&mut parent, o.participant_id),
                root(&mut parent, submit.participant_id),
            );
            if a != b {
                parent.insert(a, b);
            }
        }
    }
    let members: Vec<i64> = parent.keys().copied().collect();
    let mut chains: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for p in members {
        let r = root(&mut parent, p);
        chains.entry(r).or_default().push(p);
    }
    for chain in chains.values().filter(|c| c.len() >= CHAIN_MIN_ACCOUNTS) {
        for participant in chain {
            push(
                *participant,
                CHAINED_STARTS,
                json!({ via: shown_key, "accounts_in_chain": chain.len(),
                        "gap_secs": CHAIN_GAP_MS / 1000 }),
            );
        }
    }

    // Regular gaps, alike across accounts.
    let (regular, answering) = regular_accounts(&sorted);
    if regular.len() >= REGULAR_MIN_ACCOUNTS
        && regular.len() as f64 >= REGULAR_MIN_SHARE * answering as f64
    {
        for (participant, cv) in &regular {
            push(
                *participant,
                REGULAR_GAPS,
                json!({ via: shown_key, "variation": (cv * 1000.0).round() / 1000.0,
                        "regular_accounts": regular.len(), "accounts": answering }),
            );
        }
    }
    flags
}

/// Participants with an attempt whose answer gaps are regular, with the lowest coefficient of
/// variation seen, and how many participants had an attempt with enough gaps to judge.
fn regular_accounts(sorted: &[&Observation]) -> (BTreeMap<i64, f64>, usize) {
    let mut times: BTreeMap<(i64, i32), Vec<i64>> = BTreeMap::new();
    for o in sorted {
        if o.kind != Kind::Register as i32 {
            times
                .entry((o.participant_id, o.attempt))
                .or_default()
                .push(o.at_ms);
        }
    }
    let mut regular = BTreeMap::new();
    let mut judged = BTreeSet::new();
    for ((participant, _), instants) in times {
        let gaps: Vec<f64> = instants.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
        if gaps.len() < REGULAR_MIN_GAPS {
            continue;
        }
        judged.insert(participant);
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        if mean <= 0.0 {
            continue;
        }
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        let cv = var.sqrt() / mean;
        if cv <= REGULAR_MAX_CV {
            let best = regular.entry(participant).or_insert(cv);
            if cv < *best {
                *best = cv;
            }
        }
    }
    (regular, judged.len())
}

/// Flags for the participants of one device seen over all time: `members` their ids and units.
pub fn device_members_flags(device: &str, members: &[(i64, String)]) -> Vec<Flag> {
    let distinct: BTreeMap<i64, &str> = members.iter().map(|(p, u)| (*p, u.as_str())).collect();
    if distinct.len() < SHARED_DEVICE_PARTICIPANTS {
        return Vec::new();
    }
    distinct
        .iter()
        .map(|(participant, unit)| Flag {
            participant_id: *participant,
            unit_id: (*unit).to_owned(),
            reason: SHARED_DEVICE,
            evidence: json!({ "device": short(device), "participants": distinct.len() }),
        })
        .collect()
}

/// Flags from one participant's own observations, over all time.
pub fn participant_flags(rows: &[&Observation]) -> Vec<Flag> {
    let Some(first) = rows.first() else {
        return Vec::new();
    };
    let (participant_id, unit_id) = (first.participant_id, first.unit_id.clone());
    let mut flags = Vec::new();
    let starts: Vec<&&Observation> = rows
        .iter()
        .filter(|o| o.kind == Kind::Start as i32)
        .collect();
    let without_page = starts.iter().filter(|o| o.page == 0).count();
    if without_page > 0 {
        flags.push(Flag {
            participant_id,
            unit_id: unit_id.clone(),
            reason: NO_PAGE_LOAD,
            evidence: json!({ "starts_without_page": without_page, "starts": starts.len() }),
        });
    }
    // Same minute of the day: days per minute, a start counting for its minute and both
    // neighbours, so 00:05:59 and 00:06:01 meet.
    const DAY_MS: i64 = 86_400_000;
    let mut days_by_minute: HashMap<i64, BTreeSet<i64>> = HashMap::new();
    for start in &starts {
        let day = start.at_ms.div_euclid(DAY_MS);
        let minute = start.at_ms.rem_euclid(DAY_MS) / 60_000;
        for m in [minute - 1, minute, minute + 1] {
            days_by_minute
                .entry(m.rem_euclid(1440))
                .or_default()
                .insert(day);
        }
    }
    if let Some((minute, days)) = days_by_minute
        .iter()
        .max_by_key(|(minute, days)| (days.len(), -**minute))
        && days.len() >= SAME_MINUTE_DAYS
    {
        flags.push(Flag {
            participant_id,
            unit_id,
            reason: SAME_START_MINUTE,
            evidence: json!({ "minute_utc": format!("{:02}:{:02}", minute / 60, minute % 60),
                              "days": days.len() }),
        });
    }
    flags
}
