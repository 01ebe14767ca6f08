use jiff::Timestamp;
use jiff::civil::date;
use jiff::tz::TimeZone;

use super::{day_number, day_of, start_of_day, start_of_next_day};

fn shanghai() -> TimeZone {
    TimeZone::get("Asia/Shanghai").expect("the bundled database knows Asia/Shanghai")
}

fn at(text: &str) -> Timestamp {
    text.parse().expect("a valid instant")
}

#[test]
fn the_day_changes_at_midnight_in_shanghai_not_at_utc_midnight() {
    let tz = shanghai();
    let cases = [
        (
            "2026-06-01T15:59:59.999Z",
            date(2026, 6, 1),
            "23:59:59.999 in Beijing is still June 1",
        ),
        (
            "2026-06-01T16:00:00Z",
            date(2026, 6, 2),
            "00:00 in Beijing is June 2",
        ),
        (
            "2026-06-01T23:30:00Z",
            date(2026, 6, 2),
            "UTC still says June 1",
        ),
        (
            "2026-06-30T16:00:00Z",
            date(2026, 7, 1),
            "the month turns at Beijing midnight",
        ),
    ];
    for (instant, expected, why) in cases {
        assert_eq!(day_of(at(instant), &tz), expected, "{why}");
    }
}

#[test]
fn the_next_day_starts_at_the_next_shanghai_midnight() {
    let tz = shanghai();
    assert_eq!(
        start_of_next_day(at("2026-06-01T02:00:00Z"), &tz),
        at("2026-06-01T16:00:00Z")
    );
    assert_eq!(
        start_of_next_day(at("2026-06-01T15:59:59Z"), &tz),
        at("2026-06-01T16:00:00Z")
    );
    assert_eq!(
        start_of_next_day(at("2026-06-01T16:00:00Z"), &tz),
        at("2026-06-02T16:00:00Z")
    );
    assert_eq!(
        start_of_day(date(2026, 6, 2), &tz),
        at("2026-06-01T16:00:00Z")
    );
}

#[test]
fn a_day_shortened_by_daylight_saving_still_starts_at_its_first_instant() {
    let tz = TimeZone::get("America/Sao_Paulo").expect("bundled");
    // On 2018-11-04 clocks in São Paulo jumped from 00:00 to 01:00: the day began at 01:00 (-02).
    assert_eq!(
        start_of_next_day(at("2018-11-03T12:00:00-03:00"), &tz),
        at("2018-11-04T01:00:00-02:00")
    );
}

#[test]
fn day_numbers_count_days_from_the_epoch() {
    assert_eq!(day_number(date(1970, 1, 1)), 0);
    assert_eq!(day_number(date(1970, 1, 2)), 1);
    assert_eq!(day_number(date(1969, 12, 31)), -1);
    assert_eq!(
        day_number(date(2026, 6, 2)) - day_number(date(2026, 6, 1)),
        1
    );
}
