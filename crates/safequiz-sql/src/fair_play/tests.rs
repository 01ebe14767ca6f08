//! What a pass computes: participants on their starts only, and busy groups spaced by what
//! their last computation read.

use super::*;

fn observation(participant: i64, kind: Kind, device: &str, net: &str) -> Observation {
    Observation {
        campaign_id: "c".to_owned(),
        participant_id: participant,
        unit_id: "110101".to_owned(),
        kind: kind as i32,
        at_ms: 1_000,
        attempt: 1,
        device: device.to_owned(),
        net: net.to_owned(),
        page: 1,
    }
}

fn touched(devices: &[&str], nets: &[&str], participants: &[i64]) -> Touched {
    Touched {
        devices: devices.iter().map(|d| (*d).to_owned()).collect(),
        nets: nets.iter().map(|n| (*n).to_owned()).collect(),
        participants: participants.iter().copied().collect(),
    }
}

#[test]
fn a_participant_is_touched_by_a_start_and_a_group_by_any_request() {
    let mut seen = Touched::default();
    for kind in [Kind::Register, Kind::Save, Kind::Submit] {
        seen.add(&observation(1, kind, "d1", "10.0.0.0/24"));
    }
    assert_eq!(seen, touched(&["d1"], &["10.0.0.0/24"], &[]));
    assert!(!seen.is_empty(), "a device and a network to look at");
    seen.add(&observation(2, Kind::Start, "", "10.0.1.0/24"));
    assert_eq!(
        seen,
        touched(&["d1"], &["10.0.0.0/24", "10.0.1.0/24"], &[2]),
        "no device token, no device"
    );
}

#[test]
fn a_group_waits_as_long_as_its_last_read_takes_at_the_set_rate_and_at_most_a_minute() {
    assert_eq!(group_wait_ms(0), 0);
    assert_eq!(group_wait_ms(500), 250);
    assert_eq!(group_wait_ms(GROUP_ROWS_PER_SECOND), 1_000);
    assert_eq!(group_wait_ms(100_000), 50_000);
    assert_eq!(group_wait_ms(10_000_000), GROUP_MAX_WAIT_MS);
    assert_eq!(group_wait_ms(usize::MAX), GROUP_MAX_WAIT_MS);
}

#[test]
fn a_busy_group_waits_for_its_turn_while_participants_and_quiet_groups_go_at_once() {
    let mut schedule = GroupSchedule::default();
    let first = touched(&["busy"], &["quiet"], &[1]);
    assert_eq!(
        schedule.take_due(first.clone(), 0),
        first,
        "nothing computed yet"
    );
    schedule.computed(
        &Computed {
            flags: 0,
            group_rows: BTreeMap::from([
                ((true, "busy".to_owned()), 100_000),
                ((false, "quiet".to_owned()), 100),
            ]),
        },
        0,
    );

    assert!(
        !schedule.is_idle(),
        "nothing waits yet, but the busy group's wait runs"
    );
    let now = schedule.take_due(touched(&["busy"], &["quiet"], &[2]), 1_000);
    assert_eq!(now, touched(&[], &["quiet"], &[2]));
    assert!(schedule.has_waiting());
    assert_eq!(
        schedule.take_due(Touched::default(), 49_999),
        Touched::default(),
        "still its wait"
    );
    assert!(schedule.has_waiting(), "kept, not lost");
    assert_eq!(
        schedule.take_due(Touched::default(), 50_000),
        touched(&["busy"], &[], &[])
    );
    assert!(!schedule.has_waiting());
    assert!(schedule.is_idle(), "every wait is over");
    // Its wait over and nothing waiting, the group goes at once when touched again.
    assert_eq!(
        schedule.take_due(touched(&["busy"], &[], &[]), 50_001),
        touched(&["busy"], &[], &[])
    );
}

/// Accounts 1..=`accounts` on one network, each with a device token of its own, one after the
/// other: start, five saves 7 s apart, submit, the next account starting 2 s later; with
/// `busy`, someone else's save lands between each submit and the next start.
fn walked_list(accounts: i64, busy: bool) -> Vec<Observation> {
    let mut rows = Vec::new();
    let mut at = 0;
    let mut push = |participant: i64, kind: Kind, at_ms: i64| {
        let mut o = observation(
            participant,
            kind,
            &format!("device-{participant}"),
            "10.0.0.0/24",
        );
        o.at_ms = at_ms;
        rows.push(o);
    };
    for account in 1..=accounts {
        push(account, Kind::Start, at);
        for save in 1..=5 {
            push(account, Kind::Save, at + save * 7_000);
        }
        push(account, Kind::Submit, at + 40_000);
        if busy {
            push(1_000 + account, Kind::Save, at + 41_000);
        }
        at += 42_000;
    }
    rows
}

fn chained(rows: &[Observation]) -> BTreeSet<i64> {
    let refs: Vec<&Observation> = rows.iter().collect();
    signals::group_flags("net", "10.0.0.0/24", &refs)
        .into_iter()
        .filter(|flag| flag.reason == signals::CHAINED_STARTS)
        .map(|flag| flag.participant_id)
        .collect()
}

#[test]
fn a_list_walked_account_after_account_on_one_network_is_a_chain() {
    let rows = walked_list(6, false);
    assert_eq!(chained(&rows), (1..=6).collect());
    assert!(
        chained(&walked_list(4, false)).is_empty(),
        "four hand-overs are a family's phone, not a list"
    );
}

#[test]
fn starts_after_submits_on_a_busy_network_are_not_hand_overs() {
    assert!(chained(&walked_list(6, true)).is_empty());
}

/// 40 participants starting within one minute on one network, participant `n` on the device
/// `device(n)`, with or without the page.
fn meeting(device: fn(i64) -> String, page: bool) -> BTreeSet<i64> {
    let rows: Vec<Observation> = (1..=40)
        .map(|n| {
            let mut o = observation(n, Kind::Start, &device(n), "10.0.0.0/24");
            o.at_ms = 1_000 * n;
            o.page = i32::from(page);
            o
        })
        .collect();
    let refs: Vec<&Observation> = rows.iter().collect();
    signals::group_flags("net", "10.0.0.0/24", &refs)
        .into_iter()
        .filter(|flag| flag.reason == signals::NETWORK_BURST)
        .map(|flag| flag.participant_id)
        .collect()
}

#[test]
fn a_meeting_on_its_own_phones_is_no_network_burst_and_a_script_is() {
    let own = |n: i64| format!("phone-{n}");
    assert!(
        meeting(own, true).is_empty(),
        "a unit told to answer at 9:00, each on their own phone with the page"
    );
    let all: BTreeSet<i64> = (1..=40).collect();
    assert_eq!(meeting(own, false), all, "none loaded the page");
    assert_eq!(meeting(|_| String::new(), true), all, "no device tokens");
    assert_eq!(
        meeting(|n| format!("tablet-{}", n % 2), true),
        all,
        "two devices for forty accounts"
    );
}

/// The bursting participants by the rule's definition, window by window: for each start, the
/// participants of the starts up to it within the window; a window with enough of them flags
/// them all.
fn bursting_by_definition(starts: &[Observation]) -> (BTreeSet<i64>, usize) {
    let mut sorted: Vec<&Observation> = starts.iter().collect();
    sorted.sort_by_key(|o| (o.at_ms, o.kind));
    let (mut flagged, mut worst) = (BTreeSet::new(), 0);
    for (end, last) in sorted.iter().enumerate() {
        let inside: BTreeSet<i64> = sorted[..=end]
            .iter()
            .filter(|o| last.at_ms - o.at_ms <= signals::NET_BURST_WINDOW_MS)
            .map(|o| o.participant_id)
            .collect();
        if inside.len() >= signals::NET_BURST_PARTICIPANTS {
            worst = worst.max(inside.len());
            flagged.extend(inside);
        }
    }
    (flagged, worst)
}

#[test]
fn network_bursts_in_one_pass_flag_whom_the_windows_do() {
    // Starts without a page on one network: bursts and quiet spells, participants starting
    // more than once, several starts in one millisecond.
    let mut seed: u64 = 0x5eed;
    let mut next = |bound: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % bound
    };
    let (mut flagged_somewhere, mut spared_somewhere) = (false, false);
    for round in 0..20 {
        let mut starts = Vec::new();
        let mut at = 0;
        for _ in 0..300 {
            at += if next(10) == 0 {
                30_000 + next(60_000) as i64
            } else {
                next(2_500) as i64
            };
            let participant = 1 + next(120 + round * 10) as i64;
            let mut o = observation(participant, Kind::Start, "", "10.0.0.0/24");
            o.at_ms = at;
            o.page = 0;
            starts.push(o);
        }
        let rows: Vec<&Observation> = starts.iter().collect();
        let flags = signals::group_flags("net", "10.0.0.0/24", &rows);
        let burst: Vec<&signals::Flag> = flags
            .iter()
            .filter(|f| f.reason == signals::NETWORK_BURST)
            .collect();
        let flagged: BTreeSet<i64> = burst.iter().map(|f| f.participant_id).collect();
        let (expected, worst) = bursting_by_definition(&starts);
        assert_eq!(flagged, expected, "round {round}");
        for flag in burst {
            assert_eq!(flag.evidence["most_in_window"], worst, "round {round}");
        }
        let everyone: BTreeSet<i64> = starts.iter().map(|o| o.participant_id).collect();
        flagged_somewhere |= !flagged.is_empty();
        spared_somewhere |= flagged.len() < everyone.len();
    }
    assert!(
        flagged_somewhere && spared_somewhere,
        "the rounds both flag and spare people"
    );
}
